//! Unit tests of the DaemonSet decisions.

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use serde_json::json;

use super::core::*;

fn node(name: &str, taints: serde_json::Value) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"disk": "ssd"}},
        "spec": {"taints": taints}
    }))
    .expect("node")
}

fn pod(name: &str, updated: bool, available: bool) -> DaemonPod {
    DaemonPod {
        name: name.into(),
        updated,
        terminating: false,
        failed: false,
        ready: available,
        available,
        created: None,
    }
}

fn ns(name: &str, pods: Vec<DaemonPod>) -> NodeState {
    NodeState {
        name: name.into(),
        should_run: true,
        should_continue: true,
        pods,
    }
}

const ROLL: Rollout = Rollout {
    rolling: true,
    max_unavailable: 1,
    max_surge: 0,
};

#[test]
fn default_tolerations_and_taints() {
    let mut spec = PodSpec::default();
    add_default_tolerations(&mut spec);
    assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(6));
    // Tolerated by default.
    let n = node(
        "n1",
        json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
    );
    assert_eq!(should_run(&spec, &n), (true, true));
    let n = node("n1", json!([{"key": "gpu", "effect": "NoSchedule"}]));
    assert_eq!(should_run(&spec, &n), (false, true));
    let n = node("n1", json!([{"key": "gpu", "effect": "NoExecute"}]));
    assert_eq!(should_run(&spec, &n), (false, false));
    spec.host_network = Some(true);
    add_default_tolerations(&mut spec);
    assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(7));
}

#[test]
fn node_selector_and_affinity() {
    let mut spec: PodSpec = serde_json::from_value(json!({
        "containers": [],
        "nodeSelector": {"disk": "hdd"}
    }))
    .expect("spec");
    let n = node("n1", json!([]));
    assert_eq!(should_run(&spec, &n), (false, false));
    spec.node_selector = None;
    set_node_affinity(&mut spec, "n1");
    assert_eq!(should_run(&spec, &n), (true, true));
    assert_eq!(should_run(&spec, &node("n2", json!([]))), (false, false));
    let p = Pod {
        spec: Some(spec),
        ..Default::default()
    };
    assert_eq!(node_of(&p).as_deref(), Some("n1"));
}

#[test]
fn creates_missing_and_deletes_extra_and_misscheduled() {
    let nodes = vec![
        ns("a", vec![]),
        ns("b", vec![pod("b1", true, true), pod("b2", true, true)]),
        NodeState {
            name: "c".into(),
            should_run: false,
            should_continue: false,
            pods: vec![pod("c1", true, true)],
        },
    ];
    let mut nodes = nodes;
    nodes[1].pods[1].created = Some(k8s_openapi::jiff::Timestamp::from_second(10).expect("ts"));
    nodes[1].pods[0].created = Some(k8s_openapi::jiff::Timestamp::from_second(5).expect("ts"));
    assert_eq!(
        plan(&nodes, ROLL),
        vec![
            Action::Create("a".into()),
            Action::Delete("b2".into()),
            Action::Delete("c1".into())
        ]
    );
    let c = count(&nodes);
    assert_eq!((c.desired, c.current, c.misscheduled), (2, 1, 1));
}

#[test]
fn rolling_update_respects_max_unavailable() {
    let nodes = vec![
        ns("a", vec![pod("a1", false, true)]),
        ns("b", vec![pod("b1", false, true)]),
        ns("c", vec![pod("c1", false, true)]),
    ];
    assert_eq!(plan(&nodes, ROLL), vec![Action::Delete("a1".into())]);
    // One new pod not yet available: wait.
    let nodes2 = vec![
        ns("a", vec![pod("a2", true, false)]),
        ns("b", vec![pod("b1", false, true)]),
    ];
    assert_eq!(plan(&nodes2, ROLL), vec![]);
    let two = Rollout {
        max_unavailable: 2,
        ..ROLL
    };
    assert_eq!(
        plan(&nodes, two),
        vec![Action::Delete("a1".into()), Action::Delete("b1".into())]
    );
    let on_delete = Rollout {
        rolling: false,
        ..ROLL
    };
    assert_eq!(plan(&nodes, on_delete), vec![]);
}

#[test]
fn surge_creates_before_deleting() {
    let surge = Rollout {
        rolling: true,
        max_unavailable: 0,
        max_surge: 1,
    };
    let nodes = vec![
        ns("a", vec![pod("a1", false, true)]),
        ns("b", vec![pod("b1", false, true)]),
    ];
    assert_eq!(plan(&nodes, surge), vec![Action::Create("a".into())]);
    let nodes = vec![
        ns("a", vec![pod("a1", false, true), pod("a2", true, true)]),
        ns("b", vec![pod("b1", false, true)]),
    ];
    assert_eq!(
        plan(&nodes, surge),
        vec![Action::Delete("a1".into()), Action::Create("b".into())]
    );
}
