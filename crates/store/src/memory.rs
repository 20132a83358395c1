//! An in-memory backend, for unit tests: the same core as [`SqliteStore`](crate::SqliteStore)
//! over a log kept in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{Backend, LoadedState, list_lower_bound, take_page};
use crate::engine::{KvStore, StoreOptions};
use crate::{Event, EventKind, KeyValue, ListOptions, Result, Revision};

/// The store over an in-memory log. Nothing survives the process.
pub type MemoryStore = KvStore<MemoryBackend>;

impl KvStore<MemoryBackend> {
    /// A new empty in-memory store, without background compaction (call
    /// [`Store::compact`](crate::Store::compact) to drop history).
    pub fn new() -> Arc<MemoryStore> {
        Self::with_options(StoreOptions {
            compact_interval: None,
            ..StoreOptions::default()
        })
    }

    /// A new empty in-memory store with the given options (background compaction needs a
    /// running tokio runtime).
    pub fn with_options(opts: StoreOptions) -> Arc<MemoryStore> {
        // Loading an empty in-memory log cannot fail; starting a thread can only fail
        // when the process is out of resources.
        KvStore::start(MemoryBackend::default(), opts).expect("cannot start an in-memory store")
    }
}

/// A log of events kept in memory.
#[derive(Default)]
pub struct MemoryBackend {
    inner: Mutex<MemoryLog>,
}

#[derive(Default)]
struct MemoryLog {
    events: BTreeMap<Revision, Event>,
    by_key: BTreeMap<String, BTreeSet<Revision>>,
    compacted: Revision,
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, MemoryLog> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many versions the log holds (for tests of compaction).
    pub fn log_len(&self) -> usize {
        self.lock().events.len()
    }
}

impl Backend for MemoryBackend {
    fn load(&self) -> Result<LoadedState> {
        let log = self.lock();
        let kvs = log
            .by_key
            .values()
            .filter_map(|revs| revs.last().and_then(|r| log.events.get(r)))
            .filter(|e| e.kind == EventKind::Put)
            .map(|e| e.kv.clone())
            .collect();
        let current = log.events.keys().next_back().copied().unwrap_or(0);
        Ok(LoadedState {
            kvs,
            current_revision: current.max(log.compacted),
            compacted_revision: log.compacted,
        })
    }

    fn append(&self, events: &[Event]) -> Result<()> {
        let mut log = self.lock();
        for e in events {
            log.by_key
                .entry(e.kv.key.clone())
                .or_default()
                .insert(e.kv.mod_revision);
            log.events.insert(e.kv.mod_revision, e.clone());
        }
        Ok(())
    }

    fn history(
        &self,
        prefix: &str,
        after: Revision,
        up_to: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let log = self.lock();
        Ok(log
            .events
            .range((Bound::Excluded(after), Bound::Included(up_to)))
            .map(|(_, e)| e)
            .filter(|e| e.kv.key.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }

    fn list_at(&self, opts: &ListOptions, revision: Revision) -> Result<(Vec<KeyValue>, bool)> {
        let log = self.lock();
        let lower = list_lower_bound(&opts.prefix, opts.start_after.as_deref());
        let iter = log
            .by_key
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&opts.prefix))
            .filter_map(|(_, revs)| revs.range(..=revision).next_back())
            .filter_map(|r| log.events.get(r))
            .filter(|e| e.kind == EventKind::Put)
            .map(|e| e.kv.clone());
        Ok(take_page(iter, opts.limit))
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        let mut guard = self.lock();
        let log = &mut *guard;
        log.compacted = log.compacted.max(revision);
        let mut drop_revs = Vec::new();
        log.by_key.retain(|_, revs| {
            let mut old: Vec<Revision> = revs.range(..=revision).copied().collect();
            if let Some(&latest) = old.last()
                && log
                    .events
                    .get(&latest)
                    .is_some_and(|e| e.kind == EventKind::Put)
            {
                old.pop();
            }
            for r in &old {
                revs.remove(r);
            }
            drop_revs.extend(old);
            !revs.is_empty()
        });
        for r in drop_revs {
            log.events.remove(&r);
        }
        Ok(())
    }
}
