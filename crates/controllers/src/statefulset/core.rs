//! The pure decisions of the StatefulSet controller (upstream
//! pkg/controller/statefulset/stateful_set_control.go and stateful_set_utils.go): ordinal
//! identities, the per-sync plan (OrderedReady and Parallel creation, scale-down from the
//! highest ordinal, RollingUpdate with a partition, OnDelete), status counts, the pods and
//! claims of an ordinal, and ControllerRevision data.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Value, json};

/// The label naming a StatefulSet pod (upstream `StatefulSetPodNameLabel`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label carrying a pod's ordinal (upstream `PodIndexLabel`).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label naming the ControllerRevision a pod was created from.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// The label carrying a ControllerRevision's hash (upstream `ControllerRevisionHashLabel`).
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// `<set>-<ordinal>`, the name of the pod at `ordinal`.
pub fn pod_name(set: &str, ordinal: i32) -> String {
    format!("{set}-{ordinal}")
}

/// The ordinal of a pod of `set` from its name, if it is `<set>-<n>`.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let n = pod.strip_prefix(set)?.strip_prefix('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || (n.len() > 1 && n.starts_with('0'))
    {
        return None;
    }
    n.parse().ok()
}

/// `<template>-<set>-<ordinal>`, the claim of a volumeClaimTemplate for an ordinal.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// What the plan needs of one pod of the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its ordinal.
    pub ordinal: i32,
    /// Its name.
    pub name: String,
    /// The ControllerRevision it was created from (its `controller-revision-hash` label).
    pub revision: String,
    /// Being deleted.
    pub terminating: bool,
    /// Succeeded or Failed.
    pub finished: bool,
    /// Running with Ready=True.
    pub ready: bool,
    /// Ready for minReadySeconds.
    pub available: bool,
}

/// What the plan needs of the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetView {
    /// `spec.replicas`.
    pub replicas: i32,
    /// `spec.ordinals.start`.
    pub start: i32,
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    /// `updateStrategy.type: OnDelete`.
    pub on_delete: bool,
    /// `updateStrategy.rollingUpdate.partition`.
    pub partition: i32,
    /// The current revision's name.
    pub current_revision: String,
    /// The update revision's name.
    pub update_revision: String,
    /// `status.currentReplicas` (OnDelete keeps the low ordinals at the current revision).
    pub status_current_replicas: i32,
}

/// One step of a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the pod (and its claims) of `ordinal` from `revision`.
    Create {
        /// The ordinal.
        ordinal: i32,
        /// The revision name to create it from.
        revision: String,
    },
    /// Delete a pod.
    Delete {
        /// The pod's name.
        name: String,
        /// Outside `0..replicas` (scale-down: claims may follow whenScaled).
        condemned: bool,
    },
}

impl SetView {
    /// The revision a new pod of `ordinal` is created from (upstream
    /// `newVersionedStatefulSetPod`).
    pub fn revision_for(&self, ordinal: i32) -> &str {
        let current = if self.on_delete {
            ordinal < self.start + self.status_current_replicas
        } else {
            ordinal < self.start + self.partition
        };
        if current {
            &self.current_revision
        } else {
            &self.update_revision
        }
    }
}

fn healthy(m: &Member) -> bool {
    m.ready && !m.terminating
}

/// The actions of one sync (upstream `updateStatefulSet`): create or replace missing and
/// finished pods in ordinal order (one at a time and only after the lower ones are Running and
/// Ready under OrderedReady), delete condemned pods from the highest ordinal, then roll pods not
/// at the update revision from the highest ordinal down to the partition, one at a time.
pub fn plan(set: &SetView, members: &[Member]) -> Vec<Action> {
    let monotonic = !set.parallel;
    let end = set.start + set.replicas.max(0);
    let by_ord: BTreeMap<i32, &Member> = members.iter().map(|m| (m.ordinal, m)).collect();
    let mut actions = Vec::new();
    for ord in set.start..end {
        match by_ord.get(&ord) {
            None => {
                actions.push(Action::Create {
                    ordinal: ord,
                    revision: set.revision_for(ord).to_string(),
                });
                if monotonic {
                    return actions;
                }
            }
            Some(m) if m.finished && !m.terminating => {
                actions.push(Action::Delete {
                    name: m.name.clone(),
                    condemned: false,
                });
                if monotonic {
                    return actions;
                }
            }
            Some(m) if !healthy(m) => {
                if monotonic {
                    return actions;
                }
            }
            Some(_) => {}
        }
    }
    // Condemned pods, highest ordinal first.
    let mut condemned: Vec<&Member> = members
        .iter()
        .filter(|m| m.ordinal < set.start || m.ordinal >= end)
        .collect();
    condemned.sort_by_key(|m| m.ordinal);
    let first_unhealthy = members
        .iter()
        .filter(|m| m.ordinal >= set.start && m.ordinal < end)
        .chain(condemned.iter().copied())
        .find(|m| !healthy(m))
        .map(|m| m.ordinal);
    for m in condemned.iter().rev() {
        if m.terminating {
            if monotonic {
                return actions;
            }
            continue;
        }
        if !m.ready && monotonic && Some(m.ordinal) != first_unhealthy {
            return actions;
        }
        actions.push(Action::Delete {
            name: m.name.clone(),
            condemned: true,
        });
        if monotonic {
            return actions;
        }
    }
    if set.on_delete || (!actions.is_empty() && monotonic) {
        return actions;
    }
    let update_min = set.start + set.partition.max(0);
    for ord in (update_min..end).rev() {
        let Some(m) = by_ord.get(&ord) else { continue };
        if m.revision != set.update_revision && !m.terminating {
            actions.push(Action::Delete {
                name: m.name.clone(),
                condemned: false,
            });
            return actions;
        }
        if !healthy(m) {
            return actions;
        }
    }
    actions
}

