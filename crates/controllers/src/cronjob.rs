//! The CronJob controller (upstream `pkg/controller/cronjob`): create a Job
//! (`<cronjob>-<scheduled time in minutes since the epoch>`) at every schedule time, honouring
//! `timeZone`, `concurrencyPolicy`, `startingDeadlineSeconds`, `suspend` and the history
//! limits, and keep `status` (active, lastScheduleTime, lastSuccessfulTime).
//!
//! Each sync requeues the CronJob for exactly its next schedule time (a timer, no polling);
//! Job changes requeue their CronJob. Decisions are in [`core`], the schedule in [`schedule`].

pub mod core;
pub mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch};
use serde_json::{Value, json};

use crate::Context;
use crate::job::Informers;
use crate::replicaset::core::{controller_of, controller_ref};
use crate::replicaset::events::{Recorder, reference};
use crate::replicaset::runtime::{
    Cache, Change, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{api_message, is_conflict, is_not_found, patch_params, post_params};

/// Concurrent CronJob syncs (upstream `--concurrent-cron-job-syncs`).
pub const WORKERS: usize = 5;
/// The annotation of a created Job carrying its scheduled time.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// What a sync can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

struct Controller {
    client: kube::Client,
    jobs: Arc<Cache<Job>>,
    cronjobs: Arc<Cache<CronJob>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

/// Start the CronJob controller on the Job and CronJob informers.
pub(crate) fn start(ctx: &Context, batch: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let q = queue.clone();
    batch.cronjobs.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => q.add(object_key(o.as_ref())),
    });
    let q = queue.clone();
    batch.jobs.subscribe(move |ch| {
        let j = match ch {
            Change::Applied { new, .. } => new.as_ref(),
            Change::Deleted(j) => j.as_ref(),
        };
        if let Some(r) = controller_of(&j.metadata).filter(|r| r.kind == "CronJob") {
            q.add(format!(
                "{}/{}",
                j.metadata.namespace.as_deref().unwrap_or_default(),
                r.name
            ));
        }
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        jobs: batch.jobs.cache(),
        cronjobs: batch.cronjobs.cache(),
        queue,
        recorder: Recorder::new(
            ctx.client.clone(),
            "cronjob-controller",
            ctx.identity.clone(),
        ),
    });
    spawn_workers(&c, WORKERS)
}

/// The Job of `cj` for `scheduled` (upstream `getJobFromTemplate2`).
fn job_from_template(cj: &CronJob, name: &str, scheduled: Timestamp) -> Job {
    let spec = cj.spec.clone().unwrap_or_default();
    let tmeta = spec.job_template.metadata.clone().unwrap_or_default();
    let tz = schedule::time_zone(spec.time_zone.as_deref())
        .unwrap_or(k8s_openapi::jiff::tz::TimeZone::UTC);
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP.into(),
        scheduled.to_zoned(tz).timestamp().to_string(),
    );
    let meta = &cj.metadata;
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: meta.namespace.clone(),
            labels: tmeta
                .labels
                .or_else(|| Some(BTreeMap::new()))
                .filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(
                "batch/v1",
                "CronJob",
                meta.name.as_deref().unwrap_or_default(),
                meta.uid.as_deref().unwrap_or_default(),
            )]),
            ..Default::default()
        },
        spec: spec.job_template.spec,
        status: None,
    }
}

fn job_ref(ns: &str, name: &str, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(name.into()),
        namespace: Some(ns.into()),
        uid: Some(uid.into()),
        ..Default::default()
    }
}

impl Reconcile for Controller {
    const NAME: &'static str = "cronjob";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.jobs.wait_ready().await;
        self.cronjobs.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(cj) = self.cronjobs.get(ns, name) else {
            return Ok(None);
        };
        let jobs = self.jobs.list(ns);
        let plan = core::plan(&cj, &jobs, Timestamp::now());
        let reference = reference(cj.as_ref());
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let dp = DeleteParams::background();
        let mut active: Vec<ObjectReference> = plan
            .active
            .iter()
            .map(|r| job_ref(ns, &r.name, &r.uid))
            .collect();
        for n in &plan.replace {
            match job_api.delete(n, &dp).await {
                Ok(_) => self.recorder.record(
                    reference.clone(),
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted job {n}"),
                ),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let last_schedule = plan.last_schedule_time;
        if let Some((jname, scheduled)) = &plan.create {
            let job = job_from_template(&cj, jname, *scheduled);
            match job_api.create(&post_params(), &job).await {
                Ok(j) => {
                    self.recorder.record(
                        reference.clone(),
                        "Normal",
                        "SuccessfulCreate",
                        format!("Created job {jname}"),
                    );
                    active.push(job_ref(
                        ns,
                        jname,
                        j.metadata.uid.as_deref().unwrap_or_default(),
                    ));
                }
                Err(e) if is_conflict(&e) => {
                    // Already created (by an earlier sync whose status we have not seen yet).
                    if let Some(j) = self.jobs.get(ns, jname)
                        && controller_of(&j.metadata)
                            .is_some_and(|r| Some(&r.uid) == cj.metadata.uid.as_ref())
                        && !active
                            .iter()
                            .any(|r| r.name.as_deref() == Some(jname.as_str()))
                        && !crate::job::core::is_finished(&j)
                    {
                        active.push(job_ref(
                            ns,
                            jname,
                            j.metadata.uid.as_deref().unwrap_or_default(),
                        ));
                    }
                }
                Err(e) => {
                    self.recorder.record(
                        reference.clone(),
                        "Warning",
                        "FailedCreate",
                        format!("Error creating job: {}", api_message(&e)),
                    );
                    return Err(e.into());
                }
            }
        }
        let old = cj.status.clone().unwrap_or_default();
        let changed = old
            .active
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|r| &r.uid)
            .collect::<Vec<_>>()
            != active.iter().map(|r| &r.uid).collect::<Vec<_>>()
            || old.last_schedule_time.as_ref().map(|t| t.0) != last_schedule
            || old.last_successful_time.as_ref().map(|t| t.0) != plan.last_successful_time;
        if changed {
            let ts = |t: Option<Timestamp>| t.map_or(Value::Null, |t| json!(Time(t)));
            let patch = json!({
                "metadata": {"resourceVersion": cj.metadata.resource_version},
                "status": {
                    "active": if active.is_empty() { Value::Null } else { json!(active) },
                    "lastScheduleTime": ts(last_schedule),
                    "lastSuccessfulTime": ts(plan.last_successful_time),
                }
            });
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(name, &patch_params(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        for ev in &plan.events {
            self.recorder
                .record(reference.clone(), ev.type_, ev.reason, ev.message.clone());
        }
        let results = join_all(plan.delete_history.iter().map(|n| job_api.delete(n, &dp))).await;
        for (n, r) in plan.delete_history.iter().zip(results) {
            match r {
                Ok(_) => self.recorder.record(
                    reference.clone(),
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted job {n}"),
                ),
                Err(e) if is_not_found(&e) => {}
                Err(e) => tracing::debug!(job = n, "deleting a finished job: {e}"),
            }
        }
        Ok(plan.requeue)
    }
}
