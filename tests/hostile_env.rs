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
use std::path::Path;
use std::time::{Duration, Instant};

use common::hostile::{envelope, Hostile};
use common::*;

/// [`TestEnv::big_world`], with runs that start in the world's folder.
async fn big(n: usize, cfg: SimConfig) -> TestEnv {
    TestEnv::big_world(n, cfg).await.run_in_dir()
}

/// A world with the default simulator and `fleet`; runs start in the world's folder.
async fn small(fleet: impl AsRef<[u8]>) -> TestEnv {
    let env = TestEnv::start_default().await.run_in_dir();
    env.with_fleet(fleet)
}

/// Runs `script` in bash with the binary as `$0`, then `args`, and the simulator's token; returns
/// what it printed to stdout, trimmed (the scripts here echo the binary's exit code).
#[cfg(unix)]
fn bash(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("bash")
        .args(["-c", script, BIN])
        .args(args)
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// 1. Closed pipes and a full disk
// ---------------------------------------------------------------------------------------------

/// `run -v 2>&1 | head -3`, `verify`, `report` and `manpage` with their output closed: the run
/// keeps every row, nothing panics.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_or_stdout_loses_no_row_and_never_panics() {
    let env = big(100, SimConfig::default()).await;
    let (fleet, base) = (arg(&env.fleet), env.base());
    let script = r#""$0" run "$1" --base-url "$2" --rate 1000/s -v 2>&1 | head -3 >/dev/null; echo "${PIPESTATUS[0]}""#;
    let code = bash(script, &[fleet, &base]);
    assert_ne!(code, "101", "the run panicked");
    assert_eq!(
        whole_lines(&env.results).len(),
        100,
        "every row has its line"
    );
    assert_eq!(env.summary()["outcomes"]["registered"], 100);
    assert_eq!(env.sim().stats().requests, 100);

    // Without -v, the closing summary goes to a closed stderr.
    let script = r#""$0" run "$1" --base-url "$2" --restart 2>&1 | true; echo "${PIPESTATUS[0]}""#;
    assert_eq!(bash(script, &[fleet, &base]), "0");
    let (results, dir) = (arg(&env.results), arg(env.dir()));
    for cmd in [
        format!(r#""$0" report "{results}" --html "{dir}/r.html" | true"#),
        format!(r#""$0" report "{results}" | true"#),
        format!(r#""$0" manpage "{dir}/man" | true"#),
        format!(r#""$0" verify "{results}" --base-url {base} 2>&1 | true"#),
    ] {
        let code = bash(&format!("{cmd}; echo \"${{PIPESTATUS[0]}}\""), &[]);
        assert!(code != "101" && !code.is_empty(), "{cmd}: exit {code}");
    }
}

/// A disk that fills mid-run (a file size limit stands in for it): the run stops, and the
/// summary counts only the rows whose line is in the file.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_summary_counts_only_lines_on_disk() {
    let env = big(300, SimConfig::default()).await;
    let base = env.base();
    // 16 blocks of 512 bytes: room for the header and some 70 lines. SIGXFSZ ignored, so a
    // write past the limit fails (EFBIG) as on a full disk.
    let out = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -f 16; trap "" XFSZ; exec "$0" "$@""#, BIN])
        .args(["run", arg(&env.fleet), "--base-url", &base])
        .args(flags("--rate 1000/s --concurrency 8 --no-progress"))
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let lines = whole_lines(&env.results);
    assert!(lines.len() < 300, "the limit struck: {} lines", lines.len());
    let on_disk = lines.iter().filter(|l| l.contains(",registered,")).count();
    let sum = env.summary();
    assert_eq!(
        sum["outcomes"]["registered"].as_u64(),
        Some(on_disk as u64),
        "the summary claims only what the file holds: {sum}"
    );
    assert!(sum["stopped"].is_string(), "{sum}");
    // Nothing is lost: the next run, with room, ends every other row.
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    let done: BTreeSet<String> = env
        .lines()
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
    let four = good_fleet(4);
    let mut rows: Vec<&str> = four.lines().skip(1).collect();
    let header = "plant_id,sn,c_user_id\n";
    let env = small(format!("{header}{}\n", rows[..3].join("\n"))).await;
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    // The fourth device goes on top; the three others move down a row.
    rows.rotate_right(1);
    env.set_fleet(format!("{header}{}\n", rows.join("\n")));
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    assert_eq!(env.lines().len(), 4);

    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("4 rows") || text.contains("registered: 4") || text.contains("4 registered"),
        "{text}"
    );
    assert_said(&env.verify(&[]).await, &["of 4 registered devices"]);
    let verify_path = growatt_onboard::paths::Paths::of_results(&env.results).verify;
    let verified = std::fs::read_to_string(verify_path).unwrap();
    for row in &rows {
        let sn = row.split(',').nth(1).unwrap();
        assert!(verified.contains(sn), "{sn} was checked: {verified}");
    }
    // The spreadsheet report too: one line per device, each with its link status, though two of
    // them were on row 2 in different runs.
    let xlsx = env.path("r.xlsx");
    assert_exit(&env.report(&["--xlsx", arg(&xlsx)]).await, 0);
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
        let status = line[10] == "linked" || line[10] == "pending";
        assert!(status, "{sn} has its link status: {line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Proxies in the environment
// ---------------------------------------------------------------------------------------------

/// `http_proxy` and friends pointing at a proxy (a listener that answers every connection with a
/// 200 `{"error_code":0}`, as a hostile or mistaken proxy would): a loopback base URL is never
/// proxied, so the proxy sees neither the token nor the rows, and its answer decides nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_never_see_a_loopback_run() {
    let env = small(good_fleet(5)).await;
    let proxy = Hostile::start(|_| envelope(0, "")).await;
    let proxied = |mut bin: Bin| {
        for var in ["http_proxy", "all_proxy", "https_proxy"] {
            bin = bin.env(var, &proxy.base_url());
            bin = bin.env(&var.to_uppercase(), &proxy.base_url());
        }
        bin
    };
    let out = proxied(env.run_cmd_at(&env.base(), &["--rate", "1000/s"]));
    assert_exit(&out.output().await, 0);
    assert_eq!(proxy.accepted(), 0, "the proxy was used");
    let requests = env.sim().stats().requests;
    assert_eq!(requests, 5, "every request went to the server itself");
    let verify = ["verify", arg(&env.results), "--base-url", &env.base()];
    assert_exit(&proxied(env.bin(&verify)).output().await, 0);
    assert_eq!(proxy.accepted(), 0, "verify used the proxy");
}

// ---------------------------------------------------------------------------------------------
// 4. The input as its own results file
// ---------------------------------------------------------------------------------------------

/// `run r.csv -o r.csv`, directly or through a link: refused before anything is sent or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_file_is_never_its_own_results_file() {
    let env = TestEnv::start_default().await.run_in_dir().named("r.csv");
    let env = env.with_fleet(good_fleet(3));
    let before = std::fs::read(&env.fleet).unwrap();
    let mut names = vec![env.fleet.clone()];
    #[cfg(unix)]
    {
        let soft = env.path("soft.csv");
        std::os::unix::fs::symlink(&env.fleet, &soft).unwrap();
        names.push(soft);
    }
    let hard = env.path("hard.csv");
    if std::fs::hard_link(&env.fleet, &hard).is_ok() {
        names.push(hard);
    }
    for out_path in &names {
        let out = env.run(&["-o", arg(out_path), "--max-runtime", "5s"]).await;
        assert_exit(&out, 1);
        assert_said(&out, &["is the input file itself", "r.results.csv"]);
        let after = std::fs::read(&env.fleet).unwrap();
        assert_eq!(after, before, "-o {}", out_path.display());
    }
    assert_eq!(env.sim().stats().requests, 0);
}

// ---------------------------------------------------------------------------------------------
// 5 and 12. Results files damaged by hand or re-saved by a spreadsheet
// ---------------------------------------------------------------------------------------------

/// A world where a 20-row fleet has run to the end.
async fn finished_run() -> TestEnv {
    let env = small(good_fleet(20)).await;
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    env
}

/// One stray `"` in the middle of the results file: the damaged line is named, the lines after
/// it are read as usual, and only that line's row is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_quote_in_the_results_costs_one_line_and_is_named() {
    let env = finished_run().await;
    let text = std::fs::read_to_string(&env.results).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Line 6 of the file (the fifth row): a quote opens in its plant_id cell and never closes.
    let damaged_sn = lines[5].split(',').nth(2).unwrap().to_string();
    lines[5] = lines[5].replacen(',', ",\"", 1);
    std::fs::write(&env.results, lines.join("\n") + "\n").unwrap();
    let before = env.sim().stats().requests;

    let out = env.run(&["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    assert_said(&out, &["1 damaged line skipped (line 6)"]);
    let stats = env.sim().stats();
    let again = stats.requests - before;
    assert_eq!(again, 1, "only the damaged line's row is sent again");
    assert_eq!(stats.requests_per_sn[&damaged_sn], 2);

    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    assert_said(&out, &["line 6"]);
    assert_printed(&out, &["20"]);
}

/// A results file re-saved with CRLF line ends and no final line break: its last line is whole
/// and kept; nothing is sent again, and the next line goes on a line of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crlf_results_file_without_a_final_newline_keeps_its_last_line() {
    let env = finished_run().await;
    let text = std::fs::read_to_string(&env.results).unwrap();
    let crlf = text.trim_end_matches('\n').replace('\n', "\r\n");
    std::fs::write(&env.results, &crlf).unwrap();
    let before = env.sim().stats().requests;
    // One new row, so the run appends after the re-saved last line.
    let mut fleet_text = std::fs::read_to_string(&env.fleet).unwrap();
    fleet_text.push_str(good_fleet(21).lines().last().unwrap());
    fleet_text.push('\n');
    env.set_fleet(fleet_text);

    let out = env.run(&["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("cut-off"), "{}", stderr(&out));
    let sent = env.sim().stats().requests - before;
    assert_eq!(sent, 1, "only the new row is sent");
    let lines = env.lines();
    assert_eq!(lines.len(), 21, "the 20 re-saved lines and the new one");
    assert_eq!(count(&lines, "registered"), 21);
}

// ---------------------------------------------------------------------------------------------
// 6. SIGHUP: the terminal or the SSH session closed
// ---------------------------------------------------------------------------------------------

/// SIGHUP ends a run like SIGTERM: the rows in flight end and are written, then the summary and
/// the history; the next run sends only what is left.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_ends_the_run_with_its_summary_and_history() {
    let env = big(60, slow(ms(100))).await;
    let mut run = env.spawn_run(&flags("--rate 20/s --concurrency 4 --no-progress"));
    poll_until("five rows written", || whole_lines(&env.results).len() >= 5).await;
    run.interrupt("-HUP").await;
    let lines = env.lines();
    let late = lines.len() >= 60;
    assert!(!late, "SIGHUP came too late to interrupt anything");
    // Every request the server answered has its line: the rows in flight ended.
    let sent: BTreeSet<String> = env.sim().stats().requests_per_sn.into_keys().collect();
    let written: BTreeSet<String> = lines.iter().map(|l| l["sn"].clone()).collect();
    assert_eq!(sent, written);
    let sum = env.summary();
    assert_eq!(sum["exit_code"], 130);
    assert_eq!(sum["rows_ended"].as_u64(), Some(lines.len() as u64));
    let history = growatt_onboard::paths::Paths::of_results(&env.results).history;
    assert_eq!(std::fs::read_to_string(history).unwrap().lines().count(), 1);
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    let once = env.sim().stats().requests_per_sn.values().all(|n| *n == 1);
    assert!(once, "nothing sent twice");
}

/// SIGTERM the moment the server sees the first request: the handler is already in place, so
/// the run ends as any interrupted run does (exit 130, the summary written, every answered row
/// in the file).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_as_the_first_request_goes_out_is_handled() {
    let env = big(20, slow(ms(200))).await;
    let mut run = env.spawn_run(&flags("--rate 5/s --no-progress"));
    poll_until("the first request", || env.sim().stats().requests >= 1).await;
    run.interrupt("-TERM").await;
    assert_eq!(env.summary()["exit_code"], 130);
    let sent: BTreeSet<String> = env.sim().stats().requests_per_sn.into_keys().collect();
    let written: BTreeSet<String> = env.lines().iter().map(|l| l["sn"].clone()).collect();
    assert_eq!(sent, written);
}

// ---------------------------------------------------------------------------------------------
// 9. Token files that are not files
// ---------------------------------------------------------------------------------------------

/// `--token-file /dev/zero` is refused after 4 KiB, a FIFO nobody writes to after a few seconds.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_files_that_never_end_are_refused_quickly() {
    let env = TestEnv::offline().run_in_dir().with_fleet(good_fleet(1));
    let nowhere = "http://127.0.0.1:9";
    let started = Instant::now();
    let out = env.run_at(nowhere, &["--token-file", "/dev/zero"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["larger than a token"]);
    assert!(started.elapsed() < Duration::from_secs(20));

    let fifo = env.path("token.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let started = Instant::now();
    let out = env.run_at(nowhere, &["--token-file", arg(&fifo)]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["nothing came from it"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!env.results.exists());
}

// ---------------------------------------------------------------------------------------------
// 10 and 15. Spreadsheets: a huge claimed sheet, dates and rounded numbers in id columns
// ---------------------------------------------------------------------------------------------

/// An .xlsx built from readable parts: `rows` hold `(reference, xml of the cell's content)`,
/// `dimension` is the used range the file claims. Style 1 is a date format.
fn xlsx(path: &Path, dimension: &str, rows: &[Vec<(String, String)>]) {
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

/// Row `r` of a sheet: these cells in columns A, B and C.
fn row(r: u32, cells: [String; 3]) -> Vec<(String, String)> {
    ["A", "B", "C"]
        .iter()
        .zip(cells)
        .map(|(column, cell)| (format!("{column}{r}"), cell))
        .collect()
}

/// The fleet's header row.
fn header_row() -> Vec<(String, String)> {
    row(1, [t("plant_id"), t("sn"), t("c_user_id")])
}

/// One value in cell XFD1048576 of a small .xlsx: `check` and `run` name the problem and end,
/// never allocate the claimed 17 billion cells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_claiming_every_cell_is_refused_without_allocating_it() {
    let env = TestEnv::offline().run_in_dir().named("huge.xlsx");
    let rows = vec![
        header_row(),
        row(2, [n("1", false), t("SN0001"), n("1", false)]),
        vec![("XFD1048576".to_string(), n("1", false))],
    ];
    xlsx(&env.fleet, "A1:XFD1048576", &rows);
    assert!(std::fs::metadata(&env.fleet).unwrap().len() < 4096);
    for out in [
        env.check(&[]).await,
        env.run_at("http://127.0.0.1:9", &[]).await,
    ] {
        assert_exit(&out, 1);
        assert_said(&out, &["1048576 rows × 16384 columns"]);
        assert!(!env.results.exists());
    }
}

/// A date cell in an id column and a 17-digit serial stored as a number: both `invalid`, with
/// a hint to format the column as text; the good row beside them is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_and_rounded_numbers_in_a_sheet_are_invalid_with_a_hint() {
    let env = TestEnv::start_default().await.named("f.xlsx");
    let good = good_fleet(1);
    let cells: Vec<&str> = good.lines().nth(1).unwrap().split(',').collect();
    let (plant, sn, user) = (cells[0], cells[1], cells[2]);
    let rows = vec![
        header_row(),
        row(2, [n("45659", true), t("DATE0001"), n(user, false)]),
        row(
            3,
            [
                n(plant, false),
                n("12345678901234567", false),
                n(user, false),
            ],
        ),
        row(4, [n(plant, false), t(sn), n(user, false)]),
    ];
    xlsx(&env.fleet, "A1:C4", &rows);
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 3);
    let lines = env.latest();
    assert_eq!(lines[&2]["outcome"], "invalid");
    let date = &lines[&2]["error_msg"];
    assert!(date.contains("'2025-01-02' is a date"), "{:?}", lines[&2]);
    assert!(date.contains("format the column as text"));
    assert_eq!(lines[&3]["outcome"], "invalid");
    // A workbook holds the number itself: nothing was exported, so the hint is to type it.
    let number = &lines[&3]["error_msg"];
    assert!(
        number.contains("format the column as text"),
        "{:?}",
        lines[&3]
    );
    assert!(number.contains("type the serial as the device label shows it"));
    assert_eq!(lines[&4]["outcome"], "registered");
    let requests = env.sim().stats().requests;
    assert_eq!(
        requests, 1,
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
    let env = big(40, slow(ms(100))).await;
    let mut first = env.spawn_run(&flags("--rate 10/s --no-progress"));
    poll_until("the first line", || !whole_lines(&env.results).is_empty()).await;
    let soft = env.path("soft.csv");
    std::os::unix::fs::symlink(&env.results, &soft).unwrap();
    let hard = env.path("hard.csv");
    std::fs::hard_link(&env.results, &hard).unwrap();
    for name in [&soft, &hard] {
        let out = env.run(&["-o", arg(name)]).await;
        assert_exit(&out, 1);
        assert_said(&out, &["lock"]);
        let verify = ["verify", arg(name), "--base-url", &env.base()];
        let out = env.bin(&verify).output().await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        let said = err.contains("lock") && !err.contains(" -o ");
        assert!(said, "{}: {err}", name.display());
    }
    first.kill().await;
    // Every serial went out once: the refused runs sent nothing.
    assert!(env.sim().stats().requests_per_sn.values().all(|n| *n == 1));
}

// ---------------------------------------------------------------------------------------------
// 13. A bad input changes nothing on disk
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_input_path_creates_nothing() {
    let env = TestEnv::offline().run_in_dir();
    let typo = env.dir().join("typo").join("dir").join("f.csv");
    let nowhere = "http://127.0.0.1:9";
    let out = env.bin(&["run", arg(&typo), "--base-url", nowhere]);
    assert_exit(&out.output().await, 1);
    assert!(!env.path("typo").exists(), "the folder was created");
    let out = env.bin(&["run", "-", "--base-url", nowhere]).output().await;
    assert_ne!(out.status.code(), Some(0));
    let left: Vec<_> = std::fs::read_dir(env.dir())
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
    let env = TestEnv::offline().run_in_dir();
    let mine = "plant_id,sn,c_user_id\n1,MINE0001,1\n";
    env.write("fleet.csv", mine);
    env.write("report.html", "<p>my report</p>");
    let demo = ["demo", "--dir", arg(env.dir()), "--rate", "1000/s", "-q"];
    let out = env.bin(&demo).output().await;
    assert_exit(&out, 0);
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(env.dir()).unwrap() {
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
    assert_printed(&out, &["an earlier file was kept as"]);
}
