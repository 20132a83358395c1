//! The disruption controller (upstream `pkg/controller/disruption`): keeps each
//! PodDisruptionBudget's status — expectedPods (from the scale of the selected pods'
//! controllers: Deployment, ReplicaSet, ReplicationController, StatefulSet; one per bare pod),
//! desiredHealthy, currentHealthy, disruptionsAllowed, the disruptedPods the eviction
//! subresource recorded (dropped after two minutes), observedGeneration and the
//! DisruptionAllowed condition.
//!
//! Event-driven: budget and pod changes queue the affected budgets on the shared worker pool;
//! a recorded disruption queues its budget again when it expires. The decisions live in
//! [`core`]; status writes carry the cached resourceVersion, so a write racing an eviction's
//! decrement fails and is retried on fresh data.

pub mod core;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch};
use serde_json::{Map, Value, json};

use self::core::{Amount, PodView, Rule};
use crate::Context;
use crate::replicaset::core::{self as rscore, Selector};
use crate::replicaset::events::{Recorder, reference};
use crate::replicaset::runtime::{
    Cache, Change, Informer, Reconcile, WorkQueue, object_key, spawn_workers, split_key,
};
use crate::replicaset::{Informers, is_not_found, patch_params};

/// Concurrent budget syncs (upstream runs 1 worker per queue; budgets are cheap).
const WORKERS: usize = 2;

pub use crate::SyncError as Error;

struct Controller {
    client: kube::Client,
    budgets: Arc<Cache<PodDisruptionBudget>>,
    pods: Arc<Cache<Pod>>,
    deployments: Arc<Cache<Deployment>>,
    replicasets: Arc<Cache<ReplicaSet>>,
    replicationcontrollers: Arc<Cache<ReplicationController>>,
    statefulsets: Arc<Cache<StatefulSet>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

fn selector_of(pdb: &PodDisruptionBudget) -> Option<Selector> {
    // A budget without a selector selects nothing.
    let ls = pdb.spec.as_ref()?.selector.as_ref()?;
    Selector::from_label_selector(ls).ok()
}

/// Queue the budgets of the pod's namespace whose selector matches it.
fn enqueue_budgets_of(budgets: &Cache<PodDisruptionBudget>, queue: &WorkQueue, meta: &ObjectMeta) {
    let ns = meta.namespace.as_deref().unwrap_or_default();
    for pdb in budgets.list(ns) {
        if selector_of(&pdb).is_some_and(|s| s.matches(meta.labels.as_ref())) {
            queue.add(object_key(pdb.as_ref()));
        }
    }
}

/// Start the controller on the shared workload informers; its own are started here.
pub(crate) fn start(ctx: &Context, inf: &mut Informers) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = Arc::new(WorkQueue::new());
    let mut budgets: Informer<PodDisruptionBudget> = Informer::new(Api::all(ctx.client.clone()));
    let statefulsets: Informer<StatefulSet> = Informer::new(Api::all(ctx.client.clone()));
    let q = queue.clone();
    budgets.subscribe(move |ch| match ch {
        Change::Applied { new, .. } => q.add(object_key(new.as_ref())),
        Change::Deleted(o) => q.add(object_key(o.as_ref())),
    });
    let (q, cache) = (queue.clone(), budgets.cache());
    inf.pods.subscribe(move |ch| match ch {
        Change::Applied { old, new } => {
            let relevant = old.as_ref().is_none_or(|o| {
                o.metadata.labels != new.metadata.labels
                    || rscore::is_ready(o) != rscore::is_ready(new)
                    || o.metadata.deletion_timestamp != new.metadata.deletion_timestamp
                    || o.status.as_ref().and_then(|s| s.phase.as_ref())
                        != new.status.as_ref().and_then(|s| s.phase.as_ref())
            });
            if relevant {
                enqueue_budgets_of(&cache, &q, &new.metadata);
                if let Some(o) = old {
                    enqueue_budgets_of(&cache, &q, &o.metadata);
                }
            }
        }
        Change::Deleted(p) => enqueue_budgets_of(&cache, &q, &p.metadata),
    });
    let c = Arc::new(Controller {
        client: ctx.client.clone(),
        budgets: budgets.cache(),
        pods: inf.pods.cache(),
        deployments: inf.deployments.cache(),
        replicasets: inf.replicasets.cache(),
        replicationcontrollers: inf.replicationcontrollers.cache(),
        statefulsets: statefulsets.cache(),
        queue,
        recorder: Recorder::new(
            ctx.client.clone(),
            "controllermanager",
            ctx.identity.clone(),
        ),
    });
    let mut tasks = vec![budgets.run(), statefulsets.run()];
    tasks.extend(spawn_workers(&c, WORKERS));
    tasks
}

