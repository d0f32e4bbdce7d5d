//! Damaged and hostile fleet files through the real binary, against the simulator.
//!
//! Each file in `tests/corpus/` (plus a few big ones written at run time) is run with `run` and with
//! `check`. For every file the test knows the exact exit code and how every row must end (row
//! number, outcome, and the key words of the message), and it checks with the simulator's counters
//! that no invalid or duplicate row was ever sent and that each valid row was sent exactly once.
//! Fatal files (exit 1) must send nothing, write no results, and say what is wrong.

#[path = "hostile_input/cases.rs"]
mod cases;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cases::*;
use common::*;

/// The simulator's world: exactly the plants, users and serials of the rows that must register.
fn world_for(rows: &[(u64, Want)]) -> sim::Fixture {
    let mut plants: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut devices = Vec::new();
    for (_, w) in rows {
        if let Want::Registered { plant, sn, user } = w {
            plants.entry(*plant).or_default().insert(*user);
            devices.push(sim::FixtureDevice {
                sn: sn.clone(),
                online: true,
            });
        }
    }
    sim::Fixture {
        plants: plants
            .into_iter()
            .map(|(plant_id, users)| sim::FixturePlant {
                plant_id,
                c_user_ids: users.into_iter().collect(),
            })
            .collect(),
        devices,
        associated: vec![],
        account: Default::default(),
    }
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

fn no_panic(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked"),
        "{what}: the binary panicked:\n{err}"
    );
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        out.status
    );
}

fn assert_fatal_words(what: &str, out: &std::process::Output, words: &[&str]) {
    let err = stderr(out);
    assert!(err.contains("error"), "{what}: says it is an error:\n{err}");
    for w in words {
        match w.strip_prefix('!') {
            Some(not) => assert!(!err.contains(not), "{what}: stderr has {not:?}:\n{err}"),
            None => assert!(err.contains(w), "{what}: stderr lacks {w:?}:\n{err}"),
        }
    }
}

/// Runs `run` on `input` against a fresh simulator and checks everything the case promises.
async fn run_case(dir: &Path, input: &Path, case: &Case) {
    let what = format!("run {}", case.file);
    let mut env = TestEnv::start_fixture(world_for(&case.rows)).await;
    let stem = case.file.replace(['.', '/'], "_");
    env.fleet = input.to_path_buf();
    env.results = dir.join(format!("{stem}.results.csv"));
    let results = env.results.clone();
    let fast = flags("--rate 1000/s --concurrency 8 -o");
    let out = env.run(&[&fast[..], &[arg(&results)]].concat()).await;
    no_panic(&what, &out);
    assert_eq!(
        out.status.code(),
        Some(case.exit),
        "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{what}: stdout stays clean");
    let stats = env.sim().stats();
    env.stop_sim().await;

    if case.exit == 1 {
        assert_eq!(stats.requests, 0, "{what}: a fatal input sends nothing");
        assert!(!results.exists(), "{what}: a fatal input writes no results");
        assert_fatal_words(&what, &out, &case.fatal);
        return;
    }

    let lines = env.lines();
    let mut seen = BTreeSet::new();
    for l in &lines {
        let row: u64 = l["row"].parse().unwrap();
        assert!(
            seen.insert(row),
            "{what}: row {row} has two lines: {lines:#?}"
        );
    }
    let expected_rows: BTreeSet<u64> = case.rows.iter().map(|(r, _)| *r).collect();
    assert_eq!(seen, expected_rows, "{what}: the rows in the results file");
    let latest = latest_by_row(&lines);
    let mut sent = BTreeMap::new();
    for (row, want) in &case.rows {
        let l = &latest[row];
        let ctx = format!("{what}: row {row}: {l:?}");
        match want {
            Want::Registered { plant, sn, user } => {
                assert_eq!(l["outcome"], "registered", "{ctx}");
                assert_eq!(l["error_code"], "0", "{ctx}");
                assert_eq!(l["attempts"], "1", "{ctx}");
                assert_eq!(l["http_status"], "200", "{ctx}");
                assert_eq!(l["sn"], *sn, "{ctx}");
                assert_eq!(l["plant_id"].parse::<u64>().ok(), Some(*plant), "{ctx}");
                assert_eq!(l["c_user_id"].parse::<u64>().ok(), Some(*user), "{ctx}");
                sent.insert(sn.clone(), 1u64);
            }
            Want::Invalid(words) => {
                assert_eq!(l["outcome"], "invalid", "{ctx}");
                assert_eq!(l["error_code"], "", "{ctx}");
                assert_eq!(l["attempts"], "0", "{ctx}");
                assert_eq!(l["http_status"], "", "{ctx}");
                for w in words {
                    assert!(l["error_msg"].contains(w.as_str()), "{ctx}: lacks {w:?}");
                }
            }
            Want::Skipped(msg) => {
                assert_eq!(l["outcome"], "skipped", "{ctx}");
                assert_eq!(l["attempts"], "0", "{ctx}");
                assert_eq!(l["error_msg"], *msg, "{ctx}");
            }
            Want::Duplicate(first) => {
                assert_eq!(l["outcome"], "duplicate", "{ctx}");
                assert_eq!(l["error_code"], "", "{ctx}");
                assert_eq!(l["attempts"], "0", "{ctx}");
                assert!(
                    l["error_msg"].contains(&format!("same sn as row {first};")),
                    "{ctx}"
                );
            }
        }
        for cell in ["plant_id", "sn", "c_user_id", "error_msg"] {
            assert!(
                !l[cell].starts_with(['=', '+', '-', '@']),
                "{ctx}: {cell} is not neutralised"
            );
        }
    }
    // What the server received: each valid row once, nothing else.
    assert_eq!(
        stats.requests_per_sn, sent,
        "{what}: serials sent (each exactly once)"
    );
    assert_eq!(stats.requests, sent.len() as u64, "{what}: requests");
    assert_eq!(stats.wrong_token + stats.missing_token, 0);
    if let Some(extra) = case.extra {
        extra(&latest);
    }

    let exit = env.summary()["exit_code"].clone();
    assert_eq!(exit, case.exit, "{what}: summary exit code");
}

