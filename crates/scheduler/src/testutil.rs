//! Test fixtures built from JSON, as manifests read.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::model::{PodInfo, Snapshot};

/// A node with cpu/memory/pods allocatable and labels (hostname added).
pub fn node(name: &str, cpu: &str, mem: &str, labels: Value) -> Node {
    let mut l = labels.as_object().cloned().unwrap_or_default();
    l.insert("kubernetes.io/hostname".into(), json!(name));
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": l},
        "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}}
    }))
    .expect("node json")
}

/// Add spec fields to a node.
pub fn with_spec(mut n: Node, spec: Value) -> Node {
    n.spec = Some(serde_json::from_value(spec).expect("node spec"));
    n
}

/// A pod with one container requesting cpu/memory ("" for none), plus extra spec fields.
pub fn pod(name: &str, cpu: &str, mem: &str, extra_spec: Value) -> PodInfo {
    pod_labeled(name, json!({}), cpu, mem, extra_spec)
}

/// A labeled pod.
pub fn pod_labeled(name: &str, labels: Value, cpu: &str, mem: &str, extra_spec: Value) -> PodInfo {
    let mut req = serde_json::Map::new();
    if !cpu.is_empty() {
        req.insert("cpu".into(), json!(cpu));
    }
    if !mem.is_empty() {
        req.insert("memory".into(), json!(mem));
    }
    let mut spec = json!({
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": req}}]
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
        "spec": spec
    }))
    .expect("pod json");
    PodInfo::new(Arc::new(p), None)
}

/// A snapshot of these nodes.
pub fn snapshot(nodes: &[Node]) -> Snapshot {
    let mut s = Snapshot::new();
    for n in nodes {
        s.upsert_node(n);
    }
    s
}
