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
use crate::outcome::Outcome;
use crate::ui::Log;
use crate::units::Rate;

pub mod pacer;
pub mod policy;
mod signals;
mod stop;

pub use pacer::{PaceStatus, Pacer};
pub use policy::{ListingVerdict, LocateVerdict, RetryPolicy, Verdict};
pub use stop::Stop;

/// How many answers at the start of a run decide that a refused token is the token's fault.
const DENIAL_PROBE: u32 = 5;

/// The settings of the machinery.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most requests in flight.
    pub concurrency: usize,
    /// What each answer means, and the backoff.
    pub policy: RetryPolicy,
    /// The allowed pace.
    pub rate: Rate,
    /// Pause after a 10012 answer.
    pub throttle_pause: Duration,
    /// Stop starting requests after this long.
    pub max_runtime: Option<Duration>,
    /// Print the throttle notices (not in quiet mode).
    pub announce: bool,
    /// Print a line per request (`-vv`).
    pub trace_requests: bool,
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
    pub log: Log,
    deadline: Option<Instant>,
}

impl Engine {
    /// Sets up the machinery; the `--max-runtime` clock starts now.
    pub fn new(client: Client, cfg: EngineConfig, log: Log) -> Arc<Engine> {
        Arc::new(Engine {
            client,
            pacer: Pacer::new(cfg.rate),
            slots: Semaphore::new(cfg.concurrency),
            stop: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            probe: Mutex::new((0, true)),
            counters: Counters::default(),
            log,
            deadline: cfg.max_runtime.map(|d| Instant::now() + d),
            cfg,
        })
    }

    /// Starts the tasks that watch the signals and the `--max-runtime` clock; they end with the
    /// returned guard.
    pub fn watch(self: &Arc<Engine>) -> Watchers {
        let mut tasks = vec![tokio::spawn(signals::watch(
            self.clone(),
            signals::install(),
        ))];
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

    /// Whether the token is in doubt: every answer so far was a denial (once the probe's answers
    /// are all denials the run stops, so the doubt never clears). A row denied meanwhile is not
    /// known to be the row's own fault.
    pub fn token_in_doubt(&self) -> bool {
        self.probe.lock().unwrap_or_else(|e| e.into_inner()).1
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
                self.log.notice(&format!(
                    "{label}: attempt {}: {} in {} ms",
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
                Verdict::Denied { .. } => {
                    if self.probe(true) {
                        self.halt(Stop::Denied);
                        return Call::Stopped;
                    }
                    verdict = verdict.past_the_start();
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
                    uncertain |= policy::may_have_reached(&attempt.answer);
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
                Verdict::WrongRegion | Verdict::Denied { .. } => {
                    unreachable!("the policy's stops are handled above")
                }
            }
        }
    }

    fn on_throttled(&self, epoch: u64) {
        let Some(until) = self.pacer.throttled(epoch, self.cfg.throttle_pause) else {
            return;
        };
        if self.cfg.announce {
            let secs = self.cfg.throttle_pause.as_secs();
            self.log.notice(&format!(
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
