//! The scheduler: every request of a run waits here for its turn. Each piece of work has a due
//! time (a new row is due at once; a retry after its backoff; a row refused with 10012 after the
//! cooldown), and waits outside the queue until then. Once due, it queues for the next slot of
//! the pace and a free slot among `--concurrency`; a retry or a deferred row goes ahead of every
//! new row, and among equals the earlier comer goes first. Once the whole input is read and
//! retries wait out the API's cooldown, the last new rows go first instead (see
//! [`Scheduler::last_rows_first`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify, OwnedSemaphorePermit, Semaphore};

use super::pacer::Pacer;

/// Which queue a request waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A retry or a deferred row whose due time has come: goes first.
    Due,
    /// A row's first attempt.
    New,
}

/// Leave to start a request: a slot among `--concurrency` (held until the answer is in) and
/// the pace's epoch it was sent in.
pub struct Ticket {
    /// Held while the request is in flight.
    pub permit: OwnedSemaphorePermit,
    /// The pace's epoch, for [`Pacer::refused`].
    pub epoch: u64,
}

/// The requests waiting for a slot, each class first come, first served.
#[derive(Default)]
struct Queue {
    due: VecDeque<oneshot::Sender<Ticket>>,
    new: VecDeque<oneshot::Sender<Ticket>>,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.due.is_empty() && self.new.is_empty()
    }

    /// The next in line: due work first, or, once the last rows are in, new rows first.
    fn pop(&mut self, last_rows_first: bool) -> Option<oneshot::Sender<Ticket>> {
        if last_rows_first {
            self.new.pop_front().or_else(|| self.due.pop_front())
        } else {
            self.due.pop_front().or_else(|| self.new.pop_front())
        }
    }
}

/// The run's queue of requests waiting for a slot, and the rows deferred by a 10012.
pub struct Scheduler {
    queue: Mutex<Queue>,
    wake: Notify,
    slots: Arc<Semaphore>,
    concurrency: usize,
    /// Due time → rows deferred until then.
    deferred: Mutex<BTreeMap<Instant, u32>>,
    /// The whole input is read: the rows still to be sent first are the last ones.
    last_rows: AtomicBool,
    /// Retries wait out a cooldown (minutes), not a backoff (a second or two).
    long_waits: AtomicBool,
}

/// What the scheduler holds now, for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Waiting {
    /// Rows deferred by a 10012, waiting out the cooldown.
    pub deferred: u64,
    /// When nothing is in flight or queued and only deferred rows remain: the time until the
    /// first of them is due.
    pub all_wait_for: Option<Duration>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tokio's timer fires on millisecond ticks.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// Waits until `slot`. The timer would round a wait shorter than its tick up to a whole
/// millisecond, which at high rates adds that much to every slot; such short waits yield to
/// other tasks instead.
async fn wait_until(slot: Instant) {
    let now = Instant::now();
    if slot <= now {
        return;
    }
    if slot - now >= TIMER_TICK {
        tokio::time::sleep_until(slot.into()).await;
        return;
    }
    while Instant::now() < slot {
        tokio::task::yield_now().await;
    }
}

