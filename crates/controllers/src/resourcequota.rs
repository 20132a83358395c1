//! The resource quota controller (upstream `pkg/controller/resourcequota`): keeps each
//! ResourceQuota's `status.hard` (= `spec.hard`) and `status.used` (what the namespace's
//! objects selected by the quota's scopes use, terminal pods not counted), computed by
//! [`k3rs_api::resources::quota::calculate_used`].
//!
//! Admission charges creates to `status.used` itself (see the API server's `admission.rs`);
//! this controller recalculates when a quota is created or its spec changes and when usage
//! goes down or may have been over-charged: deletions, pods turning terminal or being deleted,
//! services and claims changing. Pods, services, claims, ConfigMaps, Secrets,
//! ReplicationControllers, ReplicaSets, Deployments and ResourceQuotas are watched (pods,
//! ReplicationControllers, ReplicaSets and Deployments through the workload controllers'
//! shared informers; ConfigMaps and Secrets only as metadata); `count/<resource>` of other kinds
//! is counted by a metadata list when the quota is recalculated (only quota changes trigger
//! that).
//! Status writes carry the cached resourceVersion, so a write racing an admission charge
//! fails and is retried on fresh data.

use std::sync::Arc;
use std::time::Duration;

use k3rs_api::resources::{self, quota};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Secret, Service,
};
use k8s_openapi::serde::Serialize;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PartialObjectMeta, Patch};
use serde_json::{Map, Value, json};

use crate::Context;
use crate::replicaset::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{Informers, is_not_found, patch_params};

/// A quota whose `status.hard` was just set is recalculated once more after this long: objects
/// created while it had no status were not charged by admission (as upstream, which catches
/// them with a periodic full resync instead).
const SETTLE: Duration = Duration::from_secs(5);

/// Concurrent quota syncs (upstream `--concurrent-resource-quota-syncs` is 5).
const WORKERS: usize = 2;

pub use crate::SyncError as Error;

struct Controller {
    client: kube::Client,
    quotas: Arc<Cache<ResourceQuota>>,
    pods: Arc<Cache<Pod>>,
    services: Arc<Cache<Service>>,
    claims: Arc<Cache<PersistentVolumeClaim>>,
    configmaps: Arc<Cache<PartialObjectMeta<ConfigMap>>>,
    secrets: Arc<Cache<PartialObjectMeta<Secret>>>,
    replicationcontrollers: Arc<Cache<ReplicationController>>,
    replicasets: Arc<Cache<ReplicaSet>>,
    deployments: Arc<Cache<Deployment>>,
    queue: Arc<WorkQueue>,
}

/// Queue every quota of a namespace.
fn enqueue_namespace(quotas: &Cache<ResourceQuota>, queue: &WorkQueue, ns: Option<&String>) {
    for q in quotas.list(ns.map(String::as_str).unwrap_or_default()) {
        queue.add(object_key(q.as_ref()));
    }
}

/// Whether a pod change may lower its usage: it turned terminal or started terminating.
fn pod_released(old: &Pod, new: &Pod) -> bool {
    let terminal = |p: &Pod| {
        matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    };
    terminal(old) != terminal(new)
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
}

/// Subscribe `informer` so that deletions (and, when `on_update`, any update) queue the
/// namespace's quotas.
fn on_changes<K>(
    informer: &mut Informer<K>,
    quotas: Arc<Cache<ResourceQuota>>,
    queue: Arc<WorkQueue>,
    on_update: bool,
) where
    K: Resource
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + k8s_openapi::serde::de::DeserializeOwned
        + 'static,
    K::DynamicType: Default,
{
    informer.subscribe(move |ch| match ch {
        Change::Applied { old: Some(_), new } if on_update => {
            enqueue_namespace(&quotas, &queue, new.meta().namespace.as_ref())
        }
        Change::Applied { .. } => {}
        Change::Deleted(o) => enqueue_namespace(&quotas, &queue, o.meta().namespace.as_ref()),
    });
}

