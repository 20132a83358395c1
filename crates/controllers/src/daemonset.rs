//! The DaemonSet controller (upstream pkg/controller/daemon): one pod per eligible node
//! (nodeSelector, required node affinity, NoSchedule/NoExecute taints against the pod's
//! tolerations plus upstream's default daemon tolerations). Daemon pods are created with a
//! required node affinity on `metadata.name` (as upstream since 1.12) and bound by the
//! scheduler. RollingUpdate honours maxUnavailable and maxSurge; OnDelete leaves old pods.
//! Pods carry `controller-revision-hash`, and a ControllerRevision `<ds>-<hash>` records each
//! template (shared helpers in [`crate::statefulset`]).
//!
//! The decisions live in [`core`] (pure); this file is the IO around them.

pub mod core;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch};
use serde_json::{Value, json};

use self::core::{Action, DaemonPod, NodeState, Rollout};
use crate::Context;
use crate::replicaset::core as rscore;
use crate::replicaset::events::{self, Recorder};
use crate::replicaset::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{Informers, api_message, is_not_found, patch_params, post_params};
use crate::statefulset::{
    self, DEFAULT_HISTORY_LIMIT, Error, RevisionOwner, ensure_revision, owned_revisions,
};

/// Concurrent syncs (upstream `--concurrent-daemonset-syncs`).
pub const WORKERS: usize = 2;
/// At most this many pods are created by one sync (upstream `BurstReplicas`).
pub const BURST: usize = 250;

struct Controller {
    client: kube::Client,
    pods: Arc<Cache<Pod>>,
    nodes: Arc<Cache<Node>>,
    sets: Arc<Cache<DaemonSet>>,
    revisions: Arc<Cache<ControllerRevision>>,
    queue: Arc<WorkQueue>,
    expectations: Arc<Mutex<rscore::Expectations>>,
    recorder: Recorder,
}

fn lock(e: &Mutex<rscore::Expectations>) -> std::sync::MutexGuard<'_, rscore::Expectations> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// Start the DaemonSet controller on the shared pod informer; its own informers are started
/// here.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let mut sets: Informer<DaemonSet> = Informer::new(Api::all(ctx.client.clone()));
    let mut nodes: Informer<Node> = Informer::new(Api::all(ctx.client.clone()));
    let revisions: Informer<ControllerRevision> = Informer::new(Api::all(ctx.client.clone()));
    let q = queue.clone();
    sets.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => q.add(object_key(o.as_ref())),
    });
    let q = queue.clone();
    let set_cache = sets.cache();
    nodes.subscribe(move |ch| {
        let relevant = match ch {
            Change::Applied { old: Some(o), new } => {
                o.metadata.labels != new.metadata.labels
                    || o.spec.as_ref().and_then(|s| s.taints.clone())
                        != new.spec.as_ref().and_then(|s| s.taints.clone())
            }
            _ => true,
        };
        if relevant {
            for ds in set_cache.all() {
                q.add(object_key(ds.as_ref()));
            }
        }
    });
    let q = queue.clone();
    let expectations = Arc::new(Mutex::new(rscore::Expectations::default()));
    let exp = expectations.clone();
    let enqueue = move |meta: &ObjectMeta, deleted: bool| {
        if let Some(r) = rscore::controller_of(meta).filter(|r| r.kind == "DaemonSet") {
            let ns = meta.namespace.as_deref().unwrap_or_default();
            let key = format!("{ns}/{}", r.name);
            if deleted {
                lock(&exp).observe_deleted(&key, meta.name.as_deref().unwrap_or_default());
            }
            q.add(key);
        }
    };
    inf.pods.subscribe(move |ch| match ch {
        Change::Applied { old, new } => {
            enqueue(&new.metadata, false);
            if let Some(o) = old {
                enqueue(&o.metadata, false);
            }
        }
        Change::Deleted(p) => enqueue(&p.metadata, true),
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        pods: inf.pods.cache(),
        nodes: nodes.cache(),
        sets: sets.cache(),
        revisions: revisions.cache(),
        queue,
        expectations,
        recorder: Recorder::new(
            ctx.client.clone(),
            "daemonset-controller",
            ctx.identity.clone(),
        ),
    });
    let mut tasks = vec![sets.run(), nodes.run(), revisions.run()];
    tasks.extend(spawn_workers(&c, WORKERS));
    tasks
}

