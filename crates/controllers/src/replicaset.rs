//! The ReplicaSet and ReplicationController controllers (upstream pkg/controller/replicaset):
//! create and delete pods so that as many active pods as `spec.replicas` carry a controller
//! reference to their owner (adopting orphans the selector matches, releasing pods it no longer
//! matches), in slow-start batches, deleting the least valuable pods first; then report
//! `status` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//! observedGeneration, the ReplicaFailure condition) and Events.
//!
//! The decisions live in [`core`] (pure); this file is the IO around them. The informers are
//! shared with the Deployment controller through [`Informers`].

pub mod core;
pub(crate) mod events;
pub(crate) mod runtime;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use self::core::{Condition, Counts, Expectations, Seen, Selector, SelectorError};
use self::events::Recorder;
use self::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::Context;
use crate::shared_watch::Subscription;

/// At most this many pods are created or deleted by one sync (upstream `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
/// Concurrent syncs per controller (upstream `--concurrent-replicaset-syncs`).
pub const WORKERS: usize = 5;

/// What a sync can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// The selector cannot be parsed.
    #[error("{0}")]
    Selector(#[from] SelectorError),
    /// A JSON value could not be built.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// No pod template to create pods from.
    #[error("unable to create pods, no template")]
    NoTemplate,
}

/// The informers the workload controllers share: one watch per resource.
pub(crate) struct Informers {
    /// Pods.
    pub pods: Informer<Pod>,
    /// ReplicaSets.
    pub replicasets: Informer<ReplicaSet>,
    /// ReplicationControllers.
    pub replicationcontrollers: Informer<ReplicationController>,
    /// Deployments.
    pub deployments: Informer<Deployment>,
}

impl Informers {
    /// Informers over every namespace (not started yet); pods come from the shared pod watch.
    pub(crate) fn new(ctx: &Context, pods: Subscription<Pod>) -> Self {
        Informers {
            pods: Informer::shared(pods),
            replicasets: Informer::new(Api::all(ctx.client.clone())),
            replicationcontrollers: Informer::new(Api::all(ctx.client.clone())),
            deployments: Informer::new(Api::all(ctx.client.clone())),
        }
    }

    /// Start every watch.
    pub(crate) fn run(self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.pods.run(),
            self.replicasets.run(),
            self.replicationcontrollers.run(),
            self.deployments.run(),
        ]
    }
}

/// The status of a ReplicaSet or ReplicationController, kind-neutral.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusView {
    /// The counts.
    pub counts: Counts,
    /// `observedGeneration`.
    pub observed_generation: i64,
    /// `conditions`.
    pub conditions: Vec<Condition>,
}

/// What the controller needs of a ReplicaSet or a ReplicationController.
pub trait Replicated:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Send
    + Sync
    + k8s_openapi::serde::de::DeserializeOwned
    + 'static
{
    /// The Event source component.
    const COMPONENT: &'static str;
    /// `spec.replicas` (default 1).
    fn replicas(&self) -> i32;
    /// The pod selector.
    fn selector(&self) -> Result<Selector, SelectorError>;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// `spec.minReadySeconds`.
    fn min_ready_seconds(&self) -> i32;
    /// The current status.
    fn status_view(&self) -> StatusView;
}

fn cond_view(
    type_: &str,
    status: &str,
    reason: &Option<String>,
    message: &Option<String>,
    t: &Option<Time>,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.clone(),
        message: message.clone(),
        last_transition_time: t.as_ref().map(|t| t.0),
    }
}