/// Waits until `until` to within tens of microseconds: the timer for all but its last tick,
/// then yielding to other tasks. For waits whose overshoot would otherwise add up (the send
/// window of [`Pacer::clear_to_send`]).
pub(super) async fn wait_precisely(until: Instant) {
    if let Some(coarse) = until.checked_sub(TIMER_TICK) {
        if coarse > Instant::now() {
            tokio::time::sleep_until(coarse.into()).await;
        }
    }
    while Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

impl Scheduler {
    /// A scheduler for `concurrency` requests in flight at most.
    pub fn new(concurrency: usize) -> Scheduler {
        let concurrency = concurrency.max(1);
        Scheduler {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            deferred: Mutex::new(BTreeMap::new()),
            last_rows: AtomicBool::new(false),
            long_waits: AtomicBool::new(false),
        }
    }

    /// Queues for the next slot; `None` if the dispatcher has ended (the run is over).
    /// Cancel-safe: a waiter dropped while queued gives its turn to the next.
    pub async fn admit(&self, class: Class) -> Option<Ticket> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = lock(&self.queue);
            match class {
                Class::Due => q.due.push_back(tx),
                Class::New => q.new.push_back(tx),
            }
        }
        self.wake.notify_one();
        rx.await.ok()
    }

    /// The whole input has been read: every new row still to be sent is waiting here or soon
    /// will be.
    pub fn last_rows_in(&self) {
        self.last_rows.store(true, AtomicOrdering::Relaxed);
    }

    /// Whether every row of the input has been handed to the scheduler.
    pub fn all_rows_in(&self) -> bool {
        self.last_rows.load(AtomicOrdering::Relaxed)
    }

    /// The run has learnt that a retry must wait out the API's cooldown after its previous
    /// attempt.
    pub fn retries_wait_long(&self) {
        self.long_waits.store(true, AtomicOrdering::Relaxed);
    }

    /// Once the whole input is read and retries wait out a cooldown, the last new rows go ahead
    /// of due retries and deferred rows: each of them may yet need a retry that waits a whole
    /// cooldown, so sending them first ends the run sooner, and the retries they pass are sent
    /// during that wait instead of lengthening the run. A retry is then held back by at most the
    /// time the last rows take (at most 256 rows, or 16 × `--concurrency`). Before the model is
    /// known, a retry's backoff is short and it goes first: its answer is what tells the run
    /// whether identical requests are refused.
    fn last_rows_first(&self) -> bool {
        self.last_rows.load(AtomicOrdering::Relaxed)
            && self.long_waits.load(AtomicOrdering::Relaxed)
    }

    fn next_in_line(&self, q: &mut Queue) -> Option<oneshot::Sender<Ticket>> {
        q.pop(self.last_rows_first())
    }

    /// Hands out slots, one at a time, at the pace, to the first waiter in line. Runs until
    /// aborted.
    pub async fn dispatch(&self, pacer: &Pacer) {
        loop {
            // Wait for someone to serve.
            loop {
                let notified = self.wake.notified();
                if !lock(&self.queue).is_empty() {
                    break;
                }
                notified.await;
            }
            let Ok(mut permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            // The next slot of the pace, reserved before the wait (a late wake-up does not push
            // the later slots back); a pause that began meanwhile voids it.
            let epoch = loop {
                match pacer.reserve(Instant::now()) {
                    Err(until) => tokio::time::sleep_until(until.into()).await,
                    Ok((slot, epoch)) => {
                        wait_until(slot).await;
                        if pacer.epoch() == epoch {
                            break epoch;
                        }
                    }
                }
            };
            loop {
                let Some(tx) = self.next_in_line(&mut lock(&self.queue)) else {
                    break;
                };
                match tx.send(Ticket { permit, epoch }) {
                    Ok(()) => break,
                    // That waiter left (the run is stopping): the next one gets the slot.
                    Err(t) => permit = t.permit,
                }
            }
        }
    }

    /// A request's answer is in: its place among `--concurrency` goes straight to the first
    /// waiter in line when the pace allows a start now (one wake-up instead of two), else back
    /// to the pool for the dispatcher.
    pub fn release(&self, mut permit: OwnedSemaphorePermit, pacer: &Pacer) {
        let mut q = lock(&self.queue);
        while !q.is_empty() {
            let Some(epoch) = pacer.try_take(Instant::now()) else {
                break;
            };
            let Some(tx) = self.next_in_line(&mut q) else {
                break;
            };
            match tx.send(Ticket { permit, epoch }) {
                Ok(()) => return,
                Err(t) => permit = t.permit,
            }
        }
        drop(q);
        drop(permit);
    }

    /// Notes a row deferred until `due`; the returned guard forgets it when dropped.
    pub fn defer(self: &Arc<Self>, due: Instant) -> Deferred {
        *lock(&self.deferred).entry(due).or_default() += 1;
        Deferred {
            scheduler: self.clone(),
            due,
        }
    }

    /// Rows deferred, and the countdown when they are all that is left to do.
    pub fn waiting(&self) -> Waiting {
        let deferred = lock(&self.deferred);
        let count = deferred.values().map(|n| u64::from(*n)).sum();
        let idle =
            self.slots.available_permits() == self.concurrency && lock(&self.queue).is_empty();
        Waiting {
            deferred: count,
            all_wait_for: deferred
                .keys()
                .next()
                .filter(|_| idle)
                .map(|due| due.saturating_duration_since(Instant::now())),
        }
    }
}

/// A row deferred by a 10012; forgotten when dropped.
pub struct Deferred {
    scheduler: Arc<Scheduler>,
    due: Instant,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        let mut d = lock(&self.scheduler.deferred);
        if let Some(n) = d.get_mut(&self.due) {
            *n -= 1;
            if *n == 0 {
                d.remove(&self.due);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues ten new rows, then a retry, serves them one at a time and returns the order
    /// they were served in (the retry is 99).
    async fn served_order(last_rows_in: bool, retries_wait_long: bool) -> Vec<i32> {
        let s = Arc::new(Scheduler::new(1));
        if last_rows_in {
            s.last_rows_in();
        }
        if retries_wait_long {
            s.retries_wait_long();
        }
        let pacer = Arc::new(Pacer::new("50/s".parse().unwrap()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (s, order) = (s.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let t = s.admit(Class::New).await.unwrap();
                lock(&order).push(i);
                drop(t);
            }));
            tokio::task::yield_now().await;
        }
        let (s2, order2) = (s.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let t = s2.admit(Class::Due).await.unwrap();
            lock(&order2).push(99);
            drop(t);
        }));
        tokio::task::yield_now().await;
        let (s3, p3) = (s.clone(), pacer.clone());
        let dispatcher = tokio::spawn(async move { s3.dispatch(&p3).await });
        for t in tasks {
            t.await.unwrap();
        }
        dispatcher.abort();
        let order = lock(&order).clone();
        order
    }

    #[tokio::test]
    async fn due_work_goes_ahead_of_new_rows() {
        // Until both hold, the retry goes first.
        for (read, long) in [(false, false), (true, false), (false, true)] {
            let order = served_order(read, long).await;
            assert_eq!(order[0], 99, "{read} {long}: {order:?}");
            assert_eq!(&order[1..], &(0..10).collect::<Vec<_>>()[..]);
        }
    }

    #[tokio::test]
    async fn once_the_input_is_read_and_retries_wait_a_cooldown_the_last_rows_go_first() {
        let order = served_order(true, true).await;
        assert_eq!(&order[..10], &(0..10).collect::<Vec<_>>()[..], "{order:?}");
        assert_eq!(order[10], 99);
    }

    #[test]
    fn deferred_rows_are_counted_until_dropped() {
        let s = Arc::new(Scheduler::new(2));
        let due = Instant::now() + Duration::from_secs(60);
        let a = s.defer(due);
        let b = s.defer(due + Duration::from_secs(1));
        let w = s.waiting();
        assert_eq!(w.deferred, 2);
        assert!(w.all_wait_for.unwrap() > Duration::from_secs(50));
        drop(a);
        drop(b);
        assert_eq!(s.waiting(), Waiting::default());
    }
}
