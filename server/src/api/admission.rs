//! Admission: how many prediction requests run at once, and what happens to the rest.
//!
//! Up to [`AdmissionLimits::max_running`] requests run; the next ones wait in a queue per
//! model, up to [`AdmissionLimits::max_queued`] in all, none longer than
//! [`AdmissionLimits::queue_timeout`]. Waiting costs a timer, not CPU, so the server's
//! cores keep serving instead of answering retries.
//!
//! - **Fair between models.** A freed slot goes to the models with waiters in turn
//!   (round robin), and when the queue is full a model with fewer waiters than the
//!   longest queue takes the place of that queue's oldest waiter: one hot model cannot
//!   starve the others.
//! - **Fresh requests first under overload.** Every 100 ms the queue compares what a
//!   request arriving now would wait in line (waiters / slots freed per second) with
//!   [`AdmissionLimits::queue_target`]. Below it, a model's oldest waiter goes first. Above
//!   it (overload, a standing queue in CoDel's terms) the newest goes first, and while
//!   requests keep arriving a waiter already past the target is not served at all: the
//!   freed slot goes to the next arrival, so no request is served late, and the stale ones
//!   are refused at their time-out instead of every request waiting too long (adaptive
//!   LIFO, as at Facebook). Once arrivals stop, the stale are served too.
//! - **Cheap refusals.** A request that finds the queue full, is displaced or times out
//!   is answered 503 with `Retry-After` before its body is read.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How many requests run and wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Prediction requests served at once (body read, model call, answer).
    pub max_running: usize,
    /// Requests waiting for a turn, over all models (`0`: none wait, the rest is refused).
    pub max_queued: usize,
    /// Past this expected wait in line the queue is overloaded: the newest waiter goes
    /// first, and none that waited longer is served while requests keep arriving.
    pub queue_target: Duration,
    /// The longest a request waits for its turn before it is refused.
    pub queue_timeout: Duration,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue was full (and this model already had its share of it).
    QueueFull(usize),
    /// A model with fewer waiters took this request's place in a full queue.
    Displaced,
    /// No turn came within the queue timeout.
    TimedOut(Duration),
}

impl Refusal {
    /// Whether the request had waited in the queue before it was refused.
    pub fn queued(&self) -> bool {
        !matches!(self, Self::QueueFull(_))
    }

    /// The `reason` label of `wasml_requests_shed_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::QueueFull(_) => "queue_full",
            Self::Displaced => "displaced",
            Self::TimedOut(_) => "queue_timeout",
        }
    }
}

/// The server's admission queue.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    running: usize,
    /// Models with waiters, in round-robin order from `next`.
    queues: Vec<ModelQueue>,
    next: usize,
    next_id: u64,
    /// When the last request asked for a slot.
    last_arrival: Option<Instant>,
    /// Slots freed since `window_start`: the rate the queue drains at.
    window_start: Instant,
    window_releases: u32,
    /// In the last window, the queue was longer than `queue_target` of draining.
    overloaded: bool,
}

/// How often the queue decides whether it is overloaded.
const LOAD_WINDOW: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct ModelQueue {
    model: String,
    waiters: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    since: Instant,
    turn: oneshot::Sender<()>,
}

/// A running request's slot; dropping it hands the slot to the next waiter.
#[must_use = "the request runs while its slot is held"]
#[derive(Debug)]
pub struct Admitted<'a> {
    admission: &'a Admission,
    /// How long the request waited for its turn.
    pub waited: Duration,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission.release();
    }
}

impl Admission {
    /// An empty queue with these limits.
    pub fn new(limits: AdmissionLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                running: 0,
                queues: Vec::new(),
                next: 0,
                next_id: 0,
                last_arrival: None,
                window_start: Instant::now(),
                window_releases: 0,
                overloaded: false,
            }),
        }
    }

    /// Requests waiting for a turn now.
    pub fn queued(&self) -> usize {
        self.lock().queued()
    }

    /// Requests running now.
    pub fn running(&self) -> usize {
        self.lock().running
    }

    /// A slot for a request to `model`: at once, after a wait, or a refusal.
    pub async fn admit(&self, model: &str) -> Result<Admitted<'_>, Refusal> {
        let waiting = {
            let mut state = self.lock();
            state.arrived();
            if state.running < self.limits.max_running {
                state.running += 1;
                return Ok(self.admitted(Duration::ZERO));
            }
            if state.queued() >= self.limits.max_queued && !state.make_room_for(model) {
                return Err(Refusal::QueueFull(self.limits.max_queued));
            }
            state.enqueue(model)
        };
        let (id, turn) = waiting;
        let since = Instant::now();
        let mut waiting = Waiting {
            admission: self,
            model,
            id,
            turn,
            settled: false,
        };
        let outcome = tokio::time::timeout(self.limits.queue_timeout, &mut waiting.turn).await;
        waiting.settled = true;
        match outcome {
            Ok(Ok(())) => Ok(self.admitted(since.elapsed())),
            Ok(Err(_)) => Err(Refusal::Displaced),
            Err(_) if waiting.leave() => Ok(self.admitted(since.elapsed())),
            Err(_) => Err(Refusal::TimedOut(self.limits.queue_timeout)),
        }
    }

    fn admitted(&self, waited: Duration) -> Admitted<'_> {
        Admitted {
            admission: self,
            waited,
        }
    }

    /// A slot is free: the next waiter takes it over, or it goes back.
    fn release(&self) {
        let mut state = self.lock();
        let target = self.limits.queue_target;
        state.measure_load(target);
        while let Some(waiter) = state.next_waiter(target) {
            if waiter.turn.send(()).is_ok() {
                return;
            }
        }
        state.running -= 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("admission lock")
    }
}

