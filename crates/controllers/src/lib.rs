//! The control loops of k3rs. Every loop talks to the API through a `kube::Client` built on
//! the API server's in-process router, so it sees exactly what any client sees (defaulting,
//! admission, validation, watch semantics), without a socket.
//!
//! **Architecture invariant:** loops are driven by watches (kube-runtime watchers and
//! reflectors), never by periodic relists; they write only through the API.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslices;
pub mod garbage_collector;
pub mod job;
pub mod leader;
pub mod local_path;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod pod_gc;
pub mod pv_binder;
pub mod replicaset;
pub mod resourcequota;
pub mod root_ca;
pub mod serviceaccounts;
pub mod shared_watch;
pub mod simulated_nodes;
pub mod statefulset;
pub mod workqueue;

/// What the loops are started with.
#[derive(Clone)]
pub struct Context {
    /// A client over the in-process API router.
    pub client: kube::Client,
    /// This server's identity (lease holder name).
    pub identity: String,
    /// `--cluster-cidr`: the pod network node IPAM hands out node podCIDRs from
    /// (default [`DEFAULT_CLUSTER_CIDR`]).
    pub cluster_cidr: k3rs_api::alloc::Ipv4Cidr,
    /// The `--simulate-*` flags (default: no simulated nodes).
    pub simulation: simulated_nodes::SimulationConfig,
    /// The cluster CA certificate (PEM) published as `kube-root-ca.crt` in every namespace.
    pub ca_cert_pem: String,
    /// `--node-monitor-grace-period`: how long a node's Lease may go unrenewed before node
    /// lifecycle marks it Ready=Unknown (default [`node_lifecycle::DEFAULT_GRACE_PERIOD`]).
    pub node_monitor_grace_period: std::time::Duration,
    /// The server's `--data-dir`: local-path volumes live under `<data_dir>/storage` on
    /// their node.
    pub data_dir: std::path::PathBuf,
}

/// The default `--cluster-cidr` (k3s's).
pub const DEFAULT_CLUSTER_CIDR: k3rs_api::alloc::Ipv4Cidr = k3rs_api::alloc::Ipv4Cidr {
    network: std::net::Ipv4Addr::new(10, 42, 0, 0),
    prefix: 16,
};

/// The name of the Lease the controller loops are elected through.
pub const LEASE_NAME: &str = "k3rs-controllers";

/// Start every control loop; returns their tasks. Each loop module adds itself here.
fn start_loops(ctx: &Context) -> Vec<tokio::task::JoinHandle<()>> {
    // Pods are the busiest resource: one watch feeds every loop that follows them.
    let mut pods: shared_watch::SharedWatch<k8s_openapi::api::core::v1::Pod> =
        shared_watch::SharedWatch::new(kube::Api::all(ctx.client.clone()));
    // ReplicaSet, ReplicationController and Deployment share their informers.
    let mut workloads = replicaset::Informers::new(ctx, pods.subscribe());
    let mut loops = replicaset::start(ctx, &mut workloads);
    loops.extend(deployment::start(ctx, &mut workloads));
    // Job and CronJob share the Job watch; Job also uses the workload pod watch.
    let mut batch = job::Informers::new(ctx);
    loops.extend(job::start(ctx, &mut workloads, &mut batch));
    loops.extend(cronjob::start(ctx, &mut batch));
    loops.extend(batch.run());
    loops.extend(statefulset::start(ctx, &mut workloads));
    loops.extend(daemonset::start(ctx, &mut workloads));
    loops.extend(disruption::start(ctx, &mut workloads));
    loops.extend(resourcequota::start(ctx, &mut workloads));
    loops.extend(workloads.run());
    loops.extend([
        tokio::spawn(node_ipam::run(ctx.clone())),
        tokio::spawn(node_lifecycle::run(ctx.clone(), pods.subscribe())),
        tokio::spawn(simulated_nodes::run(ctx.clone(), pods.subscribe())),
        tokio::spawn(endpoints::run(ctx.client.clone(), pods.subscribe())),
        tokio::spawn(serviceaccounts::run(ctx.client.clone())),
        tokio::spawn(root_ca::run(ctx.client.clone(), ctx.ca_cert_pem.clone())),
        tokio::spawn(garbage_collector::run(ctx.client.clone(), pods.subscribe())),
        tokio::spawn(k3rs_scheduler::run::run(
            ctx.client.clone(),
            ctx.identity.clone(),
            pods.subscribe(),
        )),
        tokio::spawn(pv_binder::run(ctx.client.clone(), ctx.data_dir.clone())),
        tokio::spawn(pod_gc::run(
            ctx.client.clone(),
            pod_gc::core::TERMINATED_POD_GC_THRESHOLD,
            pods.subscribe(),
        )),
    ]);
    loops.push(pods.run());
    loops
}

/// Campaign for leadership and run the loops while leading; runs until the task is dropped.
pub async fn run(ctx: Context) {
    let mut loops: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        let leading = match leader::try_acquire(&ctx.client, LEASE_NAME, &ctx.identity).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("leader election: {e}");
                false
            }
        };
        if leading && loops.is_empty() {
            tracing::info!(identity = %ctx.identity, "became the controller leader");
            loops = start_loops(&ctx);
        } else if !leading && !loops.is_empty() {
            tracing::warn!("lost controller leadership; stopping the loops");
            for l in loops.drain(..) {
                l.abort();
            }
        }
        tokio::time::sleep(leader::RENEW_PERIOD).await;
    }
}

/// What a controller's sync can fail with (the loops that only read caches and write objects).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// A JSON value could not be built.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}
