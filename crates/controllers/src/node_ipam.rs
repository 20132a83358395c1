//! Node IPAM: every Node without `spec.podCIDR` gets the next free subnet (a /24 by default) of
//! `--cluster-cidr` as `spec.podCIDR` and `spec.podCIDRs`, as upstream's range allocator
//! (`nodeipam/ipam/range_allocator.go`) does.
//!
//! The allocations are rebuilt from the nodes' existing podCIDRs whenever the watch (re)starts,
//! before anything new is handed out, and a node's subnet is released when the node is deleted.
//! Driven by one kube-runtime watcher on Nodes; no periodic relists.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use k3rs_api::alloc::Ipv4Cidr;
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use crate::Context;

/// The prefix length of the subnet each node gets (upstream's `--node-cidr-mask-size`, IPv4).
pub const NODE_CIDR_MASK_SIZE: u8 = 24;

/// The field manager of the IPAM loop's writes.
const MANAGER: &str = "k3rs-node-ipam-controller";

/// How long a failed assignment waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Errors of the IPAM loop.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// Every subnet of the cluster CIDR is taken.
    #[error("no remaining pod CIDRs in {0}")]
    Exhausted(Ipv4Cidr),
    /// Writing the node failed.
    #[error("node API error: {0}")]
    Api(#[from] kube::Error),
}

/// The subnets of a cluster CIDR, each free or taken (upstream's `CidrSet`).
#[derive(Clone, Debug)]
pub struct CidrSet {
    cluster: Ipv4Cidr,
    prefix: u8,
    used: Vec<bool>,
    /// Index after the last subnet handed out: allocation goes round, as upstream's does.
    next: usize,
}

impl CidrSet {
    /// All subnets of length `subnet_prefix` inside `cluster`. When the cluster CIDR is itself
    /// smaller than one such subnet, it is the only subnet.
    pub fn new(cluster: Ipv4Cidr, subnet_prefix: u8) -> Self {
        let prefix = subnet_prefix.clamp(cluster.prefix, 32);
        let count = 1usize << u32::from(prefix - cluster.prefix).min(24);
        Self {
            cluster,
            prefix,
            used: vec![false; count],
            next: 0,
        }
    }

    /// The prefix length of every subnet.
    pub fn subnet_prefix(&self) -> u8 {
        self.prefix
    }

    /// How many subnets are taken.
    pub fn used(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }

    fn subnet(&self, index: usize) -> Ipv4Cidr {
        let step = 1u64 << (32 - u32::from(self.prefix));
        let network = self
            .cluster
            .nth(index as u64 * step)
            .unwrap_or(self.cluster.network);
        Ipv4Cidr {
            network,
            prefix: self.prefix,
        }
    }

    /// The index of `cidr` when it is exactly one of our subnets.
    fn index_of(&self, cidr: Ipv4Cidr) -> Option<usize> {
        if cidr.prefix != self.prefix {
            return None;
        }
        let offset = self.cluster.offset_of(cidr.network)?;
        let step = 1u64 << (32 - u32::from(self.prefix));
        (offset % step == 0)
            .then(|| (offset / step) as usize)
            .filter(|i| *i < self.used.len())
    }

    /// Hand out the next free subnet; `None` when all are taken.
    pub fn allocate_next(&mut self) -> Option<Ipv4Cidr> {
        let n = self.used.len();
        for step in 0..n {
            let i = (self.next + step) % n;
            if !self.used[i] {
                self.used[i] = true;
                self.next = (i + 1) % n;
                return Some(self.subnet(i));
            }
        }
        None
    }

    /// Mark `cidr` taken (an existing node's podCIDR). False when it is not one of our subnets
    /// (another range, another mask size) — then there is nothing to track.
    pub fn occupy(&mut self, cidr: Ipv4Cidr) -> bool {
        match self.index_of(cidr) {
            Some(i) => {
                self.used[i] = true;
                true
            }
            None => false,
        }
    }

    /// Return `cidr` to the pool (ignored when it is not one of ours).
    pub fn release(&mut self, cidr: Ipv4Cidr) {
        if let Some(i) = self.index_of(cidr) {
            self.used[i] = false;
        }
    }

    /// Whether `cidr` is one of our subnets and taken.
    pub fn is_used(&self, cidr: Ipv4Cidr) -> bool {
        self.index_of(cidr).is_some_and(|i| self.used[i])
    }
}

/// The IPv4 podCIDR of a node, when it has a parseable one.
pub fn node_pod_cidr(node: &Node) -> Option<Ipv4Cidr> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidr
        .iter()
        .chain(spec.pod_cidrs.iter().flatten())
        .filter_map(|c| c.parse::<Ipv4Cidr>().ok())
        .next()
}

/// The allocator's state: the set plus which node holds which subnet.
struct State {
    set: CidrSet,
    /// Node name → its subnet (from its spec, or assigned by us).
    by_node: HashMap<String, Ipv4Cidr>,
    /// Nodes left without a subnet because the range is full; served as subnets come free.
    starved: HashMap<String, Node>,
}

