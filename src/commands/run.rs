//! `run` on the command line: the flags resolved, the account screened when asked, the run job
//! driven with the progress bar (or cron lines) and Ctrl-C, then the summary.

use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::cli::RunArgs;
use crate::config::{request_config, run_settings};
use crate::jobs::{self, RunSettings};
use crate::term::views::{self, RunView};
use crate::term::{signals, Log, Ui};

/// `run`: resolves the flags, runs, prints the summary.
pub async fn execute(args: RunArgs, token_env: Option<&str>) -> Outcome {
    let ui = Ui::from_args(&args.send.output);
    // One emitter for the bar, the notices and the summary, so every line prints above the bar.
    let log = &ui.log();
    let mut cfg = run_settings(&args, token_env, &ui)?;
    let file_warning = crate::config::token_file_warning(&args.send.api.server);
    views::token_warnings(log, &ui, &cfg.request.token, file_warning);
    let cancel = CancellationToken::new();
    let _signals = signals::watch(&cancel, log);
    if args.account.account {
        let request = request_config(&args.send.api, token_env)?;
        let events = views::account_sink(log, ui.quiet);
        let screen =
            jobs::account::screen(args.account.cache.as_deref(), &request, &cancel, &events)
                .await?;
        cfg.account = Some(screen);
    }
    run_on_terminal(cfg, &cancel, log, ui).await
}

/// Runs `cfg` with the terminal's bar and notices through `log`, then prints the summary.
pub async fn run_on_terminal(
    cfg: RunSettings,
    cancel: &CancellationToken,
    log: &Log,
    ui: Ui,
) -> Outcome {
    let view = RunView::new(log, ui);
    let result = jobs::run::run(cfg, cancel, view.sink()).await;
    view.finish();
    let report = result?;
    views::print_summary(log, &report.summary, ui.quiet);
    Ok(report.exit)
}
