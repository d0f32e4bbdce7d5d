//! The `run` job, as the data flows: rows in → validate → skip done and duplicates → wait for a
//! slot and the pace → send → classify → retry or finish → write. It takes typed settings, a
//! cancellation token and an event sink, and returns a typed report; it prints nothing. Every
//! front (the terminal, the web page) drives the same job.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::StartError;
use super::line::line_for;
use super::serials::Serials;
use super::settings::RequestConfig;
use super::summary::{Summary, Tally};
use crate::account::{screened, Screen};
use crate::engine::{Call, Engine, EngineEvent, Sink, Stop, Wording};
use crate::exit::Exit;
use crate::input::suspect::SerialWarning;
use crate::input::{Device, FleetReader, InputRow, ReadOptions};
use crate::journal::{self, Next, ResultLine, ResultsError, ResultsWriter, RunLock};
use crate::outcome::{Outcome, CODE_PERMISSION_DENIED};
use crate::paths::Paths;

/// Everything a run needs, resolved: no flags, no terminal.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The fleet file.
    pub input: PathBuf,
    /// The results file and its sidecars.
    pub paths: Paths,
    /// How requests are sent.
    pub request: RequestConfig,
    /// Set the old results aside first.
    pub restart: bool,
    /// Column names and sheet.
    pub read: ReadOptions,
    /// Rows whose serial a spreadsheet may have damaged are `invalid`, not warned about and sent.
    pub strict_serials: bool,
    /// The account screen rows pass before any add, when the account is checked.
    pub account: Option<Screen>,
    /// Give the input's row count in [`RunEvent::Started`]. The rows are surveyed first in any
    /// case (a CSV is read twice; a spreadsheet is walked in memory) for the fleet's usual serial
    /// length.
    pub count_rows: bool,
    /// Emit an event per request, not only per row.
    pub attempt_events: bool,
    /// End the run when only rows waiting out the API's cooldown are left (they stay for the
    /// next run) instead of waiting for them.
    pub leave_throttled: bool,
    /// The words of the front, for the reason a run stopped.
    pub wording: Wording,
}

/// The figures of a run at one moment, for progress: cheap to copy, sent with every row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunCounts {
    /// Rows ended in this run, per outcome, in [`Outcome::ALL`] order.
    pub outcomes: [u64; Outcome::ALL.len()],
    /// Rows skipped as done by an earlier run.
    pub skipped_done: u64,
    /// Requests sent so far.
    pub requests: u64,
    /// The pace now, a second.
    pub pace: f64,
    /// How long the whole run still pauses after the API refused its pace.
    pub paused_for: Option<Duration>,
}

impl RunCounts {
    /// Rows ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.outcomes[i])
    }

    /// Rows ended or skipped.
    pub fn done(&self) -> u64 {
        self.outcomes.iter().sum::<u64>() + self.skipped_done
    }
}

/// What a run tells its front while it works.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The machinery's own news (a pause, the cooldown learnt, a request).
    Engine(EngineEvent),
    /// The input is open and the results file locked; `total` rows, when counted.
    Started {
        /// Data rows in the input, when counted.
        total: Option<u64>,
        /// The fleet file.
        input: PathBuf,
        /// The results file.
        results: PathBuf,
        /// Serials an earlier run finished (their rows are skipped).
        done_earlier: u64,
        /// The allowed pace, a second.
        rate: f64,
        /// Requests in flight at most.
        concurrency: usize,
    },
    /// Something the person should know, in words: the run continues earlier results, repaired
    /// a cut-off line, set files aside, or the account warns about rows.
    Note(String),
    /// A row whose serial a spreadsheet may have damaged; it is sent (or skipped as done) all
    /// the same.
    SerialWarning(SerialWarning),
    /// A row an earlier run finished was skipped.
    Skipped(RunCounts),
    /// A row ended; its line is in the results file.
    Ended {
        /// The row's line.
        line: Box<ResultLine>,
        /// The figures after it.
        counts: RunCounts,
    },
    /// Once a second: rows deferred by a 10012, and the countdown when only they are left.
    Throttle {
        /// Rows waiting out the API's cooldown.
        deferred: u64,
        /// When every row left waits: the time until the first is due.
        all_wait_for: Option<Duration>,
    },
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunReport {
    /// The summary, as written beside the results.
    pub summary: Summary,
    /// The exit code.
    pub exit: Exit,
}

/// The state all row tasks share: the request machinery plus this job's own bookkeeping.
struct Shared {
    engine: Arc<Engine>,
    events: Sink<RunEvent>,
    tally: Mutex<Tally>,
    /// The results file; `None` after a write failed (the run is stopping then).
    writer: Mutex<Option<ResultsWriter>>,
    /// Rows denied (10011) while the token is in doubt: written once the token proves good,
    /// dropped when the run stops for the token, so the next run sends them again.
    held: Mutex<Vec<ResultLine>>,
}

