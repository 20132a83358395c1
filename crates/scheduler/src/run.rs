//! The scheduling loop: watches keep the snapshot and the queue current (nodes, pods;
//! reflector stores for claims, volumes, storage classes, priority classes, namespaces);
//! one loop pops pods by priority and runs the pure core; decisions are written through
//! the API by spawned tasks (binding bounded in concurrency), so the loop never waits for
//! a write. A pod is assumed on its node at once and forgotten if its binding fails.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{
    Event as CoreEvent, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::filter::{ClaimInfo, Volumes, pod_claims};
use crate::model::{DEFAULT_SCHEDULER, NodeInfo, PodInfo, Snapshot};
use crate::queue::SchedulingQueue;
use crate::schedule::{NO_NODES_AVAILABLE, Outcome, Preemption, Scheduler};

/// Bindings in flight at once.
pub const BIND_CONCURRENCY: usize = 128;
/// Pods scheduled before the loop looks at events again.
const BATCH: usize = 256;
/// How often parked pods are checked against [`crate::queue::MAX_UNSCHEDULABLE`].
const FLUSH_PERIOD: Duration = Duration::from_secs(30);
/// The field manager of the scheduler's writes.
const MANAGER: &str = "default-scheduler";

/// Errors of the scheduler's API writes.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The API refused or failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

impl WriteError {
    fn code(&self) -> Option<u16> {
        match self {
            WriteError::Api(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        }
    }
}

/// Where a pod stands in the scheduler's cache.
enum Tracked {
    /// Waiting for a node (in the queue).
    Pending(Arc<PodInfo>),
    /// Assumed on a node while its binding is in flight.
    Assumed(String, Arc<PodInfo>),
    /// Bound (seen with spec.nodeName).
    Bound(String, Arc<PodInfo>),
}

/// What finished in a spawned task.
enum Done {
    Bound {
        key: String,
        node: String,
        result: Result<(), WriteError>,
    },
}

/// The reflector stores the loop reads on demand.
struct Stores {
    pvcs: Store<PersistentVolumeClaim>,
    pvs: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    priorities: Store<PriorityClass>,
    namespaces: Store<Namespace>,
}

/// A change seen by a reflector: parked pods may fit now.
#[derive(Debug, Clone, Copy)]
enum Changed {
    Volumes,
    Namespaces,
}

fn spawn_reflector<K>(
    api: Api<K>,
    tx: Option<(mpsc::UnboundedSender<Changed>, Changed)>,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .default_backoff();
    tokio::spawn(async move {
        futures_util::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Apply(_) | Event::Delete(_) | Event::InitDone) => {
                    if let Some((tx, what)) = &tx {
                        let _ = tx.send(*what);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("scheduler reflector: {e}"),
            }
        }
    });
    reader
}

/// The loop's state.
struct Loop {
    client: kube::Client,
    identity: String,
    snapshot: Snapshot,
    queue: SchedulingQueue,
    scheduler: Scheduler,
    pods: HashMap<String, Tracked>,
    stores: Stores,
    binds: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<Done>,
    /// Last FailedScheduling event per pod: (event name, count, message).
    events: HashMap<String, (String, i32, String)>,
    nodes_seen: Option<HashSet<String>>,
    pods_seen: Option<HashSet<String>>,
    nodes_synced: bool,
    pods_synced: bool,
}

/// What the scheduler's pod events come from: one watch of every pod, typically shared with
/// other loops (objects decoded once, handed out as `Arc`s).
pub type PodEvents = mpsc::Receiver<Event<Arc<Pod>>>;

