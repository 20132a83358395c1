use serde_json::json;
use time::OffsetDateTime;

use super::limitrange::{apply_defaults, check_pod, check_pvc, default_pod, validate};
use super::quota::{QuotaState, admit, calculate_used, scopes_match, usage};
use super::*;

fn a(s: &str) -> Amount {
    Amount::parse(s).expect("quantity")
}

#[test]
fn canonical_forms_match_upstream() {
    for (input, want) in [
        ("1024Mi", "1Gi"),
        ("1000m", "1"),
        ("1500m", "1500m"),
        ("0.5", "500m"),
        ("2", "2"),
        ("1000", "1k"),
        ("64Mi", "64Mi"),
        ("512", "512"),
        ("1e3", "1e3"),
        ("0", "0"),
        ("1.5Gi", "1536Mi"),
    ] {
        assert_eq!(a(input).to_string(), want, "{input}");
    }
    assert_eq!(a("64Mi").plus(a("64Mi")).to_string(), "128Mi");
    assert_eq!(a("1").plus(a("500m")).to_string(), "1500m");
}

fn container(
    name: &str,
    requests: serde_json::Value,
    limits: serde_json::Value,
) -> serde_json::Value {
    json!({"name": name, "image": "x", "resources": {"requests": requests, "limits": limits}})
}

fn pod(containers: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

#[test]
fn limit_range_defaults_and_maximum() {
    let mut lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "defaultRequest": {"memory": "64Mi"}}]}});
    apply_defaults(&mut lr);
    assert_eq!(
        lr.pointer("/spec/limits/0/default"),
        Some(&json!({"cpu": "2"}))
    );
    assert_eq!(
        lr.pointer("/spec/limits/0/defaultRequest"),
        Some(&json!({"memory": "64Mi", "cpu": "2"}))
    );
    let mut p = pod(vec![json!({"name": "c", "image": "x"})]);
    default_pod(std::slice::from_ref(&lr), &mut p);
    assert_eq!(
        p.pointer("/spec/containers/0/resources/limits/cpu"),
        Some(&json!("2"))
    );
    assert_eq!(
        p.pointer("/metadata/annotations/kubernetes.io~1limit-ranger"),
        Some(&json!(
            "LimitRanger plugin set: cpu, memory request for container c; cpu limit for container c"
        ))
    );
    assert_eq!(check_pod(&lr, &p), None);
    let big = pod(vec![container(
        "c",
        json!({"cpu": "1"}),
        json!({"cpu": "3"}),
    )]);
    assert_eq!(
        check_pod(&lr, &big).as_deref(),
        Some("maximum cpu usage per Container is 2, but limit is 3")
    );
}

#[test]
fn limit_range_pod_min_and_ratio() {
    let lr = json!({"spec": {"limits": [
        {"type": "Pod", "min": {"memory": "100Mi"}},
        {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}},
    ]}});
    let p = pod(vec![container(
        "a",
        json!({"cpu": "100m", "memory": "10Mi"}),
        json!({"cpu": "500m"}),
    )]);
    assert_eq!(
        check_pod(&lr, &p).as_deref(),
        Some(
            "[minimum memory usage per Pod is 100Mi, but request is 10Mi, cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000]"
        )
    );
}

#[test]
fn limit_range_pvc_and_validation() {
    let lr =
        json!({"spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}]}});
    let pvc = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
    assert_eq!(
        check_pvc(&lr, &pvc).as_deref(),
        Some("maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi")
    );
    let bad = json!({"spec": {"limits": [
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
        {"type": "Pod", "default": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim"},
    ]}});
    let msgs: Vec<String> = validate(&bad)
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message()))
        .collect();
    assert!(msgs.contains(&"spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1".to_string()), "{msgs:?}");
    assert!(
        msgs.contains(
            &"spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'"
                .to_string()
        ),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("spec.limits[2].limits: Required value")),
        "{msgs:?}"
    );
}

fn quota(name: &str, hard: serde_json::Value, used: serde_json::Value) -> serde_json::Value {
    json!({"metadata": {"name": name}, "spec": {"hard": hard}, "status": {"hard": hard, "used": used}})
}

#[test]
fn quota_refuses_the_pod_past_the_limit() {
    let now = OffsetDateTime::now_utc();
    let q = quota("q", json!({"pods": "2"}), json!({"pods": "2"}));
    let qs = [QuotaState {
        name: "q",
        object: &q,
    }];
    let p = pod(vec![json!({"name": "c", "image": "x"})]);
    assert_eq!(
        admit(&qs, "", "pods", &p, None, now),
        Err("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2".into())
    );
    let q = quota("q", json!({"pods": "2"}), json!({"pods": "1"}));
    let qs = [QuotaState {
        name: "q",
        object: &q,
    }];
    let charges = admit(&qs, "", "pods", &p, None, now).expect("fits");
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0]
            .used
            .get("pods")
            .map(ToString::to_string)
            .as_deref(),
        Some("2")
    );
}

