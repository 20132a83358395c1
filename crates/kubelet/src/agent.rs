//! The node agent as one task: the container runtime (the host's containerd, supervised, or an
//! existing CRI socket), the node's registration/Lease/status, its pod network config, and the
//! pod workers — until shutdown.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k3rs_cri::CriClient;
use k3rs_cri::containerd::{Containerd, ContainerdError, ContainerdOptions};
use k3rs_cri::image::{self, ImageError};
use k8s_openapi::api::core::v1::Taint;
use tokio::sync::watch;

use crate::cni::{PodNetwork, write_conflist};
use crate::join::{JoinError, NodeCredentials};
use crate::node::{self, NodeSpec, RuntimeCondition, RuntimeHealth};
use crate::pods::PodWorkerContext;
use crate::server::{KubeletApi, ServerError};
use crate::settings::KubeletSettings;

/// Where containers' logs go, as upstream (the CRI log files the kubelet API reads).
pub const POD_LOG_ROOT: &str = "/var/log/pods";
/// How long containerd gets to stop on shutdown before it is killed.
const CONTAINERD_STOP_GRACE: Duration = Duration::from_secs(10);

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("starting containerd")]
    Containerd(#[from] ContainerdError),
    #[error("importing images")]
    Image(#[from] ImageError),
    #[error("connecting to the container runtime")]
    Runtime(#[from] k3rs_cri::CriError),
    #[error("building the node's API client")]
    Client(#[from] JoinError),
    #[error("serving the kubelet API")]
    KubeletApi(#[from] ServerError),
    #[error("talking to the API server")]
    Api(#[from] kube::Error),
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// What the agent runs with.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// `<data-dir>/agent`.
    pub agent_dir: PathBuf,
    /// `--run-dir`: containerd's socket and state.
    pub run_dir: PathBuf,
    pub node_name: String,
    pub node_ips: Vec<IpAddr>,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// `--container-runtime-endpoint`: use this CRI socket instead of starting containerd.
    pub container_runtime_endpoint: Option<PathBuf>,
    /// The sandbox image containerd runs pods' sandboxes from.
    pub pause_image: String,
    pub settings: KubeletSettings,
}

impl AgentOptions {
    /// `<agent-dir>/etc/cni/net.d`, where the pod network config goes.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.agent_dir.join("etc/cni/net.d")
    }
}

/// The container runtime the agent uses: its own supervised containerd, or a given socket.
enum Runtime {
    Supervised(Containerd),
    External(CriClient),
}

impl Runtime {
    async fn start(opts: &AgentOptions) -> Result<Runtime, AgentError> {
        Ok(match &opts.container_runtime_endpoint {
            Some(socket) => Runtime::External(CriClient::connect(socket).await?),
            None => Runtime::Supervised(
                Containerd::start(ContainerdOptions::new(
                    &opts.agent_dir,
                    &opts.run_dir,
                    &opts.pause_image,
                ))
                .await?,
            ),
        })
    }

    /// Import the pause image (when it is k3rs's own) and the airgap archives in
    /// `<agent-dir>/images`. Only the agent's own containerd takes imports.
    async fn import_images(&self, opts: &AgentOptions) -> Result<(), AgentError> {
        let Runtime::Supervised(containerd) = self else {
            return Ok(());
        };
        let snapshotter = Some(containerd.snapshotter());
        if opts.pause_image == image::PAUSE_IMAGE {
            image::ensure_pause_image(containerd.client(), containerd.socket(), snapshotter)
                .await?;
        }
        let dir = opts.agent_dir.join("images");
        image::import_dir(containerd.socket(), snapshotter, &dir)
            .await
            .map_err(|source| AgentError::Io {
                what: format!("reading the images directory {}", dir.display()),
                source,
            })?;
        Ok(())
    }

    fn client(&self) -> &CriClient {
        match self {
            Runtime::Supervised(c) => c.client(),
            Runtime::External(c) => c,
        }
    }

    async fn stop(self) {
        if let Runtime::Supervised(c) = self {
            c.stop(CONTAINERD_STOP_GRACE).await;
        }
    }
}

/// CRI `Status` as the node's Ready condition sees it.
struct CriHealth(CriClient);

impl RuntimeHealth for CriHealth {
    async fn check(&self) -> RuntimeCondition {
        let v = self.0.version();
        let version = format!("{}://{}", v.runtime_name, v.runtime_version);
        let status = self
            .0
            .runtime()
            .status(k3rs_cri::v1::StatusRequest { verbose: false })
            .await;
        let not_ready = match status {
            Err(e) => Some(format!("container runtime is down: {}", e.message())),
            Ok(reply) => {
                let conditions = reply
                    .into_inner()
                    .status
                    .map(|s| s.conditions)
                    .unwrap_or_default();
                runtime_not_ready(&conditions)
            }
        };
        RuntimeCondition { version, not_ready }
    }
}

/// Upstream's wording for a runtime whose RuntimeReady or NetworkReady condition is false.
pub fn runtime_not_ready(conditions: &[k3rs_cri::v1::RuntimeCondition]) -> Option<String> {
    let find = |ty: &str| conditions.iter().find(|c| c.r#type == ty);
    for (ty, what) in [
        (
            "RuntimeReady",
            "container runtime status check may not have completed yet",
        ),
        ("NetworkReady", "container runtime network not ready"),
    ] {
        match find(ty) {
            Some(c) if c.status => {}
            Some(c) => {
                return Some(format!(
                    "{what}: {ty}=false reason:{} message:{}",
                    c.reason, c.message
                ));
            }
            None => return Some(format!("{what}: {ty} is not reported")),
        }
    }
    None
}

/// Run the agent until `shutdown` turns true, as the node `credentials` name.
pub async fn run(
    credentials: NodeCredentials,
    opts: AgentOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let client = credentials.kube_client()?;
    std::fs::create_dir_all(&opts.agent_dir).map_err(|source| AgentError::Io {
        what: format!("creating {}", opts.agent_dir.display()),
        source,
    })?;
    let runtime = Runtime::start(&opts).await?;
    runtime.import_images(&opts).await?;
    let cri = runtime.client().clone();
    tracing::info!(
        runtime = %cri.version().runtime_name,
        version = %cri.version().runtime_version,
        socket = %cri.socket().display(),
        "container runtime ready"
    );

    let settings = Arc::new(opts.settings.clone());
    let kubelet_ip = opts
        .node_ips
        .first()
        .copied()
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (kubelet_addr, kubelet_api) = crate::server::start(
        SocketAddr::new(kubelet_ip, settings.port),
        &credentials.serving_cert_pem,
        &credentials.serving_key_pem,
        &credentials.ca_pem,
        KubeletApi {
            cri: cri.clone(),
            node_name: opts.node_name.clone(),
        },
        shutdown.clone(),
    )
    .await?;
    tracing::info!(address = %kubelet_addr, "kubelet API listening");
    let static_pods_task = tokio::spawn(crate::static_pods::run(
        client.clone(),
        opts.node_name.clone(),
        opts.agent_dir.join("pod-manifests"),
        shutdown.clone(),
    ));
    let image_gc_task = tokio::spawn(crate::image_gc::run(
        cri.clone(),
        opts.pause_image.clone(),
        settings.image_gc_high_percent,
        settings.image_gc_low_percent,
        shutdown.clone(),
    ));
    let (cidr_tx, cidr_rx) = watch::channel(Vec::new());
    let node_task = tokio::spawn(node::run(
        client.clone(),
        NodeSpec {
            name: opts.node_name.clone(),
            ips: opts.node_ips.clone(),
            labels: opts.labels.clone(),
            taints: opts.taints.clone(),
            state_dir: opts.agent_dir.clone(),
            settings: settings.clone(),
        },
        CriHealth(cri.clone()),
        cidr_tx,
        shutdown.clone(),
    ));
    let network_task = tokio::spawn(follow_pod_cidrs(
        opts.cni_conf_dir(),
        opts.agent_dir.join("cni"),
        cidr_rx,
    ));

    let pods_task = tokio::spawn(crate::pods::run_pods(
        PodWorkerContext {
            client: client.clone(),
            cri: cri.clone(),
            node_name: opts.node_name.clone(),
            node_ips: opts.node_ips.clone(),
            agent_dir: opts.agent_dir.clone(),
            pod_log_root: PathBuf::from(POD_LOG_ROOT),
            cluster_dns: settings.cluster_dns.clone(),
            cluster_domain: settings.cluster_domain.clone(),
        },
        shutdown.clone(),
    ));

    let result = match node_task.await {
        Ok(r) => r.map_err(AgentError::from),
        Err(e) => Err(AgentError::Io {
            what: "the node task".into(),
            source: std::io::Error::other(e),
        }),
    };
    network_task.abort();
    static_pods_task.abort();
    image_gc_task.abort();
    kubelet_api.abort();
    if result.is_err() {
        // The node side failed without a shutdown: nothing tells the workers to stop.
        pods_task.abort();
    }
    match pods_task.await {
        Ok(Err(e)) => tracing::error!("the pod workers stopped: {e}"),
        Err(e) if !e.is_cancelled() => tracing::error!("the pod workers failed: {e}"),
        _ => {}
    }
    runtime.stop().await;
    result
}

/// Write the CNI config whenever the node's podCIDRs change (containerd reloads it by itself).
async fn follow_pod_cidrs(
    conf_dir: PathBuf,
    ipam_dir: PathBuf,
    mut cidrs: watch::Receiver<Vec<String>>,
) {
    loop {
        let current = cidrs.borrow_and_update().clone();
        if !current.is_empty() {
            let net = PodNetwork {
                pod_cidrs: current.clone(),
                ipam_dir: ipam_dir.clone(),
            };
            match write_conflist(&conf_dir, &net) {
                Ok(true) => tracing::info!(pod_cidrs = ?current, "pod network configured"),
                Ok(false) => {}
                Err(e) => tracing::error!("writing the CNI config in {}: {e}", conf_dir.display()),
            }
        }
        if cidrs.changed().await.is_err() {
            return;
        }
    }
}
