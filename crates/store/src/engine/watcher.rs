//! A watch over the shared core: live events from the in-memory ring, older ones from
//! the backend, in revision order without gaps or duplicates.

use std::sync::Arc;

use tokio::sync::watch;

use super::{RING_SCAN, Shared, WATCH_BATCH};
use crate::backend::Backend;
use crate::{Event, Result, Revision, StoreError, Watch};

pub(super) struct Watcher<B> {
    shared: Arc<Shared<B>>,
    prefix: String,
    /// Every event at or below this revision has been delivered (or skipped as unrelated).
    cursor: Revision,
    revisions: watch::Receiver<Revision>,
}

enum Step {
    Events(Vec<Event>),
    History { up_to: Revision },
    Wait,
    Closed,
}

impl<B: Backend> Watcher<B> {
    pub(super) fn new(shared: Arc<Shared<B>>, prefix: String, cursor: Revision) -> Self {
        let revisions = shared.revision_tx.subscribe();
        Watcher {
            shared,
            prefix,
            cursor,
            revisions,
        }
    }

    /// Looks at the shared state once, under its read lock.
    fn step(&mut self) -> Result<Step> {
        let st = self.shared.read();
        if self.cursor < st.compacted {
            return Err(StoreError::Compacted {
                requested: self.cursor,
                compacted: st.compacted,
            });
        }
        if self.cursor >= st.current {
            return Ok(if st.closed { Step::Closed } else { Step::Wait });
        }
        if self.cursor + 1 < st.ring_first {
            return Ok(Step::History {
                up_to: st.ring_first - 1,
            });
        }
        // The ring holds every revision from ring_first to current.
        let start = usize::try_from(self.cursor + 1 - st.ring_first).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for event in st.ring.range(start.min(st.ring.len())..).take(RING_SCAN) {
            self.cursor = event.kv.mod_revision;
            if event.kv.key.starts_with(&self.prefix) {
                out.push(event.clone());
                if out.len() >= WATCH_BATCH {
                    break;
                }
            }
        }
        Ok(Step::Events(out))
    }

    async fn read_history(&mut self, up_to: Revision) -> Result<Vec<Event>> {
        let after = self.cursor;
        let backend = self.shared.backend.clone();
        let prefix = self.prefix.clone();
        let events = tokio::task::spawn_blocking(move || {
            backend.history(&prefix, after, up_to, WATCH_BATCH)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("watch history task failed: {e}")))??;
        // A compaction that started meanwhile may have removed rows we needed.
        self.shared.check_compacted(after)?;
        self.cursor = match events.last() {
            Some(last) if events.len() >= WATCH_BATCH => last.kv.mod_revision,
            _ => up_to,
        };
        Ok(events)
    }
}

#[async_trait::async_trait]
impl<B: Backend> Watch for Watcher<B> {
    async fn next(&mut self) -> Result<Vec<Event>> {
        loop {
            self.revisions.borrow_and_update();
            match self.step()? {
                Step::Events(events) if !events.is_empty() => return Ok(events),
                Step::Events(_) => {}
                Step::History { up_to } => {
                    let events = self.read_history(up_to).await?;
                    if !events.is_empty() {
                        return Ok(events);
                    }
                }
                Step::Wait => {
                    if self.revisions.changed().await.is_err() {
                        return Err(StoreError::Closed);
                    }
                }
                Step::Closed => return Err(StoreError::Closed),
            }
        }
    }
}
