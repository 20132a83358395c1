//! What to do with a pod now (upstream kuberuntime's `computePodActions`): from the Pod, what
//! the runtime holds, the back-off delays and the probe results, the sandbox to (re)create and
//! the containers to kill and start.

use k8s_openapi::api::core::v1::{Container, Pod};

use super::backoff::{BackOff, format_delay};
use super::{
    ContainerKind, ContainerPhase, ContainerRef, FailedProbe, Nanos, ProbeResults,
    RuntimeContainer, RuntimePod, app_containers, container_hash, host_network, init_containers,
    is_sidecar, pod_display, restart_allowed, restart_policy, started,
};

/// The values [`compute_actions`] decides from.
#[derive(Clone, Copy, Debug)]
pub struct SyncInput<'a> {
    pub pod: &'a Pod,
    pub runtime: &'a RuntimePod,
    pub back_off: &'a BackOff,
    pub probes: &'a ProbeResults,
    pub now: Nanos,
}

/// A running container to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillContainer {
    pub id: String,
    pub name: String,
    /// Why, as upstream words it in the `Killing` Event.
    pub message: String,
    /// A grace period that overrides the pod's (a failed probe's own).
    pub grace_seconds: Option<i64>,
}

/// A container to create and start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartContainer {
    pub container: ContainerRef,
    /// The restart count (and CRI attempt) of the new container.
    pub restart_count: i32,
    /// The back-off key of this container.
    pub back_off_key: String,
    /// When the container it replaces exited: starting it counts as one more failure in the
    /// back-off (upstream calls `backOff.Next` with the finish time).
    pub replaces_exit_at: Option<Nanos>,
}

/// A container that waits for its back-off to end before it restarts (CrashLoopBackOff).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackingOff {
    pub name: String,
    pub until: Nanos,
    /// Upstream's message, e.g. `back-off 10s restarting failed container=app pod=p_ns(uid)`.
    pub message: String,
}

/// The actions of one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodActions {
    /// Stop every container and the sandbox (before a new sandbox, or when the pod is done).
    pub kill_pod: bool,
    /// Create a new sandbox with this attempt number.
    pub create_sandbox: Option<u32>,
    /// The ready sandbox the containers run in (when not creating one).
    pub sandbox_id: Option<String>,
    pub kill: Vec<KillContainer>,
    pub start: Vec<StartContainer>,
    pub backing_off: Vec<BackingOff>,
}

impl PodActions {
    /// The earliest time a back-off ends (when the pod must be synced again).
    pub fn next_wake(&self) -> Option<Nanos> {
        self.backing_off.iter().map(|b| b.until).min()
    }
}

/// The back-off key of a container: the pod UID, the name and the spec hash (a changed spec
/// starts a fresh back-off, as upstream's stable key does).
pub fn back_off_key(pod: &Pod, container: &Container) -> String {
    format!(
        "{}/{}/{}",
        pod.metadata.uid.as_deref().unwrap_or(""),
        container.name,
        container_hash(container)
    )
}

