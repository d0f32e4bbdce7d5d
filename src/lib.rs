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
pub mod report;
pub mod results;
pub mod seen;
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
            let json = args.output.log_format == cli::LogFormat::Json;
            let cfg = match config::RunConfig::from_args(&args, std::env::var("GROWATT_TOKEN").ok())
            {
                Ok(cfg) => cfg,
                Err(e) => return config_error(json, &e),
            };
            let ui = cfg.ui;
            match pipeline::run(cfg).await {
                Ok(report) => {
                    if let Err(e) = report.summary.append_history() {
                        eprintln!("growatt-onboard: cannot append to the run history: {e}");
                    }
                    if ui.log_json {
                        let mut v = serde_json::to_value(&report.summary).unwrap_or_default();
                        if let Some(obj) = v.as_object_mut() {
                            obj.insert("event".into(), "summary".into());
                        }
                        eprintln!("{v}");
                    } else {
                        eprint!("{}", report.summary.render(ui.quiet));
                    }
                    if report.exit == Exit::Fatal {
                        if let Some(why) = &report.summary.stopped {
                            error_line(json, why);
                        }
                    }
                    report.exit
                }
                Err(e) => {
                    error_line(json, &e.to_string());
                    Exit::Fatal
                }
            }
        }
        Command::Check(args) => run_check(&args),
        Command::Verify(args) => {
            let cfg =
                match verify::VerifyConfig::from_args(&args, std::env::var("GROWATT_TOKEN").ok()) {
                    Ok(cfg) => cfg,
                    Err(e) => return config_error(false, &e),
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
        Command::Sim(args) => {
            // The simulator reports through `tracing`: warnings by default, more with
            // GROWATT_ONBOARD_LOG=debug.
            init_sim_logging();
            match sim_config(&args) {
                Ok(cfg) => match growatt_sim::serve_until_signal(args.listen, cfg).await {
                    Ok(()) => Exit::Success,
                    Err(e) => fatal(&*e),
                },
                Err(e) => {
                    eprintln!("growatt-onboard: {e}");
                    Exit::Usage
                }
            }
        }
        Command::Report(args) => match report::load(&args.results) {
            Ok(data) => match &args.html {
                Some(path) => match report::write_html(&data, path) {
                    Ok(()) => {
                        println!("{}", path.display());
                        data_exit(&data)
                    }
                    Err(e) => {
                        eprintln!(
                            "growatt-onboard: error: cannot write {}: {e}",
                            path.display()
                        );
                        Exit::Fatal
                    }
                },
                None => {
                    emit(report::render_text(&data).as_bytes());
                    data_exit(&data)
                }
            },
            Err(e) => fatal(&e),
        },
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "growatt-onboard", &mut buf);
            emit(&buf);
            Exit::Success
        }
        Command::Manpage(args) => match write_manpages(&args.dir) {
            Ok(n) => {
                println!("wrote {n} man pages to {}", args.dir.display());
                Exit::Success
            }
            Err(e) => {
                eprintln!(
                    "growatt-onboard: error: cannot write man pages to {}: {e}",
                    args.dir.display()
                );
                Exit::Fatal
            }
        },
        Command::Demo(args) => match demo::demo(args).await {
            Ok(exit) => exit,
            Err(e) => fatal(&*e),
        },
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// A report's exit code: 3 when rows need attention, else 0 (as `run` would have ended).
fn data_exit(data: &report::ReportData) -> Exit {
    if data.attention_total > 0 {
        Exit::NeedsAttention
    } else {
        Exit::Success
    }
}

/// growatt-onboard.1 and growatt-onboard-COMMAND.1 for every command.
fn write_manpages(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut n = 0;
    let mut render = |name: String, cmd: clap::Command| -> std::io::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
        n += 1;
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        let name = format!("growatt-onboard-{}", sub.get_name());
        render(name.clone(), sub.clone().name(name))?;
    }
    render("growatt-onboard".into(), cmd)?;
    Ok(n)
}

fn run_check(args: &cli::CheckArgs) -> Exit {
    match check::check(args, &mut std::io::stdout().lock()) {
        Ok(report) => report.exit(),
        Err(pipeline::RunError::Usage(e)) => usage(&e),
        Err(e) => fatal(&e),
    }
}

/// Logging for the `sim` command, on stderr.
fn init_sim_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GROWATT_ONBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn sim_config(args: &cli::SimArgs) -> anyhow::Result<growatt_sim::SimConfig> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "the simulator listens on loopback only; {} is not a loopback address",
            args.listen
        );
    }
    let fixture = match &args.fixture {
        Some(p) => growatt_sim::Fixture::from_path(p)?,
        None => growatt_sim::Fixture::builtin(),
    };
    Ok(growatt_sim::SimConfig {
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
        open_world: args.open_world,
    })
}

/// A setting that makes the command impossible: a bad flag value is a usage error (2), anything
/// else (no token, an unreadable token file) is fatal (1).
fn config_error(json: bool, e: &config::ConfigError) -> Exit {
    use config::ConfigError;
    error_line(json, &e.to_string());
    match e {
        ConfigError::Usage(_) | ConfigError::Server(api::ClientError::BaseUrl(_)) => Exit::Usage,
        _ => Exit::Fatal,
    }
}

/// An error line on stderr: text, or one JSON object with `--log-format json`.
fn error_line(json: bool, message: &str) {
    if json {
        let line = serde_json::json!({
            "event": "error",
            "message": message,
            "ts": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        });
        eprintln!("{line}");
    } else {
        eprintln!("growatt-onboard: error: {message}");
    }
}

fn usage(message: &str) -> Exit {
    eprintln!("growatt-onboard: error: {message}");
    Exit::Usage
}

fn fatal(e: &dyn std::error::Error) -> Exit {
    eprintln!("growatt-onboard: error: {e}");
    Exit::Fatal
}
