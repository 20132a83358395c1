//! The CRI configs of a pod's sandbox and containers, from the Pod and the values the loop
//! gathered (DNS, environment, mounts, image): pure functions, as upstream's
//! `generatePodSandboxConfig` and `generateContainerConfig`.

use std::collections::HashMap;
use std::path::Path;

use k3rs_api::validation::quantity::parse_quantity;
use k3rs_cri::v1::{
    Capability, ContainerConfig, ContainerMetadata, DnsConfig, ImageSpec, Int64Value, KeyValue,
    LinuxContainerConfig, LinuxContainerResources, LinuxContainerSecurityContext,
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, Mount, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, PortMapping, Protocol,
};
use k8s_openapi::api::core::v1::{Container, Pod, PodSecurityContext, SecurityContext};

use crate::pod::{app_containers, container_hash, init_containers, labels, pod_display};

use super::cri::ImageInfo;

/// Upstream's CFS period, in microseconds.
const CPU_PERIOD: i64 = 100_000;
/// Upstream's smallest CPU quota and shares.
const MIN_QUOTA: i64 = 1_000;
const MIN_SHARES: i64 = 2;

/// `/var/log/pods/<namespace>_<name>_<uid>`: the sandbox's log directory.
pub fn pod_log_dir(root: &Path, pod: &Pod) -> std::path::PathBuf {
    let m = &pod.metadata;
    root.join(format!(
        "{}_{}_{}",
        m.namespace.as_deref().unwrap_or(""),
        m.name.as_deref().unwrap_or(""),
        m.uid.as_deref().unwrap_or("")
    ))
}

/// The pod's cgroup parent by QoS class, as upstream's cgroupfs layout:
/// `/kubepods/pod<uid>`, `/kubepods/burstable/pod<uid>`, `/kubepods/besteffort/pod<uid>`.
pub fn cgroup_parent(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or("");
    match crate::pod::status::qos_class(pod) {
        "Guaranteed" => format!("/kubepods/pod{uid}"),
        "BestEffort" => format!("/kubepods/besteffort/pod{uid}"),
        _ => format!("/kubepods/burstable/pod{uid}"),
    }
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let m = &pod.metadata;
    HashMap::from([
        (labels::POD_NAME.into(), m.name.clone().unwrap_or_default()),
        (
            labels::POD_NAMESPACE.into(),
            m.namespace.clone().unwrap_or_default(),
        ),
        (labels::POD_UID.into(), m.uid.clone().unwrap_or_default()),
    ])
}

fn pod_security(pod: &Pod) -> PodSecurityContext {
    pod.spec
        .as_ref()
        .and_then(|s| s.security_context.clone())
        .unwrap_or_default()
}

/// The sandbox config of `pod`.
pub fn sandbox_config(
    pod: &Pod,
    attempt: u32,
    hostname: Option<String>,
    dns: Option<DnsConfig>,
    log_root: &Path,
) -> PodSandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut labels = pod_labels(pod);
    for (k, v) in pod.metadata.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let annotations: HashMap<String, String> = pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let port_mappings = app_containers(pod)
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|h| h > 0))
        .map(|p| PortMapping {
            protocol: match p.protocol.as_deref() {
                Some("UDP") => Protocol::Udp,
                Some("SCTP") => Protocol::Sctp,
                _ => Protocol::Tcp,
            } as i32,
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or(0),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let psc = pod_security(pod);
    let mode = |node: Option<bool>, otherwise: NamespaceMode| {
        if node == Some(true) {
            NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    let pid_default = if spec.share_process_namespace == Some(true) {
        NamespaceMode::Pod
    } else {
        NamespaceMode::Container
    };
    let privileged = init_containers(pod)
        .iter()
        .chain(app_containers(pod))
        .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true));
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        hostname: hostname.unwrap_or_default(),
        log_directory: pod_log_dir(log_root, pod).to_string_lossy().into_owned(),
        dns_config: dns,
        port_mappings,
        labels,
        annotations,
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(pod),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: mode(spec.host_network, NamespaceMode::Pod),
                    pid: mode(spec.host_pid, pid_default),
                    ipc: mode(spec.host_ipc, NamespaceMode::Pod),
                    ..Default::default()
                }),
                run_as_user: psc.run_as_user.map(|value| Int64Value { value }),
                run_as_group: psc.run_as_group.map(|value| Int64Value { value }),
                supplemental_groups: psc.supplemental_groups.clone().unwrap_or_default(),
                privileged,
                ..Default::default()
            }),
            sysctls: psc
                .sysctls
                .iter()
                .flatten()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect(),
            ..Default::default()
        }),
        windows: None,
    }
}

