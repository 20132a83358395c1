//! Registration, Lease renewal and node status, as one task per node: one watch on the own
//! Node (podCIDR, uid, observed conditions) and one 10 s timer.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use super::host;
use super::status::{
    self, FIELD_MANAGER, LEASE_RENEW_INTERVAL, NodeReport, STATUS_REPORT_FREQUENCY,
};
use crate::settings::{KubeletSettings, capacity_and_allocatable};

/// How soon after a podCIDR change the node's readiness is checked again.
const NETWORK_RECHECK: Duration = Duration::from_secs(1);

/// What the container runtime says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeCondition {
    /// `containerd://1.6.20`.
    pub version: String,
    /// Why pods cannot run (runtime or network not ready), in upstream's wording.
    pub not_ready: Option<String>,
}

/// Asks the container runtime how it is (CRI Version + Status).
pub trait RuntimeHealth: Send + Sync + 'static {
    fn check(&self) -> impl std::future::Future<Output = RuntimeCondition> + Send;
}

/// The node this kubelet registers.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    pub ips: Vec<IpAddr>,
    /// Extra labels (`--node-label`, the control-plane role of a server's node).
    pub labels: BTreeMap<String, String>,
    /// Taints set at registration (`--node-taint`).
    pub taints: Vec<Taint>,
    /// Where the kubelet keeps its state (its file system is the node's ephemeral storage).
    pub state_dir: PathBuf,
    pub settings: Arc<KubeletSettings>,
}

/// Register the node and keep its Lease and status until `shutdown` turns true. The node's
/// podCIDRs are published on `pod_cidrs` whenever they change.
pub async fn run(
    client: kube::Client,
    spec: NodeSpec,
    runtime: impl RuntimeHealth,
    pod_cidrs: watch::Sender<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), status::NODE_LEASE_NAMESPACE);
    let info = host::node_info();
    let arch = info.architecture.clone();

    let mut report = build_report(&spec, &info, &runtime).await;
    register(&nodes, &spec, &arch, &report).await?;
    tracing::info!(node = %spec.name, "node registered");

    let config = watcher::Config::default().fields(&format!("metadata.name={}", spec.name));
    let mut node_events = watcher(nodes.clone(), config).applied_objects().boxed();
    let mut ticker = tokio::time::interval(LEASE_RENEW_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut node_uid: Option<String> = None;
    let mut observed: Vec<NodeCondition> = Vec::new();
    let mut posted: Option<(NodeReport, Instant)> = None;
    let mut lease_known = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() { return Ok(()); }
            }
            event = node_events.next() => match event {
                Some(Ok(node)) => {
                    node_uid = node.metadata.uid.clone();
                    let status = node.status.unwrap_or_default();
                    observed = status.conditions.unwrap_or_default();
                    let node_spec = node.spec.unwrap_or_default();
                    let cidrs = node_spec
                        .pod_cidrs
                        .filter(|c| !c.is_empty())
                        .or_else(|| node_spec.pod_cidr.map(|c| vec![c]))
                        .unwrap_or_default();
                    let changed = pod_cidrs.send_if_modified(|current| {
                        let changed = *current != cidrs;
                        if changed { *current = cidrs; }
                        changed
                    });
                    if changed {
                        // The pod network comes up once the CNI config is written: report it
                        // soon rather than at the next heartbeat.
                        ticker.reset_after(NETWORK_RECHECK);
                    }
                }
                Some(Err(e)) => tracing::debug!(node = %spec.name, "node watch: {e}"),
                None => return Ok(()),
            },
            _ = ticker.tick() => {
                let now = Timestamp::now();
                match renew_lease(&leases, &spec.name, node_uid.as_deref(), lease_known, now).await {
                    Ok(()) => lease_known = true,
                    Err(e) => tracing::warn!(node = %spec.name, "renewing the node lease: {e}"),
                }
                report = build_report(&spec, &info, &runtime).await;
                let due = match &posted {
                    None => true,
                    Some((last, at)) => {
                        *last != report
                            || at.elapsed() >= STATUS_REPORT_FREQUENCY
                            || !status::conditions_match(&observed, &report.conditions)
                    }
                };
                if due {
                    let patch = serde_json::json!({
                        "status": status::node_status(&report, &observed, now)
                    });
                    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                    match nodes.patch_status(&spec.name, &params, &Patch::Strategic(&patch)).await {
                        Ok(_) => posted = Some((report.clone(), Instant::now())),
                        Err(e) => tracing::warn!(node = %spec.name, "posting node status: {e}"),
                    }
                }
            }
        }
    }
}

/// The node's status as of now.
async fn build_report(
    spec: &NodeSpec,
    info: &status::NodeInfo,
    runtime: &impl RuntimeHealth,
) -> NodeReport {
    let runtime = runtime.check().await;
    let (capacity, allocatable) =
        capacity_and_allocatable(&host::resources(&spec.state_dir), &spec.settings);
    let pressure = host::pressure(&spec.state_dir, &spec.settings);
    let mut addresses: Vec<(String, String)> = spec
        .ips
        .iter()
        .map(|ip| ("InternalIP".to_string(), ip.to_string()))
        .collect();
    addresses.push(("Hostname".into(), spec.name.clone()));
    NodeReport {
        capacity,
        allocatable,
        addresses,
        kubelet_port: spec.settings.port,
        node_info: status::NodeInfo {
            container_runtime_version: runtime.version,
            ..info.clone()
        },
        conditions: status::conditions(pressure, runtime.not_ready.as_deref()).to_vec(),
    }
}

/// Create the Node; when it exists already (a restart, or a re-join), bring its labels up to
/// date (taints are only set at registration, as upstream).
async fn register(
    nodes: &Api<Node>,
    spec: &NodeSpec,
    arch: &str,
    report: &NodeReport,
) -> Result<(), kube::Error> {
    let labels = status::node_labels(&spec.name, arch, &spec.labels);
    let object = status::node_object(
        &spec.name,
        labels.clone(),
        &spec.taints,
        report,
        Timestamp::now(),
    );
    let node: Node = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
    let post = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let mut delay = Duration::from_millis(200);
    loop {
        match nodes.create(&post, &node).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let patch = serde_json::json!({"metadata": {"labels": labels}});
                let params = PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..Default::default()
                };
                nodes
                    .patch(&spec.name, &params, &Patch::Merge(&patch))
                    .await?;
                return Ok(());
            }
            Err(kube::Error::Api(e)) if e.code == 401 || e.code == 403 => {
                return Err(kube::Error::Api(e));
            }
            Err(e) => {
                tracing::warn!(node = %spec.name, "registering the node (retrying in {delay:?}): {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(7));
            }
        }
    }
}

/// Patch the lease's renewTime; create the lease when it does not exist.
pub async fn renew_lease(
    leases: &Api<Lease>,
    name: &str,
    node_uid: Option<&str>,
    known: bool,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let renewal = status::lease_renewal(name, node_uid, now);
    if known {
        match leases.patch(name, &params, &Patch::Merge(&renewal)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let lease: Lease = serde_json::from_value(status::lease_object(name, node_uid, now))
        .map_err(kube::Error::SerdeError)?;
    let post = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match leases.create(&post, &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            leases.patch(name, &params, &Patch::Merge(&renewal)).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
