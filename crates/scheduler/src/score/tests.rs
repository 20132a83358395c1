use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::model::NodeInfo;
use crate::testutil::{node, pod, pod_labeled, snapshot, with_spec};

#[test]
fn least_allocated_prefers_emptier_nodes() {
    let empty = NodeInfo::from_node(&node("a", "4", "8Gi", json!({})));
    let mut busy = NodeInfo::from_node(&node("b", "4", "8Gi", json!({})));
    busy.add_pod(Arc::new(pod("x", "2", "4Gi", json!({}))));
    let p = pod("p", "1", "2Gi", json!({}));
    // cpu (4000-1000)/4000 = 75, memory 75 → 75.
    assert_eq!(least_allocated(&p, &empty), 75);
    // cpu (4000-3000)/4000 = 25, memory 25 → 25.
    assert_eq!(least_allocated(&p, &busy), 25);
    // Requests without values count the non-zero defaults (100m, 200Mi).
    let be = pod("be", "", "", json!({}));
    assert_eq!(be.non_zero_milli_cpu, 100);
    assert!(least_allocated(&be, &empty) > least_allocated(&be, &busy));
}

#[test]
fn balanced_allocation_prefers_even_usage() {
    let n = NodeInfo::from_node(&node("a", "4", "4Gi", json!({})));
    let even = pod("e", "2", "2Gi", json!({}));
    let skewed = pod("s", "2", "200Mi", json!({}));
    assert_eq!(balanced_allocation(&even, &n), 100);
    assert!(balanced_allocation(&skewed, &n) < 80);
}

#[test]
fn prefer_no_schedule_taints_lower_the_score() {
    let tainted = NodeInfo::from_node(&with_spec(
        node("a", "4", "4Gi", json!({})),
        json!({"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}),
    ));
    let clean = NodeInfo::from_node(&node("b", "4", "4Gi", json!({})));
    let p = pod("p", "", "", json!({}));
    let mut s = vec![
        intolerable_prefer_no_schedule(&p, &tainted),
        intolerable_prefer_no_schedule(&p, &clean),
    ];
    default_normalize(&mut s, true);
    assert_eq!(s, [0, 100]);
    let tol = pod(
        "t",
        "",
        "",
        json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "PreferNoSchedule"}]}),
    );
    assert_eq!(intolerable_prefer_no_schedule(&tol, &tainted), 0);
}

#[test]
fn preferred_node_affinity_weights() {
    let ssd = NodeInfo::from_node(&node("a", "4", "4Gi", json!({"disk": "ssd", "zone": "z1"})));
    let hdd = NodeInfo::from_node(&node("b", "4", "4Gi", json!({"disk": "hdd", "zone": "z1"})));
    let p = pod(
        "p",
        "",
        "",
        json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
            {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}}
        ]}}}),
    );
    let mut s = vec![
        preferred_node_affinity(&p, &ssd),
        preferred_node_affinity(&p, &hdd),
    ];
    assert_eq!(s, [100, 20]);
    default_normalize(&mut s, false);
    assert_eq!(s, [100, 20]);
}

#[test]
fn preferred_pod_affinity_and_anti_affinity() {
    let mut snap = snapshot(&[
        node("n1", "8", "8Gi", json!({})),
        node("n2", "8", "8Gi", json!({})),
    ]);
    snap.add_pod(
        "n1",
        Arc::new(pod_labeled(
            "cache",
            json!({"app": "cache"}),
            "",
            "",
            json!({}),
        )),
    );
    let term = json!({"weight": 50, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}});
    let near = pod(
        "near",
        "",
        "",
        json!({"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term.clone()]}}}),
    );
    let topo = inter_pod_topology_scores(&near, &snap);
    let mut s: Vec<i64> = ["n1", "n2"]
        .iter()
        .map(|n| inter_pod_score(&topo, snap.node(n).expect("node")))
        .collect();
    min_max_normalize(&mut s);
    assert_eq!(s, [100, 0]);
    let far = pod(
        "far",
        "",
        "",
        json!({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}}),
    );
    let topo = inter_pod_topology_scores(&far, &snap);
    let mut s: Vec<i64> = ["n1", "n2"]
        .iter()
        .map(|n| inter_pod_score(&topo, snap.node(n).expect("node")))
        .collect();
    min_max_normalize(&mut s);
    assert_eq!(s, [0, 100]);
}

#[test]
fn schedule_anyway_spread_prefers_emptier_domains() {
    let mut snap = snapshot(&[
        node("a", "8", "8Gi", json!({"zone": "a"})),
        node("b", "8", "8Gi", json!({"zone": "b"})),
        node("c", "8", "8Gi", json!({})),
    ]);
    let web = |n: &str| Arc::new(pod_labeled(n, json!({"app": "web"}), "", "", json!({})));
    snap.add_pod("a", web("w1"));
    snap.add_pod("a", web("w2"));
    let p = pod_labeled(
        "p",
        json!({"app": "web"}),
        "",
        "",
        json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
            "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]}),
    );
    let soft = soft_spread(&p, &snap);
    let mut raw: Vec<Option<i64>> = ["a", "b", "c"]
        .iter()
        .map(|n| spread_score(&p, &soft, snap.node(n).expect("node")))
        .collect();
    assert_eq!(raw[2], None);
    let s = spread_normalize(&mut raw);
    assert!(s[1] > s[0]);
    assert_eq!(s[2], 0);
}

#[test]
fn image_locality_favours_nodes_with_the_image() {
    let mut with_image = node("a", "4", "4Gi", json!({}));
    if let Some(st) = with_image.status.as_mut() {
        st.images = Some(vec![
            serde_json::from_value(json!({"names": ["docker.io/library/nginx:latest", "nginx:latest"], "sizeBytes": 500 * 1024 * 1024}))
                .expect("image"),
        ]);
    }
    let snap = snapshot(&[with_image, node("b", "4", "4Gi", json!({}))]);
    let p = pod("p", "", "", json!({}));
    let a = image_locality(&p, snap.node("a").expect("a"), &snap, 2);
    let b = image_locality(&p, snap.node("b").expect("b"), &snap, 2);
    assert!(a > b, "{a} > {b}");
    assert_eq!(b, 0);
}