/// The accessors ReplicaSets and ReplicationControllers share: their spec and status types are
/// distinct k8s-openapi structs with the same field names.
macro_rules! replicated_accessors {
    () => {
        fn template(&self) -> Option<&PodTemplateSpec> {
            self.spec.as_ref()?.template.as_ref()
        }
        fn min_ready_seconds(&self) -> i32 {
            self.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
        }
        fn status_view(&self) -> StatusView {
            let Some(s) = &self.status else {
                return StatusView::default();
            };
            StatusView {
                counts: Counts {
                    replicas: s.replicas,
                    fully_labeled: s.fully_labeled_replicas.unwrap_or(0),
                    ready: s.ready_replicas.unwrap_or(0),
                    available: s.available_replicas.unwrap_or(0),
                },
                observed_generation: s.observed_generation.unwrap_or(0),
                conditions: s
                    .conditions
                    .iter()
                    .flatten()
                    .map(|c| {
                        cond_view(
                            &c.type_,
                            &c.status,
                            &c.reason,
                            &c.message,
                            &c.last_transition_time,
                        )
                    })
                    .collect(),
            }
        }
    };
}

impl Replicated for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn selector(&self) -> Result<Selector, SelectorError> {
        match &self.spec {
            Some(s) => Selector::from_label_selector(&s.selector),
            None => Err(SelectorError("no spec".into())),
        }
    }
    replicated_accessors!();
}

impl Replicated for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn selector(&self) -> Result<Selector, SelectorError> {
        let sel = self.spec.as_ref().and_then(|s| s.selector.as_ref());
        match sel {
            Some(m) if !m.is_empty() => Ok(Selector::from_map(m)),
            // Defaulting copies the template's labels; an empty selector selects nothing.
            _ => Err(SelectorError("empty selector".into())),
        }
    }
    replicated_accessors!();
}

/// Omit zero, as Go's `omitempty` does.
fn nz(v: i32) -> Value {
    if v == 0 { Value::Null } else { json!(v) }
}

/// The merge patch of a status subresource for `view` (nulls remove absent fields).
pub fn status_patch(view: &StatusView) -> Value {
    let conditions: Vec<Value> = view
        .conditions
        .iter()
        .map(|c| {
            let mut o = serde_json::Map::new();
            o.insert("type".into(), json!(c.type_));
            o.insert("status".into(), json!(c.status));
            if let Some(t) = c.last_transition_time {
                o.insert(
                    "lastTransitionTime".into(),
                    serde_json::to_value(Time(t)).unwrap_or(Value::Null),
                );
            }
            if let Some(r) = &c.reason {
                o.insert("reason".into(), json!(r));
            }
            if let Some(m) = &c.message {
                o.insert("message".into(), json!(m));
            }
            Value::Object(o)
        })
        .collect();
    json!({"status": {
        "replicas": view.counts.replicas,
        "fullyLabeledReplicas": nz(view.counts.fully_labeled),
        "readyReplicas": nz(view.counts.ready),
        "availableReplicas": nz(view.counts.available),
        "observedGeneration": if view.observed_generation == 0 { Value::Null } else { json!(view.observed_generation) },
        "conditions": if conditions.is_empty() { Value::Null } else { Value::Array(conditions) },
    }})
}

/// The pod a controller creates from `template` (upstream `GetPodFromTemplate`).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name)),
            namespace: Some(namespace.into()),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// One ReplicaSet-style controller (for ReplicaSets or ReplicationControllers).
struct Controller<K: Replicated> {
    client: kube::Client,
    pods: Arc<Cache<Pod>>,
    owners: Arc<Cache<K>>,
    /// ReplicaSets, to find the pods of sibling ReplicaSets (same Deployment).
    replicasets: Arc<Cache<ReplicaSet>>,
    queue: Arc<WorkQueue>,
    expectations: Arc<Mutex<Expectations>>,
    recorder: Recorder,
}

