//! What a run tells the person or the log while it works, on stderr.
//!
//! On a terminal: an indicatif bar with rows done of the total, counts per outcome, pace, ETA and
//! any throttle pause; notices print above it. Not on a terminal (cron): no bar and no control
//! characters, but a plain progress line at a steady interval with the same figures. With
//! `--log-format json` every line is one JSON object, for log collectors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde_json::json;

use super::log::Log;
use crate::jobs::RunCounts;
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
    outcomes: [u64; Outcome::ALL.len()],
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

    /// Rows that ended after requests (the ones that take time), as opposed to the rows that
    /// end at once: done earlier, invalid, duplicate, skipped.
    fn sent(&self) -> u64 {
        [
            Outcome::Registered,
            Outcome::AlreadyRegistered,
            Outcome::Rejected,
            Outcome::Failed,
        ]
        .iter()
        .map(|o| self.count(*o))
        .sum()
    }

    /// Time left: the rows not yet ended, at the pace rows that needed requests actually ended
    /// so far (or, before enough of them did, at the allowed pace). Rows that end at once
    /// (done earlier, invalid, duplicate, skipped) do not make the run look faster than it is.
    fn eta(&self, total: Option<u64>, elapsed: Duration) -> Option<Duration> {
        let left = total?.saturating_sub(self.done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let sent = self.sent();
        let secs = elapsed.as_secs_f64();
        let per_second = if sent >= 5 && secs >= 2.0 {
            sent as f64 / secs
        } else if self.pace > 0.0 {
            self.pace
        } else {
            return None;
        };
        Some(Duration::from_secs_f64((left as f64 / per_second).min(1e9)))
    }
}

struct Inner {
    mode: Mode,
    log: Log,
    bar: Option<ProgressBar>,
    total: Option<u64>,
    started: Instant,
    /// Shared with the bar's ETA field, which redraws between rows too.
    snapshot: Arc<Mutex<Snapshot>>,
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
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let bar = match mode {
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(8));
                bar.set_style(bar_style(total, snapshot.clone()));
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
                snapshot,
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

    /// Moves progress by rows that ended or were skipped, with the figures so far.
    pub fn advance(&self, rows: u64, counts: &RunCounts) {
        if self.inner.mode == Mode::Hidden {
            return;
        }
        // Called for every row: copy plain numbers, and build text only for a bar to show.
        let text = {
            let mut s = self.snapshot();
            s.done += rows;
            s.outcomes = counts.outcomes;
            s.skipped_done = counts.skipped_done;
            s.requests = counts.requests;
            s.pace = counts.pace;
            s.paused_for = counts.paused_for;
            self.inner.bar.is_some().then(|| bar_text(&s))
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
            self.inner.bar.is_some().then(|| bar_text(&s))
        };
        if let (Some(bar), Some(text)) = (&self.inner.bar, text) {
            bar.set_message(text);
        }
    }

