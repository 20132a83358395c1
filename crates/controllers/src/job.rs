//! The Job controller (upstream `pkg/controller/job`) and the TTL-after-finished controller:
//! create pods up to `parallelism` until `completions` succeed (NonIndexed or Indexed), stop at
//! `backoffLimit` failures, `activeDeadlineSeconds` or a `podFailurePolicy` FailJob rule,
//! honour `suspend`, report `status` with upstream's conditions (SuccessCriteriaMet → Complete,
//! FailureTarget → Failed) and Events, and delete finished Jobs after
//! `ttlSecondsAfterFinished`.
//!
//! The decisions live in [`core`] (pure); this file is the IO around them. The pod informer is
//! shared with the ReplicaSet controllers; [`Informers`] holds the Job and CronJob watches.

pub mod core;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use k8s_openapi::api::batch::v1::{CronJob, Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, Preconditions, PropagationPolicy};
use serde_json::{Value, json};

use crate::Context;
use crate::replicaset::core::{
    Expectations, Seen, controller_of, controller_ref, slow_start_batches,
};
use crate::replicaset::events::{Recorder, reference};
use crate::replicaset::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{api_message, is_not_found, patch_params, pod_from_template, post_params};

/// Concurrent Job syncs (upstream `--concurrent-job-syncs`).
pub const WORKERS: usize = 5;
/// At most this many pods are created by one sync.
pub const MAX_CREATE: usize = 500;

pub use crate::SyncError as Error;

/// The Job and CronJob watches (the pod watch is the workload controllers').
pub(crate) struct Informers {
    /// Jobs.
    pub jobs: Informer<Job>,
    /// CronJobs.
    pub cronjobs: Informer<CronJob>,
}

impl Informers {
    /// Informers over every namespace (not started yet).
    pub(crate) fn new(ctx: &Context) -> Self {
        Informers {
            jobs: Informer::new(Api::all(ctx.client.clone())),
            cronjobs: Informer::new(Api::all(ctx.client.clone())),
        }
    }

    /// Start every watch.
    pub(crate) fn run(self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![self.jobs.run(), self.cronjobs.run()]
    }
}

struct Controller {
    client: kube::Client,
    pods: Arc<Cache<Pod>>,
    jobs: Arc<Cache<Job>>,
    queue: Arc<WorkQueue>,
    expectations: Arc<Mutex<Expectations>>,
    recorder: Recorder,
}

fn lock(e: &Mutex<Expectations>) -> std::sync::MutexGuard<'_, Expectations> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// Start the Job controller on the shared pod informer and the Job informer.
pub(crate) fn start(
    ctx: &Context,
    workloads: &mut crate::replicaset::Informers,
    batch: &mut Informers,
) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let expectations = Arc::new(Mutex::new(Expectations::default()));
    let q = queue.clone();
    let exp = expectations.clone();
    batch.jobs.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => {
            let key = object_key(o.as_ref());
            lock(&exp).forget(&key);
            q.add(key);
        }
    });
    let q = queue.clone();
    let exp = expectations.clone();
    workloads.pods.subscribe(move |ch| {
        let (pod, deleted) = match ch {
            Change::Applied { new, .. } => (new.as_ref(), false),
            Change::Deleted(p) => (p.as_ref(), true),
        };
        let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "Job") else {
            return;
        };
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            r.name
        );
        if deleted {
            lock(&exp).observe_deleted(&key, pod.metadata.name.as_deref().unwrap_or_default());
        }
        q.add(key);
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        pods: workloads.pods.cache(),
        jobs: batch.jobs.cache(),
        queue,
        expectations,
        recorder: Recorder::new(ctx.client.clone(), "job-controller", ctx.identity.clone()),
    });
    spawn_workers(&c, WORKERS)
}

/// The merge patch writing `status` (nulls clear the fields the controller owns), guarded by
/// the Job's `resourceVersion` so that a sync on a stale cache conflicts instead of
/// overwriting a newer status.
pub fn status_patch(
    status: &JobStatus,
    resource_version: Option<&str>,
) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(status)?;
    if let Some(o) = v.as_object_mut() {
        for k in [
            "active",
            "succeeded",
            "failed",
            "ready",
            "terminating",
            "startTime",
            "completionTime",
            "completedIndexes",
            "conditions",
        ] {
            o.entry(k).or_insert(Value::Null);
        }
    }
    Ok(json!({ "metadata": {"resourceVersion": resource_version}, "status": v }))
}

