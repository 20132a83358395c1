//! The node side of the simulated kubelets: registration, Lease renewal every 10 s and node
//! status — one Node watch and one timer for all nodes; each tick's writes go out as one batch
//! with bounded concurrency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use super::status;
use super::{HEARTBEAT_ANNOTATION, NodeUpdate, SimError, SimulationConfig, node_index};
use crate::Context;
use crate::node_ipam::node_pod_cidr;
use k3rs_kubelet::node::renew_lease;
use k3rs_kubelet::node::status::{
    LEASE_RENEW_INTERVAL, NODE_LEASE_NAMESPACE, STATUS_REPORT_FREQUENCY,
};

/// Concurrent writes of one batch.
const CONCURRENCY: usize = 32;
/// The field manager of the simulated kubelets (upstream's kubelet writes as "kubelet").
const MANAGER: &str = "kubelet";

/// One simulated node as the node side sees it.
#[derive(Clone, Debug)]
struct SimNode {
    /// The Node exists (seen by the watch).
    exists: bool,
    uid: Option<String>,
    heartbeat: bool,
    pod_cidr: Option<k3rs_api::alloc::Ipv4Cidr>,
    conditions: Vec<NodeCondition>,
    /// When status was last posted successfully.
    last_status: Option<Instant>,
    /// The Lease is known to exist.
    has_lease: bool,
}

impl SimNode {
    fn update(&self, index: u32) -> NodeUpdate {
        NodeUpdate {
            index,
            pod_cidr: self.pod_cidr,
            alive: self.exists && self.heartbeat,
        }
    }
}

/// What one node of a batch should do.
struct Work {
    index: u32,
    uid: Option<String>,
    has_lease: bool,
    /// Post status (with these observed conditions) as well as renewing the lease.
    status: Option<Vec<NodeCondition>>,
}

/// What came of one node's work.
struct Outcome {
    index: u32,
    lease_ok: bool,
    status_ok: bool,
}

/// Register the nodes, then keep their leases and status until the task is dropped.
pub async fn run(ctx: Context, updates: mpsc::UnboundedSender<NodeUpdate>) {
    let cfg = Arc::new(ctx.simulation.clone());
    let count = cfg.nodes;
    let client = ctx.client.clone();
    let nodes_api: Api<Node> = Api::all(client.clone());

    let started = Instant::now();
    let created = register(&nodes_api, &cfg).await;
    tracing::info!(
        nodes = count,
        created,
        "registered simulated nodes in {:?}",
        started.elapsed()
    );

    let mut nodes: Vec<SimNode> = (0..count)
        .map(|_| SimNode {
            exists: false,
            uid: None,
            heartbeat: true,
            pod_cidr: None,
            conditions: Vec::new(),
            last_status: None,
            has_lease: false,
        })
        .collect();
    // The first status post happens at registration; later ones are spread over the report
    // period so that 1,000 nodes do not all post in the same tick.
    let registered_at = Instant::now();
    for (i, n) in nodes.iter_mut().enumerate() {
        let spread = STATUS_REPORT_FREQUENCY.as_secs().max(1);
        let offset = Duration::from_secs((i as u64 * 7919) % spread);
        n.last_status = registered_at.checked_sub(offset);
    }

    let mut events = watcher(nodes_api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listing: Option<Vec<Node>> = None;
    let mut tick = tokio::time::interval(LEASE_RENEW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Vec<Outcome>>();
    let mut batch_running = false;

    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                match event {
                    Ok(watcher::Event::Init) => listing = Some(Vec::new()),
                    Ok(watcher::Event::InitApply(node)) => {
                        if let Some(list) = listing.as_mut() {
                            list.push(node);
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        let list = listing.take().unwrap_or_default();
                        let mut seen = vec![false; count as usize];
                        for node in &list {
                            if let Some(i) = node_index(&node.name_any(), count) {
                                seen[i as usize] = true;
                                observe(&mut nodes, i, Some(node), &updates);
                            }
                        }
                        for (i, seen) in seen.iter().enumerate() {
                            if !seen {
                                observe(&mut nodes, i as u32, None, &updates);
                            }
                        }
                        // Heartbeat at once rather than a period after start.
                        tick.reset_immediately();
                    }
                    Ok(watcher::Event::Apply(node)) => {
                        if let Some(i) = node_index(&node.name_any(), count) {
                            observe(&mut nodes, i, Some(&node), &updates);
                        }
                    }
                    Ok(watcher::Event::Delete(node)) => {
                        if let Some(i) = node_index(&node.name_any(), count) {
                            observe(&mut nodes, i, None, &updates);
                        }
                    }
                    Err(e) => tracing::warn!("simulated nodes: node watch: {e}"),
                }
            }
            _ = tick.tick() => {
                if batch_running {
                    tracing::debug!("simulated nodes: previous heartbeat batch still running");
                    continue;
                }
                let now = Instant::now();
                let work: Vec<Work> = nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.exists && n.heartbeat)
                    .map(|(i, n)| {
                        let due = n.last_status.is_none_or(|t| now.duration_since(t) >= STATUS_REPORT_FREQUENCY);
                        let post = due || !status::node_conditions_healthy(&n.conditions);
                        Work {
                            index: i as u32,
                            uid: n.uid.clone(),
                            has_lease: n.has_lease,
                            status: post.then(|| n.conditions.clone()),
                        }
                    })
                    .collect();
                if work.is_empty() {
                    continue;
                }
                batch_running = true;
                let client = client.clone();
                let cfg = cfg.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let outcomes = futures_util::stream::iter(work)
                        .map(|w| heartbeat_one(&client, &cfg, w))
                        .buffer_unordered(CONCURRENCY)
                        .collect::<Vec<_>>()
                        .await;
                    let _ = done.send(outcomes);
                });
            }
            Some(outcomes) = done_rx.recv() => {
                batch_running = false;
                let now = Instant::now();
                for o in outcomes {
                    if let Some(n) = nodes.get_mut(o.index as usize) {
                        n.has_lease = o.lease_ok;
                        if o.status_ok {
                            n.last_status = Some(now);
                        }
                    }
                }
            }
        }
    }
}

