//! The terminal's consumers of the jobs' events: each turns a job's events into the progress bar
//! or cron lines and the notices on stderr, with the words and verbosity of the command line.

use std::sync::{Arc, OnceLock};

use serde_json::json;

use super::{Log, Progress, Ui};
use crate::account::Located;
use crate::engine::{EngineEvent, Sink};
use crate::jobs::{AccountEvent, Pulled, RunEvent, Summary, VerifyEvent, VerifyReport, REFRESH};

/// The engine's news as notices: a pause unless quiet, the cooldown learnt from `-v`, each
/// request from `-vv`.
pub fn engine_notice(log: &Log, ui: &Ui, event: &EngineEvent) {
    match event {
        EngineEvent::Paused { pause, pace } if !ui.quiet => log.notice(&format!(
            "growatt-onboard: paused by the API's rate limit (10012) for {:.1}s: new rows were refused at this pace (account-wide limit); pace now {pace:.2}/s, settling below the refused pace; refused rows are sent again after the cooldown",
            pause.as_secs_f64()
        )),
        EngineEvent::CooldownLearnt { cooldown } if !ui.quiet && ui.verbose >= 1 => {
            let secs = cooldown.as_secs();
            log.notice(&format!(
                "growatt-onboard: the API refused a repeated request (10012): per-request cooldown; retries now wait {}:{:02} after their previous attempt, other rows keep flowing",
                secs / 60,
                secs % 60
            ));
        }
        EngineEvent::Attempt {
            label,
            attempt,
            answer,
            latency,
        } if ui.verbose >= 2 => log.notice(&format!(
            "{label}: attempt {attempt}: {answer} in {} ms",
            latency.as_millis()
        )),
        _ => {}
    }
}

/// The token's warnings before anything is sent (an odd length; `file`: the token file's, such
/// as one others can read), unless quiet.
pub fn token_warnings(log: &Log, ui: &Ui, token: &crate::api::Token, file: Option<String>) {
    if ui.quiet {
        return;
    }
    for warning in token.length_warning().into_iter().chain(file) {
        log.notice(&format!("growatt-onboard: warning: {warning}"));
    }
}

/// A run on the terminal: the bar (or cron lines) once the run starts, notices above it.
pub struct RunView {
    log: Log,
    ui: Ui,
    progress: OnceLock<Progress>,
    /// The next due time the last cooldown notice named, so each wait is said once.
    said_wait: std::sync::Mutex<Option<std::time::SystemTime>>,
}

impl RunView {
    /// A view printing through `log` with the settings of `ui`.
    pub fn new(log: &Log, ui: Ui) -> Arc<RunView> {
        Arc::new(RunView {
            log: log.clone(),
            ui,
            progress: OnceLock::new(),
            said_wait: std::sync::Mutex::new(None),
        })
    }

    /// The sink the run job reports to.
    pub fn sink(self: &Arc<RunView>) -> Sink<RunEvent> {
        let view = self.clone();
        Sink::new(move |event| view.show(event))
    }

