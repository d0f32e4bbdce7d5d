//! What an office technician runs into: a throttled tail that waits, the notices that say so,
//! and the choice to leave it for the next run.

mod common;

use common::hostile::{envelope, Hostile};
use common::*;

/// A server that refuses the first request for `sn` with 10012 and accepts everything else.
async fn refuses_once(sn: &'static str) -> Hostile {
    Hostile::start(move |r| {
        if r.sn() == sn && r.seen_sn == 0 {
            envelope(10012, "error_frequently_access")
        } else {
            envelope(0, "")
        }
    })
    .await
}

/// Three rows against a server that refuses the second once ([`refuses_once`]).
async fn throttled_tail() -> (Hostile, TestEnv) {
    let env = TestEnv::offline().with_token(hostile::TOKEN);
    let env =
        env.with_fleet("plant_id,sn,c_user_id\n1,AAA0000001,1\n1,BBB0000002,1\n1,CCC0000003,1\n");
    (refuses_once("BBB0000002").await, env)
}

/// One row answered 10012 waits out the cooldown alone: a line of its own says so, with the time
/// it is due, and the achieved pace leaves that wait out.
#[tokio::test]
async fn a_throttled_tail_is_announced_and_left_out_of_the_achieved_pace() {
    let (srv, env) = throttled_tail().await;
    let out = env
        .run_at(&srv.base_url(), &flags("--rate 20/s --throttle-pause 3s"))
        .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    let notice = line_with(&err, "1 row waits out the API's cooldown: next at ");
    // Without a terminal each line starts with its time, and the notice is whole.
    assert!(notice.starts_with("20"), "{notice}");
    let within = ["(in 0s)", "(in 1s)", "(in 2s)", "(in 3s)"];
    assert!(within.iter().any(|w| notice.contains(w)), "{notice}");
    let s = env.summary();
    assert!(s["cooldown_wait_seconds"].as_f64().unwrap() >= 1.0, "{s}");
    assert!(
        s["achieved_rate_per_second"].as_f64().unwrap() > 1.0,
        "4 requests over the send time less the wait: {s}"
    );
    assert_said(
        &out,
        &["when only rows waiting out the API's cooldown were left"],
    );
    assert_eq!(env.lines().len(), 3);
}

/// `--leave-throttled` ends the run once only refused rows are left (exit 4); the next run
/// sends them.
#[tokio::test]
async fn leave_throttled_ends_the_run_and_the_next_run_sends_the_rest() {
    let (srv, env) = throttled_tail().await;
    let started = std::time::Instant::now();
    let out = env
        .run_at(
            &srv.base_url(),
            &flags("--rate 20/s --throttle-pause 5m --leave-throttled"),
        )
        .await;
    assert_exit(&out, 4);
    assert!(
        started.elapsed().as_secs() < 60,
        "did not wait out the 5 minutes"
    );
    assert_said(&out, &["--leave-throttled", "run the same command again"]);
    let sns: Vec<String> = env.lines().iter().map(|l| l["sn"].clone()).collect();
    assert_eq!(sns.len(), 2, "{sns:?}");
    assert!(!sns.contains(&"BBB0000002".to_string()));
    let out = env
        .run_at(&srv.base_url(), &flags("--rate 20/s --leave-throttled"))
        .await;
    assert_exit(&out, 0);
    assert_eq!(env.latest().len(), 3);
}

/// A nightly job does not grow the results file with copies of rows that did not change.
#[tokio::test]
async fn an_unchanged_invalid_or_duplicate_row_is_written_once_over_many_runs() {
    let good = good_fleet(2);
    let first = good.lines().nth(1).unwrap().to_string();
    // Rows 2-3 good, row 4 the same serial again (duplicate), row 5 a serial with a space.
    let env = TestEnv::start_default()
        .await
        .with_fleet(format!("{good}{first}\n1001,BAD SERIAL,501\n"));
    for _ in 0..3 {
        let out = env.run(&[]).await;
        assert_exit(&out, 3);
    }
    let lines = env.lines();
    for row in ["4", "5"] {
        let n = lines.iter().filter(|l| l["row"] == row).count();
        assert_eq!(n, 1, "row {row} written {n} times: {lines:?}");
    }
    assert_eq!(lines.len(), 4);
    assert_eq!(
        env.summary()["outcomes"]["invalid"],
        1,
        "still counted in the run's summary"
    );
    // Fixed in place, the row gets its new line.
    let fixed = std::fs::read_to_string(&env.fleet)
        .unwrap()
        .replace("BAD SERIAL", "XYZ12345");
    env.set_fleet(fixed);
    env.run(&[]).await;
    assert_eq!(env.lines().len(), 5);
}

/// In a cron log every line of a run and of verify starts with its time, and a run's first line
/// says what starts.
#[tokio::test]
async fn every_line_of_a_cron_log_starts_with_its_time_and_the_first_says_what_starts() {
    let env = TestEnv::start_default()
        .await
        .with_fleet(good_fleet(3) + "1001,BAD SERIAL,501\n");
    let out = env.run(&["--rate", "50/s"]).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    let stamped =
        |l: &str| l.len() > 21 && humantime::parse_rfc3339(&l[..20]).is_ok() && &l[20..21] == " ";
    for l in err.lines() {
        assert!(stamped(l), "a line without its time: {l:?}\n{err}");
    }
    let first = err.lines().next().unwrap();
    assert!(
        first.contains("run of ") && first.contains("4 rows") && first.contains("pace 50.00/s"),
        "{first}"
    );
    let out = env.verify(&[]).await;
    let err = stderr(&out);
    assert!(err.lines().count() >= 2, "{err}");
    for l in err.lines() {
        assert!(stamped(l), "a verify line without its time: {l:?}\n{err}");
    }
}