impl Shared {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a row that ended (its line is handed on with the event) or was skipped.
    fn advance(&self, line: Option<ResultLine>) {
        let pace = self.engine.pacer.status();
        let paused_for = pace
            .paused_until
            .map(|u| u.saturating_duration_since(Instant::now()));
        let counts = {
            let mut t = self.tally();
            match &line {
                Some(line) => t.record(line),
                None => t.skipped_done += 1,
            }
            t.requests = self.engine.counters.requests.load(Ordering::Relaxed);
            RunCounts {
                outcomes: Outcome::ALL.map(|o| t.count(o)),
                skipped_done: t.skipped_done,
                requests: t.requests,
                pace: pace.per_second,
                paused_for,
            }
        };
        self.events.emit(match line {
            Some(line) => RunEvent::Ended {
                line: Box::new(line),
                counts,
            },
            None => RunEvent::Skipped(counts),
        });
    }

    /// Ends a row: its line is written, or held while a denial may be the token's fault.
    fn finish(&self, line: ResultLine) {
        let denied = line.outcome == Outcome::Rejected
            && (line.error_code == Some(CODE_PERMISSION_DENIED)
                || matches!(line.http_status, Some(401 | 403)));
        if denied && self.engine.token_in_doubt() {
            self.held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
            return;
        }
        if !self.engine.token_in_doubt() {
            self.release_held(true);
        }
        self.write_line(line);
    }

    /// Writes the held lines (`write`), or drops them when the run stopped for the token.
    fn release_held(&self, write: bool) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        if write {
            for line in held {
                self.write_line(line);
            }
        }
    }

    /// Writes a row's line (one whole line, handed to the OS at once), then counts it.
    ///
    /// The line goes to the results file first: a log write that fails or blocks can never cost
    /// the row its line. A row whose line did not reach the file is not counted, so the summary
    /// only ever claims what the file holds; the run stops and the row is processed again next time.
    fn write_line(&self, line: ResultLine) {
        {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let Some(w) = writer.as_mut() else { return };
            if let Err(e) = w.write(&line) {
                *writer = None;
                self.engine.halt(Stop::Unwritable(e.to_string()));
                return;
            }
        }
        self.advance(Some(line));
    }
}

