//! growatt-onboard: register a fleet of Growatt devices through the ShineServer OpenAPI.
//!
//! `main.rs` parses the arguments and calls [`execute`]; everything else lives here so tests can
//! call it in-process.
#![warn(missing_docs)]

pub mod api;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod exit;
pub mod input;
pub mod pacer;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod results;
pub mod sim;
pub mod summary;
pub mod verify;

use cli::{Cli, Command};
use exit::Exit;

/// Runs one command and says how the process should end. Fatal problems are printed on stderr.
pub async fn execute(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) if args.dry_run => {
            let check = cli::CheckArgs {
                input: args.input.clone(),
                quiet: args.output.quiet,
            };
            run_check(&check)
        }
        Command::Run(args) => {
            let cfg = match config::RunConfig::from_args(&args, std::env::var("GROWATT_TOKEN").ok())
            {
                Ok(cfg) => cfg,
                Err(e) => return fatal(&e),
            };
            let quiet = cfg.ui.quiet;
            match pipeline::run(cfg).await {
                Ok(report) => {
                    eprint!("{}", report.summary.render(quiet));
                    if report.exit == Exit::Fatal {
                        if let Some(why) = &report.summary.stopped {
                            eprintln!("growatt-onboard: error: {why}");
                        }
                    }
                    report.exit
                }
                Err(e) => fatal(&e),
            }
        }
        Command::Check(args) => run_check(&args),
        Command::Verify(args) => {
            let cfg =
                match verify::VerifyConfig::from_args(&args, std::env::var("GROWATT_TOKEN").ok()) {
                    Ok(cfg) => cfg,
                    Err(e) => return fatal(&e),
                };
            let out = cfg.out.clone();
            match verify::verify(cfg).await {
                Ok(report) => {
                    eprint!("{}", report.render());
                    eprintln!("  verify file: {}", out.display());
                    let exit = report.exit.unwrap_or(Exit::Fatal);
                    if exit == Exit::Fatal {
                        if let Some(why) = &report.stopped {
                            eprintln!("growatt-onboard: error: {why}");
                        }
                    }
                    exit
                }
                Err(e) => fatal(&e),
            }
        }
        Command::Sim(args) => match sim_config(&args) {
            Ok(cfg) => match sim::serve_until_signal(args.listen, cfg).await {
                Ok(()) => Exit::Success,
                Err(e) => fatal(&*e),
            },
            Err(e) => {
                eprintln!("growatt-onboard: {e}");
                Exit::Usage
            }
        },
        Command::Demo(args) => match demo::demo(args).await {
            Ok(exit) => exit,
            Err(e) => fatal(&*e),
        },
    }
}

fn run_check(args: &cli::CheckArgs) -> Exit {
    match check::check(args, &mut std::io::stdout().lock()) {
        Ok(report) => report.exit(),
        Err(e) => fatal(&e),
    }
}

fn sim_config(args: &cli::SimArgs) -> anyhow::Result<sim::SimConfig> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "the simulator listens on loopback only; {} is not a loopback address",
            args.listen
        );
    }
    let fixture = match &args.fixture {
        Some(p) => sim::Fixture::from_path(p)?,
        None => sim::Fixture::builtin(),
    };
    Ok(sim::SimConfig {
        token: args.token.clone(),
        fixture,
        latency: std::time::Duration::from_millis(args.latency_ms),
        jitter: std::time::Duration::from_millis(args.jitter_ms),
        fail_rate: args.fail_rate,
        hang_rate: args.hang_rate,
        hang: std::time::Duration::from_millis(args.hang_ms),
        throttle_per_sec: args.throttle.map(config::Rate::per_second),
        seed: args.seed,
        link_delay: args.link_delay,
    })
}

fn fatal(e: &dyn std::error::Error) -> Exit {
    eprintln!("growatt-onboard: error: {e}");
    Exit::Fatal
}
