//! The root CA publisher: the ConfigMap `kube-root-ca.crt` (key `ca.crt`: the cluster CA) in
//! every namespace, recreated when deleted and repaired when edited. Driven by watches of
//! Namespaces and of the `kube-root-ca.crt` ConfigMaps.

pub mod core;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum RootCaError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

struct Ctx {
    client: Client,
    ca_pem: String,
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, RootCaError> {
    let name = ns.name_any();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let existing = api.get_opt(core::CONFIG_MAP_NAME).await?;
    let pp = PostParams::default();
    let result = match core::plan(&ns, existing.as_ref(), &ctx.ca_pem) {
        core::Plan::Nothing => Ok(()),
        core::Plan::Create(cm) => api.create(&pp, &cm).await.map(|_| ()),
        core::Plan::Update(cm) => api
            .replace(core::CONFIG_MAP_NAME, &pp, &cm)
            .await
            .map(|_| ()),
    };
    match result {
        // A conflict is retried; a terminating namespace refuses creates (403).
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(Action::await_change()),
    }
}

fn error_policy(_: Arc<Namespace>, e: &RootCaError, _: Arc<Ctx>) -> Action {
    tracing::debug!("root-ca-publisher: {e}");
    Action::requeue(Duration::from_secs(1))
}

/// Run the loop until the task is dropped.
pub async fn run(client: Client, ca_pem: String) {
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ConfigMap>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={}", core::CONFIG_MAP_NAME)),
        |cm| cm.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns)),
    )
    .run(reconcile, error_policy, Arc::new(Ctx { client, ca_pem }))
    .for_each(|_| std::future::ready(()))
    .await;
}
