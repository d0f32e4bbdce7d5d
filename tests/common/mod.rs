//! The integration tests' harness. A [`TestEnv`] is one world: a temporary folder, a fleet file
//! and its results path, and the simulator (or another server) the runs talk to. [`Bin`] runs the
//! real binary with the simulator's token and no terminal, and never lets it hang a test;
//! [`Running`] is a run started in the background that dies with the test. The results lines, the
//! summary and the fixtures the tests share live here too, and [`hostile`] holds a scripted local
//! server for the cases the simulator will not play.
// Each test binary uses its own part of the harness; the rest would be dead code and unused
// re-exports and macros there.
#![allow(dead_code, unused_imports, unused_macros)]

mod bin;
pub mod book;
mod env;
pub mod hostile;
mod page;
pub mod replay;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

pub use bin::{
    finish, run_bin, run_bin_env, run_no_token, Bin, Ran, Running, Watched, BIN, RUN_LIMIT,
};
pub use env::TestEnv;
pub use growatt_sim::{self as sim, SimConfig, SimServer, DEFAULT_TOKEN};
pub use page::{answer, multipart, Page};

/// How long [`poll_until`] waits for its condition before the test fails.
pub const POLL_LIMIT: Duration = Duration::from_secs(30);

/// Every outcome a results line can have, in the summary's order.
pub const OUTCOMES: [&str; 7] = [
    "registered",
    "already_registered",
    "rejected",
    "failed",
    "invalid",
    "duplicate",
    "skipped",
];

/// One line of a results file: column → value.
pub type Line = HashMap<String, String>;

/// Starts the simulator on 127.0.0.1:0.
pub async fn start_sim(cfg: SimConfig) -> SimServer {
    sim::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("simulator starts")
}

/// A simulator configuration: the default with these fields changed, in one line
/// (`sim_config!(fail_rate: 0.4, seed: 11)`).
macro_rules! sim_config {
    ($($field:ident $(: $value:expr)?),* $(,)?) => {
        ::growatt_sim::SimConfig {
            $($field $(: $value)?,)*
            ..::growatt_sim::SimConfig::default()
        }
    };
}
pub(crate) use sim_config;

/// A simulator configuration that differs from the default in its world only.
pub fn with_fixture(fixture: sim::Fixture) -> SimConfig {
    SimConfig {
        fixture,
        ..SimConfig::default()
    }
}

/// A simulator configuration that takes `latency` to answer each request.
pub fn slow(latency: Duration) -> SimConfig {
    SimConfig {
        latency,
        ..SimConfig::default()
    }
}

/// Milliseconds, for short durations in tests.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `run INPUT --base-url <sim>` and `extra`, with the simulator's token: a run outside a
/// [`TestEnv`].
pub fn run_against(sim: &SimServer, input: &Path, extra: &[&str]) -> impl Future<Output = Output> {
    let base = sim.base_url();
    let mut args = vec!["run", arg(input), "--base-url", &base];
    args.extend_from_slice(extra);
    Bin::new(&args).output()
}

/// Writes `content` to `dir/name`.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Command-line words written as one string: `flags("--rate 500/s -q")`.
pub fn flags(words: &str) -> Vec<&str> {
    words.split_whitespace().collect()
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The exit code, with stdout and stderr in the panic message when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text of stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Text of stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that stderr holds every one of `words`, showing stderr when one is missing.
pub fn assert_said(out: &Output, words: &[&str]) {
    let err = stderr(out);
    for w in words {
        assert!(err.contains(w), "stderr lacks {w:?}:\n{err}");
    }
}

/// Asserts that stdout holds every one of `words`, showing stdout when one is missing; returns
/// stdout.
pub fn assert_printed(out: &Output, words: &[&str]) -> String {
    let text = stdout(out);
    for w in words {
        assert!(text.contains(w), "stdout lacks {w:?}:\n{text}");
    }
    text
}

/// The first line of `text` that holds `needle`; fails the test, showing `text`, when none does.
pub fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    let line = text.lines().find(|l| l.contains(needle));
    line.unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// The results file as a list of lines, checking the header.
pub fn read_results(path: &Path) -> Vec<Line> {
    let mut r = csv::Reader::from_path(path).expect("results file exists");
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        growatt_onboard::journal::COLUMNS.map(String::from).to_vec()
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Every line of the results file is whole: the file ends with a newline, and each record
/// parses with exactly the 11 columns of the header and a timestamp. Returns the data lines.
pub fn assert_whole_lines(path: &Path) -> Vec<Line> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.ends_with(b"\n"),
        "{} ends in a cut-off line: {:?}",
        path.display(),
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(200)..])
    );
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(&bytes[..]);
    for rec in r.records() {
        let rec = rec.expect("every results line parses");
        assert_eq!(rec.len(), 11, "{rec:?}");
        assert!(
            humantime::parse_rfc3339(&rec[10]).is_ok(),
            "finished_at of {rec:?}"
        );
    }
    read_results(path)
}

