//! The end-of-run summary: counts per outcome and per error code, requests, pauses, time, rate;
//! printed on stderr and written as JSON beside the results file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::exit::Exit;
use crate::input::suspect::SerialWarning;
use crate::journal::ResultLine;
use crate::outcome::Outcome;
use crate::paths::Paths;

use super::serials::WARNINGS_LISTED;

/// Running counts, updated as rows end.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Rows ended in this run, per outcome.
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Rows ended in this run, per final error code.
    pub codes: BTreeMap<i64, u64>,
    /// Rows skipped because an earlier run finished them.
    pub skipped_done: u64,
    /// Requests sent (every attempt, throttled ones too).
    pub requests: u64,
    /// Requests that were retries of a row.
    pub retries: u64,
    /// Time from the first request's start to the last one's.
    pub send_span: Option<Duration>,
    /// The lowest pace the API refused (first attempts answered 10012), if any.
    pub refused_pace: Option<f64>,
    /// The highest pace held without a refusal, if any.
    pub held_pace: Option<f64>,
    /// Time when only rows waiting out the API's cooldown were left (nothing could be sent).
    pub cooldown_wait: Duration,
    /// Answers that were 10012.
    pub throttled_answers: u64,
    /// Rows whose serial a spreadsheet may have damaged (sent, or done earlier, all the same).
    pub serial_warnings: u64,
    /// The first 2,000 of them, for the summary and the reports.
    pub warned: Vec<SerialWarning>,
}

impl Tally {
    /// Counts a row whose serial a spreadsheet may have damaged.
    pub fn warn(&mut self, warning: SerialWarning) {
        self.serial_warnings += 1;
        if self.warned.len() < WARNINGS_LISTED {
            self.warned.push(warning);
        }
    }

    /// Counts a row that ended.
    pub fn record(&mut self, line: &ResultLine) {
        *self.outcomes.entry(line.outcome).or_default() += 1;
        if let Some(code) = line.error_code {
            *self.codes.entry(code).or_default() += 1;
        }
    }

    /// Rows ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }

    /// Rows ended in this run.
    pub fn ended(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// The exit code the rows alone call for: 3 when any needs attention, else 0.
    pub fn exit(&self) -> Exit {
        if Outcome::ALL
            .iter()
            .any(|o| o.needs_attention() && self.count(*o) > 0)
        {
            Exit::NeedsAttention
        } else {
            Exit::Success
        }
    }
}

/// The summary as written to `<results stem>.summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The tool's version.
    pub version: &'static str,
    /// The input file.
    pub input: PathBuf,
    /// The results file.
    pub results: PathBuf,
    /// When the run started (RFC 3339 UTC).
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// Wall time in seconds.
    pub wall_seconds: f64,
    /// Rows that ended in this run, per outcome (all six outcomes listed).
    pub outcomes: BTreeMap<String, u64>,
    /// Rows that ended in this run, per final API error code.
    pub error_codes: BTreeMap<String, u64>,
    /// Rows ended in this run.
    pub rows_ended: u64,
    /// Rows skipped as done by an earlier run.
    pub skipped_done: u64,
    /// Requests sent, retries and throttled ones included.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Answers that were 10012.
    pub throttled_answers: u64,
    /// Times the API refused the account-wide pace (first attempts answered 10012); each
    /// cost a short pause and a slower pace.
    pub throttle_pauses: u32,
    /// A `--rate` below the pace the API refused, when it refused one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_rate: Option<String>,
    /// The configured rate, requests per second.
    pub configured_rate_per_second: f64,
    /// Requests per second while requests could go out: the time when only rows waiting out
    /// the API's cooldown were left is not counted.
    pub achieved_rate_per_second: f64,
    /// Seconds when only rows waiting out the API's cooldown were left.
    pub cooldown_wait_seconds: f64,
    /// Rows whose serial a spreadsheet may have damaged: warned about, sent all the same.
    pub serial_warnings: u64,
    /// The first of those rows with their warnings (at most 2,000), which the
    /// reports show beside the rows; left out of the run history.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub serial_warning_rows: Vec<SerialWarning>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The exit code.
    pub exit_code: u8,
    /// The fleet file (absolute) and how its columns were read, so `report` joins the same rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<crate::report::fleet::FleetRecord>,
}

