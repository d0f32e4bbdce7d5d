//! `verify` on the command line: the flags resolved, the verify job driven with Ctrl-C, then
//! its closing lines.

use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::cli::VerifyArgs;
use crate::config::verify_settings;
use crate::exit::Exit;
use crate::jobs::{self, VerifySettings};
use crate::term::{signals, views, Log, Ui};

/// `verify`: resolves the flags, checks the links, prints what it found.
pub async fn execute(args: VerifyArgs, token_env: Option<&str>) -> Outcome {
    let ui = Ui::from_args(&args.send.output);
    let log = &ui.log();
    let cfg = verify_settings(&args, token_env, &ui)?;
    let file_warning = crate::config::token_file_warning(&args.send.api.server);
    views::token_warnings(log, &ui, &cfg.request.token, file_warning);
    let cancel = CancellationToken::new();
    let _signals = signals::watch(&cancel, log);
    verify_on_terminal(cfg, &cancel, log, ui).await
}

/// Runs `cfg` with the terminal's notices through `log`, then prints the closing lines.
pub async fn verify_on_terminal(
    cfg: VerifySettings,
    cancel: &CancellationToken,
    log: &Log,
    ui: Ui,
) -> Outcome {
    let out = cfg.out.clone();
    let report = jobs::verify::verify(cfg, cancel, views::verify_sink(log, ui)).await?;
    views::print_verified(log, &report, &out);
    Ok(report.exit.unwrap_or(Exit::Fatal))
}
