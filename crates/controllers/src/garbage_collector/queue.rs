//! A de-duplicating work queue, the shape of client-go's `workqueue`: a key added while queued
//! is queued once; a key added while being processed is processed again after `done`; one key
//! is never processed by two workers at once.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
}

/// The queue; share it as `Arc<WorkQueue<K>>`.
pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue `key` unless it is already waiting.
    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if !s.dirty.insert(key.clone()) {
            return;
        }
        if !s.processing.contains(&key) {
            s.queue.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queue `key` after `delay` (retries).
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        let q = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(key);
        });
    }

    /// Take the next key, waiting for one; call [`WorkQueue::done`] after processing it.
    pub async fn next(&self) -> K {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(k) = self.try_next() {
                return k;
            }
            notified.await;
        }
    }

    /// The next key if one is queued.
    pub fn try_next(&self) -> Option<K> {
        let mut s = self.lock();
        let k = s.queue.pop_front()?;
        s.dirty.remove(&k);
        s.processing.insert(k.clone());
        let more = !s.queue.is_empty();
        drop(s);
        if more {
            // Wake another worker for the rest.
            self.notify.notify_one();
        }
        Some(k)
    }

    /// Processing of `key` finished; it is queued again if it was added meanwhile.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// How many keys wait.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_requeues_after_done() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.try_next();
        assert_eq!(a, Some("a"));
        // Added while processing: not handed out until done.
        q.add("a");
        assert_eq!(q.try_next(), Some("b"));
        assert_eq!(q.try_next(), None);
        q.done(&"a");
        assert_eq!(q.try_next(), Some("a"));
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn next_waits_for_add() {
        let q = Arc::new(WorkQueue::new());
        let q2 = Arc::clone(&q);
        let h = tokio::spawn(async move { q2.next().await });
        tokio::task::yield_now().await;
        q.add(7u32);
        assert_eq!(h.await.ok(), Some(7));
    }
}
