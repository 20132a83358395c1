//! The StatefulSet controller (upstream pkg/controller/statefulset): pods with stable names
//! `<set>-<ordinal>`, created in order (OrderedReady) or all at once (Parallel), each with its
//! claims `<template>-<set>-<ordinal>` from the volumeClaimTemplates (owned as
//! persistentVolumeClaimRetentionPolicy says), rolled from the highest ordinal down to the
//! partition (or on delete), with ControllerRevisions and the status upstream reports.
//!
//! The decisions live in [`core`] (pure); this file is the IO around them, on the pod watch
//! shared with the ReplicaSet controller and the work queue of [`crate::replicaset::runtime`].
//! The ControllerRevision helpers here are shared with the DaemonSet controller.

pub mod core;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch};
use serde_json::{Value, json};

use self::core::{Action, Member, SetIdentity, SetView};
use crate::Context;
use crate::replicaset::core as rscore;
use crate::replicaset::events::{self, Recorder};
use crate::replicaset::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{Informers, is_conflict, is_not_found, patch_params, post_params};

/// Concurrent syncs (upstream `--concurrent-statefulset-syncs`).
pub const WORKERS: usize = 5;
/// The default `revisionHistoryLimit`.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// What a sync can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// The selector cannot be parsed.
    #[error("{0}")]
    Selector(#[from] rscore::SelectorError),
    /// A claim the pod needs is being deleted.
    #[error("PersistentVolumeClaim {0} is being deleted")]
    ClaimDeleting(String),
    /// Too many hash collisions creating a ControllerRevision.
    #[error("could not create a ControllerRevision for {0}: hash collisions")]
    Collisions(String),
}

/// The owner a ControllerRevision belongs to.
pub(crate) struct RevisionOwner<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The controller reference to put on revisions.
    pub owner: OwnerReference,
    /// `status.collisionCount`.
    pub collision_count: i32,
}

/// The revision found or created for a template.
pub(crate) struct Revision {
    /// The revision's name (`<owner>-<hash>`).
    pub name: String,
    /// Its hash (the `controller.kubernetes.io/hash` label).
    pub hash: String,
    /// The collision count after creating it.
    pub collision_count: i32,
}

fn revision_of(r: &ControllerRevision) -> Revision {
    let name = r.metadata.name.clone().unwrap_or_default();
    let hash = r
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(core::HASH_LABEL).cloned())
        .unwrap_or_default();
    Revision {
        name,
        hash,
        collision_count: 0,
    }
}

/// Find the revision of `template` among `revisions` (the owner's) or create it, bumping an
/// older equal revision to the next number (upstream `getStatefulSetRevisions` /
/// `constructHistory`).
pub(crate) async fn ensure_revision(
    client: &kube::Client,
    revisions: &[Arc<ControllerRevision>],
    owner: &RevisionOwner<'_>,
    template: &PodTemplateSpec,
) -> Result<Revision, Error> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), owner.namespace);
    let data = core::revision_data(template);
    let max = revisions.iter().map(|r| r.revision).max().unwrap_or(0);
    let equal = revisions
        .iter()
        .filter(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
        .max_by_key(|r| r.revision);
    if let Some(eq) = equal {
        let mut rev = revision_of(eq);
        rev.collision_count = owner.collision_count;
        if eq.revision < max {
            api.patch(
                &rev.name,
                &patch_params(),
                &Patch::Merge(json!({"revision": max + 1})),
            )
            .await?;
        }
        return Ok(rev);
    }
    let mut collision = owner.collision_count;
    for _ in 0..5 {
        let hash = crate::deployment::core::compute_hash(template, Some(collision));
        let name = format!("{}-{hash}", owner.name);
        let mut labels = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(core::HASH_LABEL.into(), hash.clone());
        let cr = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(owner.namespace.into()),
                labels: Some(labels),
                owner_references: Some(vec![owner.owner.clone()]),
                ..Default::default()
            },
            data: Some(RawExtension(data.clone())),
            revision: max + 1,
        };
        match api.create(&post_params(), &cr).await {
            Ok(_) => {
                return Ok(Revision {
                    name,
                    hash,
                    collision_count: collision,
                });
            }
            Err(e) if is_conflict(&e) => {
                let existing = api.get(&name).await?;
                if existing.data.as_ref().map(|d| &d.0) == Some(&data) {
                    return Ok(Revision {
                        name,
                        hash,
                        collision_count: collision,
                    });
                }
                collision += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Collisions(owner.name.into()))
}

