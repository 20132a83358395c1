//! The store logic shared by every backend: current state, CAS checks, revision
//! assignment through one writer thread with group commit, watch fan-out and
//! compaction bookkeeping.

mod watcher;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::backend::{Backend, list_lower_bound, take_page};
use crate::{
    Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, Store, StoreError, Watch,
};

/// Tuning of the shared store core.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How often the background compactor runs; each run compacts to the revision that
    /// was current at the previous run (so about one interval of history is kept).
    /// `None` disables it. Default: 5 minutes.
    pub compact_interval: Option<Duration>,
    /// At most this many recent events are kept in memory for watchers (older ones are
    /// read from the backend). Default: 10,000.
    pub watch_cache_events: usize,
    /// At most about this many bytes of recent events are kept in memory. Default: 64 MiB.
    pub watch_cache_bytes: usize,
    /// At most this many writes share one commit. Default: 512.
    pub max_batch: usize,
    /// Writes queued for the writer thread before writers wait. Default: 4,096.
    pub queue_capacity: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            compact_interval: Some(Duration::from_secs(300)),
            watch_cache_events: 10_000,
            watch_cache_bytes: 64 << 20,
            max_batch: 512,
            queue_capacity: 4096,
        }
    }
}

/// Events scanned in the in-memory ring per lock hold of a watcher.
const RING_SCAN: usize = 4096;
/// Events a watcher returns per batch at most.
const WATCH_BATCH: usize = 1000;

