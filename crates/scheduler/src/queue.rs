//! The scheduling queue (upstream `PriorityQueue`): an active heap ordered by priority then
//! arrival, a back-off heap, and the parked unschedulable pods that cluster events move back.
//! Time is passed in, so the queue is pure.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Upstream `podInitialBackoffDuration`.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Upstream `podMaxBackoffDuration`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream `podMaxInUnschedulablePodsDuration`: parked pods are retried after this anyway.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Debug)]
struct Info {
    priority: i32,
    attempts: u32,
    place: Place,
    generation: u64,
    last_attempt: Option<Instant>,
    parked_at: Option<Instant>,
    /// The move counter when the pod was popped.
    popped_at_move: u64,
}

#[derive(Debug, PartialEq, Eq)]
struct ActiveEntry {
    priority: i32,
    seq: u64,
    generation: u64,
    key: String,
}

impl Ord for ActiveEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The queue of pods waiting for a node, keyed by `namespace/name`.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<ActiveEntry>,
    backoff: BinaryHeap<Reverse<(Instant, u64, u64, String)>>,
    pods: HashMap<String, Info>,
    /// Keys of the parked (unschedulable) pods, so cluster events do not scan the queue.
    parked: HashSet<String>,
    seq: u64,
    moves: u64,
}

