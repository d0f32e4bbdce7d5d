//! `demo`: the simulator in-process and the bundled sample fleet, end to end: the run and verify
//! jobs with settings built here, and the terminal's own consumers.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::{CommandError, Outcome};
use crate::api::Token;
use crate::cli::DemoArgs;
use crate::engine::{RetryPolicy, Wording};
use crate::exit::Exit;
use crate::input::ReadOptions;
use crate::jobs::{RequestConfig, RunSettings, VerifySettings};
use crate::paths::Paths;
use crate::term::{log, signals, views, Ui};
use crate::{jobs, journal, report};
use growatt_sim as sim;

/// The sample fleet, compiled in so the demo works from any folder.
pub const SAMPLE_FLEET: &str = include_str!("../../samples/fleet.csv");
/// The simulator fixture matching the sample fleet.
pub const SAMPLE_FIXTURE: &str = include_str!("../../samples/fixture.json");

/// `demo`: 0 when it ran end to end.
pub async fn execute(args: DemoArgs) -> Outcome {
    demo(args).await.map_err(CommandError::Demo)
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
    if args.ui {
        return page(&args, &dir).await;
    }
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

    let server = start_sim().await?;
    let ui = Ui::from_args(&args.output);
    let tlog = &ui.log();
    if !ui.quiet {
        tlog.notice(&format!(
            "growatt-onboard demo: simulator on {}, fleet {}, pace {}",
            server.base_url(),
            fleet.display(),
            args.rate
        ));
    }
    let request = RequestConfig {
        base: crate::api::resolve_base(server.base_url().as_str())?,
        token: Token::new(sim::DEFAULT_TOKEN)
            .map_err(|why| anyhow::anyhow!("the simulator's token: {why}"))?,
        timeout: Duration::from_secs(10),
        rate: args.rate,
        concurrency: 4,
        policy: RetryPolicy::default(),
        throttle_pause: Duration::from_secs(5),
        max_runtime: None,
    };
    let paths = Paths::of_input(&fleet, None);
    // The demo starts over each time, like its simulator.
    let run = RunSettings {
        input: fleet.clone(),
        paths: paths.clone(),
        request: request.clone(),
        restart: true,
        read: ReadOptions::default(),
        strict_serials: false,
        account: None,
        count_rows: ui.progress_mode() != crate::term::Mode::Hidden,
        attempt_events: ui.verbose >= 2,
        leave_throttled: false,
        wording: Wording::CommandLine,
    };
    let verify = VerifySettings {
        results: paths.results.clone(),
        out: paths.verify.clone(),
        request,
        locate: false,
        attempt_events: ui.verbose >= 2,
        wording: Wording::CommandLine,
    };
    // Earlier verify lines are set aside too.
    journal::set_aside(&verify.out)?;
    let cancel = CancellationToken::new();
    let _signals = signals::watch(&cancel, tlog);
    let view = views::RunView::new(tlog, ui);
    let ran = jobs::run::run(run, &cancel, view.sink()).await;
    view.finish();
    let report = ran?;
    views::print_summary(tlog, &report.summary, ui.quiet);
    // Then confirm the links: devices that are offline in the fixture stay pending.
    let out = verify.out.clone();
    let events = views::verify_sink(tlog, ui);
    let verified = jobs::verify::verify(verify, &cancel, events).await?;
    let stats = server.stats();
    server.shutdown().await;
    tlog.block(&verified.render());
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
    log::stdout(said.as_bytes());
    Ok(match report.exit {
        Exit::Success | Exit::NeedsAttention => Exit::Success,
        other => other,
    })
}

/// The demo's simulator: a little latency and 5 % transient failures, on loopback.
async fn start_sim() -> anyhow::Result<sim::SimServer> {
    let sim_cfg = sim::SimConfig {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        fail_rate: 0.05,
        seed: 42,
        ..sim::SimConfig::default()
    };
    sim::start("127.0.0.1:0".parse()?, sim_cfg)
        .await
        .context("cannot start the simulator on loopback")
}

/// `demo --ui`: the web page against the simulator, with the sample fleet loaded, until Ctrl-C.
async fn page(args: &DemoArgs, dir: &std::path::Path) -> anyhow::Result<Exit> {
    let server = start_sim().await?;
    let fleets = dir.join("fleets");
    std::fs::create_dir_all(&fleets)
        .with_context(|| format!("cannot create {}", fleets.display()))?;
    if crate::web::fleet_count(&fleets) == 0 {
        crate::web::add_fleet(&fleets, "fleet.csv", SAMPLE_FLEET.as_bytes())
            .with_context(|| format!("cannot place the sample fleet in {}", fleets.display()))?;
    }
    let token = Token::new(sim::DEFAULT_TOKEN)
        .map_err(|why| anyhow::anyhow!("the simulator's token: {why}"))?;
    let settings = crate::web::UiSettings {
        listen: "127.0.0.1:0".parse()?,
        dir: fleets,
        server: crate::web::Server {
            base: crate::api::resolve_base(server.base_url().as_str())?,
            region: None,
            token: Some((token, crate::web::TokenSource::Environment)),
            token_file: None,
        },
        defaults: crate::web::Defaults {
            timeout: Duration::from_secs(10),
            rate: args.rate,
            concurrency: 4,
            policy: RetryPolicy::default(),
            throttle_pause: Duration::from_secs(5),
        },
        cache: Some(dir.join("account-cache")),
    };
    let log = Ui::from_args(&args.output).log();
    log.notice(&format!(
        "growatt-onboard demo: the simulator is on {}; the page below rehearses the sample fleet against it",
        server.base_url()
    ));
    crate::web::serve(settings, !args.no_open, &log)
        .await
        .map_err(anyhow::Error::msg)?;
    server.shutdown().await;
    Ok(Exit::Success)
}
