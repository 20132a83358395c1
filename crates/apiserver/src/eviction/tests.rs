use serde_json::json;

use super::*;

#[test]
fn refusals_carry_upstreams_status() {
    let o = too_many_requests(
        "The disruption budget b needs 2 healthy pods and has 2 currently".into(),
        0,
    );
    assert_eq!(o.code, 429);
    assert_eq!(o.retry_after, None);
    assert_eq!(
        o.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "reason": "TooManyRequests",
            "details": {"causes": [{"reason": "DisruptionBudget",
                "message": "The disruption budget b needs 2 healthy pods and has 2 currently"}]},
            "code": 429})
    );
    let o = still_processing("b");
    assert_eq!(o.retry_after, Some(10));
    assert_eq!(o.body["details"]["retryAfterSeconds"], 10);
}

#[test]
fn which_pods_ignore_budgets() {
    let pod = |phase: &str, deleting: bool| {
        let mut p = json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        p
    };
    for (phase, deleting, ignore) in [
        ("Pending", false, true),
        ("Succeeded", false, true),
        ("Failed", false, true),
        ("Running", true, true),
        ("Running", false, false),
    ] {
        assert_eq!(
            can_ignore_budget(&pod(phase, deleting)),
            ignore,
            "{phase} {deleting}"
        );
    }
}

#[test]
fn the_disruption_target_condition_is_set_once() {
    let mut p = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    add_disruption_target(&mut p, "t1");
    add_disruption_target(&mut p, "t2");
    let conds = p["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(conds.len(), 2);
    assert_eq!(conds[1]["reason"], "EvictionByEvictionAPI");
    assert_eq!(conds[1]["lastTransitionTime"], "t2");
    assert!(is_ready(&p));
}
