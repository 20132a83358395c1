use super::*;

#[test]
fn timer_wheel_orders_and_cancels() {
    let mut w = TimerWheel::default();
    let t0 = Instant::now();
    let a = TimerKey::Node("a".into());
    let b = TimerKey::Pod(("ns".into(), "p".into()));
    w.set(a.clone(), t0 + Duration::from_secs(5));
    w.set(b.clone(), t0 + Duration::from_secs(2));
    assert_eq!(w.next(), Some(t0 + Duration::from_secs(2)));
    // Re-setting moves the deadline.
    w.set(b.clone(), t0 + Duration::from_secs(10));
    assert_eq!(w.next(), Some(t0 + Duration::from_secs(5)));
    assert!(w.due(t0 + Duration::from_secs(4)).is_empty());
    assert_eq!(w.due(t0 + Duration::from_secs(6)), vec![a]);
    w.cancel(&b);
    assert_eq!(w.next(), None);
    assert!(w.due(t0 + Duration::from_secs(60)).is_empty());
}
