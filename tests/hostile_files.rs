//! Files that are not what the tool expects: a report aimed at the tool's own files, reports
//! aimed at pipes and links, spreadsheets that inflate to gigabytes or hold ten thousand sheets,
//! caches, fleets, histories and fixtures that never end, and FIFOs where a file should be.
//!
//! Each case is a short story: what a user could do by accident (or an attacker on purpose),
//! what the tool does, and what must hold afterwards. Every run that could grow without bound is
//! watched ([`Bin::watched`]): killed past a memory or time bound, so a regression fails its test
//! at once rather than filling the machine.
// FIFOs, devices and sparse files are Unix cases; elsewhere their helpers are unused.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

mod common;
#[path = "common/plain.rs"]
mod plain;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::book::{declare_size, Book};
use common::*;

/// Peak memory a hostile file may cost a command: its own footprint is 10 to 30 MiB.
const PEAK_KIB: u64 = 150 * 1024;
/// Longest a command on a hostile file may take on a loaded machine.
const QUICK: Duration = Duration::from_secs(30);

/// `cmd` run to its end within [`PEAK_KIB`] and [`QUICK`] (`what` names it when the watch has to
/// kill it), ending with `code`: what it printed.
async fn bounded(cmd: Bin, what: &str, code: i32) -> std::process::Output {
    let out = cmd.watched(PEAK_KIB, QUICK).await;
    out.assert_bounded(what);
    assert_exit(&out.out, code);
    out.out
}

/// A world on the default simulator, run in its own folder, whose fleet holds `fleet`.
async fn in_dir_with(fleet: impl AsRef<[u8]>) -> TestEnv {
    TestEnv::start_default()
        .await
        .run_in_dir()
        .with_fleet(fleet)
}

/// A world whose run has ended: the results, summary and history of `f.csv` (3 rows) exist.
async fn finished() -> TestEnv {
    let env = in_dir_with(good_fleet(3)).await;
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    env
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    assert!(made.unwrap().success());
}

/// A file of `head` followed by a hole: `len` bytes in all that read as NUL, taking no disk.
fn sparse(path: &Path, head: &[u8], len: u64) {
    std::fs::write(path, head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Reads a FIFO whole on a thread of its own: what a reader at its other end got.
#[cfg(unix)]
fn read_fifo(path: &Path) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let _ = tx.send(bytes);
    });
    rx
}

/// Writes `text` into a FIFO on a thread of its own, then closes it: a writer that sends a
/// fleet and goes away.
#[cfg(unix)]
fn write_fifo(path: &Path, text: &str) {
    let (path, text) = (path.to_path_buf(), text.to_string());
    std::thread::spawn(move || {
        let _ = std::fs::write(&path, text);
    });
}

// ---------------------------------------------------------------------------------------------
// 1. A report aimed at the tool's own files
// ---------------------------------------------------------------------------------------------

/// `report r.csv --html r.csv` (or `--xlsx`), and the same at the verify file, the history, the
/// summary, the lock, the fleet the run read, another results file, and the results through a
/// symbolic or a hard link: each refused with exit 1, naming the file; nothing changes on disk,
/// so the next run sends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_never_replaces_the_tools_own_files() {
    let env = finished().await;
    let r = |name: &str| env.path(name);
    env.write(
        "f.results.verify.csv",
        "row,plant_id,sn,link_status,device_status,last_update_time,checked_at\n",
    );
    std::fs::copy(&env.results, r("other.results.csv")).unwrap();
    let mut targets: Vec<(PathBuf, &str)> = vec![
        (env.results.clone(), "f.results.csv"),
        (r("f.results.verify.csv"), "f.results.verify.csv"),
        (r("f.results.history.jsonl"), "f.results.history.jsonl"),
        (r("f.results.summary.json"), "f.results.summary.json"),
        (r("f.results.csv.lock"), "f.results.csv.lock"),
        (env.fleet.clone(), "f.csv"),
        (r("other.results.csv"), "results file"),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&env.results, r("soft.csv")).unwrap();
        targets.push((r("soft.csv"), "f.results.csv"));
    }
    if std::fs::hard_link(&env.results, r("hard.csv")).is_ok() {
        targets.push((r("hard.csv"), "f.results.csv"));
    }
    let before: Vec<(PathBuf, Option<Vec<u8>>)> = std::fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).ok()))
        .collect();
    for (target, named) in &targets {
        for flag in ["--html", "--xlsx"] {
            let out = env.report(&[flag, arg(target)]).await;
            assert_exit(&out, 1);
            assert_said(&out, &["cannot write", named, "never replaces it"]);
        }
    }
    for (path, bytes) in before {
        assert_eq!(
            std::fs::read(&path).ok(),
            bytes,
            "{} changed",
            path.display()
        );
    }
    // The results still say every row is done: the next run sends nothing.
    let sent = env.sim().stats().requests;
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    assert_eq!(env.sim().stats().requests, sent);
    // A report of its own name is still written.
    assert_exit(&env.report(&["--html", arg(&r("report.html"))]).await, 0);
}

