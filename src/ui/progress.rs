//! What a run tells the person or the log while it works, on stderr.
//!
//! On a terminal: an indicatif bar with rows done of the total, counts per outcome, pace, ETA and
//! any throttle pause; notices print above it. Not on a terminal (cron): no bar and no control
//! characters, but a plain progress line at a steady interval with the same figures. With
//! `--log-format json` every line is one JSON object, for log collectors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::log::Log;
use super::summary::Tally;
use crate::outcome::Outcome;

/// How progress is shown; decided once from the flags and the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing but notices (quiet, --no-progress).
    Hidden,
    /// An indicatif bar (stderr is a terminal).
    Bar,
    /// A plain line every so often (stderr is not a terminal).
    Lines(Duration),
}

/// The figures progress shows.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    done: u64,
    /// Rows per outcome, in [`Outcome::ALL`] order.
    outcomes: [u64; 6],
    skipped_done: u64,
    requests: u64,
    pace: f64,
    paused_for: Option<Duration>,
    /// Rows deferred by a 10012, waiting out the cooldown.
    deferred: u64,
    /// When only deferred rows are left: the time until the first is due.
    all_wait_for: Option<Duration>,
}

impl Snapshot {
    fn count(&self, o: Outcome) -> u64 {
        Outcome::ALL
            .iter()
            .position(|x| *x == o)
            .map_or(0, |i| self.outcomes[i])
    }
}

struct Inner {
    mode: Mode,
    log: Log,
    bar: Option<ProgressBar>,
    total: Option<u64>,
    started: Instant,
    snapshot: Mutex<Snapshot>,
}

/// The progress display and notice printer of a run. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