/// The pod of `job` for a completion index (upstream `getPodTemplate` plus index labels).
fn job_pod(job: &Job, index: Option<i32>) -> Option<Pod> {
    let template = job.spec.as_ref()?.template.clone();
    let meta = &job.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    let mut pod = pod_from_template(
        &template,
        meta.namespace.as_deref().unwrap_or_default(),
        controller_ref(
            "batch/v1",
            "Job",
            name,
            meta.uid.as_deref().unwrap_or_default(),
        ),
    );
    if let Some(i) = index {
        let v = i.to_string();
        pod.metadata.generate_name = Some(format!("{name}-{i}-"));
        pod.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(core::COMPLETION_INDEX.into(), v.clone());
        pod.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(core::COMPLETION_INDEX.into(), v);
        if let Some(spec) = pod.spec.as_mut()
            && spec.hostname.is_none()
        {
            spec.hostname = Some(format!("{name}-{i}"));
        }
    }
    Some(pod)
}

impl Reconcile for Controller {
    const NAME: &'static str = "job";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.pods.wait_ready().await;
        self.jobs.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl Controller {
    /// One sync of the Job at `key`; returns when to sync again.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(job) = self.jobs.get(ns, name) else {
            lock(&self.expectations).forget(key);
            return Ok(None);
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let satisfied = lock(&self.expectations).satisfied(
            key,
            |n| match self.pods.get(ns, n) {
                None => Seen::Absent,
                Some(p) if p.metadata.deletion_timestamp.is_some() => Seen::Deleting,
                Some(_) => Seen::Present,
            },
            Instant::now(),
        );
        if !satisfied {
            // The cache is older than our own writes; their watch events requeue the Job.
            return Ok(None);
        }
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list(ns)
            .into_iter()
            .filter(|p| controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
            .collect();
        let plan = core::plan(&job, &pods, Timestamp::now());
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
        if plan.delete_job {
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            return match jobs.delete(name, &dp).await {
                Ok(_) => Ok(None),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        let reference = reference(job.as_ref());
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut first_error: Option<kube::Error> = None;
        if !plan.delete.is_empty() {
            lock(&self.expectations).expect_deletions(key, plan.delete.clone(), Instant::now());
            let dp = DeleteParams::background();
            let results = join_all(plan.delete.iter().map(|n| pod_api.delete(n, &dp))).await;
            for (n, r) in plan.delete.iter().zip(results) {
                match r {
                    Ok(_) => self.recorder.record(
                        reference.clone(),
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {n}"),
                    ),
                    Err(e) => {
                        lock(&self.expectations).observe_deleted(key, n);
                        if !is_not_found(&e) {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        let to_create: Vec<Pod> = plan
            .create
            .iter()
            .take(MAX_CREATE)
            .filter_map(|p| job_pod(&job, p.index))
            .collect();
        let mut rest = to_create.iter();
        let pp = post_params();
        for batch in slow_start_batches(to_create.len(), 1) {
            let chunk: Vec<&Pod> = rest.by_ref().take(batch).collect();
            let results = join_all(chunk.iter().map(|p| pod_api.create(&pp, p))).await;
            let mut created = Vec::new();
            let mut failed = false;
            for r in results {
                match r {
                    Ok(p) => {
                        let n = p.metadata.name.unwrap_or_default();
                        self.recorder.record(
                            reference.clone(),
                            "Normal",
                            "SuccessfulCreate",
                            format!("Created pod: {n}"),
                        );
                        created.push(n);
                    }
                    Err(e) => {
                        self.recorder.record(
                            reference.clone(),
                            "Warning",
                            "FailedCreate",
                            format!("Error creating: {}", api_message(&e)),
                        );
                        failed = true;
                        first_error.get_or_insert(e);
                    }
                }
            }
            lock(&self.expectations).expect_creations(key, created, Instant::now());
            if failed {
                break;
            }
        }
        let old = job.status.clone().unwrap_or_default();
        if plan.status != old {
            match jobs
                .patch_status(
                    name,
                    &patch_params(),
                    &Patch::Merge(status_patch(
                        &plan.status,
                        job.metadata.resource_version.as_deref(),
                    )?),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            for ev in &plan.events {
                self.recorder
                    .record(reference.clone(), ev.type_, ev.reason, ev.message.clone());
            }
        }
        if let Some(e) = first_error {
            return Err(e.into());
        }
        Ok(plan.requeue)
    }
}
