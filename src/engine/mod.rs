//! The request machinery every command that calls the API shares: the scheduler (due times, a
//! slot among `--concurrency`, the pace), the send, the policy's verdict, per-row deferral on
//! 10012, retries with backoff, the diagnoses of a run's first answers, account-level stops,
//! the run's time limit, and cancellation from outside (the front turns Ctrl-C, SIGTERM or a
//! Stop button into it). It reports what it learns as [`EngineEvent`]s and prints nothing.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::api::{Answer, Attempt, Client};
use crate::outcome::Outcome;
use crate::units::Rate;

pub mod events;
pub mod pacer;
pub mod policy;
pub mod schedule;
mod stop;

pub use events::{EngineEvent, Sink};
pub use pacer::{PaceStatus, Pacer};
pub use policy::{ListingVerdict, LocateVerdict, RetryPolicy, Symptom, Verdict};
pub use schedule::{Class, Scheduler, Waiting};
pub use stop::{Job, Stop, Wording};

/// How many answers at the start of a run decide that the setup, not the rows, is at fault.
const PROBE: u32 = 5;
/// The whole-run pause when first attempts are refused: short, the pace drops as well.
const ACCOUNT_PAUSE: Duration = Duration::from_secs(1);

/// The settings of the machinery.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most requests in flight.
    pub concurrency: usize,
    /// What each answer means, and the backoff.
    pub policy: RetryPolicy,
    /// The allowed pace.
    pub rate: Rate,
    /// The cooldown: a row answered 10012 is sent again this long after that attempt.
    pub throttle_pause: Duration,
    /// Stop starting requests after this long.
    pub max_runtime: Option<Duration>,
    /// Emit an [`EngineEvent::Attempt`] per request (a consumer that shows every request).
    pub attempt_events: bool,
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

impl Call {
    /// The outcome and the last attempt of a call that ended; `None` when the run stopped first.
    pub fn ended(self) -> Option<(Outcome, Attempt)> {
        match self {
            Call::Ended {
                outcome, attempt, ..
            } => Some((outcome, attempt)),
            Call::Stopped => None,
        }
    }
}

/// Request counters, for summaries and progress.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent, throttled ones too.
    pub requests: AtomicU64,
    /// Requests that were not an item's first: retries and resends of deferred rows.
    pub retries: AtomicU64,
    /// Answers that were 10012.
    pub throttled_answers: AtomicU64,
    /// Of those, answers to an item's first request (the account-wide pace was refused).
    pub refused_first: AtomicU64,
    /// When the first and the latest request started.
    starts: Mutex<Option<(Instant, Instant)>>,
}

impl Counters {
    fn started(&self, at: Instant) {
        let mut s = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        *s = Some(s.map_or((at, at), |(first, _)| (first, at)));
    }

    /// Time from the first request's start to the latest one's.
    pub fn send_span(&self) -> Option<Duration> {
        let s = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        s.map(|(first, last)| last.saturating_duration_since(first))
    }
}

/// What a run's first answers said, for the diagnoses.
#[derive(Debug, Default)]
struct Probe {
    answers: u32,
    denied: u32,
    unreachable: u32,
    not_api: u32,
    /// Where the first redirect among them pointed, for the diagnosis.
    redirect: Option<String>,
}

impl Probe {
    /// The diagnosis once every answer so far says the same (and there are `at_least` of them).
    fn verdict(&self, at_least: u32, base: &str) -> Option<Stop> {
        if self.answers == 0 || self.answers < at_least {
            return None;
        }
        let all = |n: u32| n == self.answers;
        if all(self.denied) {
            Some(Stop::Denied)
        } else if all(self.unreachable) {
            Some(Stop::Unreachable {
                base: base.to_string(),
            })
        } else if all(self.not_api) {
            Some(Stop::NotApi {
                base: base.to_string(),
                redirect: self.redirect.clone(),
            })
        } else {
            None
        }
    }

    /// Whether the answers so far might still turn out all alike.
    fn undecided(&self) -> bool {
        self.answers < PROBE
            && [self.denied, self.unreachable, self.not_api].contains(&self.answers)
    }
}

/// The shared machinery of one run.
pub struct Engine {
    /// The API client.
    pub client: Client,
    cfg: EngineConfig,
    /// The pace and its adaptation.
    pub pacer: Pacer,
    /// Who goes next, and the deferred rows.
    pub scheduler: Arc<Scheduler>,
    /// Cancelled when the run must start nothing more.
    pub stop: CancellationToken,
    stop_reason: Mutex<Option<Stop>>,
    probe: Mutex<Probe>,
    /// Whether an identical request was refused: retries then wait out the cooldown.
    cooldown_model: AtomicBool,
    /// A row's cooldown would have outlasted `--max-runtime`; it was left for the next run.
    outlasted: AtomicBool,
    /// Request counters.
    pub counters: Counters,
    /// Where events go.
    events: Sink<EngineEvent>,
    deadline: Option<Instant>,
}