/// Run the scheduler until the task is dropped or `pods` ends.
pub async fn run(client: kube::Client, identity: String, mut pods: PodEvents) {
    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel();
    let stores = Stores {
        pvcs: spawn_reflector(
            Api::all(client.clone()),
            Some((changed_tx.clone(), Changed::Volumes)),
        ),
        pvs: spawn_reflector(
            Api::all(client.clone()),
            Some((changed_tx.clone(), Changed::Volumes)),
        ),
        classes: spawn_reflector(Api::all(client.clone()), None),
        priorities: spawn_reflector(Api::all(client.clone()), None),
        namespaces: spawn_reflector(
            Api::all(client.clone()),
            Some((changed_tx.clone(), Changed::Namespaces)),
        ),
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut state = Loop {
        client: client.clone(),
        identity,
        snapshot: Snapshot::new(),
        queue: SchedulingQueue::new(),
        scheduler: Scheduler::new(),
        pods: HashMap::new(),
        stores,
        binds: Arc::new(Semaphore::new(BIND_CONCURRENCY)),
        done_tx,
        events: HashMap::new(),
        nodes_seen: None,
        pods_seen: None,
        nodes_synced: false,
        pods_synced: false,
    };
    let nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff();
    futures_util::pin_mut!(nodes);
    let mut last_flush = Instant::now();
    loop {
        let now = Instant::now();
        if now.duration_since(last_flush) >= FLUSH_PERIOD {
            state.queue.flush_unschedulable_leftover(now);
            last_flush = now;
        }
        let synced = state.nodes_synced && state.pods_synced;
        if synced {
            state.queue.flush_backoff(now);
        }
        let can_schedule =
            synced && state.queue.has_active() && state.binds.available_permits() > 0;
        let wake = state
            .queue
            .next_backoff()
            .map_or(last_flush + FLUSH_PERIOD, |t| {
                t.min(last_flush + FLUSH_PERIOD)
            });
        tokio::select! {
            biased;
            ev = nodes.next() => match ev {
                Some(Ok(ev)) => state.node_event(ev),
                Some(Err(e)) => tracing::debug!("scheduler node watch: {e}"),
                None => return,
            },
            ev = pods.recv() => match ev {
                Some(ev) => state.pod_event(ev),
                None => return,
            },
            Some(done) = done_rx.recv() => state.finished(done),
            Some(ch) = changed_rx.recv() => state.changed(ch),
            _ = std::future::ready(()), if can_schedule => state.schedule_batch(),
            _ = tokio::time::sleep_until(wake.into()) => {},
        }
    }
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

fn node_relevant_change(old: &NodeInfo, new: &NodeInfo) -> bool {
    !old.present
        || old.labels != new.labels
        || old.taints != new.taints
        || old.unschedulable != new.unschedulable
        || old.allocatable != new.allocatable
        || old.allowed_pods != new.allowed_pods
        || old.images != new.images
}

fn pp() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    }
}