/// Start the controller on the shared pod and ReplicationController informers; its own
/// informers are started here.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let client = || ctx.client.clone();
    let mut quotas: Informer<ResourceQuota> = Informer::new(Api::all(client()));
    let mut services: Informer<Service> = Informer::new(Api::all(client()));
    let mut claims: Informer<PersistentVolumeClaim> = Informer::new(Api::all(client()));
    // Only counted: their metadata is all that is kept.
    let mut configmaps: Informer<PartialObjectMeta<ConfigMap>> = Informer::new(Api::all(client()));
    let mut secrets: Informer<PartialObjectMeta<Secret>> = Informer::new(Api::all(client()));
    let q = queue.clone();
    // Status changes are this controller's and admission's own: only new quotas and spec
    // changes need a recalculation.
    quotas.subscribe(move |ch| {
        if let Change::Applied { old, new } = ch
            && old.as_ref().is_none_or(|o| o.spec != new.spec)
        {
            q.add(object_key(new.as_ref()));
        }
    });
    let cache = quotas.cache();
    on_changes(&mut services, cache.clone(), queue.clone(), true);
    on_changes(&mut claims, cache.clone(), queue.clone(), true);
    on_changes(&mut configmaps, cache.clone(), queue.clone(), false);
    on_changes(&mut secrets, cache.clone(), queue.clone(), false);
    on_changes(
        &mut inf.replicationcontrollers,
        cache.clone(),
        queue.clone(),
        false,
    );
    on_changes(&mut inf.replicasets, cache.clone(), queue.clone(), false);
    on_changes(&mut inf.deployments, cache.clone(), queue.clone(), false);
    let (c2, q2) = (cache.clone(), queue.clone());
    inf.pods.subscribe(move |ch| match ch {
        Change::Applied {
            old: Some(old),
            new,
        } if pod_released(old, new) => enqueue_namespace(&c2, &q2, new.metadata.namespace.as_ref()),
        Change::Applied { .. } => {}
        Change::Deleted(p) => enqueue_namespace(&c2, &q2, p.metadata.namespace.as_ref()),
    });
    // Quotas count quotas too.
    let (c3, q3) = (cache, queue.clone());
    quotas.subscribe(move |ch| {
        if let Change::Deleted(o) = ch {
            enqueue_namespace(&c3, &q3, o.metadata.namespace.as_ref());
        }
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        quotas: quotas.cache(),
        pods: inf.pods.cache(),
        services: services.cache(),
        claims: claims.cache(),
        configmaps: configmaps.cache(),
        secrets: secrets.cache(),
        replicationcontrollers: inf.replicationcontrollers.cache(),
        replicasets: inf.replicasets.cache(),
        deployments: inf.deployments.cache(),
        queue,
    });
    let mut tasks = vec![
        quotas.run(),
        services.run(),
        claims.run(),
        configmaps.run(),
        secrets.run(),
    ];
    tasks.extend(spawn_workers(&c, WORKERS));
    tasks
}