impl State {
    fn new(cluster: Ipv4Cidr) -> Self {
        Self {
            set: CidrSet::new(cluster, NODE_CIDR_MASK_SIZE),
            by_node: HashMap::new(),
            starved: HashMap::new(),
        }
    }

    /// Record what a node already has. Returns true when the node still needs a subnet.
    fn observe(&mut self, node: &Node) -> bool {
        let name = node.name_any();
        match node_pod_cidr(node) {
            Some(cidr) => {
                self.starved.remove(&name);
                if let Some(old) = self.by_node.insert(name, cidr)
                    && old != cidr
                {
                    self.set.release(old);
                }
                self.set.occupy(cidr);
                false
            }
            None => node.metadata.deletion_timestamp.is_none(),
        }
    }

    fn forget(&mut self, name: &str) {
        self.starved.remove(name);
        if let Some(cidr) = self.by_node.remove(name) {
            self.set.release(cidr);
        }
    }
}

/// Run the IPAM loop until the task is dropped.
pub async fn run(ctx: Context) {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let mut state = State::new(ctx.cluster_cidr);
    let (retry_tx, mut retry_rx) = mpsc::unbounded_channel::<String>();
    let mut events = watcher(nodes.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    // Buffers the nodes of a (re)list until it is complete.
    let mut listing: Option<Vec<Node>> = None;
    // Nodes seen without a podCIDR whose assignment failed and waits for a retry.
    let mut waiting: HashMap<String, Node> = HashMap::new();
    loop {
        let event = tokio::select! {
            event = events.next() => match event {
                Some(event) => event,
                None => return,
            },
            Some(name) = retry_rx.recv() => {
                if let Some(node) = waiting.remove(&name) {
                    assign(&nodes, &mut state, node, &retry_tx, &mut waiting).await;
                }
                continue;
            }
        };
        match event {
            Ok(watcher::Event::Init) => listing = Some(Vec::new()),
            Ok(watcher::Event::InitApply(node)) => {
                if let Some(list) = listing.as_mut() {
                    list.push(node);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let list = listing.take().unwrap_or_default();
                // Rebuild from scratch: first every existing subnet, then the new assignments.
                state = State::new(ctx.cluster_cidr);
                waiting.clear();
                let mut pending = Vec::new();
                for node in list {
                    if state.observe(&node) {
                        pending.push(node);
                    }
                }
                tracing::debug!(
                    used = state.set.used(),
                    pending = pending.len(),
                    "node IPAM: rebuilt allocations"
                );
                for node in pending {
                    assign(&nodes, &mut state, node, &retry_tx, &mut waiting).await;
                }
            }
            Ok(watcher::Event::Apply(node)) => {
                if state.observe(&node) && !state.by_node.contains_key(&node.name_any()) {
                    assign(&nodes, &mut state, node, &retry_tx, &mut waiting).await;
                }
            }
            Ok(watcher::Event::Delete(node)) => {
                let name = node.name_any();
                waiting.remove(&name);
                state.forget(&name);
                // A subnet may have come free: serve a node that waits for one.
                let next = state.starved.keys().next().cloned();
                if let Some(node) = next.and_then(|n| state.starved.remove(&n)) {
                    assign(&nodes, &mut state, node, &retry_tx, &mut waiting).await;
                }
            }
            Err(e) => tracing::warn!("node IPAM watch: {e}"),
        }
    }
}

/// Give `node` the next free subnet and write it; on failure, release it and retry later.
async fn assign(
    nodes: &Api<Node>,
    state: &mut State,
    node: Node,
    retry: &mpsc::UnboundedSender<String>,
    waiting: &mut HashMap<String, Node>,
) {
    let name = node.name_any();
    let Some(cidr) = state.set.allocate_next() else {
        if state.starved.insert(name.clone(), node).is_none() {
            tracing::warn!(node = %name, "{}", IpamError::Exhausted(state.set.cluster));
        }
        return;
    };
    state.by_node.insert(name.clone(), cidr);
    match write_cidr(nodes, &node, cidr).await {
        Ok(()) => tracing::debug!(node = %name, %cidr, "node IPAM: assigned podCIDR"),
        Err(IpamError::Api(kube::Error::Api(e))) if e.code == 404 => state.forget(&name),
        Err(e) => {
            tracing::warn!(node = %name, "node IPAM: cannot assign {cidr}: {e}");
            state.forget(&name);
            waiting.insert(name.clone(), node);
            let retry = retry.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY_AFTER).await;
                let _ = retry.send(name);
            });
        }
    }
}

/// Patch the node's spec with `cidr`.
async fn write_cidr(nodes: &Api<Node>, node: &Node, cidr: Ipv4Cidr) -> Result<(), IpamError> {
    let patch = serde_json::json!({
        "spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]},
    });
    let params = PatchParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    nodes
        .patch(&node.name_any(), &params, &Patch::Merge(&patch))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
