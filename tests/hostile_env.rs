//! The binary in a hostile environment: closed pipes and a full disk, proxies in the environment,
//! signals, links and odd files where the tool expects ordinary ones, results files edited by
//! hand or by a spreadsheet, and spreadsheets that claim a huge sheet or hold dates and rounded
//! numbers in id columns.
//!
//! Each case is a short story: the setup a user could make by accident (or an attacker on
//! purpose), what the tool does, and what must hold afterwards. Servers are the simulator or a
//! tiny local listener on 127.0.0.1:0.
// Signals, FIFOs, size limits and the shell's pipes are Unix cases; elsewhere their helpers are
// unused.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Longest one run of the binary may take before the test calls it hung (and kills it).
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// How long a poll waits for its condition before the test fails.
const POLL_LIMIT: Duration = Duration::from_secs(30);

/// Runs the binary in `cwd` with the simulator's token and `env`; kills it and fails the test
/// when it has not ended after [`RUN_LIMIT`].
async fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        cmd.env_remove(var).env_remove(var.to_uppercase());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("the binary starts");
    tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("the binary ended by itself")
        .expect("the binary runs")
}

/// Polls `cond` every few milliseconds until it holds; fails the test after [`POLL_LIMIT`].
async fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < POLL_LIMIT, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The summary JSON beside `results`.
fn summary(results: &Path) -> serde_json::Value {
    let path = growatt_onboard::paths::Paths::of_results(results).summary;
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written")).unwrap()
}

/// The whole (newline-ended) data lines of a results file, as text.
fn whole_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    whole.lines().skip(1).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Closed pipes and a full disk
// ---------------------------------------------------------------------------------------------

/// `run -v 2>&1 | head -3`, `verify`, `report` and `manpage` with their output closed: the run
/// keeps every row, nothing panics.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_or_stdout_loses_no_row_and_never_panics() {
    let (fixture, fleet_text) = big_world(100);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let script = r#""$0" run "$1" --base-url "$2" --rate 1000/s -v 2>&1 | head -3 >/dev/null; echo "${PIPESTATUS[0]}""#;
    let out = std::process::Command::new("bash")
        .args(["-c", script, BIN, s(&fleet), &base])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_ne!(code, "101", "the run panicked");
    assert_eq!(whole_lines(&results).len(), 100, "every row has its line");
    assert_eq!(summary(&results)["outcomes"]["registered"], 100);
    assert_eq!(sim.stats().requests, 100);

    // Without -v, the closing summary goes to a closed stderr.
    let again = std::process::Command::new("bash")
        .args([
            "-c",
            r#""$0" run "$1" --base-url "$2" --restart 2>&1 | true; echo "${PIPESTATUS[0]}""#,
            BIN,
            s(&fleet),
            &base,
        ])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "0");
    for cmd in [
        format!(
            r#""$0" report "{}" --html "{}/r.html" | true"#,
            s(&results),
            s(dir.path())
        ),
        format!(r#""$0" report "{}" | true"#, s(&results)),
        format!(r#""$0" manpage "{}/man" | true"#, s(dir.path())),
        format!(
            r#""$0" verify "{}" --base-url {base} 2>&1 | true"#,
            s(&results)
        ),
    ] {
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("{cmd}; echo \"${{PIPESTATUS[0]}}\""), BIN])
            .env("GROWATT_TOKEN", DEFAULT_TOKEN)
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(code != "101" && !code.is_empty(), "{cmd}: exit {code}");
    }
}

