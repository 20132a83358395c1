//! The Kubernetes API server of k3rs: REST over the store, watch, discovery,
//! authentication and authorization, admission (defaulting, allocation, validation).
//!
//! A request reads straight through: [`handler::handle`] (decode, authn, authz) →
//! [`ops`] (prepare → defaults → admission → validation → store) → [`codec`] (bytes out);
//! watches stream from the store through [`watch`].
//!
//! **API boundary:** [`ApiServer`]; its [`ApiServer::router`] is an axum `Router` usable
//! in-process (e.g. as a kube-rs client transport) or served over TLS by [`serve::serve_tls`].

mod admission;
pub mod authn;
pub mod authz;
mod binding;
mod bootstrap;
pub mod codec;
mod crd_controller;
pub mod crds;
pub mod discovery;
mod eviction;
pub mod fieldmanager;
pub mod fieldvalidation;
pub mod handler;
mod meta;
pub mod metrics;
mod namespace_lifecycle;
pub mod node_join;
pub mod node_proxy;
pub mod openapi;
pub mod ops;
mod patch;
pub mod query;
pub mod request;
mod reviews;
mod scale;
pub mod serve;
pub mod services;
pub mod state;
mod table;
mod watch;

use std::sync::{Arc, Mutex};

use axum::Router;
use k3rs_api::status::ApiError;
use k3rs_store::Store;

pub use state::{ApiServerConfig, AppState};

/// A ready API server (bootstrapped) over a store.
pub struct ApiServer {
    state: Arc<AppState>,
}

impl ApiServer {
    /// Build the server: discovery documents, allocators from stored Services, the system
    /// namespaces and the `kubernetes` Service.
    pub async fn new(store: Arc<dyn Store>, config: ApiServerConfig) -> Result<Self, ApiError> {
        let address = format!("{}:{}", config.advertise_address, config.https_port);
        let services =
            services::ServiceAllocators::new(config.service_cidr, config.node_port_range);
        let state = Arc::new(AppState {
            store,
            discovery: std::sync::RwLock::new(Arc::new(discovery::Discovery::build(&address, &[]))),
            crds: crds::CustomResources::default(),
            metrics: metrics::Metrics::default(),
            services: Mutex::new(services),
            version: state::version_document(),
            openapi: Arc::new(openapi::OpenApi::default()),
            config,
        });
        state.openapi.warm();
        bootstrap::run(&state).await?;
        Ok(Self { state })
    }

    /// The HTTP router (no TLS): every path goes to [`handler::handle`].
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handler::handle)
            .with_state(self.state.clone())
    }

    /// Start the background loops that belong to the API server (namespace finalization, CRDs).
    pub fn spawn_background(&self) {
        tokio::spawn(namespace_lifecycle::run(self.state.clone()));
        tokio::spawn(crd_controller::run(self.state.clone()));
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }
}
