//! `demo`: the simulator in-process and the bundled sample fleet, end to end.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::Context;
use clap::Parser as _;

use super::{run, verify};
use crate::cli::{Cli, Command, DemoArgs, OutputArgs};
use crate::config::{RunConfig, Ui, VerifyConfig};
use crate::exit::Exit;
use crate::journal;
use crate::report;
use crate::ui::Log;
use growatt_sim as sim;

/// The sample fleet, compiled in so the demo works from any folder.
pub const SAMPLE_FLEET: &str = include_str!("../../samples/fleet.csv");
/// The simulator fixture matching the sample fleet.
pub const SAMPLE_FIXTURE: &str = include_str!("../../samples/fixture.json");

/// `demo`: 0 when it ran end to end.
pub async fn execute(args: DemoArgs) -> Exit {
    let log = Log::new(args.output.log_format == crate::cli::LogFormat::Json);
    match demo(args).await {
        Ok(exit) => exit,
        Err(e) => {
            log.error(&format!("{e:#}"));
            Exit::Fatal
        }
    }
}

/// The command line a person would type for `words`, parsed as the CLI parses it, with the
/// demo's own output flags.
fn parse(words: &[OsString], output: &OutputArgs) -> anyhow::Result<Command> {
    let cli = Cli::try_parse_from(
        std::iter::once(OsString::from("growatt-onboard")).chain(words.iter().cloned()),
    )
    .map_err(|e| anyhow::anyhow!("the demo's own command line is wrong: {e}"))?;
    Ok(match cli.command {
        Command::Run(mut a) => {
            a.output = output.clone();
            Command::Run(a)
        }
        Command::Verify(mut a) => {
            a.output = output.clone();
            Command::Verify(a)
        }
        other => other,
    })
}

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
    let html = dir.join("report.html");
    // A folder used before (or holding a file of the user's under one of these names) keeps
    // every file: each is renamed with a timestamp, as `--restart` does with results.
    let mut set_aside = Vec::new();
    for file in [
        &fleet,
        &dir.join("fixture.json"),
        &html,
        &dir.join("report.xlsx"),
    ] {
        if let Some(aside) = journal::set_aside(file)? {
            set_aside.push(aside);
        }
    }
    std::fs::write(&fleet, SAMPLE_FLEET)
        .with_context(|| format!("cannot write {}", fleet.display()))?;
    std::fs::write(dir.join("fixture.json"), SAMPLE_FIXTURE)
        .with_context(|| format!("cannot write the fixture in {}", dir.display()))?;

    let sim_cfg = sim::SimConfig {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        fail_rate: 0.05,
        seed: 42,
        ..sim::SimConfig::default()
    };
    let server = sim::start("127.0.0.1:0".parse()?, sim_cfg)
        .await
        .context("cannot start the simulator on loopback")?;
    let ui = Ui::from_args(&args.output);
    let log = ui.log();
    if !ui.quiet {
        log.notice(&format!(
            "growatt-onboard demo: simulator on {}, fleet {}, pace {}",
            server.base_url(),
            fleet.display(),
            args.rate
        ));
    }
    let base = server.base_url();
    let rate = args.rate.to_string();
    let pace: Vec<OsString> = [
        "--base-url",
        base.as_str(),
        "--rate",
        rate.as_str(),
        "--concurrency",
        "4",
        "--timeout",
        "10",
        "--throttle-pause",
        "5s",
    ]
    .map(OsString::from)
    .to_vec();
    // The demo starts over each time, like its simulator.
    let mut words = vec![
        "run".into(),
        fleet.clone().into_os_string(),
        "--restart".into(),
    ];
    words.extend(pace.iter().cloned());
    let Command::Run(run_args) = parse(&words, &args.output)? else {
        anyhow::bail!("the demo's run command line did not parse as run");
    };
    let cfg = RunConfig::from_args(&run_args, Some(sim::DEFAULT_TOKEN))?;
    let paths = cfg.paths.clone();
    let mut words = vec!["verify".into(), paths.results.clone().into_os_string()];
    words.extend(pace);
    let Command::Verify(verify_args) = parse(&words, &args.output)? else {
        anyhow::bail!("the demo's verify command line did not parse as verify");
    };
    let verify_cfg = VerifyConfig::from_args(&verify_args, Some(sim::DEFAULT_TOKEN))?;
    // Earlier verify lines are set aside too.
    journal::set_aside(&verify_cfg.out)?;
    let report = run::run(cfg).await?;
    report.print(&log, ui.quiet);
    // Then confirm the links: devices that are offline in the fixture stay pending.
    let out = verify_cfg.out.clone();
    let verified = verify::verify(verify_cfg).await?;
    let stats = server.stats();
    server.shutdown().await;
    log.block(&verified.render());
    let mut said = format!(
        "demo folder: {}\nresults: {}\nsummary: {}\nverify: {}\n",
        dir.display(),
        paths.results.display(),
        paths.summary.display(),
        out.display()
    );
    said.push_str(&format!(
        "linked: {} devices, still pending: {} (offline devices link when they next come online; run verify again later)\n",
        verified.linked(),
        verified.not_linked()
    ));
    said.push_str(&format!(
        "the simulator received {} requests, at most {} in any one second\n",
        stats.requests, stats.max_in_one_second
    ));
    let xlsx = dir.join("report.xlsx");
    report::write_xlsx(&paths.results, &xlsx)?;
    said.push_str(&format!(
        "spreadsheet: {} (opens in Excel or LibreOffice)\n",
        xlsx.display()
    ));
    let data = report::load(&paths.results)?;
    report::write_html(&data, &html).with_context(|| format!("cannot write {}", html.display()))?;
    said.push_str(&format!(
        "report: {} (open it in a browser)\n",
        html.display()
    ));
    for aside in &set_aside {
        said.push_str(&format!(
            "an earlier file was kept as {}\n",
            aside.display()
        ));
    }
    crate::ui::log::stdout(said.as_bytes());
    Ok(match report.exit {
        Exit::Success | Exit::NeedsAttention => Exit::Success,
        other => other,
    })
}
