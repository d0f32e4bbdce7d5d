//! `demo`: the simulator in-process and the bundled sample fleet, end to end.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::api::Token;
use crate::cli::DemoArgs;
use crate::config::{RunConfig, Ui};
use crate::exit::Exit;
use crate::policy::RetryPolicy;
use crate::{pipeline, results, verify};

/// The sample fleet, compiled in so the demo works from any folder.
pub const SAMPLE_FLEET: &str = include_str!("../samples/fleet.csv");
/// The simulator fixture matching the sample fleet.
pub const SAMPLE_FIXTURE: &str = include_str!("../samples/fixture.json");

/// Runs the demo; returns 0 when it ran end to end (the sample fleet has rows that need attention
/// on purpose, so the run's own exit code 3 is the expected result).
pub async fn demo(args: DemoArgs) -> anyhow::Result<Exit> {
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => tempfile::Builder::new()
            .prefix("growatt-onboard-demo-")
            .tempdir()
            .context("cannot create a folder under the system's temp dir; pass --dir")?
            .keep(),
    };
    let fleet = dir.join("fleet.csv");
    std::fs::write(&fleet, SAMPLE_FLEET)
        .with_context(|| format!("cannot write {}", fleet.display()))?;
    std::fs::write(dir.join("fixture.json"), SAMPLE_FIXTURE)
        .with_context(|| format!("cannot write the fixture in {}", dir.display()))?;

    let sim_cfg = growatt_sim::SimConfig {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        fail_rate: 0.05,
        seed: 42,
        ..growatt_sim::SimConfig::default()
    };
    let server = growatt_sim::start("127.0.0.1:0".parse()?, sim_cfg)
        .await
        .context("cannot start the simulator on loopback")?;
    let ui = Ui::from_args(&args.output);
    if !ui.quiet {
        eprintln!(
            "growatt-onboard demo: simulator on {}, fleet {}, pace {}",
            server.base_url(),
            fleet.display(),
            args.rate
        );
    }
    let results_path: PathBuf = results::default_results_path(&fleet);
    let cfg = RunConfig {
        input: fleet.clone(),
        summary: results::summary_path(&results_path),
        results: results_path.clone(),
        rate: args.rate,
        concurrency: 4,
        policy: RetryPolicy::default(),
        timeout: Duration::from_secs(10),
        base: crate::api::resolve_base(&server.base_url())?,
        token: Token::new(growatt_sim::DEFAULT_TOKEN).map_err(anyhow::Error::msg)?,
        throttle_pause: Duration::from_secs(5),
        max_runtime: None,
        restart: true,
        read: crate::input::ReadOptions::default(),
        ui,
    };
    let verify_cfg = verify::VerifyConfig {
        results: cfg.results.clone(),
        out: verify::default_verify_path(&cfg.results),
        base: cfg.base.clone(),
        token: cfg.token.clone(),
        rate: cfg.rate,
        concurrency: cfg.concurrency,
        policy: cfg.policy.clone(),
        timeout: cfg.timeout,
        throttle_pause: cfg.throttle_pause,
        max_runtime: None,
        ui,
    };
    // The demo starts over each time, like its simulator: earlier verify lines are set aside too.
    results::set_aside(&verify_cfg.out)?;
    let report = pipeline::run(cfg).await?;
    report.summary.append_history()?;
    eprint!("{}", report.summary.render(ui.quiet));
    // Then confirm the links: devices that are offline in the fixture stay pending.
    let verified = verify::verify(verify_cfg.clone()).await?;
    let stats = server.stats();
    server.shutdown().await;
    eprint!("{}", verified.render());
    println!("demo folder: {}", dir.display());
    println!("results: {}", results_path.display());
    println!(
        "summary: {}",
        results::summary_path(&results_path).display()
    );
    println!("verify: {}", verify_cfg.out.display());
    println!(
        "linked: {} devices, still pending: {} (offline devices link when they next come online; run verify again later)",
        verified.linked(),
        verified.not_linked()
    );
    println!(
        "the simulator received {} requests, at most {} in any one second",
        stats.requests, stats.max_in_one_second
    );
    let html = dir.join("report.html");
    let data = crate::report::load(&results_path)?;
    crate::report::write_html(&data, &html)
        .with_context(|| format!("cannot write {}", html.display()))?;
    println!("report: {} (open it in a browser)", html.display());
    Ok(match report.exit {
        Exit::Success | Exit::NeedsAttention => Exit::Success,
        other => other,
    })
}
