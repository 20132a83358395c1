use super::*;

fn cond(ty: &str, status: &str) -> NodeCondition {
    NodeCondition {
        type_: ty.into(),
        status: status.into(),
        reason: Some("Kubelet".into()),
        ..Default::default()
    }
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

fn tol(key: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        toleration_seconds: seconds,
        ..Default::default()
    }
}

#[test]
fn silent_node_gets_unknown_conditions() {
    let now = Timestamp::now();
    let conds = vec![cond("Ready", "True"), cond("MemoryPressure", "False")];
    let out = unknown_conditions(&conds, None, now).expect("changed");
    assert_eq!(out.len(), 4);
    let ready = out.iter().find(|c| c.type_ == "Ready").expect("ready");
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    let disk = out
        .iter()
        .find(|c| c.type_ == "DiskPressure")
        .expect("disk");
    assert_eq!(disk.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    assert!(unknown_conditions(&out, None, now).is_none());
}

#[test]
fn taints_follow_ready() {
    let now = Timestamp::now();
    let other = taint("dedicated", NO_SCHEDULE);
    let t = reconcile_taints(std::slice::from_ref(&other), Some("Unknown"), now).expect("add");
    assert_eq!(t.len(), 3);
    assert!(
        t.iter().any(|x| x.key == TAINT_UNREACHABLE
            && x.effect == NO_EXECUTE
            && x.time_added.is_some())
    );
    assert!(
        t.iter()
            .any(|x| x.key == TAINT_UNREACHABLE && x.effect == NO_SCHEDULE)
    );
    assert!(reconcile_taints(&t, Some("Unknown"), now).is_none());
    let f = reconcile_taints(&t, Some("False"), now).expect("swap");
    assert!(f.iter().all(|x| x.key != TAINT_UNREACHABLE));
    assert_eq!(f.iter().filter(|x| x.key == TAINT_NOT_READY).count(), 2);
    let back = reconcile_taints(&f, Some("True"), now).expect("remove");
    assert_eq!(back, vec![other.clone()]);
    assert!(reconcile_taints(&back, None, now).is_none());
}

#[test]
fn toleration_matching() {
    let t = taint(TAINT_UNREACHABLE, NO_EXECUTE);
    assert!(tolerates(&tol(TAINT_UNREACHABLE, NO_EXECUTE, None), &t));
    assert!(!tolerates(&tol(TAINT_NOT_READY, NO_EXECUTE, None), &t));
    assert!(!tolerates(&tol(TAINT_UNREACHABLE, NO_SCHEDULE, None), &t));
    let all = Toleration {
        operator: Some("Exists".into()),
        ..Default::default()
    };
    assert!(tolerates(&all, &t));
    let equal = Toleration {
        key: Some(TAINT_UNREACHABLE.into()),
        value: Some("x".into()),
        ..Default::default()
    };
    assert!(!tolerates(&equal, &t));
}

#[test]
fn eviction_times() {
    let taints = vec![
        taint(TAINT_UNREACHABLE, NO_EXECUTE),
        taint(TAINT_UNREACHABLE, NO_SCHEDULE),
    ];
    assert_eq!(eviction(&[], &[]), Eviction::Never);
    assert_eq!(eviction(&taints, &[]), Eviction::Now);
    assert_eq!(
        eviction(&taints, &[tol(TAINT_UNREACHABLE, NO_EXECUTE, Some(300))]),
        Eviction::After(Duration::from_secs(300))
    );
    assert_eq!(
        eviction(
            &taints,
            &[
                tol(TAINT_UNREACHABLE, NO_EXECUTE, None),
                tol(TAINT_UNREACHABLE, "", Some(5))
            ]
        ),
        Eviction::After(Duration::from_secs(5))
    );
    assert_eq!(
        eviction(&taints, &[tol(TAINT_UNREACHABLE, NO_EXECUTE, None)]),
        Eviction::Never
    );
    assert_eq!(
        eviction(&taints, &[tol(TAINT_UNREACHABLE, NO_EXECUTE, Some(-1))]),
        Eviction::Now
    );
    assert_eq!(
        eviction(&taints, &[tol(TAINT_NOT_READY, NO_EXECUTE, Some(5))]),
        Eviction::Now
    );
}
