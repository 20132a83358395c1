//! The pure part of pod GC (upstream `pkg/controller/podgc`): which pods are garbage — bound to
//! nodes that no longer exist, terminating without ever being scheduled, or terminated pods
//! beyond the threshold (oldest first, evicted ones before others).

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

/// Upstream's default `--terminated-pod-gc-threshold`.
pub const TERMINATED_POD_GC_THRESHOLD: usize = 12500;

/// What pod GC keeps of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub node_name: String,
    /// Phase Succeeded or Failed.
    pub terminated: bool,
    /// status.reason is Evicted.
    pub evicted: bool,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
    /// creationTimestamp as RFC 3339 text (sorts chronologically).
    pub created: String,
}

/// The summary of a pod (None without name or uid).
pub fn pod_info(pod: &Pod) -> Option<PodInfo> {
    let status = pod.status.as_ref();
    Some(PodInfo {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone()?,
        uid: pod.metadata.uid.clone()?,
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        terminated: matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ),
        evicted: status.and_then(|s| s.reason.as_deref()) == Some("Evicted"),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        created: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
    })
}

/// The terminated pods to delete so that at most `threshold` remain (0 disables): evicted
/// pods first, then oldest first (upstream `byEvictionAndCreationTimestamp`).
pub fn excess_terminated<'a>(
    pods: impl IntoIterator<Item = &'a PodInfo>,
    threshold: usize,
) -> Vec<&'a PodInfo> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut terminated: Vec<&PodInfo> = pods
        .into_iter()
        .filter(|p| p.terminated && !p.deleting)
        .collect();
    if terminated.len() <= threshold {
        return Vec::new();
    }
    terminated.sort_by(|a, b| {
        b.evicted
            .cmp(&a.evicted)
            .then_with(|| a.created.cmp(&b.created))
            .then_with(|| a.name.cmp(&b.name))
    });
    let excess = terminated.len() - threshold;
    terminated.truncate(excess);
    terminated
}

/// A terminating pod that was never scheduled: nothing will finish its deletion.
pub fn unscheduled_terminating(p: &PodInfo) -> bool {
    p.deleting && p.node_name.is_empty() && !p.terminated
}

/// The status patch pod GC writes before deleting a pod whose node is gone (upstream marks it
/// Failed with a DisruptionTarget condition).
pub fn orphaned_status_patch(now: &str) -> Value {
    json!({
        "status": {
            "phase": "Failed",
            "conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists",
                "lastTransitionTime": now,
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, created: &str, terminated: bool, evicted: bool) -> PodInfo {
        PodInfo {
            namespace: "d".into(),
            name: name.into(),
            uid: format!("u-{name}"),
            node_name: "n".into(),
            terminated,
            evicted,
            deleting: false,
            created: created.into(),
        }
    }

    #[test]
    fn oldest_and_evicted_terminated_go_first() {
        let pods = [
            info("a", "2024-01-01T00:00:03Z", true, false),
            info("b", "2024-01-01T00:00:01Z", true, false),
            info("c", "2024-01-01T00:00:05Z", true, true),
            info("d", "2024-01-01T00:00:00Z", false, false),
        ];
        let names: Vec<&str> = excess_terminated(&pods, 1)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["c", "b"]);
        assert!(excess_terminated(&pods, 3).is_empty());
        assert!(excess_terminated(&pods, 0).is_empty());
    }

    #[test]
    fn unscheduled_terminating_pods() {
        let mut p = info("a", "", false, false);
        p.node_name.clear();
        assert!(!unscheduled_terminating(&p));
        p.deleting = true;
        assert!(unscheduled_terminating(&p));
        p.node_name = "n".into();
        assert!(!unscheduled_terminating(&p));
    }
}