/// A disk that fills mid-run (a file size limit stands in for it): the run stops, and the
/// summary counts only the rows whose line is in the file.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_summary_counts_only_lines_on_disk() {
    let (fixture, fleet_text) = big_world(300);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    // 16 blocks of 512 bytes: room for the header and some 70 lines. SIGXFSZ ignored, so a
    // write past the limit fails (EFBIG) as on a full disk.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -f 16; trap "" XFSZ; exec "$0" "$@""#,
            BIN,
            "run",
            s(&fleet),
            "--base-url",
            &base,
            "--rate",
            "1000/s",
            "--concurrency",
            "8",
            "--no-progress",
        ])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = whole_lines(&results);
    assert!(lines.len() < 300, "the limit struck: {} lines", lines.len());
    let on_disk = lines.iter().filter(|l| l.contains(",registered,")).count();
    let sum = summary(&results);
    assert_eq!(
        sum["outcomes"]["registered"].as_u64(),
        Some(on_disk as u64),
        "the summary claims only what the file holds: {sum}"
    );
    assert!(sum["stopped"].is_string(), "{sum}");
    // Nothing is lost: the next run, with room, ends every other row.
    let out = run_in(
        dir.path(),
        &["run", s(&fleet), "--base-url", &base, "--rate", "1000/s"],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    let lines = read_results(&results);
    let done: BTreeSet<String> = lines
        .iter()
        .filter(|l| l["outcome"] == "registered" || l["outcome"] == "already_registered")
        .map(|l| l["sn"].clone())
        .collect();
    assert_eq!(done.len(), 300);
}

// ---------------------------------------------------------------------------------------------
// 2. A sheet sorted between runs
// ---------------------------------------------------------------------------------------------