fn now_time() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl Loop {
    fn node_event(&mut self, ev: Event<Node>) {
        match ev {
            Event::Init => self.nodes_seen = Some(HashSet::new()),
            Event::InitApply(n) => {
                if let Some(seen) = self.nodes_seen.as_mut() {
                    seen.insert(n.metadata.name.clone().unwrap_or_default());
                }
                self.node_applied(&n);
            }
            Event::InitDone => {
                if let Some(seen) = self.nodes_seen.take() {
                    let gone: Vec<String> = self
                        .snapshot
                        .nodes
                        .iter()
                        .filter(|n| n.present && !seen.contains(&n.name))
                        .map(|n| n.name.clone())
                        .collect();
                    for n in gone {
                        self.snapshot.remove_node(&n);
                    }
                }
                self.nodes_synced = true;
                self.queue.move_all_to_active(Instant::now());
            }
            Event::Apply(n) => self.node_applied(&n),
            Event::Delete(n) => {
                self.snapshot
                    .remove_node(n.metadata.name.as_deref().unwrap_or(""));
            }
        }
    }

    fn node_applied(&mut self, n: &Node) {
        let name = n.metadata.name.as_deref().unwrap_or("");
        let fresh = NodeInfo::from_node(n);
        let relevant = self
            .snapshot
            .node(name)
            .is_none_or(|old| node_relevant_change(old, &fresh));
        if relevant {
            self.snapshot.upsert_node(n);
            self.queue.move_all_to_active(Instant::now());
        }
    }

    fn pod_event(&mut self, ev: Event<Arc<Pod>>) {
        match ev {
            Event::Init => self.pods_seen = Some(HashSet::new()),
            Event::InitApply(p) => {
                if let Some(seen) = self.pods_seen.as_mut() {
                    seen.insert(pod_key(&p));
                }
                self.pod_applied(p);
            }
            Event::InitDone => {
                if let Some(seen) = self.pods_seen.take() {
                    let gone: Vec<String> = self
                        .pods
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for k in gone {
                        self.pod_gone(&k);
                    }
                }
                self.pods_synced = true;
            }
            Event::Apply(p) => self.pod_applied(p),
            Event::Delete(p) => self.pod_gone(&pod_key(&p)),
        }
    }

    /// Remove a pod from the cache and the queue.
    fn pod_gone(&mut self, key: &str) {
        self.queue.remove(key);
        self.events.remove(key);
        match self.pods.remove(key) {
            Some(Tracked::Bound(node, info) | Tracked::Assumed(node, info)) => {
                self.snapshot.remove_pod(&node, &info.namespace, &info.name);
                self.queue.move_all_to_active(Instant::now());
            }
            Some(Tracked::Pending(_)) | None => {}
        }
    }

    fn resolve_priority(&self, p: &Pod) -> Option<i32> {
        let spec = p.spec.as_ref()?;
        if spec.priority.is_some() {
            return spec.priority;
        }
        match spec
            .priority_class_name
            .as_deref()
            .filter(|n| !n.is_empty())
        {
            Some(name) => self
                .stores
                .priorities
                .get(&ObjectRef::new(name))
                .map(|pc| pc.value),
            None => self
                .stores
                .priorities
                .state()
                .iter()
                .filter(|pc| pc.global_default == Some(true))
                .map(|pc| pc.value)
                .min(),
        }
    }

    fn pod_applied(&mut self, p: Arc<Pod>) {
        let key = pod_key(&p);
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            self.pod_gone(&key);
            return;
        }
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        if let Some(node) = node {
            self.queue.remove(&key);
            let unchanged = match self.pods.get(&key) {
                Some(Tracked::Bound(n, old)) => {
                    *n == node
                        && old.pod.spec == p.spec
                        && old.pod.metadata.labels == p.metadata.labels
                        && old.terminating == p.metadata.deletion_timestamp.is_some()
                }
                _ => false,
            };
            if unchanged {
                return;
            }
            if let Some(Tracked::Bound(old_node, old) | Tracked::Assumed(old_node, old)) =
                self.pods.remove(&key)
            {
                self.snapshot
                    .remove_pod(&old_node, &old.namespace, &old.name);
            }
            let priority = self.resolve_priority(&p);
            let info = Arc::new(PodInfo::new(p, priority));
            self.snapshot.add_pod(&node, info.clone());
            self.pods.insert(key, Tracked::Bound(node, info));
            return;
        }
        // Unassigned.
        let ours = p
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .is_none_or(|s| s.is_empty() || s == DEFAULT_SCHEDULER);
        if !ours || p.metadata.deletion_timestamp.is_some() {
            if let Some(Tracked::Pending(_)) = self.pods.get(&key) {
                self.pods.remove(&key);
                self.queue.remove(&key);
            }
            return;
        }
        match self.pods.get(&key) {
            Some(Tracked::Assumed(..)) => {}
            Some(Tracked::Pending(old)) => {
                let changed =
                    old.pod.spec != p.spec || old.pod.metadata.labels != p.metadata.labels;
                let priority = self.resolve_priority(&p);
                let info = Arc::new(PodInfo::new(p, priority));
                let prio = info.priority;
                self.pods.insert(key.clone(), Tracked::Pending(info));
                if changed {
                    self.queue.add_or_update(&key, prio, Instant::now());
                }
            }
            Some(Tracked::Bound(..)) | None => {
                let priority = self.resolve_priority(&p);
                let info = Arc::new(PodInfo::new(p, priority));
                let prio = info.priority;
                self.pods.insert(key.clone(), Tracked::Pending(info));
                self.queue.add_or_update(&key, prio, Instant::now());
            }
        }
    }

    fn changed(&mut self, ch: Changed) {
        if let Changed::Namespaces = ch {
            self.snapshot.namespace_labels = self
                .stores
                .namespaces
                .state()
                .iter()
                .map(|ns| {
                    (
                        ns.metadata.name.clone().unwrap_or_default(),
                        ns.metadata.labels.clone().unwrap_or_default(),
                    )
                })
                .collect();
        }
        self.queue.move_all_to_active(Instant::now());
    }

    fn volumes_for(&self, info: &PodInfo) -> Volumes {
        let mut v = Volumes::default();
        for claim in pod_claims(info) {
            let Some(pvc) = self
                .stores
                .pvcs
                .get(&ObjectRef::new(&claim).within(&info.namespace))
            else {
                continue;
            };
            let spec = pvc.spec.as_ref();
            let volume_name = spec.and_then(|s| s.volume_name.clone());
            let storage_class = spec.and_then(|s| s.storage_class_name.clone());
            if let Some(pv_name) = volume_name.as_deref().filter(|n| !n.is_empty()) {
                let aff = self
                    .stores
                    .pvs
                    .get(&ObjectRef::new(pv_name))
                    .and_then(|pv| pv.spec.as_ref()?.node_affinity.as_ref()?.required.clone());
                v.pv_affinity.insert(pv_name.to_string(), aff);
            }
            if let Some(sc) = storage_class.as_deref()
                && self
                    .stores
                    .classes
                    .get(&ObjectRef::new(sc))
                    .is_some_and(|c| {
                        c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
                    })
            {
                v.wait_for_first_consumer.insert(sc.to_string());
            }
            v.claims.insert(
                format!("{}/{}", info.namespace, claim),
                ClaimInfo {
                    volume_name,
                    storage_class,
                },
            );
        }
        v
    }

    fn schedule_batch(&mut self) {
        let empty = Volumes::default();
        for _ in 0..BATCH {
            let Ok(permit) = self.binds.clone().try_acquire_owned() else {
                return;
            };
            let now = Instant::now();
            let Some(key) = self.queue.pop(now) else {
                return;
            };
            let Some(Tracked::Pending(info)) = self.pods.get(&key) else {
                self.queue.remove(&key);
                continue;
            };
            let info = info.clone();
            let volumes;
            let vols = if pod_claims(&info).is_empty() {
                &empty
            } else {
                volumes = self.volumes_for(&info);
                &volumes
            };
            match self.scheduler.schedule(&info, &mut self.snapshot, vols) {
                Outcome::Scheduled {
                    node,
                    delayed_claims,
                } => {
                    self.queue.done(&key);
                    self.events.remove(&key);
                    self.pods
                        .insert(key.clone(), Tracked::Assumed(node.clone(), info.clone()));
                    let client = self.client.clone();
                    let done = self.done_tx.clone();
                    tokio::spawn(async move {
                        let result = bind(&client, &info, &node, &delayed_claims).await;
                        drop(permit);
                        let _ = done.send(Done::Bound { key, node, result });
                    });
                }
                Outcome::Unschedulable { error, preemption } => {
                    drop(permit);
                    self.queue.unschedulable(&key, now);
                    let msg = error.message();
                    self.report_failure(&key, &info, "Unschedulable", msg);
                    if let Some(p) = preemption {
                        self.preempt(&info, p);
                    }
                }
                Outcome::NoNodes => {
                    drop(permit);
                    self.queue.unschedulable(&key, now);
                    self.report_failure(&key, &info, "SchedulerError", NO_NODES_AVAILABLE.into());
                }
            }
        }
    }

    fn finished(&mut self, done: Done) {
        let Done::Bound { key, node, result } = done;
        let Err(e) = result else {
            return;
        };
        tracing::debug!(pod = %key, %node, "binding failed: {e}");
        let Some(Tracked::Assumed(assumed, info)) = self.pods.get(&key) else {
            return;
        };
        if *assumed != node {
            return;
        }
        let info = info.clone();
        self.snapshot.remove_pod(&node, &info.namespace, &info.name);
        match e.code() {
            // The pod is gone, or bound by someone else: the watch will tell.
            Some(404) => {
                self.pods.remove(&key);
            }
            Some(409) => {
                self.pods.insert(key, Tracked::Pending(info));
            }
            _ => {
                let prio = info.priority;
                self.pods.insert(key.clone(), Tracked::Pending(info));
                self.queue.retry(&key, prio, Instant::now());
            }
        }
    }

    /// PodScheduled=False with the reason and message, and a FailedScheduling event.
    fn report_failure(&mut self, key: &str, info: &Arc<PodInfo>, reason: &str, msg: String) {
        let same_condition = info
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some(reason)
                    && c.message.as_deref() == Some(msg.as_str())
            });
        let event = match self.events.get_mut(key) {
            Some((name, count, last)) if *last == msg => {
                *count += 1;
                EventWrite::Bump(name.clone(), *count)
            }
            _ => {
                let name = format!(
                    "{}.{:x}",
                    info.name,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                );
                self.events
                    .insert(key.to_string(), (name.clone(), 1, msg.clone()));
                EventWrite::Create(name)
            }
        };
        let client = self.client.clone();
        let info = info.clone();
        let reason = reason.to_string();
        let reporter = format!("default-scheduler-{}", self.identity);
        tokio::spawn(async move {
            if !same_condition
                && let Err(e) = set_unschedulable(&client, &info, &reason, &msg).await
            {
                tracing::debug!(pod = %info.name, "PodScheduled condition: {e}");
            }
            if let Err(e) = write_event(&client, &info, &msg, event, &reporter).await {
                tracing::debug!(pod = %info.name, "FailedScheduling event: {e}");
            }
        });
    }

    /// Evict the victims and nominate the node; the pod is retried when they are gone.
    fn preempt(&mut self, info: &Arc<PodInfo>, p: Preemption) {
        let client = self.client.clone();
        let info = info.clone();
        let reporter = format!("default-scheduler-{}", self.identity);
        tokio::spawn(async move {
            let pods: Api<Pod> = Api::namespaced(client.clone(), &info.namespace);
            let patch = json!({"status": {"nominatedNodeName": p.node}});
            if let Err(e) = pods
                .patch_status(&info.name, &pp(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(pod = %info.name, "nominatedNodeName: {e}");
            }
            for v in &p.victims {
                let api: Api<Pod> = Api::namespaced(client.clone(), &v.namespace);
                let msg = format!("Preempted by pod {} on node {}", info.uid, p.node);
                if let Err(e) = api.delete(&v.name, &DeleteParams::default()).await {
                    tracing::debug!(victim = %v.name, "preemption delete: {e}");
                    continue;
                }
                let name = format!("{}.preempted", v.name);
                let ev = event_object(v, &name, "Preempted", &msg, "Normal", &reporter);
                let _ = Api::<CoreEvent>::namespaced(client.clone(), &v.namespace)
                    .create(&PostParams::default(), &ev)
                    .await;
            }
        });
    }
}