/// Delete the owner's revisions beyond `limit` that no live pod or status uses.
pub(crate) async fn prune_revisions(
    client: &kube::Client,
    namespace: &str,
    revisions: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) {
    let all: Vec<(String, i64)> = revisions
        .iter()
        .map(|r| (r.metadata.name.clone().unwrap_or_default(), r.revision))
        .collect();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), namespace);
    for name in core::revisions_to_prune(&all, live, limit) {
        if let Err(e) = api.delete(&name, &DeleteParams::default()).await
            && !is_not_found(&e)
        {
            tracing::debug!(name, "deleting ControllerRevision: {e}");
        }
    }
}

/// The revisions controlled by the object with `uid`.
pub(crate) fn owned_revisions(
    cache: &Cache<ControllerRevision>,
    namespace: &str,
    uid: &str,
) -> Vec<Arc<ControllerRevision>> {
    cache
        .list(namespace)
        .into_iter()
        .filter(|r| rscore::controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
        .collect()
}

/// Running with Ready=True (upstream `isRunningAndReady`).
pub(crate) fn running_and_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") && rscore::is_ready(p)
}

fn finished(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

struct Controller {
    client: kube::Client,
    pods: Arc<Cache<Pod>>,
    sets: Arc<Cache<StatefulSet>>,
    revisions: Arc<Cache<ControllerRevision>>,
    claims: Arc<Cache<PersistentVolumeClaim>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

/// Start the StatefulSet controller on the shared pod informer; its own informers are started
/// here.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let mut sets: Informer<StatefulSet> = Informer::new(Api::all(ctx.client.clone()));
    let mut revisions: Informer<ControllerRevision> = Informer::new(Api::all(ctx.client.clone()));
    let claims: Informer<PersistentVolumeClaim> = Informer::new(Api::all(ctx.client.clone()));
    let q = queue.clone();
    sets.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => q.add(object_key(o.as_ref())),
    });
    let by_owner = |q: Arc<WorkQueue>| {
        move |meta: &ObjectMeta| {
            if let Some(r) = rscore::controller_of(meta).filter(|r| r.kind == "StatefulSet") {
                let ns = meta.namespace.as_deref().unwrap_or_default();
                q.add(format!("{ns}/{}", r.name));
            }
        }
    };
    let enqueue = by_owner(queue.clone());
    inf.pods.subscribe(move |ch| match ch {
        Change::Applied { old, new } => {
            enqueue(&new.metadata);
            if let Some(o) = old {
                enqueue(&o.metadata);
            }
        }
        Change::Deleted(p) => enqueue(&p.metadata),
    });
    let enqueue = by_owner(queue.clone());
    revisions.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => enqueue(&new.metadata),
        Change::Deleted(r) => enqueue(&r.metadata),
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        pods: inf.pods.cache(),
        sets: sets.cache(),
        revisions: revisions.cache(),
        claims: claims.cache(),
        queue,
        recorder: Recorder::new(
            ctx.client.clone(),
            "statefulset-controller",
            ctx.identity.clone(),
        ),
    });
    let mut tasks = vec![sets.run(), revisions.run(), claims.run()];
    tasks.extend(spawn_workers(&c, WORKERS));
    tasks
}

fn omit0(v: i32) -> Value {
    if v == 0 { Value::Null } else { json!(v) }
}

impl Reconcile for Controller {
    const NAME: &'static str = "statefulset";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.pods.wait_ready().await;
        self.sets.wait_ready().await;
        self.revisions.wait_ready().await;
        self.claims.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl Controller {
    /// One sync of the StatefulSet at `key`; returns when to sync again.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(set) = self.sets.get(ns, name) else {
            return Ok(None);
        };
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let Some(spec) = set.spec.as_ref() else {
            return Ok(None);
        };
        let selector = rscore::Selector::from_label_selector(&spec.selector)?;
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let owner = rscore::controller_ref("apps/v1", "StatefulSet", name, &uid);
        let status = set.status.clone().unwrap_or_default();