/// A row inserted at the top between two runs: `report` and `verify` know every device by its
/// serial, as `run` does, so none is lost behind a row number reused by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_verify_follow_serials_when_rows_move() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let four = good_fleet(4);
    let mut rows: Vec<&str> = four.lines().skip(1).collect();
    let header = "plant_id,sn,c_user_id\n";
    let first: String = format!("{header}{}\n", rows[..3].join("\n"));
    let fleet = write(dir.path(), "f.csv", &first);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let out = run_against(&sim, &fleet, &["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    // The fourth device goes on top; the three others move down a row.
    rows.rotate_right(1);
    write(
        dir.path(),
        "f.csv",
        format!("{header}{}\n", rows.join("\n")),
    );
    let out = run_against(&sim, &fleet, &["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    assert_eq!(read_results(&results).len(), 4);

    let out = run_in(dir.path(), &["report", s(&results)], &[]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("4 rows") || text.contains("registered: 4") || text.contains("4 registered"),
        "{text}"
    );
    let json = run_in(
        dir.path(),
        &["verify", s(&results), "--base-url", &base],
        &[],
    )
    .await;
    let err = stderr(&json);
    assert!(err.contains("of 4 registered devices"), "{err}");
    let verified =
        std::fs::read_to_string(growatt_onboard::paths::Paths::of_results(&results).verify)
            .unwrap();
    for row in &rows {
        let sn = row.split(',').nth(1).unwrap();
        assert!(verified.contains(sn), "{sn} was checked: {verified}");
    }
    // The spreadsheet report too: one line per device, each with its link status, though two of
    // them were on row 2 in different runs.
    let xlsx = dir.path().join("r.xlsx");
    let out = run_in(
        dir.path(),
        &["report", s(&results), "--xlsx", s(&xlsx)],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    use calamine::Reader as _;
    let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
    let sheet = book.worksheet_range("results").unwrap();
    let data: Vec<Vec<String>> = sheet
        .rows()
        .skip(1)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(data.len(), 4, "{data:?}");
    for row in &rows {
        let sn = row.split(',').nth(1).unwrap();
        let line = data
            .iter()
            .find(|l| l[2] == sn)
            .unwrap_or_else(|| panic!("{sn} is in the workbook: {data:?}"));
        assert_eq!(line[4], "registered", "{line:?}");
        assert!(
            line[10] == "linked" || line[10] == "pending",
            "{sn} has its link status: {line:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Proxies in the environment
// ---------------------------------------------------------------------------------------------

/// A listener that counts connections and answers each with a 200 `{"error_code":0}`: what a
/// hostile or mistaken proxy would say.
async fn fake_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
                let body = r#"{"data":null,"error_code":0,"error_msg":""}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// `http_proxy` and friends pointing at a proxy: a loopback base URL is never proxied, so the
/// proxy sees neither the token nor the rows, and its answer decides nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_never_see_a_loopback_run() {
    let sim = start_sim(SimConfig::default()).await;
    let (proxy, seen) = fake_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(5));
    let base = sim.base_url();
    let env: Vec<(&str, &str)> = [
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
    ]
    .into_iter()
    .map(|k| (k, proxy.as_str()))
    .collect();
    let out = run_in(
        dir.path(),
        &["run", s(&fleet), "--base-url", &base, "--rate", "1000/s"],
        &env,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the proxy was used");
    assert_eq!(
        sim.stats().requests,
        5,
        "every request went to the server itself"
    );
    let out = run_in(
        dir.path(),
        &[
            "verify",
            s(&dir.path().join("f.results.csv")),
            "--base-url",
            &base,
        ],
        &env,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "verify used the proxy");
}

// ---------------------------------------------------------------------------------------------
// 4. The input as its own results file
// ---------------------------------------------------------------------------------------------

/// `run r.csv -o r.csv`, directly or through a link: refused before anything is sent or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_file_is_never_its_own_results_file() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "r.csv", good_fleet(3));
    let before = std::fs::read(&fleet).unwrap();
    let base = sim.base_url();
    let mut names = vec![fleet.clone()];
    #[cfg(unix)]
    {
        let soft = dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&fleet, &soft).unwrap();
        names.push(soft);
    }
    let hard = dir.path().join("hard.csv");
    if std::fs::hard_link(&fleet, &hard).is_ok() {
        names.push(hard);
    }
    for out_path in &names {
        let out = run_in(
            dir.path(),
            &[
                "run",
                s(&fleet),
                "-o",
                s(out_path),
                "--base-url",
                &base,
                "--max-runtime",
                "5s",
            ],
            &[],
        )
        .await;
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("is the input file itself")
                && stderr(&out).contains("r.results.csv"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&fleet).unwrap(),
            before,
            "-o {}",
            out_path.display()
        );
    }
    assert_eq!(sim.stats().requests, 0);
}

// ---------------------------------------------------------------------------------------------
// 5 and 12. Results files damaged by hand or re-saved by a spreadsheet
// ---------------------------------------------------------------------------------------------

/// Runs a 20-row fleet to the end and returns (dir, fleet, results, base).
async fn finished_run(sim: &SimServer) -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(20));
    let results = dir.path().join("f.results.csv");
    let out = run_against(sim, &fleet, &["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    (dir, fleet, results, sim.base_url())
}

/// One stray `"` in the middle of the results file: the damaged line is named, the lines after
/// it are read as usual, and only that line's row is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_quote_in_the_results_costs_one_line_and_is_named() {
    let sim = start_sim(SimConfig::default()).await;
    let (dir, fleet, results, base) = finished_run(&sim).await;
    let text = std::fs::read_to_string(&results).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Line 6 of the file (the fifth row): a quote opens in its plant_id cell and never closes.
    let damaged_sn = lines[5].split(',').nth(2).unwrap().to_string();
    lines[5] = lines[5].replacen(',', ",\"", 1);
    std::fs::write(&results, lines.join("\n") + "\n").unwrap();
    let before = sim.stats().requests;

    let out = run_in(
        dir.path(),
        &["run", s(&fleet), "--base-url", &base, "--rate", "1000/s"],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("1 damaged line skipped (line 6)"), "{err}");
    let stats = sim.stats();
    assert_eq!(
        stats.requests - before,
        1,
        "only the damaged line's row is sent again"
    );
    assert_eq!(stats.requests_per_sn[&damaged_sn], 2);

    let out = run_in(dir.path(), &["report", s(&results)], &[]).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("line 6"),
        "report names it: {}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("20"), "{}", stdout(&out));
}

/// A results file re-saved with CRLF line ends and no final line break: its last line is whole
/// and kept; nothing is sent again, and the next line goes on a line of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crlf_results_file_without_a_final_newline_keeps_its_last_line() {
    let sim = start_sim(SimConfig::default()).await;
    let (dir, fleet, results, base) = finished_run(&sim).await;
    let text = std::fs::read_to_string(&results).unwrap();
    let crlf = text.trim_end_matches('\n').replace('\n', "\r\n");
    std::fs::write(&results, &crlf).unwrap();
    let before = sim.stats().requests;
    // One new row, so the run appends after the re-saved last line.
    let mut fleet_text = std::fs::read_to_string(&fleet).unwrap();
    fleet_text.push_str(good_fleet(21).lines().last().unwrap());
    fleet_text.push('\n');
    std::fs::write(&fleet, fleet_text).unwrap();

    let out = run_in(
        dir.path(),
        &["run", s(&fleet), "--base-url", &base, "--rate", "1000/s"],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("cut-off"), "{}", stderr(&out));
    assert_eq!(sim.stats().requests - before, 1, "only the new row is sent");
    let lines = read_results(&results);
    assert_eq!(lines.len(), 21, "the 20 re-saved lines and the new one");
    assert!(lines.iter().all(|l| l["outcome"] == "registered"));
}

// ---------------------------------------------------------------------------------------------
// 6. SIGHUP: the terminal or the SSH session closed
// ---------------------------------------------------------------------------------------------

/// SIGHUP ends a run like SIGTERM: the rows in flight end and are written, then the summary and
/// the history; the next run sends only what is left.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_ends_the_run_with_its_summary_and_history() {
    let (fixture, fleet_text) = big_world(60);
    let sim = start_sim(SimConfig {
        fixture,
        latency: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "run",
            s(&fleet),
            "--base-url",
            &base,
            "--rate",
            "20/s",
            "--concurrency",
            "4",
            "--no-progress",
        ])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    poll_until("five rows written", || whole_lines(&results).len() >= 5).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(130));
    let lines = read_results(&results);
    assert!(
        lines.len() < 60,
        "SIGHUP came too late to interrupt anything"
    );
    // Every request the server answered has its line: the rows in flight ended.
    let sent: BTreeSet<String> = sim.stats().requests_per_sn.keys().cloned().collect();
    let written: BTreeSet<String> = lines.iter().map(|l| l["sn"].clone()).collect();
    assert_eq!(sent, written);
    let sum = summary(&results);
    assert_eq!(sum["exit_code"], 130);
    assert_eq!(sum["rows_ended"].as_u64(), Some(lines.len() as u64));
    let history = growatt_onboard::paths::Paths::of_results(&results).history;
    assert_eq!(std::fs::read_to_string(history).unwrap().lines().count(), 1);
    let out = run_against(&sim, &fleet, &["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    assert!(
        sim.stats().requests_per_sn.values().all(|n| *n == 1),
        "nothing sent twice"
    );
}

