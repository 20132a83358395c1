//! Pure builders: the Node a simulated kubelet registers, its status and Lease, and the pod
//! status a kubelet writes — values in, JSON out, no IO.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{NodeCondition, Pod};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::SimulationConfig;

use k3rs_kubelet::node::status::{self as kubelet, NodeInfo, NodeReport, Pressure};
pub use k3rs_kubelet::node::status::{
    LEASE_DURATION_SECONDS, after, kubelet_version, lease_object, lease_renewal, micro_time, time,
};

/// The network the simulated nodes' InternalIPs come from: 198.18.0.0/15, reserved for
/// benchmark testing (RFC 2544) and never routed. These addresses are API data only.
pub const NODE_IP_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);

/// The InternalIP of simulated node `index` (198.18.0.1, 198.18.0.2, …).
pub fn node_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(NODE_IP_BASE).wrapping_add(index.wrapping_add(1)))
}

/// 64 hex digits derived from `parts` (container IDs, image digests, machine IDs): stable for
/// the same input, so rewriting a status never changes them.
pub fn hex_id(parts: &[&str]) -> String {
    let mut out = String::with_capacity(64);
    for salt in 0u8..4 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        parts.hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// The labels of simulated node `name`: the kubelet's well-known ones, `type=simulated`, then
/// the configured extras.
pub fn node_labels(cfg: &SimulationConfig, name: &str) -> serde_json::Map<String, Value> {
    let simulated = ("type".to_string(), "simulated".to_string());
    let extra =
        std::iter::once((&simulated.0, &simulated.1)).chain(cfg.labels.iter().map(|(k, v)| (k, v)));
    kubelet::node_labels(name, "amd64", extra)
}

/// A healthy simulated kubelet's conditions.
fn healthy() -> [kubelet::ConditionReport; 4] {
    kubelet::conditions(Pressure::default(), None)
}

/// What simulated node `index` reports: the configured capacity (all allocatable), its
/// addresses and made-up but stable node info.
fn report(cfg: &SimulationConfig, index: u32) -> NodeReport {
    let name = super::node_name(index);
    let resources: BTreeMap<String, String> = [
        ("cpu", cfg.cpu.clone()),
        ("ephemeral-storage", cfg.ephemeral_storage.clone()),
        ("hugepages-1Gi", "0".into()),
        ("hugepages-2Mi", "0".into()),
        ("memory", cfg.memory.clone()),
        ("pods", cfg.pods.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let machine = hex_id(&["machine", &name]);
    NodeReport {
        capacity: resources.clone(),
        allocatable: resources,
        addresses: vec![
            ("InternalIP".into(), node_ip(index).to_string()),
            ("Hostname".into(), name.clone()),
        ],
        kubelet_port: 10250,
        node_info: NodeInfo {
            machine_id: machine[..32].to_string(),
            system_uuid: uuid_like(&machine[32..]),
            boot_id: uuid_like(&hex_id(&["boot", &name])[..32]),
            kernel_version: "6.1.0-k3rs-simulated".into(),
            os_image: "k3rs simulated node".into(),
            container_runtime_version: "containerd://2.0.0-k3rs-simulated".into(),
            architecture: "amd64".into(),
        },
        conditions: healthy().to_vec(),
    }
}

/// The Node object simulated node `index` registers with (status included, as the kubelet's
/// `initialNode`).
pub fn node_object(cfg: &SimulationConfig, index: u32, now: Timestamp) -> Value {
    let name = super::node_name(index);
    kubelet::node_object(
        &name,
        node_labels(cfg, &name),
        &cfg.taints,
        &report(cfg, index),
        now,
    )
}

/// Whether `observed` already holds the conditions a healthy simulated kubelet reports.
pub fn node_conditions_healthy(observed: &[NodeCondition]) -> bool {
    kubelet::conditions_match(observed, &healthy())
}

/// The node status a simulated kubelet posts (heartbeat `now`; a condition keeps its
/// lastTransitionTime from `observed` while its status is unchanged).
pub fn node_status(
    cfg: &SimulationConfig,
    index: u32,
    observed: &[NodeCondition],
    now: Timestamp,
) -> Value {
    kubelet::node_status(&report(cfg, index), observed, now)
}

/// 32 hex digits as 8-4-4-4-12.
fn uuid_like(hex: &str) -> String {
    if hex.len() < 32 {
        return hex.to_string();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

// ---- pods ----

/// The annotation that overrides `--simulate-pod-completion` for one pod (`"10s"`, `"500ms"`).
pub const COMPLETION_ANNOTATION: &str = "k3rs.io/simulate-pod-completion";

/// What a simulated kubelet needs to know of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image as written in the spec.
    pub image: String,
    /// `readinessProbe.initialDelaySeconds` when the container has a readiness probe.
    pub ready_after: Option<Duration>,
}

/// The parts of a pod spec the simulated kubelet acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSpecSummary {
    /// Regular containers.
    pub containers: Vec<ContainerSpec>,
    /// Init containers (reported as completed).
    pub init_containers: Vec<ContainerSpec>,
    /// `restartPolicy` is Always (the default): the pod runs until deleted.
    pub restart_always: bool,
    /// `hostNetwork`: the pod IP is the node IP.
    pub host_network: bool,
    /// Per-pod completion time (annotation), else the configured default applies.
    pub completion: Option<Duration>,
    /// The pod already has a PodScheduled condition (from the scheduler); a pod bound by
    /// `spec.nodeName` alone gets one from the kubelet.
    pub has_scheduled_condition: bool,
}

/// Summarise a pod's spec.
pub fn summarize(pod: &Pod) -> PodSpecSummary {
    let spec = pod.spec.as_ref();
    let containers = |init: bool| -> Vec<ContainerSpec> {
        let list = spec.map(|s| {
            if init {
                s.init_containers.as_deref().unwrap_or_default()
            } else {
                &s.containers[..]
            }
        });
        list.unwrap_or_default()
            .iter()
            .map(|c| ContainerSpec {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                ready_after: c.readiness_probe.as_ref().map(|p| {
                    Duration::from_secs(
                        u64::try_from(p.initial_delay_seconds.unwrap_or(0)).unwrap_or(0),
                    )
                }),
            })
            .collect()
    };
    PodSpecSummary {
        containers: containers(false),
        init_containers: containers(true),
        restart_always: spec
            .and_then(|s| s.restart_policy.as_deref())
            .is_none_or(|p| p == "Always"),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        completion: pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(COMPLETION_ANNOTATION))
            .and_then(|v| parse_duration(v)),
        has_scheduled_condition: pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "PodScheduled")),
    }
}