/// Runs the whole job until its rows end or `cancel` (or the time limit, or a fatal answer) stops
/// it, telling `events` what happens. Errors are fatal problems found before anything was sent;
/// everything after that is reported in the [`RunReport`].
pub async fn run(
    mut cfg: RunSettings,
    cancel: &CancellationToken,
    events: Sink<RunEvent>,
) -> Result<RunReport, StartError> {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let client = cfg.request.client()?;
    let results_path = &cfg.paths.results;
    // Check the input before touching anything on disk, so a bad input changes nothing.
    let reader = FleetReader::open_with(&cfg.input, &cfg.read)?;
    if journal::same_file(&cfg.input, results_path) {
        return Err(ResultsError::IsInput {
            results: results_path.clone(),
            input: cfg.input.clone(),
        }
        .into());
    }
    if let Some(parent) = results_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ResultsError::Io {
            path: results_path.clone(),
            source,
        })?;
    }
    let mut lock = RunLock::acquire(results_path, journal::RUN_HINT)?;
    let mut notes = Vec::new();
    if cfg.restart {
        // The history and the links belong to the results they describe: they go aside too.
        let p = &cfg.paths;
        for (what, path) in [
            ("results", &p.results),
            ("run history", &p.history),
            ("verify results", &p.verify),
            ("summary", &p.summary),
        ] {
            if let Some(aside) = journal::set_aside(path)? {
                notes.push(format!(
                    "--restart: the earlier {what} set aside as {}",
                    aside.display()
                ));
            }
        }
    }
    let (file, previous) = journal::open_for_append(results_path)?;
    lock.cover(results_path)?;
    if previous.repaired_bytes > 0 {
        notes.push(format!(
            "the results file ended in a cut-off line ({} bytes, from an interrupted run); it was removed and that row will be processed again",
            previous.repaired_bytes
        ));
    }
    if let Some(warning) = previous.damaged.describe(results_path) {
        notes.push(warning);
    }
    if previous.done.done_count() > 0 {
        notes.push(format!(
            "continuing: {} already done in {}",
            crate::text::count(
                previous.done.done_count() as u64,
                "serial is",
                "serials are"
            ),
            results_path.display()
        ));
    }
    // The fleet's usual serial length must be known before the first row is judged.
    let surveyed = match reader.survey() {
        Some(s) => Some(s),
        // A pipe gives its rows once, to the run itself.
        None if !reader.rereadable() => None,
        None => {
            let (path, read) = (cfg.input.clone(), cfg.read.clone());
            tokio::task::spawn_blocking(move || FleetReader::survey_file(&path, &read))
                .await
                .ok()
                .and_then(Result::ok)
        }
    };
    let total = surveyed.as_ref().filter(|_| cfg.count_rows).map(|s| s.rows);
    let surveyed = surveyed.unwrap_or_default();
    let serials = Serials::new(&surveyed, cfg.strict_serials);
    events.emit(RunEvent::Started {
        total,
        input: cfg.input.clone(),
        results: results_path.clone(),
        done_earlier: previous.done.done_count() as u64,
        rate: cfg.request.rate.per_second(),
        concurrency: cfg.request.concurrency,
    });
    for n in notes {
        events.emit(RunEvent::Note(n));
    }

    // A second handle on the same file, for the once-a-second sync off the async threads.
    let sync_handle = file.try_clone().map_err(|source| ResultsError::Io {
        path: results_path.clone(),
        source,
    })?;
    let mut seen = previous.done;
    let unsent = previous.unsent;
    let mut screen = cfg.account.take();
    let mut reader = reader;

    let engine = Engine::new(
        client,
        cfg.request.engine(cfg.attempt_events),
        events.map(RunEvent::Engine),
    );
    let watchers = engine.watch(cancel);
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        events: events.clone(),
        tally: Mutex::new(Tally::default()),
        writer: Mutex::new(Some(ResultsWriter::new(results_path, file))),
        held: Mutex::new(Vec::new()),
    });
    let ticker = tokio::spawn(sync_ticker(sync_handle, engine.clone()));
    let cooldown_wait = Arc::new(Mutex::new(Duration::ZERO));
    let throttle_display = tokio::spawn(throttle_ticker(
        engine.clone(),
        events.clone(),
        cfg.leave_throttled,
        cooldown_wait.clone(),
    ));

    // New rows in progress are bounded, so memory stays flat; rows waiting for a retry or a
    // cooldown no longer count (their number is bounded by the pace times the wait).
    let in_progress = Arc::new(Semaphore::new((cfg.request.concurrency * 16).max(256)));
    let mut tasks = tokio::task::JoinSet::new();
    // Whether every row was handed out, and whether a row task stopped before its row ended.
    let (mut all_read, mut unended, mut crashed) = (false, false, false);
    // Reading inline: a CSV record takes about a microsecond, and a read of the file is a rare,
    // short call, so no thread or channel is needed between the reader and the senders.
    let mut read = 0u32;
    loop {
        if engine.stop.is_cancelled() {
            break;
        }
        let Some(item) = reader.next_row() else {
            all_read = true;
            engine.scheduler.last_rows_in();
            break;
        };
        read = read.wrapping_add(1);
        if read.is_multiple_of(256) {
            // Long runs of rows that need no request must not keep the other tasks waiting.
            tokio::task::yield_now().await;
        }
        let row = match item {
            Ok(row) => row,
            Err(e) => {
                engine.halt(Stop::Unreadable(e.to_string()));
                break;
            }
        };
        let (next, warning) = serials.triage(&mut seen, row);
        if let Some(w) = warning {
            shared.tally().warn(w.clone());
            events.emit(RunEvent::SerialWarning(w));
        }
        match screened(screen.as_mut(), next) {
            Next::Done => shared.advance(None),
            // The same `invalid`, `duplicate` or `skipped` line as the row's latest: counted, not
            // appended.
            Next::Ended(line) if unsent.unchanged(&line) => shared.advance(Some(line)),
            Next::Ended(line) => shared.finish(line),
            Next::Send(row, device) => {
                let permit = tokio::select! {
                    biased;
                    _ = engine.stop.cancelled() => break,
                    p = in_progress.clone().acquire_owned() => p,
                };
                let Ok(permit) = permit else { break };
                let sh = shared.clone();
                tasks.spawn(async move { process_row(&sh, *row, device, permit).await });
                while let Some(r) = tasks.try_join_next() {
                    unended |= !matches!(r, Ok(true));
                    crashed |= r.is_err();
                }
            }
        }
    }
    drop(reader);
    drop(seen);
    if let Some(screen) = screen {
        for line in screen.warning_lines() {
            events.emit(RunEvent::Note(line));
        }
    }
    while let Some(r) = tasks.join_next().await {
        unended |= !matches!(r, Ok(true));
        crashed |= r.is_err();
    }
    shared.release_held(engine.stop_reason() != Some(Stop::Denied));
    watchers.end().await;
    ticker.abort();
    let _ = ticker.await;
    throttle_display.abort();
    let _ = throttle_display.await;

    let Ok(shared) = Arc::try_unwrap(shared) else {
        unreachable!("all row tasks have ended")
    };
    let Shared { writer, tally, .. } = shared;
    let mut stop = engine.stop_reason();
    // --max-runtime struck once every row was on its way, and all of them ended: nothing is left.
    if stop == Some(Stop::MaxRuntime) && all_read && !unended {
        stop = None;
    }
    // A row task that failed left its row without a line: the run must not look complete.
    if crashed && stop.is_none() {
        stop = Some(Stop::Internal(
            "a row's task failed unexpectedly; its row has no line and is sent again next run"
                .into(),
        ));
    }
    let writer = writer.into_inner().unwrap_or_else(|e| e.into_inner());
    match writer {
        Some(mut w) => {
            if let Err(e) = tokio::task::spawn_blocking(move || w.sync())
                .await
                .unwrap_or_else(|e| {
                    Err(ResultsError::Io {
                        path: results_path.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })
                })
            {
                stop = Some(Stop::Unwritable(e.to_string()));
            }
        }
        None => {
            if !matches!(stop, Some(Stop::Unwritable(_))) {
                stop = Some(Stop::Unwritable("a write failed".into()));
            }
        }
    }
    let mut tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let c = &engine.counters;
    tally.requests = c.requests.load(Ordering::Relaxed);
    tally.retries = c.retries.load(Ordering::Relaxed);
    tally.throttled_answers = c.throttled_answers.load(Ordering::Relaxed);
    tally.send_span = c.send_span();
    tally.cooldown_wait = *cooldown_wait.lock().unwrap_or_else(|e| e.into_inner());
    let pace = engine.pacer.status();
    tally.refused_pace = pace.lowest_refused;
    tally.held_pace = pace.highest_held;
    let exit = match &stop {
        Some(s) => s.exit().worst(tally.exit()),
        None => tally.exit(),
    };
    let mut summary = Summary::new(
        &cfg.input,
        results_path,
        started_at,
        started.elapsed(),
        &tally,
        engine.pacer.status().pauses,
        cfg.request.rate.per_second(),
        stop.as_ref().map(|s| s.describe_for(cfg.wording)),
        exit,
    );
    summary.fleet = Some(crate::report::fleet::FleetRecord::of(&cfg.input, &cfg.read));
    if let Err(e) = summary.write_json(&cfg.paths.summary) {
        events.emit(RunEvent::Note(format!(
            "cannot write the summary {}: {}",
            cfg.paths.summary.display(),
            crate::text::io_reason(&e)
        )));
    }
    if let Err(e) = summary.append_history() {
        events.emit(RunEvent::Note(format!(
            "cannot append to the run history: {}",
            crate::text::io_reason(&e)
        )));
    }
    drop(lock);
    Ok(RunReport { summary, exit })
}

