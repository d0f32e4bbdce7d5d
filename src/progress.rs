//! Live progress on stderr: an indicatif bar on a terminal, nothing otherwise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::results::Outcome;
use crate::summary::Tally;

/// The progress display of a run; a no-op when hidden.
#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A hidden display.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// A bar over `total` rows on stderr.
    pub fn bar(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  ETA {eta}\n  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar: Some(bar) }
    }

    /// Moves the bar by rows that ended or were skipped, and refreshes the counts line.
    pub fn advance(&self, rows: u64, tally: &Tally, pace: f64, paused_for: Option<Duration>) {
        let Some(bar) = &self.bar else { return };
        bar.inc(rows);
        let counts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|o| {
                let n = tally.count(*o);
                (n > 0).then(|| format!("{} {n}", o.as_str()))
            })
            .collect();
        let mut msg = counts.join(" · ");
        if tally.skipped_done > 0 {
            msg.push_str(&format!(" · done earlier {}", tally.skipped_done));
        }
        msg.push_str(&format!(
            "  ({} requests, pace {pace:.2}/s)",
            tally.requests
        ));
        if let Some(p) = paused_for {
            let s = p.as_secs();
            msg.push_str(&format!(
                "  paused by the API's rate limit, resuming in {}:{:02}",
                s / 60,
                s % 60
            ));
        }
        bar.set_message(msg);
    }

    /// Prints a line above the bar (or plainly on stderr without one).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
