//! `verify` and `verify --locate` against a hostile world: a signal mid-verify, plant cells with
//! leading zeros, and an earlier answer stamped in the future by a clock that was ahead.

mod common;

use std::time::Duration;

use common::*;

/// Plants 1001 and 1002 (user 501, 503); DEV0000001 free and online; ELS0000001 already
/// associated, sitting on plant 1002 of user 503.
fn located_world() -> sim::Fixture {
    located_account(&[501], &["DEV0000001".into(), "ELS0000001".into()])
}

/// A results file whose rows (`plant,sn` pairs) all ended `registered`.
fn registered(rows: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n",
    );
    for (i, (plant, sn)) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{},{plant},{sn},501,registered,0,,1,200,5,2026-11-25T00:00:00.000Z\n",
            i + 2
        ));
    }
    text
}

/// The verify file's lines after the header.
fn verify_lines(env: &TestEnv) -> Vec<String> {
    let text = std::fs::read_to_string(env.path("r.verify.csv")).unwrap_or_default();
    text.lines().skip(1).map(String::from).collect()
}

/// SIGINT or SIGTERM while a plant's listing is in flight, or while `--locate` asks where a
/// device sits: verify ends with 130 and speaks of the verify file (not of a results file it
/// does not write).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_mid_verify_exits_130_in_verify_s_words() {
    for (sig, locate) in [("-INT", false), ("-TERM", false), ("-INT", true)] {
        let cfg = SimConfig {
            fixture: located_world(),
            latency: Duration::from_millis(1500),
            ..SimConfig::default()
        };
        let mut env = TestEnv::start(cfg).await;
        env.results = env.write("r.csv", registered(&[("1001", "DEV0000001")]));
        let base = env.base();
        let mut args = vec!["verify", arg(&env.results), "--base-url", &base];
        if locate {
            args.push("--locate");
        }
        let mut verify = env.bin(&args).spawn();
        let sim = env.sim();
        if locate {
            let asked = || !sim.account_stats().sn_plant_per_sn.is_empty();
            poll_until("the first sn_plant", asked).await;
        } else {
            poll_until("the first listing", || sim.stats().requests >= 1).await;
        }
        let err = verify.interrupt(sig).await;
        assert!(!err.contains("results file"), "{sig}: {err}");
        assert!(err.contains("interrupted"), "{sig}: {err}");
        assert!(err.contains("verify file"), "{sig}: {err}");
    }
}

/// A plant cell `01002` and the device found on plant 1002: the same plant. The row is pending
/// (listed nowhere yet), and no message tells to move it to the plant it sits on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leading_zeros_in_a_plant_cell_name_the_same_plant() {
    let mut env = TestEnv::start_fixture(located_world()).await;
    env.results = env.write("r.csv", registered(&[("01002", "ELS0000001")]));
    let out = env.verify(&["--locate", "--rate", "100/s"]).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(!err.contains("move it there"), "{err}");
    assert!(err.contains("1 still pending"), "{err}");
    let lines = verify_lines(&env);
    assert!(
        lines[0].starts_with("2,01002,ELS0000001,pending,"),
        "{lines:?}"
    );
    assert!(lines[0].contains(",1002,503,"), "{lines:?}");
}

/// An earlier `--locate` answer stamped in the future (a clock that was ahead) is not recent:
/// the device is asked for again, and where it sits now is said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_from_the_future_is_not_recent() {
    let mut env = TestEnv::start_fixture(located_world()).await;
    env.results = env.write("r.csv", registered(&[("1001", "ELS0000001")]));
    env.write(
        "r.verify.csv",
        "row,plant_id,sn,link_status,device_status,last_update_time,checked_at,located_plant_id,located_user_id,located_at\n\
         2,1001,ELS0000001,elsewhere,,,2099-01-01T00:00:00.000Z,7777,777,2099-01-01T00:00:00Z\n",
    );
    let out = env.verify(&["--locate", "--rate", "100/s"]).await;
    assert_exit(&out, 3);
    let asked = env.sim().account_stats().sn_plant_per_sn;
    assert_eq!(asked.get("ELS0000001"), Some(&1), "asked again: {asked:?}");
    assert_said(&out, &["ELS0000001 sits on plant 1002 of user 503"]);
    assert!(!stderr(&out).contains("7777"), "{}", stderr(&out));
}