/// Record what the watch says of node `index` (None: it does not exist) and tell the pod side
/// when its podCIDR or liveness changed.
fn observe(
    nodes: &mut [SimNode],
    index: u32,
    node: Option<&Node>,
    updates: &mpsc::UnboundedSender<NodeUpdate>,
) {
    let Some(n) = nodes.get_mut(index as usize) else {
        return;
    };
    let before = n.update(index);
    match node {
        Some(node) => {
            if n.uid.as_deref() != node.metadata.uid.as_deref() {
                n.has_lease = false;
            }
            n.exists = node.metadata.deletion_timestamp.is_none();
            n.uid = node.metadata.uid.clone();
            n.heartbeat = heartbeat_enabled(node);
            n.pod_cidr = node_pod_cidr(node);
            n.conditions = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
        }
        None => {
            n.exists = false;
            n.uid = None;
            n.has_lease = false;
            n.pod_cidr = None;
            n.conditions.clear();
        }
    }
    let after = n.update(index);
    if after != before {
        let _ = updates.send(after);
    }
}

/// False when the node carries `k3rs.io/simulate-heartbeat: "false"`.
pub fn heartbeat_enabled(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HEARTBEAT_ANNOTATION))
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"))
}

/// Create every simulated Node that does not exist yet (with status, as the kubelet's first
/// registration); returns how many were created.
async fn register(nodes: &Api<Node>, cfg: &SimulationConfig) -> usize {
    let now = Timestamp::now();
    let results = futures_util::stream::iter(0..cfg.nodes)
        .map(|i| async move {
            let node: Node = serde_json::from_value(status::node_object(cfg, i, now))?;
            let params = PostParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            };
            match nodes.create(&params, &node).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(SimError::from(e)),
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<Result<bool, SimError>>>()
        .await;
    let mut created = 0;
    for r in results {
        match r {
            Ok(true) => created += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!("simulated nodes: registration: {e}"),
        }
    }
    created
}

/// Renew one node's lease (creating it when missing) and post its status when asked.
async fn heartbeat_one(client: &kube::Client, cfg: &SimulationConfig, work: Work) -> Outcome {
    let name = super::node_name(work.index);
    let now = Timestamp::now();
    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let lease_ok = match renew_lease(&leases, &name, work.uid.as_deref(), work.has_lease, now).await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(node = %name, "simulated nodes: lease renewal: {e}");
            false
        }
    };
    let mut status_ok = false;
    if let Some(observed) = work.status {
        let nodes: Api<Node> = Api::all(client.clone());
        let patch =
            serde_json::json!({"status": status::node_status(cfg, work.index, &observed, now)});
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        match nodes
            .patch_status(&name, &params, &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => status_ok = true,
            Err(e) => tracing::debug!(node = %name, "simulated nodes: node status: {e}"),
        }
    }
    Outcome {
        index: work.index,
        lease_ok,
        status_ok,
    }
}
