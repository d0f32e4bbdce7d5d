//! The one emitter of what the tool tells a person or a log collector on stderr: notices, row
//! events, progress lines, errors and summaries, as text or as one JSON object per line.
//!
//! Every line is escaped here, in one place: control characters from a server's message or an
//! input cell (ESC sequences, CR, LF, OSC 52) are shown as `\u{1b}`, `\r`, never acted on, so
//! neither a terminal nor a log collector can be driven or handed a forged line.
//!
//! A write that fails (stderr closed, `| head` gone) is dropped, never a panic: the results file,
//! not the log, is the record of what happened.

use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use indicatif::ProgressBar;
use serde_json::{json, Value};

struct Inner {
    json: bool,
    /// Text lines start with the time (UTC, to the second): for logs that collect many runs.
    stamped: bool,
    /// The progress bar, once one is drawn: lines then print above it.
    bar: OnceLock<ProgressBar>,
}

/// Where stderr lines go. Cheap to clone; every clone prints the same way.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("json", &self.inner.json)
            .finish()
    }
}

impl Log {
    /// Text lines, or one JSON object per line when `json`.
    pub fn new(json: bool) -> Log {
        Log {
            inner: Arc::new(Inner {
                json,
                stamped: false,
                bar: OnceLock::new(),
            }),
        }
    }

    /// Like [`Log::new`], and text lines start with the time (`2026-05-04T10:00:00Z `) when
    /// `stamped`: for stderr that goes to a log file (cron), where runs appended one after
    /// another must be told apart. JSON lines carry their `ts` field either way.
    pub fn with_timestamps(json: bool, stamped: bool) -> Log {
        Log {
            inner: Arc::new(Inner {
                json,
                stamped,
                bar: OnceLock::new(),
            }),
        }
    }

    /// Whether lines are JSON objects.
    pub fn is_json(&self) -> bool {
        self.inner.json
    }

    /// From now on, lines print above `bar` (a second bar is ignored).
    pub(crate) fn attach_bar(&self, bar: ProgressBar) {
        let _ = self.inner.bar.set(bar);
    }

    /// A notice: `text` as it is, or `{"event":"notice","message":…}`.
    pub fn notice(&self, text: &str) {
        if self.inner.json {
            self.json(json!({ "event": "notice", "message": text }));
        } else {
            self.line(text);
        }
    }

    /// A structured event: the object in JSON mode, else `text`.
    pub fn event(&self, value: Value, text: &str) {
        if self.inner.json {
            self.json(value);
        } else {
            self.line(text);
        }
    }

    /// A fatal error: `growatt-onboard: error: …`, or `{"event":"error","message":…}`.
    pub fn error(&self, message: &str) {
        if self.inner.json {
            self.json(json!({ "event": "error", "message": message }));
        } else {
            self.line(&format!("growatt-onboard: error: {message}"));
        }
    }

    /// One JSON object on a line of its own, with a `ts` field added.
    pub fn json(&self, mut value: Value) {
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "ts".into(),
                json!(humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
            );
        }
        let text = value.to_string();
        self.emit(&crate::text::escape_json_controls(&text));
    }

    /// Text that already ends in a newline (a summary block), printed as it is; each line starts
    /// with the time when lines are stamped.
    pub fn block(&self, text: &str) {
        let mut text = crate::text::escape_controls(text, true);
        if self.inner.stamped && !self.inner.json {
            let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
            text = text.lines().map(|l| format!("{now} {l}\n")).collect();
        }
        match self.inner.bar.get() {
            Some(bar) if !bar.is_finished() => bar.println(text.trim_end_matches('\n')),
            _ => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }

    fn line(&self, text: &str) {
        self.emit(&crate::text::escape_controls(text, false));
    }

    /// Writes one line already made safe, with the time in front when lines are stamped.
    fn emit(&self, text: &str) {
        let stamped;
        let text = if self.inner.stamped && !self.inner.json {
            stamped = format!(
                "{} {text}",
                humantime::format_rfc3339_seconds(SystemTime::now())
            );
            stamped.as_str()
        } else {
            text
        };
        match self.inner.bar.get() {
            Some(bar) if !bar.is_finished() => bar.println(text),
            _ => {
                let mut err = std::io::stderr().lock();
                let _ = err
                    .write_all(text.as_bytes())
                    .and_then(|()| err.write_all(b"\n"));
            }
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output, never in a panic.
pub fn stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}
