//! A revisioned key-value store with etcd's semantics: every write gets the next
//! cluster-wide revision, reads can be made at a past revision until it is
//! compacted, and watches replay history before following live writes.
//!
//! [`Store`] is the one interface the API server sees. [`SqliteStore`] is the
//! durable default; [`MemoryStore`] serves unit tests. Later backends (etcd)
//! implement the same trait.
//!
//! Both stores are one core ([`KvStore`]) over a [`Backend`]: current values are served
//! from memory, writes go through one writer thread that commits each batch of queued
//! writes in one transaction (group commit), and watches read recent events from an
//! in-memory ring and older ones from the backend. A revision `r` is readable (by
//! `list` with `revision: Some(r)`, and by `watch` with `after: r`) iff
//! `compacted_revision() <= r <= current_revision()`, as in etcd.

use std::sync::Arc;

pub mod backend;
mod engine;
mod memory;
mod sqlite;

pub use backend::Backend;
pub use engine::{KvStore, StoreOptions};
pub use memory::{MemoryBackend, MemoryStore};
pub use sqlite::{SqliteBackend, SqliteOptions, SqliteStore};

/// A store revision. Revisions start at 1 and only grow; 0 means "none".
pub type Revision = i64;

/// The value bytes of a key, shared without copying between readers and watchers.
pub type Value = Arc<[u8]>;

/// One key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Value,
    /// Revision at which the key was (last) created.
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a delete event: the deletion's revision).
    pub mod_revision: Revision,
}

/// What a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created (`kv.create_revision == kv.mod_revision`) or updated.
    Put,
    /// The key was deleted; `kv` holds its last value with `mod_revision` set to the deletion revision.
    Delete,
}

/// One change, as watches deliver it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    /// The key's value just before this change (None for a create).
    pub prev: Option<KeyValue>,
}

/// A page of a prefix listing.
#[derive(Clone, Debug, Default)]
pub struct ListResult {
    /// Keys in ascending order.
    pub items: Vec<KeyValue>,
    /// The revision the listing was taken at.
    pub revision: Revision,
    /// True when keys after the last item remain (the caller continues after it).
    pub more: bool,
}

/// How to list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only keys starting with this prefix.
    pub prefix: String,
    /// Only keys strictly greater than this one (for continuing a paged listing).
    pub start_after: Option<String>,
    /// At most this many items (None or 0: all).
    pub limit: Option<usize>,
    /// List as of this revision (None: the current one). Fails with `Compacted`
    /// below the compaction point and `FutureRevision` above the current revision.
    pub revision: Option<Revision>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key already exists.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key does not exist.
    #[error("key {0} not found")]
    NotFound(String),
    /// The key's mod_revision did not match the expected one; carries the current value.
    #[error("key {key} was modified (expected revision {expected})")]
    Conflict {
        key: String,
        expected: Revision,
        current: Box<KeyValue>,
    },
    /// The asked revision has been compacted away.
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The asked revision is newer than the store's current revision.
    #[error("revision {requested} is in the future (current is {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// A watcher fell too far behind; it must re-watch from its last revision.
    #[error("watcher fell behind")]
    WatcherLagged,
    /// The store is closed or its writer died.
    #[error("store is closed")]
    Closed,
    /// The backend failed (disk, SQL).
    #[error("backend error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A running watch: yields batches of events in revision order, without gaps or duplicates.
#[async_trait::async_trait]
pub trait Watch: Send {
    /// The next non-empty batch of events. Returns `Err(Compacted)` or `Err(WatcherLagged)`
    /// when the watch cannot go on, `Err(Closed)` when the store shut down.
    async fn next(&mut self) -> Result<Vec<Event>>;
}

/// The revisioned key-value store.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current revision (that of the last committed write).
    fn current_revision(&self) -> Revision;
    /// The oldest revision still readable (everything at or below it is compacted).
    fn compacted_revision(&self) -> Revision;
    /// The current value of a key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;
    /// List keys under a prefix.
    async fn list(&self, opts: ListOptions) -> Result<ListResult>;
    /// Create a key; fails with `AlreadyExists` if it exists. Returns the new KeyValue.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue>;
    /// Replace a key's value if its mod_revision equals `expected` (`None`: unconditionally,
    /// but the key must exist). Returns the new KeyValue.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<Revision>,
    ) -> Result<KeyValue>;
    /// Delete a key if its mod_revision equals `expected` (`None`: unconditionally).
    /// Returns the deleted KeyValue with `mod_revision` = the deletion revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;
    /// Watch keys under `prefix`, delivering every event with revision > `after`.
    /// `after` = 0 means "from now on" (events after the current revision).
    async fn watch(&self, prefix: &str, after: Revision) -> Result<Box<dyn Watch>>;
    /// Drop history at or below `revision` (keeps current values).
    async fn compact(&self, revision: Revision) -> Result<()>;
}
