//! The pure decisions of the ReplicaSet/ReplicationController controller (upstream
//! pkg/controller/replicaset and pkg/controller/controller_utils.go): label selectors,
//! ControllerRef claiming, pod activity/readiness/availability, status counts, the
//! ReplicaFailure condition, slow-start batches, the deletion ranking and expectations.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

/// A selector that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid label selector: {0}")]
pub struct SelectorError(pub String);

#[derive(Clone, Debug, PartialEq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

/// A compiled label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    reqs: Vec<Requirement>,
}

impl Selector {
    /// From a `metav1.LabelSelector` (matchLabels and matchExpressions).
    pub fn from_label_selector(ls: &LabelSelector) -> Result<Self, SelectorError> {
        let mut reqs: Vec<Requirement> = ls
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            })
            .collect();
        for e in ls.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => return Err(SelectorError(format!("{other:?} is not a valid operator"))),
            };
            if matches!(op, Op::In | Op::NotIn) && values.is_empty() {
                return Err(SelectorError(format!(
                    "values must be specified for {} on {}",
                    e.operator, e.key
                )));
            }
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
                values,
            });
        }
        Ok(Selector { reqs })
    }

    /// From a map of labels that must all be present (ReplicationController's selector).
    pub fn from_map(m: &BTreeMap<String, String>) -> Self {
        Selector {
            reqs: m
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Op::In,
                    values: vec![v.clone()],
                })
                .collect(),
        }
    }

    /// True when the selector has no requirements (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key));
            match r.op {
                Op::In => v.is_some_and(|v| r.values.contains(v)),
                Op::NotIn => v.is_none_or(|v| !r.values.contains(v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
            }
        })
    }
}

/// The controller owner reference of an object, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// A controller owner reference (controller and blockOwnerDeletion true), as upstream's
/// `metav1.NewControllerRef`.
pub fn controller_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Not terminated and not being deleted (upstream `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let p = phase(pod);
    p != "Succeeded" && p != "Failed" && pod.metadata.deletion_timestamp.is_none()
}

/// The Ready condition's status and last transition time.
fn ready_condition(pod: &Pod) -> Option<(bool, Option<Timestamp>)> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            (
                c.status == "True",
                c.last_transition_time.as_ref().map(|t| t.0),
            )
        })
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|(r, _)| r)
}

/// Ready for at least `min_ready_seconds` (upstream `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_condition(pod) {
        Some((true, since)) => {
            min_ready_seconds <= 0
                || since.is_some_and(|t| {
                    t.as_second() + i64::from(min_ready_seconds) < now.as_second()
                        || (t.as_second() + i64::from(min_ready_seconds) == now.as_second()
                            && t.subsec_nanosecond() < now.subsec_nanosecond())
                })
        }
        _ => false,
    }
}

/// When a ready but not yet available pod becomes available (for a requeue).
pub fn becomes_available_in(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Duration> {
    if min_ready_seconds <= 0 || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    match ready_condition(pod) {
        Some((true, Some(t))) => {
            let at = t.as_second() + i64::from(min_ready_seconds) + 1;
            Some(Duration::from_secs(
                u64::try_from(at - now.as_second()).unwrap_or(0).max(1),
            ))
        }
        _ => None,
    }
}

/// What claiming decided for the candidates of one owner.
#[derive(Debug)]
pub struct Claim<T> {
    /// Already owned and selected.
    pub owned: Vec<T>,
    /// Orphans the owner should adopt.
    pub adopt: Vec<T>,
    /// Owned but no longer selected: to release.
    pub release: Vec<T>,
}

/// Upstream `ClaimObject` over `candidates` (objects of the owner's namespace).
pub fn claim<T>(
    owner_uid: &str,
    owner_deleting: bool,
    selector: &Selector,
    candidates: impl IntoIterator<Item = T>,
    meta: impl Fn(&T) -> &ObjectMeta,
) -> Claim<T> {
    let mut out = Claim {
        owned: Vec::new(),
        adopt: Vec::new(),
        release: Vec::new(),
    };
    for c in candidates {
        let m = meta(&c);
        let selected = selector.matches(m.labels.as_ref());
        match controller_of(m) {
            Some(r) if r.uid != owner_uid => {}
            Some(_) if selected => out.owned.push(c),
            Some(_) => {
                if !owner_deleting {
                    out.release.push(c)
                }
            }
            None => {
                if !owner_deleting && selected && m.deletion_timestamp.is_none() {
                    out.adopt.push(c)
                }
            }
        }
    }
    out
}

/// The counts of a ReplicaSet's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Active pods.
    pub replicas: i32,
    /// Active pods carrying every label of the template.
    pub fully_labeled: i32,
    /// Ready pods.
    pub ready: i32,
    /// Pods ready for minReadySeconds.
    pub available: i32,
}

