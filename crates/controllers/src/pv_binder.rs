//! The PersistentVolume binder (upstream `pkg/controller/volume/persistentvolume`), event
//! driven: watches of claims, volumes and StorageClasses keep a cache; a Pending claim binds
//! to the best matching Available volume (see [`core::find_match`]) — at once for Immediate
//! classes, after the scheduler's `volume.kubernetes.io/selected-node` annotation for
//! WaitForFirstConsumer ones —, and a claim of a local-path class with a selected node gets a
//! provisioned volume ([`crate::local_path`]). A volume whose claim is gone is deleted
//! (reclaim Delete) or marked Released (Retain).
//!
//! At start the default StorageClass `local-path` is created when absent.

pub mod core;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::local_path;
use crate::workqueue::WorkQueue;

/// Errors of one work item.
#[derive(Debug, thiserror::Error)]
pub enum BinderError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
    #[error("provisioning: {0}")]
    Provision(#[from] local_path::ProvisionError),
}

/// Work items.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Work {
    /// Sync a claim (namespace, name).
    Claim(String, String),
    /// Sync a volume.
    Volume(String),
}

#[derive(Default)]
struct State {
    claims: HashMap<(String, String), PersistentVolumeClaim>,
    volumes: HashMap<String, PersistentVolume>,
    classes: HashMap<String, StorageClass>,
}

struct Binder {
    client: Client,
    data_dir: PathBuf,
    state: Mutex<State>,
    queue: Arc<WorkQueue<Work>>,
}

fn key_of(c: &PersistentVolumeClaim) -> (String, String) {
    (
        c.metadata.namespace.clone().unwrap_or_default(),
        c.metadata.name.clone().unwrap_or_default(),
    )
}

fn claim_ref_key(v: &PersistentVolume) -> Option<(String, String)> {
    let r = v.spec.as_ref()?.claim_ref.as_ref()?;
    Some((r.namespace.clone()?, r.name.clone()?))
}

fn pp() -> PatchParams {
    PatchParams::default()
}

fn ok_missing<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

impl Binder {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim_event(&self, ev: Event<PersistentVolumeClaim>) {
        let mut work = Vec::new();
        {
            let mut s = self.state();
            match ev {
                Event::Apply(c) | Event::InitApply(c) => {
                    let key = key_of(&c);
                    if let Some(v) = c.spec.as_ref().and_then(|s| s.volume_name.clone()) {
                        work.push(Work::Volume(v));
                    }
                    work.push(Work::Claim(key.0.clone(), key.1.clone()));
                    s.claims.insert(key, c);
                }
                Event::Delete(c) => {
                    let key = key_of(&c);
                    s.claims.remove(&key);
                    if let Some(v) = c.spec.as_ref().and_then(|s| s.volume_name.clone()) {
                        work.push(Work::Volume(v));
                    }
                    work.extend(
                        s.volumes
                            .iter()
                            .filter(|(_, v)| claim_ref_key(v).as_ref() == Some(&key))
                            .map(|(n, _)| Work::Volume(n.clone())),
                    );
                }
                Event::Init | Event::InitDone => {}
            }
        }
        for w in work {
            self.queue.add(w);
        }
    }

    fn volume_event(&self, ev: Event<PersistentVolume>) {
        let mut work = Vec::new();
        {
            let mut s = self.state();
            match ev {
                Event::Apply(v) | Event::InitApply(v) => {
                    let name = v.metadata.name.clone().unwrap_or_default();
                    if let Some((ns, n)) = claim_ref_key(&v) {
                        work.push(Work::Claim(ns, n));
                    } else {
                        // A new Available volume may satisfy a Pending claim.
                        work.extend(pending_claims(&s));
                    }
                    work.push(Work::Volume(name.clone()));
                    s.volumes.insert(name, v);
                }
                Event::Delete(v) => {
                    let name = v.metadata.name.clone().unwrap_or_default();
                    s.volumes.remove(&name);
                    if let Some((ns, n)) = claim_ref_key(&v) {
                        work.push(Work::Claim(ns, n));
                    }
                }
                Event::Init | Event::InitDone => {}
            }
        }
        for w in work {
            self.queue.add(w);
        }
    }

