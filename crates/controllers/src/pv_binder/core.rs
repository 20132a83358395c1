//! The pure part of the PersistentVolume binder (upstream
//! `pkg/controller/volume/persistentvolume`): which Available volume a claim binds to (class,
//! capacity — smallest fit —, access modes, selector, volume mode, node affinity for delayed
//! binding), and what a volume whose claim is gone becomes (reclaim policy).

use std::collections::BTreeMap;

use k3rs_api::selector::LabelSelector;
use k3rs_api::validation::quantity::{Quantity, parse_quantity};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

/// The claim annotation the scheduler writes with the chosen node (delayed binding).
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The claim annotation set once the binder completed a binding.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on claim and volume when the binder (not the user) made the binding.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The StorageClass annotation marking the default class.
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The node label local volumes are pinned to.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// A claim's storage class name ("" when none).
pub fn claim_class(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// A volume's storage class name ("" when none).
pub fn volume_class(v: &PersistentVolume) -> &str {
    v.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The claim's `resources.requests.storage` (zero when absent or malformed).
pub fn claim_request(c: &PersistentVolumeClaim) -> Quantity {
    c.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| parse_quantity(&q.0).ok())
        .unwrap_or(Quantity { nanos: 0 })
}

/// The volume's `capacity.storage` (None when absent or malformed).
pub fn volume_capacity(v: &PersistentVolume) -> Option<Quantity> {
    v.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| parse_quantity(&q.0).ok())
}

fn claim_volume_mode(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

fn volume_volume_mode(v: &PersistentVolume) -> &str {
    v.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

/// Whether `v` is reserved for `c` through its claimRef (namespace/name, and uid when set).
pub fn prebound_to(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    let Some(r) = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == c.metadata.name
        && r.namespace == c.metadata.namespace
        && (r.uid.is_none() || r.uid == c.metadata.uid)
}

/// Whether the volume's required node affinity (if any) admits a node of this hostname.
/// Only `kubernetes.io/hostname` In/NotIn terms are judged; other terms are assumed to match.
pub fn affinity_admits(v: &PersistentVolume, node: &str) -> bool {
    let Some(terms) = v
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| &r.node_selector_terms)
    else {
        return true;
    };
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|t| {
        t.match_expressions.iter().flatten().all(|e| {
            if e.key != HOSTNAME_LABEL {
                return true;
            }
            let has = e.values.iter().flatten().any(|x| x == node);
            match e.operator.as_str() {
                "In" => has,
                "NotIn" => !has,
                _ => true,
            }
        })
    })
}

/// Whether `v` satisfies `c` apart from availability: class, mode, access modes, capacity,
/// selector.
pub fn satisfies(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    if volume_class(v) != claim_class(c) || volume_volume_mode(v) != claim_volume_mode(c) {
        return false;
    }
    let Some(cap) = volume_capacity(v) else {
        return false;
    };
    if cap < claim_request(c) {
        return false;
    }
    let wanted = c.spec.as_ref().and_then(|s| s.access_modes.as_ref());
    let offered = v.spec.as_ref().and_then(|s| s.access_modes.as_ref());
    if let Some(wanted) = wanted {
        let offered: Vec<&String> = offered.iter().flat_map(|o| o.iter()).collect();
        if !wanted.iter().all(|m| offered.contains(&m)) {
            return false;
        }
    }
    if let Some(sel) = c.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        let Ok(value) = serde_json::to_value(sel) else {
            return false;
        };
        let Ok(sel) = LabelSelector::from_object(&value) else {
            return false;
        };
        let empty = BTreeMap::new();
        if !sel.matches(v.metadata.labels.as_ref().unwrap_or(&empty)) {
            return false;
        }
    }
    true
}

/// The volume `c` should bind to, as upstream `findMatchingVolume`: a volume pre-bound to the
/// claim wins; otherwise the smallest unclaimed volume that satisfies it. Volumes being
/// deleted or Released/Failed are skipped. With delayed binding, `node` (the selected node)
/// must be admitted by the volume's node affinity; with delayed binding and no node yet,
/// nothing but a pre-bound volume is chosen.
pub fn find_match<'a>(
    c: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a PersistentVolume>,
    delayed: bool,
    node: Option<&str>,
) -> Option<&'a PersistentVolume> {
    let mut best: Option<(&'a PersistentVolume, Quantity)> = None;
    for v in volumes {
        if v.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let phase = v.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Released" | "Failed")) {
            continue;
        }
        if let Some(n) = node
            && !affinity_admits(v, n)
        {
            continue;
        }
        let claimed = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some();
        if claimed {
            if prebound_to(v, c) && satisfies(v, c) {
                return Some(v);
            }
            continue;
        }
        if delayed && node.is_none() {
            continue;
        }
        if !satisfies(v, c) {
            continue;
        }
        let cap = volume_capacity(v).unwrap_or(Quantity { nanos: 0 });
        if best.as_ref().is_none_or(|(_, b)| cap < *b) {
            best = Some((v, cap));
        }
    }
    best.map(|(v, _)| v)
}

/// What becomes of a volume whose claim no longer exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// Delete the volume (reclaimPolicy Delete).
    Delete,
    /// Mark it Released (Retain, and Recycle which k3rs does not implement).
    Release,
}

/// The reclaim action of a released volume (upstream default for dynamically provisioned
/// volumes is Delete, for static ones Retain).
pub fn reclaim(v: &PersistentVolume) -> Reclaim {
    match v
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
    {
        Some("Delete") => Reclaim::Delete,
        _ => Reclaim::Release,
    }
}