/// The whole (newline-ended) data lines of a results file, as text; none when it does not exist.
pub fn whole_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    whole.lines().skip(1).map(str::to_string).collect()
}

/// The latest line per row number.
pub fn latest_by_row(lines: &[Line]) -> HashMap<u64, Line> {
    let mut m = HashMap::new();
    for l in lines {
        m.insert(l["row"].parse::<u64>().unwrap(), l.clone());
    }
    m
}

/// The results lines keyed by serial (the latest line wins); none when there is no file.
pub fn lines_by_sn(path: &Path) -> HashMap<String, Line> {
    if !path.exists() {
        return HashMap::new();
    }
    let lines = read_results(path);
    lines.into_iter().map(|l| (l["sn"].clone(), l)).collect()
}

/// The lines with this outcome.
pub fn count(lines: &[Line], outcome: &str) -> usize {
    lines.iter().filter(|l| l["outcome"] == outcome).count()
}

/// Asserts the columns of a results line, written `column=value` and separated by spaces
/// (`"outcome=failed error_code="`); shows the whole line when one differs.
pub fn assert_line(l: &Line, want: &str) {
    for pair in want.split_whitespace() {
        let (column, value) = pair.split_once('=').expect("column=value");
        assert_eq!(l[column], value, "{column} of {l:?}");
    }
}

/// The summary JSON the tool writes beside `results`.
pub fn summary_of(results: &Path) -> serde_json::Value {
    let path = growatt_onboard::paths::Paths::of_results(results).summary;
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written")).unwrap()
}

/// Polls `cond` every few milliseconds until it holds; fails the test after [`POLL_LIMIT`].
pub async fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < POLL_LIMIT,
            "gave up waiting for {what} after {POLL_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A fleet CSV of `n` good rows for the built-in fixture's first plant, using serials that exist
/// in the fixture and are not yet associated.
pub fn good_fleet(n: usize) -> String {
    let f = sim::Fixture::builtin();
    let plant = &f.plants[0];
    let user = plant.c_user_ids[0];
    let mut out = String::from("plant_id,sn,c_user_id\n");
    let mut used = 0;
    for d in &f.devices {
        if f.associated.iter().any(|a| a.eq_ignore_ascii_case(&d.sn)) {
            continue;
        }
        out.push_str(&format!("{},{},{}\n", plant.plant_id, d.sn, user));
        used += 1;
        if used == n {
            break;
        }
    }
    assert_eq!(used, n, "the fixture has fewer than {n} free serials");
    out
}

/// An account of plant 1001 (users `owners`) and plant 1002 (user 503) holding `devices`, all
/// online; ELS0000001, one of them, is already associated, sitting on plant 1002 of user 503.
pub fn located_account(owners: &[u64], devices: &[String]) -> sim::Fixture {
    sim::Fixture {
        plants: vec![
            sim::FixturePlant {
                plant_id: 1001,
                c_user_ids: owners.to_vec(),
            },
            sim::FixturePlant {
                plant_id: 1002,
                c_user_ids: vec![503],
            },
        ],
        devices: online(devices.iter().cloned()),
        associated: vec!["ELS0000001".into()],
        account: sim::FixtureAccount {
            located: vec![sim::FixtureLocation {
                sn: "ELS0000001".into(),
                plant_id: 1002,
                user_id: 503,
            }],
            ..Default::default()
        },
    }
}

/// A fixture with `n` fresh devices (`DEV000001`…) on plant 1 / user 1, and the fleet CSV for
/// them, for tests that need more rows than the sample fixture has.
pub fn big_world(n: usize) -> (sim::Fixture, String) {
    let mut fleet = String::with_capacity(n * 24);
    fleet.push_str("plant_id,sn,c_user_id\n");
    let sns: Vec<String> = (0..n).map(|i| format!("DEV{i:07}")).collect();
    for sn in &sns {
        fleet.push_str(&format!("1,{sn},1\n"));
    }
    (plant_one(sns), fleet)
}

/// The devices `sns`, each online.
pub fn online(sns: impl IntoIterator<Item = String>) -> Vec<sim::FixtureDevice> {
    sns.into_iter()
        .map(|sn| sim::FixtureDevice { sn, online: true })
        .collect()
}

/// A world of plant 1 of user 1 holding the devices `sns`, each online, none associated yet.
pub fn plant_one(sns: impl IntoIterator<Item = String>) -> sim::Fixture {
    sim::Fixture {
        plants: vec![sim::FixturePlant {
            plant_id: 1,
            c_user_ids: vec![1],
        }],
        devices: online(sns),
        associated: vec![],
        account: Default::default(),
    }
}
