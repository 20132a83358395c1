//! The API objects a pod's environment and volumes are made from (ConfigMaps, Secrets,
//! PersistentVolumeClaims, PersistentVolumes), behind [`ObjectSource`]: a synchronous lookup
//! in a local cache, so the pure cores of [`crate::env`] and [`crate::volumes`] can take it
//! as a value.
//!
//! [`KubeObjects`] is the real source: one kube-runtime reflector per kind, cluster-wide.
//! Upstream's kubelet instead opens one watch per object its pods reference; with the
//! reflector the agent holds one watch per kind and every lookup is a map read, and a change
//! reaches the pod loop within the watch latency through [`KubeObjects::subscribe`]. The
//! price is memory proportional to the cluster's ConfigMaps and Secrets (each at most 1 MiB
//! by API validation); `managedFields` are dropped before caching, and a lightweight
//! cluster's objects of these kinds are few. Narrowing the watch to the namespaces this
//! node's pods live in is the next step if that ever matters.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, PodSpec, Secret,
};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Read access to the objects pods reference. Implementations answer from memory: `None`
/// means the object does not exist (as far as the source knows).
pub trait ObjectSource: Send + Sync {
    /// The ConfigMap `namespace/name`.
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>>;
    /// The Secret `namespace/name`.
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>>;
    /// The PersistentVolumeClaim `namespace/name`.
    fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<PersistentVolumeClaim>>;
    /// The PersistentVolume `name`.
    fn persistent_volume(&self, name: &str) -> Option<Arc<PersistentVolume>>;
}

/// The kinds of object an [`ObjectSource`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Secret.
    Secret,
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// core/v1 PersistentVolume (cluster-scoped: the key's namespace is empty).
    PersistentVolume,
}

/// One object: kind, namespace (empty when cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// What kind of object.
    pub kind: ObjectKind,
    /// Its namespace; empty for PersistentVolumes.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectKey {
    fn new(kind: ObjectKind, namespace: &str, name: &str) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// What [`KubeObjects::subscribe`] announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectChange {
    /// The object was created, modified or deleted.
    Changed(ObjectKey),
    /// The watch of this kind was re-listed (after a disconnect): any object of the kind
    /// may have changed. Also what a receiver should assume after `RecvError::Lagged`.
    Resynced(ObjectKind),
}

/// The ConfigMaps, Secrets and claims `pod` references (env, envFrom, volumes, projected
/// sources), so the pod loop knows which [`ObjectChange`]s concern which pod. Names with no
/// value are left out.
pub fn pod_references(pod: &Pod) -> BTreeSet<ObjectKey> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut refs = BTreeSet::new();
    let Some(spec) = pod.spec.as_ref() else {
        return refs;
    };
    let mut add = |kind, name: Option<&str>| {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            refs.insert(ObjectKey::new(kind, ns, name));
        }
    };
    for (env, env_from) in container_env_sources(spec) {
        for var in env.into_iter().flatten() {
            let Some(from) = var.value_from.as_ref() else {
                continue;
            };
            if let Some(r) = &from.config_map_key_ref {
                add(ObjectKind::ConfigMap, Some(r.name.as_str()));
            }
            if let Some(r) = &from.secret_key_ref {
                add(ObjectKind::Secret, Some(r.name.as_str()));
            }
        }
        for source in env_from.into_iter().flatten() {
            if let Some(r) = &source.config_map_ref {
                add(ObjectKind::ConfigMap, Some(r.name.as_str()));
            }
            if let Some(r) = &source.secret_ref {
                add(ObjectKind::Secret, Some(r.name.as_str()));
            }
        }
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(cm) = &volume.config_map {
            add(ObjectKind::ConfigMap, Some(cm.name.as_str()));
        }
        if let Some(s) = &volume.secret {
            add(ObjectKind::Secret, s.secret_name.as_deref());
        }
        if let Some(claim) = &volume.persistent_volume_claim {
            add(
                ObjectKind::PersistentVolumeClaim,
                Some(claim.claim_name.as_str()),
            );
        }
        let sources = volume.projected.as_ref().and_then(|p| p.sources.as_ref());
        for source in sources.into_iter().flatten() {
            if let Some(cm) = &source.config_map {
                add(ObjectKind::ConfigMap, Some(cm.name.as_str()));
            }
            if let Some(s) = &source.secret {
                add(ObjectKind::Secret, Some(s.name.as_str()));
            }
        }
    }
    refs
}