impl Progress {
    /// A display in `mode` over `total` rows (when known), printing through `log` (a bar is
    /// attached to it, so notices print above the bar). In [`Mode::Lines`] it starts a task
    /// that prints a line every interval (call within a Tokio runtime); the task ends when the
    /// last clone is dropped or [`Progress::finish`].
    pub fn new(mode: Mode, total: Option<u64>, log: &Log) -> Progress {
        let bar = match mode {
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(8));
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  ETA {eta}\n  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.enable_steady_tick(Duration::from_millis(250));
                log.attach_bar(bar.clone());
                Some(bar)
            }
            _ => None,
        };
        let progress = Progress {
            inner: Arc::new(Inner {
                mode,
                log: log.clone(),
                bar,
                total,
                started: Instant::now(),
                snapshot: Mutex::new(Snapshot::default()),
            }),
        };
        if let Mode::Lines(every) = mode {
            let every = every.max(Duration::from_millis(100));
            let weak = Arc::downgrade(&progress.inner);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    Progress { inner }.print_line();
                }
            });
        }
        progress
    }

    fn snapshot(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.inner
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Moves progress by rows that ended or were skipped, with the counts so far.
    pub fn advance(&self, rows: u64, tally: &Tally, pace: f64, paused_for: Option<Duration>) {
        if self.inner.mode == Mode::Hidden {
            return;
        }
        // Called for every row: copy plain numbers, and build text only for a bar to show.
        let text = {
            let mut s = self.snapshot();
            s.done += rows;
            s.outcomes = Outcome::ALL.map(|o| tally.count(o));
            s.skipped_done = tally.skipped_done;
            s.requests = tally.requests;
            s.pace = pace;
            s.paused_for = paused_for;
            self.inner.bar.is_some().then(|| counts_text(&s))
        };
        if let (Some(bar), Some(text)) = (&self.inner.bar, text) {
            bar.inc(rows);
            bar.set_message(text);
        }
    }

    /// The throttle state: rows deferred by a 10012, and the countdown when everything waits
    /// for the cooldown. Called every second, as nothing else moves the display then.
    pub fn throttle(&self, deferred: u64, all_wait_for: Option<Duration>) {
        if self.inner.mode == Mode::Hidden {
            return;
        }
        let text = {
            let mut s = self.snapshot();
            s.deferred = deferred;
            s.all_wait_for = all_wait_for;
            self.inner.bar.is_some().then(|| counts_text(&s))
        };
        if let (Some(bar), Some(text)) = (&self.inner.bar, text) {
            bar.set_message(text);
        }
    }

    /// The plain progress line (non-terminal mode), printed now.
    fn print_line(&self) {
        let s = self.snapshot().clone();
        let elapsed = self.inner.started.elapsed();
        let eta = match self.inner.total {
            Some(total) if s.done > 0 && total > s.done => {
                let per_row = elapsed.as_secs_f64() / s.done as f64;
                Some(Duration::from_secs_f64(per_row * (total - s.done) as f64))
            }
            _ => None,
        };
        if self.inner.log.is_json() {
            let counts: serde_json::Map<String, serde_json::Value> = Outcome::ALL
                .iter()
                .map(|o| (o.as_str().to_string(), json!(s.count(*o))))
                .collect();
            self.inner.log.json(json!({
                "event": "progress",
                "rows_done": s.done,
                "rows_total": self.inner.total,
                "outcomes": counts,
                "skipped_done": s.skipped_done,
                "requests": s.requests,
                "pace_per_second": (s.pace * 100.0).round() / 100.0,
                "eta_seconds": eta.map(|e| e.as_secs()),
                "paused_seconds": s.paused_for.map(|p| p.as_secs()),
                "deferred_rows": s.deferred,
                "all_wait_seconds": s.all_wait_for.map(|p| p.as_secs()),
            }));
        } else {
            let of = match self.inner.total {
                Some(t) if t > 0 => format!("{}/{t} rows ({}%)", s.done, s.done * 100 / t),
                _ => format!("{} rows", s.done),
            };
            let eta = eta
                .map(|e| format!(", ETA {}", clock(e)))
                .unwrap_or_default();
            self.inner.log.notice(&format!(
                "growatt-onboard: progress after {}: {of}{eta}; {}",
                clock(elapsed),
                counts_text(&s)
            ));
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}

fn counts_text(s: &Snapshot) -> String {
    let counts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| {
            let n = s.count(*o);
            (n > 0).then(|| format!("{} {n}", o.as_str()))
        })
        .collect();
    let mut msg = if counts.is_empty() {
        "no rows ended yet".to_string()
    } else {
        counts.join(" · ")
    };
    if s.skipped_done > 0 {
        msg.push_str(&format!(" · done earlier {}", s.skipped_done));
    }
    msg.push_str(&format!(
        "  ({} requests, pace {:.2}/s)",
        s.requests, s.pace
    ));
    if let Some(p) = s.paused_for {
        msg.push_str(&format!(
            "  paused by the API's rate limit, resuming in {}",
            clock(p)
        ));
    }
    if s.deferred > 0 {
        msg.push_str(&format!("  {} deferred by 10012", s.deferred));
    }
    if let Some(w) = s.all_wait_for {
        msg.push_str(&format!(
            "  all rows wait for the API's cooldown, resuming in {}",
            clock(w)
        ));
    }
    msg
}

/// `m:ss`, or `h:mm:ss` from an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_format() {
        assert_eq!(clock(Duration::from_secs(272)), "4:32");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }

    #[test]
    fn counts_line_names_outcomes_pace_and_pause() {
        let mut s = Snapshot::default();
        s.outcomes[0] = 3;
        s.requests = 4;
        s.pace = 2.0;
        s.paused_for = Some(Duration::from_secs(272));
        let text = counts_text(&s);
        assert!(text.contains("registered 3"), "{text}");
        assert!(text.contains("pace 2.00/s"), "{text}");
        s.deferred = 3;
        s.all_wait_for = Some(Duration::from_secs(61));
        let text = counts_text(&s);
        assert!(text.contains("3 deferred by 10012"), "{text}");
        assert!(text.contains("resuming in 1:01"), "{text}");
        assert!(text.contains("resuming in 4:32"), "{text}");
    }
}