// ---------------------------------------------------------------------------------------------
// 2. Reports into pipes, links to pipes, folders
// ---------------------------------------------------------------------------------------------

/// `--html FIFO` and `--xlsx FIFO` with a reader, and `--html LINK` where the link names the FIFO:
/// written in place, the reader gets the whole report, the FIFO and the link stay what they were.
/// A FIFO nobody reads is refused at once; a folder is refused by name.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_written_into_pipes_in_place_never_renamed_over_them() {
    let env = finished().await;
    let fifo = env.path("report.fifo");
    mkfifo(&fifo);
    let link = env.path("report.link");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for (flag, target, starts) in [
        ("--html", &fifo, &b"<!DOCTYPE html>"[..]),
        ("--html", &link, b"<!DOCTYPE html>"),
        ("--xlsx", &fifo, b"PK\x03\x04"),
    ] {
        let got = read_fifo(&fifo);
        bounded(
            env.bin(&["report", arg(&env.results), flag, arg(target)]),
            flag,
            0,
        )
        .await;
        let bytes = got.recv_timeout(QUICK).expect("the reader got the report");
        assert!(bytes.starts_with(starts), "{flag} {}", target.display());
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
        let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
        assert!(kind.is_symlink(), "the link is kept");
    }
    let out = bounded(
        env.bin(&["report", arg(&env.results), "--html", arg(&fifo)]),
        "a FIFO nobody reads",
        1,
    )
    .await;
    assert_said(&out, &["report.fifo", "nobody is reading"]);
    let out = env.report(&["--html", arg(env.dir())]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["folder"]);
    let left: Vec<_> = std::fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Spreadsheets: a zip bomb, a lying zip, ten thousand sheets
// ---------------------------------------------------------------------------------------------

/// A small .xlsx whose shared strings declare 1.5 GiB: `check` and `run` refuse it before
/// inflating anything, naming the part and its size; nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_whose_shared_strings_inflate_to_gigabytes_is_refused_with_its_size() {
    let env = TestEnv::offline().run_in_dir().named("bomb.xlsx");
    let mut book = Book::fleet(2);
    book.shared = Some("<si><t>x</t></si>".repeat(10));
    book.write(&env.fleet);
    declare_size(&env.fleet, "xl/sharedStrings.xml", 3 << 29);
    assert!(std::fs::metadata(&env.fleet).unwrap().len() < 4096);
    for cmd in [
        env.check_cmd(&[]),
        env.run_cmd_at("http://127.0.0.1:9", &[]),
    ] {
        let out = bounded(cmd, "the bomb", 1).await;
        assert_said(
            &out,
            &["xl/sharedStrings.xml", "inflates to 1.5 GiB", "zip bomb"],
        );
    }
    assert!(!env.results.exists());
    // A worksheet (read cell by cell, so allowed more) declaring 512 MiB from a few hundred
    // bytes: no sheet packs that tight.
    Book::fleet(2).write(&env.fleet);
    declare_size(&env.fleet, "xl/worksheets/sheet1.xml", 1 << 29);
    let out = bounded(env.check_cmd(&[]), "the sheet bomb", 1).await;
    assert_said(
        &out,
        &[
            "xl/worksheets/sheet1.xml",
            "inflates to 512.0 MiB",
            "more than 100 times",
        ],
    );
}

/// The same part declaring 100 bytes while it inflates to 2 MiB: the read stops at what it
/// declared, and the file is refused as damaged, never read past its word. (The zip reader the
/// workbook reader uses bounds each part by its declaration; this keeps that promise checked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_part_that_lies_about_its_size_is_read_no_further_than_declared() {
    let env = TestEnv::offline().run_in_dir().named("liar.xlsx");
    let mut book = Book::fleet(2);
    book.shared = Some(format!("<si><t>{}</t></si>", "y".repeat(2 << 20)));
    book.write(&env.fleet);
    declare_size(&env.fleet, "xl/sharedStrings.xml", 100);
    let out = bounded(env.check_cmd(&[]), "the liar", 1).await;
    assert_said(&out, &["liar.xlsx", "damaged"]);
}

