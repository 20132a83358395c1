//! Development driver of the pod loop beside a running `k3rs server` whose agent runs
//! containerd: `pod_loop <kubeconfig> <containerd-socket> <agent-dir> <node-name> <node-ip>`,
//! `pod_loop image <path>` to write the busybox test image archive, or
//! `pod_loop pause <socket> /proc/<pid of k3rs>` to import the pause image made from k3rs.

use std::path::PathBuf;

use k3rs_kubelet::pods::{PodWorkerContext, run_pods};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("image") {
        k3rs_cri::image::write_busybox_test_image(&PathBuf::from(&args[1]))?;
        return Ok(());
    }
    if let [mode, socket, proc_dir] = &args[..]
        && mode == "pause"
    {
        let socket = PathBuf::from(socket);
        let cri = k3rs_cri::CriClient::connect(&socket).await?;
        let snapshotter = k3rs_cri::image::cri_snapshotter(&cri).await?;
        let spec = k3rs_cri::image::pause_image_spec(&PathBuf::from(proc_dir))?;
        k3rs_cri::image::import_image(&socket, snapshotter.as_deref(), spec).await?;
        return Ok(());
    }
    let [kubeconfig, socket, agent_dir, node, ip] = &args[..] else {
        return Err("usage: pod_loop <kubeconfig> <socket> <agent-dir> <node> <node-ip>".into());
    };
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let cri = k3rs_cri::CriClient::connect(&PathBuf::from(socket)).await?;
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    run_pods(
        PodWorkerContext {
            client,
            cri,
            node_name: node.clone(),
            node_ips: vec![ip.parse()?],
            agent_dir: PathBuf::from(agent_dir),
            pod_log_root: PathBuf::from("/var/log/pods"),
            cluster_dns: vec![],
            cluster_domain: "cluster.local".into(),
        },
        shutdown,
    )
    .await?;
    Ok(())
}
