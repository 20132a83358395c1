//! One task per probe of each running container: it probes on the probe's schedule, keeps the
//! threshold state ([`crate::probe::ProbeState`]) and, when the reported result changes,
//! writes it into the pod's [`ProbeResults`] and wakes the pod worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k3rs_cri::CriClient;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::pod::{ContainerPhase, FailedProbe, NANOS_PER_SEC, Nanos, ProbeResults, RuntimePod};
use crate::probe::exec::{Target, run_probe};
use crate::probe::{Change, Outcome, ProbeKind, ProbeState};

use super::events::{Kind, Recorder};

/// What probe tasks need besides their probe.
#[derive(Clone)]
pub struct ProbeDeps {
    pub cri: CriClient,
    pub recorder: Recorder,
    pub wake: Arc<Notify>,
}

/// The probe tasks and results of one pod.
#[derive(Default)]
pub struct ProbeManager {
    results: Arc<Mutex<ProbeResults>>,
    tasks: HashMap<(String, ProbeKind), JoinHandle<()>>,
}

impl Drop for ProbeManager {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn now_nanos() -> Nanos {
    k8s_openapi::jiff::Timestamp::now().as_nanosecond() as Nanos
}

/// `spec.containers{name}`, the field path of a container in Events.
pub fn field_path(pod: &Pod, name: &str) -> String {
    let init = crate::pod::init_containers(pod)
        .iter()
        .any(|c| c.name == name);
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}

impl ProbeManager {
    /// The current results.
    pub fn results(&self) -> ProbeResults {
        self.results.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Runs the probes of the pod's running app and sidecar containers and ends those of
    /// containers that no longer run.
    pub fn sync(&mut self, pod: &Arc<Pod>, runtime: &RuntimePod, pod_ip: &str, deps: &ProbeDeps) {
        let mut wanted: Vec<(String, ProbeKind, Probe, Container, Nanos)> = Vec::new();
        let sidecars = crate::pod::init_containers(pod)
            .iter()
            .filter(|c| crate::pod::is_sidecar(c));
        for spec in sidecars.chain(crate::pod::app_containers(pod)) {
            let Some(current) = runtime
                .newest(&spec.name)
                .filter(|c| c.phase == ContainerPhase::Running)
            else {
                continue;
            };
            let probes = [
                (ProbeKind::Startup, &spec.startup_probe),
                (ProbeKind::Liveness, &spec.liveness_probe),
                (ProbeKind::Readiness, &spec.readiness_probe),
            ];
            for (kind, probe) in probes {
                if let Some(probe) = probe {
                    wanted.push((
                        current.id.clone(),
                        kind,
                        probe.clone(),
                        spec.clone(),
                        current.started_at,
                    ));
                }
            }
        }
        let keep: Vec<(String, ProbeKind)> = wanted.iter().map(|w| (w.0.clone(), w.1)).collect();
        self.tasks.retain(|key, task| {
            let keep = keep.contains(key) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        if let Ok(mut r) = self.results.lock() {
            let running: Vec<&String> = keep.iter().map(|(id, _)| id).collect();
            r.ready.retain(|id, _| running.contains(&id));
            r.started.retain(|id, _| running.contains(&id));
            r.failed.retain(|id, _| running.contains(&id));
        }
        for (id, kind, probe, container, started_at) in wanted {
            let key = (id.clone(), kind);
            if self.tasks.contains_key(&key) {
                continue;
            }
            let task = ProbeTask {
                kind,
                probe,
                has_startup_probe: container.startup_probe.is_some(),
                container,
                container_id: id,
                started_at,
                pod: pod.clone(),
                pod_ip: pod_ip.to_string(),
                deps: deps.clone(),
                results: self.results.clone(),
            };
            self.tasks.insert(key, tokio::spawn(task.run()));
        }
    }

    /// Ends every probe (the pod is stopping).
    pub fn stop_all(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
        if let Ok(mut r) = self.results.lock() {
            *r = ProbeResults::default();
        }
    }
}

struct ProbeTask {
    kind: ProbeKind,
    probe: Probe,
    container: Container,
    container_id: String,
    started_at: Nanos,
    has_startup_probe: bool,
    pod: Arc<Pod>,
    pod_ip: String,
    deps: ProbeDeps,
    results: Arc<Mutex<ProbeResults>>,
}

impl ProbeTask {
    fn started(&self) -> bool {
        !self.has_startup_probe
            || self
                .results
                .lock()
                .is_ok_and(|r| r.started.get(&self.container_id) == Some(&true))
    }

    async fn run(self) {
        let mut state = ProbeState::new(self.kind, &self.probe);
        let since_start =
            |now: Nanos| Duration::from_nanos(u64::try_from(now - self.started_at).unwrap_or(0));
        let wait = state
            .timing
            .initial_delay
            .saturating_sub(since_start(now_nanos()));
        tokio::time::sleep(wait).await;
        let mut ticks = tokio::time::interval(state.timing.period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if state.finished() {
                return;
            }
            let started = self.kind == ProbeKind::Startup || self.started();
            if !state.should_probe(started, since_start(now_nanos())) {
                continue;
            }
            let target = Target {
                cri: &self.deps.cri,
                container_id: &self.container_id,
                container: &self.container,
                pod_ip: &self.pod_ip,
            };
            let outcome = run_probe(&self.probe, &target, state.timing.timeout).await;
            if let Outcome::Failure(why) = &outcome {
                self.deps.recorder.record(
                    &self.pod,
                    Some(field_path(&self.pod, &self.container.name)),
                    Kind::Warning,
                    "Unhealthy",
                    format!("{} probe failed: {why}", self.kind.title()),
                );
            }
            if let Some(change) = state.record(&outcome) {
                self.publish(&change, state.timing.grace_seconds);
                self.deps.wake.notify_one();
            }
        }
    }

    fn publish(&self, change: &Change, grace_seconds: Option<i64>) {
        let Ok(mut r) = self.results.lock() else {
            return;
        };
        let id = self.container_id.clone();
        let success = *change == Change::Succeeded;
        match self.kind {
            ProbeKind::Readiness => {
                r.ready.insert(id, success);
            }
            ProbeKind::Startup if success => {
                r.started.insert(id, true);
            }
            ProbeKind::Liveness if success => {}
            ProbeKind::Startup | ProbeKind::Liveness => {
                r.failed.insert(
                    id,
                    FailedProbe {
                        message: format!(
                            "Container {} failed {} probe, will be restarted",
                            self.container.name,
                            self.kind.lower()
                        ),
                        grace_seconds,
                    },
                );
            }
        }
    }
}

/// Seconds as a `Duration` for probe and hook timeouts.
pub fn secs(s: i64) -> Duration {
    Duration::from_nanos(u64::try_from(s.saturating_mul(NANOS_PER_SEC)).unwrap_or(0))
}
