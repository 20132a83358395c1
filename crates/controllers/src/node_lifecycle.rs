//! Node lifecycle (upstream `pkg/controller/nodelifecycle`) with taint eviction
//! (`pkg/controller/tainteviction`), driven by watches of Nodes, node Leases and Pods and one
//! timer wheel — never by polling.
//!
//! A node whose Lease (kube-node-lease) and Ready heartbeat have not changed for
//! `--node-monitor-grace-period` gets Ready/MemoryPressure/DiskPressure/PIDPressure = Unknown
//! (reason `NodeStatusUnknown`), and its pods are marked Ready=False. The node's Ready
//! condition decides its `node.kubernetes.io/unreachable` (Unknown) or
//! `node.kubernetes.io/not-ready` (False) taints, NoExecute and NoSchedule, which go again when
//! the node is Ready. Pods on a node with a NoExecute taint they do not tolerate are deleted at
//! once; those tolerating it for `tolerationSeconds` are deleted when that runs out.

pub mod core;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use self::core::{Eviction, NO_EXECUTE};
use crate::Context;
use crate::replicaset::events::Recorder;
use crate::shared_watch::Subscription;

/// The default `--node-monitor-grace-period`.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(40);
/// The namespace of node Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// How soon a failed write is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// The field manager of the controller's writes.
const MANAGER: &str = "node-lifecycle-controller";

/// Errors of one write.
#[derive(Debug, thiserror::Error)]
pub enum NodeLifecycleError {
    /// An API call failed.
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

/// A pod's (namespace, name).
type PodKey = (String, String);

/// What a timer of the wheel is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TimerKey {
    /// A node's grace period runs out.
    Node(String),
    /// A pod's tolerationSeconds run out.
    Pod(PodKey),
}

/// A write that failed and should be tried again.
enum Retry {
    Node(String),
    Pod(PodKey, String),
}

struct NodeEntry {
    node: Node,
    /// When the node was last seen alive (lease renewed or Ready heartbeat changed).
    last_seen: Instant,
    heartbeat: Option<String>,
    lease_renew: Option<String>,
}

struct PodEntry {
    uid: String,
    node: String,
    /// Tolerations that can match NoExecute taints.
    tolerations: Vec<Toleration>,
    ready: bool,
    deleting: bool,
}

/// A scheduled eviction.
struct Scheduled {
    uid: String,
    created: Instant,
}

/// One timer per deadline, kept sorted: the loop sleeps until the first.
#[derive(Default)]
struct TimerWheel {
    order: BTreeSet<(Instant, TimerKey)>,
    at: HashMap<TimerKey, Instant>,
}

impl TimerWheel {
    fn set(&mut self, key: TimerKey, when: Instant) {
        self.cancel(&key);
        self.order.insert((when, key.clone()));
        self.at.insert(key, when);
    }

    fn cancel(&mut self, key: &TimerKey) {
        if let Some(when) = self.at.remove(key) {
            self.order.remove(&(when, key.clone()));
        }
    }

    fn next(&self) -> Option<Instant> {
        self.order.first().map(|(t, _)| *t)
    }

    /// Remove and return the timers due at `now`.
    fn due(&mut self, now: Instant) -> Vec<TimerKey> {
        let mut out = Vec::new();
        while let Some((t, _)) = self.order.first() {
            if *t > now {
                break;
            }
            if let Some((_, key)) = self.order.pop_first() {
                self.at.remove(&key);
                out.push(key);
            }
        }
        out
    }
}

struct Controller {
    client: kube::Client,
    grace: Duration,
    nodes: HashMap<String, NodeEntry>,
    /// Lease renewTimes of nodes not (yet) seen.
    leases: HashMap<String, Option<String>>,
    pods: HashMap<PodKey, PodEntry>,
    by_node: HashMap<String, HashSet<PodKey>>,
    scheduled: HashMap<PodKey, Scheduled>,
    /// Uids of pods whose eviction is under way.
    evicting: HashSet<String>,
    timers: TimerWheel,
    retry: mpsc::UnboundedSender<Retry>,
    recorder: std::sync::Arc<Recorder>,
}

