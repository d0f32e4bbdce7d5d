//! The README's options table and `--help` say the same: every default, and the key sentences.

mod common;

use common::*;

/// The README's `run` options: (flag, default as the table gives it).
fn readme_options() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let table = readme
        .split("## Options")
        .nth(1)
        .expect("the README has an Options section")
        .split("`growatt-onboard check")
        .next()
        .unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("| `-") && l.split(" | ").next().unwrap().contains("--"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let flag = cells[0]
                .split("--")
                .nth(1)
                .unwrap()
                .split([' ', '`', '\\'])
                .next()
                .unwrap()
                .to_string();
            (flag, cells[1].trim().trim_matches('`').to_string())
        })
        .collect()
}

/// `run --help`, one entry per option: (flag, its whole text joined on one line).
fn help_options(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with('-') && line.len() - t.len() <= 6 {
            let flag = t
                .split("--")
                .nth(1)
                .unwrap_or("")
                .split([' ', '=', ','])
                .next()
                .unwrap();
            out.push((flag.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(' ');
            last.1.push_str(t);
        }
    }
    out
}

#[tokio::test]
async fn the_readme_and_help_give_the_same_defaults_and_key_sentences() {
    let out = run_bin(&["run", "--help"]).await;
    assert_exit(&out, 0);
    let help = help_options(&stdout(&out));
    let readme = readme_options();
    assert!(readme.len() >= 20, "{readme:?}");
    let mut compared = 0;
    for (flag, default) in &readme {
        let Some((_, text)) = help.iter().find(|(f, _)| f == flag) else {
            panic!("--{flag} is in the README but not in --help");
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown = text
            .split("[default: ")
            .nth(1)
            .map(|d| d.split(']').next().unwrap().to_string());
        // A literal default in the README (a value, not words) is the one --help shows.
        let literal = !default.is_empty()
            && default != "none"
            && !default.contains(' ')
            && !default.starts_with("INPUT");
        if literal {
            assert_eq!(shown.as_deref(), Some(default.as_str()), "--{flag}: {text}");
            compared += 1;
        }
    }
    assert!(compared >= 10, "compared {compared} defaults");
    // The sentences a person acts on say the same in both.
    let whole = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for sentence in [
        "a row answered 10012 (frequency limit) is sent again this long after",
        "retries wait it too once the API refused a repeated request",
        "Most requests in flight at once",
        "the first of the top 20 rows that holds plant_id, sn and c_user_id",
    ] {
        assert!(whole.contains(sentence), "--help lacks: {sentence}");
    }
    let readme_text = std::fs::read_to_string("README.md").unwrap();
    assert!(readme_text.contains("a row answered 10012 is sent again this long after"));
    assert!(
        readme_text.contains("the first of the top 20 rows that holds plant_id, sn and c_user_id")
    );
}
