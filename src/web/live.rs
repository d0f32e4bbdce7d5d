//! The page's consumer of the jobs' events: per fleet, what its run or verify is doing now,
//! updated from the events and announced to the event streams through a watch channel. Stop
//! cancels the job's token, as Ctrl-C does on the command line.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::{EngineEvent, Sink};
use crate::jobs::{RunCounts, RunEvent, VerifyEvent};

/// Which job holds a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Job {
    /// None: the fleet is ready or finished.
    #[default]
    Idle,
    /// A run.
    Run,
    /// A verify.
    Verify,
}

/// What a fleet's job is doing now.
#[derive(Debug, Clone, Default)]
pub struct Now {
    /// The job holding the fleet.
    pub job: Job,
    /// Stop was asked for; the requests in flight are ending.
    pub stopping: bool,
    /// Rows in the fleet, when counted.
    pub total: Option<u64>,
    /// The run's figures.
    pub counts: RunCounts,
    /// Rows waiting out the API's cooldown.
    pub deferred: u64,
    /// When only deferred rows are left: the time to the first.
    pub all_wait_for: Option<Duration>,
    /// When the run started.
    pub started: Option<Instant>,
    /// The last run's exit code, once it ended in this server's life.
    pub exit_code: Option<u8>,
    /// Why the last run stopped early, or could not start.
    pub stopped: Option<String>,
    /// Why the last verify stopped early, or could not start.
    pub verify_stopped: Option<String>,
    /// The latest notices, newest last (a few).
    pub notes: Vec<String>,
}

impl Now {
    /// Time left, from the rows that needed requests and the time they took (or the pace).
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total?.saturating_sub(self.counts.done());
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let sent = self.counts.done()
            - self.counts.skipped_done
            - self.counts.count(crate::outcome::Outcome::Invalid)
            - self.counts.count(crate::outcome::Outcome::Duplicate)
            - self.counts.count(crate::outcome::Outcome::Skipped);
        let secs = self.started?.elapsed().as_secs_f64();
        let per_second = if sent >= 5 && secs >= 2.0 {
            sent as f64 / secs
        } else if self.counts.pace > 0.0 {
            self.counts.pace
        } else {
            return None;
        };
        Some(Duration::from_secs_f64((left as f64 / per_second).min(1e9)))
    }
}

/// One fleet's live state.
pub struct Live {
    now: Mutex<Now>,
    cancel: Mutex<Option<CancellationToken>>,
    changed: watch::Sender<u64>,
    /// The report of the fleet's files as last read, with the files' sizes and times then: an
    /// open page asks for the status every second, and the files rarely change between asks.
    read: Mutex<Option<(FilesKey, std::sync::Arc<crate::report::ReportData>)>>,
}

/// The size and modification time of each file a report reads (a missing file is `None`).
type FilesKey = Vec<Option<(u64, std::time::SystemTime)>>;

impl Default for Live {
    fn default() -> Self {
        Live {
            now: Mutex::new(Now::default()),
            cancel: Mutex::new(None),
            changed: watch::channel(0).0,
            read: Mutex::new(None),
        }
    }
}

