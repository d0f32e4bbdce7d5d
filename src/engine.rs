//! The request machinery every command that calls the API shares: a slot among `--concurrency`,
//! the pace, the send, the policy's verdict, throttle pauses, retries with backoff, account-level
//! stops, `--max-runtime`, and Ctrl-C/SIGTERM.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::api::{Answer, Attempt, Client};
use crate::exit::Exit;
use crate::pacer::Pacer;
use crate::policy::{RetryPolicy, Verdict};
use crate::progress::Progress;
use crate::results::Outcome;

/// How many answers at the start of a run decide that a refused token is the token's fault.
const DENIAL_PROBE: u32 = 5;

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
    /// A part of the tool failed (a bug); what ended is written, the rest stays for next run.
    Internal(String),
}

impl Stop {
    /// The exit code this stop calls for.
    pub fn exit(&self) -> Exit {
        match self {
            Stop::MaxRuntime | Stop::Throttled => Exit::Incomplete,
            Stop::Interrupted => Exit::Interrupted,
            Stop::WrongRegion
            | Stop::Denied
            | Stop::Unwritable(_)
            | Stop::Unreadable(_)
            | Stop::Internal(_) => Exit::Fatal,
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
            Stop::Internal(e) => e.clone(),
        }
    }
}

/// The settings of the machinery.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most requests in flight.
    pub concurrency: usize,
    /// What each answer means, and the backoff.
    pub policy: RetryPolicy,
    /// The allowed pace.
    pub rate: crate::config::Rate,
    /// Pause after a 10012 answer.
    pub throttle_pause: Duration,
    /// Stop starting requests after this long.
    pub max_runtime: Option<Duration>,
    /// Print the throttle notices (not in quiet mode).
    pub announce: bool,
    /// Print a line per request (`-vv`).
    pub trace_requests: bool,
}

impl EngineConfig {
    /// The settings of a command's requests; `ui` decides what is announced.
    pub fn new(
        concurrency: usize,
        policy: &RetryPolicy,
        rate: crate::config::Rate,
        throttle_pause: Duration,
        max_runtime: Option<Duration>,
        ui: &crate::config::Ui,
    ) -> EngineConfig {
        EngineConfig {
            concurrency,
            policy: policy.clone(),
            rate,
            throttle_pause,
            max_runtime,
            announce: !ui.quiet,
            trace_requests: ui.verbose >= 2,
        }
    }
}

/// How one call ended.
#[derive(Debug)]
pub enum Call {
    /// The answer is final: a [`Verdict::Finish`] outcome, or [`Outcome::Failed`] when retryable
    /// failures used up the attempts.
    Ended {
        /// The outcome for the item.
        outcome: Outcome,
        /// The last attempt.
        attempt: Attempt,
        /// Attempts counted against `--max-attempts`.
        attempts: u32,
        /// An earlier attempt timed out or broke off, so it may have reached the server.
        uncertain: bool,
        /// The last code the API answered with over all attempts, for a last attempt that got
        /// none (a timeout after 10001s is still a row the API answered).
        last_code: Option<i64>,
    },
    /// The run stopped first; the item stays for the next run.
    Stopped,
}

/// Request counters, for summaries and progress.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent, throttled ones too.
    pub requests: AtomicU64,
    /// Requests that were retries.
    pub retries: AtomicU64,
    /// Answers that were 10012.
    pub throttled_answers: AtomicU64,
}

/// The shared machinery of one run.
pub struct Engine {
    /// The API client.
    pub client: Client,
    cfg: EngineConfig,
    /// The pace and throttle adaptation.
    pub pacer: Pacer,
    slots: Semaphore,
    /// Cancelled when the run must start nothing more.
    pub stop: CancellationToken,
    stop_reason: Mutex<Option<Stop>>,
    /// Answers seen so far and whether all were denials, for the token probe.
    probe: Mutex<(u32, bool)>,
    /// Request counters.
    pub counters: Counters,
    /// Where notices go.
    pub progress: Progress,
    deadline: Option<Instant>,
}

impl Engine {
    /// Sets up the machinery; the `--max-runtime` clock starts now.
    pub fn new(client: Client, cfg: EngineConfig, progress: Progress) -> Arc<Engine> {
        Arc::new(Engine {
            client,
            pacer: Pacer::new(cfg.rate),
            slots: Semaphore::new(cfg.concurrency),
            stop: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            probe: Mutex::new((0, true)),
            counters: Counters::default(),
            progress,
            deadline: cfg.max_runtime.map(|d| Instant::now() + d),
            cfg,
        })
    }