        // Pods: owned ones, and orphans of this set's name that the selector matches.
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut pods: Vec<Arc<Pod>> = Vec::new();
        for p in self.pods.list(ns) {
            let pname = p.metadata.name.as_deref().unwrap_or_default();
            match rscore::controller_of(&p.metadata) {
                Some(r) if r.uid == uid => pods.push(p),
                None if p.metadata.deletion_timestamp.is_none()
                    && core::ordinal_of(name, pname).is_some()
                    && selector.matches(p.metadata.labels.as_ref()) =>
                {
                    let mut refs = p.metadata.owner_references.clone().unwrap_or_default();
                    refs.push(owner.clone());
                    let patch = json!({"metadata": {
                        "resourceVersion": p.metadata.resource_version,
                        "ownerReferences": refs,
                    }});
                    match pod_api
                        .patch(pname, &patch_params(), &Patch::Merge(patch))
                        .await
                    {
                        Ok(np) => pods.push(Arc::new(np)),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => {}
            }
        }

        // Revisions.
        let revisions = owned_revisions(&self.revisions, ns, &uid);
        let rev_owner = RevisionOwner {
            namespace: ns,
            name,
            owner: owner.clone(),
            collision_count: status.collision_count.unwrap_or(0),
        };
        let update = ensure_revision(&self.client, &revisions, &rev_owner, &spec.template).await?;
        let current_name = status
            .current_revision
            .clone()
            .filter(|c| {
                revisions
                    .iter()
                    .any(|r| r.metadata.name.as_deref() == Some(c.as_str()))
            })
            .unwrap_or_else(|| update.name.clone());
        let current_template = revisions
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(current_name.as_str()))
            .and_then(|r| core::template_of_revision(&r.data.as_ref()?.0))
            .unwrap_or_else(|| spec.template.clone());

        let strategy = spec.update_strategy.as_ref();
        let on_delete = strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
        let view = SetView {
            replicas: spec.replicas.unwrap_or(1),
            start: spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            on_delete,
            partition: strategy
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.partition)
                .unwrap_or(0),
            current_revision: current_name.clone(),
            update_revision: update.name.clone(),
            status_current_replicas: status.current_replicas.unwrap_or(0),
        };
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = Timestamp::now();
        let members: Vec<Member> = pods
            .iter()
            .filter_map(|p| {
                let pname = p.metadata.name.clone().unwrap_or_default();
                Some(Member {
                    ordinal: core::ordinal_of(name, &pname)?,
                    revision: p
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(core::REVISION_LABEL).cloned())
                        .unwrap_or_default(),
                    terminating: p.metadata.deletion_timestamp.is_some(),
                    finished: finished(p),
                    ready: running_and_ready(p),
                    available: running_and_ready(p) && rscore::is_available(p, min_ready, now),
                    name: pname,
                })
            })
            .collect();

        let policy = spec.persistent_volume_claim_retention_policy.as_ref();
        let delete_with_set = policy.and_then(|p| p.when_deleted.as_deref()) == Some("Delete");
        let delete_on_scale = policy.and_then(|p| p.when_scaled.as_deref()) == Some("Delete");
        let templates = spec.volume_claim_templates.clone().unwrap_or_default();
        let id = SetIdentity {
            name,
            namespace: ns,
            service_name: spec.service_name.as_deref(),
            match_labels: spec.selector.match_labels.as_ref(),
            claim_templates: &templates,
            owner: owner.clone(),
        };
        let claim_owner = OwnerReference {
            controller: None,
            ..owner.clone()
        };
        let reference = events::reference(set.as_ref());
        let mut sync_error = None;
        for action in core::plan(&view, &members) {
            let r = match action {
                Action::Create { ordinal, revision } => {
                    let template = if revision == update.name {
                        &spec.template
                    } else {
                        &current_template
                    };
                    self.create(
                        &id,
                        ordinal,
                        template,
                        &revision,
                        delete_with_set.then_some(&claim_owner),
                        &reference,
                    )
                    .await
                }
                Action::Delete {
                    name: pname,
                    condemned,
                } => {
                    if condemned && delete_on_scale {
                        self.own_claims_by_pod(&id, &pods, &pname).await;
                    }
                    match pod_api.delete(&pname, &DeleteParams::default()).await {
                        Ok(_) => {
                            self.recorder.record(
                                reference.clone(),
                                "Normal",
                                "SuccessfulDelete",
                                format!("delete Pod {pname} in StatefulSet {name} successful"),
                            );
                            Ok(())
                        }
                        Err(e) if is_not_found(&e) => Ok(()),
                        Err(e) => Err(e.into()),
                    }
                }
            };
            if let Err(e) = r {
                sync_error = Some(e);
                break;
            }
        }

        let counts = core::count(&view, &members);
        let next_status = json!({
            "replicas": counts.replicas,
            "readyReplicas": omit0(counts.ready),
            "availableReplicas": omit0(counts.available),
            "currentReplicas": omit0(counts.current),
            "updatedReplicas": omit0(counts.updated),
            "currentRevision": counts.current_revision,
            "updateRevision": update.name,
            "observedGeneration": set.metadata.generation,
            "collisionCount": update.collision_count,
        });
        let current_status = serde_json::to_value(&status).unwrap_or(Value::Null);
        let changed = next_status.as_object().is_some_and(|o| {
            o.iter()
                .any(|(k, v)| current_status.get(k).unwrap_or(&Value::Null) != v)
        });
        if changed {
            let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(
                    name,
                    &patch_params(),
                    &Patch::Merge(json!({"status": next_status})),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }

        let mut live: HashSet<String> = members.iter().map(|m| m.revision.clone()).collect();
        live.insert(current_name);
        live.insert(update.name.clone());
        prune_revisions(
            &self.client,
            ns,
            &revisions,
            &live,
            spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
        )
        .await;
        if let Some(e) = sync_error {
            return Err(e);
        }
        let requeue = pods
            .iter()
            .filter_map(|p| rscore::becomes_available_in(p, min_ready, now))
            .min();
        Ok(requeue)
    }

    /// Create the claims of `ordinal` (unless present), then its pod.
    async fn create(
        &self,
        id: &SetIdentity<'_>,
        ordinal: i32,
        template: &PodTemplateSpec,
        revision: &str,
        claim_owner: Option<&OwnerReference>,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<(), Error> {
        let pod = core::pod_for(id, template, ordinal, revision);
        let pname = pod.metadata.name.clone().unwrap_or_default();
        let claim_api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.client.clone(), id.namespace);
        for claim in core::claims_for(id, ordinal, claim_owner) {
            let cname = claim.metadata.name.clone().unwrap_or_default();
            if let Some(existing) = self.claims.get(id.namespace, &cname) {
                if existing.metadata.deletion_timestamp.is_some() {
                    return Err(Error::ClaimDeleting(cname));
                }
                continue;
            }
            match claim_api.create(&post_params(), &claim).await {
                Ok(_) => self.recorder.record(
                    reference.clone(),
                    "Normal",
                    "SuccessfulCreate",
                    format!(
                        "create Claim {cname} Pod {pname} in StatefulSet {} success",
                        id.name
                    ),
                ),
                Err(e) if is_conflict(&e) => {}
                Err(e) => {
                    self.recorder.record(
                        reference.clone(),
                        "Warning",
                        "FailedCreate",
                        format!(
                            "create Claim {cname} for Pod {pname} in StatefulSet {} failed error: {}",
                            id.name,
                            crate::replicaset::api_message(&e)
                        ),
                    );
                    return Err(e.into());
                }
            }
        }
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), id.namespace);
        match pod_api.create(&post_params(), &pod).await {
            Ok(_) => {
                self.recorder.record(
                    reference.clone(),
                    "Normal",
                    "SuccessfulCreate",
                    format!("create Pod {pname} in StatefulSet {} successful", id.name),
                );
                Ok(())
            }
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => {
                self.recorder.record(
                    reference.clone(),
                    "Warning",
                    "FailedCreate",
                    format!(
                        "create Pod {pname} in StatefulSet {} failed error: {}",
                        id.name,
                        crate::replicaset::api_message(&e)
                    ),
                );
                Err(e.into())
            }
        }
    }

    /// Under `whenScaled: Delete`, make a condemned pod the owner of its claims so that the
    /// garbage collector removes them with it.
    async fn own_claims_by_pod(&self, id: &SetIdentity<'_>, pods: &[Arc<Pod>], pod: &str) {
        let Some(p) = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(pod))
        else {
            return;
        };
        let Some(ordinal) = core::ordinal_of(id.name, pod) else {
            return;
        };
        let pod_ref = OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.into(),
            uid: p.metadata.uid.clone().unwrap_or_default(),
            controller: None,
            block_owner_deletion: Some(true),
        };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), id.namespace);
        for claim in core::claims_for(id, ordinal, None) {
            let cname = claim.metadata.name.unwrap_or_default();
            let Some(existing) = self.claims.get(id.namespace, &cname) else {
                continue;
            };
            let mut refs = existing
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default();
            if refs.iter().any(|r| r.uid == pod_ref.uid) {
                continue;
            }
            refs.push(pod_ref.clone());
            let patch = json!({"metadata": {"ownerReferences": refs}});
            if let Err(e) = api
                .patch(&cname, &patch_params(), &Patch::Merge(patch))
                .await
            {
                tracing::debug!(cname, "claim owner update: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