/// Upstream `calculateStatus` counts over the claimed active pods.
pub fn count(
    pods: &[Arc<Pod>],
    template_labels: Option<&BTreeMap<String, String>>,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Counts {
    let template = template_labels.map(Selector::from_map).unwrap_or_default();
    let mut c = Counts {
        replicas: i32::try_from(pods.len()).unwrap_or(i32::MAX),
        ..Default::default()
    };
    for p in pods {
        if template.matches(p.metadata.labels.as_ref()) {
            c.fully_labeled += 1;
        }
        if is_ready(p) {
            c.ready += 1;
            if is_available(p, min_ready_seconds, now) {
                c.available += 1;
            }
        }
    }
    c
}

/// A status condition, kind-neutral (ReplicaSetCondition / ReplicationControllerCondition).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// `ReplicaFailure`.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// The machine-readable reason.
    pub reason: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// When the status last changed.
    pub last_transition_time: Option<Timestamp>,
}

/// The conditions after a sync: upstream sets ReplicaFailure (FailedCreate/FailedDelete) when
/// managing replicas failed and none is set, and removes it after a successful sync.
pub fn failure_conditions(
    current: &[Condition],
    manage_error: Option<&str>,
    active: usize,
    replicas: i32,
    now: Timestamp,
) -> Vec<Condition> {
    let has = current.iter().any(|c| c.type_ == "ReplicaFailure");
    match manage_error {
        Some(err) if !has => {
            let diff = i64::try_from(active).unwrap_or(i64::MAX) - i64::from(replicas);
            let reason = match diff.cmp(&0) {
                Ordering::Less => Some("FailedCreate".to_string()),
                Ordering::Greater => Some("FailedDelete".to_string()),
                Ordering::Equal => None,
            };
            let mut out = current.to_vec();
            out.push(Condition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason,
                message: Some(err.to_string()),
                last_transition_time: Some(now),
            });
            out
        }
        None if has => current
            .iter()
            .filter(|c| c.type_ != "ReplicaFailure")
            .cloned()
            .collect(),
        _ => current.to_vec(),
    }
}