/// `--sheet NOPE` on a workbook of 10,000 sheets: the message names the first ten and counts
/// the rest, in a few hundred bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_sheet_of_ten_thousand_lists_the_first_few_and_the_count() {
    let env = TestEnv::offline().run_in_dir().named("many.xlsx");
    let mut book = Book::fleet(1);
    book.sheets = (1..=10_000).map(|i| format!("Sheet number {i}")).collect();
    book.write(&env.fleet);
    let out = env.check(&["--sheet", "NOPE"]).await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &[
            "there is no sheet 'NOPE'",
            "10000 sheets",
            "'Sheet number 1'",
            "'Sheet number 10'",
            "and 9990 more",
        ],
    );
    let err = stderr(&out);
    assert!(!err.contains("Sheet number 11'"), "{err}");
    assert!(err.len() < 1024, "{} bytes:\n{err}", err.len());
}

// ---------------------------------------------------------------------------------------------
// 6. Files that never end: /dev/zero, a 2 GB tail of NUL bytes
// ---------------------------------------------------------------------------------------------

/// The account cache file of `env` after a pull (its name holds the server and the token's
/// fingerprint).
async fn pulled_cache(env: &TestEnv) -> PathBuf {
    let cache = env.path("cache");
    let base = env.base();
    let pull = [
        "account",
        "pull",
        "--cache",
        arg(&cache),
        "--base-url",
        &base,
    ];
    assert_exit(&env.bin(&pull).output().await, 0);
    let files: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// `account show` and `check --account` on the cache, watched; each must end in words.
async fn on_cache(env: &TestEnv, words: &[&str]) {
    let (cache, base) = (env.path("cache"), env.base());
    let (cache, fleet) = (arg(&cache), arg(&env.fleet));
    let show = ["account", "show", "--cache", cache, "--base-url", &base];
    let check = [
        "check",
        fleet,
        "--account",
        "--cache",
        cache,
        "--base-url",
        &base,
    ];
    for args in [&show[..], &check[..]] {
        let out = bounded(env.bin(args), &args[..2].join(" "), 1).await;
        assert_said(&out, words);
        plain::assert_plain_words(&args.join(" "), &stderr(&out));
    }
}

/// The account cache replaced by a link to `/dev/zero`, by a 2 GB file of NUL bytes, and by a
/// FIFO nobody writes to: `account show` and `check --account` end at once, in words, in
/// bounded memory.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_cache_that_never_ends_or_blocks_is_refused_at_once() {
    let env = in_dir_with(good_fleet(2)).await;
    let cache = pulled_cache(&env).await;
    std::fs::remove_file(&cache).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &cache).unwrap();
    on_cache(&env, &["account cache", "not a regular file"]).await;
    std::fs::remove_file(&cache).unwrap();
    sparse(&cache, b"{\"server\":", 2 << 30);
    on_cache(&env, &["account cache", "2.0 GiB, more than the 16.0 MiB"]).await;
    std::fs::remove_file(&cache).unwrap();
    mkfifo(&cache);
    on_cache(&env, &["account cache", "named pipe (FIFO)"]).await;
}

/// A fleet that is `/dev/zero`, or three good rows followed by 2 GB of NUL bytes: `check` and
/// `run` stop at the first row longer than any fleet's, in words, in bounded memory; the good
/// rows before it are sent and written.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_line_that_never_ends_stops_the_read_in_words() {
    let env = TestEnv::start_default().await.run_in_dir();
    let zero = Path::new("/dev/zero");
    let out = bounded(env.bin(&["check", arg(zero)]), "check /dev/zero", 1).await;
    assert_said(
        &out,
        &["cannot read /dev/zero", "a row longer than 4.0 MiB"],
    );

    let fleet = good_fleet(3);
    sparse(&env.fleet, fleet.as_bytes(), 2 << 30);
    let out = bounded(env.check_cmd(&[]), "check, NUL tail", 1).await;
    assert_said(&out, &["near line 5", "a row longer than 4.0 MiB"]);
    let out = bounded(
        env.run_cmd_at(&env.base(), &["--rate", "1000/s"]),
        "run, NUL tail",
        1,
    )
    .await;
    assert_said(&out, &["a row longer than 4.0 MiB"]);
    assert_eq!(count(&env.lines(), "registered"), 3, "the good rows ended");
}

