//! The `PodStatus` the kubelet writes (upstream's `generateAPIPodStatus`): container statuses
//! from the runtime, start failures and probe results; the phase from them (`getPhase`); the
//! conditions with their upstream reasons and messages.

use std::collections::HashMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{
    ContainerPhase, Nanos, ProbeResults, RuntimeContainer, RuntimePod, StartFailure,
    app_containers, host_network, init_containers, is_sidecar, restart_allowed, restart_policy,
    started,
};

/// The runtime name in container IDs (`containerd://<id>`).
pub const RUNTIME_SCHEME: &str = "containerd";

/// The values [`compute_status`] reads.
#[derive(Clone, Copy, Debug)]
pub struct StatusInput<'a> {
    pub pod: &'a Pod,
    pub runtime: &'a RuntimePod,
    pub probes: &'a ProbeResults,
    /// Why a container could not start on the last attempt, by container name.
    pub failures: &'a HashMap<String, StartFailure>,
    pub node_ips: &'a [IpAddr],
    pub now: Nanos,
}

/// A CRI timestamp as an API `Time` (whole seconds, as the API serializes them).
pub fn time(nanos: Nanos) -> Time {
    Time(Timestamp::from_second(nanos / super::NANOS_PER_SEC).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// The status of the pod as the kubelet sees it now.
pub fn compute_status(input: &StatusInput<'_>) -> PodStatus {
    let pod = input.pod;
    let old = pod.status.clone().unwrap_or_default();
    let inits = init_containers(pod);
    let init_statuses: Vec<ContainerStatus> = inits
        .iter()
        .map(|c| container_status(input, c, true, "PodInitializing"))
        .collect();
    let initialized = inits
        .iter()
        .zip(&init_statuses)
        .all(|(c, s)| init_complete(c, s));
    let app_default = if initialized {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<ContainerStatus> = app_containers(pod)
        .iter()
        .map(|c| container_status(input, c, false, app_default))
        .collect();

    let old_phase = old.phase.as_deref().unwrap_or("");
    let phase = if matches!(old_phase, "Succeeded" | "Failed") {
        old_phase.to_string()
    } else {
        phase(pod, &init_statuses, &statuses).to_string()
    };

    let sandbox = input.runtime.newest_sandbox().filter(|s| s.ready);
    let host_ips: Vec<String> = input.node_ips.iter().map(IpAddr::to_string).collect();
    let pod_ips: Vec<String> = if host_network(pod) {
        host_ips.clone()
    } else if let Some(s) = sandbox.filter(|s| !s.ip.is_empty()) {
        std::iter::once(s.ip.clone())
            .chain(s.additional_ips.iter().cloned())
            .collect()
    } else {
        old.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect()
    };
    let network_ready = sandbox.is_some_and(|s| s.host_network || !s.ip.is_empty());

    let mut conditions = vec![
        condition("PodReadyToStartContainers", network_ready, None, None),
        initialized_condition(&phase, inits, &init_statuses),
    ];
    // Sidecars count towards readiness as the app containers do.
    let (sidecars, sidecar_statuses): (Vec<Container>, Vec<ContainerStatus>) = inits
        .iter()
        .zip(&init_statuses)
        .filter(|(c, _)| is_sidecar(c))
        .map(|(c, s)| (c.clone(), s.clone()))
        .unzip();
    let ready_specs: Vec<Container> = sidecars
        .into_iter()
        .chain(app_containers(pod).iter().cloned())
        .collect();
    let ready_statuses: Vec<ContainerStatus> = sidecar_statuses
        .into_iter()
        .chain(statuses.iter().cloned())
        .collect();
    let ready = ready_condition(&phase, &ready_specs, &ready_statuses);
    conditions.push(PodCondition {
        type_: "Ready".into(),
        ..ready.clone()
    });
    conditions.push(ready);
    // The scheduler's condition stays as it wrote it; a pod bound to this node is scheduled
    // even when that write has not been seen yet.
    conditions.push(
        old.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled")
            .cloned()
            .unwrap_or_else(|| condition("PodScheduled", true, None, None)),
    );
    let now = time(input.now);
    for c in &mut conditions {
        let previous = old.conditions.iter().flatten().find(|o| o.type_ == c.type_);
        c.last_transition_time = match previous {
            Some(p) if p.status == c.status => p.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        if c.last_probe_time.is_none() {
            c.last_probe_time = previous.and_then(|p| p.last_probe_time.clone());
        }
    }

    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: host_ips.first().cloned(),
        host_ips: (!host_ips.is_empty()).then(|| {
            host_ips
                .iter()
                .map(|ip| HostIP { ip: ip.clone() })
                .collect()
        }),
        pod_ip: pod_ips.first().cloned(),
        pod_ips: (!pod_ips.is_empty())
            .then(|| pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time: old.start_time.clone().or(Some(now)),
        init_container_statuses: (!inits.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        qos_class: old
            .qos_class
            .clone()
            .or_else(|| Some(qos_class(pod).into())),
        ..old
    }
}

fn container_status(
    input: &StatusInput<'_>,
    spec: &Container,
    init: bool,
    default_reason: &str,
) -> ContainerStatus {
    let history = input.runtime.containers_named(&spec.name);
    let current = history.first().copied();
    let mut state = match current {
        Some(c) => state_of(c),
        None => waiting(default_reason, None),
    };
    let mut last_state = history
        .get(1)
        .filter(|c| c.phase == ContainerPhase::Exited)
        .map(|c| state_of(c));

    let sidecar = init && is_sidecar(spec);
    let completed_init = init
        && !sidecar
        && current.is_some_and(|c| c.phase == ContainerPhase::Exited && c.exit_code == 0);
    let will_restart = match current {
        None => true,
        Some(c) => match c.phase {
            ContainerPhase::Running => false,
            ContainerPhase::Exited => sidecar || restart_allowed(input.pod, c.exit_code),
            ContainerPhase::Created | ContainerPhase::Unknown => true,
        },
    };
    if let Some(failure) = input.failures.get(&spec.name)
        && will_restart
        && !completed_init
    {
        if state.terminated.is_some() {
            last_state = Some(state);
        }
        state = waiting(&failure.reason, Some(&failure.message));
    }

    let started = current.is_some_and(|c| started(spec, c, input.probes));
    // A regular init container is ready once it completed, as upstream reports it.
    let ready = completed_init
        || started
            && current.is_some_and(|c| {
                spec.readiness_probe.is_none() || input.probes.ready.get(&c.id) == Some(&true)
            });
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: current.map(|c| c.image_ref.clone()).unwrap_or_default(),
        container_id: current.map(|c| format!("{RUNTIME_SCHEME}://{}", c.id)),
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ready,
        restart_count: current.map(|c| c.restart_count).unwrap_or(0),
        started: Some(started),
        ..Default::default()
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: message.map(str::to_string),
        }),
        ..Default::default()
    }
}

fn state_of(c: &RuntimeContainer) -> ContainerState {
    match c.phase {
        ContainerPhase::Created => waiting("ContainerCreating", None),
        ContainerPhase::Running => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(time(c.started_at)),
            }),
            ..Default::default()
        },
        ContainerPhase::Exited => {
            let reason = if !c.reason.is_empty() {
                c.reason.clone()
            } else if c.exit_code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            };
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: c.exit_code,
                    reason: Some(reason),
                    message: (!c.message.is_empty()).then(|| c.message.clone()),
                    started_at: (c.started_at > 0).then(|| time(c.started_at)),
                    finished_at: (c.finished_at > 0).then(|| time(c.finished_at)),
                    container_id: Some(format!("{RUNTIME_SCHEME}://{}", c.id)),
                    signal: None,
                }),
                ..Default::default()
            }
        }
        ContainerPhase::Unknown => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 137,
                reason: Some("ContainerStatusUnknown".into()),
                message: Some(
                    "The container could not be located when the pod was terminated".into(),
                ),
                container_id: Some(format!("{RUNTIME_SCHEME}://{}", c.id)),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// Upstream's `getPhase`.