impl Engine {
    /// Sets up the machinery; the time limit's clock starts now.
    pub fn new(client: Client, cfg: EngineConfig, events: Sink<EngineEvent>) -> Arc<Engine> {
        Arc::new(Engine {
            client,
            pacer: Pacer::new(cfg.rate),
            scheduler: Arc::new(Scheduler::new(cfg.concurrency)),
            stop: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            probe: Mutex::new(Probe::default()),
            cooldown_model: AtomicBool::new(false),
            outlasted: AtomicBool::new(false),
            counters: Counters::default(),
            events,
            deadline: cfg.max_runtime.map(|d| Instant::now() + d),
            cfg,
        })
    }

    /// Starts the scheduler and the tasks that watch `cancel` (the front's word to stop: the
    /// run then starts nothing more, and the items in flight end) and the time limit; they end
    /// with the returned guard.
    pub fn watch(self: &Arc<Engine>, cancel: &CancellationToken) -> Watchers {
        let engine = self.clone();
        let mut tasks = vec![tokio::spawn(async move {
            engine.scheduler.dispatch(&engine.pacer).await
        })];
        let (engine, cancel) = (self.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            cancel.cancelled().await;
            engine.halt(Stop::Interrupted);
        }));
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

    /// Why the run stopped, if it did; a run whose every answer (fewer than five) said the same
    /// about the setup stops with that diagnosis too.
    pub fn stop_reason(&self) -> Option<Stop> {
        let reason = self
            .stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // --max-runtime struck while refused rows waited out a cooldown past it: say so.
        let reason = match reason {
            Some(Stop::MaxRuntime) if self.outlasted.load(Ordering::Relaxed) => {
                Some(Stop::Throttled)
            }
            other => other,
        };
        reason
            .or_else(|| {
                let p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
                p.verdict(1, self.client.base().as_str().trim_end_matches('/'))
            })
            .or_else(|| {
                self.outlasted
                    .load(Ordering::Relaxed)
                    .then_some(Stop::Throttled)
            })
    }

    /// Whether the token is in doubt: every answer so far was a denial (once the probe's answers
    /// are all denials the run stops, so the doubt never clears). A row denied meanwhile is not
    /// known to be the row's own fault.
    pub fn token_in_doubt(&self) -> bool {
        let p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        p.denied == p.answers
    }

    /// Records one of the run's first answers; returns the diagnosis when the first
    /// [`PROBE`] answers all say the same, and whether the setup is still in doubt.
    fn probe(&self, answer: &Answer) -> (Option<Stop>, bool) {
        let mut p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        if p.answers >= PROBE {
            return (None, false);
        }
        p.answers += 1;
        match policy::symptom(answer) {
            Symptom::Denied => p.denied += 1,
            Symptom::Unreachable => p.unreachable += 1,
            Symptom::NotApi => {
                p.not_api += 1;
                if p.redirect.is_none() {
                    p.redirect = answer.redirected_to().map(str::to_string);
                }
            }
            Symptom::Fine => {}
        }
        let stop = p.verdict(PROBE, self.client.base().as_str().trim_end_matches('/'));
        (stop, p.undecided())
    }

    /// Whether callers should name their items for [`EngineEvent::Attempt`] events.
    pub fn attempt_events(&self) -> bool {
        self.cfg.attempt_events
    }

    /// Most requests in flight at once (`--concurrency`).
    pub fn concurrency(&self) -> usize {
        self.cfg.concurrency
    }

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.cfg.policy
    }

    /// Whether the run has learnt that identical requests are refused within the cooldown.
    pub fn cooldown_model(&self) -> bool {
        self.cooldown_model.load(Ordering::Relaxed)
    }

    /// Sends with `send` until the answer is final, the attempts are used up, or the run stops.
    /// `label` names the item in `-vv` lines.
    pub async fn call<F, Fut>(&self, label: &str, send: F) -> Call
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Attempt>,
    {
        self.call_releasing(label, send, None).await
    }

    /// [`Engine::call`], letting go of `hold` once the item first waits for a due time (a retry
    /// or a cooldown): the caller's bound on items in progress then limits new items only, and
    /// waiting items never hold up the rest of the run.
    pub async fn call_releasing<F, Fut>(
        &self,
        label: &str,
        send: F,
        mut hold: Option<OwnedSemaphorePermit>,
    ) -> Call
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let mut attempts: u32 = 0;
        let mut sent: u32 = 0;
        let mut uncertain = false;
        let mut last_code = None;
        let mut class = Class::New;
        loop {
            let ticket = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return Call::Stopped,
                t = self.scheduler.admit(class) => t,
            };
            let Some(ticket) = ticket else {
                return Call::Stopped;
            };
            // The slot is ours; the request goes out now unless one before it went out late.
            while let Err(until) = self.pacer.clear_to_send(Instant::now()) {
                tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => return Call::Stopped,
                    _ = schedule::wait_precisely(until) => {}
                }
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            self.counters.started(Instant::now());
            if sent > 0 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
            let attempt = send().await;
            // The answer is in: the server saw the request before this moment.
            let answered = Instant::now();
            self.scheduler.release(ticket.permit, &self.pacer);
            if self.cfg.attempt_events {
                self.events.emit(EngineEvent::Attempt {
                    label: label.to_string(),
                    attempt: sent,
                    answer: attempt.answer.to_string(),
                    latency: attempt.latency,
                });
            }
            if let Answer::Envelope { code, .. } = &attempt.answer {
                last_code = Some(*code);
            }
            let mut verdict = self.cfg.policy.verdict(&attempt.answer);
            if verdict == Verdict::LegacyDomain {
                self.halt(Stop::LegacyDomain {
                    new_base: policy::new_domain(self.client.base()),
                });
                return Call::Stopped;
            }
            if verdict != Verdict::Throttled {
                let (stop, in_doubt) = self.probe(&attempt.answer);
                if let Some(stop) = stop {
                    self.halt(stop);
                    return Call::Stopped;
                }
                if let Verdict::Denied { .. } = verdict {
                    // While the first answers may all be denials, a denied row waits and asks
                    // again rather than ending: a stop then leaves it for the next run.
                    verdict = if in_doubt {
                        Verdict::Retry
                    } else {
                        verdict.past_the_start()
                    };
                }
            }
            let due = match verdict {
                Verdict::Throttled => {
                    self.counters
                        .throttled_answers
                        .fetch_add(1, Ordering::Relaxed);
                    self.on_throttled(sent == 1, ticket.epoch);
                    answered + self.cfg.throttle_pause
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
                    let backoff =
                        answered + self.cfg.policy.backoff(attempts + 1, &mut rand::rng());
                    if self.cooldown_model() {
                        // The retry is the identical request: not before the cooldown is over.
                        backoff.max(answered + self.cfg.throttle_pause)
                    } else {
                        backoff
                    }
                }
                Verdict::LegacyDomain | Verdict::Denied { .. } => {
                    unreachable!("the policy's stops are handled above")
                }
            };
            if verdict == Verdict::Throttled && self.deadline.is_some_and(|d| due > d) {
                // The cooldown outlasts --max-runtime: leave the row for the next run now
                // instead of holding the run open.
                self.outlasted.store(true, Ordering::Relaxed);
                return Call::Stopped;
            }
            let _deferred = (verdict == Verdict::Throttled).then(|| self.scheduler.defer(due));
            drop(hold.take());
            let mut due = due;
            loop {
                tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => return Call::Stopped,
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
                // A retry planned before the run learnt the cooldown model waits it out too.
                let cooled = answered + self.cfg.throttle_pause;
                if !self.cooldown_model() || cooled <= due {
                    break;
                }
                due = cooled;
            }
            class = Class::Due;
        }
    }

    /// A 10012 answer. To a first attempt: the account-wide pace is too high (slow down,
    /// briefly pause). To a repeat of the request: the API refuses identical requests within
    /// the cooldown, so retries wait it out from now on.
    fn on_throttled(&self, first: bool, epoch: u64) {
        if first {
            self.counters.refused_first.fetch_add(1, Ordering::Relaxed);
            let pause = ACCOUNT_PAUSE.min(self.cfg.throttle_pause);
            if let Some(pace) = self.pacer.refused(epoch, pause) {
                self.events.emit(EngineEvent::Paused { pause, pace });
            }
        } else if !self.cooldown_model.swap(true, Ordering::Relaxed) {
            self.scheduler.retries_wait_long();
            self.events.emit(EngineEvent::CooldownLearnt {
                cooldown: self.cfg.throttle_pause,
            });
        }
    }
}

/// The scheduler, cancellation and clock watchers of a run; dropping or [`Watchers::end`]ing them stops them.
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