type EnvSources<'a> = (
    Option<&'a Vec<k8s_openapi::api::core::v1::EnvVar>>,
    Option<&'a Vec<k8s_openapi::api::core::v1::EnvFromSource>>,
);

/// The env and envFrom lists of every container, init container and ephemeral container.
fn container_env_sources(spec: &PodSpec) -> Vec<EnvSources<'_>> {
    let regular = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| (c.env.as_ref(), c.env_from.as_ref()));
    let ephemeral = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| (c.env.as_ref(), c.env_from.as_ref()));
    regular.chain(ephemeral).collect()
}

/// A fixed set of objects: the source unit tests of the pure cores use.
#[cfg(test)]
#[derive(Clone, Debug, Default)]
pub struct ObjectSnapshot {
    config_maps: std::collections::BTreeMap<(String, String), Arc<ConfigMap>>,
    secrets: std::collections::BTreeMap<(String, String), Arc<Secret>>,
    claims: std::collections::BTreeMap<(String, String), Arc<PersistentVolumeClaim>>,
    volumes: std::collections::BTreeMap<String, Arc<PersistentVolume>>,
}

#[cfg(test)]
fn namespaced_key<K: Resource>(o: &K) -> (String, String) {
    let meta = o.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
fn lookup<V>(
    map: &std::collections::BTreeMap<(String, String), Arc<V>>,
    ns: &str,
    name: &str,
) -> Option<Arc<V>> {
    map.get(&(ns.to_string(), name.to_string())).cloned()
}

#[cfg(test)]
impl ObjectSnapshot {
    /// Add (or replace) a ConfigMap.
    pub fn insert_config_map(&mut self, cm: ConfigMap) {
        self.config_maps.insert(namespaced_key(&cm), Arc::new(cm));
    }
    /// Add (or replace) a Secret.
    pub fn insert_secret(&mut self, secret: Secret) {
        self.secrets
            .insert(namespaced_key(&secret), Arc::new(secret));
    }
    /// Add (or replace) a PersistentVolumeClaim.
    pub fn insert_claim(&mut self, claim: PersistentVolumeClaim) {
        self.claims.insert(namespaced_key(&claim), Arc::new(claim));
    }
    /// Add (or replace) a PersistentVolume.
    pub fn insert_volume(&mut self, volume: PersistentVolume) {
        let name = volume.metadata.name.clone().unwrap_or_default();
        self.volumes.insert(name, Arc::new(volume));
    }
}

#[cfg(test)]
impl ObjectSource for ObjectSnapshot {
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        lookup(&self.config_maps, namespace, name)
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        lookup(&self.secrets, namespace, name)
    }
    fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<PersistentVolumeClaim>> {
        lookup(&self.claims, namespace, name)
    }
    fn persistent_volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(name).cloned()
    }
}

/// How many unreceived changes a subscriber may fall behind before it sees `Lagged` (and
/// must then treat every kind as [`ObjectChange::Resynced`]).
const CHANGE_BUFFER: usize = 1024;

