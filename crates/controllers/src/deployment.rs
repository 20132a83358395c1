//! The Deployment controller (upstream pkg/controller/deployment): owns ReplicaSets named
//! `<deployment>-<pod-template-hash>`, rolls between them (RollingUpdate with
//! maxSurge/maxUnavailable, or Recreate), scales proportionally, honours pause, keeps the
//! revision annotations (so `kubectl rollout history/undo` work) and revisionHistoryLimit,
//! and reports status with the Available/Progressing conditions and ScalingReplicaSet Events.
//!
//! [`core::plan`] decides (pure); this file claims ReplicaSets and carries out the plan.

pub mod core;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, Preconditions};
use serde_json::{Value, json};

use self::core::Action;
use crate::Context;
use crate::replicaset::core::{self as rscore, Selector};
use crate::replicaset::events::{self, Recorder};
use crate::replicaset::runtime::{
    Cache, Change, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{Error, Informers, is_conflict, is_not_found};

/// Concurrent syncs (upstream `--concurrent-deployment-syncs`).
pub const WORKERS: usize = 5;

struct Controller {
    client: kube::Client,
    deployments: Arc<Cache<Deployment>>,
    replicasets: Arc<Cache<ReplicaSet>>,
    pods: Arc<Cache<Pod>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

fn deployment_selector(d: &Deployment) -> Option<Selector> {
    Selector::from_label_selector(&d.spec.as_ref()?.selector).ok()
}

/// Start the Deployment controller on the shared informers.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let q = queue.clone();
    inf.deployments.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(d) => q.add(object_key(d.as_ref())),
    });
    let q = queue.clone();
    let deployments = inf.deployments.cache();
    inf.replicasets.subscribe(move |ch| {
        let (old, new) = match ch {
            Change::Applied { old, new } => (old.as_deref(), new.as_ref()),
            Change::Deleted(rs) => (None, rs.as_ref()),
        };
        let ns = new.metadata.namespace.as_deref().unwrap_or_default();
        let owner = |rs: &ReplicaSet| {
            rscore::controller_of(&rs.metadata)
                .filter(|r| r.kind == "Deployment")
                .map(|r| format!("{ns}/{}", r.name))
        };
        let cur = owner(new);
        if let Some(k) = &cur {
            q.add(k.clone());
        }
        if let Some(prev) = old.and_then(owner)
            && Some(&prev) != cur.as_ref()
        {
            q.add(prev);
        }
        if rscore::controller_of(&new.metadata).is_none() {
            for d in deployments.list(ns) {
                if deployment_selector(&d)
                    .is_some_and(|s| !s.is_empty() && s.matches(new.metadata.labels.as_ref()))
                {
                    q.add(object_key(d.as_ref()));
                }
            }
        }
    });
    // Recreate waits for the old pods to be gone: a pod's deletion or end wakes its Deployment.
    let q = queue.clone();
    let deployments = inf.deployments.cache();
    let replicasets = inf.replicasets.cache();
    inf.pods.subscribe(move |ch| {
        let pod = match ch {
            Change::Deleted(p) => p.as_ref(),
            Change::Applied { new, .. } => {
                let phase = new.status.as_ref().and_then(|s| s.phase.as_deref());
                if !matches!(phase, Some("Succeeded") | Some("Failed")) {
                    return;
                }
                new.as_ref()
            }
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let Some(rs_ref) = rscore::controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet")
        else {
            return;
        };
        let Some(rs) = replicasets.get(ns, &rs_ref.name) else {
            return;
        };
        let Some(d_ref) = rscore::controller_of(&rs.metadata).filter(|r| r.kind == "Deployment")
        else {
            return;
        };
        if let Some(d) = deployments.get(ns, &d_ref.name) {
            let recreate = d
                .spec
                .as_ref()
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.type_.as_deref())
                == Some("Recreate");
            if recreate {
                q.add(object_key(d.as_ref()));
            }
        }
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        deployments: inf.deployments.cache(),
        replicasets: inf.replicasets.cache(),
        pods: inf.pods.cache(),
        queue,
        recorder: Recorder::new(
            ctx.client.clone(),
            "deployment-controller",
            ctx.identity.clone(),
        ),
    });
    spawn_workers(&c, WORKERS)
}

