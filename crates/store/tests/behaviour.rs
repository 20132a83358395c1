//! The behavioural suite of `common`, once per store.

mod common;

use std::sync::Arc;

use k3rs_store::{MemoryStore, SqliteOptions, SqliteStore, StoreOptions};

/// Small watch cache, so the suite also reads history from the backend.
fn options() -> StoreOptions {
    StoreOptions {
        compact_interval: None,
        watch_cache_events: 64,
        ..StoreOptions::default()
    }
}

fn memory() -> Arc<MemoryStore> {
    MemoryStore::with_options(options())
}

fn sqlite(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    SqliteStore::open(
        &dir.path().join("db/state.db"),
        SqliteOptions { store: options() },
    )
    .unwrap()
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    crate::common::$name(crate::memory()).await;
                }
            )*
        }
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    crate::common::$name(crate::sqlite(&dir)).await;
                }
            )*
        }
    };
}

suite!(
    crud,
    errors,
    cas_race,
    list_paging,
    list_at_revision,
    compaction,
    watch_history_then_live,
    watch_live_events,
    idle_watcher_does_not_block_writers,
);

#[tokio::test]
async fn memory_close() {
    common::closing(memory(), |s| async move { s.close().await }).await;
}

#[tokio::test]
async fn sqlite_close() {
    let dir = tempfile::tempdir().unwrap();
    common::closing(sqlite(&dir), |s| async move { s.close().await }).await;
}

#[tokio::test]
async fn memory_compaction_drops_versions() {
    use k3rs_store::Store;
    let s = memory();
    for i in 0..10 {
        s.create(&format!("/k/{i}"), vec![]).await.unwrap();
        s.update(&format!("/k/{i}"), vec![1], None).await.unwrap();
    }
    s.delete("/k/0", None).await.unwrap();
    assert_eq!(s.backend().log_len(), 21);
    s.compact(s.current_revision()).await.unwrap();
    assert_eq!(s.backend().log_len(), 9);
}