/// Runs `check` on `input`: same verdicts as `run`, nothing sent, one line per problem row.
async fn check_case(dir: &Path, input: &Path, case: &Case) {
    let what = format!("check {}", case.file);
    let results = dir.join("check-never-written.results.csv");
    let out = run_no_token(&["check", arg(input), "-o", arg(&results)]).await;
    no_panic(&what, &out);
    let text = stdout(&out);
    assert!(!results.exists(), "{what}: check writes nothing");
    if case.exit == 1 {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert_fatal_words(&what, &out, &case.fatal);
        return;
    }
    let invalid = case
        .rows
        .iter()
        .filter(|(_, w)| matches!(w, Want::Invalid(_)))
        .count();
    let duplicate = case
        .rows
        .iter()
        .filter(|(_, w)| matches!(w, Want::Duplicate(_)))
        .count();
    let skipped = case
        .rows
        .iter()
        .filter(|(_, w)| matches!(w, Want::Skipped(_)))
        .count();
    let to_send = case.rows.len() - invalid - duplicate - skipped;
    let code = if invalid > 0 { 3 } else { 0 };
    assert_eq!(out.status.code(), Some(code), "{what}:\n{text}");
    let mut problem_lines: BTreeMap<u64, &str> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("row ")) {
        let n: u64 = line[4..line.find(':').unwrap()].parse().unwrap();
        assert!(
            problem_lines.insert(n, line).is_none(),
            "{what}: two lines for row {n}"
        );
    }
    let mut want_lines = BTreeSet::new();
    for row in &case.warned {
        want_lines.insert(*row);
        let line = problem_lines.get(row).copied().unwrap_or_default();
        let warned = line.starts_with(&format!("row {row}: warning: sn '"));
        assert!(warned, "{what}: {line:?}");
    }
    for (row, want) in &case.rows {
        let start = match want {
            Want::Registered { .. } => continue,
            // Listed apart, indented under the problems: not a problem line.
            Want::Skipped(msg) => {
                let listed = format!("\n  row {row}: {msg}\n");
                assert!(text.contains(&listed), "{what}: {listed:?} in\n{text}");
                continue;
            }
            Want::Invalid(_) => format!("row {row}: invalid: "),
            Want::Duplicate(first) => format!("row {row}: duplicate: same sn as row {first};"),
        };
        want_lines.insert(*row);
        let line = problem_lines.get(row).copied().unwrap_or_default();
        assert!(line.starts_with(&start), "{what}: {line:?}\n{text}");
        if let Want::Invalid(words) = want {
            for w in words {
                assert!(line.contains(w.as_str()), "{what}: {line:?} lacks {w:?}");
            }
        }
    }
    assert_eq!(
        problem_lines.keys().copied().collect::<BTreeSet<_>>(),
        want_lines,
        "{what}: rows reported\n{text}"
    );
    let rows = match case.rows.len() {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    };
    let closing = match case.rows.len() {
        // A header alone: nothing to count yet.
        0 => "the file has no rows yet".to_string(),
        _ if skipped > 0 => format!(
            "{rows}: {to_send} to send, {invalid} invalid, {duplicate} duplicate, {skipped} skipped"
        ),
        _ => format!("{rows}: {to_send} to send, {invalid} invalid, {duplicate} duplicate"),
    };
    assert!(text.contains(&closing), "{what}: {closing:?} in\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_ends_as_expected_with_run_and_check() {
    let cases = corpus_cases();
    // Every checked-in file has a case, so none sits there untested.
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(on_disk, listed, "tests/corpus and the cases agree");
    assert!(cases.len() >= 25);

    let dir = tempfile::tempdir().unwrap();
    for case in &cases {
        let input = corpus(&case.file);
        run_case(dir.path(), &input, case).await;
        check_case(dir.path(), &input, case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_or_a_directory_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-fleet.csv");
    let folder = dir.path().join("fleet-folder.csv");
    std::fs::create_dir(&folder).unwrap();
    for (input, words) in [
        (&missing, ["cannot read", "no-such-fleet.csv"]),
        (&folder, ["cannot read", "fleet-folder.csv"]),
    ] {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let case = fatal(&name, &words);
        run_case(dir.path(), input, &case).await;
        check_case(dir.path(), input, &case).await;
    }
}

/// Files too big to check in: written from the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_fields_and_wide_headers_are_handled() {
    let dir = tempfile::tempdir().unwrap();

    // 1 MB in an unused column, 10 kB serial and id, and a 1 MB quoted note over 10,000 lines.
    let mut text = String::from("plant_id,sn,c_user_id,notes\n");
    text.push_str(&format!("1,LF0001,1,{}\n", "x".repeat(1 << 20)));
    text.push_str(&format!("1,{},1,n\n", "S".repeat(10_000)));
    text.push_str(&format!("{},LF0002,1,n\n", "1".repeat(10_000)));
    text.push_str("1,LF0003,1,\"");
    for _ in 0..10_000 {
        text.push_str(&"y,;\t".repeat(25));
        text.push('\n');
    }
    text.push_str("\"\n");
    text.push_str(&format!("1,{},1,\n", "\u{e4}".repeat(5_000)));
    text.push_str("1,LF0004,1,x\n");
    let input = write(dir.path(), "long_fields.csv", &text);
    let case = Case {
        extra: Some(huge_cells_shortened),
        ..rows(
            "long_fields.csv",
            3,
            vec![
                ok(2, "LF0001"),
                inv(3, &["sn is 10000 characters long; a serial has at most 64"]),
                inv(4, &["plant_id '1111", "is too large to be an id"]),
                ok(5, "LF0003"),
                inv(6, &["sn '\u{e4}\u{e4}", "(U+00E4)"]),
                ok(7, "LF0004"),
            ],
        )
    };
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;

    // A header of 5,000 columns (beyond the 64 kB the delimiter sniffer looks at), the required
    // ones last, semicolon-separated.
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!("unused column number {i:05};"));
    }
    text.push_str("plant_id;sn;c_user_id\n");
    assert!(text.len() > 64 * 1024);
    let filler = "v;".repeat(5_000);
    text.push_str(&format!("{filler}1;WIDE0001;1\n{filler}1;WIDE0002\n"));
    let input = write(dir.path(), "wide.csv", &text);
    let case = rows(
        "wide.csv",
        3,
        vec![ok(2, "WIDE0001"), inv(3, &["c_user_id is missing"])],
    );
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_of_one_serial_send_one_request() {
    let dir = tempfile::tempdir().unwrap();
    const N: u64 = 100_000;
    let mut text = String::with_capacity(N as usize * 16);
    text.push_str("plant_id,sn,c_user_id\n");
    for i in 0..N {
        // The same serial in three spellings.
        let sn = ["SAME0001", "same0001", " Same0001 "][i as usize % 3];
        text.push_str(&format!("1,{sn},1\n"));
    }
    let input = write(dir.path(), "same.csv", &text);
    let mut want = vec![ok(2, "SAME0001")];
    want.extend((3..N + 2).map(|row| dup(row, 2)));
    let case = rows("same.csv", 0, want);
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;
}

/// A CRLF, or a lone CR, that falls on the edge of the reader's 256 kB buffer still ends exactly
/// one line: row numbers stay exact far into the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_ends_on_the_read_buffer_edge_keep_rows_exact() {
    const BUF: usize = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    for (name, header, eol) in [
        ("edge_crlf.csv", "plant_id,sn,c_user_id\r\n", "\r\n"),
        ("edge_cr.csv", "plant_id,sn,c_user_id,xy\r", "\r"),
    ] {
        let line = format!("1,EDGE0001,1{eol}");
        let mut text = String::from(header);
        while text.len() < BUF + 4 * line.len() {
            text.push_str(&line);
        }
        // The first CR at the end of the first buffer, as the layout above arranges.
        assert_eq!(
            text.as_bytes()[BUF - 1],
            b'\r',
            "{name}: the header and line lengths put a CR on the edge"
        );
        let input = write(dir.path(), name, &text);
        let n = ((text.len() - header.len()) / line.len()) as u64;
        let mut want = vec![ok(2, "EDGE0001")];
        want.extend((3..n + 2).map(|row| dup(row, 2)));
        let case = rows(name, 0, want);
        run_case(dir.path(), &input, &case).await;
        check_case(dir.path(), &input, &case).await;
    }
}
