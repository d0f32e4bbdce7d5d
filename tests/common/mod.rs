//! Helpers shared by the integration tests: a simulator on an ephemeral loopback port, the real
//! binary run against it, and the results file read back.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

pub use growatt_sim::{self as sim, SimConfig, SimServer, DEFAULT_TOKEN};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_growatt-onboard");

/// Starts the simulator on 127.0.0.1:0.
pub async fn start_sim(cfg: SimConfig) -> SimServer {
    sim::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("simulator starts")
}

/// Writes `content` to `dir/name`.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Runs the binary with `args`, the simulator's token in GROWATT_TOKEN, and no terminal.
pub async fn run_bin(args: &[&str]) -> Output {
    run_bin_env(args, &[("GROWATT_TOKEN", Some(DEFAULT_TOKEN))]).await
}

/// Runs the binary with `args` and environment changes (`None` removes a variable).
pub async fn run_bin_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args).env_remove("GROWATT_TOKEN");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(std::process::Stdio::null());
    cmd.output().await.expect("the binary runs")
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

/// The results file as a list of column → value maps, checking the header.
pub fn read_results(path: &Path) -> Vec<HashMap<String, String>> {
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

/// The latest line per row number.
pub fn latest_by_row(lines: &[HashMap<String, String>]) -> HashMap<u64, HashMap<String, String>> {
    let mut m = HashMap::new();
    for l in lines {
        m.insert(l["row"].parse::<u64>().unwrap(), l.clone());
    }
    m
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

/// A fixture with `n` fresh devices (`DEV000001`…) on plant 1 / user 1, and the fleet CSV for
/// them, for tests that need more rows than the sample fixture has.
pub fn big_world(n: usize) -> (sim::Fixture, String) {
    let mut fleet = String::with_capacity(n * 24);
    fleet.push_str("plant_id,sn,c_user_id\n");
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let sn = format!("DEV{i:07}");
        fleet.push_str(&format!("1,{sn},1\n"));
        devices.push(sim::FixtureDevice { sn, online: true });
    }
    let fixture = sim::Fixture {
        plants: vec![sim::FixturePlant {
            plant_id: 1,
            c_user_ids: vec![1],
        }],
        devices,
        associated: vec![],
        account: Default::default(),
    };
    (fixture, fleet)
}

/// Runs `growatt-onboard run INPUT --base-url <the simulator>` with `extra` flags and the
/// simulator's token.
pub async fn run_against(sim: &SimServer, input: &Path, extra: &[&str]) -> Output {
    let base = sim.base_url();
    let mut args = vec!["run", input.to_str().unwrap(), "--base-url", &base];
    args.extend_from_slice(extra);
    run_bin(&args).await
}