/// SIGTERM the moment the server sees the first request: the handler is already in place, so
/// the run ends as any interrupted run does (exit 130, the summary written, every answered row
/// in the file).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_as_the_first_request_goes_out_is_handled() {
    let (fixture, fleet_text) = big_world(20);
    let sim = start_sim(SimConfig {
        fixture,
        latency: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "run",
            s(&fleet),
            "--base-url",
            &base,
            "--rate",
            "5/s",
            "--no-progress",
        ])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    poll_until("the first request", || sim.stats().requests >= 1).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(summary(&results)["exit_code"], 130);
    let sent: BTreeSet<String> = sim.stats().requests_per_sn.keys().cloned().collect();
    let written: BTreeSet<String> = read_results(&results)
        .iter()
        .map(|l| l["sn"].clone())
        .collect();
    assert_eq!(sent, written);
}

// ---------------------------------------------------------------------------------------------
// 9. Token files that are not files
// ---------------------------------------------------------------------------------------------

/// `--token-file /dev/zero` is refused after 4 KiB, a FIFO nobody writes to after a few seconds.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_files_that_never_end_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(1));
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &[
            "run",
            s(&fleet),
            "--token-file",
            "/dev/zero",
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    )
    .await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("larger than a token"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let fifo = dir.path().join("token.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &[
            "run",
            s(&fleet),
            "--token-file",
            s(&fifo),
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    )
    .await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("nothing came from it"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!dir.path().join("f.results.csv").exists());
}

