//! The ServiceAccounts controller: the `default` ServiceAccount in every namespace, recreated
//! when deleted. Driven by watches of Namespaces and of the `default` ServiceAccounts.

pub mod core;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum ServiceAccountsError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

async fn reconcile(
    ns: Arc<Namespace>,
    client: Arc<Client>,
) -> Result<Action, ServiceAccountsError> {
    let name = ns.name_any();
    let api: Api<ServiceAccount> = Api::namespaced((*client).clone(), &name);
    let existing = api.get_opt(core::DEFAULT_SERVICE_ACCOUNT).await?;
    if let Some(sa) = core::missing(&ns, existing.as_ref()) {
        match api.create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            // Created meanwhile, or the namespace began terminating.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::await_change())
}

fn error_policy(_: Arc<Namespace>, e: &ServiceAccountsError, _: Arc<Client>) -> Action {
    tracing::debug!("serviceaccounts: {e}");
    Action::requeue(Duration::from_secs(1))
}

/// Run the loop until the task is dropped.
pub async fn run(client: Client) {
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ServiceAccount>::all(client.clone()),
        watcher::Config::default()
            .fields(&format!("metadata.name={}", core::DEFAULT_SERVICE_ACCOUNT)),
        |sa| sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns)),
    )
    .run(reconcile, error_policy, Arc::new(client))
    .for_each(|_| std::future::ready(()))
    .await;
}
