//! The run, as the data flows: rows in → validate → skip done and duplicates → wait for a slot and
//! the pace → send → classify → retry or finish → write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::api::{Answer, Attempt, Client};
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::input::{sn_key, Device, FleetReader, InputError, InputRow};
use crate::pacer::Pacer;
use crate::policy::{Verdict, CODE_ALREADY};
use crate::progress::Progress;
use crate::results::{self, Outcome, ResultLine, ResultsError, ResultsWriter, RunLock};
use crate::summary::{Summary, Tally};

/// How many answers at the start of a run decide that a refused token is the token's fault.
const DENIAL_PROBE: u32 = 5;
/// Longest API message kept in a results line.
const MSG_LIMIT: usize = 500;

/// What stops a run before it ends by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `--max-runtime` elapsed.
    MaxRuntime,
    /// A throttle pause would outlast `--max-runtime`.
    Throttled,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The account lives on another region (-1).
    WrongRegion,
    /// The token was refused from the start (10011, HTTP 401/403).
    Denied,
    /// The results file could not be written.
    Unwritable(String),
    /// The input could not be read part-way.
    Unreadable(String),
}

impl Stop {
    /// The exit code this stop calls for.
    pub fn exit(&self) -> Exit {
        match self {
            Stop::MaxRuntime | Stop::Throttled => Exit::Incomplete,
            Stop::Interrupted => Exit::Interrupted,
            Stop::WrongRegion | Stop::Denied | Stop::Unwritable(_) | Stop::Unreadable(_) => {
                Exit::Fatal
            }
        }
    }

    /// What to tell the person.
    pub fn describe(&self) -> String {
        match self {
            Stop::MaxRuntime => "--max-runtime reached; run the same command again to continue".into(),
            Stop::Throttled => "the API's rate limit pause would outlast --max-runtime; run again later to continue".into(),
            Stop::Interrupted => "interrupted; every row that ended is in the results file, run again to continue".into(),
            Stop::WrongRegion => "the API answered -1: this account lives on another regional server; pick it with --region (eu, us, cn, au) or --base-url".into(),
            Stop::Denied => "the API refused the token (permission denied) on the first answers of the run; check GROWATT_TOKEN or --token-file, and --region".into(),
            Stop::Unwritable(e) => format!("cannot write the results file: {e}"),
            Stop::Unreadable(e) => format!("cannot read the input any further: {e}"),
        }
    }
}

/// A problem that ends the run before any row is sent.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input cannot be used.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The results file cannot be used.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Client(#[from] crate::api::ClientError),
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunReport {
    /// The summary, as written beside the results.
    pub summary: Summary,
    /// The exit code.
    pub exit: Exit,
}

enum WriterMsg {
    Line(ResultLine),
    Sync,
}

/// The state all row tasks share.
struct Shared {
    client: Client,
    cfg: RunConfig,
    pacer: Pacer,
    slots: Semaphore,
    stop: CancellationToken,
    stop_reason: Mutex<Option<Stop>>,
    tally: Mutex<Tally>,
    /// Answers seen so far and whether all were denials, for the token probe.
    probe: Mutex<(u32, bool)>,
    writer: mpsc::Sender<WriterMsg>,
    progress: Progress,
    deadline: Option<Instant>,
}

