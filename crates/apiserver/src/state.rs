//! The API server's shared state and configuration.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use k3rs_api::alloc::Ipv4Cidr;
use k3rs_store::Store;

use crate::authn::TokenAuthenticator;
use crate::discovery::Discovery;
use crate::metrics::Metrics;
use crate::services::ServiceAllocators;

/// How the API server is set up.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    pub service_cidr: Ipv4Cidr,
    pub node_port_range: (u16, u16),
    /// The address other nodes and the `kubernetes` Service reach the API server at.
    pub advertise_address: IpAddr,
    pub https_port: u16,
    /// Bearer tokens and the users they stand for.
    pub tokens: TokenAuthenticator,
    /// The cluster CA certificate (PEM), served at /cacerts for joining agents.
    pub ca_pem: String,
}

/// Everything a request handler needs, shared by all requests.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ApiServerConfig,
    pub discovery: Discovery,
    pub metrics: Metrics,
    pub services: Mutex<ServiceAllocators>,
    pub version: Bytes,
}

/// The Kubernetes version k3rs serves.
pub const KUBE_VERSION: (&str, &str) = ("1", "33");

pub fn version_document() -> Bytes {
    let doc = serde_json::json!({
        "major": KUBE_VERSION.0,
        "minor": KUBE_VERSION.1,
        "gitVersion": format!("v{}.{}.0+k3rs{}", KUBE_VERSION.0, KUBE_VERSION.1, env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else if cfg!(target_arch = "aarch64") { "arm64" } else { std::env::consts::ARCH }),
    });
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}
