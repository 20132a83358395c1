//! The pod loop: the pods bound to this node (a watch with `fieldSelector
//! spec.nodeName=<node>`), one worker task per pod ([`worker`]), woken by its Pod's events, by
//! changes of its containers in the runtime, by its probes and back-off timers, and by changes
//! of the ConfigMaps and Secrets it references.
//!
//! Container changes: containerd 1.6's CRI has no `GetContainerEvents` (it arrived in 1.7), so
//! a relister lists sandboxes and containers once a second — two cheap CRI calls whatever the
//! number of pods — and wakes the workers whose pods' fingerprints changed, as upstream's
//! generic PLEG does. The same relist finds sandboxes and containers of pods that no longer
//! exist and removes them.

pub mod config;
pub mod cri;
pub mod events;
pub mod hooks;
pub mod probes;
mod worker;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use k3rs_cri::CriClient;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use crate::dns::{self, ClusterDns, DnsConfig};
use crate::env::NodeFacts;
use crate::objects::{KubeObjects, ObjectChange, ObjectKey, pod_references};
use worker::Worker;

/// How often the relister compares the runtime's containers with what workers last saw.
const RELIST_PERIOD: Duration = Duration::from_secs(1);
/// How long shutdown waits for workers to finish their current step.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// How long start-up waits for the ConfigMap/Secret caches before starting pods anyway.
const OBJECTS_WAIT: Duration = Duration::from_secs(10);

/// What the pod loop runs with.
#[derive(Clone)]
pub struct PodWorkerContext {
    /// A client acting as this node.
    pub client: kube::Client,
    /// The container runtime.
    pub cri: CriClient,
    /// The Node's name (`spec.nodeName` of its pods).
    pub node_name: String,
    /// The node's IPs, primary first (`status.hostIP(s)` of its pods).
    pub node_ips: Vec<IpAddr>,
    /// `<data-dir>/agent`: pods' directories go to `<agent_dir>/pods/<uid>`.
    pub agent_dir: PathBuf,
    /// Where container logs go (`/var/log/pods`).
    pub pod_log_root: PathBuf,
    /// `--cluster-dns` (empty: pods with dnsPolicy ClusterFirst resolve as the node does).
    pub cluster_dns: Vec<IpAddr>,
    /// `--cluster-domain` (`cluster.local`).
    pub cluster_domain: String,
}

/// Why the pod loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("reading {path}: {source}")]
    Host {
        path: String,
        source: std::io::Error,
    },
}

/// What every worker shares.
pub(crate) struct Shared {
    client: kube::Client,
    cri: CriClient,
    node_ips: Vec<IpAddr>,
    pods_dir: PathBuf,
    pod_log_root: PathBuf,
    cluster_dns: ClusterDns,
    /// The node's resolv.conf (`None` when it has none).
    host_dns: Option<DnsConfig>,
    /// The node's /etc/hosts, for hostNetwork pods.
    node_hosts: String,
    node_facts: NodeFacts,
    /// The node's memory in bytes.
    node_memory: i64,
    objects: Arc<KubeObjects>,
    recorder: events::Recorder,
    /// Sandboxes being created at once. containerd, runc and CNI share the node's cores: a
    /// burst of pods all started together finish together, each as late as the last;
    /// admitting a few at a time lets each pod run as soon as its own sandbox is up.
    sandbox_starts: tokio::sync::Semaphore,
}

/// A running worker and how to reach it.
struct Handle {
    pod: watch::Sender<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
    refresh_volumes: Arc<AtomicBool>,
    references: BTreeSet<ObjectKey>,
    task: JoinHandle<()>,
}