fn time_string(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<String> {
    t.map(|t| t.0.to_string())
}

fn node_conditions(node: &Node) -> &[k8s_openapi::api::core::v1::NodeCondition] {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

fn ready_heartbeat(node: &Node) -> Option<String> {
    node_conditions(node)
        .iter()
        .find(|c| c.type_ == "Ready")
        .and_then(|c| time_string(c.last_heartbeat_time.as_ref()))
}

fn pod_key(pod: &Pod) -> PodKey {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

impl Controller {
    /// The node was seen alive now: its grace period starts again.
    fn touch(&mut self, name: &str, now: Instant) {
        if let Some(n) = self.nodes.get_mut(name) {
            n.last_seen = now;
            self.timers
                .set(TimerKey::Node(name.to_string()), now + self.grace);
        }
    }

    fn on_lease(&mut self, lease: &Lease, now: Instant) {
        let Some(name) = lease.metadata.name.clone() else {
            return;
        };
        let renew = lease
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string());
        match self.nodes.get_mut(&name) {
            Some(n) if n.lease_renew != renew => {
                n.lease_renew = renew;
                self.touch(&name, now);
            }
            Some(_) => {}
            None => {
                self.leases.insert(name, renew);
            }
        }
    }

    fn on_node(&mut self, node: Node, now: Instant) {
        let Some(name) = node.metadata.name.clone() else {
            return;
        };
        let heartbeat = ready_heartbeat(&node);
        match self.nodes.get_mut(&name) {
            Some(n) => {
                let alive = n.heartbeat != heartbeat;
                n.heartbeat = heartbeat;
                n.node = node;
                if alive {
                    self.touch(&name, now);
                }
            }
            None => {
                let lease_renew = self.leases.remove(&name).flatten();
                self.nodes.insert(
                    name.clone(),
                    NodeEntry {
                        node,
                        last_seen: now,
                        heartbeat,
                        lease_renew,
                    },
                );
                self.touch(&name, now);
            }
        }
        self.reconcile_node(&name);
    }

    fn on_node_deleted(&mut self, name: &str) {
        self.nodes.remove(name);
        self.timers.cancel(&TimerKey::Node(name.to_string()));
        let keys: Vec<PodKey> = self
            .by_node
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.cancel_eviction(&key);
        }
    }

    /// Taints from the Ready condition, pods marked not ready, evictions re-evaluated.
    fn reconcile_node(&mut self, name: &str) {
        let Some(n) = self.nodes.get(name) else {
            return;
        };
        let ready = core::ready_status(node_conditions(&n.node)).map(str::to_string);
        if let Some(taints) =
            core::reconcile_taints(node_taints(&n.node), ready.as_deref(), Timestamp::now())
        {
            tracing::info!(node = %name, ready = ?ready, "node lifecycle: updating node taints");
            let api: Api<Node> = Api::all(self.client.clone());
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": n.node.metadata.resource_version},
                "spec": {"taints": taints},
            });
            let name = name.to_string();
            tokio::spawn(async move {
                if let Err(e) = api
                    .patch(&name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
                    .await
                {
                    tracing::debug!("node lifecycle: tainting {name}: {e}");
                }
            });
        }
        let keys: Vec<PodKey> = self
            .by_node
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let not_ready = ready.as_deref().is_some_and(|r| r != "True");
        for key in keys {
            if not_ready {
                self.mark_not_ready(&key);
            }
            self.evaluate(&key, Instant::now());
        }
    }

    /// The node's grace period ran out (or a write is retried).
    fn node_deadline(&mut self, name: &str, now: Instant) {
        let Some(n) = self.nodes.get(name) else {
            return;
        };
        let due = n.last_seen + self.grace;
        if now < due {
            self.timers.set(TimerKey::Node(name.to_string()), due);
            return;
        }
        let Some(conditions) = core::unknown_conditions(
            node_conditions(&n.node),
            n.node.metadata.creation_timestamp.as_ref(),
            Timestamp::now(),
        ) else {
            return;
        };
        tracing::warn!(node = %name, "node lifecycle: node stopped posting status; marking it Unknown");
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": n.node.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        let name = name.to_string();
        let retry = self.retry.clone();
        tokio::spawn(async move {
            if let Err(e) = api
                .patch_status(&name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!("node lifecycle: marking {name} Unknown: {e}");
                let _ = retry.send(Retry::Node(name));
            }
        });
    }

    fn on_pod(&mut self, pod: &Pod, now: Instant) {
        let key = pod_key(pod);
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if node.is_empty() {
            return;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_ref())
            .map(|ts| {
                ts.iter()
                    .filter(|t| {
                        t.effect
                            .as_deref()
                            .is_none_or(|e| e.is_empty() || e == NO_EXECUTE)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let entry = PodEntry {
            uid,
            node: node.clone(),
            tolerations,
            ready,
            deleting,
        };
        if let Some(old) = self.pods.insert(key.clone(), entry)
            && old.node != node
            && let Some(set) = self.by_node.get_mut(&old.node)
        {
            set.remove(&key);
        }
        self.by_node
            .entry(node.clone())
            .or_default()
            .insert(key.clone());
        if deleting {
            self.cancel_eviction(&key);
            return;
        }
        let node_not_ready = self.nodes.get(&node).is_some_and(|n| {
            core::ready_status(node_conditions(&n.node)).is_some_and(|r| r != "True")
        });
        if node_not_ready {
            self.mark_not_ready(&key);
        }
        self.evaluate(&key, now);
    }

    fn on_pod_deleted(&mut self, key: &PodKey) {
        self.cancel_eviction(key);
        if let Some(old) = self.pods.remove(key) {
            self.evicting.remove(&old.uid);
            if let Some(set) = self.by_node.get_mut(&old.node) {
                set.remove(key);
                if set.is_empty() {
                    self.by_node.remove(&old.node);
                }
            }
        }
    }

    fn cancel_eviction(&mut self, key: &PodKey) {
        self.scheduled.remove(key);
        self.timers.cancel(&TimerKey::Pod(key.clone()));
    }

    /// Decide (again) when the pod `key` is evicted from its node.
    fn evaluate(&mut self, key: &PodKey, now: Instant) {
        let Some(p) = self.pods.get(key) else {
            return;
        };
        if p.deleting {
            return;
        }
        let Some(n) = self.nodes.get(&p.node) else {
            self.cancel_eviction(key);
            return;
        };
        match core::eviction(node_taints(&n.node), &p.tolerations) {
            Eviction::Never => self.cancel_eviction(key),
            Eviction::Now => {
                self.cancel_eviction(key);
                self.evict(key);
            }
            Eviction::After(d) => {
                let uid = p.uid.clone();
                let created = match self.scheduled.get(key) {
                    Some(s) if s.uid == uid => s.created,
                    _ => now,
                };
                let fire = created + d;
                if fire <= now {
                    self.cancel_eviction(key);
                    self.evict(key);
                } else {
                    self.scheduled
                        .insert(key.clone(), Scheduled { uid, created });
                    self.timers.set(TimerKey::Pod(key.clone()), fire);
                }
            }
        }
    }

    /// Delete the pod (DisruptionTarget first, as upstream's taint eviction does).
    fn evict(&mut self, key: &PodKey) {
        let Some(p) = self.pods.get(key) else {
            return;
        };
        if !self.evicting.insert(p.uid.clone()) {
            return;
        }
        let (ns, name) = key.clone();
        let uid = p.uid.clone();
        tracing::info!(pod = %format!("{ns}/{name}"), node = %p.node, "taint eviction: deleting pod");
        self.recorder.record(
            ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(ns.clone()),
                name: Some(name.clone()),
                uid: Some(uid.clone()),
                ..Default::default()
            },
            "Normal",
            "TaintManagerEviction",
            format!("Marking for deletion Pod {ns}/{name}"),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let retry = self.retry.clone();
        tokio::spawn(async move {
            if let Err(e) = delete_pod(&api, &name, &uid).await {
                tracing::debug!("taint eviction: deleting {ns}/{name}: {e}");
                let _ = retry.send(Retry::Pod((ns, name), uid));
            }
        });
    }

    /// Mark a pod of a node that is not Ready as not ready (upstream `MarkPodsNotReady`).
    fn mark_not_ready(&mut self, key: &PodKey) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        if !p.ready || p.deleting {
            return;
        }
        // Do not write again before the watch shows the result.
        p.ready = false;
        let (ns, name) = key.clone();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let patch = serde_json::json!({
            "status": {"conditions": [{
                "type": "Ready",
                "status": "False",
                "lastTransitionTime": Timestamp::now().to_string(),
            }]},
        });
        tokio::spawn(async move {
            if let Err(e) = api
                .patch_status(
                    &name,
                    &PatchParams::apply(MANAGER),
                    &Patch::Strategic(&patch),
                )
                .await
            {
                tracing::debug!("node lifecycle: marking {ns}/{name} not ready: {e}");
            }
        });
    }

    fn on_retry(&mut self, r: Retry, now: Instant) {
        match r {
            Retry::Node(name) => {
                if self.nodes.contains_key(&name) {
                    self.timers.set(TimerKey::Node(name), now + RETRY_DELAY);
                }
            }
            Retry::Pod(key, uid) => {
                self.evicting.remove(&uid);
                if self.pods.get(&key).is_some_and(|p| p.uid == uid) {
                    self.scheduled
                        .insert(key.clone(), Scheduled { uid, created: now });
                    self.timers.set(TimerKey::Pod(key), now + RETRY_DELAY);
                }
            }
        }
    }

    fn fire(&mut self, now: Instant) {
        for key in self.timers.due(now) {
            match key {
                TimerKey::Node(name) => self.node_deadline(&name, now),
                TimerKey::Pod(key) => {
                    let due = match (self.scheduled.remove(&key), self.pods.get(&key)) {
                        (Some(s), Some(p)) => s.uid == p.uid,
                        _ => false,
                    };
                    if due {
                        self.evict(&key);
                    }
                }
            }
        }
    }
}

/// Delete a pod gracefully, if it is still the pod `uid`.
/// Remove a deleted node's password Secret, as k3s does: a machine that is wiped and joins
/// again under the same name brings a new password.
async fn forget_node_password(client: kube::Client, node: String) {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client, k3rs_pki::join_api::NODE_PASSWORD_SECRET_NAMESPACE);
    let name = k3rs_pki::join_api::node_password_secret_name(&node);
    match secrets.delete(&name, &Default::default()).await {
        Ok(_) => tracing::info!(%node, "removed the node password of a deleted node"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => tracing::warn!(%node, "cannot remove the node password Secret {name}: {e}"),
    }
}

async fn delete_pod(api: &Api<Pod>, name: &str, uid: &str) -> Result<(), NodeLifecycleError> {
    let condition = serde_json::json!({
        "status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": Timestamp::now().to_string(),
        }]},
    });
    match api
        .patch_status(
            name,
            &PatchParams::apply(MANAGER),
            &Patch::Strategic(&condition),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => tracing::debug!("taint eviction: DisruptionTarget on {name}: {e}"),
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Run the node lifecycle controller until the task is dropped or `pods` ends.
pub async fn run(ctx: Context, mut pods: Subscription<Pod>) {
    let client = ctx.client.clone();
    let (retry_tx, mut retry_rx) = mpsc::unbounded_channel();
    let mut c = Controller {
        client: client.clone(),
        grace: ctx.node_monitor_grace_period,
        nodes: HashMap::new(),
        leases: HashMap::new(),
        pods: HashMap::new(),
        by_node: HashMap::new(),
        scheduled: HashMap::new(),
        evicting: HashSet::new(),
        timers: TimerWheel::default(),
        retry: retry_tx,
        recorder: std::sync::Arc::new(Recorder::new(
            client.clone(),
            "taint-eviction-controller",
            ctx.identity.clone(),
        )),
    };
    let mut nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut leases = watcher::watcher(
        Api::<Lease>::namespaced(client.clone(), NODE_LEASE_NAMESPACE),
        watcher::Config::default(),
    )
    .default_backoff()
    .boxed();
    let mut node_relist: Option<HashSet<String>> = None;
    let mut pod_relist: Option<HashSet<PodKey>> = None;
    loop {
        let next = c.timers.next();
        let sleep = async move {
            match next {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = nodes.next() => {
                let Some(ev) = ev else { return };
                let now = Instant::now();
                match ev {
                    Ok(Event::Init) => node_relist = Some(HashSet::new()),
                    Ok(Event::InitApply(n)) => {
                        if let (Some(seen), Some(name)) = (node_relist.as_mut(), n.metadata.name.clone()) {
                            seen.insert(name);
                        }
                        c.on_node(n, now);
                    }
                    Ok(Event::Apply(n)) => c.on_node(n, now),
                    Ok(Event::Delete(n)) => {
                        if let Some(name) = n.metadata.name {
                            c.on_node_deleted(&name);
                            tokio::spawn(forget_node_password(client.clone(), name));
                        }
                    }
                    Ok(Event::InitDone) => {
                        if let Some(seen) = node_relist.take() {
                            let gone: Vec<String> = c.nodes.keys().filter(|k| !seen.contains(*k)).cloned().collect();
                            for name in gone { c.on_node_deleted(&name); }
                        }
                    }
                    Err(e) => tracing::debug!("node lifecycle: node watch: {e}"),
                }
            }
            ev = leases.next() => {
                let Some(ev) = ev else { return };
                match ev {
                    Ok(Event::InitApply(l) | Event::Apply(l)) => c.on_lease(&l, Instant::now()),
                    Ok(_) => {}
                    Err(e) => tracing::debug!("node lifecycle: lease watch: {e}"),
                }
            }
            ev = pods.recv() => {
                let Some(ev) = ev else { return };
                let now = Instant::now();
                match ev {
                    Event::Init => pod_relist = Some(HashSet::new()),
                    Event::InitApply(p) => {
                        if let Some(seen) = pod_relist.as_mut() { seen.insert(pod_key(&p)); }
                        c.on_pod(&p, now);
                    }
                    Event::Apply(p) => c.on_pod(&p, now),
                    Event::Delete(p) => c.on_pod_deleted(&pod_key(&p)),
                    Event::InitDone => {
                        if let Some(seen) = pod_relist.take() {
                            let gone: Vec<PodKey> = c.pods.keys().filter(|k| !seen.contains(*k)).cloned().collect();
                            for key in gone { c.on_pod_deleted(&key); }
                        }
                    }
                }
            }
            Some(r) = retry_rx.recv() => c.on_retry(r, Instant::now()),
            _ = sleep => c.fire(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests;