/// The status subresource merge patch for a Deployment status (nulls clear absent fields).
pub fn status_json(status: &k8s_openapi::api::apps::v1::DeploymentStatus) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        for k in [
            "availableReplicas",
            "collisionCount",
            "conditions",
            "observedGeneration",
            "readyReplicas",
            "replicas",
            "terminatingReplicas",
            "unavailableReplicas",
            "updatedReplicas",
        ] {
            o.entry(k).or_insert(Value::Null);
        }
    }
    v
}

impl Reconcile for Controller {
    const NAME: &'static str = "deployment";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.deployments.wait_ready().await;
        self.replicasets.wait_ready().await;
        self.pods.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl Controller {
    /// One sync of the Deployment at `key`; returns when to sync again.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(d) = self.deployments.get(ns, name) else {
            return Ok(None);
        };
        let Some(selector) = deployment_selector(&d) else {
            tracing::debug!(key, "invalid selector");
            return Ok(None);
        };
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), ns);
        let mut owned: Vec<Arc<ReplicaSet>> = Vec::new();
        if !selector.is_empty() {
            let claim = rscore::claim(&uid, deleting, &selector, self.replicasets.list(ns), |r| {
                &r.metadata
            });
            owned = claim.owned;
            for rs in claim.adopt {
                match set_controller(&rs_api, &d, &rs, true).await {
                    Ok(updated) => owned.push(Arc::new(updated)),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            for rs in claim.release {
                match set_controller(&rs_api, &d, &rs, false).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let recreate = d
            .spec
            .as_ref()
            .and_then(|s| s.strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            == Some("Recreate");
        let mut pods: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        if recreate {
            let uids: HashSet<&str> = owned
                .iter()
                .filter_map(|r| r.metadata.uid.as_deref())
                .collect();
            for p in self.pods.list(ns) {
                if let Some(r) = rscore::controller_of(&p.metadata)
                    && uids.contains(r.uid.as_str())
                    && selector.matches(p.metadata.labels.as_ref())
                {
                    pods.entry(r.uid.clone()).or_default().push(p.clone());
                }
            }
        }
        let plan = core::plan(&d, &owned, &pods, Timestamp::now());
        self.execute(&d, &rs_api, plan.actions).await?;
        Ok(plan.requeue_after)
    }

    async fn execute(
        &self,
        d: &Deployment,
        rs_api: &Api<ReplicaSet>,
        actions: Vec<Action>,
    ) -> Result<(), Error> {
        let ns = d.metadata.namespace.as_deref().unwrap_or_default();
        let name = d.metadata.name.as_deref().unwrap_or_default();
        let reference = events::reference(d);
        // resourceVersions returned by this sync's own writes, for later writes of the same object.
        let mut versions: HashMap<String, Option<String>> = HashMap::new();
        for action in actions {
            match action {
                Action::CreateReplicaSet(rs) => {
                    let rs_name = rs.metadata.name.clone().unwrap_or_default();
                    match rs_api.create(&crate::replicaset::post_params(), &rs).await {
                        Ok(created) => {
                            versions.insert(rs_name, created.metadata.resource_version);
                        }
                        Err(e) if is_conflict(&e) => {
                            return self.on_exists(d, rs_api, &rs).await;
                        }
                        Err(e) => {
                            self.recorder.record(
                                reference.clone(),
                                "Warning",
                                "ReplicaSetCreateError",
                                format!(
                                    "Failed to create new replica set {rs_name:?}: {}",
                                    crate::replicaset::api_message(&e)
                                ),
                            );
                            return Err(e.into());
                        }
                    }
                }
                Action::UpdateReplicaSet(mut rs) => {
                    let rs_name = rs.metadata.name.clone().unwrap_or_default();
                    if let Some(v) = versions.get(&rs_name) {
                        rs.metadata.resource_version = v.clone();
                    }
                    let updated = rs_api
                        .replace(&rs_name, &crate::replicaset::post_params(), &rs)
                        .await?;
                    versions.insert(rs_name, updated.metadata.resource_version);
                }
                Action::DeleteReplicaSet { name, uid } => {
                    let dp = DeleteParams {
                        preconditions: Some(Preconditions {
                            uid: Some(uid),
                            resource_version: None,
                        }),
                        ..Default::default()
                    };
                    match rs_api.delete(&name, &dp).await {
                        Ok(_) => {}
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Action::PatchDeployment { revision, status } => {
                    let mut patch = json!({});
                    if let Some(r) = revision {
                        patch["metadata"] = json!({"annotations": {core::REVISION: r}});
                    }
                    if let Some(s) = status {
                        patch["status"] = status_json(&s);
                    }
                    let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
                    match api
                        .patch_status(
                            name,
                            &crate::replicaset::patch_params(),
                            &Patch::Merge(patch),
                        )
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Action::Event {
                    type_,
                    reason,
                    message,
                } => self
                    .recorder
                    .record(reference.clone(), type_, reason, message),
            }
        }
        Ok(())
    }

    /// The new ReplicaSet's name is taken: ours (a stale cache: wait for the watch) or a hash
    /// collision (bump status.collisionCount and retry).
    async fn on_exists(
        &self,
        d: &Deployment,
        rs_api: &Api<ReplicaSet>,
        wanted: &ReplicaSet,
    ) -> Result<(), Error> {
        let rs_name = wanted.metadata.name.clone().unwrap_or_default();
        let existing = rs_api.get(&rs_name).await?;
        let ours = rscore::controller_of(&existing.metadata)
            .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
        let same = match (
            existing.spec.as_ref().and_then(|s| s.template.as_ref()),
            d.spec.as_ref().map(|s| &s.template),
        ) {
            (Some(a), Some(b)) => core::equal_ignore_hash(a, b),
            _ => false,
        };
        if ours && same {
            // The watch has not delivered it yet; its event will sync again.
            self.queue.add(object_key(d));
            return Ok(());
        }
        let count = d
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0)
            + 1;
        let api: Api<Deployment> = Api::namespaced(
            self.client.clone(),
            d.metadata.namespace.as_deref().unwrap_or_default(),
        );
        api.patch_status(
            d.metadata.name.as_deref().unwrap_or_default(),
            &crate::replicaset::patch_params(),
            &Patch::Merge(json!({"status": {"collisionCount": count}})),
        )
        .await?;
        Ok(())
    }
}

/// Adopt or release a ReplicaSet (merge patch guarded by its resourceVersion).
async fn set_controller(
    api: &Api<ReplicaSet>,
    d: &Deployment,
    rs: &ReplicaSet,
    adopt: bool,
) -> Result<ReplicaSet, kube::Error> {
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut refs: Vec<_> = rs
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != uid)
        .collect();
    if adopt {
        refs.push(rscore::controller_ref(
            "apps/v1",
            "Deployment",
            d.metadata.name.as_deref().unwrap_or_default(),
            &uid,
        ));
    }
    let patch = json!({"metadata": {
        "resourceVersion": rs.metadata.resource_version,
        "ownerReferences": if refs.is_empty() { Value::Null } else { serde_json::to_value(&refs).unwrap_or(Value::Null) },
    }});
    api.patch(
        rs.metadata.name.as_deref().unwrap_or_default(),
        &crate::replicaset::patch_params(),
        &Patch::Merge(patch),
    )
    .await
}