/// A request waiting for its turn. If the wait ends early (time-out, or the request is
/// dropped because its client went away) it leaves the queue, or, if its turn came
/// meanwhile, takes the slot (or passes it on when dropped).
struct Waiting<'a> {
    admission: &'a Admission,
    model: &'a str,
    id: u64,
    turn: oneshot::Receiver<()>,
    settled: bool,
}

impl Waiting<'_> {
    /// Leaves the queue; `true` if the turn had come after all (the slot is then ours).
    fn leave(&mut self) -> bool {
        if self.admission.lock().remove(self.model, self.id) {
            return false;
        }
        // No longer queued: handed a turn (sent under the lock) or displaced.
        self.turn.try_recv().is_ok()
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.settled && self.leave() {
            self.admission.release();
        }
    }
}

impl State {
    fn queued(&self) -> usize {
        self.queues.iter().map(|q| q.waiters.len()).sum()
    }

    fn enqueue(&mut self, model: &str) -> (u64, oneshot::Receiver<()>) {
        let (turn, receiver) = oneshot::channel();
        let id = self.next_id;
        self.next_id += 1;
        let waiter = Waiter {
            id,
            since: Instant::now(),
            turn,
        };
        match self.queues.iter_mut().find(|q| q.model == model) {
            Some(queue) => queue.waiters.push_back(waiter),
            None => self.queues.push(ModelQueue {
                model: model.to_owned(),
                waiters: VecDeque::from([waiter]),
            }),
        }
        (id, receiver)
    }

    /// In a full queue, `model` may displace the oldest waiter of the longest queue if it
    /// has fewer waiters than that queue (less one, so two models do not trade places).
    fn make_room_for(&mut self, model: &str) -> bool {
        let own = self.waiting_for(model);
        let Some(longest) = self.queues.iter_mut().max_by_key(|q| q.waiters.len()) else {
            return false;
        };
        if longest.waiters.len() <= own + 1 {
            return false;
        }
        // Dropping its sender tells the waiter it was displaced; the queue keeps others.
        drop(longest.waiters.pop_front());
        true
    }

    fn waiting_for(&self, model: &str) -> usize {
        self.queues
            .iter()
            .find(|q| q.model == model)
            .map_or(0, |q| q.waiters.len())
    }

    /// The waiter a freed slot goes to: from the models in turn, a model's oldest, or its
    /// newest once the oldest has waited past `target`. While requests keep arriving, a
    /// waiter past `target` is passed over (it waits out its time-out): the slot stays
    /// free for the next arrival, so the requests served under overload are the fresh
    /// ones and none is served late. When arrivals stop, the stale are served too.
    fn next_waiter(&mut self, target: Duration) -> Option<Waiter> {
        let overloaded = self.overloaded;
        let arriving = overloaded && self.last_arrival.is_some_and(|at| at.elapsed() < target);
        // Under overload the newest goes, and only while it is fresh if more are coming.
        let takes_turn = |queue: &ModelQueue| {
            !arriving
                || queue
                    .waiters
                    .back()
                    .is_some_and(|w| w.since.elapsed() <= target)
        };
        let index = (0..self.queues.len())
            .map(|offset| (self.next + offset) % self.queues.len())
            .find(|&index| takes_turn(&self.queues[index]))?;
        let waiters = &mut self.queues[index].waiters;
        let waiter = if overloaded {
            waiters.pop_back()
        } else {
            waiters.pop_front()
        };
        self.next = index + 1;
        self.drop_if_empty(index);
        waiter
    }

    /// Counts a freed slot and, once per [`LOAD_WINDOW`], decides whether the queue is
    /// overloaded: whether a request queued now would wait longer than `target` in line.
    fn measure_load(&mut self, target: Duration) {
        self.window_releases += 1;
        let elapsed = self.window_start.elapsed();
        if elapsed >= LOAD_WINDOW {
            let drained_per_second = f64::from(self.window_releases) / elapsed.as_secs_f64();
            self.overloaded = self.queued() as f64 > drained_per_second * target.as_secs_f64();
            self.window_start = Instant::now();
            self.window_releases = 0;
        }
    }