/// `5s`, `500ms`, `2m`, `1h`, or bare seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let millis = match unit {
        "ms" => n,
        "" | "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(millis))
}

/// The phase a simulated pod is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimPhase {
    /// Containers running.
    Running,
    /// All containers exited 0.
    Succeeded,
}

/// What the pod's status should say at some moment: a function of the spec, the start time
/// and the clock only, so the same moment always gives the same status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The phase.
    pub phase: SimPhase,
    /// Readiness of each regular container, in spec order.
    pub ready: Vec<bool>,
}

/// When the pod completes (None: never, restartPolicy Always).
pub fn completion_at(
    spec: &PodSpecSummary,
    start: Timestamp,
    default: Duration,
) -> Option<Timestamp> {
    (!spec.restart_always).then(|| after(start, spec.completion.unwrap_or(default)))
}

/// The desired state at `now` for a pod started at `start`.
pub fn desired(
    spec: &PodSpecSummary,
    start: Timestamp,
    now: Timestamp,
    completion: Duration,
) -> Desired {
    if completion_at(spec, start, completion).is_some_and(|t| now >= t) {
        return Desired {
            phase: SimPhase::Succeeded,
            ready: vec![false; spec.containers.len()],
        };
    }
    Desired {
        phase: SimPhase::Running,
        ready: spec
            .containers
            .iter()
            .map(|c| c.ready_after.is_none_or(|d| now >= after(start, d)))
            .collect(),
    }
}

/// The next moment after `now` at which the desired state changes, if any.
pub fn next_transition(
    spec: &PodSpecSummary,
    start: Timestamp,
    now: Timestamp,
    completion: Duration,
) -> Option<Timestamp> {
    let done = completion_at(spec, start, completion);
    spec.containers
        .iter()
        .filter_map(|c| c.ready_after.map(|d| after(start, d)))
        .chain(done)
        .filter(|t| *t > now)
        .filter(|t| done.is_none_or(|d| *t <= d))
        .min()
}

/// What the pod's current status says, in the terms of [`Desired`].
pub fn observed(pod: &Pod, spec: &PodSpecSummary) -> Option<Desired> {
    let status = pod.status.as_ref()?;
    let phase = match status.phase.as_deref() {
        Some("Running") => SimPhase::Running,
        Some("Succeeded") => SimPhase::Succeeded,
        _ => return None,
    };
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    let ready = spec
        .containers
        .iter()
        .map(|c| statuses.iter().any(|s| s.name == c.name && s.ready))
        .collect();
    Some(Desired { phase, ready })
}

