//! `k3rs agent`: join a cluster as a node. `k3rs server` runs the same agent in-process.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

use anyhow::{Context, Result};
use k3rs_kubelet::agent::AgentOptions;
use k3rs_kubelet::settings::KubeletSettings;
use tokio::sync::watch;

use crate::cli::{AgentConfig, NodeConfig, Taint};

/// Run `k3rs agent` until SIGINT/SIGTERM.
pub async fn run(cfg: AgentConfig) -> Result<()> {
    let opts = agent_options(&cfg.data_dir, &cfg.node, BTreeMap::new(), None)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        super::server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    join_and_run(&cfg.server, &cfg.token, opts, stop_rx).await
}

/// Join the cluster at `server` with `token`, then run the agent until `shutdown` turns true.
pub async fn join_and_run(
    server: &str,
    token: &str,
    opts: AgentOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let join = k3rs_kubelet::join::join(
        server,
        token,
        &opts.node_name,
        &opts.node_ips,
        &opts.agent_dir,
    );
    // Joining retries while the server is unreachable; a signal must still stop it.
    let mut stopping = shutdown.clone();
    let credentials = tokio::select! {
        joined = join => joined.with_context(|| format!("joining the cluster at {server}"))?,
        _ = stopping.wait_for(|stop| *stop) => return Ok(()),
    };
    tracing::info!(node = %opts.node_name, %server, "joined the cluster");
    k3rs_kubelet::agent::run(credentials, opts, shutdown)
        .await
        .context("running the node agent")
}

/// The agent's options from the node flags. `labels` are added to `--node-label`s (a server's
/// node gets the control-plane role); `cluster_dns` is the server's `--cluster-dns`, when known.
pub fn agent_options(
    data_dir: &Path,
    node: &NodeConfig,
    mut labels: BTreeMap<String, String>,
    cluster_dns: Option<Ipv4Addr>,
) -> Result<AgentOptions> {
    let mut settings = KubeletSettings::from_args(&node.kubelet_args).context("--kubelet-arg")?;
    if settings.cluster_dns.is_empty() {
        settings.cluster_dns.extend(cluster_dns.map(IpAddr::V4));
    }
    let node_name = node.name.clone().unwrap_or_else(host_name);
    let node_ip = match node.ip {
        Some(ip) => ip,
        None => default_route_ip().context(
            "cannot find this machine's address on its default route; give one with --node-ip",
        )?,
    };
    labels.extend(node.labels.iter().cloned());
    Ok(AgentOptions {
        agent_dir: data_dir.join("agent"),
        run_dir: node.run_dir.clone(),
        node_name,
        node_ips: vec![node_ip],
        labels,
        taints: node.taints.iter().map(api_taint).collect(),
        container_runtime_endpoint: node.container_runtime_endpoint.clone(),
        pause_image: node
            .pause_image
            .clone()
            .unwrap_or_else(|| k3rs_cri::image::PAUSE_IMAGE.to_string()),
        settings,
    })
}

/// A `--node-taint` as the API has it.
pub fn api_taint(t: &Taint) -> k8s_openapi::api::core::v1::Taint {
    k8s_openapi::api::core::v1::Taint {
        key: t.key.clone(),
        value: (!t.value.is_empty()).then(|| t.value.clone()),
        effect: t.effect.as_str().into(),
        time_added: None,
    }
}

/// The machine's host name, lower-cased (node names are DNS names).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|_| "localhost".into())
}

/// The address this machine sends from on its default route, as k3s picks the node IP.
/// Connecting a UDP socket sends nothing; it only asks the kernel for a route.
fn default_route_ip() -> std::io::Result<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
    Ok(socket.local_addr()?.ip())
}
