//! The pure core of the pod lifecycle: what the runtime holds for a pod (values mapped from
//! CRI), what to do about it ([`actions`]), how long to wait before restarting ([`backoff`]) and
//! the `PodStatus` the kubelet reports ([`status`]). No IO here: values in, values out.

pub mod actions;
pub mod backoff;
pub mod status;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};

/// CRI labels and annotations the kubelet sets on sandboxes and containers (upstream's names, so
/// any CRI tool can find a pod's containers).
pub mod labels {
    pub const POD_NAME: &str = "io.kubernetes.pod.name";
    pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    pub const POD_UID: &str = "io.kubernetes.pod.uid";
    pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
    pub const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
    pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
    pub const TERMINATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
}

/// A point in time as CRI reports it: nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// One pod sandbox as the runtime reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    /// The primary pod IP (empty for host-network sandboxes or before the network is up).
    pub ip: String,
    pub additional_ips: Vec<String>,
    pub created_at: Nanos,
    /// Whether the sandbox shares the node's network namespace.
    pub host_network: bool,
}

/// The state of one container as the runtime reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerPhase {
    Created,
    Running,
    Exited,
    Unknown,
}

/// One container as the runtime reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeContainer {
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub phase: ContainerPhase,
    pub created_at: Nanos,
    pub started_at: Nanos,
    pub finished_at: Nanos,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub image: String,
    pub image_ref: String,
    /// The spec hash this container was created from (annotation [`labels::CONTAINER_HASH`]).
    pub hash: String,
    /// The restart count it was created with (annotation [`labels::RESTART_COUNT`]).
    pub restart_count: i32,
}

/// Everything the runtime holds for one pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimePod {
    pub sandboxes: Vec<Sandbox>,
    pub containers: Vec<RuntimeContainer>,
}

impl RuntimePod {
    /// The newest sandbox (the one the pod runs in, if it is ready).
    pub fn newest_sandbox(&self) -> Option<&Sandbox> {
        self.sandboxes
            .iter()
            .max_by_key(|s| (s.attempt, s.created_at))
    }

    /// The runtime containers of one spec container, newest first.
    pub fn containers_named(&self, name: &str) -> Vec<&RuntimeContainer> {
        let mut found: Vec<&RuntimeContainer> =
            self.containers.iter().filter(|c| c.name == name).collect();
        found.sort_by_key(|c| std::cmp::Reverse((c.restart_count, c.created_at)));
        found
    }

    /// The newest runtime container of one spec container.
    pub fn newest(&self, name: &str) -> Option<&RuntimeContainer> {
        self.containers_named(name).into_iter().next()
    }
}

/// Why a container could not be started on the last attempt (upstream's "reason cache"): shown
/// as the waiting reason and message of its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartFailure {
    /// Upstream's reason: `ErrImagePull`, `ImagePullBackOff`, `CrashLoopBackOff`,
    /// `CreateContainerConfigError`, `CreateContainerError`, `RunContainerError`, …
    pub reason: String,
    pub message: String,
}

/// Probe results per container ID (see [`crate::probe`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeResults {
    /// Readiness: absent = no result yet (not ready when the container has a readiness probe).
    pub ready: HashMap<String, bool>,
    /// Startup: absent = not started yet (when the container has a startup probe).
    pub started: HashMap<String, bool>,
    /// Containers whose liveness or startup probe failed.
    pub failed: HashMap<String, FailedProbe>,
}

/// A liveness or startup probe that failed: the container is killed and restarted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedProbe {
    /// Upstream's message, e.g. `Container app failed liveness probe, will be restarted`.
    pub message: String,
    /// The probe's `terminationGracePeriodSeconds`, which overrides the pod's for this kill.
    pub grace_seconds: Option<i64>,
}

/// The kind of a spec container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    Init,
    App,
}

/// A container of the pod spec by kind and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    pub kind: ContainerKind,
    pub index: usize,
}

impl ContainerRef {
    /// The spec container this refers to.
    pub fn spec<'a>(&self, pod: &'a Pod) -> Option<&'a Container> {
        let spec = pod.spec.as_ref()?;
        match self.kind {
            ContainerKind::Init => spec.init_containers.as_ref()?.get(self.index),
            ContainerKind::App => spec.containers.get(self.index),
        }
    }
}

/// The pod's restart policy (`Always` when unset, as defaulting does).
pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// Whether the pod shares the node's network namespace.
pub fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// The init containers of the pod (empty when none).
pub fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

/// The app containers of the pod.
pub fn app_containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map(|s| &s.containers[..]).unwrap_or(&[])
}

/// The hash of a container's spec, recorded on the runtime container: a changed spec restarts
/// the container (upstream's `HashContainer`). FNV-1a over the canonical JSON.
pub fn container_hash(container: &Container) -> String {
    let bytes = serde_json::to_vec(container).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:x}")
}

/// `name_namespace(uid)`, upstream's way of naming a pod in messages (`format.Pod`).
pub fn pod_display(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

/// Whether an init container is a sidecar (`restartPolicy: Always`): it keeps running beside
/// the app containers and restarts whatever the pod's policy.
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// Whether a running container has started: no startup probe, or it succeeded.
pub fn started(spec: &Container, current: &RuntimeContainer, probes: &ProbeResults) -> bool {
    current.phase == ContainerPhase::Running
        && (spec.startup_probe.is_none() || probes.started.get(&current.id) == Some(&true))
}

/// Whether a container of this spec should run again after it exited with `exit_code`.
pub fn restart_allowed(pod: &Pod, exit_code: i32) -> bool {
    match restart_policy(pod) {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// What the runtime may drop of a pod that keeps running: exited containers older than the
/// last two of each name (the current one and the previous one, for `logs --previous`), and
/// sandboxes that are not ready, not the newest and hold none of the kept containers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Garbage {
    pub containers: Vec<String>,
    pub sandboxes: Vec<String>,
}

pub fn garbage(runtime: &RuntimePod) -> Garbage {
    let mut names: Vec<&str> = runtime.containers.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Garbage::default();
    let mut kept_sandboxes: Vec<&str> = Vec::new();
    for name in names {
        for (i, c) in runtime.containers_named(name).into_iter().enumerate() {
            if i >= 2 && c.phase == ContainerPhase::Exited {
                out.containers.push(c.id.clone());
            } else {
                kept_sandboxes.push(&c.sandbox_id);
            }
        }
    }
    let newest = runtime.newest_sandbox().map(|s| s.id.as_str());
    out.sandboxes = runtime
        .sandboxes
        .iter()
        .filter(|s| {
            !s.ready && Some(s.id.as_str()) != newest && !kept_sandboxes.contains(&s.id.as_str())
        })
        .map(|s| s.id.clone())
        .collect();
    out
}