fn lock(e: &Mutex<Expectations>) -> std::sync::MutexGuard<'_, Expectations> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// Subscribe a controller of `K` to the pod and owner informers; returns its queue.
fn wire<K: Replicated>(
    owners: &mut Informer<K>,
    pods: &mut Informer<Pod>,
    expectations: Arc<Mutex<Expectations>>,
) -> Arc<WorkQueue> {
    let queue = Arc::new(WorkQueue::new());
    let q = queue.clone();
    let exp = expectations.clone();
    owners.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => {
            let key = object_key(o.as_ref());
            lock(&exp).forget(&key);
            q.add(key);
        }
    });
    let q = queue.clone();
    let owner_cache = owners.cache();
    let kind = K::kind(&()).into_owned();
    pods.subscribe(move |ch| {
        let (old, new, deleted) = match ch {
            Change::Applied { old, new } => (old.as_deref(), new.as_ref(), false),
            Change::Deleted(p) => (None, p.as_ref(), true),
        };
        let ns = new.metadata.namespace.as_deref().unwrap_or_default();
        let owner_key = |p: &Pod| {
            core::controller_of(&p.metadata)
                .filter(|r| r.kind == kind)
                .map(|r| format!("{ns}/{}", r.name))
        };
        let cur = owner_key(new);
        if let Some(key) = &cur {
            if deleted {
                lock(&expectations)
                    .observe_deleted(key, new.metadata.name.as_deref().unwrap_or_default());
            }
            q.add(key.clone());
        }
        if let Some(prev) = old.and_then(owner_key)
            && Some(&prev) != cur.as_ref()
        {
            q.add(prev);
        }
        let had_ref = old.is_some_and(|o| core::controller_of(&o.metadata).is_some());
        let labels_changed = old.is_none_or(|o| o.metadata.labels != new.metadata.labels);
        if core::controller_of(&new.metadata).is_none() && !deleted && (labels_changed || had_ref) {
            // An orphan: every owner whose selector matches may adopt it.
            for o in owner_cache.list(ns) {
                if o.selector()
                    .is_ok_and(|s| s.matches(new.metadata.labels.as_ref()))
                {
                    q.add(object_key(o.as_ref()));
                }
            }
        }
    });
    queue
}

/// Start the ReplicaSet and ReplicationController controllers on the shared informers.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let exp = Arc::new(Mutex::new(Expectations::default()));
    let q = wire(&mut inf.replicasets, &mut inf.pods, exp.clone());
    let rs = Arc::new(Controller {
        client: ctx.client.clone(),
        pods: inf.pods.cache(),
        owners: inf.replicasets.cache(),
        replicasets: inf.replicasets.cache(),
        queue: q,
        expectations: exp,
        recorder: Recorder::new(
            ctx.client.clone(),
            ReplicaSet::COMPONENT,
            ctx.identity.clone(),
        ),
    });
    tasks.extend(spawn_workers(&rs, WORKERS));
    let exp = Arc::new(Mutex::new(Expectations::default()));
    let q = wire(&mut inf.replicationcontrollers, &mut inf.pods, exp.clone());
    let rc = Arc::new(Controller {
        client: ctx.client.clone(),
        pods: inf.pods.cache(),
        owners: inf.replicationcontrollers.cache(),
        replicasets: inf.replicasets.cache(),
        queue: q,
        expectations: exp,
        recorder: Recorder::new(
            ctx.client.clone(),
            ReplicationController::COMPONENT,
            ctx.identity.clone(),
        ),
    });
    tasks.extend(spawn_workers(&rc, WORKERS));
    tasks
}