impl Shared {
    fn halt(&self, reason: Stop) {
        let mut r = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        let replace = match &*r {
            None => true,
            Some(old) => reason.exit().precedence() < old.exit().precedence(),
        };
        if replace {
            *r = Some(reason);
        }
        self.stop.cancel();
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an answer for the token probe; true when this denial proves the token wrong.
    fn probe(&self, denied: bool) -> bool {
        let mut p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        if p.0 >= DENIAL_PROBE {
            return false;
        }
        p.0 += 1;
        p.1 &= denied;
        p.1 && p.0 == DENIAL_PROBE
    }

    /// True when every answer so far was a denial (used when fewer than five came at all).
    fn only_denials(&self) -> bool {
        let p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        p.0 > 0 && p.0 < DENIAL_PROBE && p.1
    }

    async fn finish(&self, line: ResultLine) {
        let pace = self.pacer.status();
        let paused = pace
            .paused_until
            .map(|u| u.saturating_duration_since(Instant::now()));
        {
            let mut t = self.tally();
            t.record(&line);
            self.progress.advance(1, &t, pace.per_second, paused);
        }
        if self.cfg.ui.verbose >= 1 {
            self.progress.println(&format!(
                "row {}: {} {}{}",
                line.row,
                line.sn,
                line.outcome,
                if line.error_msg.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", line.error_msg)
                }
            ));
        }
        // The writer only goes away after a write error; nothing more may be sent then.
        if self.writer.send(WriterMsg::Line(line)).await.is_err() {
            self.halt(Stop::Unwritable("the results writer stopped".into()));
        }
    }
}

fn plain_line(row: &InputRow, outcome: Outcome, msg: String) -> ResultLine {
    ResultLine {
        row: row.row,
        plant_id: row.plant_id.clone(),
        sn: row.sn.clone(),
        c_user_id: row.c_user_id.clone(),
        outcome,
        error_code: None,
        error_msg: msg,
        attempts: 0,
        http_status: None,
        latency_ms: None,
        finished_at: SystemTime::now(),
    }
}

/// What the reader hands the pipeline.
enum Job {
    Send(Box<InputRow>, Device),
    /// Rows that ended without a request (invalid, duplicate) or were skipped as done.
    Ended(Option<ResultLine>),
    Fatal(InputError),
}

/// Tracks serials seen so far in the input: the first row wins.
#[derive(Default)]
pub struct Dedup {
    seen: HashMap<u64, u64>,
}

impl Dedup {
    /// Returns the earlier row with the same serial, or remembers this one.
    pub fn check(&mut self, sn: &str, row: u64) -> Option<u64> {
        match self.seen.entry(sn_key(sn)) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(row);
                None
            }
        }
    }
}

/// The message of a duplicate row.
pub fn duplicate_msg(first: u64) -> String {
    format!("same sn as row {first}; sent once, from that row")
}

/// Reads, validates and sorts rows on a blocking thread, sending jobs in input order.
fn spawn_reader(
    mut reader: FleetReader,
    done: std::collections::HashSet<u64>,
    jobs: mpsc::Sender<Job>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut dedup = Dedup::default();
        for item in &mut reader {
            let row = match item {
                Ok(row) => row,
                Err(e) => {
                    let _ = jobs.blocking_send(Job::Fatal(e));
                    return;
                }
            };
            let job = match &row.check {
                Err(msg) => Job::Ended(Some(plain_line(&row, Outcome::Invalid, msg.clone()))),
                Ok(device) => match dedup.check(&device.sn, row.row) {
                    Some(first) => Job::Ended(Some(plain_line(
                        &row,
                        Outcome::Duplicate,
                        duplicate_msg(first),
                    ))),
                    None if done.contains(&sn_key(&device.sn)) => Job::Ended(None),
                    None => {
                        let device = device.clone();
                        Job::Send(Box::new(row), device)
                    }
                },
            };
            if jobs.blocking_send(job).is_err() {
                return;
            }
        }
    })
}

fn spawn_writer(
    mut writer: ResultsWriter,
    mut rx: mpsc::Receiver<WriterMsg>,
) -> std::thread::JoinHandle<Result<(), ResultsError>> {
    std::thread::spawn(move || {
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                WriterMsg::Line(line) => writer.write(&line)?,
                WriterMsg::Sync => writer.sync()?,
            }
        }
        writer.sync()
    })
}