fn scaled(v: Option<&IntOrString>, default: i32, total: i32) -> i32 {
    v.map_or(default, |v| {
        crate::deployment::core::scaled_value(v, total, true)
    })
}

impl Reconcile for Controller {
    const NAME: &'static str = "daemonset";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.pods.wait_ready().await;
        self.nodes.wait_ready().await;
        self.sets.wait_ready().await;
        self.revisions.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

impl Controller {
    /// One sync of the DaemonSet at `key`; returns when to sync again.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(ds) = self.sets.get(ns, name) else {
            lock(&self.expectations).forget(key);
            return Ok(None);
        };
        let needs_sync = lock(&self.expectations).satisfied(
            key,
            |n| match self.pods.get(ns, n) {
                None => rscore::Seen::Absent,
                Some(p) if p.metadata.deletion_timestamp.is_some() => rscore::Seen::Deleting,
                Some(_) => rscore::Seen::Present,
            },
            Instant::now(),
        );
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let Some(spec) = ds.spec.as_ref() else {
            return Ok(None);
        };
        let _selector = rscore::Selector::from_label_selector(&spec.selector)?;
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let owner = rscore::controller_ref("apps/v1", "DaemonSet", name, &uid);
        let status = ds.status.clone().unwrap_or_default();
        let revisions = owned_revisions(&self.revisions, ns, &uid);
        let revision = ensure_revision(
            &self.client,
            &revisions,
            &RevisionOwner {
                namespace: ns,
                name,
                owner: owner.clone(),
                collision_count: status.collision_count.unwrap_or(0),
            },
            &spec.template,
        )
        .await?;
        let hash = revision.hash.clone();

