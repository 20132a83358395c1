//! One worker per pod: it syncs the pod whenever the Pod changes, its containers change in the
//! runtime, a probe result changes or a back-off ends — decide ([`crate::pod::actions`]),
//! act through CRI, report ([`crate::pod::status`]) — and terminates it when it is deleted.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use k3rs_cri::CriError;
use k3rs_cri::v1::{self, PodSandboxConfig, RunPodSandboxRequest};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::{Notify, watch};

use crate::dns;
use crate::env::{self, EnvInput};
use crate::pod::actions::{PodActions, StartContainer, SyncInput, compute_actions};
use crate::pod::backoff::BackOff;
use crate::pod::status::{StatusInput, compute_status};
use crate::pod::{ContainerPhase, Nanos, RuntimePod, StartFailure, host_network, pod_display};
use crate::probe::exec::Target;
use crate::volumes::{self, PodVolumes, VolumeHost};

use super::Shared;
use super::config::{
    ContainerInputs, container_config, pod_log_dir, sandbox_config, verify_run_as_non_root,
};
use super::cri;
use super::events::Kind;
use super::hooks::run_hook;
use super::probes::{ProbeDeps, ProbeManager, field_path, secs};

mod files;
mod images;

/// Upstream's shortest grace period for stopping a container.
const MIN_GRACE_SECONDS: i64 = 2;
/// Upstream's limits on a termination message: 4 KiB from the file; from the log, the last 80
/// lines, at most 2 KiB.
const MAX_MESSAGE_BYTES: u64 = 4096;
const MAX_LOG_TAIL_BYTES: u64 = 2048;
const MAX_LOG_LINES: usize = 80;
/// How long a failed pull shows as ErrImagePull before the status turns to ImagePullBackOff.
const ERR_IMAGE_PULL_SHOWN: Nanos = 5 * crate::pod::NANOS_PER_SEC;
/// How long a postStart hook may run.
const POST_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Retry delay after a failed sync step (runtime or API unreachable, sandbox or volume
/// failures): short at first, doubling to this cap.
const MAX_RETRY: Duration = Duration::from_secs(30);

pub(super) fn now_nanos() -> Nanos {
    k8s_openapi::jiff::Timestamp::now().as_nanosecond() as Nanos
}

/// The worker of one pod.
pub(super) struct Worker {
    shared: Arc<Shared>,
    uid: String,
    pod_rx: watch::Receiver<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
    /// Set when a ConfigMap or Secret the pod references changed.
    refresh_volumes: Arc<AtomicBool>,
    last_pod: Arc<Pod>,
    back_off: BackOff,
    image_back_off: BackOff,
    failures: HashMap<String, StartFailure>,
    probes: ProbeManager,
    volumes: Option<PodVolumes>,
    /// Consecutive failed syncs: the retry delay doubles with them.
    retries: u32,
    /// The status last written, so an unchanged status is not written again.
    written_status: Option<serde_json::Value>,
    /// Termination messages read from exited containers' files, by container ID.
    termination_messages: HashMap<String, String>,
}

/// How a sync ended: when to sync again at the latest.
type Wake = Option<Nanos>;

impl Worker {
    pub(super) fn new(
        shared: Arc<Shared>,
        pod: Arc<Pod>,
        pod_rx: watch::Receiver<Option<Arc<Pod>>>,
        wake: Arc<Notify>,
        refresh_volumes: Arc<AtomicBool>,
    ) -> Worker {
        Worker {
            shared,
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            pod_rx,
            wake,
            refresh_volumes,
            last_pod: pod,
            back_off: BackOff::default(),
            image_back_off: BackOff::default(),
            failures: HashMap::new(),
            probes: ProbeManager::default(),
            volumes: None,
            retries: 0,
            written_status: None,
            termination_messages: HashMap::new(),
        }
    }

    fn probe_deps(&self) -> ProbeDeps {
        ProbeDeps {
            cri: self.shared.cri.clone(),
            recorder: self.shared.recorder.clone(),
            wake: self.wake.clone(),
        }
    }

    fn event(&self, pod: &Pod, container: Option<&str>, kind: Kind, reason: &str, message: String) {
        let path = container.map(|c| field_path(pod, c));
        self.shared
            .recorder
            .record(pod, path, kind, reason, message);
    }

    /// Runs until the pod is gone (terminated and removed) or `shutdown` turns true (then
    /// the pod's containers keep running: the next agent adopts them).
    pub(super) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let current = self.pod_rx.borrow_and_update().clone();
            let wake_at = match current {
                None => {
                    // Gone from the API without (or after) graceful deletion: stop with the
                    // grace period it was deleted with, if it was seen; force-deleted pods go
                    // after the shortest grace period.
                    let pod = self.last_pod.clone();
                    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
                    self.terminate(&pod, grace).await;
                    if self.cleanup(&pod).await {
                        return;
                    }
                    Some(now_nanos() + self.retry_delay())
                }
                Some(pod) => {
                    self.last_pod = pod.clone();
                    if pod.metadata.deletion_timestamp.is_some() {
                        self.terminate(&pod, pod_grace(&pod, true)).await;
                        if self.cleanup(&pod).await && self.delete_object(&pod).await {
                            // The watch reports the deletion; the next round returns.
                            None
                        } else {
                            Some(now_nanos() + self.retry_delay())
                        }
                    } else {
                        match self.sync(&pod).await {
                            Ok(wake) => wake,
                            Err(e) => {
                                tracing::warn!(pod = %pod_display(&pod), "syncing the pod: {e}");
                                Some(now_nanos() + self.retry_delay())
                            }
                        }
                    }
                }
            };
            let sleep = async {
                match wake_at {
                    Some(at) => {
                        let ns = u64::try_from(at - now_nanos()).unwrap_or(0);
                        tokio::time::sleep(Duration::from_nanos(ns)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = self.pod_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = self.wake.notified() => {}
                _ = sleep => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    fn retry_delay(&mut self) -> Nanos {
        self.retries = self.retries.saturating_add(1);
        let delay = Duration::from_millis(500)
            .saturating_mul(1 << self.retries.min(8))
            .min(MAX_RETRY);
        i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX)
    }

    /// One sync of a pod that is not being deleted.
    async fn sync(&mut self, pod: &Arc<Pod>) -> Result<Wake, SyncError> {
        let cri = self.shared.cri.clone();
        let runtime = cri::pod_state(&cri, &self.uid).await?;
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            // A finished pod never runs again; its sandbox goes, its containers stay for logs.
            self.probes.stop_all();
            self.stop_everything(pod, &runtime, None, false).await;
            return Ok(None);
        }
        if self.refresh_volumes.swap(false, Ordering::AcqRel) {
            self.rewrite_volumes(pod).await;
        }
        if self.volumes.is_none() {
            match self.setup_volumes(pod).await {
                Ok(v) => self.volumes = Some(v),
                Err(message) => {
                    self.event(
                        pod,
                        None,
                        Kind::Warning,
                        volumes::FAILED_MOUNT_REASON,
                        message,
                    );
                    self.write_status(pod, &runtime).await?;
                    return Ok(Some(now_nanos() + self.retry_delay()));
                }
            }
        }
        let now = now_nanos();
        let probe_results = self.probes.results();
        let actions = compute_actions(&SyncInput {
            pod,
            runtime: &runtime,
            back_off: &self.back_off,
            probes: &probe_results,
            now,
        });
        let mut wake = actions.next_wake();
        let (acted, failed) = self.act(pod, &runtime, &actions, &mut wake).await?;
        let runtime = if acted {
            cri::pod_state(&cri, &self.uid).await?
        } else {
            runtime
        };
        let pod_ip = pod_ip(pod, &runtime, &self.shared.node_ips);
        self.probes.sync(pod, &runtime, &pod_ip, &self.probe_deps());
        self.collect_garbage(pod, &runtime).await;
        self.write_status(pod, &runtime).await?;
        self.back_off.gc(now);
        self.image_back_off.gc(now);
        if !failed {
            self.retries = 0;
        }
        Ok(wake)
    }

    /// Removes old exited containers and unused sandboxes of a running pod.
    async fn collect_garbage(&self, pod: &Pod, runtime: &RuntimePod) {
        let g = crate::pod::garbage(runtime);
        for id in &g.containers {
            if let Err(e) = cri::remove_container(&self.shared.cri, id).await {
                tracing::debug!(pod = %pod_display(pod), "removing an old container: {e}");
            }
        }
        for id in &g.sandboxes {
            if let Err(e) = cri::remove_sandbox(&self.shared.cri, id).await {
                tracing::debug!(pod = %pod_display(pod), "removing an old sandbox: {e}");
            }
        }
    }

    /// Carries out the actions; whether anything changed in the runtime, and whether the
    /// sandbox could not be made (then `wake` holds the retry).
    async fn act(
        &mut self,
        pod: &Arc<Pod>,
        runtime: &RuntimePod,
        actions: &PodActions,
        wake: &mut Wake,
    ) -> Result<(bool, bool), SyncError> {
        let mut acted = false;
        if actions.kill_pod {
            self.probes.stop_all();
            acted |= self.stop_everything(pod, runtime, None, false).await;
        }
        let kills = actions.kill.iter().map(|k| {
            self.event(
                pod,
                Some(&k.name),
                Kind::Normal,
                "Killing",
                k.message.clone(),
            );
            let container = crate::pod::init_containers(pod)
                .iter()
                .chain(crate::pod::app_containers(pod))
                .find(|c| c.name == k.name);
            let grace = k.grace_seconds.unwrap_or_else(|| pod_grace(pod, false));
            self.stop_container(pod, container, &k.id, grace)
        });
        join_all(kills).await;
        acted |= !actions.kill.is_empty();
        for b in &actions.backing_off {
            // One BackOff Event per wait, not one per sync during it.
            let new_wait = self
                .failures
                .get(&b.name)
                .is_none_or(|f| f.reason != "CrashLoopBackOff");
            if new_wait {
                self.event(
                    pod,
                    Some(&b.name),
                    Kind::Warning,
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {} in pod {}",
                        b.name,
                        pod_display(pod)
                    ),
                );
            }
            self.failures.insert(
                b.name.clone(),
                StartFailure {
                    reason: "CrashLoopBackOff".into(),
                    message: b.message.clone(),
                },
            );
        }
        if actions.start.is_empty() {
            return Ok((acted, false));
        }
        let (sandbox_id, sandbox_config) = match actions.create_sandbox {
            Some(attempt) => {
                acted = true;
                match self.create_sandbox(pod, attempt).await {
                    Ok(created) => created,
                    Err(message) => {
                        self.event(pod, None, Kind::Warning, "FailedCreatePodSandBox", message);
                        *wake = Some(now_nanos() + self.retry_delay());
                        return Ok((acted, true));
                    }
                }
            }
            None => {
                let Some(id) = actions.sandbox_id.clone() else {
                    return Ok((acted, false));
                };
                let attempt = runtime
                    .sandboxes
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| s.attempt)
                    .unwrap_or(0);
                (
                    id,
                    self.sandbox_config(pod, attempt)
                        .map_err(SyncError::Config)?,
                )
            }
        };
        // The IP of a sandbox made just now is in the runtime's status only.
        let sandbox_ip = cri::pod_state(&self.shared.cri, &self.uid)
            .await?
            .sandboxes
            .into_iter()
            .find(|s| s.id == sandbox_id)
            .map(|s| s.ip)
            .unwrap_or_default();
        for start in &actions.start {
            acted = true;
            let name = start
                .container
                .spec(pod)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            match self
                .start_container(pod, &sandbox_id, &sandbox_config, &sandbox_ip, start, wake)
                .await
            {
                Ok(()) => {
                    self.failures.remove(&name);
                }
                Err(failure) => {
                    self.failures.insert(name, failure);
                }
            }
        }
        Ok((acted, false))
    }

    async fn setup_volumes(&self, pod: &Arc<Pod>) -> Result<PodVolumes, String> {
        let shared = self.shared.clone();
        let pod = pod.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let host = VolumeHost {
                pods_dir: &shared.pods_dir,
                node: &shared.node_facts,
                objects: shared.objects.as_ref(),
            };
            volumes::setup_pod_volumes(&host, &pod)
        })
        .await;
        let pod = &self.last_pod;
        match joined {
            Ok(Ok(v)) => {
                for w in &v.warnings {
                    self.event(
                        pod,
                        None,
                        Kind::Warning,
                        volumes::payload::PROJECTION_SKIPPED_REASON,
                        w.clone(),
                    );
                }
                Ok(v)
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("setting up volumes: {e}")),
        }
    }

    /// Rewrites configMap/secret/downwardAPI volumes from the current objects.
    async fn rewrite_volumes(&self, pod: &Arc<Pod>) {
        if self.volumes.is_none() {
            return;
        }
        let shared = self.shared.clone();
        let pod = pod.clone();
        let report = tokio::task::spawn_blocking(move || {
            let host = VolumeHost {
                pods_dir: &shared.pods_dir,
                node: &shared.node_facts,
                objects: shared.objects.as_ref(),
            };
            volumes::refresh_pod_volumes(&host, &pod)
        })
        .await;
        if let Ok(report) = report {
            for e in report.errors {
                self.event(
                    &self.last_pod,
                    None,
                    Kind::Warning,
                    volumes::FAILED_MOUNT_REASON,
                    e.to_string(),
                );
            }
        }
    }

    fn sandbox_config(&self, pod: &Pod, attempt: u32) -> Result<PodSandboxConfig, String> {
        let s = &self.shared;
        let hostname =
            dns::sandbox_hostname(pod, &s.cluster_dns.domain).map_err(|e| e.to_string())?;
        let dns =
            dns::pod_dns(pod, &s.cluster_dns, s.host_dns.as_ref()).map_err(|e| e.to_string())?;
        let config = v1::DnsConfig {
            servers: dns.config.servers,
            searches: dns.config.searches,
            options: dns.config.options,
        };
        Ok(sandbox_config(
            pod,
            attempt,
            hostname,
            Some(config),
            &s.pod_log_root,
        ))
    }

    async fn create_sandbox(
        &self,
        pod: &Arc<Pod>,
        attempt: u32,
    ) -> Result<(String, PodSandboxConfig), String> {
        let s = &self.shared;
        let dns = dns::pod_dns(pod, &s.cluster_dns, s.host_dns.as_ref())
            .map_err(|e| format!("Failed to create pod sandbox: {e}"))?;
        for w in dns.warnings {
            self.event(pod, None, Kind::Warning, w.reason, w.message);
        }
        let config = self
            .sandbox_config(pod, attempt)
            .map_err(|e| format!("Failed to create pod sandbox: {e}"))?;
        let log_dir = pod_log_dir(&s.pod_log_root, pod);
        tokio::fs::create_dir_all(&log_dir).await.map_err(|e| {
            format!(
                "Failed to create pod sandbox: creating {}: {e}",
                log_dir.display()
            )
        })?;
        // Closed only if the pod loop is gone; then starting without a permit is harmless.
        let _permit = s.sandbox_starts.acquire().await.ok();
        let reply = s
            .cri
            .runtime()
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|e| format!("Failed to create pod sandbox: {}", e.message()))?;
        Ok((reply.into_inner().pod_sandbox_id, config))
    }

    /// A CRI call that creates or starts a container failed: a Warning Event and the waiting
    /// reason (`CreateContainerError`, `RunContainerError`) the status shows.
    fn runtime_failure(
        &self,
        pod: &Arc<Pod>,
        container: &str,
        reason: &str,
        e: &tonic::Status,
    ) -> StartFailure {
        let message = e.message().to_string();
        self.event(
            pod,
            Some(container),
            Kind::Warning,
            "Failed",
            format!("Error: {message}"),
        );
        StartFailure {
            reason: reason.into(),
            message,
        }
    }

    async fn start_container(
        &mut self,
        pod: &Arc<Pod>,
        sandbox_id: &str,
        sandbox: &PodSandboxConfig,
        sandbox_ip: &str,
        start: &StartContainer,
        wake: &mut Wake,
    ) -> Result<(), StartFailure> {
        let Some(c) = start.container.spec(pod) else {
            return Ok(());
        };
        if let Some(exited_at) = start.replaces_exit_at {
            self.back_off.next(&start.back_off_key, exited_at);
        }
        let image = self.ensure_image(pod, c, sandbox, wake).await?;
        let config_error = |message: String| {
            self.event(
                pod,
                Some(&c.name),
                Kind::Warning,
                "Failed",
                format!("Error: {message}"),
            );
            StartFailure {
                reason: "CreateContainerConfigError".into(),
                message,
            }
        };
        if let Err(message) = verify_run_as_non_root(pod, c, &image) {
            return Err(config_error(message));
        }
        let pod_ips: Vec<String> = if host_network(pod) {
            self.shared
                .node_ips
                .iter()
                .map(|ip| ip.to_string())
                .collect()
        } else {
            [sandbox_ip.to_string()]
                .into_iter()
                .filter(|ip| !ip.is_empty())
                .collect()
        };
        let env = env::container_env(
            &EnvInput {
                pod,
                pod_ips: &pod_ips,
                node: &self.shared.node_facts,
                objects: self.shared.objects.as_ref(),
            },
            c,
        )
        .map_err(|e| config_error(e.to_string()))?;
        for w in &env.warnings {
            self.event(
                pod,
                Some(&c.name),
                Kind::Warning,
                env::INVALID_ENV_NAMES_REASON,
                w.clone(),
            );
        }
        let (command, args) = env::expand_command_and_args(c, &env.vars);
        let volumes = self.volumes.clone().unwrap_or_default();
        let mut mounts: Vec<v1::Mount> = volumes::container_mounts(c, &volumes, &env.vars)
            .map_err(|e| config_error(e.to_string()))?
            .into_iter()
            .map(cri_mount)
            .collect();
        mounts.extend(
            self.pod_files(pod, c, &pod_ips, start.restart_count)
                .await
                .map_err(config_error)?,
        );
        let config = container_config(
            pod,
            ContainerInputs {
                container: c,
                restart_count: start.restart_count,
                image_ref: &image.id,
                env: env.vars.into_iter().map(|v| (v.name, v.value)).collect(),
                command,
                args,
                mounts,
                node_memory: self.shared.node_memory,
            },
        );
        let mut runtime = self.shared.cri.runtime();
        let created = runtime
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox.clone()),
            })
            .await;
        let id = match created {
            Ok(r) => r.into_inner().container_id,
            Err(e) => return Err(self.runtime_failure(pod, &c.name, "CreateContainerError", &e)),
        };
        self.event(
            pod,
            Some(&c.name),
            Kind::Normal,
            "Created",
            format!("Created container: {}", c.name),
        );
        if let Err(e) = runtime
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
        {
            return Err(self.runtime_failure(pod, &c.name, "RunContainerError", &e));
        }
        self.event(
            pod,
            Some(&c.name),
            Kind::Normal,
            "Started",
            format!("Started container {}", c.name),
        );
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let ip = pod_ips.first().cloned().unwrap_or_default();
            let target = Target {
                cri: &self.shared.cri,
                container_id: &id,
                container: c,
                pod_ip: &ip,
            };
            if let Err(why) = run_hook(hook, &target, POST_START_TIMEOUT).await {
                let message = format!("PostStartHook failed: {why}");
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Warning,
                    "FailedPostStartHook",
                    message.clone(),
                );
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Normal,
                    "Killing",
                    format!("FailedPostStartHook: stopping container {}", c.name),
                );
                if let Err(e) =
                    cri::stop_container(&self.shared.cri, &id, pod_grace(pod, false)).await
                {
                    tracing::warn!(pod = %pod_display(pod), container = %c.name, "stopping the container: {e}");
                }
                return Err(StartFailure {
                    reason: "PostStartHookError".into(),
                    message,
                });
            }
        }
        Ok(())
    }

    /// Runs the preStop hook (if the container has one and is running), then stops the
    /// container with what is left of `grace`.
    async fn stop_container(&self, pod: &Pod, spec: Option<&Container>, id: &str, grace: i64) {
        let started = Instant::now();
        if let Some(hook) = spec.and_then(|c| c.lifecycle.as_ref()?.pre_stop.as_ref())
            && let Some(c) = spec
        {
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default();
            let target = Target {
                cri: &self.shared.cri,
                container_id: id,
                container: c,
                pod_ip: &ip,
            };
            if let Err(why) = run_hook(hook, &target, secs(grace.max(1))).await {
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Warning,
                    "FailedPreStopHook",
                    format!("PreStopHook failed: {why}"),
                );
            }
        }
        let used = i64::try_from(started.elapsed().as_secs()).unwrap_or(0);
        let remaining = (grace - used).max(MIN_GRACE_SECONDS);
        if let Err(e) = cri::stop_container(&self.shared.cri, id, remaining).await {
            tracing::warn!(pod = %pod_display(pod), container = id, "stopping a container: {e}");
        }
    }

    /// Stops every running container (with preStop hooks when `hooks`) and the pod's
    /// sandboxes; `grace` overrides the pod's. Whether anything was running.
    async fn stop_everything(
        &self,
        pod: &Pod,
        runtime: &RuntimePod,
        grace: Option<i64>,
        hooks: bool,
    ) -> bool {
        let grace = grace.unwrap_or_else(|| pod_grace(pod, false));
        let running: Vec<_> = runtime
            .containers
            .iter()
            .filter(|c| {
                matches!(
                    c.phase,
                    ContainerPhase::Running | ContainerPhase::Created | ContainerPhase::Unknown
                )
            })
            .collect();
        let stops = running.iter().map(|rc| {
            let spec = crate::pod::init_containers(pod)
                .iter()
                .chain(crate::pod::app_containers(pod))
                .find(|c| c.name == rc.name);
            if rc.phase == ContainerPhase::Running {
                self.event(
                    pod,
                    Some(&rc.name),
                    Kind::Normal,
                    "Killing",
                    format!("Stopping container {}", rc.name),
                );
            }
            // preStop hooks run in running containers only.
            let hook_spec = spec.filter(|_| hooks && rc.phase == ContainerPhase::Running);
            self.stop_container(pod, hook_spec, &rc.id, grace)
        });
        join_all(stops).await;
        let ready: Vec<_> = runtime.sandboxes.iter().filter(|s| s.ready).collect();
        for s in &ready {
            if let Err(e) = cri::stop_sandbox(&self.shared.cri, &s.id).await {
                tracing::warn!(pod = %pod_display(pod), sandbox = %s.id, "stopping the sandbox: {e}");
            }
        }
        !running.is_empty() || !ready.is_empty()
    }

    /// Stops the pod's containers and sandbox for good (deletion).
    async fn terminate(&mut self, pod: &Arc<Pod>, grace: i64) {
        self.probes.stop_all();
        match cri::pod_state(&self.shared.cri, &self.uid).await {
            Ok(runtime) => {
                self.stop_everything(pod, &runtime, Some(grace), true).await;
            }
            Err(e) => tracing::warn!(pod = %pod_display(pod), "listing the pod's containers: {e}"),
        }
    }

    /// Removes the pod's containers, sandboxes, volumes and logs; whether all went.
    async fn cleanup(&self, pod: &Pod) -> bool {
        let cri = &self.shared.cri;
        let runtime = match cri::pod_state(cri, &self.uid).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(pod = %pod_display(pod), "listing the pod's containers: {e}");
                return false;
            }
        };
        let removed = remove_runtime_pod(cri, &runtime).await;
        let pods_dir = self.shared.pods_dir.clone();
        let uid = self.uid.clone();
        let volumes =
            tokio::task::spawn_blocking(move || volumes::cleanup_pod(&pods_dir, &uid)).await;
        let volumes_ok = match volumes {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(pod = %pod_display(pod), "removing the pod's volumes: {e}");
                false
            }
            Err(_) => false,
        };
        let log_dir = pod_log_dir(&self.shared.pod_log_root, pod);
        if let Err(e) = tokio::fs::remove_dir_all(&log_dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(pod = %pod_display(pod), "removing {}: {e}", log_dir.display());
        }
        remove_pod_cgroups(&super::config::cgroup_parent(pod));
        removed && volumes_ok
    }

    /// Deletes the Pod object now that nothing of it runs (grace 0, only this UID).
    async fn delete_object(&self, pod: &Pod) -> bool {
        let api: Api<Pod> = Api::namespaced(
            self.shared.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api
            .delete(pod.metadata.name.as_deref().unwrap_or(""), &params)
            .await
        {
            Ok(_) => true,
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => true,
            Err(e) => {
                tracing::warn!(pod = %pod_display(pod), "deleting the pod: {e}");
                false
            }
        }
    }

    /// Writes the pod's status if it changed.
    async fn write_status(&mut self, pod: &Pod, runtime: &RuntimePod) -> Result<(), SyncError> {
        let probes = self.probes.results();
        let runtime = &self.with_termination_messages(pod, runtime).await;
        let status = compute_status(&StatusInput {
            pod,
            runtime,
            probes: &probes,
            failures: &self.failures,
            node_ips: &self.shared.node_ips,
            now: now_nanos(),
        });
        let value = serde_json::to_value(&status).map_err(|e| SyncError::Config(e.to_string()))?;
        let current = serde_json::to_value(&pod.status).unwrap_or_default();
        if value == current || self.written_status.as_ref() == Some(&value) {
            return Ok(());
        }
        let api: Api<Pod> = Api::namespaced(
            self.shared.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        // A strategic merge patch, as upstream's status manager sends: conditions merge by
        // type and container statuses by name, so other writers' entries stay.
        let patch = serde_json::json!({
            "metadata": {"uid": self.uid},
            "status": value,
        });
        api.patch_status(
            pod.metadata.name.as_deref().unwrap_or(""),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
        self.written_status = Some(value);
        Ok(())
    }
}

/// Why a sync stopped early (it is retried).
#[derive(Debug, thiserror::Error)]
pub(super) enum SyncError {
    #[error("{0}")]
    Runtime(#[from] CriError),
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Config(String),
}

/// The grace period to stop the pod's containers with: on deletion the one the API set
/// (`deletionGracePeriodSeconds`), otherwise the spec's (default 30 s).
fn pod_grace(pod: &Pod, deleting: bool) -> i64 {
    let spec = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    if deleting {
        pod.metadata.deletion_grace_period_seconds.unwrap_or(spec)
    } else {
        spec
    }
}

/// The pod's primary IP as the probes use it.
fn pod_ip(pod: &Pod, runtime: &RuntimePod, node_ips: &[std::net::IpAddr]) -> String {
    if host_network(pod) {
        return node_ips
            .first()
            .map(|ip| ip.to_string())
            .unwrap_or_default();
    }
    runtime
        .newest_sandbox()
        .filter(|s| s.ready)
        .map(|s| s.ip.clone())
        .unwrap_or_default()
}

fn cri_mount(m: volumes::Mount) -> v1::Mount {
    v1::Mount {
        container_path: m.container_path,
        host_path: m.host_path.to_string_lossy().into_owned(),
        readonly: m.readonly,
        propagation: match m.propagation {
            volumes::Propagation::Private => v1::MountPropagation::PropagationPrivate,
            volumes::Propagation::HostToContainer => {
                v1::MountPropagation::PropagationHostToContainer
            }
            volumes::Propagation::Bidirectional => v1::MountPropagation::PropagationBidirectional,
        } as i32,
        ..Default::default()
    }
}

/// Stops and removes every container and sandbox in `runtime`; whether all went.
pub(super) async fn remove_runtime_pod(cri: &k3rs_cri::CriClient, runtime: &RuntimePod) -> bool {
    let mut ok = true;
    for c in &runtime.containers {
        if c.phase == ContainerPhase::Running {
            ok &= cri::stop_container(cri, &c.id, 0).await.is_ok();
        }
        ok &= cri::remove_container(cri, &c.id).await.is_ok();
    }
    for s in &runtime.sandboxes {
        ok &= cri::stop_sandbox(cri, &s.id).await.is_ok();
        ok &= cri::remove_sandbox(cri, &s.id).await.is_ok();
    }
    ok
}

/// Removes the pod's (empty) cgroup directories that runc left under every hierarchy.
fn remove_pod_cgroups(parent: &str) {
    let relative = parent.trim_start_matches('/');
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut dirs: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|h| h.path().join(relative))
        .collect();
    dirs.push(PathBuf::from("/sys/fs/cgroup").join(relative));
    for dir in dirs {
        // rmdir only succeeds on an empty cgroup; anything else stays as it is.
        let _ = std::fs::remove_dir(&dir);
    }
}