/// A container's security settings: the container's own, falling back to the pod's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effective {
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub run_as_non_root: bool,
}

pub fn effective_security(pod: &Pod, c: &Container) -> Effective {
    let psc = pod_security(pod);
    let csc = c.security_context.clone().unwrap_or_default();
    Effective {
        run_as_user: csc.run_as_user.or(psc.run_as_user),
        run_as_group: csc.run_as_group.or(psc.run_as_group),
        run_as_non_root: csc.run_as_non_root.or(psc.run_as_non_root) == Some(true),
    }
}

/// Upstream's `verifyRunAsNonRoot`: the message of a `CreateContainerConfigError` when the
/// container would run as root under `runAsNonRoot`.
pub fn verify_run_as_non_root(pod: &Pod, c: &Container, image: &ImageInfo) -> Result<(), String> {
    let sc = effective_security(pod, c);
    if !sc.run_as_non_root {
        return Ok(());
    }
    let who = format!("(pod: {:?}, container: {})", pod_display(pod), c.name);
    match sc.run_as_user.or(image.uid) {
        Some(0) => Err(if sc.run_as_user.is_some() {
            format!("container's runAsUser breaks non-root policy {who}")
        } else {
            format!("container has runAsNonRoot and image will run as root {who}")
        }),
        Some(_) => Ok(()),
        None if !image.username.is_empty() => Err(format!(
            "container has runAsNonRoot and image has non-numeric user ({}), cannot verify user is non-root {who}",
            image.username
        )),
        None => Err(format!(
            "container has runAsNonRoot and image will run as root {who}"
        )),
    }
}

/// A quantity of `resource` in `limits` or `requests`, in milli-units (cpu) or units.
fn quantity(c: &Container, limits: bool, resource: &str, milli: bool) -> Option<i64> {
    let r = c.resources.as_ref()?;
    let map = if limits {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }?;
    let q = parse_quantity(&map.get(resource)?.0).ok()?;
    let per = if milli { 1_000_000 } else { 1_000_000_000 };
    i64::try_from((q.nanos + per - 1) / per).ok()
}

/// The container's cgroup limits (upstream's `calculateLinuxResources` and `GetContainerOOMScoreAdjust`).
pub fn linux_resources(pod: &Pod, c: &Container, node_memory: i64) -> LinuxContainerResources {
    let cpu_request = quantity(c, false, "cpu", true);
    let cpu_limit = quantity(c, true, "cpu", true);
    let cpu_shares = match cpu_request.or(cpu_limit) {
        Some(m) if m > 0 => (m * 1024 / 1000).max(MIN_SHARES),
        _ => MIN_SHARES,
    };
    let cpu_quota = cpu_limit
        .filter(|&m| m > 0)
        .map(|m| (m * CPU_PERIOD / 1000).max(MIN_QUOTA))
        .unwrap_or(0);
    let oom_score_adj = match crate::pod::status::qos_class(pod) {
        "Guaranteed" => -997,
        "BestEffort" => 1000,
        _ => {
            let request = quantity(c, false, "memory", false).unwrap_or(0);
            let adj = if node_memory > 0 {
                1000 - 1000 * request / node_memory
            } else {
                999
            };
            adj.clamp(2, 999)
        }
    };
    LinuxContainerResources {
        cpu_period: if cpu_quota > 0 { CPU_PERIOD } else { 0 },
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: quantity(c, true, "memory", false).unwrap_or(0),
        oom_score_adj,
        ..Default::default()
    }
}