    fn show(&self, event: RunEvent) {
        match event {
            RunEvent::Engine(e) => engine_notice(&self.log, &self.ui, &e),
            RunEvent::Started {
                total,
                input,
                results,
                done_earlier,
                rate,
                concurrency,
            } => {
                // Without a terminal (cron), the log says what starts before anything else.
                if !self.ui.terminal && !self.ui.quiet {
                    let rows = total.map_or_else(String::new, |t| {
                        format!("{}, ", crate::text::count(t, "row", "rows"))
                    });
                    let done = if done_earlier > 0 {
                        format!("{done_earlier} done earlier, ")
                    } else {
                        String::new()
                    };
                    self.log.event(
                        json!({
                            "event": "start",
                            "input": input,
                            "results": results,
                            "rows": total,
                            "done_earlier": done_earlier,
                            "rate_per_second": rate,
                            "concurrency": concurrency,
                        }),
                        &format!(
                            "growatt-onboard: run of {} starts: {rows}{done}pace {rate:.2}/s, {concurrency} in flight; results {}",
                            input.display(),
                            results.display()
                        ),
                    );
                }
                let mode = self.ui.progress_mode();
                let _ = self.progress.set(Progress::new(mode, total, &self.log));
            }
            RunEvent::Note(n) if !self.ui.quiet => {
                self.log.notice(&format!("growatt-onboard: {n}"));
            }
            RunEvent::Note(_) => {}
            RunEvent::SerialWarning(w) if !self.ui.quiet => self.log.event(
                json!({
                    "event": "serial_warning",
                    "row": w.row,
                    "sn": w.sn,
                    "message": w.message,
                }),
                &format!("growatt-onboard: row {}: warning: {}", w.row, w.message),
            ),
            RunEvent::SerialWarning(_) => {}
            RunEvent::Skipped(counts) => {
                if let Some(p) = self.progress.get() {
                    p.advance(1, &counts);
                }
            }
            RunEvent::Ended { line, counts } => {
                if let Some(p) = self.progress.get() {
                    p.advance(1, &counts);
                }
                if self.ui.verbose >= 1 {
                    let text = format!(
                        "row {}: {} {}{}",
                        line.row,
                        line.sn,
                        line.outcome,
                        if line.error_msg.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", line.error_msg)
                        }
                    );
                    self.log.event(
                        json!({
                            "event": "row",
                            "row": line.row,
                            "sn": line.sn,
                            "outcome": line.outcome.as_str(),
                            "error_code": line.error_code,
                            "error_msg": line.error_msg,
                            "attempts": line.attempts,
                        }),
                        &text,
                    );
                }
            }
            RunEvent::Throttle {
                deferred,
                all_wait_for,
            } => {
                if let Some(p) = self.progress.get() {
                    p.throttle(deferred, all_wait_for);
                }
                self.say_wait(deferred, all_wait_for);
            }
        }
    }

    /// When only rows waiting out the API's cooldown are left, says so once per wait, in a line
    /// of its own (above the bar, or as a cron line), with the time the next is due.
    fn say_wait(&self, deferred: u64, all_wait_for: Option<std::time::Duration>) {
        let mut said = self.said_wait.lock().unwrap_or_else(|e| e.into_inner());
        let Some(wait) = all_wait_for.filter(|_| deferred > 0 && !self.ui.quiet) else {
            *said = None;
            return;
        };
        let due = std::time::SystemTime::now() + wait;
        // The same wait, told again each second, moves by less than a second.
        let apart = |s: std::time::SystemTime| match due.duration_since(s) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if said.is_some_and(|s| apart(s) < std::time::Duration::from_secs(2)) {
            return;
        }
        *said = Some(due);
        let at = chrono::DateTime::<chrono::Local>::from(due).format("%H:%M:%S");
        self.log.notice(&format!(
            "growatt-onboard: {} the API's cooldown: next at {at} (in {})",
            crate::text::count(deferred, "row waits out", "rows wait out"),
            minutes(wait)
        ));
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(p) = self.progress.get() {
            p.finish();
        }
    }
}

/// `4m50s`, or `50s` under a minute.
fn minutes(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Prints a run's summary (or one JSON object), and why the run stopped when that is fatal.
pub fn print_summary(log: &Log, summary: &Summary, quiet: bool) {
    if log.is_json() {
        let mut v = serde_json::to_value(summary).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("event".into(), "summary".into());
            // Each warned row was its own `serial_warning` event already; the count stays.
            obj.remove("serial_warning_rows");
        }
        log.json(v);
    } else {
        log.block(&summary.render(quiet));
    }
    if summary.exit_code == crate::exit::Exit::Fatal.code() {
        if let Some(why) = &summary.stopped {
            log.error(why);
        }
    }
}

