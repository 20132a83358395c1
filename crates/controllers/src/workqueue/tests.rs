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

#[tokio::test]
async fn rate_limited_backs_off_until_forgotten() {
    let q = Arc::new(WorkQueue::new());
    q.add_rate_limited("k");
    q.add_rate_limited("k");
    assert_eq!(q.lock().failures.get("k"), Some(&2));
    // Not queued at once: it comes back after its back-off.
    assert_eq!(q.try_next(), None);
    let k = tokio::time::timeout(Duration::from_secs(5), q.next()).await;
    assert_eq!(k.ok(), Some("k"));
    q.done(&"k");
    q.forget(&"k");
    assert!(q.lock().failures.is_empty());
}