impl<K: Replicated> Reconcile for Controller<K> {
    const NAME: &'static str = K::COMPONENT;
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.pods.wait_ready().await;
        self.owners.wait_ready().await;
        self.replicasets.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl<K: Replicated> Controller<K> {
    /// One sync of the owner at `key` (upstream `syncReplicaSet`); returns when to sync again.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(owner) = self.owners.get(ns, name) else {
            lock(&self.expectations).forget(key);
            return Ok(None);
        };
        let needs_sync = lock(&self.expectations).satisfied(
            key,
            |n| match self.pods.get(ns, n) {
                None => Seen::Absent,
                Some(p) if p.metadata.deletion_timestamp.is_some() => Seen::Deleting,
                Some(_) => Seen::Present,
            },
            Instant::now(),
        );
        let selector = match owner.selector() {
            Ok(s) => s,
            Err(e) => {
                // Upstream logs and waits for the object to change.
                tracing::debug!(key, "{e}");
                return Ok(None);
            }
        };
        let meta = owner.meta();
        let uid = meta.uid.clone().unwrap_or_default();
        let deleting = meta.deletion_timestamp.is_some();
        let active = self
            .pods
            .list(ns)
            .into_iter()
            .filter(|p| core::is_active(p));
        let claim = core::claim(&uid, deleting, &selector, active, |p| &p.metadata);
        let mut pods = claim.owned;
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut claim_error = None;
        for p in claim.adopt {
            match self.set_controller(&pod_api, &owner, &p, true).await {
                Ok(updated) => pods.push(Arc::new(updated)),
                Err(e) if is_not_found(&e) => {}
                Err(e) => claim_error = Some(e),
            }
        }
        for p in claim.release {
            match self.set_controller(&pod_api, &owner, &p, false).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => claim_error = Some(e),
            }
        }
        if let Some(e) = claim_error {
            return Err(e.into());
        }
        let now = Timestamp::now();
        let mut manage_error = None;
        if needs_sync
            && !deleting
            && let Err(e) = self.manage(key, &owner, &pods, &pod_api).await
        {
            manage_error = Some(e);
        }
        let replicas = owner.replicas();
        let min_ready = owner.min_ready_seconds();
        let template_labels = owner
            .template()
            .and_then(|t| t.metadata.as_ref()?.labels.as_ref());
        let current = owner.status_view();
        let next = StatusView {
            counts: core::count(&pods, template_labels, min_ready, now),
            observed_generation: meta.generation.unwrap_or(0),
            conditions: core::failure_conditions(
                &current.conditions,
                manage_error.as_ref().map(|e| e.to_string()).as_deref(),
                pods.len(),
                replicas,
                now,
            ),
        };
        if next != current {
            let api: Api<K> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(
                    name,
                    &crate::replicaset::patch_params(),
                    &Patch::Merge(status_patch(&next)),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = manage_error {
            return Err(e);
        }
        // Requeue when a ready pod will have been ready for minReadySeconds.
        let requeue = pods
            .iter()
            .filter_map(|p| core::becomes_available_in(p, min_ready, now))
            .min();
        Ok(requeue)
    }

    /// Adopt (`adopt`) or release a pod through a merge patch guarded by its resourceVersion.
    async fn set_controller(
        &self,
        api: &Api<Pod>,
        owner: &K,
        pod: &Pod,
        adopt: bool,
    ) -> Result<Pod, kube::Error> {
        let meta = owner.meta();
        let uid = meta.uid.clone().unwrap_or_default();
        let mut refs: Vec<_> = pod
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.uid != uid)
            .collect();
        if adopt {
            refs.push(core::controller_ref(
                &K::api_version(&()),
                &K::kind(&()),
                meta.name.as_deref().unwrap_or_default(),
                &uid,
            ));
        }
        let patch = json!({"metadata": {
            "resourceVersion": pod.metadata.resource_version,
            "ownerReferences": if refs.is_empty() { Value::Null } else { serde_json::to_value(&refs).unwrap_or(Value::Null) },
        }});
        api.patch(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &crate::replicaset::patch_params(),
            &Patch::Merge(patch),
        )
        .await
    }

    /// Create or delete pods so that `pods` (the active owned ones) becomes `spec.replicas`
    /// (upstream `manageReplicas`).
    async fn manage(
        &self,
        key: &str,
        owner: &K,
        pods: &[Arc<Pod>],
        api: &Api<Pod>,
    ) -> Result<(), Error> {
        let want = usize::try_from(owner.replicas().max(0)).unwrap_or(0);
        let reference = events::reference(owner);
        if pods.len() < want {
            let diff = (want - pods.len()).min(BURST_REPLICAS);
            let template = owner.template().ok_or(Error::NoTemplate)?;
            let meta = owner.meta();
            let pod = pod_from_template(
                template,
                meta.namespace.as_deref().unwrap_or_default(),
                core::controller_ref(
                    &K::api_version(&()),
                    &K::kind(&()),
                    meta.name.as_deref().unwrap_or_default(),
                    meta.uid.as_deref().unwrap_or_default(),
                ),
            );
            if pod.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) {
                return Err(Error::NoTemplate);
            }
            let pp = crate::replicaset::post_params();
            for batch in core::slow_start_batches(diff, 1) {
                let results = join_all((0..batch).map(|_| api.create(&pp, &pod))).await;
                let mut created = Vec::new();
                let mut first_error = None;
                for r in results {
                    match r {
                        Ok(p) => {
                            let name = p.metadata.name.unwrap_or_default();
                            self.recorder.record(
                                reference.clone(),
                                "Normal",
                                "SuccessfulCreate",
                                format!("Created pod: {name}"),
                            );
                            created.push(name);
                        }
                        Err(e) => {
                            self.recorder.record(
                                reference.clone(),
                                "Warning",
                                "FailedCreate",
                                format!("Error creating: {}", api_message(&e)),
                            );
                            first_error.get_or_insert(e);
                        }
                    }
                }
                lock(&self.expectations).expect_creations(key, created, Instant::now());
                if let Some(e) = first_error {
                    if is_namespace_terminating(&e) {
                        return Ok(());
                    }
                    return Err(e.into());
                }
            }
        } else if pods.len() > want {
            let diff = (pods.len() - want).min(BURST_REPLICAS);
            let related = self.related_pods(owner, pods);
            let doomed = core::pods_to_delete(pods.to_vec(), &related, diff, Timestamp::now());
            let names: Vec<String> = doomed
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            lock(&self.expectations).expect_deletions(key, names.clone(), Instant::now());
            let dp = DeleteParams::default();
            let results = join_all(names.iter().map(|n| api.delete(n, &dp))).await;
            let mut first_error = None;
            for (name, r) in names.iter().zip(results) {
                match r {
                    Ok(_) => self.recorder.record(
                        reference.clone(),
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {name}"),
                    ),
                    Err(e) => {
                        lock(&self.expectations).observe_deleted(key, name);
                        if !is_not_found(&e) {
                            self.recorder.record(
                                reference.clone(),
                                "Warning",
                                "FailedDelete",
                                format!("Error deleting: {}", api_message(&e)),
                            );
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The pods of every ReplicaSet controlled by the same owner as this one (upstream
    /// `getIndirectlyRelatedPods`), for the deletion ranking.
    fn related_pods(&self, owner: &K, own: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
        let meta = owner.meta();
        let ns = meta.namespace.as_deref().unwrap_or_default();
        let Some(parent) = core::controller_of(meta) else {
            return own.to_vec();
        };
        let siblings: HashSet<String> = self
            .replicasets
            .list(ns)
            .iter()
            .filter(|rs| core::controller_of(&rs.metadata).is_some_and(|r| r.uid == parent.uid))
            .filter_map(|rs| rs.metadata.uid.clone())
            .chain(meta.uid.clone())
            .collect();
        self.pods
            .list(ns)
            .into_iter()
            .filter(|p| core::controller_of(&p.metadata).is_some_and(|r| siblings.contains(&r.uid)))
            .collect()
    }
}

/// The field manager of the controllers' writes, as upstream's (its User-Agent's program).
pub const FIELD_MANAGER: &str = "kube-controller-manager";

/// Patch options naming [`FIELD_MANAGER`].
pub(crate) fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// Create/replace options naming [`FIELD_MANAGER`].
pub(crate) fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// True for a 404.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// True for a 409 (conflict or already exists).
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn is_namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.message.contains("because it is being terminated"))
}

/// The server's message of an API error.
pub(crate) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
