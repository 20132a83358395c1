//! The API server's shared state and configuration.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use k3rs_api::alloc::Ipv4Cidr;
use k3rs_store::Store;

use crate::authn::TokenAuthenticator;
use crate::crds::CustomResources;
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
    /// TLS to kubelets (cluster CA + the kubelet client certificate), for logs, exec,
    /// port-forward and node proxy; `None` answers those 503.
    pub kubelet_client_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Everything a request handler needs, shared by all requests.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ApiServerConfig,
    /// Discovery documents; rebuilt when the set of custom resources changes.
    pub discovery: RwLock<Arc<Discovery>>,
    /// The custom resources being served.
    pub crds: CustomResources,
    pub metrics: Metrics,
    pub services: Mutex<ServiceAllocators>,
    pub version: Bytes,
    /// The OpenAPI documents (built-ins once; custom resources when they change).
    pub openapi: Arc<crate::openapi::OpenApi>,
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

impl AppState {
    /// The current discovery documents.
    pub fn discovery(&self) -> Arc<Discovery> {
        match self.discovery.read() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuild discovery and the custom part of the OpenAPI documents after custom resources
    /// changed.
    pub fn rebuild_discovery(&self) {
        self.openapi.rebuild_custom(self.crds.openapi_kinds());
        let address = format!(
            "{}:{}",
            self.config.advertise_address, self.config.https_port
        );
        let fresh = Arc::new(Discovery::build(&address, &self.crds.infos()));
        match self.discovery.write() {
            Ok(mut d) => *d = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
    }

    /// The `apiVersion` objects of `res` must be presented with when it may differ from the
    /// stored one: the versions of a custom resource share storage.
    pub fn presented_version(&self, res: &k3rs_api::registry::ResourceInfo) -> Option<String> {
        self.crds.of(res).map(|_| res.api_version())
    }

    /// The resource at group/version/plural: built-in or custom.
    pub fn resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static k3rs_api::registry::ResourceInfo> {
        k3rs_api::registry::lookup(group, version, plural)
            .or_else(|| self.crds.lookup(group, version, plural).map(|c| c.info))
    }
}
