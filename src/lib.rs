//! growatt-onboard: register a fleet of Growatt devices through the ShineServer OpenAPI.
//!
//! `main.rs` parses the arguments and calls [`execute`]; everything else lives here so tests can
//! call it in-process. The layers, from the bottom: `units`, `text`, `outcome`, `paths`, `files`,
//! `exit`, `version`, `launch` (plain vocabulary) → `input`, `api`, `journal` (the fleet file, the
//! vendor's API, the results file) → `template` (the blank fleet) → `ui` (what is shown) → `engine` (pace, policy, retries, stops) → `config` (flags
//! resolved) → `report` → `commands` (one per command).
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
pub mod journal;
pub mod launch;
pub mod outcome;
pub mod paths;
pub mod report;
pub mod template;
pub mod text;
pub mod ui;
pub mod units;
pub mod version;

use cli::{Cli, Command};
use exit::Exit;

/// Runs one command and says how the process should end. The token's environment variable is
/// read here, once.
pub async fn execute(cli: Cli) -> Exit {
    let token_env = std::env::var("GROWATT_TOKEN").ok();
    let token_env = token_env.as_deref();
    match cli.command {
        Command::Run(args) if args.dry_run => {
            let check = cli::CheckArgs {
                input: args.input,
                quiet: args.output.quiet,
                account: args.account,
                server: args.server,
                request: args.request,
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
        Command::Demo(args) => commands::demo::execute(args).await,
    }
}
