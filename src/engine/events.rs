//! What the machinery tells whoever drives it, as data: the terminal bar, the cron lines, the
//! JSON log and the web page are all consumers of these events, and the engine knows none of them.

use std::sync::Arc;
use std::time::Duration;

/// Something the request machinery learnt or did that a person may want to know.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// First attempts were refused (10012): the account-wide pace was too high. The whole run
    /// pauses for `pause` and goes on at `pace` requests a second.
    Paused {
        /// How long nothing new is sent.
        pause: Duration,
        /// The pace from now on, a second.
        pace: f64,
    },
    /// A repeated request was refused (10012): the API keeps a cooldown per identical request,
    /// so retries now wait `cooldown` after their previous attempt.
    CooldownLearnt {
        /// The cooldown retries now wait out.
        cooldown: Duration,
    },
    /// One request and its answer (only when [`super::EngineConfig::attempt_events`] is set).
    Attempt {
        /// The item the request was for, as its caller named it.
        label: String,
        /// Which request of the item this was, from 1.
        attempt: u32,
        /// The answer, in words.
        answer: String,
        /// How long the answer took.
        latency: Duration,
    },
}

/// Where events go: a function every event is handed to, on the task that emits it. Cheap to
/// clone; a consumer that needs to do slow work hands the event on (a channel, a watch).
pub struct Sink<E>(Arc<dyn Fn(E) + Send + Sync>);

impl<E> Clone for Sink<E> {
    fn clone(&self) -> Self {
        Sink(self.0.clone())
    }
}

impl<E> std::fmt::Debug for Sink<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl<E: 'static> Sink<E> {
    /// Events handed to `f`.
    pub fn new(f: impl Fn(E) + Send + Sync + 'static) -> Sink<E> {
        Sink(Arc::new(f))
    }

    /// Events dropped: for a job whose caller wants only its report.
    pub fn none() -> Sink<E> {
        Sink::new(|_| {})
    }

    /// Hands `event` to the consumer.
    pub fn emit(&self, event: E) {
        (self.0)(event)
    }

    /// A sink for events of another kind, wrapped into this one's by `wrap`.
    pub fn map<F: 'static>(&self, wrap: impl Fn(F) -> E + Send + Sync + 'static) -> Sink<F>
    where
        E: 'static,
    {
        let inner = self.clone();
        Sink::new(move |event| inner.emit(wrap(event)))
    }
}