/// Whether an init container is done initializing: a sidecar once it started, a regular
/// one once it exited 0.
fn init_complete(spec: &Container, status: &ContainerStatus) -> bool {
    if is_sidecar(spec) {
        return status.started == Some(true);
    }
    status
        .state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .is_some_and(|t| t.exit_code == 0)
}

fn phase(pod: &Pod, inits: &[ContainerStatus], apps: &[ContainerStatus]) -> &'static str {
    let mut pending_init = 0;
    let mut failed_init = 0;
    for (spec, s) in init_containers(pod).iter().zip(inits) {
        if is_sidecar(spec) {
            if !init_complete(spec, s) {
                pending_init += 1;
            }
            continue;
        }
        let state = s.state.clone().unwrap_or_default();
        let last = s.last_state.as_ref().and_then(|l| l.terminated.as_ref());
        if state.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if let Some(t) = last {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else {
            pending_init += 1;
        }
    }
    let (mut running, mut waiting_count, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in apps {
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s
            .last_state
            .as_ref()
            .is_some_and(|l| l.terminated.is_some())
        {
            stopped += 1;
        } else {
            waiting_count += 1;
        }
    }
    let policy = restart_policy(pod);
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if pending_init > 0 || failed_init > 0 || waiting_count > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped == 0 {
        return "Pending";
    }
    match policy {
        "Always" => "Running",
        _ if stopped == succeeded => "Succeeded",
        "Never" => "Failed",
        _ => "Running",
    }
}

fn condition(
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

fn initialized_condition(
    phase: &str,
    specs: &[Container],
    statuses: &[ContainerStatus],
) -> PodCondition {
    if phase == "Succeeded" {
        return condition("Initialized", true, Some("PodCompleted"), None);
    }
    let incomplete: Vec<&str> = specs
        .iter()
        .zip(statuses)
        .filter(|(c, s)| !init_complete(c, s))
        .map(|(c, _)| c.name.as_str())
        .collect();
    if incomplete.is_empty() {
        condition("Initialized", true, None, None)
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        )
    }
}

/// The ContainersReady condition (the Ready condition has the same status, reason and message).
fn ready_condition(phase: &str, specs: &[Container], statuses: &[ContainerStatus]) -> PodCondition {
    match phase {
        "Succeeded" => return condition("ContainersReady", false, Some("PodCompleted"), None),
        "Failed" => return condition("ContainersReady", false, Some("PodFailed"), None),
        _ => {}
    }
    let unready: Vec<&str> = specs
        .iter()
        .zip(statuses)
        .filter(|(_, s)| !s.ready)
        .map(|(c, _)| c.name.as_str())
        .collect();
    if unready.is_empty() {
        condition("ContainersReady", true, None, None)
    } else {
        condition(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    }
}

/// Upstream's `GetPodQOS`: Guaranteed when every container limits cpu and memory with equal
/// requests, BestEffort when nothing is requested or limited, otherwise Burstable.
pub fn qos_class(pod: &Pod) -> &'static str {
    let all: Vec<&Container> = init_containers(pod)
        .iter()
        .chain(app_containers(pod))
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let r = c.resources.clone().unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        let limits = r.limits.unwrap_or_default();
        let relevant = |k: &str| k == "cpu" || k == "memory";
        if requests.keys().chain(limits.keys()).any(|k| relevant(k)) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            match (limits.get(res), requests.get(res)) {
                (Some(l), Some(q)) if l != q => guaranteed = false,
                (Some(_), _) => {}
                (None, _) => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}