impl Summary {
    /// Builds the summary from the tally and the run's facts.
    #[allow(clippy::too_many_arguments)] // one plain constructor beats a builder for a record
    pub fn new(
        input: &Path,
        results: &Path,
        started: SystemTime,
        wall: Duration,
        tally: &Tally,
        pauses: u32,
        configured_rate: f64,
        stopped: Option<String>,
        exit: Exit,
    ) -> Summary {
        let outcomes = Outcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), tally.count(*o)))
            .collect();
        let error_codes = tally
            .codes
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect();
        let secs = wall.as_secs_f64();
        Summary {
            version: env!("CARGO_PKG_VERSION"),
            input: input.to_path_buf(),
            results: results.to_path_buf(),
            started_at: humantime::format_rfc3339_millis(started).to_string(),
            finished_at: humantime::format_rfc3339_millis(started + wall).to_string(),
            wall_seconds: (secs * 1000.0).round() / 1000.0,
            outcomes,
            error_codes,
            rows_ended: tally.ended(),
            skipped_done: tally.skipped_done,
            requests: tally.requests,
            retries: tally.retries,
            throttled_answers: tally.throttled_answers,
            throttle_pauses: pauses,
            suggested_rate: tally
                .refused_pace
                .map(|refused| suggest_rate(refused, tally.held_pace)),
            configured_rate_per_second: configured_rate,
            achieved_rate_per_second: achieved(tally, secs),
            cooldown_wait_seconds: (tally.cooldown_wait.as_secs_f64() * 10.0).round() / 10.0,
            serial_warnings: tally.serial_warnings,
            serial_warning_rows: tally.warned.clone(),
            stopped,
            exit_code: exit.code(),
            fleet: None,
        }
    }

    /// Writes the JSON file (whole, via a temporary file and a rename).
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        crate::files::write_whole(path, &json)
    }

    /// Appends this summary as one JSON line to the run history beside the results
    /// (`<results stem>.history.jsonl`), which `report` shows.
    pub fn append_history(&self) -> std::io::Result<()> {
        let path = Paths::of_results(&self.results).history;
        // One short line a run: the warned rows are in the summary file, not repeated here.
        let entry = Summary {
            serial_warning_rows: Vec::new(),
            ..self.clone()
        };
        let mut line = serde_json::to_string(&entry)?;
        line.push('\n');
        let mut f = crate::files::open_append(&path, false)?;
        std::io::Write::write_all(&mut f, line.as_bytes())
    }

    /// The lines printed on stderr at the end of a run.
    pub fn render(&self, quiet: bool) -> String {
        let counts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|o| {
                let n = self.outcomes.get(o.as_str()).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} {}", o.as_str().replace('_', " ")))
            })
            .collect();
        let counts = if counts.is_empty() {
            "no rows ended".to_string()
        } else {
            counts.join(", ")
        };
        let skipped = if self.skipped_done > 0 {
            format!(" ({} done earlier)", self.skipped_done)
        } else {
            String::new()
        };
        let first = format!(
            "growatt-onboard: {} in {}: {counts}{skipped}",
            crate::text::count(self.rows_ended, "row", "rows"),
            format_wall(self.wall_seconds)
        );
        if quiet {
            return first + "\n";
        }
        let mut out = first;
        out.push('\n');
        if !self.error_codes.is_empty() {
            let codes: Vec<String> = self
                .error_codes
                .iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect();
            out.push_str(&format!("  error codes: {}\n", codes.join(", ")));
        }
        out.push_str(&format!(
            "  requests: {} ({}, {} throttled), throttle pauses: {}, achieved {:.2}/s of {:.2}/s allowed{}\n",
            self.requests,
            crate::text::count(self.retries, "retry", "retries"),
            self.throttled_answers,
            self.throttle_pauses,
            self.achieved_rate_per_second,
            self.configured_rate_per_second,
            if self.cooldown_wait_seconds >= 1.0 {
                format!(
                    " (not counting {} when only rows waiting out the API's cooldown were left)",
                    format_wall(self.cooldown_wait_seconds)
                )
            } else {
                String::new()
            }
        ));
        if self.serial_warnings > 0 {
            out.push_str(&format!(
                "  serial warnings: {} (row{} {}): a spreadsheet may have changed {}; compare with the device label\n",
                self.serial_warnings,
                if self.serial_warnings == 1 { "" } else { "s" },
                warned_rows(&self.serial_warning_rows, self.serial_warnings),
                if self.serial_warnings == 1 { "its serial" } else { "their serials" }
            ));
        }
        if let Some(rate) = &self.suggested_rate {
            out.push_str(&format!(
                "  the API refused the account-wide pace {} time(s); next time try {rate}\n",
                self.throttle_pauses
            ));
        }
        // A fatal stop is said once, as the error line that follows the summary.
        if let Some(why) = self.stopped.as_ref().filter(|_| self.exit_code != 1) {
            out.push_str(&format!("  stopped early: {why}\n"));
        }
        out.push_str(&format!("  results: {}\n", self.results.display()));
        out
    }
}

/// The first warned rows' numbers, `4, 7, 9` (with `…` when there are more).
fn warned_rows(listed: &[SerialWarning], total: u64) -> String {
    const SHOWN: usize = 10;
    let rows: Vec<String> = listed
        .iter()
        .take(SHOWN)
        .map(|w| w.row.to_string())
        .collect();
    let more = if total > rows.len() as u64 {
        ", …"
    } else {
        ""
    };
    format!("{}{more}", rows.join(", "))
}