    /// A request arrived now.
    fn arrived(&mut self) {
        self.last_arrival = Some(Instant::now());
    }

    fn remove(&mut self, model: &str, id: u64) -> bool {
        let Some(index) = self.queues.iter().position(|q| q.model == model) else {
            return false;
        };
        let waiters = &mut self.queues[index].waiters;
        let Some(at) = waiters.iter().position(|w| w.id == id) else {
            return false;
        };
        waiters.remove(at);
        self.drop_if_empty(index);
        true
    }

    /// Drops the queue at `index` once it has no waiters; the round robin goes on with
    /// the model that moves into its place.
    fn drop_if_empty(&mut self, index: usize) {
        if self.queues[index].waiters.is_empty() {
            self.queues.remove(index);
            if index < self.next {
                self.next -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limits(max_running: usize, max_queued: usize) -> AdmissionLimits {
        AdmissionLimits {
            max_running,
            max_queued,
            queue_target: Duration::from_secs(3600),
            queue_timeout: Duration::from_secs(3600),
        }
    }

    /// Queues a request to `model` that, once admitted, logs `name` and gives its slot
    /// back.
    fn waiter(
        admission: &Arc<Admission>,
        model: &'static str,
        name: &'static str,
        log: &Arc<Mutex<Vec<String>>>,
    ) -> tokio::task::JoinHandle<Result<(), Refusal>> {
        let (admission, log) = (Arc::clone(admission), Arc::clone(log));
        tokio::spawn(async move {
            let slot = admission.admit(model).await?;
            log.lock().unwrap().push(name.to_owned());
            drop(slot);
            Ok(())
        })
    }

    /// Waits until `what` holds; fails the test after five seconds rather than hang.
    async fn until(what: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !what() {
            assert!(Instant::now() < deadline, "the condition never held");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn freed_slots_go_to_models_in_turn_and_a_full_queue_makes_room_for_a_quiet_model() {
        let admission = Arc::new(Admission::new(limits(1, 3)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let held = admission.admit("hot").await.unwrap();
        let mut tasks = Vec::new();
        for n in 1..=3 {
            tasks.push(waiter(&admission, "hot", "hot", &log));
            until(|| admission.queued() == n).await;
        }
        // Full, but "quiet" has no waiter: the oldest "hot" one gives it its place.
        tasks.push(waiter(&admission, "quiet", "quiet", &log));
        let displaced = tasks.remove(0).await.unwrap();
        assert_eq!(displaced, Err(Refusal::Displaced));
        assert_eq!(admission.queued(), 3);
        // One more "hot" request finds the queue full and its model holding the most.
        let refused = admission.admit("hot").await.unwrap_err();
        assert_eq!(refused, Refusal::QueueFull(3));

        drop(held);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // "quiet" queued last but went second: turns alternate between models.
        assert_eq!(*log.lock().unwrap(), ["hot", "quiet", "hot"]);
        assert_eq!((admission.running(), admission.queued()), (0, 0));
    }

    #[tokio::test]
    async fn a_waiter_times_out_and_leaves_and_a_standing_queue_serves_the_newest_first() {
        let admission = Arc::new(Admission::new(AdmissionLimits {
            queue_target: Duration::ZERO,
            queue_timeout: Duration::from_millis(50),
            ..limits(1, 8)
        }));
        let held = admission.admit("m").await.unwrap();
        let refused = admission.admit("m").await.unwrap_err();
        assert_eq!(refused, Refusal::TimedOut(Duration::from_millis(50)));
        assert_eq!((admission.running(), admission.queued()), (1, 0));

        // With a zero target any queue is overload once the queue has measured itself
        // (a window after it started): the newest waiter goes first.
        let admission = Arc::new(Admission::new(AdmissionLimits {
            queue_target: Duration::ZERO,
            ..limits(1, 8)
        }));
        let log = Arc::new(Mutex::new(Vec::new()));
        drop(held);
        let held = admission.admit("m").await.unwrap();
        let older = waiter(&admission, "m", "older", &log);
        until(|| admission.queued() == 1).await;
        let newer = waiter(&admission, "m", "newer", &log);
        until(|| admission.queued() == 2).await;
        tokio::time::sleep(LOAD_WINDOW).await;
        drop(held);
        older.await.unwrap().unwrap();
        newer.await.unwrap().unwrap();
        assert_eq!(*log.lock().unwrap(), ["newer", "older"]);
    }

    #[tokio::test]
    async fn a_request_dropped_while_queued_leaves_the_queue() {
        let admission = Admission::new(limits(1, 8));
        let held = admission.admit("m").await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(20), admission.admit("m")).await;
        assert!(gave_up.is_err(), "still waiting when dropped");
        assert_eq!(admission.queued(), 0);
        drop(held);
        assert_eq!(
            admission.running(),
            0,
            "the slot went back, not to the gone waiter"
        );
    }
}