/// The counts of a StatefulSet's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `replicas`: pods created.
    pub replicas: i32,
    /// `readyReplicas`.
    pub ready: i32,
    /// `availableReplicas`.
    pub available: i32,
    /// `currentReplicas`.
    pub current: i32,
    /// `updatedReplicas`.
    pub updated: i32,
    /// `currentRevision` after the sync.
    pub current_revision: String,
}

/// Status counts (upstream `computeReplicaStatus` and `completeRollingUpdate`).
pub fn count(set: &SetView, members: &[Member]) -> Counts {
    let mut c = Counts {
        current_revision: set.current_revision.clone(),
        ..Counts::default()
    };
    for m in members {
        c.replicas += 1;
        if m.ready && !m.finished {
            c.ready += 1;
            if m.available {
                c.available += 1;
            }
        }
        if !m.terminating {
            if m.revision == set.current_revision {
                c.current += 1;
            }
            if m.revision == set.update_revision {
                c.updated += 1;
            }
        }
    }
    if !set.on_delete && c.updated == c.replicas && c.ready == c.replicas {
        c.current = c.updated;
        c.current_revision = set.update_revision.clone();
    }
    c
}

/// The data of a ControllerRevision for `template` (upstream `getPatch`: a strategic merge
/// patch replacing `spec.template`).
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(o) = t.as_object_mut() {
        o.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The pod template stored in a ControllerRevision's data.
pub fn template_of_revision(data: &Value) -> Option<PodTemplateSpec> {
    let mut t = data.get("spec")?.get("template")?.clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// The revisions to delete beyond `limit` (oldest first), sparing `live` ones (the current and
/// update revisions and those pods still use), as upstream `truncateHistory`.
pub fn revisions_to_prune(
    revisions: &[(String, i64)],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<String> {
    let mut old: Vec<&(String, i64)> = revisions
        .iter()
        .filter(|(n, _)| !live.contains(n))
        .collect();
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    if old.len() <= limit {
        return Vec::new();
    }
    old.sort_by_key(|(_, r)| *r);
    let n = old.len() - limit;
    old.into_iter().take(n).map(|(n, _)| n.clone()).collect()
}

/// The identity of a set for building its pods and claims.
#[derive(Clone, Debug)]
pub struct SetIdentity<'a> {
    /// The set's name.
    pub name: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// `spec.serviceName`.
    pub service_name: Option<&'a str>,
    /// `spec.selector.matchLabels` (copied onto claims).
    pub match_labels: Option<&'a BTreeMap<String, String>>,
    /// `spec.volumeClaimTemplates`.
    pub claim_templates: &'a [PersistentVolumeClaim],
    /// The controller reference of the set.
    pub owner: OwnerReference,
}

/// The claims of `ordinal` (upstream `getPersistentVolumeClaims`); `set_owner` is the owner
/// reference of claims under `whenDeleted: Delete`.
pub fn claims_for(
    id: &SetIdentity<'_>,
    ordinal: i32,
    set_owner: Option<&OwnerReference>,
) -> Vec<PersistentVolumeClaim> {
    id.claim_templates
        .iter()
        .map(|t| {
            let tname = t.metadata.name.as_deref().unwrap_or_default();
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            if let Some(m) = id.match_labels {
                labels.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(tname, id.name, ordinal)),
                    namespace: Some(id.namespace.into()),
                    labels: (!labels.is_empty()).then_some(labels),
                    annotations: t.metadata.annotations.clone(),
                    owner_references: set_owner.map(|o| vec![o.clone()]),
                    ..Default::default()
                },
                spec: t.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod of `ordinal` from `template` at revision `revision` (upstream `newStatefulSetPod`
/// with `updateIdentity` and `updateStorage`).
pub fn pod_for(
    id: &SetIdentity<'_>,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Pod {
    let name = pod_name(id.name, ordinal);
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), revision.into());
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    if let Some(s) = id.service_name.filter(|s| !s.is_empty()) {
        spec.subdomain = Some(s.into());
    }
    let mut volumes = spec.volumes.take().unwrap_or_default();
    for t in id.claim_templates {
        let tname = t.metadata.name.clone().unwrap_or_default();
        let v = Volume {
            name: tname.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&tname, id.name, ordinal),
                read_only: None,
            }),
            ..Default::default()
        };
        match volumes.iter_mut().find(|x| x.name == tname) {
            Some(x) => *x = v,
            None => volumes.push(v),
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(id.namespace.into()),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![id.owner.clone()]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}