/// Runs the pods bound to `ctx.node_name` until `shutdown` turns true. Pods' containers keep
/// running when it returns: the next start adopts them without restarting them (by the CRI
/// labels and the spec hash and restart count annotations).
pub async fn run_pods(
    ctx: PodWorkerContext,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), KubeletError> {
    let shared = Arc::new(shared(&ctx).await?);
    let mut object_changes = shared.objects.subscribe();
    if tokio::time::timeout(OBJECTS_WAIT, shared.objects.wait_until_ready())
        .await
        .is_err()
    {
        tracing::warn!("ConfigMaps and Secrets are not cached yet; starting pods anyway");
    }

    let api: Api<Pod> = Api::all(ctx.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.node_name));
    let mut pods = watcher::watcher(api, config).default_backoff().boxed();
    let mut workers: HashMap<String, Handle> = HashMap::new();
    // UIDs listed by the current initial list (kube-runtime re-lists after a broken watch).
    let mut listing: Option<BTreeSet<String>> = None;
    let mut listed_once = false;
    let mut relist = tokio::time::interval(RELIST_PERIOD);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fingerprints: HashMap<String, u64> = HashMap::new();

    loop {
        tokio::select! {
            event = pods.next() => match event {
                Some(Ok(Event::Init)) => listing = Some(BTreeSet::new()),
                Some(Ok(Event::InitApply(pod))) => {
                    if let Some(uids) = listing.as_mut() {
                        uids.insert(pod.metadata.uid.clone().unwrap_or_default());
                    }
                    apply(&shared, &mut workers, pod, &shutdown);
                }
                Some(Ok(Event::InitDone)) => {
                    if let Some(uids) = listing.take() {
                        for (uid, handle) in &workers {
                            if !uids.contains(uid) {
                                handle.pod.send_replace(None);
                            }
                        }
                    }
                    listed_once = true;
                }
                Some(Ok(Event::Apply(pod))) => apply(&shared, &mut workers, pod, &shutdown),
                Some(Ok(Event::Delete(pod))) => {
                    if let Some(h) = workers.get(pod.metadata.uid.as_deref().unwrap_or("")) {
                        h.pod.send_replace(None);
                    }
                }
                Some(Err(e)) => tracing::warn!("watching this node's pods: {e}"),
                None => break,
            },
            change = object_changes.recv() => on_object_change(&workers, change),
            _ = relist.tick() => {
                workers.retain(|_, h| !h.task.is_finished());
                relist_runtime(&shared, &workers, &mut fingerprints, listed_once).await;
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    let tasks: Vec<JoinHandle<()>> = workers.into_values().map(|h| h.task).collect();
    if tokio::time::timeout(SHUTDOWN_WAIT, futures_util::future::join_all(tasks))
        .await
        .is_err()
    {
        tracing::warn!("pod workers did not stop in time");
    }
    Ok(())
}

/// Hands a Pod to its worker, starting one for a new pod.
fn apply(
    shared: &Arc<Shared>,
    workers: &mut HashMap<String, Handle>,
    pod: Pod,
    shutdown: &watch::Receiver<bool>,
) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let pod = Arc::new(pod);
    let references = pod_references(&pod);
    if let Some(h) = workers.get_mut(&uid)
        && !h.task.is_finished()
    {
        h.references = references;
        let (metadata_changed, significant) = match h.pod.borrow().as_ref() {
            None => (true, true),
            Some(p) => {
                let metadata = p.metadata.labels != pod.metadata.labels
                    || p.metadata.annotations != pod.metadata.annotations;
                let deletion = p.metadata.deletion_timestamp != pod.metadata.deletion_timestamp
                    || p.metadata.deletion_grace_period_seconds
                        != pod.metadata.deletion_grace_period_seconds;
                (metadata, metadata || deletion || p.spec != pod.spec)
            }
        };
        // downwardAPI volumes show labels and annotations: refresh them before the worker
        // sees the new Pod.
        if metadata_changed {
            h.refresh_volumes.store(true, Ordering::Release);
        }
        // A change of status only (often the worker's own write) does not wake the worker,
        // as upstream's pod workers are not woken by status updates; it reads the newest
        // Pod at its next sync.
        h.pod.send_if_modified(|current| {
            *current = Some(pod);
            significant
        });
        return;
    }
    let (tx, rx) = watch::channel(Some(pod.clone()));
    let wake = Arc::new(Notify::new());
    let refresh_volumes = Arc::new(AtomicBool::new(false));
    let worker = Worker::new(
        shared.clone(),
        pod,
        rx,
        wake.clone(),
        refresh_volumes.clone(),
    );
    let task = tokio::spawn(worker.run(shutdown.clone()));
    workers.insert(
        uid,
        Handle {
            pod: tx,
            wake,
            refresh_volumes,
            references,
            task,
        },
    );
}

/// A ConfigMap or Secret changed: the pods that reference it refresh their volumes and
/// retry containers that could not be configured.
fn on_object_change(
    workers: &HashMap<String, Handle>,
    change: Result<ObjectChange, broadcast::error::RecvError>,
) {
    let concerns = |h: &Handle| match &change {
        Ok(ObjectChange::Changed(key)) => h.references.contains(key),
        Ok(ObjectChange::Resynced(kind)) => h.references.iter().any(|k| k.kind == *kind),
        Err(broadcast::error::RecvError::Lagged(_)) => !h.references.is_empty(),
        Err(broadcast::error::RecvError::Closed) => false,
    };
    for h in workers.values().filter(|h| concerns(h)) {
        h.refresh_volumes.store(true, Ordering::Release);
        h.wake.notify_one();
    }
}

/// Wakes the workers whose pods changed in the runtime, and removes what the runtime holds
/// for pods that have no worker (after the first full list of pods).
async fn relist_runtime(
    shared: &Arc<Shared>,
    workers: &HashMap<String, Handle>,
    fingerprints: &mut HashMap<String, u64>,
    listed_once: bool,
) {
    let current = match cri::fingerprints(&shared.cri).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("listing the runtime's containers: {e}");
            return;
        }
    };
    for (uid, (owner, print)) in &current {
        match workers.get(uid) {
            Some(h) if fingerprints.get(uid) != Some(print) => h.wake.notify_one(),
            Some(_) => {}
            None if listed_once => {
                tracing::info!(pod = %format!("{}/{}", owner.pod_namespace, owner.pod_name), uid = %uid,
                    "removing the containers of a pod that no longer exists");
                let shared = shared.clone();
                let uid = uid.clone();
                // One removal at a time per relist keeps this bounded; the next relist
                // retries what is left.
                match cri::pod_state(&shared.cri, &uid).await {
                    Ok(runtime) => {
                        worker::remove_runtime_pod(&shared.cri, &runtime).await;
                        let pods_dir = shared.pods_dir.clone();
                        let cleaned = tokio::task::spawn_blocking(move || {
                            crate::volumes::cleanup_pod(&pods_dir, &uid)
                        })
                        .await;
                        if let Ok(Err(e)) = cleaned {
                            tracing::warn!("removing an orphaned pod's volumes: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("listing an orphaned pod's containers: {e}"),
                }
            }
            None => {}
        }
    }
    // Pods whose sandboxes and containers all vanished changed too.
    for uid in fingerprints
        .keys()
        .filter(|uid| !current.contains_key(*uid))
    {
        if let Some(h) = workers.get(uid) {
            h.wake.notify_one();
        }
    }
    *fingerprints = current
        .into_iter()
        .map(|(uid, (_, print))| (uid, print))
        .collect();
}

/// What the workers share, read from the host once.
async fn shared(ctx: &PodWorkerContext) -> Result<Shared, KubeletError> {
    let resolv = read_optional("/etc/resolv.conf").await?;
    let host_dns = resolv.map(|text| dns::parse_resolv_conf(&text).0);
    let node_hosts = read_optional("/etc/hosts").await?.unwrap_or_default();
    let meminfo = read_optional("/proc/meminfo").await?.unwrap_or_default();
    let node_memory = mem_total(&meminfo);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let host_ips: Vec<String> = ctx.node_ips.iter().map(IpAddr::to_string).collect();
    let node_facts = NodeFacts {
        name: ctx.node_name.clone(),
        host_ips: host_ips.clone(),
        allocatable: [
            ("cpu".to_string(), Quantity(cpus.to_string())),
            ("memory".to_string(), Quantity(node_memory.to_string())),
        ]
        .into_iter()
        .collect(),
    };
    Ok(Shared {
        client: ctx.client.clone(),
        cri: ctx.cri.clone(),
        node_ips: ctx.node_ips.clone(),
        pods_dir: ctx.agent_dir.join("pods"),
        pod_log_root: ctx.pod_log_root.clone(),
        cluster_dns: ClusterDns {
            servers: ctx.cluster_dns.iter().map(IpAddr::to_string).collect(),
            domain: ctx.cluster_domain.clone(),
            node_ips: host_ips,
        },
        host_dns,
        node_hosts,
        node_facts,
        node_memory,
        objects: Arc::new(KubeObjects::start(
            ctx.client.clone(),
            Some(ctx.node_name.clone()),
        )),
        recorder: events::Recorder::new(ctx.client.clone(), ctx.node_name.clone()),
        sandbox_starts: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
        ),
    })
}

async fn read_optional(path: &str) -> Result<Option<String>, KubeletError> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KubeletError::Host {
            path: path.into(),
            source,
        }),
    }
}

/// `MemTotal` of /proc/meminfo in bytes.
fn mem_total(meminfo: &str) -> i64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<i64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}