/// A store made of the shared core over a [`Backend`]. See [`SqliteStore`](crate::SqliteStore)
/// and [`MemoryStore`](crate::MemoryStore).
///
/// Revisions readable: a revision `r` can be listed (and watched from, i.e. `after = r`)
/// iff `compacted_revision() <= r <= current_revision()`; below it the store answers
/// [`StoreError::Compacted`], as etcd does (the compaction revision itself stays readable).
/// Compacting to `r` when `r <= compacted_revision()` does nothing and succeeds.
pub struct KvStore<B: Backend> {
    shared: Arc<Shared<B>>,
    writes: RwLock<Option<mpsc::Sender<WriteRequest>>>,
    compactor: Mutex<Option<JoinHandle<()>>>,
    writer_done: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// State shared by the store handle, the writer thread, watchers and the compactor.
pub(crate) struct Shared<B> {
    backend: Arc<B>,
    state: RwLock<State>,
    /// Signals the newest published revision (and the close of the store).
    revision_tx: watch::Sender<Revision>,
    compact_lock: tokio::sync::Mutex<()>,
    opts: StoreOptions,
}

struct State {
    kvs: BTreeMap<String, KeyValue>,
    current: Revision,
    compacted: Revision,
    /// The most recent events, one per revision: `ring[i]` has revision `ring_first + i`.
    ring: VecDeque<Event>,
    ring_first: Revision,
    ring_bytes: usize,
    closed: bool,
}

enum Op {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: Option<Revision>,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

struct WriteRequest {
    op: Op,
    reply: oneshot::Sender<Result<KeyValue>>,
}

impl<B> Shared<B> {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // No code panics while holding the lock, so a poisoned lock still holds consistent state.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn event_size(e: &Event) -> usize {
    128 + e.kv.key.len() + e.kv.value.len() + e.prev.as_ref().map_or(0, |p| p.value.len())
}

impl<B: Backend> KvStore<B> {
    /// Starts a store over `backend`: loads its state, starts the writer thread and, when
    /// `opts.compact_interval` is set and a tokio runtime is running, the compactor task.
    pub fn start(backend: B, opts: StoreOptions) -> Result<Arc<Self>> {
        let loaded = backend.load()?;
        let current = loaded.current_revision.max(loaded.compacted_revision);
        let kvs = loaded
            .kvs
            .into_iter()
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        let (revision_tx, _) = watch::channel(current);
        let shared = Arc::new(Shared {
            backend: Arc::new(backend),
            state: RwLock::new(State {
                kvs,
                current,
                compacted: loaded.compacted_revision,
                ring: VecDeque::new(),
                ring_first: current + 1,
                ring_bytes: 0,
                closed: false,
            }),
            revision_tx,
            compact_lock: tokio::sync::Mutex::new(()),
            opts: opts.clone(),
        });

        let (tx, rx) = mpsc::channel(opts.queue_capacity.max(1));
        let (done_tx, done_rx) = oneshot::channel();
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("k3rs-store-writer".into())
            .spawn(move || {
                run_writer(&writer_shared, rx);
                let _ = done_tx.send(());
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;

        let compactor = match (opts.compact_interval, tokio::runtime::Handle::try_current()) {
            (Some(every), Ok(rt)) => Some(rt.spawn(run_compactor(shared.clone(), every))),
            (Some(_), Err(_)) => {
                tracing::warn!("no tokio runtime: background compaction disabled");
                None
            }
            (None, _) => None,
        };
        tracing::debug!(revision = current, "store opened");
        Ok(Arc::new(KvStore {
            shared,
            writes: RwLock::new(Some(tx)),
            compactor: Mutex::new(compactor),
            writer_done: tokio::sync::Mutex::new(Some(done_rx)),
        }))
    }

    /// Stops the store: refuses new writes (`Closed`), lets the queued ones commit, stops
    /// the compactor and waits for the writer thread to finish. Watchers then get
    /// `Closed` once they have read every committed event. Dropping the last handle does
    /// the same without waiting.
    pub async fn close(&self) {
        self.shutdown();
        let done = self.writer_done.lock().await.take();
        if let Some(done) = done {
            let _ = done.await;
        }
    }

    fn shutdown(&self) {
        self.writes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = self
            .compactor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }

    /// The backend under this store.
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    async fn submit(&self, op: Op) -> Result<KeyValue> {
        let tx = self
            .writes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        tx.send(WriteRequest { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

impl<B: Backend> Drop for KvStore<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<B: Backend> Shared<B> {
    /// Compacts to `revision` (see [`KvStore`] for the rules).
    async fn compact(&self, revision: Revision) -> Result<()> {
        let _serial = self.compact_lock.lock().await;
        {
            let mut st = self.write();
            if revision > st.current {
                return Err(StoreError::FutureRevision {
                    requested: revision,
                    current: st.current,
                });
            }
            if revision <= st.compacted {
                return Ok(());
            }
            // Published before the backend deletes anything, so that a reader that
            // checks it after reading history notices a concurrent compaction.
            st.compacted = revision;
        }
        let backend = self.backend.clone();
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || backend.compact(revision))
            .await
            .map_err(|e| StoreError::Backend(format!("compaction task failed: {e}")))??;
        tracing::debug!(revision, elapsed = ?started.elapsed(), "compacted");
        Ok(())
    }

    /// Fails with `Compacted` when `revision` is below the compaction point.
    fn check_compacted(&self, revision: Revision) -> Result<()> {
        let compacted = self.read().compacted;
        if revision < compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(())
    }
}

async fn run_compactor<B: Backend>(shared: Arc<Shared<B>>, every: Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous = shared.read().current;
    loop {
        ticker.tick().await;
        let target = previous;
        previous = shared.read().current;
        let compacted = shared.read().compacted;
        if target > compacted
            && let Err(e) = shared.compact(target).await
        {
            tracing::warn!(revision = target, error = %e, "background compaction failed");
        }
    }
}

/// The writer thread: drains queued writes into batches, checks them, commits each
/// batch in one backend transaction, publishes it, then answers the writers.
fn run_writer<B: Backend>(shared: &Shared<B>, mut rx: mpsc::Receiver<WriteRequest>) {
    let max_batch = shared.opts.max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let writes = batch.len();
        commit_batch(shared, &mut batch);
        tracing::trace!(writes, elapsed = ?started.elapsed(), "write batch");
    }
    shared.write().closed = true;
    shared.revision_tx.send_modify(|_| {});
    tracing::debug!("store writer stopped");
}

fn commit_batch<B: Backend>(shared: &Shared<B>, batch: &mut Vec<WriteRequest>) {
    let mut events = Vec::with_capacity(batch.len());
    let mut outcomes: Vec<Result<KeyValue>> = Vec::with_capacity(batch.len());
    {
        let st = shared.read();
        let mut staged: HashMap<String, Option<KeyValue>> = HashMap::new();
        let mut revision = st.current;
        for req in batch.iter_mut() {
            let key = match &req.op {
                Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
            };
            let current = match staged.get(key) {
                Some(staged) => staged.clone(),
                None => st.kvs.get(key).cloned(),
            };
            match stage(&mut req.op, current, revision + 1) {
                Ok(event) => {
                    revision += 1;
                    let after = (event.kind == EventKind::Put).then(|| event.kv.clone());
                    staged.insert(event.kv.key.clone(), after);
                    outcomes.push(Ok(event.kv.clone()));
                    events.push(event);
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
    }

    if !events.is_empty() {
        if let Err(e) = shared.backend.append(&events) {
            tracing::error!(error = %e, writes = events.len(), "commit failed");
            let msg = e.to_string();
            for req in batch.drain(..) {
                let _ = req.reply.send(Err(StoreError::Backend(msg.clone())));
            }
            return;
        }
        publish(shared, events);
    }
    for (req, outcome) in batch.drain(..).zip(outcomes) {
        let _ = req.reply.send(outcome);
    }
}

/// Checks one write against the key's current version and builds its event.
fn stage(op: &mut Op, current: Option<KeyValue>, revision: Revision) -> Result<Event> {
    let check = |cur: &KeyValue, expected: Option<Revision>| match expected {
        Some(exp) if exp != cur.mod_revision => Err(StoreError::Conflict {
            key: cur.key.clone(),
            expected: exp,
            current: Box::new(cur.clone()),
        }),
        _ => Ok(()),
    };
    match op {
        Op::Create { key, value } => match current {
            Some(_) => Err(StoreError::AlreadyExists(key.clone())),
            None => Ok(Event {
                kind: EventKind::Put,
                kv: KeyValue {
                    key: key.clone(),
                    value: std::mem::take(value).into(),
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            }),
        },
        Op::Update {
            key,
            value,
            expected,
        } => {
            let cur = current.ok_or_else(|| StoreError::NotFound(key.clone()))?;
            check(&cur, *expected)?;
            Ok(Event {
                kind: EventKind::Put,
                kv: KeyValue {
                    key: key.clone(),
                    value: std::mem::take(value).into(),
                    create_revision: cur.create_revision,
                    mod_revision: revision,
                },
                prev: Some(cur),
            })
        }
        Op::Delete { key, expected } => {
            let cur = current.ok_or_else(|| StoreError::NotFound(key.clone()))?;
            check(&cur, *expected)?;
            Ok(Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    mod_revision: revision,
                    ..cur.clone()
                },
                prev: Some(cur),
            })
        }
    }
}

/// Applies a committed batch to the in-memory state and the watch ring, then wakes watchers.
fn publish<B>(shared: &Shared<B>, events: Vec<Event>) {
    let max_events = shared.opts.watch_cache_events.max(1);
    let max_bytes = shared.opts.watch_cache_bytes;
    let newest = {
        let mut guard = shared.write();
        let st = &mut *guard;
        for event in events {
            match event.kind {
                EventKind::Put => {
                    st.kvs.insert(event.kv.key.clone(), event.kv.clone());
                }
                EventKind::Delete => {
                    st.kvs.remove(&event.kv.key);
                }
            }
            st.current = event.kv.mod_revision;
            st.ring_bytes += event_size(&event);
            st.ring.push_back(event);
        }
        while st.ring.len() > max_events || (st.ring_bytes > max_bytes && st.ring.len() > 1) {
            if let Some(old) = st.ring.pop_front() {
                st.ring_bytes -= event_size(&old);
                st.ring_first += 1;
            }
        }
        st.current
    };
    shared.revision_tx.send_replace(newest);
}

#[async_trait::async_trait]
impl<B: Backend> Store for KvStore<B> {
    fn current_revision(&self) -> Revision {
        self.shared.read().current
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.read().compacted
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.shared.read().kvs.get(key).cloned())
    }

    /// Lists from memory at the current revision; an older `revision` (readable iff
    /// `>= compacted_revision()`) is read from the backend. `Some(0)` means current.
    async fn list(&self, opts: ListOptions) -> Result<ListResult> {
        let revision = {
            let st = self.shared.read();
            let wanted = opts.revision.unwrap_or(0);
            if wanted == 0 || wanted == st.current {
                let lower = list_lower_bound(&opts.prefix, opts.start_after.as_deref());
                let iter = st
                    .kvs
                    .range::<str, _>((lower, Bound::Unbounded))
                    .take_while(|(k, _)| k.starts_with(&opts.prefix))
                    .map(|(_, kv)| kv.clone());
                let (items, more) = take_page(iter, opts.limit);
                return Ok(ListResult {
                    items,
                    revision: st.current,
                    more,
                });
            }
            if wanted > st.current {
                return Err(StoreError::FutureRevision {
                    requested: wanted,
                    current: st.current,
                });
            }
            if wanted < st.compacted {
                return Err(StoreError::Compacted {
                    requested: wanted,
                    compacted: st.compacted,
                });
            }
            wanted
        };
        let backend = self.shared.backend.clone();
        let (items, more) = tokio::task::spawn_blocking(move || backend.list_at(&opts, revision))
            .await
            .map_err(|e| StoreError::Backend(format!("list task failed: {e}")))??;
        // A compaction that started meanwhile may have removed rows we needed.
        self.shared.check_compacted(revision)?;
        Ok(ListResult {
            items,
            revision,
            more,
        })
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue> {
        self.submit(Op::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<Revision>,
    ) -> Result<KeyValue> {
        self.submit(Op::Update {
            key: key.to_owned(),
            value,
            expected,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.submit(Op::Delete {
            key: key.to_owned(),
            expected,
        })
        .await
    }

    /// `after` must be 0 (from now on) or `>= compacted_revision()`, else `Compacted`.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<Box<dyn Watch>> {
        let cursor = {
            let st = self.shared.read();
            if after == 0 {
                st.current
            } else if after < st.compacted {
                return Err(StoreError::Compacted {
                    requested: after,
                    compacted: st.compacted,
                });
            } else {
                after
            }
        };
        Ok(Box::new(watcher::Watcher::new(
            self.shared.clone(),
            prefix.to_owned(),
            cursor,
        )))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.shared.compact(revision).await
    }
}

#[cfg(test)]
mod tests;