/// Why [`KubeObjects::wait_until_ready`] failed.
#[derive(Debug, thiserror::Error)]
#[error("the {0} watch stopped before its first list completed")]
pub struct NotReady(&'static str);

/// The real [`ObjectSource`]: reflectors over the API (see the module doc for the choice).
/// Dropping it stops the watches.
pub struct KubeObjects {
    config_maps: Store<ConfigMap>,
    secrets: Store<Secret>,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    changes: broadcast::Sender<ObjectChange>,
    tasks: Vec<JoinHandle<()>>,
}

impl KubeObjects {
    /// Start the four watches. With `reclaim_for_node`, a deleted PersistentVolume that the
    /// local-path provisioner pinned to that node (the value of its `kubernetes.io/hostname`
    /// label) has its directory removed, see
    /// [`crate::volumes::remove_reclaimed_local_path`]: the provisioner on the server only
    /// deletes the object, and the directory lives on the node. (A deletion that happens
    /// while the watch is disconnected is not seen as such and leaves the directory.)
    /// Must be called within a Tokio runtime.
    pub fn start(client: Client, reclaim_for_node: Option<String>) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        let (config_maps, w1) = reflector::store();
        let (secrets, w2) = reflector::store();
        let (claims, w3) = reflector::store();
        let (volumes, w4) = reflector::store();
        let on_volume_deleted = move |pv: &PersistentVolume| {
            let Some(node) = reclaim_for_node.clone() else {
                return;
            };
            let pv = pv.clone();
            tokio::task::spawn_blocking(move || match crate::volumes::remove_reclaimed_local_path(
                &pv, &node,
            ) {
                Ok(Some(path)) => {
                    tracing::info!(path = %path.display(), "removed a reclaimed local-path volume")
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "removing a reclaimed local-path volume"),
            });
        };
        let tasks = vec![
            spawn_reflector(
                Api::all(client.clone()),
                w1,
                ObjectKind::ConfigMap,
                changes.clone(),
                |_| {},
            ),
            spawn_reflector(
                Api::all(client.clone()),
                w2,
                ObjectKind::Secret,
                changes.clone(),
                |_| {},
            ),
            spawn_reflector(
                Api::all(client.clone()),
                w3,
                ObjectKind::PersistentVolumeClaim,
                changes.clone(),
                |_| {},
            ),
            spawn_reflector(
                Api::all(client),
                w4,
                ObjectKind::PersistentVolume,
                changes.clone(),
                on_volume_deleted,
            ),
        ];
        KubeObjects {
            config_maps,
            secrets,
            claims,
            volumes,
            changes,
            tasks,
        }
    }

    /// Changes from now on. After `RecvError::Lagged` the receiver must assume every kind
    /// was [`ObjectChange::Resynced`].
    pub fn subscribe(&self) -> broadcast::Receiver<ObjectChange> {
        self.changes.subscribe()
    }

    /// Wait until every watch has completed its first list, so that a missing object
    /// really is missing.
    pub async fn wait_until_ready(&self) -> Result<(), NotReady> {
        let cm = self.config_maps.wait_until_ready();
        let s = self.secrets.wait_until_ready();
        let c = self.claims.wait_until_ready();
        let v = self.volumes.wait_until_ready();
        cm.await.map_err(|_| NotReady("ConfigMap"))?;
        s.await.map_err(|_| NotReady("Secret"))?;
        c.await.map_err(|_| NotReady("PersistentVolumeClaim"))?;
        v.await.map_err(|_| NotReady("PersistentVolume"))?;
        Ok(())
    }
}

impl Drop for KubeObjects {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ObjectSource for KubeObjects {
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.config_maps
            .get(&ObjectRef::new(name).within(namespace))
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets.get(&ObjectRef::new(name).within(namespace))
    }
    fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }
    fn persistent_volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }
}

/// Run one reflector: keep `writer`'s store current, announce changes, and call
/// `on_deleted` for each deleted object. Watch errors are retried with kube's back-off.
fn spawn_reflector<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    kind: ObjectKind,
    changes: broadcast::Sender<ObjectChange>,
    on_deleted: impl Fn(&K) + Send + 'static,
) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api)
            .default_backoff()
            .modify(|o: &mut K| o.meta_mut().managed_fields = None)
            .reflect(writer);
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let change = match event {
                Ok(Event::Apply(o)) => Some(ObjectChange::Changed(key_of(kind, &o))),
                Ok(Event::Delete(o)) => {
                    on_deleted(&o);
                    Some(ObjectChange::Changed(key_of(kind, &o)))
                }
                Ok(Event::InitDone) => Some(ObjectChange::Resynced(kind)),
                Ok(Event::Init | Event::InitApply(_)) => None,
                Err(e) => {
                    tracing::warn!(?kind, error = %e, "watch failed; retrying");
                    None
                }
            };
            if let Some(change) = change {
                // No receivers is fine: nobody needs to hear about it.
                let _ = changes.send(change);
            }
        }
    })
}

fn watcher<K>(api: Api<K>) -> impl futures_util::Stream<Item = Result<Event<K>, watcher::Error>>
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default())
}

fn key_of<K: Resource>(kind: ObjectKind, o: &K) -> ObjectKey {
    let meta = o.meta();
    ObjectKey::new(
        kind,
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests;