fn security_context(pod: &Pod, c: &Container) -> LinuxContainerSecurityContext {
    let csc: SecurityContext = c.security_context.clone().unwrap_or_default();
    let eff = effective_security(pod, c);
    let privileged = csc.privileged == Some(true);
    let caps = csc.capabilities.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let pid = if spec.host_pid == Some(true) {
        NamespaceMode::Node
    } else if spec.share_process_namespace == Some(true) {
        NamespaceMode::Pod
    } else {
        NamespaceMode::Container
    };
    let node_or_pod = |node: Option<bool>| {
        if node == Some(true) {
            NamespaceMode::Node
        } else {
            NamespaceMode::Pod
        }
    };
    LinuxContainerSecurityContext {
        capabilities: Some(Capability {
            add_capabilities: caps.add.unwrap_or_default(),
            drop_capabilities: caps.drop.unwrap_or_default(),
            ..Default::default()
        }),
        privileged,
        namespace_options: Some(NamespaceOption {
            network: node_or_pod(spec.host_network) as i32,
            pid: pid as i32,
            ipc: node_or_pod(spec.host_ipc) as i32,
            ..Default::default()
        }),
        run_as_user: eff.run_as_user.map(|value| Int64Value { value }),
        run_as_group: eff.run_as_group.map(|value| Int64Value { value }),
        readonly_rootfs: csc.read_only_root_filesystem == Some(true),
        supplemental_groups: pod_security(pod).supplemental_groups.unwrap_or_default(),
        // allowPrivilegeEscalation defaults to true; privileged containers may always escalate.
        no_new_privs: !privileged && csc.allow_privilege_escalation == Some(false),
        // Upstream masks /proc paths unless privileged or procMount is Unmasked.
        masked_paths: if privileged {
            Vec::new()
        } else {
            MASKED_PATHS.iter().map(|p| p.to_string()).collect()
        },
        readonly_paths: if privileged {
            Vec::new()
        } else {
            READONLY_PATHS.iter().map(|p| p.to_string()).collect()
        },
        ..Default::default()
    }
}

/// Upstream's default masked and read-only /proc paths (`securitycontext.DefaultProcMount`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What a container's config is made of besides the Pod.
#[derive(Clone, Debug)]
pub struct ContainerInputs<'a> {
    pub container: &'a Container,
    pub restart_count: i32,
    /// The image reference to run (the image ID the runtime resolved).
    pub image_ref: &'a str,
    pub env: Vec<(String, String)>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub mounts: Vec<Mount>,
    /// The node's memory in bytes (the scale of a Burstable container's OOM score).
    pub node_memory: i64,
}

/// The config of one container of `pod`.
pub fn container_config(pod: &Pod, input: ContainerInputs<'_>) -> ContainerConfig {
    let c = input.container;
    let mut container_labels = pod_labels(pod);
    container_labels.insert(labels::CONTAINER_NAME.into(), c.name.clone());
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let annotations = HashMap::from([
        (labels::CONTAINER_HASH.into(), container_hash(c)),
        (
            labels::RESTART_COUNT.into(),
            input.restart_count.to_string(),
        ),
        (labels::TERMINATION_GRACE.into(), grace.to_string()),
    ]);
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: c.name.clone(),
            attempt: u32::try_from(input.restart_count).unwrap_or(0),
        }),
        image: Some(ImageSpec {
            image: input.image_ref.to_string(),
            user_specified_image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: input.command,
        args: input.args,
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: input
            .env
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
        mounts: input.mounts,
        labels: container_labels,
        annotations,
        log_path: format!("{}/{}.log", c.name, input.restart_count),
        stdin: c.stdin == Some(true),
        stdin_once: c.stdin_once == Some(true),
        tty: c.tty == Some(true),
        linux: Some(LinuxContainerConfig {
            resources: Some(linux_resources(pod, c, input.node_memory)),
            security_context: Some(security_context(pod, c)),
        }),
        ..Default::default()
    }
}

/// `IfNotPresent`, or `Always` for a `:latest` or untagged image (upstream's defaulting).
pub fn default_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None | Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// The last `lines` lines of a CRI-format log (`<time> <stream> <P|F> <text>`), as the
/// text the container wrote: upstream's `FallbackToLogsOnError` message.
pub fn log_tail(log: &str, lines: usize) -> String {
    let mut text = String::new();
    for line in log.lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(_time), Some(_stream), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        text.push_str(parts.next().unwrap_or(""));
        // A partial line ("P") continues in the next entry.
        if tag != "P" {
            text.push('\n');
        }
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests;