impl Reconcile for Controller {
    const NAME: &'static str = "disruption";
    fn queue(&self) -> &Arc<WorkQueue> {
        &self.queue
    }
    async fn ready(&self) {
        self.budgets.wait_ready().await;
        self.pods.wait_ready().await;
        self.deployments.wait_ready().await;
        self.replicasets.wait_ready().await;
        self.replicationcontrollers.wait_ready().await;
        self.statefulsets.wait_ready().await;
    }
    async fn reconcile(&self, key: &str) -> Result<Option<Duration>, String> {
        self.sync(key).await.map_err(|e| e.to_string())
    }
}

fn amount(v: &IntOrString) -> Amount {
    match v {
        IntOrString::Int(n) => Amount::Int(*n),
        IntOrString::String(s) => Amount::Percent(s.clone()),
    }
}

fn rule_of(pdb: &PodDisruptionBudget) -> Rule {
    let spec = pdb.spec.as_ref();
    match (
        spec.and_then(|s| s.max_unavailable.as_ref()),
        spec.and_then(|s| s.min_available.as_ref()),
    ) {
        (Some(m), _) => Rule::MaxUnavailable(amount(m)),
        (None, Some(m)) => Rule::MinAvailable(amount(m)),
        (None, None) => Rule::None,
    }
}

/// An RFC 3339 time as the API shows it.
fn time_json(t: Timestamp) -> Value {
    serde_json::to_value(Time(t)).unwrap_or(Value::Null)
}

impl Controller {
    /// The uid and scale of a pod's controller (upstream's finders); for a ReplicaSet owned
    /// by a Deployment, the Deployment's.
    fn controller_scale(&self, ns: &str, pod: &Pod) -> Result<Option<(String, i32)>, String> {
        let Some(r) = rscore::controller_of(&pod.metadata) else {
            return Ok(None);
        };
        let missing = || {
            format!(
                "found no controllers for pod {:?}",
                pod.metadata.name.as_deref().unwrap_or("")
            )
        };
        let uid_ok = |m: &ObjectMeta| m.uid.as_deref() == Some(r.uid.as_str());
        let found = match r.kind.as_str() {
            "ReplicaSet" => self
                .replicasets
                .get(ns, &r.name)
                .filter(|rs| uid_ok(&rs.metadata))
                .and_then(|rs| match rscore::controller_of(&rs.metadata) {
                    Some(d) if d.kind == "Deployment" => self
                        .deployments
                        .get(ns, &d.name)
                        .filter(|dep| dep.metadata.uid.as_deref() == Some(d.uid.as_str()))
                        .map(|dep| {
                            (
                                d.uid.clone(),
                                dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                            )
                        }),
                    _ => Some((
                        r.uid.clone(),
                        rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )),
                }),
            "ReplicationController" => self
                .replicationcontrollers
                .get(ns, &r.name)
                .filter(|rc| uid_ok(&rc.metadata))
                .map(|rc| {
                    (
                        r.uid.clone(),
                        rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )
                }),
            "StatefulSet" => self
                .statefulsets
                .get(ns, &r.name)
                .filter(|s| uid_ok(&s.metadata))
                .map(|s| {
                    (
                        r.uid.clone(),
                        s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )
                }),
            _ => None,
        };
        found.map(Some).ok_or_else(missing)
    }