/// Where a pod runs: its addresses and start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The pod IP.
    pub pod_ip: Ipv4Addr,
    /// The node's InternalIP.
    pub host_ip: Ipv4Addr,
    /// When the kubelet started the pod (status.startTime, containers' startedAt).
    pub start: Timestamp,
}

/// The containerd ID of a container of pod `uid`.
pub fn container_id(uid: &str, container: &str) -> String {
    format!("containerd://{}", hex_id(&["container", uid, container]))
}

/// The image ID a runtime reports for `image`: the fully qualified repository and a digest.
pub fn image_id(image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    let qualified = match repo.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            repo.to_string()
        }
        Some(_) => format!("docker.io/{repo}"),
        None => format!("docker.io/library/{repo}"),
    };
    format!("{qualified}@sha256:{}", hex_id(&["image", image]))
}

fn condition(
    ty: &str,
    status: bool,
    at: Timestamp,
    reason: Option<&str>,
    message: Option<String>,
) -> Value {
    let mut c = json!({
        "type": ty,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": time(at),
    });
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// The status a kubelet writes for `desired` (a strategic-merge patch body for pods/status:
/// conditions merge by type, so PodScheduled and others' conditions are kept). Every time in
/// it derives from the start time and the spec, so writing it twice changes nothing.
pub fn pod_status_patch(
    uid: &str,
    spec: &PodSpecSummary,
    placement: Placement,
    desired: &Desired,
    completion: Duration,
) -> Value {
    let start = placement.start;
    let done_at = completion_at(spec, start, completion).unwrap_or(start);
    let succeeded = desired.phase == SimPhase::Succeeded;
    let ready_at = |c: &ContainerSpec| c.ready_after.map_or(start, |d| after(start, d));

    let container_statuses: Vec<Value> = spec
        .containers
        .iter()
        .zip(desired.ready.iter().chain(std::iter::repeat(&false)))
        .map(|(c, ready)| {
            let id = container_id(uid, &c.name);
            let state = if succeeded {
                json!({"terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": time(start),
                    "finishedAt": time(done_at),
                    "containerID": id,
                }})
            } else {
                json!({"running": {"startedAt": time(start)}})
            };
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": image_id(&c.image),
                "containerID": id,
                "ready": ready,
                "started": !succeeded,
                "restartCount": 0,
                "state": state,
                "lastState": {},
            })
        })
        .collect();
    let init_statuses: Vec<Value> = spec
        .init_containers
        .iter()
        .map(|c| {
            let id = container_id(uid, &c.name);
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": image_id(&c.image),
                "containerID": id,
                "ready": true,
                "started": false,
                "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": time(start),
                    "finishedAt": time(start),
                    "containerID": id,
                }},
                "lastState": {},
            })
        })
        .collect();

    let unready: Vec<&str> = spec
        .containers
        .iter()
        .zip(&desired.ready)
        .filter(|(_, r)| !**r)
        .map(|(c, _)| c.name.as_str())
        .collect();
    let (ready, ready_at, ready_reason, ready_message) = if succeeded {
        (false, done_at, Some("PodCompleted"), None)
    } else if unready.is_empty() {
        let at = spec.containers.iter().map(ready_at).max().unwrap_or(start);
        (true, at, None, None)
    } else {
        (
            false,
            start,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let mut conditions = vec![
        condition(
            "PodReadyToStartContainers",
            !succeeded,
            if succeeded { done_at } else { start },
            None,
            None,
        ),
        condition(
            "Initialized",
            true,
            start,
            succeeded.then_some("PodCompleted"),
            None,
        ),
        condition(
            "Ready",
            ready,
            ready_at,
            ready_reason,
            ready_message.clone(),
        ),
        condition(
            "ContainersReady",
            ready,
            ready_at,
            ready_reason,
            ready_message,
        ),
    ];
    if !spec.has_scheduled_condition {
        // The kubelet reports PodScheduled=True for any pod it runs (generateAPIPodStatus).
        conditions.push(condition("PodScheduled", true, start, None, None));
    }
    let mut status = json!({
        "phase": if succeeded { "Succeeded" } else { "Running" },
        "conditions": conditions,
        "hostIP": placement.host_ip.to_string(),
        "hostIPs": [{"ip": placement.host_ip.to_string()}],
        "podIP": placement.pod_ip.to_string(),
        "podIPs": [{"ip": placement.pod_ip.to_string()}],
        "startTime": time(start),
        "containerStatuses": container_statuses,
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    json!({"status": status})
}
