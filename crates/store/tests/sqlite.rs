//! SQLite-only behaviour: persistence across reopen, background compaction, and a
//! kill -9 crash test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k3rs_store::{ListOptions, SqliteOptions, SqliteStore, Store, StoreOptions};

fn open(path: &Path) -> Arc<SqliteStore> {
    let opts = StoreOptions {
        compact_interval: None,
        ..StoreOptions::default()
    };
    SqliteStore::open(path, SqliteOptions { store: opts }).unwrap()
}

fn log_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_restores_state_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/state.db");
    let s = open(&path);
    for i in 0..20 {
        s.create(&format!("/k/{i:02}"), format!("v{i}").into_bytes())
            .await
            .unwrap();
    }
    for i in 0..5 {
        s.update(&format!("/k/{i:02}"), b"new".to_vec(), None)
            .await
            .unwrap();
    }
    s.delete("/k/19", None).await.unwrap();
    let before = s.list(ListOptions::default()).await.unwrap();
    let rev = s.current_revision();
    assert_eq!(rev, 26);
    s.close().await;
    drop(s);

    let s = open(&path);
    assert_eq!(s.current_revision(), rev);
    let after = s.list(ListOptions::default()).await.unwrap();
    assert_eq!(after.items, before.items);
    // History survives too.
    let old = s
        .list(ListOptions {
            revision: Some(20),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(old.items.len(), 20);
    assert!(old.items.iter().all(|kv| kv.mod_revision <= 20));
    let mut w = s.watch("/k/00", 1).await.unwrap();
    let events = common::next(&mut w).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kv.mod_revision, 21);
    assert_eq!(events[0].prev.as_ref().map(|p| p.mod_revision), Some(1));
    assert_eq!(
        s.create("/k/new", vec![]).await.unwrap().mod_revision,
        rev + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_survives_compaction_of_the_latest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = open(&path);
    s.create("/a", vec![1]).await.unwrap();
    for _ in 0..10 {
        s.update("/a", vec![2], None).await.unwrap();
    }
    s.create("/b", vec![1]).await.unwrap();
    s.delete("/b", None).await.unwrap();
    let rev = s.current_revision();
    assert_eq!(log_rows(&path), 13);
    s.compact(rev).await.unwrap();
    // Only the latest version of /a is left; /b's tombstone (the newest row) is gone.
    assert_eq!(log_rows(&path), 1);
    s.close().await;
    drop(s);

    let s = open(&path);
    assert_eq!(s.current_revision(), rev);
    assert_eq!(s.compacted_revision(), rev);
    assert_eq!(s.get("/a").await.unwrap().unwrap().mod_revision, 11);
    assert!(s.get("/b").await.unwrap().is_none());
    assert!(s.watch("", rev - 1).await.is_err());
    assert_eq!(s.create("/c", vec![]).await.unwrap().mod_revision, rev + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_compaction_keeps_one_interval() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        compact_interval: Some(Duration::from_millis(200)),
        ..StoreOptions::default()
    };
    let s = SqliteStore::open(&dir.path().join("state.db"), SqliteOptions { store: opts }).unwrap();
    s.create("/a", vec![]).await.unwrap();
    for _ in 0..9 {
        s.update("/a", vec![], None).await.unwrap();
    }
    // First tick records revision 10, the second compacts to it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(s.compacted_revision(), 10);
    s.update("/a", vec![], None).await.unwrap();
    assert_eq!(s.compacted_revision(), 10);
    s.close().await;
    // Stopped with the store: no more compaction.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.compacted_revision(), 10);
}

const CRASH_ENV: &str = "K3RS_STORE_CRASH_DB";

/// The child side of `crash_keeps_acknowledged_writes`: writes until killed, printing
/// each acknowledged key. Does nothing when run as an ordinary test.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CRASH_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let s = open(Path::new(&path));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for t in 0..16 {
            let s = s.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/crash/{t}/{i}");
                    s.create(&key, vec![7; 256]).await.unwrap();
                    if tx.send(key).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut out = std::io::stdout().lock();
        while let Some(key) = rx.recv().await {
            writeln!(out, "ACK {key}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(key) = line.strip_prefix("ACK ") {
                acked.push(key.to_owned());
                if acked.len() == 3000 {
                    child.kill().unwrap(); // SIGKILL, mid-stream
                    child.wait().unwrap();
                }
            }
        }
        // If the child stopped early, reap it (the assertion below then fails).
        let _ = child.kill();
        let _ = child.wait();
        acked
    })
    .await
    .unwrap();
    assert!(
        acked.len() >= 3000,
        "child acknowledged only {} writes",
        acked.len()
    );

    let s = open(&path);
    let rev = s.current_revision();
    assert!(rev >= acked.len() as i64);
    for key in &acked {
        assert!(
            s.get(key).await.unwrap().is_some(),
            "acknowledged {key} is lost"
        );
    }
    let all = s
        .list(ListOptions {
            prefix: "/crash/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len() as i64, rev);
    assert_eq!(
        s.create("/after", vec![]).await.unwrap().mod_revision,
        rev + 1
    );
}