/// Requests per second: the starts' intervals over the time between the first and the last
/// start (n starts on a grid one period apart span n − 1 periods, so a run that kept to its rate
/// never reads above it); the wall time when there are too few starts.
fn achieved(tally: &Tally, wall_secs: f64) -> f64 {
    let rate = match tally.send_span {
        Some(span) if tally.requests >= 2 && span > tally.cooldown_wait => {
            (tally.requests - 1) as f64 / (span - tally.cooldown_wait).as_secs_f64()
        }
        _ if wall_secs > 0.0 => tally.requests as f64 / wall_secs,
        _ => 0.0,
    };
    (rate * 1000.0).floor() / 1000.0
}

/// A `--rate` with room below the refused pace: 80 % of it, never above the highest pace the
/// run held without refusals, in whole requests per second or per minute.
fn suggest_rate(refused: f64, held: Option<f64>) -> String {
    let safe = held.map_or(refused * 0.8, |h| h.min(refused * 0.8));
    if safe >= 1.0 {
        format!("--rate {}/s", safe.floor())
    } else {
        format!("--rate {}/min", (safe * 60.0).floor().max(1.0))
    }
}

fn format_wall(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = secs.round() as u64;
        if s < 3600 {
            format!("{}m{:02}s", s / 60, s % 60)
        } else {
            format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggested_rate_is_never_above_the_pace_the_run_held() {
        assert_eq!(suggest_rate(10.0, None), "--rate 8/s");
        assert_eq!(suggest_rate(7.5, Some(5.0)), "--rate 5/s");
        assert_eq!(suggest_rate(10.0, Some(9.5)), "--rate 8/s");
        assert_eq!(suggest_rate(1.0, Some(0.5)), "--rate 30/min");
    }

    #[test]
    fn summary_counts_and_text() {
        let mut t = Tally::default();
        let mut line = ResultLine {
            row: 2,
            plant_id: "1".into(),
            sn: "A".into(),
            c_user_id: "2".into(),
            outcome: Outcome::Registered,
            error_code: Some(0),
            error_msg: String::new(),
            attempts: 1,
            http_status: Some(200),
            latency_ms: Some(1),
            finished_at: SystemTime::UNIX_EPOCH,
        };
        t.record(&line);
        t.record(&line);
        line.outcome = Outcome::Rejected;
        line.error_code = Some(10004);
        t.record(&line);
        t.requests = 4;
        assert_eq!(t.exit(), Exit::NeedsAttention);
        let s = Summary::new(
            Path::new("f.csv"),
            Path::new("f.results.csv"),
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(2),
            &t,
            0,
            2.0,
            None,
            t.exit(),
        );
        assert_eq!(s.outcomes["registered"], 2);
        assert_eq!(s.outcomes["failed"], 0);
        assert_eq!(s.error_codes["10004"], 1);
        assert_eq!(s.achieved_rate_per_second, 2.0);
        let text = s.render(false);
        assert!(
            text.contains("3 rows in 2.0s: 2 registered, 1 rejected"),
            "{text}"
        );
        assert!(text.contains("10004 ×1"), "{text}");
        assert_eq!(s.render(true).lines().count(), 1);
    }

    #[test]
    fn the_summary_counts_serial_warnings_and_names_the_first_rows() {
        let mut t = Tally::default();
        for row in 2..15 {
            t.warn(SerialWarning {
                row,
                sn: "12345678".into(),
                message: "m".into(),
            });
        }
        let s = Summary::new(
            Path::new("f.xlsx"),
            Path::new("f.results.csv"),
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(1),
            &t,
            0,
            2.0,
            None,
            t.exit(),
        );
        assert_eq!((s.serial_warnings, s.serial_warning_rows.len()), (13, 13));
        let text = s.render(false);
        assert!(
            text.contains("  serial warnings: 13 (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …): a spreadsheet may have changed their serials; compare with the device label\n"),
            "{text}"
        );
        assert_eq!(
            t.exit(),
            Exit::Success,
            "a warning alone needs no attention"
        );
        let mut one = Tally::default();
        one.warn(SerialWarning {
            row: 7,
            sn: "100000".into(),
            message: "m".into(),
        });
        let s = Summary::new(
            Path::new("f.csv"),
            Path::new("f.results.csv"),
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(1),
            &one,
            0,
            2.0,
            None,
            one.exit(),
        );
        assert!(s
            .render(false)
            .contains("  serial warnings: 1 (row 7): a spreadsheet may have changed its serial;"));
    }

    #[test]
    fn wall_time_format() {
        assert_eq!(format_wall(3.25), "3.2s");
        assert_eq!(format_wall(151.0), "2m31s");
        assert_eq!(format_wall(3723.0), "1h02m03s");
    }
}
