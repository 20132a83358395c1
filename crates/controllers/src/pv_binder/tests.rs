//! Unit tests of the binder's matching core.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeSpec, PersistentVolumeStatus, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::core::*;

fn pv(name: &str, class: &str, size: &str, modes: &[&str]) -> PersistentVolume {
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            storage_class_name: Some(class.into()),
            capacity: Some(BTreeMap::from([("storage".into(), Quantity(size.into()))])),
            access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
            ..Default::default()
        }),
        status: Some(PersistentVolumeStatus {
            phase: Some("Available".into()),
            ..Default::default()
        }),
    }
}

fn pvc(class: &str, size: &str, modes: &[&str]) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("c".into()),
            namespace: Some("ns".into()),
            uid: Some("uid-c".into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: Some(class.into()),
            access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity(size.into()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

fn name(v: Option<&PersistentVolume>) -> Option<&str> {
    v.and_then(|v| v.metadata.name.as_deref())
}

#[test]
fn smallest_fitting_volume_of_the_class_wins() {
    let vols = [
        pv("big", "fast", "10Gi", &["ReadWriteOnce"]),
        pv("small", "fast", "1Gi", &["ReadWriteOnce"]),
        pv("fit", "fast", "2Gi", &["ReadWriteOnce", "ReadOnlyMany"]),
        pv("other", "slow", "2Gi", &["ReadWriteOnce"]),
    ];
    let c = pvc("fast", "1500Mi", &["ReadWriteOnce"]);
    assert_eq!(name(find_match(&c, &vols, false, None)), Some("fit"));
}

#[test]
fn access_modes_must_be_offered() {
    let vols = [pv("rwo", "", "5Gi", &["ReadWriteOnce"])];
    let c = pvc("", "1Gi", &["ReadWriteMany"]);
    assert_eq!(name(find_match(&c, &vols, false, None)), None);
}

#[test]
fn selector_and_volume_mode_filter() {
    let mut a = pv("a", "", "1Gi", &["ReadWriteOnce"]);
    a.metadata.labels = Some(BTreeMap::from([("tier".into(), "db".into())]));
    let b = pv("b", "", "1Gi", &["ReadWriteOnce"]);
    let mut c = pvc("", "1Gi", &["ReadWriteOnce"]);
    if let Some(s) = c.spec.as_mut() {
        s.selector = Some(LabelSelector {
            match_labels: Some(BTreeMap::from([("tier".into(), "db".into())])),
            ..Default::default()
        });
    }
    let vols = [b.clone(), a];
    assert_eq!(name(find_match(&c, &vols, false, None)), Some("a"));
    let mut block = pvc("", "1Gi", &["ReadWriteOnce"]);
    if let Some(s) = block.spec.as_mut() {
        s.volume_mode = Some("Block".into());
    }
    assert_eq!(name(find_match(&block, &[b], false, None)), None);
}

#[test]
fn claimed_volumes_are_skipped_unless_prebound() {
    let mut taken = pv("taken", "", "1Gi", &["ReadWriteOnce"]);
    if let Some(s) = taken.spec.as_mut() {
        s.claim_ref = Some(ObjectReference {
            namespace: Some("ns".into()),
            name: Some("other".into()),
            ..Default::default()
        });
    }
    let mut mine = pv("mine", "", "9Gi", &["ReadWriteOnce"]);
    if let Some(s) = mine.spec.as_mut() {
        s.claim_ref = Some(ObjectReference {
            namespace: Some("ns".into()),
            name: Some("c".into()),
            ..Default::default()
        });
    }
    let free = pv("free", "", "1Gi", &["ReadWriteOnce"]);
    let c = pvc("", "1Gi", &["ReadWriteOnce"]);
    assert_eq!(
        name(find_match(
            &c,
            &[taken.clone(), free.clone(), mine],
            false,
            None
        )),
        Some("mine")
    );
    assert_eq!(
        name(find_match(&c, &[taken, free], false, None)),
        Some("free")
    );
}

#[test]
fn delayed_binding_waits_for_a_node_and_honours_affinity() {
    let mut pinned = pv("pinned", "wait", "1Gi", &["ReadWriteOnce"]);
    if let Some(s) = pinned.spec.as_mut() {
        s.node_affinity = Some(k8s_openapi::api::core::v1::VolumeNodeAffinity {
            required: Some(k8s_openapi::api::core::v1::NodeSelector {
                node_selector_terms: vec![k8s_openapi::api::core::v1::NodeSelectorTerm {
                    match_expressions: Some(vec![
                        k8s_openapi::api::core::v1::NodeSelectorRequirement {
                            key: HOSTNAME_LABEL.into(),
                            operator: "In".into(),
                            values: Some(vec!["n1".into()]),
                        },
                    ]),
                    match_fields: None,
                }],
            }),
        });
    }
    let c = pvc("wait", "1Gi", &["ReadWriteOnce"]);
    let vols = [pinned];
    assert_eq!(name(find_match(&c, &vols, true, None)), None);
    assert_eq!(name(find_match(&c, &vols, true, Some("n2"))), None);
    assert_eq!(
        name(find_match(&c, &vols, true, Some("n1"))),
        Some("pinned")
    );
}

#[test]
fn released_volumes_do_not_bind_and_reclaim_follows_policy() {
    let mut r = pv("r", "", "1Gi", &["ReadWriteOnce"]);
    if let Some(s) = r.status.as_mut() {
        s.phase = Some("Released".into());
    }
    let c = pvc("", "1Gi", &["ReadWriteOnce"]);
    assert_eq!(name(find_match(&c, &[r.clone()], false, None)), None);
    assert_eq!(reclaim(&r), Reclaim::Release);
    if let Some(s) = r.spec.as_mut() {
        s.persistent_volume_reclaim_policy = Some("Delete".into());
    }
    assert_eq!(reclaim(&r), Reclaim::Delete);
}