/// Runs the whole job. Errors are fatal problems found before anything was sent; everything
/// after that is reported in the [`RunReport`].
pub async fn run(cfg: RunConfig) -> Result<RunReport, RunError> {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let client = Client::new(
        cfg.base.clone(),
        cfg.token.clone(),
        cfg.timeout,
        cfg.concurrency,
    )?;
    if let Some(parent) = cfg.results.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ResultsError::Io {
            path: cfg.results.clone(),
            source,
        })?;
    }
    let lock = RunLock::acquire(&cfg.results)?;
    // Check the input before touching the results, so a bad file changes nothing.
    let reader = FleetReader::open(&cfg.input)?;
    let mut notes = Vec::new();
    if cfg.restart {
        if let Some(aside) = results::set_aside(&cfg.results)? {
            notes.push(format!(
                "--restart: the earlier results were renamed to {}",
                aside.display()
            ));
        }
    }
    let (file, previous) = results::open_for_append(&cfg.results)?;
    if previous.repaired_bytes > 0 {
        notes.push(format!(
            "the results file ended in a cut-off line ({} bytes, from an interrupted run); it was removed and that row will be processed again",
            previous.repaired_bytes
        ));
    }
    if !previous.done.is_empty() {
        notes.push(format!(
            "continuing: {} serials are already done in {}",
            previous.done.len(),
            cfg.results.display()
        ));
    }
    let progress = if cfg.ui.progress {
        let path = cfg.input.clone();
        match tokio::task::spawn_blocking(move || FleetReader::count_rows(&path)).await {
            Ok(Ok(total)) => Progress::bar(total),
            _ => Progress::hidden(),
        }
    } else {
        Progress::hidden()
    };
    if !cfg.ui.quiet {
        for n in &notes {
            progress.println(&format!("growatt-onboard: {n}"));
        }
    }

    let (wtx, wrx) = mpsc::channel(1024);
    let writer = spawn_writer(ResultsWriter::new(&cfg.results, file), wrx);
    let (jtx, mut jrx) = mpsc::channel(256);
    let reader_thread = spawn_reader(reader, previous.done, jtx);

    let concurrency = cfg.concurrency;
    let shared = Arc::new(Shared {
        client,
        pacer: Pacer::new(cfg.rate),
        slots: Semaphore::new(concurrency),
        stop: CancellationToken::new(),
        stop_reason: Mutex::new(None),
        tally: Mutex::new(Tally::default()),
        probe: Mutex::new((0, true)),
        writer: wtx,
        progress: progress.clone(),
        deadline: cfg.max_runtime.map(|d| started + d),
        cfg,
    });

    let signals = tokio::spawn(watch_signals(shared.clone()));
    let ticker = tokio::spawn(sync_ticker(shared.clone()));
    let timer = shared.deadline.map(|deadline| {
        let sh = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            sh.halt(Stop::MaxRuntime);
        })
    });

    // Rows in progress (in flight or waiting out a backoff) are bounded, so memory stays flat.
    let in_progress = Arc::new(Semaphore::new((concurrency * 16).max(256)));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let job = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => break,
            job = jrx.recv() => job,
        };
        let Some(job) = job else { break };
        match job {
            Job::Fatal(e) => {
                shared.halt(Stop::Unreadable(e.to_string()));
                break;
            }
            Job::Ended(None) => {
                let pace = shared.pacer.status().per_second;
                let mut t = shared.tally();
                t.skipped_done += 1;
                shared.progress.advance(1, &t, pace, None);
            }
            Job::Ended(Some(line)) => shared.finish(line).await,
            Job::Send(row, device) => {
                let permit = tokio::select! {
                    biased;
                    _ = shared.stop.cancelled() => break,
                    p = in_progress.clone().acquire_owned() => p,
                };
                let Ok(permit) = permit else { break };
                let sh = shared.clone();
                tasks.spawn(async move {
                    process_row(&sh, *row, device).await;
                    drop(permit);
                });
                while tasks.try_join_next().is_some() {}
            }
        }
    }
    drop(jrx);
    while tasks.join_next().await.is_some() {}
    // Aborted tasks let go of the shared state only once awaited.
    for task in [Some(signals), Some(ticker), timer].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    let _ = reader_thread.join();

    // A run too short for the probe still counts as refused when every answer was a denial.
    let short_denied = shared.only_denials();
    // Every task is done, so this is the last sender: closing it ends the writer.
    let Ok(shared) = Arc::try_unwrap(shared) else {
        unreachable!("all row tasks have ended")
    };
    let Shared {
        writer: wtx,
        stop_reason,
        tally,
        pacer,
        cfg,
        progress,
        ..
    } = shared;
    drop(wtx);
    let mut stop = stop_reason.into_inner().unwrap_or_else(|e| e.into_inner());
    match writer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => stop = Some(Stop::Unwritable(e.to_string())),
        Err(_) => stop = Some(Stop::Unwritable("the writer thread failed".into())),
    }
    let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    if stop.is_none() && short_denied {
        stop = Some(Stop::Denied);
    }
    let exit = match &stop {
        Some(s) => s.exit().worst(tally.exit()),
        None => tally.exit(),
    };
    progress.finish();
    let summary = Summary::new(
        &cfg.input,
        &cfg.results,
        started_at,
        started.elapsed(),
        &tally,
        pacer.status().pauses,
        cfg.rate.per_second(),
        stop.as_ref().map(Stop::describe),
        exit,
    );
    if let Err(e) = summary.write_json(&cfg.summary) {
        eprintln!(
            "growatt-onboard: cannot write the summary {}: {e}",
            cfg.summary.display()
        );
    }
    drop(lock);
    Ok(RunReport { summary, exit })
}

