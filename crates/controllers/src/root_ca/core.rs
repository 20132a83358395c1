//! The pure part of the root CA publisher (upstream `pkg/controller/certificates/
//! rootcacertpublisher`): every active namespace has the ConfigMap `kube-root-ca.crt` whose only
//! key `ca.crt` is the cluster CA, with upstream's description annotation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::serviceaccounts::core::terminating;

/// The ConfigMap's name.
pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
/// The key holding the PEM.
pub const DATA_KEY: &str = "ca.crt";
/// The annotation upstream sets.
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// Its value.
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What to write.
#[derive(Debug, PartialEq)]
pub enum Plan {
    Nothing,
    Create(ConfigMap),
    /// Replace (carries the current resourceVersion).
    Update(ConfigMap),
}

fn data(ca: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(DATA_KEY.to_string(), ca.to_string())])
}

/// Compares the ConfigMap of `ns` with the CA.
pub fn plan(ns: &Namespace, existing: Option<&ConfigMap>, ca: &str) -> Plan {
    if terminating(ns) {
        return Plan::Nothing;
    }
    match existing {
        None => Plan::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP_NAME.into()),
                namespace: ns.metadata.name.clone(),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data(ca)),
            ..Default::default()
        }),
        Some(cm) => {
            let has_annotation = cm
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
                .is_some_and(|d| d == DESCRIPTION);
            if cm.data.as_ref() == Some(&data(ca)) && has_annotation && cm.binary_data.is_none() {
                return Plan::Nothing;
            }
            let mut next = cm.clone();
            next.metadata.managed_fields = None;
            next.data = Some(data(ca));
            next.binary_data = None;
            next.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
            Plan::Update(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_repairs() {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("a".into());
        let Plan::Create(cm) = plan(&ns, None, "PEM") else {
            panic!("expected a create")
        };
        assert_eq!(
            cm.data
                .as_ref()
                .and_then(|d| d.get("ca.crt"))
                .map(String::as_str),
            Some("PEM")
        );
        assert_eq!(plan(&ns, Some(&cm), "PEM"), Plan::Nothing);
        let mut edited = cm.clone();
        edited.data = Some(BTreeMap::from([("x".to_string(), "y".to_string())]));
        let Plan::Update(fixed) = plan(&ns, Some(&edited), "PEM") else {
            panic!("expected an update")
        };
        assert_eq!(fixed.data, cm.data);
        assert_ne!(plan(&ns, Some(&cm), "OTHER"), Plan::Nothing);
    }
}