/// A run history that is 2 GB of NUL bytes after its lines, or a link to `/dev/zero`: `report`
/// (text and HTML) ends quickly in bounded memory; the history shows what it can.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_that_never_ends_is_read_bounded() {
    let env = finished().await;
    let history = env.path("f.results.history.jsonl");
    let lines = std::fs::read(&history).unwrap();
    sparse(&history, &lines, 2 << 30);
    let html = env.path("r.html");
    for args in [vec![], vec!["--html", arg(&html)]] {
        let mut all = vec!["report", arg(&env.results)];
        all.extend(args);
        let out = bounded(env.bin(&all), "report, NUL tail", 0).await;
        if all.len() == 2 {
            let said = stdout(&out).contains("earlier runs are in the history file");
            assert!(said, "{}", stdout(&out));
        }
    }
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("earlier runs are in the history file"));
    std::fs::remove_file(&history).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &history).unwrap();
    bounded(
        env.bin(&["report", arg(&env.results)]),
        "report, /dev/zero history",
        0,
    )
    .await;
}

/// `sim --fixture` at `/dev/zero` or a 2 GB file: refused at once, in words.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_that_never_ends_is_refused_at_once() {
    let env = TestEnv::offline().run_in_dir();
    let huge = env.path("world.json");
    sparse(&huge, b"{\"plants\":", 2 << 30);
    for (fixture, words) in [
        (Path::new("/dev/zero"), "not a regular file"),
        (&huge, "more than the 128 MiB"),
    ] {
        let args = ["sim", "--listen", "127.0.0.1:0", "--fixture", arg(fixture)];
        // A fixture the simulator cannot use is a usage error, as a malformed one is.
        let out = bounded(env.bin(&args), "sim --fixture", 2).await;
        assert_said(&out, &["fixture file", words]);
    }
}

// ---------------------------------------------------------------------------------------------
// 7. FIFOs where a file should be
// ---------------------------------------------------------------------------------------------

/// `run -o FIFO` and `check -o FIFO`: refused at once, naming the FIFO; nothing is sent. A
/// summary and a run history that are FIFOs nobody reads: the run ends, its rows written, and
/// says it could not write them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_as_the_results_file_is_refused_at_once() {
    let env = in_dir_with(good_fleet(2)).await;
    let fifo = env.path("results.fifo");
    mkfifo(&fifo);
    for cmd in [
        env.run_cmd_at(&env.base(), &["-o", arg(&fifo)]),
        env.check_cmd(&["-o", arg(&fifo)]),
    ] {
        let out = bounded(cmd, "-o FIFO", 1).await;
        assert_said(
            &out,
            &["results.fifo", "named pipe (FIFO), not a regular file"],
        );
    }
    assert_eq!(env.sim().stats().requests, 0);

    for sidecar in ["f.results.summary.json", "f.results.history.jsonl"] {
        mkfifo(&env.path(sidecar));
    }
    let out = bounded(
        env.run_cmd_at(&env.base(), &["--rate", "1000/s"]),
        "FIFO sidecars",
        0,
    )
    .await;
    assert_said(
        &out,
        &[
            "cannot write the summary",
            "cannot append to the run history",
        ],
    );
    assert_eq!(count(&env.lines(), "registered"), 2);
}

/// A fleet given as a FIFO whose writer sends three rows and goes away: `run` and `check` read
/// the stream once (no second open waiting for a writer that is gone) and end every row.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_from_a_fifo_is_read_once() {
    let env = TestEnv::start_default().await.run_in_dir();
    let fifo = env.path("fleet.fifo");
    mkfifo(&fifo);
    let fleet = good_fleet(3);
    write_fifo(&fifo, &fleet);
    let out = bounded(env.bin(&["check", arg(&fifo)]), "check FIFO", 0).await;
    assert!(
        stdout(&out).contains("3 rows: 3 to send"),
        "{}",
        stdout(&out)
    );
    write_fifo(&fifo, &fleet);
    let run = [
        "run",
        arg(&fifo),
        "--base-url",
        &env.base(),
        "--rate",
        "1000/s",
    ];
    bounded(env.bin(&run), "run FIFO", 0).await;
    let results = env.path("fleet.results.csv");
    assert_eq!(count(&read_results(&results), "registered"), 3);
}