    /// The plain progress line (non-terminal mode), printed now.
    fn print_line(&self) {
        let s = self.snapshot().clone();
        let elapsed = self.inner.started.elapsed();
        let eta = s.eta(self.inner.total, elapsed);
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
                _ => crate::text::count(s.done, "row", "rows"),
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

/// The bar's two lines: the bar with its counts and ETA, and below it the counts line (set as the
/// message). The first line ends in a space, so its last column is blank: a console that leaves a
/// line's last column standing when it erases the line (Wine's, on Ctrl-C) leaves nothing visible.
fn bar_style(total: Option<u64>, snapshot: Arc<Mutex<Snapshot>>) -> ProgressStyle {
    let left = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let s = snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match s.eta(total, state.elapsed()) {
            Some(eta) => w.write_str(&clock(eta)),
            None => w.write_str("-:--"),
        };
    };
    // The second line is cut to the terminal's width by `advance`, so it never wraps (a wrapped
    // line, or the `^C` a terminal echoes at its end, would leave a stale line behind when the
    // bar redraws).
    ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows, ETA {left} \n  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key("left", left)
    .progress_chars("=> ")
}

/// The bar's counts line, cut to the terminal's width less room for the `^C` a terminal echoes
/// after it (so a Ctrl-C never wraps it and leaves a stale line behind).
fn bar_text(s: &Snapshot) -> String {
    fit(&counts_text(s), terminal_width().saturating_sub(4))
}

/// The terminal's width in columns (80 when it cannot be told).
fn terminal_width() -> usize {
    match console::Term::stderr().size_checked() {
        Some((_, cols)) if cols > 0 => cols as usize,
        _ => 80,
    }
}

/// `text` cut to `width` columns (with an ellipsis), so a line never wraps.
fn fit(text: &str, width: usize) -> String {
    if console::measure_text_width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = console::measure_text_width(c.encode_utf8(&mut buf));
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

fn counts_text(s: &Snapshot) -> String {
    let mut parts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| {
            let n = s.count(*o);
            (n > 0).then(|| format!("{} {n}", o.as_str()))
        })
        .collect();
    if parts.is_empty() {
        parts.push("no rows ended yet".to_string());
    }
    if s.skipped_done > 0 {
        parts.push(format!("done earlier {}", s.skipped_done));
    }
    let mut msg = parts.join(" · ");
    msg.push_str(&format!(
        " ({}, pace {:.2}/s)",
        crate::text::count(s.requests, "request", "requests"),
        s.pace
    ));
    if let Some(p) = s.paused_for {
        msg.push_str(&format!(
            "; paused by the API's rate limit, resuming in {}",
            clock(p)
        ));
    }
    if s.deferred > 0 {
        msg.push_str(&format!("; {} deferred by 10012", s.deferred));
    }
    if let Some(w) = s.all_wait_for {
        msg.push_str(&format!(
            "; all rows wait for the API's cooldown, resuming in {}",
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
    fn the_bar_leaves_the_last_column_of_its_first_line_blank() {
        use indicatif::{InMemoryTerm, TermLike};
        let term = InMemoryTerm::new(4, 120);
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let bar = ProgressBar::with_draw_target(
            Some(300),
            ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        bar.set_style(bar_style(Some(300), snapshot));
        bar.set_message("registered 27");
        bar.set_position(27);
        bar.tick();
        let contents = term.contents();
        let first = contents.lines().next().unwrap_or_default();
        assert!(first.contains("27/300 rows, ETA "), "{contents}");
        assert!(first.contains("=>"), "the bar is drawn: {first}");
        assert_eq!(term.width(), 120);
        assert_eq!(
            first.trim_end().chars().count(),
            119,
            "the bar fills the line but for its last column: {first:?}"
        );
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(Duration::from_secs(272)), "4:32");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }

    #[test]
    fn eta_after_a_resume_counts_only_rows_that_need_requests() {
        // 106 rows skipped at once as done earlier, then 4 registered in 2 s: 190 rows left at
        // 2 rows a second is 95 s, not the 3 s that counting skipped rows as progress gives.
        let mut s = Snapshot {
            done: 110,
            skipped_done: 106,
            pace: 2.0,
            ..Snapshot::default()
        };
        // (rows registered, rows invalid, rows ended, seconds elapsed, the estimate, why)
        for (registered, invalid, done, elapsed, want, why) in [
            (4, 0, 110, 2, 95, "too few ended yet: the allowed 2/s"),
            (10, 0, 116, 5, 92, "184 rows left at 2 rows/s"),
            (10, 50, 166, 5, 67, "invalid rows end at once too"),
        ] {
            s.outcomes[0] = registered;
            s.outcomes[4] = invalid;
            s.done = done;
            let eta = s.eta(Some(300), Duration::from_secs(elapsed)).unwrap();
            assert_eq!(eta.as_secs(), want, "{eta:?}: {why}");
        }
        assert_eq!(s.eta(None, Duration::from_secs(5)), None);
        assert_eq!(
            s.eta(Some(166), Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn the_bar_message_fits_an_80_column_terminal() {
        let mut s = Snapshot {
            skipped_done: 123_456,
            requests: 999_999,
            pace: 12.5,
            paused_for: Some(Duration::from_secs(299)),
            ..Snapshot::default()
        };
        s.outcomes = [100_000, 20_000, 3_000, 400, 50, 6, 7];
        let text = counts_text(&s);
        assert!(text.chars().count() > 76, "the case needs cutting: {text}");
        let cut = fit(&text, 76);
        assert_eq!(cut.chars().count(), 76, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(fit("short", 76), "short");
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
        assert!(text.contains("(4 requests, "), "{text}");
        assert!(!text.contains("  "), "no double spaces: {text}");
        s.requests = 1;
        s.skipped_done = 7;
        let text = counts_text(&s);
        assert!(text.contains("(1 request, "), "{text}");
        assert!(text.contains("done earlier 7"), "{text}");
    }
}
