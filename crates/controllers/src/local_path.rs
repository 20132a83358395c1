//! The built-in local-path dynamic provisioner (k3s's `rancher/local-path-provisioner`): the
//! default StorageClass `local-path` (WaitForFirstConsumer, reclaim Delete), and for a claim
//! of that class whose node was chosen by the scheduler a PersistentVolume `pvc-<claim uid>`
//! with a hostPath under `<data-dir>/storage` pinned to that node. The directory itself is
//! made by the node agent when the pod mounts it; the binder then binds claim and volume.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::pv_binder::core::{ANN_DEFAULT_CLASS, HOSTNAME_LABEL};

/// The provisioner name (k3s's).
pub const PROVISIONER: &str = "rancher.io/local-path";
/// The default StorageClass's name.
pub const CLASS_NAME: &str = "local-path";
/// The volume annotation naming the provisioner that made it.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// Why a volume cannot be provisioned for a claim.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProvisionError {
    /// The claim has no uid, name or namespace (not from the API).
    #[error("claim lacks metadata.{0}")]
    Incomplete(&'static str),
}

/// The default StorageClass `local-path`.
pub fn default_storage_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(CLASS_NAME.to_string()),
            annotations: Some(BTreeMap::from([(
                ANN_DEFAULT_CLASS.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        provisioner: PROVISIONER.to_string(),
        reclaim_policy: Some("Delete".to_string()),
        volume_binding_mode: Some("WaitForFirstConsumer".to_string()),
        ..Default::default()
    }
}

/// The volume name of a claim's provisioned volume (`pvc-<uid>`, as upstream).
pub fn volume_name(uid: &str) -> String {
    format!("pvc-{uid}")
}

/// The PersistentVolume for `claim` on `node`: hostPath
/// `<data_dir>/storage/pvc-<uid>_<namespace>_<name>`, required node affinity on the node's
/// hostname, capacity = the request, reclaim `reclaim_policy`, claimRef to the claim.
pub fn provision(
    claim: &PersistentVolumeClaim,
    node: &str,
    data_dir: &Path,
    reclaim_policy: &str,
) -> Result<PersistentVolume, ProvisionError> {
    let uid = claim
        .metadata
        .uid
        .as_deref()
        .ok_or(ProvisionError::Incomplete("uid"))?;
    let name = claim
        .metadata
        .name
        .as_deref()
        .ok_or(ProvisionError::Incomplete("name"))?;
    let ns = claim
        .metadata
        .namespace
        .as_deref()
        .ok_or(ProvisionError::Incomplete("namespace"))?;
    let pv_name = volume_name(uid);
    let path = data_dir
        .join("storage")
        .join(format!("{pv_name}_{ns}_{name}"));
    let spec = claim.spec.clone().unwrap_or_default();
    let request = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned())
        .unwrap_or_else(|| Quantity("0".to_string()));
    Ok(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(pv_name),
            annotations: Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_string(),
                PROVISIONER.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_string(), request)])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("PersistentVolumeClaim".to_string()),
                name: Some(name.to_string()),
                namespace: Some(ns.to_string()),
                uid: Some(uid.to_string()),
                resource_version: claim.metadata.resource_version.clone(),
                ..Default::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path: path.to_string_lossy().into_owned(),
                type_: Some("DirectoryOrCreate".to_string()),
            }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: HOSTNAME_LABEL.to_string(),
                            operator: "In".to_string(),
                            values: Some(vec![node.to_string()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(reclaim_policy.to_string()),
            storage_class_name: spec.storage_class_name.clone(),
            volume_mode: spec.volume_mode.clone(),
            ..Default::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};

    fn claim() -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                namespace: Some("default".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: Some(CLASS_NAME.into()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".into(), Quantity("1Gi".into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn provisions_a_pinned_host_path_volume() {
        let pv =
            provision(&claim(), "node-1", Path::new("/var/lib/k3rs"), "Delete").expect("provision");
        assert_eq!(pv.metadata.name.as_deref(), Some("pvc-u1"));
        let spec = pv.spec.expect("spec");
        assert_eq!(
            spec.host_path.expect("hostPath").path,
            "/var/lib/k3rs/storage/pvc-u1_default_data"
        );
        assert_eq!(spec.capacity.expect("cap")["storage"].0, "1Gi");
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        assert_eq!(spec.claim_ref.expect("ref").uid.as_deref(), Some("u1"));
        let term = &spec
            .node_affinity
            .expect("aff")
            .required
            .expect("req")
            .node_selector_terms[0];
        let e = &term.match_expressions.as_ref().expect("exprs")[0];
        assert_eq!(e.key, HOSTNAME_LABEL);
        assert_eq!(e.values.as_deref(), Some(&["node-1".to_string()][..]));
    }

    #[test]
    fn refuses_a_claim_without_uid() {
        let mut c = claim();
        c.metadata.uid = None;
        assert_eq!(
            provision(&c, "n", Path::new("/d"), "Delete").err(),
            Some(ProvisionError::Incomplete("uid"))
        );
    }

    #[test]
    fn default_class_is_wait_for_first_consumer() {
        let sc = default_storage_class();
        assert_eq!(sc.provisioner, PROVISIONER);
        assert_eq!(
            sc.volume_binding_mode.as_deref(),
            Some("WaitForFirstConsumer")
        );
        assert_eq!(sc.reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(
            sc.metadata.annotations.expect("ann")[ANN_DEFAULT_CLASS],
            "true"
        );
    }
}
