use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::testutil::{node, pod, snapshot, with_spec};

fn control_plane(name: &str) -> k8s_openapi::api::core::v1::Node {
    with_spec(
        node(name, "2", "4Gi", json!({})),
        json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}),
    )
}

#[test]
fn feasible_node_count_is_adaptive() {
    let s = Scheduler::new();
    assert_eq!(s.num_feasible_nodes_to_find(50), 50);
    assert_eq!(s.num_feasible_nodes_to_find(150), 100);
    assert_eq!(s.num_feasible_nodes_to_find(1000), 420);
    assert_eq!(s.num_feasible_nodes_to_find(5000), 500);
    assert_eq!(s.num_feasible_nodes_to_find(10000), 500);
}

#[test]
fn pods_spread_over_nodes_and_are_assumed() {
    let mut snap = snapshot(&[
        node("n1", "4", "8Gi", json!({})),
        node("n2", "4", "8Gi", json!({})),
        node("n3", "4", "8Gi", json!({})),
    ]);
    let mut s = Scheduler::new();
    let mut placed = std::collections::HashMap::<String, usize>::new();
    for i in 0..9 {
        let p = Arc::new(pod(&format!("p{i}"), "500m", "1Gi", json!({})));
        match s.schedule(&p, &mut snap, &Volumes::default()) {
            Outcome::Scheduled { node, .. } => *placed.entry(node).or_default() += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(placed.len(), 3);
    assert!(placed.values().all(|&n| n == 3), "{placed:?}");
    assert_eq!(snap.node("n1").expect("n1").requested.milli_cpu, 1500);
}

#[test]
fn fit_error_message_in_upstream_wording() {
    let mut snap = snapshot(&[
        node("w1", "2", "4Gi", json!({})),
        control_plane("cp1"),
        control_plane("cp2"),
    ]);
    let p = Arc::new(pod("big", "3", "", json!({})));
    let Outcome::Unschedulable { error, preemption } =
        Scheduler::new().schedule(&p, &mut snap, &Volumes::default())
    else {
        panic!("expected unschedulable");
    };
    assert!(preemption.is_none());
    assert_eq!(
        error.message(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint \
         {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: \
         3 Preemption is not helpful for scheduling.."
    );
}

#[test]
fn no_victims_message() {
    let mut snap = snapshot(&[node("w1", "2", "4Gi", json!({}))]);
    snap.add_pod("w1", Arc::new(pod("a", "1500m", "", json!({}))));
    let p = Arc::new(pod("b", "1", "", json!({})));
    let Outcome::Unschedulable { error, .. } =
        Scheduler::new().schedule(&p, &mut snap, &Volumes::default())
    else {
        panic!("expected unschedulable");
    };
    assert_eq!(
        error.message(),
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: \
         1 No preemption victims found for incoming pod.."
    );
}

#[test]
fn prefilter_failure_message() {
    let mut snap = snapshot(&[node("w1", "2", "4Gi", json!({}))]);
    let p = Arc::new(pod(
        "p",
        "",
        "",
        json!({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "missing"}}]}),
    ));
    let Outcome::Unschedulable { error, .. } =
        Scheduler::new().schedule(&p, &mut snap, &Volumes::default())
    else {
        panic!("expected unschedulable");
    };
    assert!(
        error.message().starts_with(
            "0/1 nodes are available: persistentvolumeclaim \"missing\" not found. preemption:"
        ),
        "{}",
        error.message()
    );
}

#[test]
fn no_nodes() {
    let p = Arc::new(pod("p", "", "", json!({})));
    assert!(matches!(
        Scheduler::new().schedule(&p, &mut Snapshot::new(), &Volumes::default()),
        Outcome::NoNodes
    ));
}

#[test]
fn preemption_picks_the_least_important_victims() {
    let mut snap = snapshot(&[
        node("n1", "2", "4Gi", json!({})),
        node("n2", "2", "4Gi", json!({})),
    ]);
    let low =
        |name: &str, prio: i32, cpu: &str| Arc::new(pod(name, cpu, "", json!({"priority": prio})));
    snap.add_pod("n1", low("a", 10, "1"));
    snap.add_pod("n1", low("b", 10, "1"));
    snap.add_pod("n2", low("c", 5, "1"));
    snap.add_pod("n2", low("d", 500, "1"));
    let p = Arc::new(pod("hi", "1", "", json!({"priority": 100})));
    let Outcome::Unschedulable { preemption, .. } =
        Scheduler::new().schedule(&p, &mut snap, &Volumes::default())
    else {
        panic!("expected unschedulable");
    };
    let pre = preemption.expect("preemption");
    assert_eq!(pre.node, "n2");
    let names: Vec<_> = pre.victims.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["c"]);

    let never = Arc::new(pod(
        "never",
        "1",
        "",
        json!({"priority": 100, "preemptionPolicy": "Never"}),
    ));
    let Outcome::Unschedulable { error, preemption } =
        Scheduler::new().schedule(&never, &mut snap, &Volumes::default())
    else {
        panic!("expected unschedulable");
    };
    assert!(preemption.is_none());
    assert!(
        error
            .message()
            .ends_with("preemption: not eligible due to preemptionPolicy=Never..")
    );
}

#[test]
fn sampling_stops_after_enough_feasible_nodes() {
    let nodes: Vec<_> = (0..1000)
        .map(|i| node(&format!("n{i}"), "4", "8Gi", json!({})))
        .collect();
    let mut snap = snapshot(&nodes);
    let mut s = Scheduler::new();
    let p = Arc::new(pod("p", "100m", "", json!({})));
    s.schedule(&p, &mut snap, &Volumes::default());
    assert_eq!(snap.next_start, 420);
}