/// Forces the results to the disk once a second (power loss, not just a crash), on a blocking
/// thread so the senders never wait for the disk.
async fn sync_ticker(file: std::fs::File, engine: Arc<Engine>) {
    let file = Arc::new(file);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let f = file.clone();
        match tokio::task::spawn_blocking(move || f.sync_data()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                engine.halt(Stop::Unwritable(e.to_string()));
                return;
            }
            Err(_) => return,
        }
    }
}

/// Tells the throttle state (rows deferred by 10012, the countdown when only they are left)
/// once a second, since no row ends while everything waits; adds up the time everything waited
/// into `waited`, and with `leave` ends the run once only such rows are left.
async fn throttle_ticker(
    engine: Arc<Engine>,
    events: Sink<RunEvent>,
    leave: bool,
    waited: Arc<Mutex<Duration>>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let w = engine.scheduler.waiting();
        let now = Instant::now();
        let only_deferred = w.all_wait_for.is_some() && engine.scheduler.all_rows_in();
        if only_deferred {
            *waited.lock().unwrap_or_else(|e| e.into_inner()) += now - last;
            if leave {
                engine.halt(Stop::LeftThrottled);
            }
        }
        last = now;
        events.emit(RunEvent::Throttle {
            deferred: w.deferred,
            all_wait_for: w.all_wait_for,
        });
    }
}

/// One row's life: attempts until it ends, or until the run stops (then it stays for the next run).
/// True when the row ended. `permit` counts the row as in progress until it first waits for a
/// retry or a cooldown.
async fn process_row(
    sh: &Shared,
    row: InputRow,
    device: Device,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> bool {
    let label = if sh.engine.attempt_events() {
        format!("row {} {}", row.row, device.sn)
    } else {
        String::new()
    };
    let client = &sh.engine.client;
    match sh
        .engine
        .call_releasing(&label, || client.add_device(&device), Some(permit))
        .await
    {
        Call::Stopped => false,
        Call::Ended {
            outcome,
            attempt,
            attempts,
            uncertain,
            last_code,
        } => {
            let mut line = line_for(&row, outcome, &attempt, attempts, uncertain);
            line.error_code = line.error_code.or(last_code);
            sh.finish(line);
            true
        }
    }
}