/// The batch sizes of upstream's `slowStartBatch`: 1, 2, 4, … until `count` are done.
pub fn slow_start_batches(count: usize, initial: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut remaining = count;
    let mut size = remaining.min(initial.max(1));
    while size > 0 {
        out.push(size);
        remaining -= size;
        size = (2 * size).min(remaining);
    }
    out
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// floor(log2(now − t)) in nanoseconds, −1 for times not in the past (upstream's
/// `logarithmicRankDiff` buckets).
fn log_rank(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.as_nanosecond() - t.as_nanosecond();
    if d <= 0 {
        -1
    } else {
        i64::from(127 - d.leading_zeros() as i32)
    }
}

/// Compare two optional times "after or zero first": a missing time, then the later one.
fn after_or_zero(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

fn log_compare(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    ua: &str,
    ub: &str,
    now: Timestamp,
) -> Ordering {
    match (a, b) {
        (Some(ta), Some(tb)) => {
            let diff = log_rank(ta, now) - log_rank(tb, now);
            if diff == 0 { ua.cmp(ub) } else { diff.cmp(&0) }
        }
        _ => after_or_zero(a, b),
    }
}

/// Upstream `ActivePodsWithRanks.Less` (LogarithmicScaleDown and PodDeletionCost enabled, as
/// in 1.33): the pods to delete first sort first.
pub fn deletion_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default()
    };
    let (na, nb) = (node(a), node(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let (pa, pb) = (phase_ordinal(a), phase_ordinal(b));
    if pa != pb {
        return pa.cmp(&pb);
    }
    let (ra, rb) = (is_ready(a), is_ready(b));
    if ra != rb {
        return if ra {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let (ca, cb) = (deletion_cost(a), deletion_cost(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    if ra && rb {
        let ta = ready_condition(a).and_then(|(_, t)| t);
        let tb = ready_condition(b).and_then(|(_, t)| t);
        if ta != tb {
            let o = log_compare(ta, tb, &uid(a), &uid(b), now);
            if o != Ordering::Equal {
                return o;
            }
        }
    }
    let (xa, xb) = (max_restarts(a), max_restarts(b));
    if xa != xb {
        return xb.cmp(&xa);
    }
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if ta != tb {
        return log_compare(ta, tb, &uid(a), &uid(b), now);
    }
    Ordering::Equal
}

/// Upstream `getPodsToDelete`: the first `diff` of `active` ranked by [`deletion_order`], where
/// a pod's rank is the number of active `related` pods (of the same Deployment) on its node.
pub fn pods_to_delete(
    mut active: Vec<Arc<Pod>>,
    related: &[Arc<Pod>],
    diff: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    if diff < active.len() {
        let node = |p: &Pod| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default()
        };
        let mut on_node: HashMap<String, usize> = HashMap::new();
        for p in related.iter().filter(|p| is_active(p)) {
            *on_node.entry(node(p)).or_default() += 1;
        }
        let mut ranked: Vec<(usize, Arc<Pod>)> = active
            .drain(..)
            .map(|p| (on_node.get(&node(&p)).copied().unwrap_or(0), p))
            .collect();
        ranked.sort_by(|(ra, a), (rb, b)| deletion_order(a, *ra, b, *rb, now));
        active = ranked.into_iter().map(|(_, p)| p).collect();
    }
    active.truncate(diff);
    active
}

/// How long expectations are trusted before a sync proceeds anyway (upstream's 5 minutes).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Instant,
}

/// What a controller expects its watch to show after its own creates and deletes (upstream
/// `ControllerExpectations`, tracked by pod name): until then the cache is too old to count
/// pods, and a sync must not create or delete more.
#[derive(Debug, Default)]
pub struct Expectations {
    pending: HashMap<String, Pending>,
}

/// How the cache currently holds a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Not in the cache.
    Absent,
    /// In the cache, not being deleted.
    Present,
    /// In the cache with a deletionTimestamp.
    Deleting,
}

impl Expectations {
    fn entry(&mut self, key: &str, now: Instant) -> &mut Pending {
        let p = self
            .pending
            .entry(key.to_string())
            .or_insert_with(|| Pending {
                creates: HashSet::new(),
                deletes: HashSet::new(),
                since: now,
            });
        if p.creates.is_empty() && p.deletes.is_empty() {
            p.since = now;
        }
        p
    }

    /// Expect the pods just created for `key` to appear.
    pub fn expect_creations(
        &mut self,
        key: &str,
        names: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        self.entry(key, now).creates.extend(names);
    }

    /// Expect the pods just deleted for `key` to go (or get a deletionTimestamp).
    pub fn expect_deletions(
        &mut self,
        key: &str,
        names: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        self.entry(key, now).deletes.extend(names);
    }

    /// A pod owned by `key` was deleted from the cache: neither expectation can be met later.
    pub fn observe_deleted(&mut self, key: &str, pod: &str) {
        if let Some(p) = self.pending.get_mut(key) {
            p.creates.remove(pod);
            p.deletes.remove(pod);
        }
    }

    /// Whether `key` may sync: every expected pod is seen as expected, or the expectations
    /// are older than [`EXPECTATIONS_TIMEOUT`].
    pub fn satisfied(&mut self, key: &str, seen: impl Fn(&str) -> Seen, now: Instant) -> bool {
        let Some(p) = self.pending.get_mut(key) else {
            return true;
        };
        p.creates.retain(|n| seen(n) == Seen::Absent);
        p.deletes.retain(|n| seen(n) == Seen::Present);
        if p.creates.is_empty() && p.deletes.is_empty() {
            self.pending.remove(key);
            return true;
        }
        if now.duration_since(p.since) > EXPECTATIONS_TIMEOUT {
            self.pending.remove(key);
            return true;
        }
        false
    }

    /// Drop everything about `key` (its owner is gone).
    pub fn forget(&mut self, key: &str) {
        self.pending.remove(key);
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
