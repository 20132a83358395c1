use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;

use super::*;

fn probe(json: serde_json::Value) -> Probe {
    serde_json::from_value(json).unwrap()
}

#[test]
fn timing_defaults_are_upstreams() {
    let t = Timing::of(&probe(serde_json::json!({})));
    assert_eq!(t.initial_delay, Duration::ZERO);
    assert_eq!(t.period, Duration::from_secs(10));
    assert_eq!(t.timeout, Duration::from_secs(1));
    assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
    let t = Timing::of(&probe(
        serde_json::json!({"periodSeconds": 2, "initialDelaySeconds": 5,
        "timeoutSeconds": 3, "successThreshold": 2, "failureThreshold": 1,
        "terminationGracePeriodSeconds": 4}),
    ));
    assert_eq!(t.period, Duration::from_secs(2));
    assert_eq!(t.initial_delay, Duration::from_secs(5));
    assert_eq!(t.timeout, Duration::from_secs(3));
    assert_eq!((t.success_threshold, t.failure_threshold), (2, 1));
    assert_eq!(t.grace_seconds, Some(4));
}

#[test]
fn liveness_fails_after_the_threshold_and_stops() {
    let mut s = ProbeState::new(
        ProbeKind::Liveness,
        &probe(serde_json::json!({"failureThreshold": 2})),
    );
    assert!(s.should_probe(true, Duration::ZERO));
    let fail = Outcome::Failure("boom".into());
    assert_eq!(s.record(&fail), None);
    assert_eq!(s.record(&Outcome::Success), Some(Change::Succeeded));
    assert_eq!(s.record(&fail), None, "a success resets the count");
    assert_eq!(s.record(&fail), Some(Change::Failed("boom".into())));
    assert!(
        !s.should_probe(true, Duration::from_secs(100)),
        "the container is being restarted"
    );
}

#[test]
fn readiness_needs_its_success_threshold_and_keeps_probing() {
    let mut s = ProbeState::new(
        ProbeKind::Readiness,
        &probe(serde_json::json!({"successThreshold": 2, "failureThreshold": 1})),
    );
    assert_eq!(s.result, None);
    assert_eq!(s.record(&Outcome::Success), None);
    assert_eq!(s.record(&Outcome::Success), Some(Change::Succeeded));
    assert_eq!(
        s.record(&Outcome::Failure("x".into())),
        Some(Change::Failed("x".into()))
    );
    assert_eq!(
        s.record(&Outcome::Failure("x".into())),
        None,
        "no repeated change"
    );
    assert!(s.should_probe(true, Duration::ZERO));
}

#[test]
fn initial_delay_and_startup_gate_probing() {
    let s = ProbeState::new(
        ProbeKind::Liveness,
        &probe(serde_json::json!({"initialDelaySeconds": 3})),
    );
    assert!(!s.should_probe(true, Duration::from_secs(2)));
    assert!(s.should_probe(true, Duration::from_secs(3)));
    assert!(
        !s.should_probe(false, Duration::from_secs(3)),
        "not before the startup probe succeeds"
    );

    let mut startup = ProbeState::new(ProbeKind::Startup, &probe(serde_json::json!({})));
    assert!(startup.should_probe(false, Duration::ZERO));
    assert_eq!(startup.record(&Outcome::Success), Some(Change::Succeeded));
    assert!(
        !startup.should_probe(true, Duration::ZERO),
        "a started container is not probed again"
    );
}