/// `growatt-onboard.toml` beside the fleet holds the column mapping and the pace, so cron and
/// Windows lines stay short; a flag still wins, and `check` says which file it read.
#[tokio::test]
async fn saved_settings_beside_the_fleet_stand_in_for_the_flags() {
    let good = good_fleet(3).replace("plant_id,sn,c_user_id", "Plant ID,Serial No.,Customer ID");
    let env = TestEnv::start_default().await.with_fleet(good);
    let settings = env.write(
        "growatt-onboard.toml",
        format!(
            "rate = \"40/s\"\nbase-url = \"{}\"\n[columns]\nplant_id = \"Plant ID\"\nsn = \"Serial No.\"\nc_user_id = \"Customer ID\"\n",
            env.base()
        ),
    );
    let out = env.check(&[]).await;
    assert_exit(&out, 0);
    assert_said(&out, &["settings from", arg(&settings)]);
    assert!(
        stdout(&out).contains("3 rows: 3 to send"),
        "{}",
        stdout(&out)
    );
    let out = env.bin(&["run", arg(&env.fleet)]).output().await;
    assert_exit(&out, 0);
    assert_eq!(env.summary()["configured_rate_per_second"], 40.0);
    assert_eq!(env.lines().len(), 3);
    // A flag on the command line wins over the file.
    let out = env.check(&["--column", "sn=Serial"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["looked for 'Serial'"]);
    // A key the file may not hold is named.
    std::fs::write(&settings, "colums = 3\n").unwrap();
    let out = env.check(&[]).await;
    assert_exit(&out, 2);
    assert_said(&out, &["'colums' is not a setting"]);
}

/// The man pages name no page that does not exist, say more in DESCRIPTION than in NAME, and
/// list the files the tool keeps.
#[tokio::test]
async fn the_man_pages_list_only_real_pages_and_the_files() {
    let env = TestEnv::offline();
    let dir = env.path("man");
    assert_exit(&run_bin(&["manpage", arg(&dir)]).await, 0);
    let main = std::fs::read_to_string(dir.join("growatt-onboard.1")).unwrap();
    assert!(!main.contains("growatt\\-onboard\\-help") && !main.contains("growatt-onboard-help"));
    assert!(!dir.join("growatt-onboard-help.1").exists());
    for page in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(page.path()).unwrap();
        assert!(text.contains(".SH FILES"), "{:?}", page.path());
        let name = text
            .split(".SH NAME")
            .nth(1)
            .unwrap()
            .split(".SH")
            .next()
            .unwrap();
        if let Some(desc) = text.split(".SH DESCRIPTION").nth(1) {
            let desc = desc.split(".SH").next().unwrap();
            assert_ne!(
                name.split(" \\- ").nth(1).map(str::trim),
                Some(desc.trim()),
                "{:?}",
                page.path()
            );
        }
    }
    assert!(main.contains(".SH DESCRIPTION") && main.contains("results.csv.lock"));
}

/// Small things a technician trips over: a reversed `--column`, a token file copied from a
/// profile line, and one that others can read.
#[tokio::test]
async fn a_reversed_column_is_explained_and_a_profile_line_token_file_works() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(2));
    let out = env.check(&["--column", "Plant ID=plant_id"]).await;
    assert_exit(&out, 2);
    assert_said(
        &out,
        &["the order is KEY=HEADER", "--column plant_id=\"Plant ID\""],
    );
    let token = env.write(
        "token.env",
        format!("export GROWATT_TOKEN=\"{DEFAULT_TOKEN}\"\n"),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = env
        .run_cmd_at(&env.base(), &["--token-file", arg(&token)])
        .token(None)
        .output()
        .await;
    assert_exit(&out, 0);
    assert_eq!(env.lines().len(), 2);
    #[cfg(unix)]
    assert_said(&out, &["can be read by other users", "chmod 600"]);
}

/// An id typed as `510.0` in a workbook is a person's typing, not an export: the advice is to
/// type it as 510; in a CSV export the same text keeps the export's advice.
#[tokio::test]
async fn an_id_typed_with_a_decimal_point_in_a_workbook_is_told_to_be_typed_again() {
    let out = run_bin(&["check", "samples/fleet.xlsx"]).await;
    assert_exit(&out, 3);
    assert!(
        stdout(&out).contains(
            "row 200: invalid: c_user_id '510.0' is typed with a decimal point; type it as 510"
        ),
        "{}",
        stdout(&out)
    );
    // A serial shown as a number is to be typed from the label, not exported again.
    assert!(
        stdout(&out).contains(
            "sn '1.23457E+11' is a number in scientific or decimal notation, which has lost the serial's characters; format the column as text and type the serial as the device label shows it"
        ),
        "{}",
        stdout(&out)
    );
    let out = run_bin(&["check", "samples/fleet.csv"]).await;
    assert!(stdout(&out).contains("c_user_id '510.0' was converted to a number by a spreadsheet"));
    assert!(stdout(&out).contains("sn '1.23457E+11' was converted to a number by a spreadsheet"));
}
