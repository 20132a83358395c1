//! The pod side of the simulated kubelets: one Pod watch (`spec.nodeName!=`, filtered to the
//! simulated nodes) and one timer heap for all pods. For each pod it keeps a small summary,
//! decides what its status should say now (a pure function of spec, start time and clock, in
//! [`super::status`]), and writes through pods/status when the pod's status says otherwise.
//! At most one write per pod is in flight; a change meanwhile is written after it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use k3rs_api::alloc::{IpAllocator, Ipv4Cidr};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::watcher;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::status::{self, Desired, PodSpecSummary, SimPhase};
use super::{NodeUpdate, node_index};
use crate::Context;
use crate::shared_watch::Subscription;

/// How long a simulated kubelet takes to stop a deleted pod's containers (at most the pod's
/// grace period) before it removes the pod.
pub const DELETE_DELAY: Duration = Duration::from_secs(1);
/// How long a failed write waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Concurrent pod writes.
const CONCURRENCY: usize = 32;
/// The field manager of the writes.
const MANAGER: &str = "kubelet";

/// One pod bound to a simulated node.
#[derive(Debug)]
struct Entry {
    namespace: String,
    name: String,
    node: u32,
    spec: PodSpecSummary,
    /// resourceVersion of the last event seen.
    rv: u64,
    /// What its status says (None: not Running/Succeeded).
    observed: Option<Desired>,
    observed_ip: Option<Ipv4Addr>,
    observed_start: Option<Timestamp>,
    /// Its status says Succeeded or Failed.
    terminal: bool,
    /// Marked for deletion: remove it at this time.
    delete_at: Option<Timestamp>,
    delete_sent: bool,
    /// The pod IP, and whether it is held in the node's allocator.
    ip: Option<Ipv4Addr>,
    ip_held: bool,
    /// When this kubelet started it.
    start: Option<Timestamp>,
    inflight: bool,
    dirty: bool,
    /// The last status written successfully and the resourceVersion it produced.
    written: Option<(Desired, u64)>,
    /// The earliest timer pending for it.
    timer: Option<Instant>,
}

/// A simulated node as the pod side sees it.
#[derive(Debug, Default)]
struct NodeNet {
    alive: bool,
    cidr: Option<Ipv4Cidr>,
    alloc: Option<IpAllocator>,
    pods: HashSet<String>,
}

/// A write for one pod.
enum Write {
    Status(serde_json::Value, Desired),
    Delete,
}

/// What came of a write.
struct Done {
    uid: String,
    desired: Option<Desired>,
    result: Result<u64, kube::Error>,
}

struct Kubelets {
    client: kube::Client,
    completion: Duration,
    count: u32,
    nodes: Vec<NodeNet>,
    entries: HashMap<String, Entry>,
    timers: BinaryHeap<Reverse<(Instant, String)>>,
    permits: Arc<Semaphore>,
    done: mpsc::UnboundedSender<Done>,
}

