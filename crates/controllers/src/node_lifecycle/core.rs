//! The pure decisions of the node lifecycle controller (upstream `pkg/controller/nodelifecycle`
//! and `pkg/controller/tainteviction`): which conditions a silent node gets, which taints
//! follow from its Ready condition, and when a pod on a NoExecute-tainted node is evicted.

use std::time::Duration;

use k8s_openapi::api::core::v1::{NodeCondition, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The taint key of a node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint key of a node whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Effect `NoExecute`.
pub const NO_EXECUTE: &str = "NoExecute";
/// Effect `NoSchedule`.
pub const NO_SCHEDULE: &str = "NoSchedule";

/// The conditions the controller sets to Unknown on a node that stopped posting status.
pub const MONITORED_CONDITIONS: [&str; 4] =
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The status of a node's Ready condition, if it has one.
pub fn ready_status(conditions: &[NodeCondition]) -> Option<&str> {
    conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

/// The conditions of a node whose kubelet stopped posting status (upstream
/// `tryUpdateNodeHealth`): every monitored condition becomes Unknown, reason
/// `NodeStatusUnknown`; a missing one is added with reason `NodeStatusNeverUpdated`.
/// `created` is the node's creation time (the heartbeat of a never-posted condition).
/// None when nothing changes.
pub fn unknown_conditions(
    conditions: &[NodeCondition],
    created: Option<&Time>,
    now: Timestamp,
) -> Option<Vec<NodeCondition>> {
    let mut out = conditions.to_vec();
    let mut changed = false;
    for ty in MONITORED_CONDITIONS {
        match out.iter_mut().find(|c| c.type_ == ty) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                out.push(NodeCondition {
                    type_: ty.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: created.cloned(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(out)
}

/// The taint key a node's Ready status calls for (None: Ready=True, or no Ready condition).
pub fn taint_key_for(ready: Option<&str>) -> Option<&'static str> {
    match ready {
        Some("False") => Some(TAINT_NOT_READY),
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => None,
    }
}

fn managed(t: &Taint) -> bool {
    (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE)
        && (t.effect == NO_EXECUTE || t.effect == NO_SCHEDULE)
}

/// The taints of a node whose Ready status is `ready` (upstream's NoExecute tainting pass and
/// TaintNodesByCondition): the not-ready or unreachable taints, NoExecute (with timeAdded) and
/// NoSchedule, replace each other; other taints are kept. None when nothing changes.
pub fn reconcile_taints(
    current: &[Taint],
    ready: Option<&str>,
    now: Timestamp,
) -> Option<Vec<Taint>> {
    let want = taint_key_for(ready);
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| !managed(t) || Some(t.key.as_str()) == want)
        .cloned()
        .collect();
    if let Some(key) = want {
        for effect in [NO_EXECUTE, NO_SCHEDULE] {
            if !out.iter().any(|t| t.key == key && t.effect == effect) {
                out.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    value: None,
                    time_added: (effect == NO_EXECUTE).then_some(Time(now)),
                });
            }
        }
    }
    (out != current).then_some(out)
}

/// Whether toleration `t` tolerates `taint` (upstream `Toleration.ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref()
        && !effect.is_empty()
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref()
        && !key.is_empty()
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref() {
        Some("Exists") => true,
        None | Some("") | Some("Equal") => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        Some(_) => false,
    }
}

/// What taint eviction does with a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// The pod stays (no NoExecute taint, or every one tolerated forever).
    Never,
    /// Evict at once (a NoExecute taint is not tolerated, or tolerated for ≤ 0 s).
    Now,
    /// Evict after this long (the least tolerationSeconds among the tolerations used).
    After(Duration),
}

/// When a pod with `tolerations` on a node with `taints` is evicted (upstream
/// `processPodOnNode` / `getMinTolerationTime`).
pub fn eviction(taints: &[Taint], tolerations: &[Toleration]) -> Eviction {
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == NO_EXECUTE).collect();
    if no_execute.is_empty() {
        return Eviction::Never;
    }
    let mut used: Vec<&Toleration> = Vec::new();
    for taint in no_execute {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Eviction::Now;
        }
        for t in matching {
            if !used.iter().any(|u| std::ptr::eq(*u, t)) {
                used.push(t);
            }
        }
    }
    let min = used.iter().filter_map(|t| t.toleration_seconds).min();
    match min {
        None => Eviction::Never,
        Some(s) if s <= 0 => Eviction::Now,
        Some(s) => Eviction::After(Duration::from_secs(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests;
