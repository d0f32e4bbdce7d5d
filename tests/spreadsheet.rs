//! Spreadsheet files read directly, the semicolon CSV, `--sheet` and `--column`.

mod common;

use std::collections::BTreeSet;

use common::*;

/// `check`'s problem lines and counts, without the file name.
async fn check_lines(path: &str, extra: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["check", path];
    args.extend_from_slice(extra);
    let out = run_bin_env(&args, &[]).await;
    let lines = stdout(&out)
        .lines()
        .map(|l| l.replace(path, "FILE"))
        .collect();
    (out.status.code().unwrap(), lines)
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
        assert_eq!(lines, csv_lines, "{other} reads differently");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_run_matches_the_csv_run_and_numbers_keep_their_digits() {
    let mut outcomes = Vec::new();
    for sample in ["fleet.csv", "fleet.xlsx"] {
        let sim = start_sim(SimConfig::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(sample);
        std::fs::copy(format!("samples/{sample}"), &input).unwrap();
        let out = run_against(&sim, &input, &["--rate", "1000/s"]).await;
        assert_exit(&out, 3);
        let lines = read_results(&dir.path().join("fleet.results.csv"));
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
        assert_eq!(sim.stats().requests, 288);
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheet_choice_and_errors() {
    let (code, _) = check_lines("samples/fleet.xlsx", &["--sheet", "Fleet"]).await;
    assert_eq!(code, 3);
    let out = run_bin_env(&["check", "samples/fleet.xlsx", "--sheet", "Notes"], &[]).await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("the header has: 'note'"),
        "{}",
        stderr(&out)
    );
    let out = run_bin_env(&["check", "samples/fleet.ods", "--sheet", "Nope"], &[]).await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("the sheets are: 'Fleet', 'Notes'"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.xlsx", b"PK\x03\x04 not really a zip");
    let out = run_bin_env(&["check", broken.to_str().unwrap()], &[]).await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("cannot read the spreadsheet"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_mapping_reads_other_headers() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = good_fleet(3).replacen(
        "plant_id,sn,c_user_id",
        "Plant ID,Serial Number,Customer",
        1,
    );
    let input = write(dir.path(), "f.csv", fleet);
    let mapped = [
        "--column",
        "plant_id=Plant ID",
        "--column",
        "sn=\"Serial Number\"",
        "--column",
        "c_user_id=customer",
    ];
    let base = sim.base_url();
    let mut args = vec![
        "run",
        input.to_str().unwrap(),
        "--base-url",
        &base,
        "--rate",
        "100/s",
    ];
    args.extend_from_slice(&mapped);
    let out = run_bin(&args).await;
    assert_exit(&out, 0);
    assert_eq!(sim.stats().by_code["0"], 3);

    // Without the mapping: the error names the headers found and the closest match.
    let out = run_bin_env(&["check", input.to_str().unwrap()], &[]).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("'Plant ID', 'Serial Number', 'Customer'"),
        "{err}"
    );
    assert!(
        err.contains(
            "--column plant_id=\"Plant ID\" --column sn=\"Serial Number\" --column c_user_id=Customer"
        ),
        "{err}"
    );

    // A bad mapping is a usage error.
    let out = run_bin_env(
        &["check", input.to_str().unwrap(), "--column", "serial=X"],
        &[],
    )
    .await;
    assert_exit(&out, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_kind_comes_from_the_content_not_the_name() {
    let (want, _) = check_lines("samples/fleet.xlsx", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let xlsx = std::fs::read("samples/fleet.xlsx").unwrap();
    let csv = std::fs::read("samples/fleet.csv").unwrap();
    for (name, bytes) in [
        ("renamed.xls", &xlsx),
        ("no_extension", &xlsx),
        ("export.xlsx", &csv),
    ] {
        let path = write(dir.path(), name, bytes);
        let out = run_bin_env(&["check", path.to_str().unwrap()], &[]).await;
        assert_eq!(out.status.code(), Some(want), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("300 rows: 288 to send, 7 invalid, 5 duplicate"),
            "{name}: {}",
            stdout(&out)
        );
    }
    // Not a workbook at all, though it starts like one: said in words, no library's text.
    let ole = write(
        dir.path(),
        "old.xls",
        [
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
            b"junk",
        ]
        .concat(),
    );
    let out = run_bin_env(&["check", ole.to_str().unwrap()], &[]).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("save it as .xlsx or as CSV UTF-8"), "{err}");
    assert!(!err.contains("Cfb") && !err.contains("OLE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheet_on_a_csv_is_a_usage_error_and_timeout_takes_units() {
    let out = run_bin_env(&["check", "samples/fleet.csv", "--sheet", "Fleet"], &[]).await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("is a CSV file, which has none"),
        "{}",
        stderr(&out)
    );
    let (code, _) = check_lines("samples/fleet.xlsx", &["--sheet", "Fleet"]).await;
    assert_eq!(code, 3, "a workbook takes --sheet");

    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(2));
    for timeout in ["30s", "2m", "1500ms", "30"] {
        let out = run_against(&sim, &fleet, &["--timeout", timeout, "--restart", "-q"]).await;
        assert_exit(&out, 0);
    }
    let out = run_against(&sim, &fleet, &["--timeout", "30 parsecs"]).await;
    assert_exit(&out, 2);
}