/// Decides the actions of one sync of a pod that is not being deleted.
pub fn compute_actions(input: &SyncInput<'_>) -> PodActions {
    let pod = input.pod;
    let runtime = input.runtime;
    let mut actions = PodActions::default();

    if let Some(attempt) = sandbox_attempt_needed(pod, runtime) {
        // Everything left of the old sandbox goes first.
        actions.kill_pod = !runtime.sandboxes.is_empty() || !runtime.containers.is_empty();
        // A pod that must not restart and already ran does not get a new sandbox.
        if restart_policy(pod) != "Always" && attempt != 0 && !runtime.containers.is_empty() {
            actions.kill_pod = true;
            return actions;
        }
        let first: Vec<ContainerRef> = if init_containers(pod).is_empty() {
            app_containers(pod)
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    !(restart_policy(pod) == "OnFailure" && succeeded(runtime.newest(&c.name)))
                })
                .map(|(index, _)| ContainerRef {
                    kind: ContainerKind::App,
                    index,
                })
                .collect()
        } else {
            vec![ContainerRef {
                kind: ContainerKind::Init,
                index: 0,
            }]
        };
        if first.is_empty() {
            actions.kill_pod = true;
            return actions;
        }
        actions.create_sandbox = Some(attempt);
        for container in first {
            start_or_back_off(input, container, &mut actions);
        }
        return actions;
    }
    let newest_sandbox = runtime.newest_sandbox().map(|s| s.id.clone());
    actions.sandbox_id = newest_sandbox;

    // Once an app container has run, the pod was initialized: a sidecar that exits later
    // restarts without holding the app containers back.
    let was_initialized = app_containers(pod)
        .iter()
        .any(|c| runtime.newest(&c.name).is_some());
    for (index, spec) in init_containers(pod).iter().enumerate() {
        let container = ContainerRef {
            kind: ContainerKind::Init,
            index,
        };
        let Some(current) = runtime.newest(&spec.name) else {
            start_or_back_off(input, container, &mut actions);
            return actions;
        };
        if is_sidecar(spec) {
            match current.phase {
                ContainerPhase::Running => match must_restart(input, spec, current) {
                    Some(kill) => {
                        actions.kill.push(kill);
                        start_or_back_off(input, container, &mut actions);
                    }
                    None if started(spec, current, input.probes) => continue,
                    None => {}
                },
                ContainerPhase::Exited => {
                    start_or_back_off(input, container, &mut actions);
                    if was_initialized {
                        continue;
                    }
                }
                ContainerPhase::Created | ContainerPhase::Unknown => {
                    actions.kill.push(kill(current, "is in an unknown state"));
                    start_or_back_off(input, container, &mut actions);
                }
            }
            return actions;
        }
        match current.phase {
            ContainerPhase::Exited if current.exit_code == 0 => continue,
            ContainerPhase::Exited => {
                if restart_policy(pod) == "Never" {
                    // A failed init container fails the pod.
                    actions.kill_pod = true;
                } else {
                    start_or_back_off(input, container, &mut actions);
                }
            }
            ContainerPhase::Running => {}
            ContainerPhase::Created | ContainerPhase::Unknown => {
                actions.kill.push(kill(current, "is in an unknown state"));
                start_or_back_off(input, container, &mut actions);
            }
        }
        return actions;
    }

    let mut keep = 0;
    for (index, spec) in app_containers(pod).iter().enumerate() {
        let container = ContainerRef {
            kind: ContainerKind::App,
            index,
        };
        let Some(current) = runtime.newest(&spec.name) else {
            start_or_back_off(input, container, &mut actions);
            continue;
        };
        match current.phase {
            ContainerPhase::Running => match must_restart(input, spec, current) {
                None => keep += 1,
                Some(kill) => {
                    actions.kill.push(kill);
                    if restart_policy(pod) != "Never" {
                        start_or_back_off(input, container, &mut actions);
                    }
                }
            },
            ContainerPhase::Exited => {
                if restart_allowed(pod, current.exit_code) {
                    start_or_back_off(input, container, &mut actions);
                }
            }
            ContainerPhase::Created | ContainerPhase::Unknown => {
                actions.kill.push(kill(current, "is in an unknown state"));
                start_or_back_off(input, container, &mut actions);
            }
        }
    }
    if keep == 0 && actions.start.is_empty() && actions.backing_off.is_empty() {
        // Nothing runs and nothing will: the pod is done; release its sandbox.
        actions.kill_pod = true;
    }
    actions
}

/// Why a running container must be killed and restarted: its spec changed, or its liveness or
/// startup probe failed.
fn must_restart(
    input: &SyncInput<'_>,
    spec: &Container,
    current: &RuntimeContainer,
) -> Option<KillContainer> {
    let why = if current.hash != container_hash(spec) {
        FailedProbe {
            message: format!(
                "Container {} definition changed, will be restarted",
                spec.name
            ),
            grace_seconds: None,
        }
    } else {
        input.probes.failed.get(&current.id)?.clone()
    };
    Some(KillContainer {
        id: current.id.clone(),
        name: current.name.clone(),
        message: why.message,
        grace_seconds: why.grace_seconds,
    })
}

fn kill(current: &RuntimeContainer, why: &str) -> KillContainer {
    KillContainer {
        id: current.id.clone(),
        name: current.name.clone(),
        message: format!("Container {} {why}, will be restarted", current.name),
        grace_seconds: None,
    }
}

fn succeeded(current: Option<&RuntimeContainer>) -> bool {
    current.is_some_and(|c| c.phase == ContainerPhase::Exited && c.exit_code == 0)
}

/// Starts the container, unless the one it replaces exited so recently that its back-off has
/// not ended.
fn start_or_back_off(input: &SyncInput<'_>, container: ContainerRef, actions: &mut PodActions) {
    let Some(spec) = container.spec(input.pod) else {
        return;
    };
    let key = back_off_key(input.pod, spec);
    let current = input.runtime.newest(&spec.name);
    let mut replaces_exit_at = None;
    if let Some(exited) = current.filter(|c| c.phase == ContainerPhase::Exited) {
        if let Some(until) = input
            .back_off
            .in_back_off_until(&key, exited.finished_at, input.now)
        {
            actions.backing_off.push(BackingOff {
                name: spec.name.clone(),
                until,
                message: format!(
                    "back-off {} restarting failed container={} pod={}",
                    format_delay(input.back_off.delay(&key)),
                    spec.name,
                    pod_display(input.pod)
                ),
            });
            return;
        }
        replaces_exit_at = Some(exited.finished_at);
    }
    actions.start.push(StartContainer {
        container,
        restart_count: current.map(|c| c.restart_count + 1).unwrap_or(0),
        back_off_key: key,
        replaces_exit_at,
    });
}

/// The attempt number of the sandbox to create, when the pod has no usable one: none yet, more
/// than one ready, the newest not ready, its network mode changed, or it has no IP.
fn sandbox_attempt_needed(pod: &Pod, runtime: &RuntimePod) -> Option<u32> {
    let Some(newest) = runtime.newest_sandbox() else {
        return Some(0);
    };
    let ready = runtime.sandboxes.iter().filter(|s| s.ready).count();
    let unusable = ready > 1
        || !newest.ready
        || newest.host_network != host_network(pod)
        || (!newest.host_network && newest.ip.is_empty());
    unusable.then_some(newest.attempt + 1)
}
