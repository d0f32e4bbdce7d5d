//! `account pull` and `account show`, and the account screen `check --account` and
//! `run --account` put before any add.

use crate::account::{self, CacheKey, PullReport, Screen, DAILY_CAP};
use crate::cli::{AccountArgs, AccountCommand, AccountPullArgs, AccountShowArgs, AccountUse};
use crate::cli::{LogFormat, OutputArgs, RequestArgs, ServerArgs};
use crate::config::{resolve_server, resolve_token, RequestConfig, RunError, Ui};
use crate::engine::Engine;
use crate::exit::Exit;
use crate::ui::{self, Log};

/// The command that refreshes the cache, for messages.
pub const REFRESH: &str = "growatt-onboard account pull";

/// `account pull` / `account show`.
pub async fn execute(args: AccountArgs, token_env: Option<&str>) -> Exit {
    match args.command {
        AccountCommand::Pull(a) => pull_command(a, token_env).await,
        AccountCommand::Show(a) => show_command(&a, token_env),
    }
}

fn show_command(args: &AccountShowArgs, token_env: Option<&str>) -> Exit {
    let log = Log::new(false);
    let key = resolve_server(&args.server)
        .and_then(|base| Ok((base, resolve_token(&args.server, token_env)?)))
        .map_err(|e| e.to_string())
        .and_then(|(base, token)| {
            CacheKey::new(args.cache.as_deref(), &base, &token).map_err(|e| e.to_string())
        });
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            log.error(&e);
            return Exit::Fatal;
        }
    };
    match key.load() {
        Ok(Some(cache)) => {
            ui::log::stdout(cache.describe(&key.path).as_bytes());
            if cache.complete() {
                Exit::Success
            } else {
                Exit::Incomplete
            }
        }
        Ok(None) => {
            log.error(&format!(
                "no account cache for {} and this token yet ({}); run `{REFRESH}`",
                key.server,
                key.path.display()
            ));
            Exit::Fatal
        }
        Err(e) => {
            log.error(&e.to_string());
            Exit::Fatal
        }
    }
}

async fn pull_command(args: AccountPullArgs, token_env: Option<&str>) -> Exit {
    let ui = Ui::from_args(&args.output);
    let log = ui.log();
    let result = async {
        let request = RequestConfig::from_args(&args.request, &args.server, token_env)?;
        let key = CacheKey::new(args.cache.as_deref(), &request.base, &request.token)
            .map_err(|e| RunError::Account(e.to_string()))?;
        let mut cache = key
            .load()
            .map_err(|e| RunError::Account(e.to_string()))?
            .unwrap_or_else(|| key.empty());
        let report = pull_with(&request, &ui, &key, &mut cache, true, args.force).await?;
        Ok::<_, RunError>((key, cache, report))
    }
    .await;
    let (key, cache, report) = match result {
        Ok(r) => r,
        Err(e) => {
            log.error(&e.to_string());
            return e.exit();
        }
    };
    say_pulled(&log, &key, &cache, &report);
    if report.stopped || report.failed.is_some() {
        if let Some(why) = &report.failed {
            log.error(why);
        }
        return if report.stopped {
            Exit::Interrupted
        } else {
            Exit::Fatal
        };
    }
    if cache.complete() {
        Exit::Success
    } else {
        Exit::Incomplete
    }
}

/// Pulls into `cache` through an engine of its own (one request at a time: pages follow each
/// other, and every call counts against the daily cap).
async fn pull_with(
    request: &RequestConfig,
    ui: &Ui,
    key: &CacheKey,
    cache: &mut account::AccountCache,
    refresh: bool,
    force: bool,
) -> Result<PullReport, RunError> {
    let client = request.client()?;
    let mut engine_cfg = request.engine(ui);
    engine_cfg.concurrency = 1;
    // A retry is a call like any other against the cap: a failed page ends this pull, and the
    // next pull goes on from it.
    engine_cfg.policy.max_attempts = 1;
    // A 10012 ends the pull instead of pausing it, so there is no pause to announce.
    engine_cfg.announce = false;
    let engine = Engine::new(client, engine_cfg, ui.log());
    let watchers = engine.watch();
    let report = account::pull(&engine, key, cache, refresh, force).await;
    watchers.end().await;
    let refused = report.as_ref().is_ok_and(|r| r.refused_by_server);
    if let Some(stop) = engine.stop_reason().filter(|_| !refused) {
        return Err(RunError::Account(format!(
            "the account pull stopped: {}",
            stop.describe()
        )));
    }
    report.map_err(|e| RunError::Account(e.to_string()))
}