impl Reconcile for Controller {
    const NAME: &'static str = "resourcequota";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.quotas.wait_ready().await;
        self.pods.wait_ready().await;
        self.services.wait_ready().await;
        self.claims.wait_ready().await;
        self.configmaps.wait_ready().await;
        self.secrets.wait_ready().await;
        self.replicationcontrollers.wait_ready().await;
        self.replicasets.wait_ready().await;
        self.deployments.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

fn values_of<K>(cache: &Cache<K>, ns: &str) -> Result<Vec<Value>, serde_json::Error>
where
    K: Resource + Serialize,
{
    cache
        .list(ns)
        .iter()
        .map(|o| serde_json::to_value(o.as_ref()))
        .collect()
}

impl Controller {
    /// The namespace's objects of `(group, plural)` as JSON: from a cache for the watched
    /// kinds, otherwise by a metadata list (object counts need nothing more).
    async fn objects(&self, group: &str, plural: &str, ns: &str) -> Result<Vec<Value>, Error> {
        Ok(match (group, plural) {
            ("", "pods") => values_of(&self.pods, ns)?,
            ("", "services") => values_of(&self.services, ns)?,
            ("", "persistentvolumeclaims") => values_of(&self.claims, ns)?,
            ("", "configmaps") => values_of(&self.configmaps, ns)?,
            ("", "secrets") => values_of(&self.secrets, ns)?,
            ("", "replicationcontrollers") => values_of(&self.replicationcontrollers, ns)?,
            ("", "resourcequotas") => values_of(&self.quotas, ns)?,
            ("apps", "replicasets") => values_of(&self.replicasets, ns)?,
            ("apps", "deployments") => values_of(&self.deployments, ns)?,
            _ => {
                let Some(info) = k3rs_api::registry::lookup_preferred(group, plural) else {
                    return Ok(Vec::new());
                };
                let ar = ApiResource {
                    group: info.group.into(),
                    version: info.version.into(),
                    api_version: info.api_version(),
                    kind: info.kind.into(),
                    plural: info.plural.into(),
                };
                let api: Api<DynamicObject> = if info.namespaced {
                    Api::namespaced_with(self.client.clone(), ns, &ar)
                } else {
                    return Ok(Vec::new());
                };
                let list = api.list_metadata(&ListParams::default()).await?;
                list.items.iter().map(|_| json!({"metadata": {}})).collect()
            }
        })
    }

    /// Recalculate one quota and write its status when it changed; asks for one more look
    /// after [`SETTLE`] when `status.hard` changed.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(rq) = self.quotas.get(ns, name) else {
            return Ok(None);
        };
        let object = serde_json::to_value(rq.as_ref())?;
        let hard = resources::parse_list(object.pointer("/spec/hard"));
        // The kinds whose objects this quota's resources count.
        let mut kinds: Vec<(String, String)> = quota::KINDS
            .iter()
            .filter(|(g, p)| hard.keys().any(|n| quota::tracks(g, p, n)))
            .map(|(g, p)| (g.to_string(), p.to_string()))
            .collect();
        for n in hard.keys() {
            if let Some((g, p)) = quota::counted_resource(n)
                && !kinds.iter().any(|(kg, kp)| kg == g && kp == p)
            {
                kinds.push((g.to_string(), p.to_string()));
            }
        }
        let mut objects: Vec<(String, String, Value)> = Vec::new();
        for (g, p) in kinds {
            for o in self.objects(&g, &p, ns).await? {
                objects.push((g.clone(), p.clone(), o));
            }
        }
        let now = time::OffsetDateTime::now_utc();
        let computed = quota::calculate_used(
            &object,
            objects.iter().map(|(g, p, o)| (g.as_str(), p.as_str(), o)),
            now,
        );
        // Resources no evaluator tracks keep what was there (upstream), masked to spec.hard.
        let mut used = resources::mask(
            &resources::parse_list(object.pointer("/status/used")),
            hard.keys(),
        );
        used.extend(computed);
        let status = json!({
            "hard": resources::list_to_json(&hard),
            "used": resources::list_to_json(&used),
        });
        let current = json!({
            "hard": resources::list_to_json(&resources::parse_list(object.pointer("/status/hard"))),
            "used": resources::list_to_json(&resources::parse_list(object.pointer("/status/used"))),
        });
        if status == current {
            return Ok(None);
        }
        let settle = (status["hard"] != current["hard"]).then_some(SETTLE);
        // A merge patch merges maps: resources dropped from spec.hard are removed with nulls.
        let mut body = status;
        for field in ["hard", "used"] {
            let before: Vec<String> = object
                .pointer(&format!("/status/{field}"))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if let Some(m) = body.get_mut(field).and_then(Value::as_object_mut) {
                for k in before {
                    m.entry(k).or_insert(Value::Null);
                }
            }
        }
        let patch = json!({
            "metadata": {"resourceVersion": rq.metadata.resource_version},
            "status": Value::Object(body.as_object().cloned().unwrap_or_else(Map::new)),
        });
        let api: Api<ResourceQuota> = Api::namespaced(self.client.clone(), ns);
        match api
            .patch_status(name, &patch_params(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(settle),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
