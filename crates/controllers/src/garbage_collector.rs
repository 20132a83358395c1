//! The garbage collector (upstream `pkg/controller/garbagecollector`), event-driven: metadata
//! watches of every resource that can carry ownerReferences (pods: the shared pod watch) feed
//! an in-memory dependency graph ([`graph`]); changes queue work — delete objects whose owners
//! are gone (background), release `foregroundDeletion` owners once their blocking dependents are
//! gone (foreground), and strip ownerReferences from the dependents of `orphan` owners before
//! releasing them (orphan).
//! One code path covers all kinds through `DynamicObject` and the resource registry.

pub mod graph;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams,
    Preconditions, PropagationPolicy,
};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::shared_watch::Subscription;
use crate::workqueue::WorkQueue;
use graph::{Decision, Graph, Node, OwnerRef, OwnerState, Propagation, Work};

/// Errors of one work item.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

/// How many work items are processed at once.
const WORKERS: usize = 4;

/// How long the first sync of all watches may take before workers start anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Resources never watched (upstream ignores events: high volume, never owners).
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// One watched resource.
#[derive(Clone, Debug)]
pub struct Watched {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The resources the collector watches: every served resource that can be listed, watched
/// and deleted, one version per storage location.
pub fn watched_resources() -> Vec<Watched> {
    let mut seen = HashSet::new();
    k3rs_api::registry::all()
        .iter()
        .filter(|r| r.has_verb("list") && r.has_verb("watch") && r.has_verb("delete"))
        .filter(|r| !IGNORED.contains(&(r.group, r.plural)))
        .filter(|r| seen.insert(r.storage))
        .map(|r| Watched {
            resource: ApiResource {
                group: r.group.to_string(),
                version: r.version.to_string(),
                api_version: r.api_version(),
                kind: r.kind.to_string(),
                plural: r.plural.to_string(),
            },
            namespaced: r.namespaced,
        })
        .collect()
}

/// The shared state of the collector.
struct Gc {
    client: Client,
    resources: Vec<Watched>,
    /// (group, kind) → index in `resources`.
    by_kind: HashMap<(String, String), usize>,
    graph: Mutex<Graph>,
    queue: Arc<WorkQueue<Work>>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The node of an observed object (None for objects without uid or name).
fn node_of(resource: usize, meta: &kube::api::ObjectMeta) -> Option<Node> {
    let fins = meta.finalizers.as_deref().unwrap_or(&[]);
    Some(Node {
        resource,
        namespace: meta.namespace.clone(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        owners: meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| OwnerRef {
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
                uid: o.uid.clone(),
                block_owner_deletion: o.block_owner_deletion.unwrap_or(false),
            })
            .collect(),
        deleting: meta.deletion_timestamp.is_some(),
        foreground: fins.iter().any(|f| f == graph::FOREGROUND),
        orphan: fins.iter().any(|f| f == graph::ORPHAN),
    })
}

impl Gc {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue_all(&self, work: Vec<Work>) {
        for w in work {
            self.queue.add(w);
        }
    }

    fn api(&self, resource: usize, namespace: Option<&str>) -> Api<DynamicObject> {
        let w = &self.resources[resource];
        match namespace {
            Some(ns) if w.namespaced => Api::namespaced_with(self.client.clone(), ns, &w.resource),
            _ => Api::all_with(self.client.clone(), &w.resource),
        }
    }

    /// Feed one resource's metadata watch into the graph until the stream ends.
    async fn watch(self: Arc<Self>, resource: usize, synced: tokio::sync::mpsc::Sender<()>) {
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), &self.resources[resource].resource);
        let plural = self.resources[resource].resource.plural.clone();
        let stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .filter_map(move |ev| {
                let ev = ev
                    .inspect_err(|e| tracing::debug!(resource = %plural, "gc watch error: {e}"))
                    .ok();
                async move { ev }
            });
        self.follow(resource, stream, |o| &o.metadata, synced).await;
    }

    /// Feed the events of one resource into the graph until they end; `meta` reads an
    /// object's metadata.
    async fn follow<T>(
        self: Arc<Self>,
        resource: usize,
        events: impl futures_util::Stream<Item = Event<T>>,
        meta: fn(&T) -> &kube::api::ObjectMeta,
        synced: tokio::sync::mpsc::Sender<()>,
    ) {
        futures_util::pin_mut!(events);
        let mut relist: Option<HashSet<String>> = None;
        let mut first_sync = Some(synced);
        while let Some(ev) = events.next().await {
            match ev {
                Event::Init => relist = Some(HashSet::new()),
                Event::InitApply(o) | Event::Apply(o) => {
                    if let Some(node) = node_of(resource, meta(&o)) {
                        if let Some(seen) = relist.as_mut() {
                            seen.insert(node.uid.clone());
                        }
                        let work = self.graph().upsert(node);
                        self.queue_all(work);
                    }
                }
                Event::Delete(o) => {
                    if let Some(uid) = &meta(&o).uid {
                        let work = self.graph().remove(uid);
                        self.queue_all(work);
                    }
                }
                Event::InitDone => {
                    if let Some(seen) = relist.take() {
                        // Objects deleted while the watch was down.
                        let mut g = self.graph();
                        let gone: Vec<String> = g
                            .uids_of(resource)
                            .into_iter()
                            .filter(|u| !seen.contains(u))
                            .collect();
                        let mut work = Vec::new();
                        for u in gone {
                            work.extend(g.remove(&u));
                        }
                        drop(g);
                        self.queue_all(work);
                    }
                    if let Some(tx) = first_sync.take() {
                        let _ = tx.send(()).await;
                    }
                }
            }
        }
    }