/// The sink `verify` reports to on the terminal.
pub fn verify_sink(log: &Log, ui: Ui) -> Sink<VerifyEvent> {
    let log = log.clone();
    Sink::new(move |event| match event {
        VerifyEvent::Engine(e) => engine_notice(&log, &ui, &e),
        VerifyEvent::Warning(w) => log.notice(&format!("growatt-onboard verify: {w}")),
        VerifyEvent::Collector(note) if !ui.quiet => log.notice(&note),
        VerifyEvent::PlantUnchecked { plant, rows, why } if !ui.quiet => {
            log.notice(&format!(
                "growatt-onboard verify: plant {plant}: {why}; its {rows} rows stay unchecked"
            ));
        }
        VerifyEvent::Located {
            row,
            sn,
            plant_cell,
            user_cell,
            located,
        } if !ui.quiet => {
            let text = match &located {
                Located::On { plant_id, user_id } => {
                    let user = user_id.map_or_else(String::new, |u| format!(" of user {u}"));
                    format!(
                        "row {row}: {sn} sits on plant {plant_id}{user}, not on plant {plant_cell} (user {user_cell}): move it there in ShineServer, or correct the row if plant {plant_id} is right"
                    )
                }
                Located::Nowhere => {
                    format!("row {row}: {sn} is on no plant yet (plant/sn_plant answered 10005)")
                }
                Located::Unknown(why) => {
                    format!("row {row}: {sn}: cannot tell where it sits: {why}")
                }
                Located::Stopped => return,
            };
            let (plant, user) = match located {
                Located::On { plant_id, user_id } => (Some(plant_id), user_id),
                _ => (None, None),
            };
            log.event(
                json!({
                    "event": "located",
                    "row": row,
                    "sn": sn,
                    "plant_id": plant_cell,
                    "located_plant_id": plant,
                    "located_user_id": user,
                }),
                &format!("growatt-onboard verify: {text}"),
            );
        }
        _ => {}
    })
}

/// Prints verify's closing lines (or one JSON object), the verify file's path, and why the run
/// stopped when that is fatal.
pub fn print_verified(log: &Log, report: &VerifyReport, out: &std::path::Path) {
    let exit = report.exit.unwrap_or(crate::exit::Exit::Fatal);
    if log.is_json() {
        log.json(json!({
            "event": "verify",
            "registered_rows": report.registered_rows,
            "linked": report.linked(),
            "linked_before": report.linked_before,
            "checked": report.checked,
            "unchecked": report.unchecked,
            "plants": report.plants,
            "linked_by_collector": report.linked_by_collector,
            "short_listings": report.short_listings.iter().map(|(plant, count, listed)| {
                json!({"plant_id": plant, "count": count, "listed": listed})
            }).collect::<Vec<_>>(),
            "requests": report.requests,
            "stopped": report.stopped,
            "verify_file": out,
            "exit_code": exit.code(),
        }));
    } else {
        log.block(&report.render());
        log.notice(&format!("  verify file: {}", out.display()));
    }
    if exit == crate::exit::Exit::Fatal {
        if let Some(why) = &report.stopped {
            log.error(why);
        }
    }
}

/// A pull's closing lines: in text, what the cache holds and where it is (two lines), then the
/// notices; in JSON, one object (the cache's path one of its fields), then the notices.
pub fn print_pulled(log: &Log, pulled: &Pulled) {
    let mut lines = pulled.describe().into_iter();
    if let Some(first) = lines.next() {
        log.event(
            json!({
                "event": "account_pull",
                "plants": pulled.plants,
                "users": pulled.users,
                "complete": pulled.complete,
                "plant_list_calls_today": pulled.calls_today.0,
                "user_list_calls_today": pulled.calls_today.1,
                "cache": pulled.path,
            }),
            &first,
        );
    }
    // The cache's line: in JSON it is the event's `cache` field already.
    let cache = lines.next();
    if !log.is_json() {
        if let Some(cache) = cache {
            log.notice(&cache);
        }
    }
    for line in lines {
        log.notice(&line);
    }
}

/// The sink the account screen reports to: a pull's lines and a partial cache's notice, unless
/// quiet.
pub fn account_sink(log: &Log, quiet: bool) -> Sink<AccountEvent> {
    let log = log.clone();
    Sink::new(move |event| {
        match event {
        _ if quiet => {}
        AccountEvent::Pulled(p) => print_pulled(&log, &p),
        AccountEvent::Partial { plants, users } => log.notice(&format!(
            "growatt-onboard: the account cache is partial ({plants} plants, {users} users listed so far): rows are flagged only for what it lists; `{REFRESH}` lists the rest"
        )),
    }
    })
}