/// The pull's closing lines on stderr.
fn say_pulled(log: &Log, key: &CacheKey, cache: &account::AccountCache, report: &PullReport) {
    let (p, u) = cache.calls_today();
    let text = format!(
        "growatt-onboard account: {} plants, {} users ({}); {} listing calls now, today plant/list {p} of {DAILY_CAP}, user/c_user_list {u} of {DAILY_CAP}\n  cache: {}",
        cache.plants.len(),
        cache.users.len(),
        if cache.complete() { "complete" } else { "partial" },
        report.calls.0 + report.calls.1,
        key.path.display()
    );
    log.event(
        serde_json::json!({
            "event": "account_pull",
            "plants": cache.plants.len(),
            "users": cache.users.len(),
            "complete": cache.complete(),
            "plant_list_calls_today": p,
            "user_list_calls_today": u,
            "cache": key.path,
        }),
        &text,
    );
    if report.refused_by_server {
        log.notice(&format!(
            "growatt-onboard account: the server refused a listing call as too frequent (10012): its daily cap of {DAILY_CAP} is likely spent by another client or an earlier pull; run `{REFRESH}` again tomorrow (UTC)"
        ));
    }
    for noun in &report.cap_reached {
        let (listed, count) = if *noun == "plants" {
            (cache.plants.len(), cache.plant_listing.count)
        } else {
            (cache.users.len(), cache.user_listing.count)
        };
        let count = count.map_or_else(|| "more".to_string(), |c| c.to_string());
        log.notice(&format!(
            "growatt-onboard account: the account has {count} {noun} and today's {DAILY_CAP} calls listed {listed}; run `{REFRESH}` again tomorrow (UTC) for the rest, or pass --force to call past the vendor's documented cap"
        ));
    }
}

/// The account screen for `check --account` and `run --account`: the cache, pulled first when
/// there is none (with the token), or `None` without `--account`.
pub async fn screen_for(
    account: &AccountUse,
    server: &ServerArgs,
    request_args: &RequestArgs,
    output: &OutputArgs,
    token_env: Option<&str>,
) -> Result<Option<Screen>, RunError> {
    if !account.account {
        return Ok(None);
    }
    let request = RequestConfig::from_args(request_args, server, token_env)?;
    let key = CacheKey::new(account.cache.as_deref(), &request.base, &request.token)
        .map_err(|e| RunError::Account(e.to_string()))?;
    let ui = Ui::from_args(output);
    let log = ui.log();
    let cache = match key.load().map_err(|e| RunError::Account(e.to_string()))? {
        Some(cache) => cache,
        None => {
            let mut cache = key.empty();
            let report = pull_with(&request, &ui, &key, &mut cache, false, false).await?;
            if !ui.quiet {
                say_pulled(&log, &key, &cache, &report);
            }
            if let Some(why) = report.failed {
                return Err(RunError::Account(why));
            }
            cache
        }
    };
    if !cache.complete() && !ui.quiet {
        log.notice(&format!(
            "growatt-onboard: the account cache is partial ({} plants, {} users listed so far): rows are flagged only for what it lists; `{REFRESH}` lists the rest",
            cache.plants.len(),
            cache.users.len()
        ));
    }
    Ok(Some(Screen::new(cache, REFRESH)))
}

/// The same output settings `check` uses: text on stderr, `quiet` as given.
pub fn check_output(quiet: bool) -> OutputArgs {
    OutputArgs {
        no_progress: true,
        progress_interval: std::time::Duration::from_secs(30),
        log_format: LogFormat::Text,
        quiet,
        verbose: 0,
    }
}
