//! `account pull` and `account show` on the command line.

use tokio_util::sync::CancellationToken;

use super::{CommandError, Outcome};
use crate::account::CacheKey;
use crate::cli::{AccountArgs, AccountCommand, AccountPullArgs, AccountShowArgs};
use crate::config::{request_config, resolve_server, resolve_token};
use crate::engine::{Job, Wording};
use crate::exit::Exit;
use crate::jobs::{self, REFRESH};
use crate::term::{log, signals, views, Ui};

/// `account pull` / `account show`.
pub async fn execute(args: AccountArgs, token_env: Option<&str>) -> Outcome {
    match args.command {
        AccountCommand::Pull(a) => pull(a, token_env).await,
        AccountCommand::Show(a) => show(&a, token_env),
    }
}

fn show(args: &AccountShowArgs, token_env: Option<&str>) -> Outcome {
    let base = resolve_server(&args.server)?;
    let token = resolve_token(&args.server, token_env)?;
    let key = CacheKey::new(args.cache.as_deref(), &base, &token)?;
    match key.load()? {
        Some(cache) => {
            log::stdout(cache.describe(&key.path).as_bytes());
            Ok(if cache.complete() {
                Exit::Success
            } else {
                Exit::Incomplete
            })
        }
        None => Err(CommandError::Fatal(format!(
            "no account cache for {} and this token yet ({}); run `{REFRESH}`",
            key.server,
            key.path.display()
        ))),
    }
}

async fn pull(args: AccountPullArgs, token_env: Option<&str>) -> Outcome {
    let ui = Ui::from_args(&args.send.output);
    let log = &ui.log();
    let request = request_config(&args.send.api, token_env)?;
    let (key, lock, mut cache) = jobs::account::open_cache(args.cache.as_deref(), &request)?;
    let cancel = CancellationToken::new();
    let _signals = signals::watch(&cancel, log);
    let pulled = jobs::account::pull(
        &request,
        (&key, &lock),
        &mut cache,
        true,
        args.force,
        &cancel,
    )
    .await?;
    drop(lock);
    views::print_pulled(log, &pulled);
    if let Some(stop) = &pulled.stopped {
        log.notice(&format!(
            "growatt-onboard account: {}",
            stop.describe_job(Wording::CommandLine, Job::AccountPull)
        ));
        return Ok(stop.exit());
    }
    if let Some(why) = &pulled.report.failed {
        log.error(why);
        return Ok(Exit::Fatal);
    }
    Ok(if pulled.complete {
        Exit::Success
    } else {
        Exit::Incomplete
    })
}
