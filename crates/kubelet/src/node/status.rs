//! Pure builders of what a kubelet writes about its node: the Node it registers, the status it
//! posts (capacity, allocatable, conditions, addresses, node info) and its Lease in
//! kube-node-lease. Real and simulated kubelets both use them — values in, JSON out.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::NodeCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// The kubelet's lease duration (`nodeLeaseDurationSeconds`).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// How often a kubelet renews its Lease (`nodeLeaseDurationSeconds` × 0.25).
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// How often a kubelet posts an unchanged node status (`nodeStatusReportFrequency`).
pub const STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(300);
/// The namespace of node Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The field manager kubelets write with.
pub const FIELD_MANAGER: &str = "kubelet";

/// The version kubelets of this build report (the API server's own version).
pub fn kubelet_version() -> String {
    format!("v1.33.0+k3rs{}", env!("CARGO_PKG_VERSION"))
}

/// `t` as a `metav1.Time` JSON string (seconds).
pub fn time(t: Timestamp) -> Value {
    serde_json::to_value(Time(t)).unwrap_or(Value::Null)
}

/// `t` as a `metav1.MicroTime` JSON string (microseconds).
pub fn micro_time(t: Timestamp) -> Value {
    serde_json::to_value(MicroTime(t)).unwrap_or(Value::Null)
}

/// `t + d`, saturating at the end of time.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// One node condition as a kubelet reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionReport {
    pub type_: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

/// What the node is short of, from the eviction signals the kubelet measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pressure {
    pub memory: bool,
    pub disk: bool,
    pub pid: bool,
}

/// The four conditions a kubelet reports, with upstream's reasons and messages. `not_ready`
/// is why the node cannot run pods (None: it can).
pub fn conditions(pressure: Pressure, not_ready: Option<&str>) -> [ConditionReport; 4] {
    let pick = |pressed: bool, ty, reason_yes, msg_yes: &str, reason_no, msg_no: &str| {
        let (status, reason, message) = if pressed {
            ("True", reason_yes, msg_yes)
        } else {
            ("False", reason_no, msg_no)
        };
        ConditionReport {
            type_: ty,
            status,
            reason,
            message: message.to_string(),
        }
    };
    [
        pick(
            pressure.memory,
            "MemoryPressure",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        pick(
            pressure.disk,
            "DiskPressure",
            "KubeletHasDiskPressure",
            "kubelet has disk pressure",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        pick(
            pressure.pid,
            "PIDPressure",
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        match not_ready {
            None => ConditionReport {
                type_: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "kubelet is posting ready status".into(),
            },
            Some(why) => ConditionReport {
                type_: "Ready",
                status: "False",
                reason: "KubeletNotReady",
                message: why.to_string(),
            },
        },
    ]
}

/// Whether `observed` already holds `wanted` (type, status and reason of each).
pub fn conditions_match(observed: &[NodeCondition], wanted: &[ConditionReport]) -> bool {
    wanted.iter().all(|w| {
        observed.iter().any(|c| {
            c.type_ == w.type_ && c.status == w.status && c.reason.as_deref() == Some(w.reason)
        })
    })
}

/// `nodeInfo` of a node status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
    pub container_runtime_version: String,
    pub architecture: String,
}

/// Everything a node status says besides its conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// Resource name → quantity (cpu, memory, pods, ephemeral-storage, hugepages-*).
    pub capacity: BTreeMap<String, String>,
    pub allocatable: BTreeMap<String, String>,
    /// (type, address): InternalIP, Hostname, …
    pub addresses: Vec<(String, String)>,
    /// The kubelet API port (`daemonEndpoints.kubeletEndpoint.Port`).
    pub kubelet_port: u16,
    pub node_info: NodeInfo,
    pub conditions: Vec<ConditionReport>,
}

/// The node status a kubelet posts; each condition's heartbeat is `now`, and it keeps its
/// lastTransitionTime from `observed` while its status is unchanged.
pub fn node_status(report: &NodeReport, observed: &[NodeCondition], now: Timestamp) -> Value {
    let conditions: Vec<Value> = report
        .conditions
        .iter()
        .map(|c| {
            let transition = observed
                .iter()
                .find(|o| o.type_ == c.type_ && o.status == c.status)
                .and_then(|o| o.last_transition_time.as_ref())
                .map_or(now, |t| t.0);
            json!({
                "type": c.type_,
                "status": c.status,
                "lastHeartbeatTime": time(now),
                "lastTransitionTime": time(transition),
                "reason": c.reason,
                "message": c.message,
            })
        })
        .collect();
    let addresses: Vec<Value> = report
        .addresses
        .iter()
        .map(|(ty, address)| json!({"type": ty, "address": address}))
        .collect();
    let info = &report.node_info;
    json!({
        "capacity": report.capacity,
        "allocatable": report.allocatable,
        "conditions": conditions,
        "addresses": addresses,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": report.kubelet_port}},
        "nodeInfo": {
            "machineID": info.machine_id,
            "systemUUID": info.system_uuid,
            "bootID": info.boot_id,
            "kernelVersion": info.kernel_version,
            "osImage": info.os_image,
            "containerRuntimeVersion": info.container_runtime_version,
            "kubeletVersion": kubelet_version(),
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": info.architecture,
        },
    })
}

/// The kubelet's well-known labels of node `name` (`kubernetes.io/hostname`, os, arch and the
/// deprecated beta ones), then `extra` (later entries win).
pub fn node_labels<'a>(
    name: &str,
    arch: &str,
    extra: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> serde_json::Map<String, Value> {
    let mut labels = serde_json::Map::new();
    for (k, v) in [
        ("beta.kubernetes.io/arch", arch),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch),
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
    ] {
        labels.insert(k.into(), json!(v));
    }
    for (k, v) in extra {
        labels.insert(k.clone(), json!(v));
    }
    labels
}

/// The Node a kubelet registers (status included, as the kubelet's `initialNode`).
pub fn node_object(
    name: &str,
    labels: serde_json::Map<String, Value>,
    taints: &[k8s_openapi::api::core::v1::Taint],
    report: &NodeReport,
    now: Timestamp,
) -> Value {
    let mut spec = json!({});
    if !taints.is_empty() {
        spec["taints"] = serde_json::to_value(taints).unwrap_or(Value::Null);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": node_status(report, &[], now),
    })
}

/// The owner reference a node Lease carries to its Node.
fn node_owner(node: &str, uid: &str) -> Value {
    json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}])
}

/// The node Lease a kubelet keeps in kube-node-lease, owned by its Node (once its uid is known).
pub fn lease_object(node: &str, node_uid: Option<&str>, now: Timestamp) -> Value {
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": NODE_LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": micro_time(now),
        },
    });
    if let Some(uid) = node_uid {
        lease["metadata"]["ownerReferences"] = node_owner(node, uid);
    }
    lease
}

/// The merge patch that renews a node Lease; it also sets the owner reference once the Node's
/// uid is known (a Lease created before the Node was seen has none), as upstream does.
pub fn lease_renewal(node: &str, node_uid: Option<&str>, now: Timestamp) -> Value {
    let mut patch = json!({"spec": {
        "holderIdentity": node,
        "leaseDurationSeconds": LEASE_DURATION_SECONDS,
        "renewTime": micro_time(now),
    }});
    if let Some(uid) = node_uid {
        patch["metadata"] = json!({"ownerReferences": node_owner(node, uid)});
    }
    patch
}