    fn class_event(&self, ev: Event<StorageClass>) {
        let mut work = Vec::new();
        {
            let mut s = self.state();
            match ev {
                Event::Apply(c) | Event::InitApply(c) => {
                    s.classes
                        .insert(c.metadata.name.clone().unwrap_or_default(), c);
                    work.extend(pending_claims(&s));
                }
                Event::Delete(c) => {
                    s.classes
                        .remove(c.metadata.name.as_deref().unwrap_or_default());
                }
                Event::Init | Event::InitDone => {}
            }
        }
        for w in work {
            self.queue.add(w);
        }
    }

    async fn process(&self, work: &Work) -> Result<(), BinderError> {
        match work {
            Work::Claim(ns, name) => self.sync_claim(ns, name).await,
            Work::Volume(name) => self.sync_volume(name).await,
        }
    }

    async fn sync_claim(&self, ns: &str, name: &str) -> Result<(), BinderError> {
        let Some(claim) = self
            .state()
            .claims
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
        else {
            return Ok(());
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let spec = claim.spec.clone().unwrap_or_default();
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if let Some(vol) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
            // Bound already (or pre-bound by the user): finish the binding.
            let volume = self.state().volumes.get(vol).cloned();
            let Some(volume) = volume else {
                // A Bound claim whose volume is gone is Lost (upstream `syncBoundClaim`).
                let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
                if bound && volumes.get_opt(vol).await?.is_none() {
                    tracing::warn!(claim = %format!("{ns}/{name}"), volume = %vol, "the bound volume is gone; the claim is Lost");
                    let patch = json!({"status": {"phase": "Lost"}});
                    ok_missing(
                        claims
                            .patch_status(name, &pp(), &Patch::Merge(&patch))
                            .await,
                    )?;
                }
                return Ok(());
            };
            if !bound && core::prebound_to(&volume, &claim) || claim_ref_key(&volume).is_none() {
                self.bind(&claim, &volume).await?;
            }
            return Ok(());
        }
        let class_name = spec.storage_class_name.clone();
        let (class, default_class, volumes) = {
            let s = self.state();
            let class = class_name
                .as_deref()
                .and_then(|c| s.classes.get(c))
                .cloned();
            let default_class = s
                .classes
                .values()
                .filter(|c| {
                    c.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(core::ANN_DEFAULT_CLASS))
                        .is_some_and(|v| v == "true")
                })
                .filter_map(|c| c.metadata.name.clone())
                .min();
            (
                class,
                default_class,
                s.volumes.values().cloned().collect::<Vec<_>>(),
            )
        };
        if class_name.is_none() {
            // Retroactive default StorageClass assignment (upstream 1.28+).
            if let Some(def) = default_class {
                let patch = json!({"spec": {"storageClassName": def}});
                ok_missing(claims.patch(name, &pp(), &Patch::Merge(&patch)).await)?;
                return Ok(());
            }
        }
        let delayed = class
            .as_ref()
            .and_then(|c| c.volume_binding_mode.as_deref())
            == Some("WaitForFirstConsumer");
        let node = claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(core::ANN_SELECTED_NODE))
            .cloned();
        if let Some(v) = core::find_match(&claim, &volumes, delayed, node.as_deref()) {
            return self.bind(&claim, v).await;
        }
        if delayed && node.is_none() {
            return Ok(());
        }
        if let (Some(class), Some(node)) = (class, node)
            && class.provisioner == local_path::PROVISIONER
        {
            let policy = class.reclaim_policy.as_deref().unwrap_or("Delete");
            let pv = local_path::provision(&claim, &node, &self.data_dir, policy)?;
            tracing::info!(claim = %format!("{ns}/{name}"), node = %node, volume = ?pv.metadata.name, "local-path: provisioning a volume");
            let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
            match volumes.create(&PostParams::default(), &pv).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Bind `claim` and `volume` both ways, as upstream `bind`: volume claimRef, volume
    /// status, claim volumeName + annotations, claim status.
    async fn bind(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<(), BinderError> {
        let (ns, name) = key_of(claim);
        let vol_name = volume.metadata.name.clone().unwrap_or_default();
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        if !core::prebound_to(volume, claim)
            || volume
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .is_some_and(|r| r.uid.is_none())
        {
            // Conditional on the cached resourceVersion: a volume taken meanwhile by another
            // claim makes this a conflict (retried with a fresh cache), never a steal.
            let patch = json!({
                "metadata": {
                    "annotations": {core::ANN_BOUND_BY_CONTROLLER: "yes"},
                    "resourceVersion": volume.metadata.resource_version,
                },
                "spec": {"claimRef": {
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "namespace": ns, "name": name, "uid": claim.metadata.uid,
                    "resourceVersion": claim.metadata.resource_version,
                }}
            });
            let updated = volumes
                .patch(&vol_name, &pp(), &Patch::Merge(&patch))
                .await?;
            // Keep the cache ahead of the watch so the next claim does not pick this volume.
            self.state().volumes.insert(vol_name.clone(), updated);
        }
        if volume.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
            let patch = json!({"status": {"phase": "Bound"}});
            volumes
                .patch_status(&vol_name, &pp(), &Patch::Merge(&patch))
                .await?;
        }
        let spec = claim.spec.clone().unwrap_or_default();
        if spec.volume_name.as_deref() != Some(vol_name.as_str())
            || claim
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(core::ANN_BIND_COMPLETED))
                .is_none()
        {
            let mut ann = serde_json::Map::new();
            ann.insert(core::ANN_BIND_COMPLETED.into(), json!("yes"));
            if spec.volume_name.is_none() {
                ann.insert(core::ANN_BOUND_BY_CONTROLLER.into(), json!("yes"));
            }
            let patch = json!({
                "metadata": {"annotations": ann},
                "spec": {"volumeName": vol_name},
            });
            claims.patch(&name, &pp(), &Patch::Merge(&patch)).await?;
        }
        let vspec = volume.spec.clone().unwrap_or_default();
        let patch = json!({"status": {
            "phase": "Bound",
            "accessModes": vspec.access_modes,
            "capacity": vspec.capacity,
        }});
        claims
            .patch_status(&name, &pp(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(claim = %format!("{ns}/{name}"), volume = %vol_name, "bound a claim");
        Ok(())
    }

    async fn sync_volume(&self, name: &str) -> Result<(), BinderError> {
        let Some(volume) = self.state().volumes.get(name).cloned() else {
            return Ok(());
        };
        if volume.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let phase = volume
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            if phase != "Available" {
                let patch = json!({"status": {"phase": "Available"}});
                ok_missing(
                    volumes
                        .patch_status(name, &pp(), &Patch::Merge(&patch))
                        .await,
                )?;
            }
            return Ok(());
        };
        // Pre-bound but never bound (no uid yet): wait for the claim.
        let Some(uid) = r.uid.clone() else {
            if phase != "Available" {
                let patch = json!({"status": {"phase": "Available"}});
                ok_missing(
                    volumes
                        .patch_status(name, &pp(), &Patch::Merge(&patch))
                        .await,
                )?;
            }
            return Ok(());
        };
        if phase == "Released" || phase == "Failed" {
            if phase == "Released" && core::reclaim(&volume) == core::Reclaim::Delete {
                return self.delete_volume(&volume).await;
            }
            return Ok(());
        }
        let ns = r.namespace.clone().unwrap_or_default();
        let cname = r.name.clone().unwrap_or_default();
        let cached = self
            .state()
            .claims
            .get(&(ns.clone(), cname.clone()))
            .cloned();
        let claim = match cached {
            Some(c) if c.metadata.uid.as_deref() == Some(uid.as_str()) => Some(c),
            // Not (or not yet) in the cache: ask the API before releasing anything.
            _ => Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), &ns)
                .get_opt(&cname)
                .await?
                .filter(|c| c.metadata.uid.as_deref() == Some(uid.as_str())),
        };
        match claim {
            Some(c) => {
                let claim_points_here = c
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .is_some_and(|v| v == name);
                if claim_points_here && phase != "Bound" {
                    let patch = json!({"status": {"phase": "Bound"}});
                    volumes
                        .patch_status(name, &pp(), &Patch::Merge(&patch))
                        .await?;
                } else if !claim_points_here {
                    self.queue.add(Work::Claim(ns, cname));
                }
                Ok(())
            }
            None => {
                // The claim is gone: release and reclaim.
                tracing::info!(volume = %name, "the volume's claim is gone; releasing it");
                match core::reclaim(&volume) {
                    core::Reclaim::Delete => self.delete_volume(&volume).await,
                    core::Reclaim::Release => {
                        let patch = json!({"status": {"phase": "Released"}});
                        ok_missing(
                            volumes
                                .patch_status(name, &pp(), &Patch::Merge(&patch))
                                .await,
                        )?;
                        Ok(())
                    }
                }
            }
        }
    }

    async fn delete_volume(&self, volume: &PersistentVolume) -> Result<(), BinderError> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let name = volume.metadata.name.clone().unwrap_or_default();
        tracing::info!(volume = %name, "reclaim policy Delete: deleting the volume");
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: volume.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match volumes.delete(&name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Every claim without a volume.
fn pending_claims(s: &State) -> Vec<Work> {
    s.claims
        .iter()
        .filter(|(_, c)| {
            c.spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .is_none_or(str::is_empty)
        })
        .map(|((ns, n), _)| Work::Claim(ns.clone(), n.clone()))
        .collect()
}

/// Create the default StorageClass `local-path` unless it exists.
async fn ensure_default_class(client: &Client) {
    let api: Api<StorageClass> = Api::all(client.clone());
    loop {
        match api
            .create(&PostParams::default(), &local_path::default_storage_class())
            .await
        {
            Ok(_) => {
                tracing::info!("created the default StorageClass local-path");
                return;
            }
            Err(kube::Error::Api(e)) if e.code == 409 => return,
            Err(e) => {
                tracing::debug!("creating StorageClass local-path: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Spawn a watcher of `K` feeding `f`.
fn watch<K, F>(client: Client, f: F) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + k8s_openapi::serde::de::DeserializeOwned
        + Send
        + 'static,
    F: Fn(Event<K>) + Send + 'static,
{
    tokio::spawn(async move {
        let stream =
            watcher::watcher(Api::<K>::all(client), watcher::Config::default()).default_backoff();
        futures_util::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => f(ev),
                Err(e) => tracing::debug!("PV binder watch: {e}"),
            }
        }
    })
}

/// Run the binder and the local-path provisioner (volumes under `<data_dir>/storage`) until
/// dropped.
pub async fn run(client: Client, data_dir: PathBuf) {
    ensure_default_class(&client).await;
    let b = Arc::new(Binder {
        client: client.clone(),
        data_dir,
        state: Mutex::new(State::default()),
        queue: Arc::new(WorkQueue::new()),
    });
    let (b1, b2, b3) = (Arc::clone(&b), Arc::clone(&b), Arc::clone(&b));
    let classes = watch::<StorageClass, _>(client.clone(), move |e| b1.class_event(e));
    let claims = watch::<PersistentVolumeClaim, _>(client.clone(), move |e| b2.claim_event(e));
    let volumes = watch::<PersistentVolume, _>(client.clone(), move |e| b3.volume_event(e));
    let g = Arc::clone(&b);
    let worker = tokio::spawn(async move {
        loop {
            let work = g.queue.next().await;
            if let Err(e) = g.process(&work).await {
                tracing::debug!("PV binder {work:?}: {e}");
                g.queue.add_after(work.clone(), Duration::from_secs(1));
            }
            g.queue.done(&work);
        }
    });
    let (_, _, rest) = futures_util::future::select_all([classes, claims, volumes, worker]).await;
    for t in rest {
        t.abort();
    }
}
