//! `k3rs server`: the control plane in one process — store, PKI, API server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use k3rs_apiserver::authn::{TokenAuthenticator, User};
use k3rs_apiserver::{ApiServer, ApiServerConfig};
use k3rs_pki::{ServingIdentity, ServingIdentityInputs};
use k3rs_store::{SqliteOptions, SqliteStore, Store, StoreOptions};
use tokio::net::TcpListener;

use crate::cli::ServerConfig;

/// Run the server until SIGINT/SIGTERM.
pub async fn run(cfg: ServerConfig) -> Result<()> {
    let started = Instant::now();
    let server_dir = cfg.data_dir.join("server");
    let tls_dir = server_dir.join("tls");
    let db_path = server_dir.join("db").join("state.db");

    // Bind first: a port in use is the most common start-up failure, say so at once.
    let addr = SocketAddr::new(cfg.bind_address, cfg.https_listen_port);
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another server running? choose --https-listen-port)")
    })?;

    let host_name = cfg
        .node
        .name
        .clone()
        .unwrap_or_else(super::agent::host_name);
    let advertise = cfg
        .advertise_address
        .or(cfg.node.ip)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let api_service_ip = cfg
        .service_cidr
        .nth(1)
        .context("--service-cidr is too small to hold the kubernetes Service address")?;
    let node_ips: Vec<IpAddr> = [cfg.advertise_address, cfg.node.ip]
        .into_iter()
        .flatten()
        .collect();
    let sans = ServingIdentity::cluster_default(&ServingIdentityInputs {
        host_name: &host_name,
        node_ips: &node_ips,
        tls_sans: &cfg.tls_san,
        cluster_domain: &cfg.cluster_domain,
        api_service_ip: IpAddr::V4(api_service_ip),
    });
    let pki = Arc::new(
        k3rs_pki::load_or_create(&tls_dir, &sans).context("setting up the cluster certificates")?,
    );
    let token = k3rs_pki::load_or_create_token(
        &server_dir,
        pki.ca_cert_pem().as_bytes(),
        cfg.token.as_deref(),
    )
    .context("setting up the cluster token")?;

    let store: Arc<dyn Store> = SqliteStore::open(
        &db_path,
        SqliteOptions {
            store: StoreOptions {
                compact_interval: cfg.datastore_compact_interval,
                ..Default::default()
            },
        },
    )
    .with_context(|| format!("opening the datastore {}", db_path.display()))?;

    // The cluster token is also a bearer token with full rights, as k3s's server token is.
    let server_user = User {
        name: "system:k3rs:server".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
    };
    let tokens = TokenAuthenticator::new([(token.full(), server_user)]);
    let api = ApiServer::new(
        store,
        ApiServerConfig {
            service_cidr: cfg.service_cidr,
            node_port_range: cfg.node_port_range,
            advertise_address: advertise,
            https_port: cfg.https_listen_port,
            tokens,
            ca_pem: pki.ca_cert_pem().to_string(),
            kubelet_client_tls: Some(
                k3rs_apiserver::node_proxy::kubelet_client_tls(
                    pki.ca_cert_pem(),
                    &pki.kubelet_client().cert_pem,
                    &pki.kubelet_client().key_pem,
                )
                .context("kubelet client TLS")?,
            ),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("bootstrapping the API: {e}"))?;

    api.spawn_background();
    // The control loops use the same API as every client, in-process through the router.
    let loop_client = kube::Client::new(api.router(), "default");
    tokio::spawn(k3rs_controllers::run(k3rs_controllers::Context {
        client: loop_client,
        identity: host_name.clone(),
        cluster_cidr: cfg.cluster_cidr,
        simulation: simulation_config(&cfg.simulate),
        ca_cert_pem: pki.ca_cert_pem().to_string(),
        node_monitor_grace_period: cfg.node_monitor_grace_period,
        data_dir: cfg.data_dir.clone(),
    }));

    let kubeconfig = k3rs_pki::kubeconfig_yaml(
        &format!("https://127.0.0.1:{}", cfg.https_listen_port),
        pki.ca_cert_pem(),
        pki.admin_cert_pem(),
        pki.admin_key_pem(),
    );
    k3rs_pki::write_kubeconfig(
        &cfg.write_kubeconfig,
        &kubeconfig,
        cfg.write_kubeconfig_mode,
    )
    .with_context(|| {
        format!(
            "writing the admin kubeconfig {}",
            cfg.write_kubeconfig.display()
        )
    })?;

    let tls = k3rs_apiserver::serve::tls_config(
        pki.serving_cert_chain(),
        pki.serving_key(),
        pki.ca_cert_der().clone(),
    )
    .context("TLS setup")?;
    let identify: k3rs_apiserver::serve::Identify = Arc::new(|der| {
        k3rs_pki::identity_from_cert(der).map(|u| User {
            name: u.name,
            groups: u.groups,
        })
    });
    tracing::info!(
        "k3rs server listening on https://{addr}, ready in {:?}; kubeconfig written to {}",
        started.elapsed(),
        cfg.write_kubeconfig.display()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = if cfg.disable_agent {
        None
    } else {
        // The server's own node joins over loopback with the cluster token, as any agent does.
        let join_ip = if cfg.bind_address.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            cfg.bind_address
        };
        let url = format!(
            "https://{}",
            SocketAddr::new(join_ip, cfg.https_listen_port)
        );
        let roles = [
            "node-role.kubernetes.io/control-plane",
            "node-role.kubernetes.io/master",
        ]
        .map(|role| (role.to_string(), "true".to_string()));
        let opts = super::agent::agent_options(
            &cfg.data_dir,
            &cfg.node,
            roles.into_iter().collect(),
            Some(cfg.cluster_dns),
        )?;
        let token = token.full();
        let stop = stop_rx.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = super::agent::join_and_run(&url, &token, opts, stop).await {
                tracing::error!("the node agent stopped: {e:#}");
            }
        }))
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    // Agents (also the in-process one) get their certificates through the join routes.
    let join = k3rs_apiserver::node_join::routes(api.state().clone(), pki.clone(), token.clone());
    let mut stopped = stop_rx.clone();
    k3rs_apiserver::serve::serve_tls(
        api.router().merge(join),
        listener,
        tls,
        identify,
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    )
    .await;
    if let Some(agent) = agent
        && tokio::time::timeout(std::time::Duration::from_secs(15), agent)
            .await
            .is_err()
    {
        // The agent stops containerd; containers keep running for the next start to adopt.
        tracing::warn!("the node agent did not stop in time");
    }
    tracing::info!("k3rs server stopped");
    Ok(())
}

/// The `--simulate-*` flags as the simulated nodes take them.
fn simulation_config(
    flags: &crate::cli::SimulateConfig,
) -> k3rs_controllers::simulated_nodes::SimulationConfig {
    k3rs_controllers::simulated_nodes::SimulationConfig {
        nodes: flags.nodes,
        cpu: flags.cpu.clone(),
        memory: flags.memory.clone(),
        pods: flags.pods,
        labels: flags.labels.clone(),
        taints: flags.taints.iter().map(super::agent::api_taint).collect(),
        pod_completion: flags.pod_completion,
        ..Default::default()
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