    /// The state of one owner of a dependent in `namespace`.
    async fn owner_state(
        &self,
        owner: &OwnerRef,
        namespace: Option<&str>,
    ) -> Result<OwnerState, GcError> {
        {
            let g = self.graph();
            if let Some(n) = g.get(&owner.uid) {
                return Ok(if n.deleting_dependents() {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                });
            }
            if g.is_absent(&owner.uid) {
                return Ok(OwnerState::Dangling);
            }
        }
        let key = (group_of(&owner.api_version).to_string(), owner.kind.clone());
        let Some(&res) = self.by_kind.get(&key) else {
            // A kind this server does not serve: never delete on its account.
            return Ok(OwnerState::Solid);
        };
        let found = self
            .api(res, namespace)
            .get_metadata_opt(&owner.name)
            .await?;
        match found {
            Some(o) if o.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                let fins = o.metadata.finalizers.unwrap_or_default();
                let waiting = o.metadata.deletion_timestamp.is_some()
                    && fins.iter().any(|f| f == graph::FOREGROUND);
                Ok(if waiting {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                })
            }
            _ => {
                self.graph().mark_absent(&owner.uid);
                Ok(OwnerState::Dangling)
            }
        }
    }

    async fn process(self: &Arc<Self>, work: &Work) -> Result<(), GcError> {
        match work {
            Work::AttemptToDelete(uid) => self.attempt_to_delete(uid).await,
            Work::AttemptToOrphan(uid) => self.attempt_to_orphan(uid).await,
        }
    }

    async fn attempt_to_delete(&self, uid: &str) -> Result<(), GcError> {
        let Some(node) = self.graph().get(uid).cloned() else {
            return Ok(());
        };
        let api = self.api(node.resource, node.namespace.as_deref());
        if node.deleting {
            if !node.foreground {
                return Ok(());
            }
            // Foreground: release the owner once no blocking dependent is left.
            let blocking: Vec<Node> = self
                .graph()
                .blocking_dependents(uid)
                .into_iter()
                .cloned()
                .collect();
            if blocking.is_empty() {
                return remove_finalizer(&api, &node.name, uid, graph::FOREGROUND).await;
            }
            for d in blocking {
                if !d.deleting_dependents() {
                    self.queue.add(Work::AttemptToDelete(d.uid));
                }
            }
            return Ok(());
        }
        if node.owners.is_empty() {
            return Ok(());
        }
        // Every owner observed and not waiting: nothing to do, without asking the API (at
        // start-up most dependents are queued before their owners are seen).
        let all_solid = {
            let g = self.graph();
            node.owners
                .iter()
                .all(|o| g.get(&o.uid).is_some_and(|n| !n.deleting_dependents()))
        };
        if all_solid {
            return Ok(());
        }
        // Decide on the latest object, not the cached one.
        let Some(latest) = api.get_metadata_opt(&node.name).await? else {
            return Ok(());
        };
        if latest.metadata.uid.as_deref() != Some(uid) {
            return Ok(());
        }
        let Some(latest_node) = node_of(node.resource, &latest.metadata) else {
            return Ok(());
        };
        if latest_node.deleting {
            return Ok(());
        }
        let mut states = Vec::new();
        for o in &latest_node.owners {
            let s = self.owner_state(o, node.namespace.as_deref()).await?;
            states.push((o.uid.clone(), s));
        }
        let has_dependents = self.graph().has_dependents(uid);
        let fins = latest.metadata.finalizers.clone().unwrap_or_default();
        match graph::decide(&states, has_dependents, &fins) {
            Decision::Nothing => Ok(()),
            Decision::RemoveOwnerRefs(uids) => {
                let keep: Vec<_> = latest
                    .metadata
                    .owner_references
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|o| !uids.contains(&o.uid))
                    .collect();
                patch_owner_refs(&api, &node.name, &latest.metadata, keep).await
            }
            Decision::Delete(p) => {
                let dp = DeleteParams {
                    propagation_policy: Some(match p {
                        Propagation::Background => PropagationPolicy::Background,
                        Propagation::Foreground => PropagationPolicy::Foreground,
                        Propagation::Orphan => PropagationPolicy::Orphan,
                    }),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.to_string()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                tracing::debug!(name = %node.name, "gc: deleting an object whose owners are gone");
                match api.delete(&node.name, &dp).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn attempt_to_orphan(&self, uid: &str) -> Result<(), GcError> {
        let Some(node) = self.graph().get(uid).cloned() else {
            return Ok(());
        };
        if !(node.deleting && node.orphan) {
            return Ok(());
        }
        let deps: Vec<Node> = self.graph().dependents(uid).into_iter().cloned().collect();
        for d in deps {
            let api = self.api(d.resource, d.namespace.as_deref());
            let Some(latest) = api.get_metadata_opt(&d.name).await? else {
                continue;
            };
            if latest.metadata.uid.as_deref() != Some(d.uid.as_str()) {
                continue;
            }
            let refs = latest.metadata.owner_references.clone().unwrap_or_default();
            if !refs.iter().any(|o| o.uid == uid) {
                continue;
            }
            let keep: Vec<_> = refs.into_iter().filter(|o| o.uid != uid).collect();
            patch_owner_refs(&api, &d.name, &latest.metadata, keep).await?;
        }
        let api = self.api(node.resource, node.namespace.as_deref());
        remove_finalizer(&api, &node.name, uid, graph::ORPHAN).await
    }
}

/// Replace an object's ownerReferences (guarded by its resourceVersion).
async fn patch_owner_refs(
    api: &Api<DynamicObject>,
    name: &str,
    meta: &kube::api::ObjectMeta,
    keep: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
) -> Result<(), GcError> {
    let refs = if keep.is_empty() {
        json!(null)
    } else {
        json!(keep)
    };
    let patch =
        json!({"metadata": {"ownerReferences": refs, "resourceVersion": meta.resource_version}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Remove `finalizer` from the object `name` if it is still the object `uid`.
async fn remove_finalizer(
    api: &Api<DynamicObject>,
    name: &str,
    uid: &str,
    finalizer: &str,
) -> Result<(), GcError> {
    let Some(latest) = api.get_metadata_opt(name).await? else {
        return Ok(());
    };
    if latest.metadata.uid.as_deref() != Some(uid) {
        return Ok(());
    }
    let fins = latest.metadata.finalizers.clone().unwrap_or_default();
    if !fins.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let keep: Vec<&String> = fins.iter().filter(|f| *f != finalizer).collect();
    let value = if keep.is_empty() {
        json!(null)
    } else {
        json!(keep)
    };
    let patch = json!({"metadata": {"finalizers": value, "resourceVersion": latest.metadata.resource_version}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Run the garbage collector until the task is dropped.
pub async fn run(client: Client, pod_events: Subscription<Pod>) {
    let resources = watched_resources();
    let by_kind = resources
        .iter()
        .enumerate()
        .map(|(i, w)| ((w.resource.group.clone(), w.resource.kind.clone()), i))
        .collect();
    let gc = Arc::new(Gc {
        client,
        resources,
        by_kind,
        graph: Mutex::new(Graph::new()),
        queue: Arc::new(WorkQueue::new()),
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(gc.resources.len().max(1));
    // Pods come from the shared pod watch; every other resource has a metadata watch.
    let pods = gc
        .resources
        .iter()
        .position(|w| w.resource.group.is_empty() && w.resource.plural == "pods");
    let mut pod_events = Some(pod_events);
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = (0..gc.resources.len())
        .map(|i| match pod_events.take_if(|_| Some(i) == pods) {
            Some(rx) => {
                let events = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|e| (e, rx))
                });
                tokio::spawn(Arc::clone(&gc).follow(
                    i,
                    events,
                    |p: &Arc<Pod>| &p.metadata,
                    tx.clone(),
                ))
            }
            None => tokio::spawn(Arc::clone(&gc).watch(i, tx.clone())),
        })
        .collect();
    drop(tx);
    // Decide only on a complete graph: wait until every watch has listed once.
    let wait_all = async {
        for _ in 0..gc.resources.len() {
            if rx.recv().await.is_none() {
                break;
            }
        }
    };
    if tokio::time::timeout(SYNC_TIMEOUT, wait_all).await.is_err() {
        tracing::warn!("garbage collector: not every watch synced in time; starting anyway");
    }
    tracing::debug!(objects = gc.graph().len(), "garbage collector synced");
    for _ in 0..WORKERS {
        let gc = Arc::clone(&gc);
        tasks.push(tokio::spawn(async move {
            loop {
                let work = gc.queue.next().await;
                if let Err(e) = gc.process(&work).await {
                    tracing::debug!("gc {work:?}: {e}");
                    gc.queue.add_after(work.clone(), Duration::from_millis(500));
                }
                gc.queue.done(&work);
            }
        }));
    }
    let (_, _, rest) = futures_util::future::select_all(tasks).await;
    for t in rest {
        t.abort();
    }
}