/// Run the pod side until the task is dropped.
pub async fn run(
    ctx: Context,
    mut node_updates: mpsc::UnboundedReceiver<NodeUpdate>,
    mut events: Subscription<Pod>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let count = ctx.simulation.nodes;
    let mut k = Kubelets {
        client: ctx.client.clone(),
        completion: ctx.simulation.pod_completion,
        count,
        nodes: (0..count).map(|_| NodeNet::default()).collect(),
        entries: HashMap::new(),
        timers: BinaryHeap::new(),
        permits: Arc::new(Semaphore::new(CONCURRENCY)),
        done: done_tx,
    };
    // Every pod comes through the shared pod watch; `apply` ignores those not bound to a
    // simulated node. The pods of a (re)list so far: taken in as they come, synced when the list is complete.
    let mut listing: Option<HashSet<String>> = None;
    loop {
        let next_timer = k.timers.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return };
                match event {
                    watcher::Event::Init => listing = Some(HashSet::new()),
                    watcher::Event::InitApply(pod) => {
                        if let (Some(uid), Some(seen)) = (k.apply(&pod), listing.as_mut()) {
                            seen.insert(uid);
                        }
                    }
                    watcher::Event::InitDone => {
                        let seen = listing.take().unwrap_or_default();
                        k.relisted(seen);
                    }
                    watcher::Event::Apply(pod) => {
                        if let Some(uid) = k.apply(&pod) {
                            k.reserve_observed(&uid);
                            k.sync(&uid);
                        }
                    }
                    watcher::Event::Delete(pod) => {
                        if let Some(uid) = pod.metadata.uid.as_deref() {
                            k.remove(uid);
                        }
                    }
                }
            }
            Some(update) = node_updates.recv() => k.node_update(update),
            Some(done) = done_rx.recv() => k.finished(done),
            _ = sleep_until(next_timer), if next_timer.is_some() => k.fire_timers(),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Kubelets {
    /// A complete list was taken in (`present`: its pods): forget pods no longer there, then
    /// reserve the IPs pods already have before handing out any new one.
    fn relisted(&mut self, present: HashSet<String>) {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|uid| !present.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            self.remove(&uid);
        }
        for uid in &present {
            self.reserve_observed(uid);
        }
        for uid in &present {
            self.sync(uid);
        }
    }

    /// Take in an added or changed pod; returns its uid when it is on a simulated node.
    fn apply(&mut self, pod: &Pod) -> Option<String> {
        let node_name = pod.spec.as_ref()?.node_name.as_deref()?;
        let node = node_index(node_name, self.count)?;
        let uid = pod.metadata.uid.clone()?;
        let spec = status::summarize(pod);
        let pod_status = pod.status.as_ref();
        let observed = status::observed(pod, &spec);
        let observed_ip = pod_status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        let observed_start = pod_status.and_then(|s| s.start_time.as_ref()).map(|t| t.0);
        let terminal = matches!(
            pod_status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let rv = pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|rv| rv.parse().ok())
            .unwrap_or(u64::MAX);
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .map_or(DELETE_DELAY, |g| {
                Duration::from_secs(u64::try_from(g).unwrap_or(0)).min(DELETE_DELAY)
            });
        let entry = self.entries.entry(uid.clone()).or_insert_with(|| Entry {
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
            node,
            spec: spec.clone(),
            rv,
            observed: None,
            observed_ip: None,
            observed_start: None,
            terminal: false,
            delete_at: None,
            delete_sent: false,
            ip: None,
            ip_held: false,
            start: None,
            inflight: false,
            dirty: false,
            written: None,
            timer: None,
        });
        entry.spec = spec;
        entry.rv = rv;
        entry.observed = observed;
        entry.observed_ip = observed_ip;
        entry.observed_start = observed_start;
        entry.terminal = terminal;
        if deleting && entry.delete_at.is_none() {
            entry.delete_at = Some(status::after(Timestamp::now(), grace));
        }
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.pods.insert(uid.clone());
        }
        Some(uid)
    }

    /// Forget a pod and release its IP.
    fn remove(&mut self, uid: &str) {
        let Some(entry) = self.entries.remove(uid) else {
            return;
        };
        if let Some(n) = self.nodes.get_mut(entry.node as usize) {
            n.pods.remove(uid);
            if entry.ip_held
                && let (Some(alloc), Some(ip)) = (n.alloc.as_mut(), entry.ip)
            {
                alloc.release(ip);
            }
        }
    }

    /// Hold the IP a pod's status already shows (after a restart of the loop), when it is in
    /// its node's podCIDR and free.
    fn reserve_observed(&mut self, uid: &str) {
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        if entry.ip.is_some() || entry.terminal || entry.spec.host_network {
            return;
        }
        let (Some(ip), Some(n)) = (entry.observed_ip, self.nodes.get_mut(entry.node as usize))
        else {
            return;
        };
        if let Some(alloc) = n.alloc.as_mut()
            && alloc.allocate(ip).is_ok()
        {
            entry.ip = Some(ip);
            entry.ip_held = true;
        }
    }

    fn release_ip(nodes: &mut [NodeNet], entry: &mut Entry) {
        if !entry.ip_held {
            return;
        }
        entry.ip_held = false;
        if let (Some(n), Some(ip)) = (nodes.get_mut(entry.node as usize), entry.ip)
            && let Some(alloc) = n.alloc.as_mut()
        {
            alloc.release(ip);
        }
    }

    /// Bring one pod's status (or existence) to what it should be now.
    fn sync(&mut self, uid: &str) {
        let now = Timestamp::now();
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        let Some(node) = self.nodes.get_mut(entry.node as usize) else {
            return;
        };
        if !node.alive {
            return;
        }
        if let Some(at) = entry.delete_at {
            if now < at {
                schedule(&mut self.timers, entry, uid, now, at);
            } else if entry.inflight {
                entry.dirty = true;
            } else if !entry.delete_sent {
                entry.delete_sent = true;
                dispatch(self, uid, Write::Delete);
            }
            return;
        }
        if entry.terminal {
            Self::release_ip(&mut self.nodes, entry);
            return;
        }
        let node_ip = status::node_ip(entry.node);
        if entry.ip.is_none() {
            if entry.spec.host_network {
                entry.ip = Some(node_ip);
            } else {
                let Some(alloc) = node.alloc.as_mut() else {
                    return; // no podCIDR yet: the node update will bring us back
                };
                match alloc.allocate_next() {
                    Some(ip) => {
                        entry.ip = Some(ip);
                        entry.ip_held = true;
                    }
                    None => {
                        tracing::warn!(
                            pod = %format!("{}/{}", entry.namespace, entry.name),
                            "simulated nodes: no free pod IP in {:?}",
                            node.cidr
                        );
                        return;
                    }
                }
            }
        }
        let Some(pod_ip) = entry.ip else { return };
        let start = *entry
            .start
            .get_or_insert(entry.observed_start.unwrap_or(now));
        let desired = status::desired(&entry.spec, start, now, self.completion);
        if let Some(next) = status::next_transition(&entry.spec, start, now, self.completion) {
            schedule(&mut self.timers, entry, uid, now, next);
        }
        if entry.observed.as_ref() == Some(&desired) && entry.observed_ip == Some(pod_ip) {
            entry.written = None;
            if desired.phase == SimPhase::Succeeded {
                Self::release_ip(&mut self.nodes, entry);
            }
            return;
        }
        if let Some((written, rv)) = &entry.written
            && *written == desired
            && entry.rv <= *rv
        {
            return; // our write is newer than what the watch has shown so far
        }
        if entry.inflight {
            entry.dirty = true;
            return;
        }
        let placement = status::Placement {
            pod_ip,
            host_ip: node_ip,
            start,
        };
        let patch =
            status::pod_status_patch(uid, &entry.spec, placement, &desired, self.completion);
        if desired.phase == SimPhase::Succeeded {
            // The sandbox is gone: its IP goes back to the pool (the status keeps showing it).
            Self::release_ip(&mut self.nodes, entry);
        }
        dispatch(self, uid, Write::Status(patch, desired));
    }

    /// A write finished.
    fn finished(&mut self, done: Done) {
        let Some(entry) = self.entries.get_mut(&done.uid) else {
            return;
        };
        entry.inflight = false;
        match done.result {
            Ok(rv) => {
                if let Some(desired) = done.desired {
                    entry.written = Some((desired, rv));
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                // Gone (or re-created under another uid): the watch brings the rest.
            }
            Err(e) => {
                tracing::debug!(
                    pod = %format!("{}/{}", entry.namespace, entry.name),
                    "simulated nodes: pod write failed: {e}"
                );
                entry.written = None;
                entry.delete_sent = false;
                let at = status::after(Timestamp::now(), RETRY_AFTER);
                schedule(&mut self.timers, entry, &done.uid, Timestamp::now(), at);
            }
        }
        if entry.dirty {
            entry.dirty = false;
            self.sync(&done.uid);
        }
    }

    /// A node's podCIDR or liveness changed.
    fn node_update(&mut self, update: NodeUpdate) {
        let Some(node) = self.nodes.get_mut(update.index as usize) else {
            return;
        };
        node.alive = update.alive;
        if node.cidr != update.pod_cidr {
            node.cidr = update.pod_cidr;
            node.alloc = update.pod_cidr.map(|cidr| {
                let mut alloc = IpAllocator::new(cidr);
                // The first host address is the node's bridge (cni0), as with flannel.
                if let Some(gateway) = cidr.nth(1) {
                    let _ = alloc.allocate(gateway);
                }
                alloc
            });
            // A new (or no) podCIDR: held addresses belonged to the old pool; the pods' own
            // statuses are reserved again below, the rest allocated anew.
            for uid in &node.pods {
                if let Some(entry) = self.entries.get_mut(uid)
                    && !entry.spec.host_network
                {
                    entry.ip_held = false;
                    entry.ip = None;
                }
            }
        }
        let uids: Vec<String> = node.pods.iter().cloned().collect();
        for uid in &uids {
            self.reserve_observed(uid);
        }
        if update.alive {
            for uid in &uids {
                self.sync(uid);
            }
        }
    }

    /// Sync every pod whose timer is due.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((at, uid))) = self.timers.pop() {
                if let Some(entry) = self.entries.get_mut(&uid)
                    && entry.timer == Some(at)
                {
                    entry.timer = None;
                }
                due.push(uid);
            }
        }
        for uid in due {
            self.sync(&uid);
        }
    }
}

