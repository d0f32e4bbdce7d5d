//! The terminal front: the one emitter of stderr lines, the progress bar and cron lines, the
//! signals that cancel a job, and the consumers that turn a job's events into all of these.

pub mod log;
pub mod progress;
pub mod signals;

pub use log::Log;
pub mod views;

pub use progress::{Mode, Progress};

use std::io::IsTerminal;
use std::time::Duration;

use crate::cli::{LogFormat, OutputArgs};

/// How the run talks to the person or the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ui {
    /// Show progress at all (not quiet, not --no-progress).
    pub progress: bool,
    /// Stderr is a terminal: a bar; otherwise plain lines every `progress_interval`.
    pub terminal: bool,
    /// How often the plain progress line prints when stderr is not a terminal.
    pub progress_interval: Duration,
    /// Only errors and the final summary line.
    pub quiet: bool,
    /// 0 normal, 1 per row, 2 per request.
    pub verbose: u8,
    /// One JSON object per line on stderr.
    pub log_json: bool,
}

impl Ui {
    /// Decides once from the flags and whether stderr is a terminal.
    pub fn from_args(o: &OutputArgs) -> Ui {
        Ui {
            progress: !o.no_progress && !o.quiet,
            terminal: std::io::stderr().is_terminal(),
            progress_interval: o.progress_interval,
            quiet: o.quiet,
            verbose: o.verbose,
            log_json: o.log_format == LogFormat::Json,
        }
    }

    /// The emitter of stderr lines these settings call for: text lines carry the time when
    /// stderr is not a terminal (a log file collects many runs).
    pub fn log(&self) -> Log {
        Log::with_timestamps(self.log_json, !self.terminal)
    }

    /// The progress display this calls for.
    pub fn progress_mode(&self) -> Mode {
        match (self.progress, self.terminal && !self.log_json) {
            (false, _) => Mode::Hidden,
            (true, true) => Mode::Bar,
            (true, false) => Mode::Lines(self.progress_interval),
        }
    }
}
