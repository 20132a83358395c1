//! One behavioural suite, run against every store (see `behaviour.rs`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k3rs_store::{EventKind, KeyValue, ListOptions, Revision, Store, StoreError, Watch};

/// Waits for the next batch, failing the test after a while.
pub async fn next(w: &mut Box<dyn Watch>) -> Result<Vec<k3rs_store::Event>, StoreError> {
    tokio::time::timeout(Duration::from_secs(20), w.next())
        .await
        .expect("watch stalled")
}

fn list(prefix: &str) -> ListOptions {
    ListOptions {
        prefix: prefix.into(),
        ..Default::default()
    }
}

pub async fn crud<S: Store>(s: Arc<S>) {
    assert_eq!(s.current_revision(), 0);
    let a = s.create("/a", b"1".to_vec()).await.unwrap();
    assert_eq!((a.create_revision, a.mod_revision), (1, 1));
    assert_eq!(&*a.value, b"1");
    assert_eq!(s.get("/a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.current_revision(), 1);

    let a2 = s.update("/a", b"2".to_vec(), Some(1)).await.unwrap();
    assert_eq!((a2.create_revision, a2.mod_revision), (1, 2));
    let a3 = s.update("/a", b"3".to_vec(), None).await.unwrap();
    assert_eq!(a3.mod_revision, 3);
    assert_eq!(s.get("/a").await.unwrap(), Some(a3.clone()));

    let gone = s.delete("/a", Some(3)).await.unwrap();
    assert_eq!(gone.mod_revision, 4);
    assert_eq!(gone.create_revision, 1);
    assert_eq!(&*gone.value, b"3");
    assert_eq!(s.get("/a").await.unwrap(), None);
    assert_eq!(s.current_revision(), 4);

    let again = s.create("/a", b"x".to_vec()).await.unwrap();
    assert_eq!((again.create_revision, again.mod_revision), (5, 5));
    let b = s.create("/b", Vec::new()).await.unwrap();
    assert!(b.value.is_empty());
    s.delete("/b", None).await.unwrap();
    assert_eq!(s.current_revision(), 7);
}

pub async fn errors<S: Store>(s: Arc<S>) {
    s.create("/k", b"v".to_vec()).await.unwrap();
    assert!(
        matches!(s.create("/k", b"w".to_vec()).await, Err(StoreError::AlreadyExists(k)) if k == "/k")
    );
    assert!(matches!(
        s.update("/none", b"w".to_vec(), None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.update("/none", b"w".to_vec(), Some(1)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.delete("/none", None).await,
        Err(StoreError::NotFound(_))
    ));
    match s.update("/k", b"w".to_vec(), Some(7)).await {
        Err(StoreError::Conflict {
            key,
            expected,
            current,
        }) => {
            assert_eq!((key.as_str(), expected, current.mod_revision), ("/k", 7, 1));
            assert_eq!(&*current.value, b"v");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        s.delete("/k", Some(9)).await,
        Err(StoreError::Conflict { .. })
    ));
    // Failed writes use no revision.
    assert_eq!(s.current_revision(), 1);
    assert_eq!(s.get("/k").await.unwrap().unwrap().mod_revision, 1);
}

pub async fn cas_race<S: Store>(s: Arc<S>) {
    // Two updates from the same revision: exactly one wins.
    for i in 0..30 {
        let key = format!("/race/{i}");
        let kv = s.create(&key, b"0".to_vec()).await.unwrap();
        let (x, y) = tokio::join!(
            s.update(&key, b"x".to_vec(), Some(kv.mod_revision)),
            s.update(&key, b"y".to_vec(), Some(kv.mod_revision)),
        );
        assert_eq!(x.is_ok() as u8 + y.is_ok() as u8, 1, "{x:?} {y:?}");
        let child = format!("{key}/c");
        let (c1, c2) = tokio::join!(s.create(&child, vec![1]), s.create(&child, vec![2]));
        assert_eq!(c1.is_ok() as u8 + c2.is_ok() as u8, 1);
    }
    // Many CAS loops on one counter: no lost update.
    s.create("/counter", b"0".to_vec()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                loop {
                    let cur = s.get("/counter").await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                    match s
                        .update(
                            "/counter",
                            (n + 1).to_string().into_bytes(),
                            Some(cur.mod_revision),
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(&*s.get("/counter").await.unwrap().unwrap().value, b"400");
}

pub async fn list_paging<S: Store>(s: Arc<S>) {
    for i in 0..25 {
        s.create(&format!("/a/{i:02}"), vec![i]).await.unwrap();
    }
    s.create("/a", vec![]).await.unwrap();
    s.create("/a0", vec![]).await.unwrap();
    s.create("/b/1", vec![]).await.unwrap();
    let all = s.list(list("/a/")).await.unwrap();
    assert_eq!(all.items.len(), 25);
    assert!(!all.more);
    assert_eq!(all.revision, s.current_revision());
    assert!(all.items.windows(2).all(|w| w[0].key < w[1].key));

    let mut keys = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s
            .list(ListOptions {
                prefix: "/a/".into(),
                start_after: after.clone(),
                limit: Some(10),
                revision: None,
            })
            .await
            .unwrap();
        pages += 1;
        keys.extend(page.items.iter().map(|kv| kv.key.clone()));
        after = page.items.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        keys,
        (0..25).map(|i| format!("/a/{i:02}")).collect::<Vec<_>>()
    );
    let exact = s
        .list(ListOptions {
            prefix: "/a/".into(),
            limit: Some(25),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!exact.more);
    assert_eq!(s.list(list("")).await.unwrap().items.len(), 28);
    assert_eq!(s.list(list("/c")).await.unwrap().items.len(), 0);
}

pub async fn list_at_revision<S: Store>(s: Arc<S>) {
    for i in 0..10 {
        s.create(&format!("/p/{i}"), b"old".to_vec()).await.unwrap();
    }
    s.create("/q/x", b"other".to_vec()).await.unwrap();
    let then = s.current_revision();
    for i in 0..5 {
        s.update(&format!("/p/{i}"), b"new".to_vec(), None)
            .await
            .unwrap();
    }
    for i in 5..8 {
        s.delete(&format!("/p/{i}"), None).await.unwrap();
    }
    s.create("/p/new", b"new".to_vec()).await.unwrap();
    for rev in [Some(then), Some(then + 2)] {
        let old = s
            .list(ListOptions {
                prefix: "/p/".into(),
                revision: rev,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(old.revision, rev.unwrap());
        let keys: Vec<_> = old.items.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, (0..10).map(|i| format!("/p/{i}")).collect::<Vec<_>>());
        let changed = if rev == Some(then) { 0 } else { 2 };
        for (i, kv) in old.items.iter().enumerate() {
            let want: &[u8] = if i < changed { b"new" } else { b"old" };
            assert_eq!(&*kv.value, want, "{kv:?}");
        }
    }
    // Paging at an old revision.
    let page = s
        .list(ListOptions {
            prefix: "/p/".into(),
            start_after: Some("/p/3".into()),
            limit: Some(4),
            revision: Some(then),
        })
        .await
        .unwrap();
    let keys: Vec<_> = page.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/4", "/p/5", "/p/6", "/p/7"]);
    assert!(page.more);
    let now = s.list(list("/p/")).await.unwrap();
    assert_eq!(now.items.len(), 8);
    let cur = s.current_revision();
    let same = s
        .list(ListOptions {
            prefix: "/p/".into(),
            revision: Some(cur),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(same.items, now.items);
    assert!(matches!(
        s.list(ListOptions {
            revision: Some(cur + 1),
            ..Default::default()
        })
        .await,
        Err(StoreError::FutureRevision { .. })
    ));
}

pub async fn compaction<S: Store>(s: Arc<S>) {
    s.create("/c/a", b"1".to_vec()).await.unwrap(); // 1
    s.create("/c/b", b"1".to_vec()).await.unwrap(); // 2
    s.update("/c/a", b"2".to_vec(), None).await.unwrap(); // 3
    s.delete("/c/b", None).await.unwrap(); // 4
    s.create("/c/c", b"1".to_vec()).await.unwrap(); // 5
    s.update("/c/a", b"3".to_vec(), None).await.unwrap(); // 6
    s.update("/c/c", b"2".to_vec(), None).await.unwrap(); // 7
    assert!(matches!(
        s.compact(8).await,
        Err(StoreError::FutureRevision { .. })
    ));
    s.compact(5).await.unwrap();
    assert_eq!(s.compacted_revision(), 5);
    s.compact(3).await.unwrap(); // older: no-op
    assert_eq!(s.compacted_revision(), 5);

    let at = |rev| ListOptions {
        prefix: "/c/".into(),
        revision: Some(rev),
        ..Default::default()
    };
    assert!(matches!(
        s.list(at(4)).await,
        Err(StoreError::Compacted {
            requested: 4,
            compacted: 5
        })
    ));
    let at5 = s.list(at(5)).await.unwrap();
    let got: Vec<_> = at5
        .items
        .iter()
        .map(|kv| (kv.key.as_str(), &*kv.value, kv.mod_revision))
        .collect();
    assert_eq!(got, [("/c/a", &b"2"[..], 3), ("/c/c", &b"1"[..], 5)]);
    let at6 = s.list(at(6)).await.unwrap();
    assert_eq!(at6.items[0].mod_revision, 6);

    assert!(matches!(
        s.watch("/c/", 4).await.err(),
        Some(StoreError::Compacted { .. })
    ));
    let mut w = s.watch("/c/", 5).await.unwrap();
    let events = next(&mut w).await.unwrap();
    let revs: Vec<_> = events.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revs, [6, 7]);
    // The versions just before the compaction point are still there as `prev`.
    assert_eq!(
        events[0].prev.as_ref().map(|p| (p.mod_revision, &*p.value)),
        Some((3, &b"2"[..]))
    );
    assert_eq!(
        events[1].prev.as_ref().map(|p| (p.mod_revision, &*p.value)),
        Some((5, &b"1"[..]))
    );

    // A watcher that falls below a later compaction point gets Compacted.
    let mut lagging = s.watch("/c/", 5).await.unwrap();
    s.update("/c/a", b"4".to_vec(), None).await.unwrap(); // 8
    s.compact(8).await.unwrap();
    assert!(matches!(
        next(&mut lagging).await,
        Err(StoreError::Compacted { .. })
    ));
    // Compacting everything keeps current values and the revision.
    s.delete("/c/c", None).await.unwrap(); // 9
    s.compact(9).await.unwrap();
    assert_eq!(s.current_revision(), 9);
    let now = s.list(list("/c/")).await.unwrap();
    assert_eq!(now.items.len(), 1);
    assert_eq!(s.list(at(9)).await.unwrap().items, now.items);
    let kv = s.create("/c/d", vec![]).await.unwrap();
    assert_eq!(kv.mod_revision, 10);
}

fn key_of(task: usize, i: usize) -> String {
    format!("/w/{task}/{}", i % 10)
}

/// 8 tasks x 200 writes (creates, updates, deletes over 10 keys each).
async fn writers<S: Store>(s: &Arc<S>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    let key = key_of(t, i);
                    let r = match (i / 10) % 3 {
                        0 => s.create(&key, format!("{t}-{i}").into_bytes()).await,
                        1 => s.update(&key, format!("{t}-{i}").into_bytes(), None).await,
                        _ => s.delete(&key, None).await,
                    };
                    r.unwrap();
                }
            })
        })
        .collect()
}

fn check_stream(events: &[k3rs_store::Event]) {
    let mut last: HashMap<&str, &KeyValue> = HashMap::new();
    for e in events {
        let prev = last.get(e.kv.key.as_str()).copied();
        match e.kind {
            EventKind::Put if e.kv.create_revision == e.kv.mod_revision => assert_eq!(e.prev, None),
            _ => assert_eq!(
                e.prev.as_ref().map(|p| p.mod_revision),
                prev.map(|p| p.mod_revision),
                "{e:?}"
            ),
        }
        if e.kind == EventKind::Delete {
            assert_eq!(e.prev.as_ref().map(|p| &p.value), Some(&e.kv.value));
            last.remove(e.kv.key.as_str());
        } else {
            last.insert(&e.kv.key, &e.kv);
        }
    }
}

pub async fn watch_history_then_live<S: Store>(s: Arc<S>) {
    for i in 0..100 {
        s.create(&format!("/pre/{i}"), vec![]).await.unwrap();
    }
    let mut all = s.watch("", 1).await.unwrap();
    let mut only3 = s.watch("/w/3/", 50).await.unwrap();
    let handles = writers(&s).await;
    let total = 100 + 8 * 200;
    let mut seen = Vec::new();
    while seen.len() < total - 1 {
        seen.extend(next(&mut all).await.unwrap());
    }
    for h in handles {
        h.await.unwrap();
    }
    let revs: Vec<Revision> = seen.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revs, (2..=total as Revision).collect::<Vec<_>>());
    check_stream(&seen);

    let mut mine = Vec::new();
    while mine.len() < 200 {
        mine.extend(next(&mut only3).await.unwrap());
    }
    assert!(mine.iter().all(|e| e.kv.key.starts_with("/w/3/")));
    let want: Vec<Revision> = seen
        .iter()
        .filter(|e| e.kv.key.starts_with("/w/3/"))
        .map(|e| e.kv.mod_revision)
        .collect();
    assert_eq!(
        mine.iter().map(|e| e.kv.mod_revision).collect::<Vec<_>>(),
        want
    );
    assert_eq!(
        mine,
        seen.iter()
            .filter(|e| e.kv.key.starts_with("/w/3/"))
            .cloned()
            .collect::<Vec<_>>()
    );
    // Nothing more, and a new write arrives live.
    s.create("/w/3/late", vec![]).await.unwrap();
    let late = next(&mut only3).await.unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].kv.key, "/w/3/late");
}

pub async fn watch_live_events<S: Store>(s: Arc<S>) {
    s.create("/x/old", b"o".to_vec()).await.unwrap();
    let mut w = s.watch("/x/", 0).await.unwrap();
    let mut other = s.watch("/y/", 0).await.unwrap();
    let a = s.create("/x/a", b"1".to_vec()).await.unwrap();
    s.create("/z", b"unrelated".to_vec()).await.unwrap();
    s.update("/x/a", b"2".to_vec(), None).await.unwrap();
    s.delete("/x/a", None).await.unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        events.extend(next(&mut w).await.unwrap());
    }
    assert_eq!(events.len(), 3);
    assert_eq!(
        (events[0].kind, events[0].kv.clone(), events[0].prev.clone()),
        (EventKind::Put, a.clone(), None)
    );
    assert_eq!(events[1].kind, EventKind::Put);
    assert_eq!(events[1].prev.as_ref(), Some(&a));
    assert_eq!(events[2].kind, EventKind::Delete);
    assert_eq!(&*events[2].kv.value, b"2");
    assert_eq!(events[2].kv.mod_revision, 5);
    assert_eq!(events[2].kv.create_revision, 2);
    assert_eq!(events[2].prev.as_ref().map(|p| p.mod_revision), Some(4));
    // The /y/ watcher has nothing.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), other.next())
            .await
            .is_err()
    );
    s.create("/y/1", vec![]).await.unwrap();
    assert_eq!(next(&mut other).await.unwrap()[0].kv.key, "/y/1");
}