impl Live {
    /// The report of `results` (and its sidecars, and the fleet it joins), read again only when
    /// one of them changed.
    pub fn report(
        &self,
        results: &std::path::Path,
    ) -> Option<std::sync::Arc<crate::report::ReportData>> {
        let paths = crate::paths::Paths::of_results(results);
        // The fleet is the one the report read last: a new run that names another changes the
        // summary, and so the key, first.
        let key = |fleet: Option<&std::path::Path>| -> FilesKey {
            [results, &paths.verify, &paths.summary, &paths.history]
                .into_iter()
                .chain(fleet)
                .map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)))
                })
                .collect()
        };
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, data)) = read.as_ref() {
            if *k == key(data.fleet_file.as_deref()) {
                return Some(data.clone());
            }
        }
        let data = std::sync::Arc::new(crate::report::load(results).ok()?);
        *read = Some((key(data.fleet_file.as_deref()), data.clone()));
        Some(data)
    }

    /// A copy of what the job is doing now.
    pub fn now(&self) -> Now {
        self.now.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the state and tells the event streams.
    pub fn update(&self, f: impl FnOnce(&mut Now)) {
        f(&mut self.now.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes on every change.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Claims the fleet for `job`: its cancellation token, or `None` while another job holds it.
    pub fn claim(&self, job: Job) -> Option<CancellationToken> {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if now.job != Job::Idle {
            return None;
        }
        let cancel = CancellationToken::new();
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some(cancel.clone());
        now.job = job;
        now.stopping = false;
        now.notes.clear();
        if job == Job::Run {
            now.counts = RunCounts::default();
            now.total = None;
            now.deferred = 0;
            now.all_wait_for = None;
            now.started = Some(Instant::now());
            now.exit_code = None;
            now.stopped = None;
        } else {
            now.verify_stopped = None;
        }
        drop(now);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        Some(cancel)
    }

    /// Asks the job to stop, as Ctrl-C does; false when none runs.
    pub fn stop(&self) -> bool {
        let cancel = self
            .cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(cancel) = cancel else { return false };
        self.update(|n| n.stopping = n.job != Job::Idle);
        cancel.cancel();
        true
    }

    /// The job ended: the fleet is free again.
    pub fn release(&self, f: impl FnOnce(&mut Now)) {
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.update(|n| {
            n.job = Job::Idle;
            n.stopping = false;
            n.deferred = 0;
            n.all_wait_for = None;
            f(n);
        });
    }

    fn note(&self, text: String) {
        self.update(|n| {
            n.notes.push(text);
            let over = n.notes.len().saturating_sub(5);
            n.notes.drain(..over);
        });
    }

    fn engine(&self, event: &EngineEvent) {
        match event {
            EngineEvent::Paused { pause, pace } => self.note(format!(
                "paused by the API's rate limit (10012) for {:.1}s; pace now {pace:.2}/s",
                pause.as_secs_f64()
            )),
            EngineEvent::CooldownLearnt { cooldown } => self.note(format!(
                "the API refuses a repeated request within its cooldown; retries wait {}s",
                cooldown.as_secs()
            )),
            EngineEvent::Attempt { .. } => {}
        }
    }

    /// The sink a run reports to.
    pub fn run_sink(self: &std::sync::Arc<Live>) -> Sink<RunEvent> {
        let live = self.clone();
        Sink::new(move |event| match event {
            RunEvent::Engine(e) => live.engine(&e),
            RunEvent::Started { total, .. } => live.update(|n| n.total = total),
            RunEvent::Note(text) => live.note(text),
            RunEvent::SerialWarning(w) => {
                live.note(format!("row {}: warning: {}", w.row, w.message))
            }
            RunEvent::Skipped(counts) | RunEvent::Ended { counts, .. } => {
                live.update(|n| n.counts = counts)
            }
            RunEvent::Throttle {
                deferred,
                all_wait_for,
            } => live.update(|n| {
                n.deferred = deferred;
                n.all_wait_for = all_wait_for;
            }),
        })
    }

    /// The sink a verify reports to.
    pub fn verify_sink(self: &std::sync::Arc<Live>) -> Sink<VerifyEvent> {
        let live = self.clone();
        Sink::new(move |event| match event {
            VerifyEvent::Engine(e) => live.engine(&e),
            VerifyEvent::Warning(w) => live.note(w),
            VerifyEvent::PlantUnchecked { plant, rows, why } => live.note(format!(
                "plant {plant}: {why}; its {rows} rows stay unchecked"
            )),
            VerifyEvent::Collector(note) => live.note(note),
            VerifyEvent::Located { .. } => {}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_report_is_read_again_when_the_fleet_changes() {
        let (dir, results) = crate::testing::file_with(
            "f.results.csv",
            "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
             2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
             3,1,A2,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n",
        );
        let fleet = dir.path().join("f.csv");
        std::fs::write(&fleet, "plant_id,sn,c_user_id\n1,A1,5\n1,A2,5\n").unwrap();
        let record =
            crate::report::fleet::FleetRecord::of(&fleet, &crate::input::ReadOptions::default());
        let summary = serde_json::json!({ "input": fleet, "fleet": record });
        std::fs::write(
            crate::paths::Paths::of_results(&results).summary,
            summary.to_string(),
        )
        .unwrap();
        let live = Live::default();
        assert_eq!(live.report(&results).unwrap().rows(), 2);
        // A row removed from the fleet, nothing else touched.
        std::fs::write(&fleet, "plant_id,sn,c_user_id\n1,A1,5\n").unwrap();
        let data = live.report(&results).unwrap();
        assert_eq!(data.rows(), 1);
        assert_eq!(data.removed_total, 1);
        // Unchanged files: the same report, not read again.
        assert!(std::sync::Arc::ptr_eq(
            &data,
            &live.report(&results).unwrap()
        ));
    }
}
