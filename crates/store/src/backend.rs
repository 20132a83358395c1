//! The storage engine under the shared store core.
//!
//! [`KvStore`](crate::KvStore) owns all the logic (current state, CAS checks, revision
//! assignment, watch fan-out, compaction bookkeeping); a [`Backend`] only persists the
//! log of changes and answers the questions that need history. All methods are
//! blocking: the core calls them from its writer thread or from `spawn_blocking`.

use std::ops::Bound;

use crate::{Event, KeyValue, ListOptions, Result, Revision};

/// What a backend holds when the store opens.
#[derive(Debug, Default)]
pub struct LoadedState {
    /// The live keys (latest non-deleted version of each), in any order.
    pub kvs: Vec<KeyValue>,
    /// The revision of the last committed write (never lower than `compacted_revision`).
    pub current_revision: Revision,
    /// The revision history was compacted to (0: never).
    pub compacted_revision: Revision,
}

/// A durable (or, for tests, in-memory) log of changes.
///
/// Every event appended has a revision one higher than the previous one. An event's
/// `prev` (if any) is the key's version just before it; a delete event's `kv` holds the
/// last value with `mod_revision` = the deletion revision.
pub trait Backend: Send + Sync + 'static {
    /// Reads the state to start from.
    fn load(&self) -> Result<LoadedState>;
    /// Appends a batch of events atomically and durably (all or nothing).
    fn append(&self, events: &[Event]) -> Result<()>;
    /// Events with `after < revision <= up_to` whose key starts with `prefix`, in
    /// revision order, at most `limit` of them. The caller guarantees that
    /// `after >= compacted revision`.
    fn history(
        &self,
        prefix: &str,
        after: Revision,
        up_to: Revision,
        limit: usize,
    ) -> Result<Vec<Event>>;
    /// The live keys as of `revision` (which the caller guarantees is not compacted),
    /// honouring `opts.prefix`, `opts.start_after` and `opts.limit` (`opts.revision` is
    /// ignored). Returns the page and whether more keys follow it.
    fn list_at(&self, opts: &ListOptions, revision: Revision) -> Result<(Vec<KeyValue>, bool)>;
    /// Drops every version at or below `revision` that a later version at or below
    /// `revision` supersedes, and every deletion at or below `revision`; records
    /// `revision` as the compaction point. The state as of `revision` stays readable.
    fn compact(&self, revision: Revision) -> Result<()>;
}

/// The smallest byte string greater than every string starting with `prefix`
/// (None: no upper bound, e.g. for the empty prefix).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The lower bound of a listing: keys `>= prefix` and `> start_after`.
pub(crate) fn list_lower_bound<'a>(
    prefix: &'a str,
    start_after: Option<&'a str>,
) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// The page size asked for (`None` or 0: unlimited).
pub(crate) fn effective_limit(limit: Option<usize>) -> usize {
    match limit {
        None | Some(0) => usize::MAX,
        Some(n) => n,
    }
}

/// Takes keys from an ordered iterator into a page of at most `limit`; tells whether more remain.
pub(crate) fn take_page(
    iter: impl Iterator<Item = KeyValue>,
    limit: Option<usize>,
) -> (Vec<KeyValue>, bool) {
    let limit = effective_limit(limit);
    let mut items = Vec::new();
    let mut more = false;
    for kv in iter {
        if items.len() >= limit {
            more = true;
            break;
        }
        items.push(kv);
    }
    (items, more)
}