/// Arrange for `uid` to be synced at wall-clock time `at`.
fn schedule(
    timers: &mut BinaryHeap<Reverse<(Instant, String)>>,
    entry: &mut Entry,
    uid: &str,
    now: Timestamp,
    at: Timestamp,
) {
    let wait = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
    let when = Instant::now() + wait + Duration::from_millis(1);
    if entry.timer.is_some_and(|t| t <= when && t > Instant::now()) {
        return; // an earlier timer is pending; it reschedules this one
    }
    entry.timer = Some(when);
    timers.push(Reverse((when, uid.to_string())));
}

/// Send one write for `uid` (bounded concurrency); the outcome comes back as a [`Done`].
fn dispatch(k: &mut Kubelets, uid: &str, write: Write) {
    let Some(entry) = k.entries.get_mut(uid) else {
        return;
    };
    entry.inflight = true;
    let api: Api<Pod> = Api::namespaced(k.client.clone(), &entry.namespace);
    let name = entry.name.clone();
    let uid = uid.to_string();
    let permits = k.permits.clone();
    let done = k.done.clone();
    tokio::spawn(async move {
        let _permit = permits.acquire_owned().await;
        let (desired, result) = match write {
            Write::Status(patch, desired) => {
                let params = PatchParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                };
                let result = api
                    .patch_status(&name, &params, &Patch::Strategic(&patch))
                    .await
                    .map(|pod| {
                        pod.metadata
                            .resource_version
                            .and_then(|rv| rv.parse().ok())
                            .unwrap_or(0)
                    });
                (Some(desired), result)
            }
            Write::Delete => {
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                let result = api.delete(&name, &params).await.map(|_| 0);
                (None, result)
            }
        };
        let _ = done.send(Done {
            uid,
            desired,
            result,
        });
    });
}
