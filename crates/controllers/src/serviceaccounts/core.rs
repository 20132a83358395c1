//! The pure part of the ServiceAccounts controller (upstream `pkg/controller/serviceaccount`):
//! every active namespace has the `default` ServiceAccount.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The ServiceAccount every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Whether the namespace is being deleted (nothing is created in it then).
pub fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

/// The ServiceAccount to create in `ns`, if it must be created.
pub fn missing(ns: &Namespace, existing: Option<&ServiceAccount>) -> Option<ServiceAccount> {
    if terminating(ns) || existing.is_some() {
        return None;
    }
    Some(ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_SERVICE_ACCOUNT.into()),
            namespace: ns.metadata.name.clone(),
            ..Default::default()
        },
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str, terminating: bool) -> Namespace {
        let mut n = Namespace::default();
        n.metadata.name = Some(name.into());
        if terminating {
            n.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        }
        n
    }

    #[test]
    fn creates_only_when_missing_in_active_namespaces() {
        let sa = missing(&ns("a", false), None).expect("created");
        assert_eq!(sa.metadata.name.as_deref(), Some("default"));
        assert_eq!(sa.metadata.namespace.as_deref(), Some("a"));
        assert!(missing(&ns("a", false), Some(&sa)).is_none());
        assert!(missing(&ns("a", true), None).is_none());
    }
}