    /// Starts the tasks that watch the signals and the `--max-runtime` clock; they end with the
    /// returned guard.
    pub fn watch(self: &Arc<Engine>) -> Watchers {
        let mut tasks = vec![tokio::spawn(watch_signals(self.clone()))];
        if let Some(deadline) = self.deadline {
            let engine = self.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(deadline.into()).await;
                engine.halt(Stop::MaxRuntime);
            }));
        }
        Watchers { tasks }
    }

    /// Stops the run, keeping the most important reason.
    pub fn halt(&self, reason: Stop) {
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

    /// Why the run stopped, if it did; a run whose every answer (fewer than five) was a denial
    /// counts as refused too.
    pub fn stop_reason(&self) -> Option<Stop> {
        let reason = self
            .stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        reason.or_else(|| {
            let p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
            (p.0 > 0 && p.0 < DENIAL_PROBE && p.1).then_some(Stop::Denied)
        })
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

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.cfg.policy
    }

    /// Sends with `send` until the answer is final, the attempts are used up, or the run stops.
    /// `label` names the item in `-vv` lines.
    pub async fn call<F, Fut>(&self, label: &str, send: F) -> Call
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let mut attempts: u32 = 0;
        let mut uncertain = false;
        let mut last_code = None;
        loop {
            let permit = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return Call::Stopped,
                p = self.slots.acquire() => p,
            };
            let Ok(permit) = permit else {
                return Call::Stopped;
            };
            let epoch = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return Call::Stopped,
                e = self.pacer.ready() => e,
            };
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            if attempts > 0 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let attempt = send().await;
            drop(permit);
            if self.cfg.trace_requests {
                self.progress.println(&format!(
                    "{label}: attempt {} → {:?} in {} ms",
                    attempts + 1,
                    attempt.answer,
                    attempt.latency.as_millis()
                ));
            }
            if let Answer::Envelope { code, .. } = &attempt.answer {
                last_code = Some(*code);
            }
            let mut verdict = self.cfg.policy.verdict(&attempt.answer);
            match verdict {
                Verdict::WrongRegion => {
                    self.halt(Stop::WrongRegion);
                    return Call::Stopped;
                }
                Verdict::Denied => {
                    if self.probe(true) {
                        self.halt(Stop::Denied);
                        return Call::Stopped;
                    }
                    // Past the start, a denial is about this item: an API answer is final, an
                    // HTTP 401/403 page is treated like any answer that is not the envelope.
                    verdict = match attempt.answer {
                        Answer::Envelope { .. } => Verdict::Finish(Outcome::Rejected),
                        _ => Verdict::Retry,
                    };
                }
                Verdict::Throttled => {}
                Verdict::Finish(_) | Verdict::Retry => {
                    self.probe(false);
                }
            }
            match verdict {
                Verdict::Throttled => {
                    self.counters
                        .throttled_answers
                        .fetch_add(1, Ordering::Relaxed);
                    self.on_throttled(epoch);
                    continue;
                }
                Verdict::Finish(outcome) => {
                    self.pacer.clean();
                    return Call::Ended {
                        outcome,
                        attempt,
                        attempts: attempts + 1,
                        uncertain,
                        last_code,
                    };
                }
                Verdict::Retry => {
                    self.pacer.clean();
                    attempts += 1;
                    // Any of these may have been carried out before the answer went wrong.
                    uncertain |= matches!(
                        attempt.answer,
                        Answer::Timeout
                            | Answer::Connection(_)
                            | Answer::Envelope {
                                http_status: 500..=599,
                                ..
                            }
                            | Answer::NotEnvelope {
                                http_status: 500..=599,
                                ..
                            }
                    );
                    if attempts >= self.cfg.policy.max_attempts {
                        return Call::Ended {
                            outcome: Outcome::Failed,
                            attempt,
                            attempts,
                            uncertain,
                            last_code,
                        };
                    }
                    let wait = self.cfg.policy.backoff(attempts + 1, &mut rand::rng());
                    tokio::select! {
                        biased;
                        _ = self.stop.cancelled() => return Call::Stopped,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                Verdict::WrongRegion | Verdict::Denied => unreachable!("handled above"),
            }
        }
    }

    fn on_throttled(&self, epoch: u64) {
        let Some(until) = self.pacer.throttled(epoch, self.cfg.throttle_pause) else {
            return;
        };
        if self.cfg.announce {
            let secs = self.cfg.throttle_pause.as_secs();
            self.progress.println(&format!(
                "growatt-onboard: paused by the API's rate limit (10012) for {}:{:02}; then slower (pace {:.2}/s)",
                secs / 60,
                secs % 60,
                self.pacer.status().per_second
            ));
        }
        if self.deadline.is_some_and(|d| until > d) {
            self.halt(Stop::Throttled);
        }
    }
}

/// The signal and clock watchers of a run; dropping or [`Watchers::end`]ing them stops them.
pub struct Watchers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchers {
    /// Stops the watchers and waits until they have let go of the engine.
    pub async fn end(self) {
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn watch_signals(engine: Arc<Engine>) {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    // Both streams live for the whole run: a fresh `ctrl_c()` per wait would miss a second
    // Ctrl-C that arrives before it is first polled.
    async fn recv(s: &mut Option<Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut next = async || {
        tokio::select! {
            _ = recv(&mut int) => {}
            _ = recv(&mut term) => {}
        }
    };
    next().await;
    engine.halt(Stop::Interrupted);
    engine.progress.println(
        "growatt-onboard: stopping: no new requests; waiting for those in flight (Ctrl-C again to quit at once)",
    );
    next().await;
    // Every line written so far went out whole in one write; nothing half-written remains.
    std::process::exit(i32::from(Exit::Interrupted.code()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_exit_codes() {
        assert_eq!(Stop::MaxRuntime.exit(), Exit::Incomplete);
        assert_eq!(Stop::WrongRegion.exit(), Exit::Fatal);
        assert_eq!(Stop::Interrupted.exit(), Exit::Interrupted);
        assert!(Stop::WrongRegion.describe().contains("--region"));
    }
}