pub async fn idle_watcher_does_not_block_writers<S: Store>(s: Arc<S>) {
    let mut idle = s.watch("", 0).await.unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                s.create(&format!("/idle/{t}/{i}"), vec![0; 512])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(start.elapsed() < Duration::from_secs(30));
    // It can still read everything afterwards, from history where the ring moved on.
    let mut n = 0;
    let mut last = 0;
    while n < 3200 {
        for e in next(&mut idle).await.unwrap() {
            assert_eq!(e.kv.mod_revision, last + 1);
            last = e.kv.mod_revision;
            n += 1;
        }
    }
}

/// Runs `closer` (the store's close) and checks writes and watches end with `Closed`.
pub async fn closing<S: Store, F: std::future::Future<Output = ()>>(
    s: Arc<S>,
    closer: impl FnOnce(Arc<S>) -> F,
) {
    let mut w = s.watch("", 0).await.unwrap();
    s.create("/before", vec![]).await.unwrap();
    closer(s.clone()).await;
    assert!(matches!(
        s.create("/after", vec![]).await,
        Err(StoreError::Closed)
    ));
    assert_eq!(next(&mut w).await.unwrap()[0].kv.key, "/before");
    assert!(matches!(next(&mut w).await, Err(StoreError::Closed)));
    assert!(s.get("/before").await.unwrap().is_some());
}