async fn watch_signals(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut next = async || match term.as_mut() {
        Some(t) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = t.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    next().await;
    shared.halt(Stop::Interrupted);
    shared.progress.println(
        "growatt-onboard: stopping: no new requests; waiting for those in flight (Ctrl-C again to quit at once)",
    );
    next().await;
    // Every line written so far went out whole in one write; nothing half-written remains.
    std::process::exit(i32::from(Exit::Interrupted.code()));
}

async fn sync_ticker(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shared.writer.send(WriterMsg::Sync).await.is_err() {
            return;
        }
    }
}

/// One row's life: attempts until it ends, or until the run stops (then it stays for the next run).
async fn process_row(sh: &Shared, row: InputRow, device: Device) {
    let mut attempts: u32 = 0;
    let mut uncertain = false;
    loop {
        let permit = tokio::select! {
            biased;
            _ = sh.stop.cancelled() => return,
            p = sh.slots.acquire() => p,
        };
        let Ok(permit) = permit else { return };
        let epoch = tokio::select! {
            biased;
            _ = sh.stop.cancelled() => return,
            e = sh.pacer.ready() => e,
        };
        {
            let mut t = sh.tally();
            t.requests += 1;
            if attempts > 0 {
                t.retries += 1;
            }
        }
        let attempt = sh.client.add_device(&device).await;
        drop(permit);
        if sh.cfg.ui.verbose >= 2 {
            sh.progress.println(&format!(
                "row {} {}: attempt {} → {:?} in {} ms",
                row.row,
                device.sn,
                attempts + 1,
                attempt.answer,
                attempt.latency.as_millis()
            ));
        }
        let mut verdict = sh.cfg.policy.verdict(&attempt.answer);
        match verdict {
            Verdict::WrongRegion => {
                sh.halt(Stop::WrongRegion);
                return;
            }
            Verdict::Denied => {
                if sh.probe(true) {
                    sh.halt(Stop::Denied);
                    return;
                }
                verdict = match attempt.answer {
                    Answer::Envelope { .. } => Verdict::Finish(Outcome::Rejected),
                    _ => Verdict::Retry,
                };
            }
            Verdict::Throttled => {}
            _ => {
                sh.probe(false);
            }
        }
        match verdict {
            Verdict::Throttled => {
                sh.tally().throttled_answers += 1;
                if let Some(until) = sh.pacer.throttled(epoch, sh.cfg.throttle_pause) {
                    let secs = sh.cfg.throttle_pause.as_secs();
                    if !sh.cfg.ui.quiet {
                        sh.progress.println(&format!(
                            "growatt-onboard: paused by the API's rate limit (10012) for {}:{:02}; then slower (pace {:.2}/s)",
                            secs / 60,
                            secs % 60,
                            sh.pacer.status().per_second
                        ));
                    }
                    if sh.deadline.is_some_and(|d| until > d) {
                        sh.halt(Stop::Throttled);
                        return;
                    }
                }
                continue;
            }
            Verdict::Finish(outcome) => {
                sh.pacer.clean();
                attempts += 1;
                sh.finish(line_for(&row, outcome, &attempt, attempts, uncertain))
                    .await;
                return;
            }
            Verdict::Retry => {
                sh.pacer.clean();
                attempts += 1;
                uncertain |= matches!(attempt.answer, Answer::Timeout | Answer::Connection(_));
                if attempts >= sh.cfg.policy.max_attempts {
                    sh.finish(line_for(
                        &row,
                        Outcome::Failed,
                        &attempt,
                        attempts,
                        uncertain,
                    ))
                    .await;
                    return;
                }
                let wait = sh.cfg.policy.backoff(attempts + 1, &mut rand::rng());
                tokio::select! {
                    biased;
                    _ = sh.stop.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Verdict::WrongRegion | Verdict::Denied => unreachable!("handled above"),
        }
    }
}

fn line_for(
    row: &InputRow,
    outcome: Outcome,
    attempt: &Attempt,
    attempts: u32,
    uncertain: bool,
) -> ResultLine {
    let (code, msg) = match &attempt.answer {
        Answer::Envelope { code, msg, .. } => {
            let mut msg = shorten(msg);
            if *code == CODE_ALREADY && uncertain {
                msg =
                    format!(
                    "{}confirmed after a timed-out attempt: the earlier request reached the server",
                    if msg.is_empty() { String::new() } else { format!("{msg}; ") }
                );
            }
            if outcome == Outcome::Failed {
                msg = format!("gave up after {attempts} attempts; last answer {code} {msg}; run again to retry");
            }
            (Some(*code), msg)
        }
        Answer::NotEnvelope { why, .. } => (
            None,
            format!("gave up after {attempts} attempts; last: {}", shorten(why)),
        ),
        Answer::Timeout => (
            None,
            format!("gave up after {attempts} attempts; last: no answer within the time limit"),
        ),
        Answer::Connection(e) => (
            None,
            format!("gave up after {attempts} attempts; last: {}", shorten(e)),
        ),
    };
    ResultLine {
        row: row.row,
        plant_id: row.plant_id.clone(),
        sn: row.sn.clone(),
        c_user_id: row.c_user_id.clone(),
        outcome,
        error_code: code,
        error_msg: msg,
        attempts,
        http_status: attempt.answer.http_status(),
        latency_ms: Some(attempt.latency.as_millis() as u64),
        finished_at: SystemTime::now(),
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MSG_LIMIT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_the_first_row_case_insensitively() {
        let mut d = Dedup::default();
        assert_eq!(d.check("ABC1", 2), None);
        assert_eq!(d.check("XYZ", 3), None);
        assert_eq!(d.check("abc1", 9), Some(2));
        assert_eq!(d.check("ABC1", 10), Some(2));
    }

    #[test]
    fn stop_exit_codes() {
        assert_eq!(Stop::MaxRuntime.exit(), Exit::Incomplete);
        assert_eq!(Stop::WrongRegion.exit(), Exit::Fatal);
        assert_eq!(Stop::Interrupted.exit(), Exit::Interrupted);
        assert!(Stop::WrongRegion.describe().contains("--region"));
    }
}
