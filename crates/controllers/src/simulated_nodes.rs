//! Simulated nodes (`k3rs server --simulate-nodes N`), in the manner of kwok: N fake kubelets
//! that exist only as API data. They register Nodes `sim-node-0 … sim-node-(N-1)`, renew their
//! Leases in kube-node-lease, post node status as a kubelet does, and for the pods bound to them
//! write what a kubelet would through pods/status — Running with a pod IP from the node's
//! podCIDR, conditions, containerStatuses (readiness probes honoured as "ready after
//! initialDelaySeconds"), Succeeded after a while for pods whose restartPolicy is not Always —
//! and complete graceful deletions. Nothing runs and no traffic is sent anywhere.
//!
//! Two tasks share the work ([`heartbeat`] for nodes and leases, [`pods`] for pods), each with
//! one watch and one timer, so that 1,000 nodes cost a batch of lease writes every 10 s and
//! nothing else while idle.
//!
//! A node can be told to stop heartbeating (to simulate its failure) with the annotation
//! `k3rs.io/simulate-heartbeat: "false"`: it then renews no lease, posts no status and does
//! nothing for its pods, like a dead kubelet, until the annotation is removed.

pub mod heartbeat;
pub mod pods;
pub mod status;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::Context;
use crate::shared_watch::Subscription;

/// The annotation on a simulated Node that stops (`"false"`) its heartbeats.
pub const HEARTBEAT_ANNOTATION: &str = "k3rs.io/simulate-heartbeat";

/// The prefix of simulated node names.
pub const NODE_PREFIX: &str = "sim-node-";

/// How simulated nodes are set up (from the `--simulate-*` flags).
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationConfig {
    /// `--simulate-nodes`: how many nodes (0: none).
    pub nodes: u32,
    /// `--simulate-node-cpu`: capacity and allocatable cpu.
    pub cpu: String,
    /// `--simulate-node-memory`: capacity and allocatable memory.
    pub memory: String,
    /// `--simulate-node-pods`: capacity and allocatable pods.
    pub pods: u32,
    /// Capacity and allocatable ephemeral-storage.
    pub ephemeral_storage: String,
    /// `--simulate-node-label`: extra labels.
    pub labels: Vec<(String, String)>,
    /// `--simulate-node-taint`: taints registered with every node.
    pub taints: Vec<Taint>,
    /// `--simulate-pod-completion`: how long pods whose restartPolicy is not Always run before
    /// they succeed (per pod: annotation `k3rs.io/simulate-pod-completion`).
    pub pod_completion: Duration,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            nodes: 0,
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
            labels: Vec::new(),
            taints: Vec::new(),
            pod_completion: Duration::from_secs(5),
        }
    }
}

/// The name of simulated node `index`.
pub fn node_name(index: u32) -> String {
    format!("{NODE_PREFIX}{index}")
}

/// The index of a simulated node's name, when `name` is one of the `count` simulated nodes.
pub fn node_index(name: &str, count: u32) -> Option<u32> {
    let digits = name.strip_prefix(NODE_PREFIX)?;
    let index: u32 = digits.parse().ok()?;
    (index < count && index.to_string() == digits).then_some(index)
}

/// Errors of the simulated kubelets.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An API call failed.
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
    /// An object could not be built.
    #[error("cannot build object: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the node side tells the pod side about one simulated node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUpdate {
    /// Node index.
    pub index: u32,
    /// The node's podCIDR, once assigned.
    pub pod_cidr: Option<k3rs_api::alloc::Ipv4Cidr>,
    /// Whether the node exists and heartbeats (its kubelet is "alive").
    pub alive: bool,
}

/// Run the simulated nodes until the task is dropped (nothing when `--simulate-nodes` is 0).
pub async fn run(ctx: Context, pods: Subscription<Pod>) {
    if ctx.simulation.nodes == 0 {
        return;
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::join!(heartbeat::run(ctx.clone(), tx), pods::run(ctx, rx, pods));
}

#[cfg(test)]
mod tests;
