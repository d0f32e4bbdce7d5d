//! What the binary prints: plain progress lines without a terminal, JSON logs, quiet mode,
//! help with examples, completions and man pages.

mod common;

use common::*;

/// A world whose simulator takes 20 ms to answer, with a fleet of `fleet`.
async fn slow_world(fleet: impl AsRef<[u8]>) -> TestEnv {
    TestEnv::start(slow(ms(20))).await.with_fleet(fleet)
}

/// `run` of the world's fleet at `rate` in a shell on a pseudo-terminal, as a person at a
/// terminal would start it, with `before` ahead of it in the shell's command line; util-linux's
/// `script` (the `-e -c` flags, Linux's) makes the terminal. `.ci/run` runs the tests that use it
/// with `--ignored`, and there a missing `script` fails them.
#[cfg(target_os = "linux")]
async fn on_a_terminal(env: &TestEnv, before: &str, rate: &str) -> std::process::Output {
    assert!(
        std::path::Path::new("/usr/bin/script").exists(),
        "this test needs util-linux's script (Debian: apt-get install bsdutils)"
    );
    let (fleet, base) = (env.fleet.display(), env.base());
    let cmd = format!("{before}{BIN} run {fleet} --base-url {base} --rate {rate}");
    tokio::process::Command::new("/usr/bin/script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_progress_is_plain_lines_without_control_characters() {
    let env = slow_world(good_fleet(40)).await;
    let out = env
        .run(&flags("--rate 20/s --progress-interval 300ms"))
        .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" growatt-onboard: progress after"))
        .collect();
    for line in &lines {
        // Without a terminal, each line starts with its time, so runs appended to one log can be
        // told apart.
        let (stamp, _) = line.split_once(' ').unwrap();
        let stamped = humantime::parse_rfc3339(stamp).is_ok();
        assert!(stamped, "a timestamp first: {line}");
    }
    assert!(lines.len() >= 3, "a line every 300 ms over ~2 s: {err}");
    assert!(lines[0].contains("/40 rows ("), "{}", lines[0]);
    assert!(lines[0].contains("pace 20.00/s"), "{}", lines[0]);
    let plain = !err.chars().any(|c| c.is_control() && c != '\n');
    assert!(plain, "no control characters: {err:?}");
    assert!(stdout(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_never_hold_the_token() {
    let env = slow_world(format!("{}999999,NOSUCH1,1\nx,BAD,1\n", good_fleet(10))).await;
    let extra = "--rate 50/s --progress-interval 100ms --log-format json -vv";
    let out = env.run(&flags(extra)).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(!err.contains(DEFAULT_TOKEN));
    let mut events = std::collections::HashMap::<String, usize>::new();
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let event = v["event"].as_str().unwrap_or("").to_string();
        *events.entry(event).or_default() += 1;
    }
    assert_eq!(events.get("row"), Some(&12), "{events:?}");
    assert_eq!(events.get("summary"), Some(&1), "{events:?}");
    let summary: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(summary["outcomes"]["registered"], 10);
    assert_eq!(summary["exit_code"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_prints_only_the_summary_line() {
    let env = slow_world(good_fleet(5)).await;
    let out = env.run(&["--rate", "50/s", "-q"]).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("5 registered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_ends_with_examples() {
    for cmd in ["run", "check", "verify", "sim", "report", "account"] {
        let out = run_no_token(&[cmd, "--help"]).await;
        assert_exit(&out, 0);
        let text = stdout(&out);
        let tail = &text[text
            .rfind("Examples:")
            .unwrap_or_else(|| panic!("{cmd}: {text}"))..];
        let examples = tail.lines().filter(|l| l.contains("growatt-onboard"));
        assert!(examples.count() >= 2, "{cmd}: {tail}");
        // Examples never wrap mid-command in an 80-column terminal: long ones are split with `\`.
        for line in tail.lines() {
            let fits = line.chars().count() <= 80;
            assert!(fits, "{cmd}: too long for 80 columns: {line}");
        }
    }
    let out = run_no_token(&["completions", "--help"]).await;
    for line in stdout(&out).lines() {
        assert!(line.chars().count() <= 80, "completions: {line}");
    }
    // The input may be a spreadsheet, and the help says so.
    let flat = |t: String| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let top = flat(stdout(&run_no_token(&["--help"]).await));
    assert!(top.contains("CSV, .xlsx, .xls or .ods"), "{top}");
    let run = flat(stdout(&run_no_token(&["run", "--help"]).await));
    let input = &run[run.find("<INPUT>").unwrap()..];
    assert!(input.contains("CSV, .xlsx, .xls or .ods"), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_no_token(&["completions", shell]).await;
        assert_exit(&out, 0);
        let text = stdout(&out);
        let both = text.contains("verify") && text.contains("max-runtime");
        assert!(both, "{shell}");
    }
    let env = TestEnv::offline();
    assert_exit(&run_no_token(&["manpage", arg(env.dir())]).await, 0);
    let page = |name: &str| std::fs::read_to_string(env.path(name)).unwrap();
    let main = page("growatt-onboard.1");
    let roff = main.starts_with(".ie") || main.contains(".TH");
    assert!(roff, "roff: {}", &main[..80]);
    let run = page("growatt-onboard-run.1");
    assert!(run.contains("max\\-runtime"), "run page lists its options");
    for name in [
        "growatt-onboard.1",
        "growatt-onboard-run.1",
        "growatt-onboard-verify.1",
    ] {
        let text = page(name);
        let exit = text
            .find(".SH \"EXIT STATUS\"")
            .unwrap_or_else(|| panic!("{name}: no EXIT STATUS"));
        let env = text
            .find(".SH ENVIRONMENT")
            .unwrap_or_else(|| panic!("{name}: no ENVIRONMENT"));
        assert!(exit < env, "{name}");
        let exits = &text[exit..env];
        for code in ["0", "1", "2", "3", "4", "130"] {
            let listed = exits.contains(&format!("\\fB{code}\\fR"));
            assert!(listed, "{name}: exit {code}");
        }
        for var in [
            "GROWATT_TOKEN",
            "GROWATT_ONBOARD_LOG",
            "HTTPS_PROXY",
            "NO_PROXY",
        ] {
            assert!(text[env..].contains(var), "{name}: {var}");
        }
    }
    // man itself reads the page, sections and all, where it is installed.
    let man = std::process::Command::new("man").arg("--version").output();
    if man.is_ok() {
        let out = std::process::Command::new("man")
            .arg("-l")
            .arg(env.path("growatt-onboard.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let read = text.contains("EXIT STATUS") && text.contains("GROWATT_TOKEN");
        assert!(read, "{text}");
    }
}

/// `script` runs the binary on a pseudo-terminal, as a person at a terminal would.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs util-linux's script; .ci/run runs the ignored tests"]
async fn on_a_terminal_the_bar_shows_rows_and_counts() {
    let env = slow_world(good_fleet(30)).await;
    let out = on_a_terminal(&env, "COLUMNS=120 ", "20/s").await;
    assert_exit(&out, 0);
    // On a terminal stdout and stderr are one stream.
    let screen = stdout(&out);
    for shown in ["/30 rows", "registered", "pace 20.00/s", "30 rows in"] {
        assert!(screen.contains(shown), "the bar and summary: {screen:?}");
    }
    let plain = screen.contains("progress after");
    assert!(!plain, "no plain lines on a terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_cover_fatal_errors_and_bad_flag_values_are_usage_errors() {
    let env = TestEnv::offline().with_fleet("plant,serial\n1,A\n");
    let out = env
        .run_at("http://127.0.0.1:9", &["--log-format", "json"])
        .await;
    assert_exit(&out, 1);
    let line = stderr(&out);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
    assert_eq!(v["event"], "error");
    assert!(v["message"].as_str().unwrap().contains("missing column"));

    let good = env.write("g.csv", good_fleet(1));
    for (flag, value) in [
        ("--base-url", "nonsense"),
        ("--max-runtime", "500000000000y"),
        ("--throttle-pause", "500000000000y"),
    ] {
        let out = run_bin(&["run", arg(&good), flag, value]).await;
        assert_exit(&out, 2);
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eta_after_a_resume_counts_only_the_rows_still_to_send() {
    let env = TestEnv::big_world(260, SimConfig::default()).await;
    let fleet_text = std::fs::read_to_string(&env.fleet).unwrap();
    // A first run registers the first 200 rows; the second sends the 60 left at 10/s (6 s).
    let first: String = fleet_text
        .lines()
        .take(201)
        .map(|l| format!("{l}\n"))
        .collect();
    env.set_fleet(&first);
    let out = env.run(&["--rate", "1000/s", "--no-progress"]).await;
    assert_exit(&out, 0);
    env.set_fleet(&fleet_text);
    let out = env
        .run(&["--rate", "10/s", "--progress-interval", "500ms"])
        .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    let first_line = line_with(&err, "progress after");
    let skipped = first_line.contains("done earlier 200");
    assert!(skipped, "{first_line}");
    // Counting the 200 skipped rows as progress made this ETA 0:00; about 50 rows are left at
    // 10 rows a second.
    let eta = first_line
        .split("ETA ")
        .nth(1)
        .and_then(|t| t.split(';').next())
        .unwrap_or_else(|| panic!("no ETA: {first_line}"));
    let (m, s) = eta.split_once(':').unwrap();
    let secs = m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap();
    assert!((3..=8).contains(&secs), "ETA {secs} s: {first_line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_is_not_32_characters_draws_a_warning_first() {
    let env = slow_world(good_fleet(2)).await;
    let short = "0123456789abcdef0123456789abcde";
    let out = env.run_cmd_at(&env.base(), &[]).token(Some(short));
    let out = out.output().await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    let first = err.lines().next().unwrap_or_default();
    let warned = first
        .contains("warning: the token is 31 characters, but ShineServer's OpenAPI tokens have 32");
    assert!(warned, "{err}");
    assert!(!err.contains(short), "never the token: {err}");
    // The right length draws none.
    let out = env.run(&[]).await;
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_carry_no_programmer_text() {
    let env = slow_world(format!("{}999999,NOSUCH1,1\n", good_fleet(2))).await;
    let out = env.run(&["--rate", "50/s", "-vv"]).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains(": attempt 1: HTTP 200, code 0 in "), "{err}");
    let code = err.contains("code 10004 (") || err.contains("code 10002 (");
    assert!(code, "{err}");
    let programmer = err.contains("Envelope {") || err.contains("http_status:");
    assert!(!programmer, "{err}");
    // A missing file, a folder that cannot hold the report: said in words.
    let missing = env.path("nope.csv");
    let out = run_no_token(&["check", arg(&missing)]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["no such file or folder"]);
    let html = env.path("no/such/dir/r.html");
    let out = run_no_token(&["report", arg(&env.results), "--html", arg(&html)]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["no such file or folder"]);
    // What follows the page's own name (the test's folder is a .tmp one itself).
    let err = stderr(&out);
    let said = err.split("r.html").nth(1).unwrap_or_default();
    for programmer in ["os error", ".tmp", "at path"] {
        assert!(!said.contains(programmer), "{programmer}: {err}");
    }
}

/// Text as a terminal shows it, line by line: escape sequences dropped, split at line ends and
/// carriage returns (each redraw starts a line over).
#[cfg(target_os = "linux")]
fn screen_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain.split(['\n', '\r']).map(str::to_string).collect()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs util-linux's script; .ci/run runs the ignored tests"]
async fn on_a_narrow_terminal_the_bar_never_wraps() {
    // A first run on half the fleet, so the second shows rows done earlier too: a long second line.
    let full = good_fleet(40);
    let half: String = full.lines().take(21).map(|l| format!("{l}\n")).collect();
    let env = slow_world(format!("{half}x,BAD1,1\n")).await;
    assert_exit(&env.run(&["--rate", "500/s", "--no-progress"]).await, 3);
    env.set_fleet(format!("{full}x,BAD1,1\n"));
    let out = on_a_terminal(&env, "stty cols 60 rows 24; exec ", "10/s").await;
    assert_exit(&out, 3);
    let screen = stdout(&out);
    assert!(screen.contains("done earlier 20"), "{screen:?}");
    // Each frame of the bar is two rows of the 60-column screen: the first padded to the width,
    // then the counts. The second must leave room for the `^C` a terminal echoes after it, or a
    // Ctrl-C wraps it and leaves a stale line behind.
    let frames: Vec<String> = screen_lines(&screen)
        .into_iter()
        .filter(|l| l.contains("rows, ETA"))
        .map(|l| {
            // A frame starts at its spinner, the character before ` [elapsed]`; a notice printed
            // above the bar may precede it in the same stretch of output.
            let at = l.find(" [").unwrap();
            let start = l[..at].char_indices().last().map_or(0, |(i, _)| i);
            l[start..].to_string()
        })
        .collect();
    assert!(frames.len() >= 3, "{screen:?}");
    for frame in &frames {
        let second: String = frame.chars().skip(60).collect();
        let second = second.trim_end();
        assert!(
            second.chars().count() <= 58,
            "the counts line is {} columns on a 60-column terminal: {second:?}",
            second.chars().count()
        );
    }
}