/// The back-off after `attempts` failed attempts: 1 s doubling, at most 10 s.
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..attempts {
        d *= 2;
        if d >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    d
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    fn push_active(&mut self, key: &str) {
        self.parked.remove(key);
        self.seq += 1;
        let seq = self.seq;
        if let Some(info) = self.pods.get_mut(key) {
            info.place = Place::Active;
            info.generation += 1;
            self.active.push(ActiveEntry {
                priority: info.priority,
                seq,
                generation: info.generation,
                key: key.to_string(),
            });
        }
    }

    fn push_backoff(&mut self, key: &str, until: Instant) {
        self.parked.remove(key);
        self.seq += 1;
        let seq = self.seq;
        if let Some(info) = self.pods.get_mut(key) {
            info.place = Place::Backoff;
            info.generation += 1;
            self.backoff
                .push(Reverse((until, seq, info.generation, key.to_string())));
        }
    }

    fn backoff_expiry(info: &Info) -> Option<Instant> {
        info.last_attempt
            .map(|t| t + backoff_duration(info.attempts))
    }

    /// A new or updated pending pod. New pods go to the active queue; an updated parked pod
    /// is retried (after its back-off).
    pub fn add_or_update(&mut self, key: &str, priority: i32, now: Instant) {
        match self.pods.get_mut(key) {
            None => {
                self.pods.insert(
                    key.to_string(),
                    Info {
                        priority,
                        attempts: 0,
                        place: Place::Active,
                        generation: 0,
                        last_attempt: None,
                        parked_at: None,
                        popped_at_move: 0,
                    },
                );
                self.push_active(key);
            }
            Some(info) => {
                let changed = info.priority != priority;
                info.priority = priority;
                match info.place {
                    Place::Unschedulable => self.requeue(key, now),
                    Place::Active if changed => self.push_active(key),
                    _ => {}
                }
            }
        }
    }

    fn requeue(&mut self, key: &str, now: Instant) {
        let Some(info) = self.pods.get(key) else {
            return;
        };
        match Self::backoff_expiry(info) {
            Some(until) if until > now => self.push_backoff(key, until),
            _ => self.push_active(key),
        }
    }

    /// Forget a pod (deleted, or scheduled by someone else).
    pub fn remove(&mut self, key: &str) {
        self.pods.remove(key);
        self.parked.remove(key);
    }

    /// Whether the queue knows the pod.
    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Move back-off pods whose time has come to the active queue.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(Reverse((until, _, generation, key))) = self.backoff.peek() {
            if *until > now {
                break;
            }
            let (generation, key) = (*generation, key.clone());
            self.backoff.pop();
            if self
                .pods
                .get(&key)
                .is_some_and(|i| i.generation == generation && i.place == Place::Backoff)
            {
                self.push_active(&key);
            }
        }
    }

    /// Retry parked pods that have waited longer than [`MAX_UNSCHEDULABLE`].
    pub fn flush_unschedulable_leftover(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, i)| {
                i.place == Place::Unschedulable
                    && i.parked_at
                        .is_some_and(|t| now.duration_since(t) >= MAX_UNSCHEDULABLE)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.requeue(&k, now);
        }
    }

    /// The next pod to schedule (highest priority, then oldest); it is in flight until
    /// [`done`](Self::done), [`unschedulable`](Self::unschedulable) or [`retry`](Self::retry).
    pub fn pop(&mut self, now: Instant) -> Option<String> {
        self.flush_backoff(now);
        while let Some(e) = self.active.pop() {
            let Some(info) = self.pods.get_mut(&e.key) else {
                continue;
            };
            if info.generation != e.generation || info.place != Place::Active {
                continue;
            }
            info.place = Place::InFlight;
            info.attempts += 1;
            info.last_attempt = Some(now);
            info.popped_at_move = self.moves;
            return Some(e.key);
        }
        None
    }

    /// The pod was scheduled (assumed): forget it.
    pub fn done(&mut self, key: &str) {
        self.remove(key);
    }

    /// No node fits: park the pod until a cluster event, or back it off at once when an
    /// event arrived while it was being scheduled.
    pub fn unschedulable(&mut self, key: &str, now: Instant) {
        let moves = self.moves;
        let Some(info) = self.pods.get_mut(key) else {
            return;
        };
        if info.popped_at_move != moves {
            self.requeue(key, now);
        } else {
            info.place = Place::Unschedulable;
            info.parked_at = Some(now);
            info.generation += 1;
            self.parked.insert(key.to_string());
        }
    }

    /// An error (binding failed, API error): retry after the back-off.
    pub fn retry(&mut self, key: &str, priority: i32, now: Instant) {
        match self.pods.get_mut(key) {
            Some(info) => {
                info.priority = priority;
                self.requeue(key, now);
            }
            None => {
                self.pods.insert(
                    key.to_string(),
                    Info {
                        priority,
                        attempts: 1,
                        place: Place::Backoff,
                        generation: 0,
                        last_attempt: Some(now),
                        parked_at: None,
                        popped_at_move: 0,
                    },
                );
                self.requeue(key, now);
            }
        }
    }

    /// A cluster event that may make parked pods schedulable (node added/updated, pod
    /// deleted): move them all to active (or back-off while it lasts).
    pub fn move_all_to_active(&mut self, now: Instant) {
        self.moves += 1;
        let parked: Vec<String> = self.parked.drain().collect();
        for k in parked {
            self.requeue(&k, now);
        }
    }

    /// When the earliest back-off ends.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((t, ..))| *t)
    }

    /// Pods ready to be popped (upper bound: includes stale heap entries).
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Pods known to the queue in any state.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether the queue knows no pods.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Pods parked as unschedulable.
    pub fn num_unschedulable(&self) -> usize {
        self.parked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_then_fifo() {
        let mut q = SchedulingQueue::new();
        let now = Instant::now();
        q.add_or_update("ns/a", 0, now);
        q.add_or_update("ns/b", 10, now);
        q.add_or_update("ns/c", 0, now);
        q.add_or_update("ns/d", 10, now);
        let order: Vec<_> = std::iter::from_fn(|| q.pop(now)).collect();
        assert_eq!(order, ["ns/b", "ns/d", "ns/a", "ns/c"]);
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        assert_eq!(backoff_duration(1), Duration::from_secs(1));
        assert_eq!(backoff_duration(2), Duration::from_secs(2));
        assert_eq!(backoff_duration(4), Duration::from_secs(8));
        assert_eq!(backoff_duration(5), Duration::from_secs(10));
        assert_eq!(backoff_duration(50), Duration::from_secs(10));
    }

    #[test]
    fn parked_until_a_cluster_event_then_backed_off() {
        let mut q = SchedulingQueue::new();
        let t0 = Instant::now();
        q.add_or_update("ns/a", 0, t0);
        assert_eq!(q.pop(t0).as_deref(), Some("ns/a"));
        q.unschedulable("ns/a", t0);
        assert_eq!(q.num_unschedulable(), 1);
        assert_eq!(q.pop(t0 + Duration::from_secs(60)), None);
        // A node event half a second later: still in the 1 s back-off.
        q.move_all_to_active(t0 + Duration::from_millis(500));
        assert_eq!(q.pop(t0 + Duration::from_millis(600)), None);
        assert_eq!(q.next_backoff(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.pop(t0 + Duration::from_secs(1)).as_deref(), Some("ns/a"));
        // Second failure: back-off 2 s from this attempt.
        let t1 = t0 + Duration::from_secs(1);
        q.unschedulable("ns/a", t1);
        q.move_all_to_active(t1 + Duration::from_secs(5));
        assert_eq!(q.pop(t1 + Duration::from_secs(5)).as_deref(), Some("ns/a"));
    }

    #[test]
    fn event_during_the_attempt_skips_parking() {
        let mut q = SchedulingQueue::new();
        let t0 = Instant::now();
        q.add_or_update("ns/a", 0, t0);
        q.pop(t0);
        q.move_all_to_active(t0);
        q.unschedulable("ns/a", t0);
        assert_eq!(q.num_unschedulable(), 0);
        assert_eq!(q.pop(t0 + Duration::from_secs(1)).as_deref(), Some("ns/a"));
    }

    #[test]
    fn leftover_parked_pods_are_flushed() {
        let mut q = SchedulingQueue::new();
        let t0 = Instant::now();
        q.add_or_update("ns/a", 0, t0);
        q.pop(t0);
        q.unschedulable("ns/a", t0);
        q.flush_unschedulable_leftover(t0 + Duration::from_secs(10));
        assert_eq!(q.num_unschedulable(), 1);
        q.flush_unschedulable_leftover(t0 + MAX_UNSCHEDULABLE);
        assert_eq!(q.pop(t0 + MAX_UNSCHEDULABLE).as_deref(), Some("ns/a"));
    }

    #[test]
    fn removed_and_done_pods_are_not_popped() {
        let mut q = SchedulingQueue::new();
        let t0 = Instant::now();
        q.add_or_update("ns/a", 0, t0);
        q.add_or_update("ns/b", 0, t0);
        q.remove("ns/a");
        assert_eq!(q.pop(t0).as_deref(), Some("ns/b"));
        q.done("ns/b");
        assert!(q.is_empty());
        assert_eq!(q.pop(t0), None);
    }

    #[test]
    fn retry_backs_off() {
        let mut q = SchedulingQueue::new();
        let t0 = Instant::now();
        q.add_or_update("ns/a", 0, t0);
        q.pop(t0);
        q.retry("ns/a", 0, t0);
        assert_eq!(q.pop(t0), None);
        assert_eq!(q.pop(t0 + Duration::from_secs(1)).as_deref(), Some("ns/a"));
    }
}
