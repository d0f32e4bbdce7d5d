//! The failure scenarios of the suites, run once more to read what they print: stderr (text and
//! JSON lines, `-vv` request traces included), the results and verify files, the summary, the
//! text report and the HTML page. None may show a Rust value's `Debug` shape, a bare `os error N`
//! or a library's internal names (see `common/plain.rs`).

mod common;
#[path = "common/plain.rs"]
mod plain;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::replay::{brotli, capture, Replay, Reply};
use common::{arg, run_bin, run_bin_env, write, TestEnv, DEFAULT_TOKEN};
use plain::assert_plain_words;

/// Everything a run printed.
fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file the tool wrote into `dir` (results, verify, summary, history, reports, caches).
fn written(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_none_or(|e| e != "xlsx") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

/// Shown with `--nocapture`, to read what a person reads.
fn check(what: &str, out: &Output) {
    let text = printed(out);
    eprintln!("--- {what}\n{text}");
    assert_plain_words(what, &text);
}

const FAST: [&str; 6] = [
    "--rate",
    "1000/s",
    "--backoff",
    "1ms",
    "--max-attempts",
    "2",
];

/// A server whose every answer to an add goes wrong in another way, chosen by the serial.
async fn broken_server() -> Replay {
    Replay::start(|r, _| {
        let ok = capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json");
        match r.param("sn") {
            // Brotli without the header that says so.
            "BINARY0001" => Reply::live(brotli(&ok)),
            "ZSTD000001" => Reply::live(ok).with_header("Content-Encoding", "zstd"),
            "BADBR00001" => {
                Reply::live(b"not brotli at all".to_vec()).with_header("Content-Encoding", "br")
            }
            "CUTOFF0001" => Reply::live(ok).cut_in_half(),
            "HTML502001" => {
                let mut r = Reply::live(b"<html><body>502 Bad Gateway</body></html>".to_vec());
                r.status = 502;
                r
            }
            "TRUNCJSON1" => Reply::live(br#"{"error_code":0"#.to_vec()),
            "SYSERR0001" => Reply::live(
                br#"{"error_msg":"system error","data":"","error_code":10001}"#.to_vec(),
            ),
            _ => Reply::live(ok),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_report_and_page_on_broken_answers_speak_in_words() {
    let srv = broken_server().await;
    let dir = tempfile::tempdir().unwrap();
    let sns = [
        "BINARY0001",
        "ZSTD000001",
        "BADBR00001",
        "CUTOFF0001",
        "HTML502001",
        "TRUNCJSON1",
        "SYSERR0001",
        "GOOD000001",
    ];
    let mut fleet = String::from("plant_id,sn,c_user_id\n");
    for sn in sns {
        fleet.push_str(&format!("42,{sn},7\n"));
    }
    let f = write(dir.path(), "f.csv", fleet);
    let base = srv.base_url();
    for extra in [&["-vv"][..], &["--log-format", "json", "-v"][..]] {
        let mut args = vec!["run", arg(&f), "--base-url", &base, "--no-progress"];
        args.extend_from_slice(&FAST);
        args.extend_from_slice(extra);
        args.push("--restart");
        let out = run_bin(&args).await;
        common::assert_exit(&out, 3);
        check("run on broken answers", &out);
    }
    let results = dir.path().join("f.results.csv");
    let html = dir.path().join("report.html");
    let out = run_bin(&[
        "report",
        results.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ])
    .await;
    check("report", &out);
    let out = run_bin(&["report", results.to_str().unwrap()]).await;
    check("report", &out);
    assert_plain_words("the files written", &written(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_silent_servers_speak_in_words() {
    let env = TestEnv::offline().with_fleet("plant_id,sn,c_user_id\n1,SN00000001,1\n");
    let (dir, f) = (env.dir(), &env.fleet);
    // Nothing listens on a port just freed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = format!("http://127.0.0.1:{port}");
    let mut args = vec!["run", f.to_str().unwrap(), "--base-url", &refused, "-vv"];
    args.extend_from_slice(&FAST);
    let out = run_bin(&args).await;
    check("run against a closed port", &out);
    let results = dir.join("f.results.csv");
    let out = run_bin(&["verify", results.to_str().unwrap(), "--base-url", &refused]).await;
    check("verify against a closed port", &out);

    // A server that reads the request and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut socks = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            socks.push(s);
        }
    });
    let base = format!("http://{addr}");
    let mut args = vec!["run", f.to_str().unwrap(), "--base-url", &base, "-vv"];
    args.extend_from_slice(&FAST);
    args.extend_from_slice(&["--timeout", "0.3", "--restart"]);
    let out = run_bin(&args).await;
    check("run against a silent server", &out);
    assert_plain_words("the files written", &written(dir));
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_listings_and_lookups_speak_in_words() {
    // Register two rows, then list against a server whose listing and lookup answers are broken.
    let dir = tempfile::tempdir().unwrap();
    let ok = Replay::start(|_, _| {
        Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json"))
    })
    .await;
    let f = write(
        dir.path(),
        "f.csv",
        "plant_id,sn,c_user_id\n42,SN00000001,7\n43,SN00000002,7\n",
    );
    let base = ok.base_url();
    let mut args = vec!["run", f.to_str().unwrap(), "--base-url", &base];
    args.extend_from_slice(&FAST);
    common::assert_exit(&run_bin(&args).await, 0);
    let results = dir.path().join("f.results.csv");

    let broken = Replay::start(|r, _| match (r.path.as_str(), r.param("plant_id")) {
        ("/v1/device/list", "42") => Reply::live(brotli(b"{}")),
        ("/v1/device/list", _) => Reply::live(capture(
            "device_list__live_empty_devices_count1__ha171361.json",
        )),
        _ => Reply::live(b"\x00\x01binary".to_vec()),
    })
    .await;
    let base = broken.base_url();
    for extra in [&[][..], &["--locate"][..], &["--log-format", "json"][..]] {
        let mut args = vec!["verify", results.to_str().unwrap(), "--base-url", &base];
        args.extend_from_slice(&FAST);
        args.extend_from_slice(extra);
        let out = run_bin(&args).await;
        check("verify on broken listings", &out);
    }
    // Listings that time out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut socks = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            socks.push(s);
        }
    });
    let mut args = vec!["verify", results.to_str().unwrap(), "--base-url", &base];
    args.extend_from_slice(&FAST);
    args.extend_from_slice(&["--timeout", "0.3"]);
    let out = run_bin(&args).await;
    assert!(
        printed(&out).contains("no answer within the time limit"),
        "{}",
        printed(&out)
    );
    check("verify on silent listings", &out);
    assert_plain_words("the files written", &written(dir.path()));
    held.abort();
}

/// `account CMD --cache CACHE --base-url BASE`.
async fn account(cmd: &str, cache: &std::path::Path, base: &str) -> std::process::Output {
    run_bin(&["account", cmd, "--cache", arg(cache), "--base-url", base]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pull_and_show_speak_in_words() {
    // A plant listing compressed without saying so: the pull fails, in words.
    let srv = Replay::start(|_, _| {
        Reply::live(brotli(&capture(
            "plant_list__two_plants__ANONYMISED_MOCK_hackathon_doc.json",
        )))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let base = srv.base_url();
    let pulled = account("pull", &cache, &base).await;
    common::assert_exit(&pulled, 1);
    // The cache now exists with no page pulled: `show` says so plainly.
    let out = account("show", &cache, &base).await;
    let text = printed(&out);
    assert!(text.contains("nothing pulled yet"), "{text}");
    assert!(!text.contains("never"), "{text}");
    check("account show of an unpulled cache", &out);
    assert!(
        printed(&pulled).contains("not text"),
        "{}",
        printed(&pulled)
    );
    check("account pull on a binary plant/list", &pulled);
    // `check --account` leaning on that cache.
    let f = write(
        dir.path(),
        "f.csv",
        "plant_id,sn,c_user_id\n42,SN00000001,7\n",
    );
    let out = run_bin(&[
        "check",
        f.to_str().unwrap(),
        "--account",
        "--cache",
        cache.to_str().unwrap(),
        "--base-url",
        &base,
    ])
    .await;
    check("check --account on an unpulled cache", &out);

    // A cache folder that is a file.
    let not_a_dir = write(dir.path(), "plain-file", "x");
    let out = account("pull", &not_a_dir, &base).await;
    common::assert_exit(&out, 1);
    check("account pull into a file", &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_cannot_be_read_or_written_speak_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope/fleet.csv");
    let missing = missing.to_str().unwrap();
    let f = write(
        dir.path(),
        "f.csv",
        "plant_id,sn,c_user_id\n1,SN00000001,1\n",
    );
    let token = ("GROWATT_TOKEN", Some(DEFAULT_TOKEN));
    let cases: Vec<Vec<String>> = vec![
        vec!["check".into(), missing.into()],
        vec![
            "run".into(),
            missing.into(),
            "--base-url".into(),
            "http://127.0.0.1:9".into(),
        ],
        vec!["report".into(), missing.into()],
        vec![
            "verify".into(),
            missing.into(),
            "--base-url".into(),
            "http://127.0.0.1:9".into(),
        ],
        vec![
            "run".into(),
            f.to_str().unwrap().into(),
            "-o".into(),
            f.join("r.csv").to_str().unwrap().into(),
            "--base-url".into(),
            "http://127.0.0.1:9".into(),
        ],
        vec![
            "run".into(),
            f.to_str().unwrap().into(),
            "--token-file".into(),
            missing.into(),
            "--base-url".into(),
            "http://127.0.0.1:9".into(),
        ],
        vec![
            "report".into(),
            f.to_str().unwrap().into(),
            "--html".into(),
            dir.path()
                .join("no/such/dir/r.html")
                .to_str()
                .unwrap()
                .into(),
        ],
        vec!["sim".into(), "--fixture".into(), missing.into()],
    ];
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tokio::time::timeout(Duration::from_secs(30), run_bin_env(&args, &[token]))
            .await
            .expect("ends");
        check(&args.join(" "), &out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_level_stops_speak_in_words() {
    let env =
        TestEnv::offline().with_fleet("plant_id,sn,c_user_id\n1,SN00000001,1\n1,SN00000002,1\n");
    let (dir, f) = (env.dir(), &env.fleet);
    let html = |status: u16, body: &str| {
        let mut r = Reply::live(body.as_bytes().to_vec());
        r.status = status;
        r
    };
    let cases: Vec<(&str, Reply)> = vec![
        ("a refused token", html(403, "<html>Forbidden</html>")),
        (
            "a legacy host",
            Reply::live(
                br#"{"error_msg":"Please use the new domain","data":"","error_code":-1}"#.to_vec(),
            ),
        ),
        (
            "a login page",
            Reply::live(b"<!DOCTYPE html><html data-name=\"login\"></html>".to_vec()),
        ),
        (
            "a redirect",
            html(302, "").with_header("Location", "http://127.0.0.1:9/elsewhere"),
        ),
        (
            "the token refused by the API",
            Reply::live(capture(
                "error__10011_permission_denied__hackathon_doc.json",
            )),
        ),
    ];
    for (what, reply) in cases {
        let srv = Replay::start(move |_, _| reply.clone()).await;
        let base = srv.base_url();
        let mut args = vec!["run", arg(f), "--base-url", &base, "--restart", "-vv"];
        args.extend_from_slice(&FAST);
        let out = run_bin(&args).await;
        check(what, &out);
    }
    assert_plain_words("the files written", &written(dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_input_corpus_speaks_in_words() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    assert!(files.len() > 30, "the corpus is there");
    for file in files {
        let out = run_bin(&["check", file.to_str().unwrap()]).await;
        check(&format!("check {}", file.display()), &out);
    }
}