        // The pod spec new daemon pods get (before the node affinity).
        let mut pod_spec = spec.template.spec.clone().unwrap_or_default();
        core::add_default_tolerations(&mut pod_spec);

        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = Timestamp::now();
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list(ns)
            .into_iter()
            .filter(|p| rscore::controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
            .collect();
        let mut by_node: BTreeMap<String, Vec<DaemonPod>> = BTreeMap::new();
        let mut orphaned = Vec::new();
        for p in &pods {
            let dp = DaemonPod {
                name: p.metadata.name.clone().unwrap_or_default(),
                updated: p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(statefulset::core::REVISION_LABEL))
                    == Some(&hash),
                terminating: p.metadata.deletion_timestamp.is_some(),
                failed: p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"),
                ready: rscore::is_ready(p),
                available: rscore::is_available(p, min_ready, now),
                created: p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            };
            match core::node_of(p) {
                Some(n) => by_node.entry(n).or_default().push(dp),
                None => orphaned.push(dp),
            }
        }
        let mut nodes: Vec<NodeState> = self
            .nodes
            .all()
            .iter()
            .map(|n| {
                let nname = n.metadata.name.clone().unwrap_or_default();
                let (should_run, should_continue) = core::should_run(&pod_spec, n);
                NodeState {
                    pods: by_node.remove(&nname).unwrap_or_default(),
                    name: nname,
                    should_run,
                    should_continue,
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        // Pods for nodes that no longer exist are deleted.
        for (nname, pods) in by_node {
            nodes.push(NodeState {
                name: nname,
                should_run: false,
                should_continue: false,
                pods,
            });
        }
        let counts = core::count(&nodes);
        let strategy = spec.update_strategy.as_ref();
        let rolling = strategy.and_then(|s| s.type_.as_deref()) != Some("OnDelete");
        let ru = strategy.and_then(|s| s.rolling_update.as_ref());
        let mut max_unavailable = scaled(
            ru.and_then(|r| r.max_unavailable.as_ref()),
            1,
            counts.desired,
        );
        let max_surge = scaled(ru.and_then(|r| r.max_surge.as_ref()), 0, counts.desired);
        if max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        let rollout = Rollout {
            rolling,
            max_unavailable,
            max_surge,
        };

        let reference = events::reference(ds.as_ref());
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut first_error: Option<Error> = None;
        let mut created = 0;
        let actions = if needs_sync {
            core::plan(&nodes, rollout)
        } else {
            Vec::new()
        };
        for action in actions {
            match action {
                Action::Create(node) => {
                    if created >= BURST {
                        continue;
                    }
                    created += 1;
                    let pod = self.new_pod(&ds, &pod_spec, &node, &hash, owner.clone());
                    match pod_api.create(&post_params(), &pod).await {
                        Ok(p) => {
                            let pname = p.metadata.name.unwrap_or_default();
                            lock(&self.expectations).expect_creations(
                                key,
                                [pname.clone()],
                                Instant::now(),
                            );
                            self.recorder.record(
                                reference.clone(),
                                "Normal",
                                "SuccessfulCreate",
                                format!("Created pod: {pname}"),
                            );
                        }
                        Err(e) => {
                            self.recorder.record(
                                reference.clone(),
                                "Warning",
                                "FailedCreate",
                                format!("Error creating: {}", api_message(&e)),
                            );
                            first_error.get_or_insert(e.into());
                        }
                    }
                }
                Action::Delete(pod) => match pod_api.delete(&pod, &DeleteParams::default()).await {
                    Ok(_) => {
                        lock(&self.expectations).expect_deletions(
                            key,
                            [pod.clone()],
                            Instant::now(),
                        );
                        self.recorder.record(
                            reference.clone(),
                            "Normal",
                            "SuccessfulDelete",
                            format!("Deleted pod: {pod}"),
                        );
                    }
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        first_error.get_or_insert(e.into());
                    }
                },
            }
        }
        if !orphaned.is_empty() {
            tracing::debug!(key, n = orphaned.len(), "daemon pods without a node");
        }

        let next = json!({
            "desiredNumberScheduled": counts.desired,
            "currentNumberScheduled": counts.current,
            "numberMisscheduled": counts.misscheduled,
            "numberReady": counts.ready,
            "numberAvailable": if counts.available == 0 { Value::Null } else { json!(counts.available) },
            "numberUnavailable": if counts.desired - counts.available == 0 { Value::Null } else { json!(counts.desired - counts.available) },
            "updatedNumberScheduled": if counts.updated == 0 { Value::Null } else { json!(counts.updated) },
            "observedGeneration": ds.metadata.generation,
            "collisionCount": if revision.collision_count == 0 && status.collision_count.is_none() { Value::Null } else { json!(revision.collision_count) },
        });
        let current = serde_json::to_value(&status).unwrap_or(Value::Null);
        let changed = next.as_object().is_some_and(|o| {
            o.iter()
                .any(|(k, v)| current.get(k).unwrap_or(&Value::Null) != v)
        });
        if changed {
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(
                    name,
                    &patch_params(),
                    &Patch::Merge(json!({"status": next})),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let mut live: HashSet<String> = HashSet::new();
        live.insert(revision.name.clone());
        for p in &pods {
            if let Some(h) = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(statefulset::core::REVISION_LABEL))
            {
                live.insert(format!("{name}-{h}"));
            }
        }
        statefulset::prune_revisions(
            &self.client,
            ns,
            &revisions,
            &live,
            spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
        )
        .await;
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(pods
            .iter()
            .filter_map(|p| rscore::becomes_available_in(p, min_ready, now))
            .min())
    }

    /// A daemon pod for `node` (upstream `NewPod` + `ReplaceDaemonSetPodNodeNameNodeAffinity`).
    fn new_pod(
        &self,
        ds: &DaemonSet,
        pod_spec: &k8s_openapi::api::core::v1::PodSpec,
        node: &str,
        hash: &str,
        owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> Pod {
        let template = ds
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let meta = template.metadata.unwrap_or_default();
        let mut labels = meta.labels.unwrap_or_default();
        labels.insert(statefulset::core::REVISION_LABEL.into(), hash.into());
        let mut spec = pod_spec.clone();
        core::set_node_affinity(&mut spec, node);
        Pod {
            metadata: ObjectMeta {
                generate_name: Some(format!(
                    "{}-",
                    ds.metadata.name.as_deref().unwrap_or_default()
                )),
                namespace: ds.metadata.namespace.clone(),
                labels: Some(labels),
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![owner]),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        }
    }
}

#[cfg(test)]
mod tests;
