use super::*;
use crate::backend::prefix_end;
use crate::{MemoryStore, Store};

#[test]
fn prefix_end_increments_last_byte() {
    assert_eq!(prefix_end(b"/a/"), Some(b"/a0".to_vec()));
    assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff\xff"), None);
    assert_eq!(prefix_end(b""), None);
}

#[test]
fn stage_checks() {
    let kv = KeyValue {
        key: "k".into(),
        value: Arc::from(&b"v"[..]),
        create_revision: 3,
        mod_revision: 5,
    };
    let mut op = Op::Create {
        key: "k".into(),
        value: b"x".to_vec(),
    };
    assert!(matches!(
        stage(&mut op, Some(kv.clone()), 6),
        Err(StoreError::AlreadyExists(_))
    ));
    let mut op = Op::Update {
        key: "k".into(),
        value: b"x".to_vec(),
        expected: None,
    };
    assert!(matches!(
        stage(&mut op, None, 6),
        Err(StoreError::NotFound(_))
    ));
    let mut op = Op::Update {
        key: "k".into(),
        value: b"x".to_vec(),
        expected: Some(4),
    };
    match stage(&mut op, Some(kv.clone()), 6) {
        Err(StoreError::Conflict {
            expected: 4,
            current,
            ..
        }) => assert_eq!(*current, kv),
        other => panic!("unexpected {other:?}"),
    }
    let mut op = Op::Delete {
        key: "k".into(),
        expected: Some(5),
    };
    let e = stage(&mut op, Some(kv.clone()), 6).expect("delete");
    assert_eq!(e.kind, EventKind::Delete);
    assert_eq!(e.kv.mod_revision, 6);
    assert_eq!(e.kv.create_revision, 3);
    assert_eq!(e.kv.value, kv.value);
    assert_eq!(e.prev, Some(kv));
}

#[tokio::test]
async fn ring_is_bounded_and_history_fills_in() {
    let store = MemoryStore::with_options(StoreOptions {
        compact_interval: None,
        watch_cache_events: 10,
        ..StoreOptions::default()
    });
    for i in 0..50 {
        store
            .create(&format!("/k/{i:03}"), vec![1])
            .await
            .expect("create");
    }
    {
        let st = store.shared.read();
        assert_eq!(st.ring.len(), 10);
        assert_eq!(st.ring_first, 41);
        assert_eq!(st.current, 50);
    }
    let mut w = store.watch("/k/", 1).await.expect("watch");
    let mut seen = Vec::new();
    while seen.len() < 49 {
        for e in w.next().await.expect("next") {
            seen.push(e.kv.mod_revision);
        }
    }
    assert_eq!(seen, (2..=50).collect::<Vec<_>>());
}

/// A memory backend whose appends can be made to fail.
#[derive(Default)]
struct Flaky {
    inner: crate::MemoryBackend,
    fail: std::sync::atomic::AtomicBool,
}

impl Backend for Flaky {
    fn load(&self) -> Result<crate::backend::LoadedState> {
        self.inner.load()
    }
    fn append(&self, events: &[Event]) -> Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Backend("disk on fire".into()));
        }
        self.inner.append(events)
    }
    fn history(
        &self,
        prefix: &str,
        after: Revision,
        up_to: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        self.inner.history(prefix, after, up_to, limit)
    }
    fn list_at(&self, opts: &ListOptions, revision: Revision) -> Result<(Vec<KeyValue>, bool)> {
        self.inner.list_at(opts, revision)
    }
    fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commit_fails_the_whole_batch_and_changes_nothing() {
    let store = KvStore::start(
        Flaky::default(),
        StoreOptions {
            compact_interval: None,
            ..Default::default()
        },
    )
    .expect("start");
    let a = store.create("/a", b"1".to_vec()).await.expect("create");
    let mut w = store.watch("", 0).await.expect("watch");
    store
        .backend()
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (x, y, z) = tokio::join!(
        store.update("/a", b"2".to_vec(), Some(1)),
        store.create("/b", b"1".to_vec()),
        // Every write here would succeed: each reaches the failing backend whatever batch it lands in.
        store.create("/c", b"1".to_vec()),
    );
    for r in [x, y, z] {
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    }
    assert_eq!(store.current_revision(), 1);
    assert_eq!(store.get("/a").await.expect("get"), Some(a));
    assert_eq!(store.get("/b").await.expect("get"), None);
    assert_eq!(store.get("/c").await.expect("get"), None);
    store
        .backend()
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let b = store.create("/b", b"1".to_vec()).await.expect("create");
    assert_eq!(b.mod_revision, 2);
    let events = w.next().await.expect("next");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kv, b);
}