/// How to write the FailedScheduling event.
enum EventWrite {
    Create(String),
    Bump(String, i32),
}

async fn bind(
    client: &kube::Client,
    info: &PodInfo,
    node: &str,
    delayed_claims: &[String],
) -> Result<(), WriteError> {
    // VolumeBinding PreBind (minimal): tell the provisioner which node was chosen.
    for claim in delayed_claims {
        let (ns, name) = claim.split_once('/').unwrap_or(("", claim));
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
        let patch =
            json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": node}}});
        pvcs.patch(name, &pp(), &Patch::Merge(&patch)).await?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &info.namespace);
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    });
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        &info.name,
        &PostParams::default(),
        &binding,
    )
    .await?;
    Ok(())
}

async fn set_unschedulable(
    client: &kube::Client,
    info: &PodInfo,
    reason: &str,
    msg: &str,
) -> Result<(), WriteError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &info.namespace);
    let patch = json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": reason,
        "message": msg,
        "lastProbeTime": null,
        "lastTransitionTime": now_time(),
    }]}});
    pods.patch_status(&info.name, &pp(), &Patch::Strategic(&patch))
        .await?;
    Ok(())
}

fn event_object(
    pod: &PodInfo,
    name: &str,
    reason: &str,
    msg: &str,
    type_: &str,
    reporter: &str,
) -> CoreEvent {
    let now = now_time();
    CoreEvent {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(pod.namespace.clone()),
            ..Default::default()
        },
        involved_object: k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            resource_version: pod.pod.metadata.resource_version.clone(),
            ..Default::default()
        },
        reason: Some(reason.into()),
        message: Some(msg.into()),
        type_: Some(type_.into()),
        source: Some(k8s_openapi::api::core::v1::EventSource {
            component: Some(DEFAULT_SCHEDULER.into()),
            host: None,
        }),
        reporting_component: Some(DEFAULT_SCHEDULER.into()),
        reporting_instance: Some(reporter.into()),
        action: Some("Scheduling".into()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Default::default()
    }
}

async fn write_event(
    client: &kube::Client,
    info: &PodInfo,
    msg: &str,
    how: EventWrite,
    reporter: &str,
) -> Result<(), WriteError> {
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), &info.namespace);
    match how {
        EventWrite::Create(name) => {
            let ev = event_object(info, &name, "FailedScheduling", msg, "Warning", reporter);
            events.create(&PostParams::default(), &ev).await?;
        }
        EventWrite::Bump(name, count) => {
            let patch = json!({"count": count, "lastTimestamp": now_time()});
            events.patch(&name, &pp(), &Patch::Merge(&patch)).await?;
        }
    }
    Ok(())
}