// ---------------------------------------------------------------------------------------------
// 10 and 15. Spreadsheets: a huge claimed sheet, dates and rounded numbers in id columns
// ---------------------------------------------------------------------------------------------

/// An .xlsx built from readable parts: `cells` are `(reference, xml of the cell's content)`,
/// `dimension` the used range the file claims. Style 1 is a date format.
fn xlsx(path: &Path, dimension: &str, rows: &[Vec<(&str, &str)>]) {
    use zip::write::SimpleFileOptions;
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    let mut sheet =
        format!(r#"<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/><sheetData>"#);
    for cells in rows {
        let r: String = cells[0].0.chars().filter(char::is_ascii_digit).collect();
        sheet.push_str(&format!(r#"<row r="{r}">"#));
        for (at, content) in cells {
            sheet.push_str(&format!(r#"<c r="{at}"{content}</c>"#));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let parts = [
        (
            "[Content_Types].xml",
            String::from(
                r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#,
            ),
        ),
        (
            "_rels/.rels",
            format!(
                r#"<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Fleet" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/styles.xml",
            format!(
                r#"<styleSheet xmlns="{MAIN}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#
            ),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// A text cell.
fn t(text: &str) -> String {
    format!(r#" t="inlineStr"><is><t>{text}</t></is>"#)
}

/// A number cell (style 1: a date).
fn n(value: &str, date: bool) -> String {
    format!(r#"{}><v>{value}</v>"#, if date { r#" s="1""# } else { "" })
}

fn header_row() -> Vec<(&'static str, String)> {
    vec![
        ("A1", t("plant_id")),
        ("B1", t("sn")),
        ("C1", t("c_user_id")),
    ]
}

fn as_refs<'a>(rows: &'a [Vec<(&'static str, String)>]) -> Vec<Vec<(&'static str, &'a str)>> {
    rows.iter()
        .map(|r| r.iter().map(|(a, c)| (*a, c.as_str())).collect())
        .collect()
}

/// One value in cell XFD1048576 of a small .xlsx: `check` and `run` name the problem and end,
/// never allocate the claimed 17 billion cells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_claiming_every_cell_is_refused_without_allocating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.xlsx");
    let rows = vec![
        header_row(),
        vec![
            ("A2", n("1", false)),
            ("B2", t("SN0001")),
            ("C2", n("1", false)),
        ],
        vec![("XFD1048576", n("1", false))],
    ];
    xlsx(&path, "A1:XFD1048576", &as_refs(&rows));
    assert!(std::fs::metadata(&path).unwrap().len() < 4096);
    for cmd in ["check", "run"] {
        let args: &[&str] = if cmd == "run" {
            &["--base-url", "http://127.0.0.1:9"]
        } else {
            &[]
        };
        let mut words = vec![cmd, s(&path)];
        words.extend_from_slice(args);
        let out = run_in(dir.path(), &words, &[]).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(err.contains("1048576 rows × 16384 columns"), "{cmd}: {err}");
        assert!(!dir.path().join("huge.results.csv").exists());
    }
}

/// A date cell in an id column and a 17-digit serial stored as a number: both `invalid`, with
/// a hint to format the column as text; the good row beside them is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_and_rounded_numbers_in_a_sheet_are_invalid_with_a_hint() {
    let sim = start_sim(SimConfig::default()).await;
    let good = good_fleet(1);
    let cells: Vec<&str> = good.lines().nth(1).unwrap().split(',').collect();
    let (plant, sn, user) = (cells[0], cells[1], cells[2]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xlsx");
    let rows = vec![
        header_row(),
        vec![
            ("A2", n("45659", true)),
            ("B2", t("DATE0001")),
            ("C2", n(user, false)),
        ],
        vec![
            ("A3", n(plant, false)),
            ("B3", n("12345678901234567", false)),
            ("C3", n(user, false)),
        ],
        vec![
            ("A4", n(plant, false)),
            ("B4", t(sn)),
            ("C4", n(user, false)),
        ],
    ];
    xlsx(&path, "A1:C4", &as_refs(&rows));
    let out = run_against(&sim, &path, &["--rate", "1000/s"]).await;
    assert_exit(&out, 3);
    let lines = latest_by_row(&read_results(&dir.path().join("f.results.csv")));
    assert_eq!(lines[&2]["outcome"], "invalid");
    assert!(
        lines[&2]["error_msg"].contains("'2025-01-02' is a date"),
        "{:?}",
        lines[&2]
    );
    assert!(lines[&2]["error_msg"].contains("format the column as text"));
    assert_eq!(lines[&3]["outcome"], "invalid");
    assert!(
        lines[&3]["error_msg"].contains("converted to a number"),
        "{:?}",
        lines[&3]
    );
    assert_eq!(lines[&4]["outcome"], "registered");
    assert_eq!(
        sim.stats().requests,
        1,
        "neither the date nor the rounded serial was sent"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. One results file under several names
// ---------------------------------------------------------------------------------------------

/// While a run holds its results file, a run or verify reaching the same file through a symbolic
/// or hard link is refused; verify's message does not suggest -o, which it does not have.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_to_a_results_file_in_use_are_refused() {
    let (fixture, fleet_text) = big_world(40);
    let sim = start_sim(SimConfig {
        fixture,
        latency: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let mut first = tokio::process::Command::new(BIN)
        .args([
            "run",
            s(&fleet),
            "--base-url",
            &base,
            "--rate",
            "10/s",
            "--no-progress",
        ])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    poll_until("the first line", || !whole_lines(&results).is_empty()).await;
    let soft = dir.path().join("soft.csv");
    std::os::unix::fs::symlink(&results, &soft).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&results, &hard).unwrap();
    for name in [&soft, &hard] {
        let out = run_in(
            dir.path(),
            &["run", s(&fleet), "-o", s(name), "--base-url", &base],
            &[],
        )
        .await;
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("lock"),
            "{}: {}",
            name.display(),
            stderr(&out)
        );
        let out = run_in(dir.path(), &["verify", s(name), "--base-url", &base], &[]).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("lock") && !err.contains(" -o "),
            "{}: {err}",
            name.display()
        );
    }
    first.start_kill().unwrap();
    let _ = first.wait().await;
    // Every serial went out once: the refused runs sent nothing.
    assert!(sim.stats().requests_per_sn.values().all(|n| *n == 1));
}

// ---------------------------------------------------------------------------------------------
// 13. A bad input changes nothing on disk
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_input_path_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo").join("dir").join("f.csv");
    let out = run_in(
        dir.path(),
        &["run", s(&typo), "--base-url", "http://127.0.0.1:9"],
        &[],
    )
    .await;
    assert_exit(&out, 1);
    assert!(!dir.path().join("typo").exists(), "the folder was created");
    let out = run_in(
        dir.path(),
        &["run", "-", "--base-url", "http://127.0.0.1:9"],
        &[],
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// 14. demo in a folder already used
// ---------------------------------------------------------------------------------------------

/// `demo --dir DIR` with files of its own names already there: they are set aside, never
/// overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keeps_the_files_already_in_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mine = "plant_id,sn,c_user_id\n1,MINE0001,1\n";
    write(dir.path(), "fleet.csv", mine);
    write(dir.path(), "report.html", "<p>my report</p>");
    let out = run_in(
        dir.path(),
        &["demo", "--dir", s(dir.path()), "--rate", "1000/s", "-q"],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        if text == mine || text == "<p>my report</p>" {
            kept.push(p);
        }
    }
    assert_eq!(kept.len(), 2, "both earlier files kept: {kept:?}");
    assert!(kept
        .iter()
        .all(|p| p.file_name().unwrap() != "fleet.csv" && p.file_name().unwrap() != "report.html"));
    assert!(
        stdout(&out).contains("an earlier file was kept as"),
        "{}",
        stdout(&out)
    );
}