    /// One sync of the budget at `key`; returns when a recorded disruption expires.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = split_key(key);
        let Some(pdb) = self.budgets.get(ns, name) else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let pods: Vec<Arc<Pod>> = match selector_of(&pdb) {
            Some(sel) => self
                .pods
                .list(ns)
                .into_iter()
                .filter(|p| sel.matches(p.metadata.labels.as_ref()))
                .collect(),
            None => Vec::new(),
        };
        if pods.is_empty() {
            self.recorder.record(
                reference(pdb.as_ref()),
                "Normal",
                "NoPods",
                "No matching pods found".into(),
            );
        }
        let views: Result<Vec<PodView>, String> = pods
            .iter()
            .map(|p| {
                Ok(PodView {
                    name: p.metadata.name.clone().unwrap_or_default(),
                    ready: rscore::is_ready(p),
                    terminating: p.metadata.deletion_timestamp.is_some(),
                    controller: self.controller_scale(ns, p)?,
                })
            })
            .collect();
        let current = serde_json::to_value(pdb.status.clone().unwrap_or_default())?;
        let mut status = current.as_object().cloned().unwrap_or_default();
        let generation = pdb.metadata.generation.unwrap_or(0);
        let computed = views.and_then(|v| {
            let (expected, desired) = core::expected_and_desired(&rule_of(&pdb), &v)?;
            Ok((v, expected, desired))
        });
        let mut recheck = None;
        match computed {
            Ok((views, expected, desired)) => {
                let recorded: BTreeMap<String, Timestamp> = pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .map(|m| m.iter().map(|(k, t)| (k.clone(), t.0)).collect())
                    .unwrap_or_default();
                let (standing, next) = core::standing_disruptions(&recorded, &views, now);
                recheck = next;
                let c = core::counts(core::current_healthy(&views, &standing), desired, expected);
                status.insert("currentHealthy".into(), json!(c.current_healthy));
                status.insert("desiredHealthy".into(), json!(c.desired_healthy));
                status.insert("expectedPods".into(), json!(c.expected_pods));
                status.insert("disruptionsAllowed".into(), json!(c.disruptions_allowed));
                status.insert("observedGeneration".into(), json!(generation));
                let disrupted: Map<String, Value> = standing
                    .into_iter()
                    .map(|(k, t)| (k, time_json(t)))
                    .collect();
                if disrupted.is_empty() {
                    status.remove("disruptedPods");
                } else {
                    status.insert("disruptedPods".into(), Value::Object(disrupted));
                }
                let now_s = time_json(now);
                k3rs_api::disruption::set_disruption_allowed(
                    &mut status,
                    now_s.as_str().unwrap_or_default(),
                );
            }
            Err(e) => {
                self.recorder.record(
                    reference(pdb.as_ref()),
                    "Warning",
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {e}"),
                );
                // Upstream's failSafe: no disruptions until the budget can be computed.
                status.insert("disruptionsAllowed".into(), json!(0));
                set_sync_failed(&mut status, &e, time_json(now));
            }
        }
        let desired = Value::Object(status);
        if desired == current {
            return Ok(recheck);
        }
        let mut body = desired.clone();
        // A merge patch merges maps: pods no longer disrupted are removed with nulls.
        if let (Some(before), Some(after)) = (
            current.get("disruptedPods").and_then(Value::as_object),
            body.as_object_mut(),
        ) {
            let entry = after.entry("disruptedPods").or_insert_with(|| json!({}));
            if let Some(m) = entry.as_object_mut() {
                for k in before.keys() {
                    m.entry(k.clone()).or_insert(Value::Null);
                }
            }
        }
        let patch = json!({
            "metadata": {"resourceVersion": pdb.metadata.resource_version},
            "status": body,
        });
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), ns);
        match api
            .patch_status(name, &patch_params(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(recheck),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The DisruptionAllowed condition of a budget that could not be computed (reason
/// SyncFailed, the error as message).
fn set_sync_failed(status: &mut Map<String, Value>, message: &str, now: Value) {
    let observed = status
        .get("observedGeneration")
        .cloned()
        .unwrap_or(json!(0));
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let existing = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(k3rs_api::disruption::CONDITION));
    let since = match &existing {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("False") => {
            c.get("lastTransitionTime").cloned().unwrap_or(now)
        }
        _ => now,
    };
    let fresh = json!({
        "type": k3rs_api::disruption::CONDITION,
        "status": "False",
        "observedGeneration": observed,
        "lastTransitionTime": since,
        "reason": "SyncFailed",
        "message": message,
    });
    match existing {
        Some(c) => *c = fresh,
        None => list.push(fresh),
    }
}