#[test]
fn quota_on_cpu_requires_declared_limits() {
    let now = OffsetDateTime::now_utc();
    let q = quota(
        "q",
        json!({"limits.cpu": "4", "requests.memory": "1Gi"}),
        json!({"limits.cpu": "0", "requests.memory": "0"}),
    );
    let qs = [QuotaState {
        name: "q",
        object: &q,
    }];
    let p = pod(vec![container("c", json!({"memory": "1Mi"}), json!({}))]);
    assert_eq!(
        admit(&qs, "", "pods", &p, None, now),
        Err("failed quota: q: must specify limits.cpu for: c".into())
    );
    let unknown = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "1"}}});
    let qs = [QuotaState {
        name: "q",
        object: &unknown,
    }];
    assert_eq!(
        admit(&qs, "", "pods", &p, None, now),
        Err("status unknown for quota: q, resources: pods".into())
    );
}

#[test]
fn scopes_and_usage() {
    let now = OffsetDateTime::now_utc();
    let best_effort = json!({"spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}});
    let plain = pod(vec![json!({"name": "c", "image": "x"})]);
    let sized = pod(vec![container("c", json!({"cpu": "1"}), json!({}))]);
    assert!(scopes_match(&best_effort, "", "pods", &plain));
    assert!(!scopes_match(&best_effort, "", "pods", &sized));
    assert!(!scopes_match(&best_effort, "", "configmaps", &json!({})));
    let u = usage("", "pods", &sized, now);
    assert_eq!(pretty(&u), "count/pods=1,cpu=1,pods=1,requests.cpu=1");
    let mut done = sized.clone();
    done["status"] = json!({"phase": "Succeeded"});
    assert_eq!(pretty(&usage("", "pods", &done, now)), "count/pods=1");
    let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}});
    assert_eq!(
        pretty(&usage("", "services", &svc, now)),
        "count/services=1,services=1,services.nodeports=2"
    );
    let q = json!({"spec": {"hard": {"pods": "5", "requests.cpu": "4", "count/deployments.apps": "3"}}});
    let objs = [
        ("", "pods", &sized),
        ("", "pods", &done),
        ("", "pods", &plain),
    ];
    assert_eq!(
        pretty(&calculate_used(&q, objs, now)),
        "count/deployments.apps=0,pods=2,requests.cpu=1"
    );
}

#[test]
fn quota_updates_charge_only_the_increase() {
    let now = OffsetDateTime::now_utc();
    let q = quota(
        "q",
        json!({"services.nodeports": "2"}),
        json!({"services.nodeports": "1"}),
    );
    let qs = [QuotaState {
        name: "q",
        object: &q,
    }];
    let old = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
    let new =
        json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}, {"port": 82}]}});
    assert_eq!(
        admit(&qs, "", "services", &new, Some(&old), now),
        Err("exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=2".into())
    );
    // An update that adds nothing charges nothing.
    assert_eq!(
        admit(&qs, "", "services", &old, Some(&old), now),
        Ok(vec![])
    );
}

#[test]
fn priority_class_scope_selector() {
    let q = json!({"spec": {"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
    let high = json!({"spec": {"priorityClassName": "high", "containers": []}});
    let low = json!({"spec": {"priorityClassName": "low", "containers": []}});
    assert!(scopes_match(&q, "", "pods", &high));
    assert!(!scopes_match(&q, "", "pods", &low));
}

#[test]
fn disruption_condition_keeps_its_transition_time() {
    use crate::disruption::set_disruption_allowed;
    let mut status = json!({"disruptionsAllowed": 1, "observedGeneration": 2});
    let m = status.as_object_mut().expect("object");
    set_disruption_allowed(m, "t1");
    set_disruption_allowed(m, "t2");
    assert_eq!(
        m["conditions"],
        json!([{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 2,
            "lastTransitionTime": "t1", "reason": "SufficientPods", "message": ""}])
    );
    m.insert("disruptionsAllowed".into(), json!(0));
    set_disruption_allowed(m, "t3");
    assert_eq!(m["conditions"][0]["reason"], "InsufficientPods");
    assert_eq!(m["conditions"][0]["lastTransitionTime"], "t3");
}

#[test]
fn disruption_budgets_are_validated() {
    let pdb = json!({"metadata": {"name": "b", "namespace": "d"}, "spec": {
        "minAvailable": 1, "maxUnavailable": "150%", "unhealthyPodEvictionPolicy": "Never"}});
    let msgs: Vec<String> =
        crate::validation::validate_kind("policy", "PodDisruptionBudget", true, &pdb)
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message()))
            .collect();
    assert!(
        msgs.iter().any(|m| m.starts_with("spec: Invalid value")
            && m.ends_with("minAvailable and maxUnavailable cannot be both set")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(
            &"spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"
                .to_string()
        ),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.starts_with("spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\"")), "{msgs:?}");
}

#[test]
fn cross_namespace_affinity_scope() {
    let q = json!({"spec": {"hard": {"pods": "1"}, "scopes": ["CrossNamespacePodAffinity"]}});
    let cross = json!({"spec": {"containers": [], "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "namespaceSelector": {}}]}}}});
    let local = json!({"spec": {"containers": [], "affinity": {"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm":
            {"topologyKey": "kubernetes.io/hostname"}}]}}}});
    assert!(scopes_match(&q, "", "pods", &cross));
    assert!(!scopes_match(&q, "", "pods", &local));
}
