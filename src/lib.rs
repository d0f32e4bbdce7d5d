//! growatt-onboard: register a fleet of Growatt devices through the ShineServer OpenAPI.
//!
//! `main.rs` parses the arguments and calls [`execute`]; everything else lives here so tests can
//! call it in-process. The layers, from the bottom: `units`, `text`, `outcome`, `paths`, `files`,
//! `exit`, `version`, `launch` (plain vocabulary) → `input`, `api`, `journal` (the fleet file, the
//! vendor's API, the results file) → `template` (the blank fleet) → `engine` (pace, policy, retries, stops; events, no output) → `account` →
//! `report` → `jobs` (run, verify, check, account: typed settings in, events out, a report back)
//! → `term` (the terminal's consumers of those events) → `config` (flags resolved) → `commands`
//! (one adapter per command).
#![warn(missing_docs)]

pub mod account;
pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit;
pub mod files;
pub mod input;
pub mod jobs;
pub mod journal;
pub mod launch;
pub mod outcome;
pub mod paths;
pub mod report;
pub mod saved;
pub mod template;
pub mod term;
#[cfg(test)]
mod testing;
pub mod text;
pub mod units;
pub mod version;
pub mod web;

use cli::{Cli, Command};
use exit::Exit;

/// Runs one command and says how the process should end: the one place that prints a
/// command's fatal error and picks its exit code. The token's environment variable is read here,
/// once.
pub async fn execute(cli: Cli) -> Exit {
    execute_with(cli, None).await
}

/// [`execute`], saying first which saved settings file the command line was read with.
pub async fn execute_with(cli: Cli, saved: Option<&std::path::Path>) -> Exit {
    let token_env = std::env::var("GROWATT_TOKEN").ok();
    let token_env = token_env.as_deref();
    let log = error_log(&cli.command);
    if let Some(path) = saved {
        let quiet = match &cli.command {
            Command::Run(a) => a.send.output.quiet,
            Command::Check(a) => a.quiet,
            _ => false,
        };
        if !quiet {
            log.notice(&format!(
                "growatt-onboard: settings from {}",
                path.display()
            ));
        }
    }
    let outcome = match cli.command {
        Command::Run(args) if args.dry_run => {
            let check = cli::CheckArgs {
                input: args.input,
                quiet: args.send.output.quiet,
                account: args.account,
                api: args.send.api,
            };
            commands::check::execute(&check, token_env).await
        }
        Command::Run(args) => commands::run::execute(args, token_env).await,
        Command::Check(args) => commands::check::execute(&args, token_env).await,
        Command::Account(args) => commands::account::execute(args, token_env).await,
        Command::Verify(args) => commands::verify::execute(args, token_env).await,
        Command::Sim(args) => commands::sim::execute(&args).await,
        Command::Report(args) => commands::report::execute(&args),
        Command::Template(args) => commands::template::execute(&args),
        Command::Completions(args) => commands::meta::completions(&args),
        Command::Manpage(args) => commands::meta::manpage(&args),
        Command::Ui(args) => commands::ui::execute(args, token_env).await,
        Command::Demo(args) => commands::demo::execute(args).await,
    };
    outcome.unwrap_or_else(|e| {
        log.error(&e.to_string());
        e.exit()
    })
}

/// Where a command's fatal error is printed: as JSON with `--log-format json`, and stamped with
/// the time when a run's stderr goes to a log file.
fn error_log(command: &Command) -> term::Log {
    use cli::{AccountCommand, LogFormat};
    let json = |o: &cli::OutputArgs| o.log_format == LogFormat::Json;
    let stamped = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    match command {
        Command::Run(a) if !a.dry_run => term::Log::with_timestamps(json(&a.send.output), stamped),
        Command::Verify(a) => term::Log::with_timestamps(json(&a.send.output), stamped),
        Command::Account(a) => match &a.command {
            AccountCommand::Pull(p) => term::Log::with_timestamps(json(&p.send.output), stamped),
            AccountCommand::Show(_) => term::Log::new(false),
        },
        Command::Demo(a) => term::Log::new(json(&a.output)),
        _ => term::Log::new(false),
    }
}
