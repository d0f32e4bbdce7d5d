//! The binary against broken and hostile servers: HTML error pages, truncated, endless and huge
//! bodies, silence, resets, codes as strings, formula-like messages, token echoes, account-level
//! stops, ambiguous timeouts and 429/408 (redirects are in `hostile_redirect.rs`). The servers
//! are the harness's scripted ones ([`common::hostile`]), each told here how to answer.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::hostile::*;
use common::*;

/// A world for a run against a scripted server: a fleet of these serials, all on plant 1 / user
/// 1 (row N+2 is `sns[N]`), and [`TOKEN`] for the runs.
fn world(sns: &[&str]) -> TestEnv {
    let mut text = String::from("plant_id,sn,c_user_id\n");
    for sn in sns {
        text.push_str(&format!("1,{sn},1\n"));
    }
    TestEnv::offline().with_token(TOKEN).with_fleet(text)
}

/// A [`world`] of `n` serials `DEV00000`… .
fn world_of(n: usize) -> TestEnv {
    let sns: Vec<String> = (0..n).map(|i| format!("DEV{i:05}")).collect();
    world(&sns.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The world's fleet run against `srv` with a fast pace, 1 ms backoff, 3 attempts, `timeout`
/// seconds and `extra`: what it printed and how long it took.
async fn run_tool(env: &TestEnv, srv: &Hostile, timeout: &str, extra: &[&str]) -> Ran {
    let mut args = flags("--rate 1000/s --backoff 1ms --max-attempts 3 --no-progress --timeout");
    args.push(timeout);
    args.extend_from_slice(extra);
    env.run_cmd_at(&srv.base_url(), &args).timed(false).await
}

/// A fleet of `sns` run against `srv` as [`run_tool`] does, in a world of its own.
async fn run_on(srv: &Hostile, sns: &[&str], timeout: &str, extra: &[&str]) -> (TestEnv, Ran) {
    let env = world(sns);
    let ran = run_tool(&env, srv, timeout, extra).await;
    (env, ran)
}

/// The world's results lines, keyed by serial (latest line wins); none without a file.
fn by_sn(env: &TestEnv) -> HashMap<String, Line> {
    lines_by_sn(&env.results)
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_502_is_retried_then_failed() {
    let srv = Hostile::start(|_| html(502, NGINX_502)).await;
    let (env, ran) = run_on(&srv, &["HTML1", "HTML2"], "1", &[]).await;
    assert_exit(&ran.out, 3);
    assert!(stdout(&ran.out).is_empty());
    let lines = env.lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_line(l, "outcome=failed attempts=3 error_code= http_status=502");
        assert!(l["error_msg"].contains("HTML"), "{l:?}");
        assert!(l["error_msg"].contains("gave up after 3 attempts"), "{l:?}");
    }
    assert_eq!(srv.requests(), 6);
    assert!(srv.per_sn().values().all(|n| *n == 3));
    srv.assert_requests_proper();
    let s = env.summary();
    assert_eq!(s["outcomes"]["failed"], 2);
    assert_eq!(s["requests"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_is_retried_then_failed() {
    let srv = Hostile::start(|r| match r.sn() {
        // A whole HTTP answer whose JSON stops short.
        "TRUNC1" => json(200, r#"{"error_code":0"#),
        // The body announced as longer than what is sent before the connection closes.
        _ => Act::Send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{\"error_code\":0".to_vec(),
        ),
    })
    .await;
    let (env, ran) = run_on(&srv, &["TRUNC1", "CUTOFF1"], "1", &[]).await;
    assert_exit(&ran.out, 3);
    let by_sn = by_sn(&env);
    let t = &by_sn["TRUNC1"];
    assert_line(t, "outcome=failed attempts=3 error_code= http_status=200");
    let envelope = t["error_msg"].contains("not the API's JSON envelope");
    assert!(envelope, "{t:?}");
    let c = &by_sn["CUTOFF1"];
    assert_line(c, "outcome=failed attempts=3 error_code=");
    assert!(c["error_msg"].contains("gave up after 3 attempts"), "{c:?}");
    assert_eq!(srv.per_sn()["TRUNC1"], 3);
    assert_eq!(srv.per_sn()["CUTOFF1"], 3);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_and_huge_bodies_are_cut_at_64_kib_with_memory_bounded() {
    const HUGE: usize = 50 * 1024 * 1024;
    let srv = Hostile::start(|r| {
        if r.sn().starts_with("ENDLESS") {
            Act::Endless
        } else {
            Act::Huge(HUGE)
        }
    })
    .await;
    let sns = [
        "ENDLESS1", "ENDLESS2", "ENDLESS3", "HUGE1", "HUGE2", "HUGE3",
    ];
    let env = world(&sns);
    let args = flags("--rate 1000/s --backoff 1ms --timeout 1 --max-attempts 3 --no-progress");
    let ran = env.run_cmd_at(&srv.base_url(), &args).timed(true).await;
    assert_exit(&ran.out, 3);
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), sns.len());
    for sn in sns {
        let l = &by_sn[sn];
        assert_line(l, "outcome=failed attempts=3 error_code= http_status=200");
        assert!(l["error_msg"].contains("over 64 KiB"), "{l:?}");
    }
    assert_eq!(srv.requests(), 18);
    srv.assert_requests_proper();
    // Each attempt ended on the size, not the 1 s time limit: 18 attempts, 4 at a time, would take
    // at least 5 s if they had waited for it.
    assert!(ran.elapsed < Duration::from_secs(4), "{:?}", ran.elapsed);
    // The client stopped reading: no streamed answer got anywhere near its end (what was written is
    // what the kernel's socket buffers took).
    let streamed = srv.streamed();
    assert_eq!(streamed.len(), 18);
    for n in &streamed {
        assert!(*n < HUGE as u64 / 2, "a streamed answer got {n} bytes out");
    }
    match ran.peak_rss_kib {
        Some(kib) => {
            eprintln!("peak RSS of the run: {kib} KiB");
            assert!(kib < 200 * 1024, "peak RSS {kib} KiB");
        }
        None => eprintln!("note: the run ended before its memory could be sampled"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_fails() {
    // Reads the request, then silence.
    let srv = Hostile::start(|_| Act::Silent(CONN_LIFETIME)).await;
    let (env, ran) = run_on(&srv, &["SILENT1", "SILENT2"], "0.5", &[]).await;
    assert_exit(&ran.out, 3);
    // Three attempts of 0.5 s, the two rows side by side.
    let took = ran.elapsed;
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    let lines = env.lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_line(l, "outcome=failed attempts=3 error_code= http_status=");
        let said = l["error_msg"].contains("no answer within the time limit");
        assert!(said, "{l:?}");
    }
    assert_eq!(srv.requests(), 6);
    srv.assert_requests_proper();

    // Accepts the connection, never even reads the request.
    let mute = Hostile::mute().await;
    let (env, ran) = run_on(&mute, &["MUTE1"], "0.5", &[]).await;
    assert_exit(&ran.out, 3);
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    let l = &env.lines()[0];
    assert_line(l, "outcome=failed attempts=3");
    let said = l["error_msg"].contains("no answer within the time limit");
    assert!(said, "{l:?}");
    assert_eq!(mute.accepted(), 3, "one connection per attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_retried_then_failed() {
    let srv = Hostile::start(|r| match r.sn() {
        "RESET1" | "RESET2" => Act::Reset,
        // Closed cleanly without a word.
        _ => Act::Send(Vec::new()),
    })
    .await;
    let (env, ran) = run_on(&srv, &["RESET1", "RESET2", "CLOSED1"], "1", &[]).await;
    assert_exit(&ran.out, 3);
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), 3);
    for (sn, l) in &by_sn {
        assert_line(l, "outcome=failed attempts=3 error_code= http_status=");
        let said = l["error_msg"].to_lowercase().contains("connection");
        assert!(said, "{sn}: {l:?}");
        assert_eq!(srv.per_sn()[sn], 3, "{sn}");
    }
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_codes_as_strings_are_understood() {
    let srv = Hostile::start(|r| match r.sn() {
        "STRZERO" => json(200, r#"{"error_code":"0","error_msg":""}"#),
        _ => json(
            200,
            r#"{"data":null,"error_code":"10003","error_msg":"device already exists"}"#,
        ),
    })
    .await;
    let (env, ran) = run_on(&srv, &["STRZERO", "STRDUP"], "1", &[]).await;
    assert_exit(&ran.out, 0);
    let by_sn = by_sn(&env);
    let z = &by_sn["STRZERO"];
    assert_line(
        z,
        "outcome=registered error_code=0 attempts=1 http_status=200",
    );
    let d = &by_sn["STRDUP"];
    assert_line(d, "outcome=already_registered error_code=10003 attempts=1");
    assert_eq!(d["error_msg"], "device already exists");
    assert_eq!(srv.requests(), 2);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_like_messages_are_neutralised_and_kept_on_one_line() {
    let messages: Vec<(&str, &str)> = vec![
        ("FORM1", r#"=HYPERLINK("http://x","y")"#),
        ("FORM2", "+cmd|' /C calc'!A0"),
        ("FORM3", "@SUM(A1)"),
        ("FORM4", "-2+3"),
        ("FORM5", "\t=1+1"),
        ("FORM6", "\r=1+1"),
        ("LINES1", "line one\nline two\r\n=line three, \"quoted\""),
    ];
    let table: HashMap<String, String> = messages
        .iter()
        .map(|(s, m)| (s.to_string(), m.to_string()))
        .collect();
    let srv = Hostile::start(move |r| envelope(10004, &table[r.sn()])).await;
    let sns: Vec<&str> = messages.iter().map(|(s, _)| *s).collect();
    let (env, ran) = run_on(&srv, &sns, "1", &[]).await;
    assert_exit(&ran.out, 3);
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), messages.len());
    for (sn, msg) in &messages {
        let l = &by_sn[*sn];
        assert_line(l, "outcome=rejected error_code=10004 attempts=1");
        let cell = &l["error_msg"];
        assert!(!cell.contains(['\n', '\r', '\t']), "{sn}: {cell:?}");
        let flat: String = msg
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if sn.starts_with("FORM") {
            assert!(cell.starts_with('\''), "{sn}: {cell:?}");
            assert_eq!(cell[1..], flat, "{sn}");
        } else {
            assert_eq!(*cell, flat, "{sn}");
        }
    }
    // One physical line per record.
    let text = std::fs::read_to_string(&env.results).unwrap();
    assert_eq!(text.lines().count(), 1 + messages.len(), "{text}");
    assert_eq!(srv.requests(), messages.len());
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_token_appears_nowhere() {
    let second = Hostile::start(|_| envelope(0, "")).await;
    let echo_target = format!("http://{}/v1/device/sn/add?token={TOKEN}", second.addr);
    let srv = Hostile::start(move |r| match r.sn() {
        // In the API's own message.
        "ECHO1" => envelope(10004, &format!("token {TOKEN} has no access to plant 1")),
        // In an HTML error page, placed across the point where a quoted body is cut short, and
        // in headers.
        "ECHO2" => Act::Send(http(
            502,
            &[("Content-Type", "text/html"), ("X-Echo", TOKEN)],
            format!("<html><body>bad token {TOKEN}</body></html>").as_bytes(),
        )),
        // As the error_code, where the tool quotes the value it could not read.
        "ECHO3" => json(200, &format!(r#"{{"error_code":"denied for {TOKEN}"}}"#)),
        // In a retryable answer's message, which the failed line repeats.
        "ECHO4" => envelope(10001, &format!("system error for {TOKEN}")),
        // In a 500 with plain text at the very start of the body.
        "ECHO5" => Act::Send(http(
            500,
            &[("Content-Type", "text/plain")],
            format!("{TOKEN} is not allowed here").as_bytes(),
        )),
        // In a redirect's Location.
        _ => Act::Send(http(302, &[("Location", echo_target.as_str())], b"")),
    })
    .await;
    let sns = ["ECHO1", "ECHO2", "ECHO3", "ECHO4", "ECHO5", "ECHO6"];
    let env = world(&sns);
    for (i, verbosity) in [None, Some("-v"), Some("-vv")].into_iter().enumerate() {
        let out = env.path(&format!("r{i}.csv"));
        let mut extra = vec!["-o", arg(&out)];
        extra.extend(verbosity);
        let ran = run_tool(&env, &srv, "1", &extra).await;
        assert_exit(&ran.out, 3);
        let what = format!("run with {verbosity:?}");
        assert_no_token(&format!("stdout of the {what}"), &stdout(&ran.out));
        assert_no_token(&format!("stderr of the {what}"), &stderr(&ran.out));
        let results = std::fs::read_to_string(&out).unwrap();
        assert_no_token(&format!("results of the {what}"), &results);
        let summary = std::fs::read_to_string(env.path(&format!("r{i}.summary.json")))
            .expect("the summary is written");
        assert_no_token(&format!("summary of the {what}"), &summary);
        if verbosity.is_some() {
            let listed = stderr(&ran.out).contains("ECHO1");
            assert!(listed, "verbose output lists rows");
        }
        let by_sn = lines_by_sn(&out);
        assert_eq!(by_sn.len(), sns.len());
        assert_eq!(by_sn["ECHO1"]["outcome"], "rejected");
        assert!(by_sn["ECHO1"]["error_msg"].contains("[token]"));
        assert_eq!(by_sn["ECHO4"]["outcome"], "failed");
        assert!(by_sn["ECHO4"]["error_msg"].contains("[token]"));
        for sn in ["ECHO2", "ECHO3", "ECHO5", "ECHO6"] {
            assert_eq!(by_sn[sn]["outcome"], "failed", "{:?}", by_sn[sn]);
        }
    }
    // Nothing anywhere in the folder (results, summaries, lock files) holds it either.
    assert_no_token_in_files(env.dir());
    srv.assert_requests_proper();
    // 1 + 3 + 3 + 3 + 3 + 3 requests per run.
    assert_eq!(srv.requests(), 3 * 16);
    assert_eq!(second.requests(), 0, "the redirect was not followed");
}

/// No file in `dir` holds a piece of the token.
fn assert_no_token_in_files(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert_no_token(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_stops_at_once_and_the_rows_stay_for_the_next_run() {
    let srv = Hostile::start(|_| envelope(-1, "domain error")).await;
    let env = world_of(200);
    let ran = run_tool(&env, &srv, "1", &["--concurrency", "4"]).await;
    assert_exit(&ran.out, 1);
    assert_said(&ran.out, &["--region"]);
    assert!(by_sn(&env).is_empty(), "no row ended");
    let n = srv.requests();
    assert!((1..=8).contains(&n), "{n} requests for a -1 answer");
    srv.assert_requests_proper();
    assert_eq!(env.summary()["exit_code"], 1);

    // The next run, on the right server, sends every row once.
    let good = Hostile::start(|_| envelope(0, "")).await;
    let ran = run_tool(&env, &good, "1", &[]).await;
    assert_exit(&ran.out, 0);
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), 200);
    assert!(by_sn.values().all(|l| l["outcome"] == "registered"));
    assert_eq!(good.requests(), 200);
    assert!(good.per_sn().values().all(|n| *n == 1));
}

/// Runs a 200-row fleet against `srv` and checks the run stopped on a refused token.
async fn assert_stopped_for_the_token(srv: &Hostile) {
    let env = world_of(200);
    let ran = run_tool(&env, srv, "1", &["--concurrency", "4"]).await;
    assert_exit(&ran.out, 1);
    assert_said(&ran.out, &["token", "GROWATT_TOKEN"]);
    let err = stderr(&ran.out);
    let said = err.matches("refused the token").count();
    assert_eq!(said, 1, "said once: {err}");
    assert_no_token("stderr", &err);
    let n = srv.requests();
    eprintln!("{n} requests before the stop");
    assert!((5..=9).contains(&n), "{n} requests before the stop");
    srv.assert_requests_proper();
    // No row has a line: the denials were the token's fault, not the rows', so the next run
    // sends every one of them again; nor have the ~190 never sent.
    let by_sn = by_sn(&env);
    assert!(by_sn.is_empty(), "{n} requests, lines: {by_sn:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_run_after_about_five_answers() {
    let srv = Hostile::start(|_| envelope(10011, "error_permission_denied")).await;
    assert_stopped_for_the_token(&srv).await;

    let srv = Hostile::start(|_| {
        let headers = [
            ("Content-Type", "text/plain"),
            ("WWW-Authenticate", "Token"),
        ];
        Act::Send(http(401, &headers, b"Unauthorized"))
    })
    .await;
    assert_stopped_for_the_token(&srv).await;

    let srv =
        Hostile::start(|_| html(403, "<html><body><h1>403 Forbidden</h1></body></html>")).await;
    assert_stopped_for_the_token(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_after_good_answers_do_not_stop_the_run() {
    let srv = Hostile::start(|r| {
        if r.n < 10 {
            envelope(0, "")
        } else {
            envelope(10011, "error_permission_denied")
        }
    })
    .await;
    let env = world_of(30);
    let ran = run_tool(&env, &srv, "1", &[]).await;
    assert_exit(&ran.out, 3);
    let err = stderr(&ran.out);
    assert!(!err.contains("refused the token"), "{err}");
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), 30);
    let registered: HashSet<String> = srv
        .reqs()
        .into_iter()
        .filter(|r| r.n < 10)
        .map(|r| r.sn().to_string())
        .collect();
    assert_eq!(registered.len(), 10);
    for (sn, l) in &by_sn {
        assert_eq!(l["attempts"], "1");
        if registered.contains(sn) {
            assert_eq!(l["outcome"], "registered", "{l:?}");
        } else {
            assert_line(l, "outcome=rejected error_code=10011");
        }
    }
    assert_eq!(srv.requests(), 30);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_add_confirmed_by_10003_is_already_registered() {
    let added: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = Hostile::start(move |r| {
        let first = added.lock().unwrap().insert(r.sn().to_string());
        match (r.sn(), first) {
            // The add is recorded, but the answer comes long after the client gave up.
            ("AMBIG1", true) => Act::Silent(Duration::from_secs(3)),
            (_, true) => envelope(0, ""),
            (_, false) => envelope(10003, "device already exists"),
        }
    })
    .await;
    let (env, ran) = run_on(&srv, &["AMBIG1", "PLAIN1"], "0.5", &[]).await;
    assert_exit(&ran.out, 0);
    let by_sn = by_sn(&env);
    let a = &by_sn["AMBIG1"];
    let want = "outcome=already_registered error_code=10003 attempts=2 http_status=200";
    assert_line(a, want);
    let said = a["error_msg"].contains("confirmed after a timed-out attempt");
    assert!(said, "{a:?}");
    assert_line(&by_sn["PLAIN1"], "outcome=registered attempts=1");
    assert_eq!(srv.per_sn()["AMBIG1"], 2);
    assert_eq!(srv.per_sn()["PLAIN1"], 1);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_and_408_are_retried() {
    let srv = Hostile::start(|r| match (r.sn(), r.seen_sn) {
        ("R429", 0) => Act::Send(http(
            429,
            &[("Content-Type", "text/plain"), ("Retry-After", "1")],
            b"Too Many Requests",
        )),
        ("R408", 0) => html(408, "<html><body>Request Timeout</body></html>"),
        _ => envelope(0, ""),
    })
    .await;
    let (env, ran) = run_on(&srv, &["R429", "R408"], "1", &[]).await;
    assert_exit(&ran.out, 0);
    // Retried after the 1 ms backoff, not after a throttle pause.
    assert!(ran.elapsed < Duration::from_secs(10), "{:?}", ran.elapsed);
    let by_sn = by_sn(&env);
    for sn in ["R429", "R408"] {
        let want = "outcome=registered error_code=0 attempts=2 http_status=200";
        assert_line(&by_sn[sn], want);
        assert_eq!(srv.per_sn()[sn], 2);
    }
    assert_eq!(env.summary()["throttle_pauses"], 0);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_carrying_an_envelope_are_retried_not_believed() {
    // A proxy's 5xx can carry any JSON: neither its 0 nor its 10002 is the API's word.
    let srv = Hostile::start(|r| match (r.sn(), r.seen_sn) {
        ("P502", 0) => json(502, r#"{"error_code":0,"error_msg":""}"#),
        ("P503", 0) => json(
            503,
            r#"{"error_code":10002,"error_msg":"Service Unavailable"}"#,
        ),
        ("P503", 1) => json(503, r#"{"error_code":10003,"error_msg":"busy"}"#),
        _ => envelope(0, ""),
    })
    .await;
    let (env, ran) = run_on(&srv, &["P502", "P503"], "1", &[]).await;
    assert_exit(&ran.out, 0);
    let by_sn = by_sn(&env);
    assert_line(
        &by_sn["P502"],
        "outcome=registered attempts=2 http_status=200",
    );
    assert_line(&by_sn["P503"], "outcome=registered attempts=3");
    for (sn, requests) in [("P502", 2), ("P503", 3)] {
        assert_eq!(srv.per_sn()[sn], requests, "{sn}");
    }
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_row_keeps_the_last_code_the_api_answered() {
    // 10001, 10001, then silence: the row failed, and the API did answer 10001.
    let srv = Hostile::start(|r| match r.seen_sn {
        0 | 1 => envelope(10001, "system error"),
        _ => Act::Silent(Duration::from_secs(5)),
    })
    .await;
    let (env, ran) = run_on(&srv, &["LAST1"], "0.5", &[]).await;
    assert_exit(&ran.out, 3);
    let l = &by_sn(&env)["LAST1"];
    assert_line(l, "outcome=failed attempts=3 error_code=10001");
    assert!(l["error_msg"].contains("no answer within the time limit"));
}

/// The server's message and the input's cells carry terminal escapes (window title, clear
/// screen, OSC 52 clipboard), CR and LF and a forged summary line: at `-v`, and in `verify`'s
/// notice at default verbosity, every control character is shown escaped, never acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_cells_cannot_drive_the_terminal_or_forge_a_line() {
    const EVIL: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\rgrowatt-onboard: 1 rows in 0s: 1 registered\n\u{1b}]52;c;cm0gLXJmIH4=\u{7}";
    let srv = Hostile::start(|r| {
        if r.path.starts_with("/v1/device/list") {
            envelope(10004, EVIL)
        } else if r.sn() == "GOOD1" {
            envelope(0, "")
        } else {
            envelope(10004, EVIL)
        }
    })
    .await;
    let env = TestEnv::offline()
        .with_token(TOKEN)
        .with_fleet("plant_id,sn,c_user_id\n1,EVIL1,1\n1,GOOD1,1\n1,\"\u{1b}[2J\rBAD\",1\n");
    let ran = run_tool(&env, &srv, "1", &["-v"]).await;
    assert_exit(&ran.out, 3);
    let verify = ["verify", arg(&env.results), "--base-url", &srv.base_url()];
    let verify = env.bin(&verify).output().await;
    for (what, err) in [("run -v", stderr(&ran.out)), ("verify", stderr(&verify))] {
        assert!(err.contains("owned"), "{what} shows the message: {err}");
        let raw: Vec<char> = err
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        let shown = format!("{what} printed control characters {raw:?}: {err:?}");
        assert!(raw.is_empty(), "{shown}");
        let forged = err
            .lines()
            .any(|l| l.starts_with("growatt-onboard: 1 rows"));
        assert!(!forged, "{what}: a forged summary line: {err}");
    }
}

/// Pieces of the token echoed back: a 16-character prefix, the token wrapped over two lines, one
/// character of it `\u`-escaped in a body that is not JSON. No 8 characters of it in a row
/// reach the results, the summary, the log or the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_of_an_echoed_token_appear_nowhere() {
    let srv = Hostile::start(|r| match r.sn() {
        "PIECE1" => envelope(10004, &format!("token {}... is not valid", &TOKEN[..16])),
        "PIECE2" => html(
            500,
            &format!("<pre>token={}\n{}</pre>", &TOKEN[..20], &TOKEN[20..]),
        ),
        "PIECE3" => Act::Send(http(
            500,
            &[("Content-Type", "text/plain")],
            format!(
                "bad {}\\u00{:x}{}",
                &TOKEN[..12],
                TOKEN.as_bytes()[12],
                &TOKEN[13..]
            )
            .as_bytes(),
        )),
        _ => envelope(10004, &format!("{} expired", TOKEN.to_lowercase())),
    })
    .await;
    let sns = ["PIECE1", "PIECE2", "PIECE3", "PIECE4"];
    let (env, ran) = run_on(&srv, &sns, "1", &["-vv"]).await;
    assert_exit(&ran.out, 3);
    assert_no_token("stderr", &stderr(&ran.out));
    assert_no_token("report", &stdout(&env.report(&[]).await));
    assert_no_token_in_files(env.dir());
    let by_sn = by_sn(&env);
    assert_eq!(by_sn.len(), 4);
    let piece1 = &by_sn["PIECE1"];
    assert!(piece1["error_msg"].contains("[token]"), "{piece1:?}");
}
