//! Spreadsheet files read directly, the semicolon CSV, `--sheet` and `--column`.

mod common;

use std::collections::BTreeSet;

use common::*;

/// `check`'s problem lines and counts, without the file name.
async fn check_lines(path: &str, extra: &[&str]) -> (i32, Vec<String>) {
    let out = check(path, extra).await;
    let lines = stdout(&out)
        .lines()
        .map(|l| l.replace(path, "FILE"))
        .collect();
    (out.status.code().unwrap(), lines)
}

/// `check PATH` and `extra`, without a token.
async fn check(path: &str, extra: &[&str]) -> std::process::Output {
    run_no_token(&[&["check", path], extra].concat()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_form_reads_like_the_csv() {
    let (code, csv_lines) = check_lines("samples/fleet.csv", &[]).await;
    assert_eq!(code, 3);
    assert!(csv_lines.len() > 10);
    for other in [
        "samples/fleet.xlsx",
        "samples/fleet.ods",
        "samples/fleet-semicolon.csv",
    ] {
        let (code, lines) = check_lines(other, &[]).await;
        assert_eq!(code, 3, "{other}");
        // The same rows end the same way; only an id or a serial typed as a number's text in a
        // workbook gets the workbook's advice (type it again) instead of the export's.
        assert_eq!(lines.len(), csv_lines.len(), "{other}");
        for (line, csv_line) in lines.iter().zip(&csv_lines) {
            if line.contains("is typed with a decimal point")
                || line.contains("is a number in scientific or decimal notation")
            {
                let head = |l: &str| l.split(" '").next().unwrap().to_string();
                assert_eq!(head(line), head(csv_line), "{other}");
            } else {
                assert_eq!(line, csv_line, "{other} reads differently");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_run_matches_the_csv_run_and_numbers_keep_their_digits() {
    let mut outcomes = Vec::new();
    for sample in ["fleet.csv", "fleet.xlsx"] {
        let env = TestEnv::start_default().await.named(sample);
        std::fs::copy(format!("samples/{sample}"), &env.fleet).unwrap();
        assert_exit(&env.run(&["--rate", "1000/s"]).await, 3);
        let lines = env.lines();
        for l in &lines {
            assert!(!l["plant_id"].ends_with(".0"), "float damage: {l:?}");
            assert!(!l["c_user_id"].ends_with(".0") || l["outcome"] == "invalid");
        }
        let set: BTreeSet<(String, String, String, String)> = lines
            .iter()
            .map(|l| {
                (
                    l["row"].clone(),
                    l["sn"].clone(),
                    l["outcome"].clone(),
                    l["error_code"].clone(),
                )
            })
            .collect();
        outcomes.push(set);
        assert_eq!(env.sim().stats().requests, 288);
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheet_choice_and_errors() {
    let (code, _) = check_lines("samples/fleet.xlsx", &["--sheet", "Fleet"]).await;
    assert_eq!(code, 3);
    let out = check("samples/fleet.xlsx", &["--sheet", "Notes"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["it has: 'note'"]);
    let out = check("samples/fleet.ods", &["--sheet", "Nope"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["the sheets are: 'Fleet', 'Notes'"]);
    let env = TestEnv::offline();
    let broken = env.write("broken.xlsx", b"PK\x03\x04 not really a zip");
    let out = check(arg(&broken), &[]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["cannot read the spreadsheet"]);
    assert!(!stderr(&out).contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_mapping_reads_other_headers() {
    let fleet = good_fleet(3).replacen(
        "plant_id,sn,c_user_id",
        "Plant ID,Serial Number,Customer",
        1,
    );
    let env = TestEnv::start_default().await.with_fleet(fleet);
    let mapped = [
        "--column",
        "plant_id=Plant ID",
        "--column",
        "sn=\"Serial Number\"",
        "--column",
        "c_user_id=customer",
    ];
    assert_exit(
        &env.run(&[&["--rate", "100/s"], &mapped[..]].concat()).await,
        0,
    );
    assert_eq!(env.sim().stats().by_code["0"], 3);

    // Without the mapping: the error names the headers found and the closest match.
    let out = check(arg(&env.fleet), &[]).await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &[
            "'Plant ID', 'Serial Number', 'Customer'",
            "--column plant_id=\"Plant ID\" --column sn=\"Serial Number\" --column c_user_id=Customer",
        ],
    );

    // A bad mapping is a usage error.
    assert_exit(&check(arg(&env.fleet), &["--column", "serial=X"]).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_kind_comes_from_the_content_not_the_name() {
    let (want, _) = check_lines("samples/fleet.xlsx", &[]).await;
    let env = TestEnv::offline();
    let xlsx = std::fs::read("samples/fleet.xlsx").unwrap();
    let csv = std::fs::read("samples/fleet.csv").unwrap();
    for (name, bytes) in [
        ("renamed.xls", &xlsx),
        ("no_extension", &xlsx),
        ("export.xlsx", &csv),
    ] {
        let out = check(arg(&env.write(name, bytes)), &[]).await;
        assert_eq!(out.status.code(), Some(want), "{name}: {}", stderr(&out));
        assert_printed(&out, &["300 rows: 288 to send, 7 invalid, 5 duplicate"]);
    }
    // Not a workbook at all, though it starts like one: said in words, no library's text.
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    let ole = env.write("old.xls", [&ole[..], b"junk"].concat());
    let out = check(arg(&ole), &[]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["save it as .xlsx or as CSV UTF-8"]);
    let err = stderr(&out);
    assert!(!err.contains("Cfb") && !err.contains("OLE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheet_on_a_csv_is_a_usage_error_and_timeout_takes_units() {
    let out = check("samples/fleet.csv", &["--sheet", "Fleet"]).await;
    assert_exit(&out, 2);
    assert_said(&out, &["is a CSV file, which has none"]);
    let (code, _) = check_lines("samples/fleet.xlsx", &["--sheet", "Fleet"]).await;
    assert_eq!(code, 3, "a workbook takes --sheet");

    let env = TestEnv::start_default().await.with_fleet(good_fleet(2));
    for timeout in ["30s", "2m", "1500ms", "30"] {
        let out = env.run(&["--timeout", timeout, "--restart", "-q"]).await;
        assert_exit(&out, 0);
    }
    assert_exit(&env.run(&["--timeout", "30 parsecs"]).await, 2);
}
