//! The pure decisions of the Deployment controller (upstream pkg/controller/deployment:
//! deployment_controller.go, sync.go, rolling.go, recreate.go, progress.go and
//! util/deployment_util.go). [`plan`] turns a Deployment, its ReplicaSets and their pods into
//! the writes one sync makes, in upstream's order, simulating each write's effect on the
//! objects the later decisions look at.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use crate::replicaset::core::controller_ref;

/// The revision of a ReplicaSet (and the Deployment's current one).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet had (after rollbacks).
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas + maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label (and selector) telling ReplicaSets of one Deployment apart.
pub const HASH_LABEL: &str = "pod-template-hash";
/// Upstream's limit of the revision-history annotation.
const MAX_REV_HISTORY_CHARS: usize = 2000;

/// One write of a sync.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create this ReplicaSet (deterministic name: AlreadyExists means a stale cache or a
    /// hash collision).
    CreateReplicaSet(Box<ReplicaSet>),
    /// Replace this ReplicaSet (optimistic concurrency on its resourceVersion).
    UpdateReplicaSet(Box<ReplicaSet>),
    /// Delete a ReplicaSet (old, scaled to zero, beyond revisionHistoryLimit).
    DeleteReplicaSet {
        /// Its name.
        name: String,
        /// Its uid (a precondition).
        uid: String,
    },
    /// Write the Deployment's revision annotation and/or status (status subresource).
    PatchDeployment {
        /// The new value of the revision annotation, when it changes.
        revision: Option<String>,
        /// The new status, when it changes.
        status: Option<Box<DeploymentStatus>>,
    },
    /// Record an Event about the Deployment.
    Event {
        /// `Normal` or `Warning`.
        type_: &'static str,
        /// The reason.
        reason: &'static str,
        /// The message.
        message: String,
    },
}

/// What one sync does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The writes, in order; stop at the first failure and sync again later.
    pub actions: Vec<Action>,
    /// Sync again after this long (progress deadline checks).
    pub requeue_after: Option<Duration>,
}

/// FNV-1a (32 bits), as Go's `hash/fnv`.
fn fnv32a(data: &[u8], mut h: u32) -> u32 {
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// Upstream `rand.SafeEncodeString`: each byte mapped into consonants and digits.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The pod-template-hash of a template (upstream `controller.ComputeHash`: FNV-32a of the
/// template — here its JSON — and the collision count, safe-encoded).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut h = fnv32a(&json, 2_166_136_261);
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&c.to_le_bytes());
        h = fnv32a(&bytes, h);
    }
    safe_encode(&h.to_string())
}

fn without_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(HASH_LABEL);
            if l.is_empty() {
                m.labels = None;
            }
        }
        if *m == ObjectMeta::default() {
            t.metadata = None;
        }
    }
    t
}

/// Templates equal but for the pod-template-hash label (upstream `EqualIgnoreHash`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

/// Upstream `GetScaledValueFromIntOrPercent`.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let x = p * i64::from(total);
            let r = if round_up {
                (x + 99).div_euclid(100)
            } else {
                x.div_euclid(100)
            };
            i32::try_from(r).unwrap_or(i32::MAX)
        }
    }
}

fn replicas_of(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// Upstream `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let desired = replicas_of(d);
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let surge = ru
        .and_then(|r| r.max_surge.as_ref())
        .map(|v| scaled_value(v, desired, true))
        .unwrap_or(0);
    let mut unavailable = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .map(|v| scaled_value(v, desired, false))
        .unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// Upstream `MaxUnavailable`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let r = replicas_of(d);
    if !is_rolling(d) || r == 0 {
        return 0;
    }
    fenceposts(d).1.min(r)
}

/// Upstream `MaxSurge`.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).0
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn set_rs_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}

fn rs_status<T: Default>(
    rs: &ReplicaSet,
    f: impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> T,
) -> T {
    rs.status.as_ref().map(f).unwrap_or_default()
}

fn rs_actual(rs: &ReplicaSet) -> i32 {
    rs_status(rs, |s| s.replicas)
}

fn rs_available(rs: &ReplicaSet) -> i32 {
    rs_status(rs, |s| s.available_replicas.unwrap_or(0))
}

fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs_status(rs, |s| s.ready_replicas.unwrap_or(0))
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The revision annotation of an object (0 when missing or not a number).
pub fn revision(meta: &ObjectMeta) -> i64 {
    annotation(meta, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Upstream `ReplicaSetsByCreationTimestamp`.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb)
        .then_with(|| name(&a.metadata).cmp(name(&b.metadata)))
}

/// Upstream `FindNewReplicaSet`: the oldest ReplicaSet whose template is the Deployment's.
pub fn find_new(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let template = d.spec.as_ref().map(|s| &s.template)?;
    let mut idx: Vec<usize> = (0..rss.len()).collect();
    idx.sort_by(|a, b| by_creation(&rss[*a], &rss[*b]));
    idx.into_iter().find(|i| {
        rss[*i]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, template))
    })
}

fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|s| s != i32::MAX)
}

fn get_condition<'a>(s: &'a DeploymentStatus, t: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == t)
}

fn new_condition(
    t: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: t.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Upstream `SetDeploymentCondition`: no change for the same status and reason; keeps the
/// transition time when only the reason changes.
fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = get_condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(s, &c.type_.clone());
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

fn remove_condition(s: &mut DeploymentStatus, t: &str) {
    if let Some(cs) = s.conditions.as_mut() {
        cs.retain(|c| c.type_ != t);
        if cs.is_empty() {
            s.conditions = None;
        }
    }
}

fn nz(v: i32) -> Option<i32> {
    (v != 0).then_some(v)
}

/// A status as the server keeps it: zero counts omitted (Go's omitempty).
fn normalized(s: Option<&DeploymentStatus>) -> DeploymentStatus {
    let mut s = s.cloned().unwrap_or_default();
    for f in [
        &mut s.available_replicas,
        &mut s.ready_replicas,
        &mut s.replicas,
        &mut s.unavailable_replicas,
        &mut s.updated_replicas,
        &mut s.terminating_replicas,
    ] {
        if *f == Some(0) {
            *f = None;
        }
    }
    if s.observed_generation == Some(0) {
        s.observed_generation = None;
    }
    if s.conditions.as_ref().is_some_and(Vec::is_empty) {
        s.conditions = None;
    }
    s
}

/// Upstream `DeploymentComplete`.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = replicas_of(d);
    s.updated_replicas.unwrap_or(0) == r
        && s.replicas.unwrap_or(0) == r
        && s.available_replicas.unwrap_or(0) == r
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

fn deployment_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let g = |v: Option<i32>| v.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

fn deadline_of(d: &Deployment, c: &DeploymentCondition) -> Option<Timestamp> {
    let secs = d.spec.as_ref()?.progress_deadline_seconds?;
    let from = c.last_update_time.as_ref()?.0;
    Timestamp::from_second(from.as_second() + i64::from(secs)).ok()
}

fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(s, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some("NewReplicaSetAvailable") => false,
        Some("ProgressDeadlineExceeded") => true,
        _ => deadline_of(d, c).is_some_and(|t| t < now),
    }
}

/// Upstream `copyDeploymentAnnotationsToReplicaSet`.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    const SKIP: [&str; 6] = [
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    ];
    let mut changed = false;
    let target = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if SKIP.contains(&k.as_str()) || target.get(k) == Some(v) {
            continue;
        }
        target.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS) != Some(max.to_string().as_str())
}

fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    if !replicas_annotations_need_update(rs, desired, max) {
        return false;
    }
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    a.insert(DESIRED_REPLICAS.into(), desired.to_string());
    a.insert(MAX_REPLICAS.into(), max.to_string());
    true
}

/// Upstream `SetNewReplicaSetAnnotations`.
fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_annotations(d, rs);
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = a.get(REVISION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(v) => v,
            Err(_) => return false,
        },
    };
    if old_int < new_revision {
        a.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = a.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                a.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut parts: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_CHARS && start < parts.len() {
                    total -= parts[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_CHARS {
                    parts = parts.split_off(start);
                    parts.push(&old);
                    let joined = parts.join(",");
                    a.insert(REVISION_HISTORY.into(), joined);
                }
            }
        }
    }
    if !exists {
        let r = replicas_of(d);
        if set_replicas_annotations(rs, r, r + max_surge(d)) {
            changed = true;
        }
    }
    changed
}

/// The state one sync works on: the Deployment (whose annotations and status it edits) and
/// its ReplicaSets (edited as the planned writes would).
struct Planner<'a> {
    orig: &'a Deployment,
    d: Deployment,
    rss: Vec<ReplicaSet>,
    pods: &'a HashMap<String, Vec<Arc<Pod>>>,
    now: Timestamp,
    actions: Vec<Action>,
    requeue_after: Option<Duration>,
}

/// Plan one sync of `deployment` (upstream `syncDeployment`). `replicasets` are the ones it
/// controls (already claimed); `pods` are its pods by the uid of their ReplicaSet.
pub fn plan(
    deployment: &Deployment,
    replicasets: &[Arc<ReplicaSet>],
    pods: &HashMap<String, Vec<Arc<Pod>>>,
    now: Timestamp,
) -> Plan {
    let mut p = Planner {
        orig: deployment,
        d: deployment.clone(),
        rss: replicasets.iter().map(|r| (**r).clone()).collect(),
        pods,
        now,
        actions: Vec::new(),
        requeue_after: None,
    };
    let selector = deployment.spec.as_ref().map(|s| &s.selector);
    if selector.is_none_or(|s| *s == LabelSelector::default()) {
        p.event(
            "Warning",
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        );
        let generation = deployment.metadata.generation.unwrap_or(0);
        let status = p.d.status.get_or_insert_with(Default::default);
        if status.observed_generation.unwrap_or(0) < generation {
            status.observed_generation = Some(generation);
        }
        return p.finish();
    }
    if deployment.metadata.deletion_timestamp.is_some() {
        let (new, old) = p.all_replicasets(false);
        p.sync_deployment_status(&old, new);
        return p.finish();
    }
    p.check_paused_conditions();
    let paused = deployment
        .spec
        .as_ref()
        .and_then(|s| s.paused)
        .unwrap_or(false);
    if paused || p.is_scaling_event() {
        p.sync();
    } else if is_recreate(deployment) {
        p.rollout_recreate();
    } else {
        p.rollout_rolling();
    }
    p.finish()
}

impl Planner<'_> {
    fn replicas(&self) -> i32 {
        replicas_of(&self.d)
    }

    fn event(&mut self, type_: &'static str, reason: &'static str, message: String) {
        self.actions.push(Action::Event {
            type_,
            reason,
            message,
        });
    }

    fn status(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    /// Emit the Deployment write, if anything changed, and the requeue.
    fn finish(mut self) -> Plan {
        let old_rev = annotation(&self.orig.metadata, REVISION).map(str::to_string);
        let new_rev = annotation(&self.d.metadata, REVISION).map(str::to_string);
        let revision = (new_rev != old_rev).then_some(new_rev).flatten();
        let new_status = normalized(self.d.status.as_ref());
        let status = (new_status != normalized(self.orig.status.as_ref()))
            .then(|| Box::new(new_status.clone()));
        if revision.is_some() || status.is_some() {
            self.actions
                .push(Action::PatchDeployment { revision, status });
        }
        self.requeue_stuck(&new_status);
        Plan {
            actions: self.actions,
            requeue_after: self.requeue_after,
        }
    }

    /// Upstream `requeueStuckDeployment`.
    fn requeue_stuck(&mut self, new_status: &DeploymentStatus) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let Some(c) = get_condition(new_status, "Progressing") else {
            return;
        };
        if deployment_complete(&self.d, new_status)
            || c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        {
            return;
        }
        if let Some(deadline) = deadline_of(&self.d, c) {
            let after = deadline.as_second() - self.now.as_second();
            let after = u64::try_from(after).unwrap_or(0).max(1) + 1;
            self.requeue_after = Some(Duration::from_secs(after));
        }
    }

    /// Upstream `getAllReplicaSetsAndSyncRevision` (+ `getNewReplicaSet`): the new
    /// ReplicaSet (created when `create`) and the old ones, as indexes into `rss`.
    fn all_replicasets(&mut self, create: bool) -> (Option<usize>, Vec<usize>) {
        let new = find_new(&self.d, &self.rss);
        let old: Vec<usize> = (0..self.rss.len()).filter(|i| Some(*i) != new).collect();
        let max_old = old
            .iter()
            .map(|i| revision(&self.rss[*i].metadata))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = new {
            let mut copy = self.rss[i].clone();
            let annotations = set_new_rs_annotations(&self.d, &mut copy, new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let spec = copy.spec.get_or_insert_with(Default::default);
            if annotations || spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0) {
                spec.min_ready_seconds = min_ready;
                self.actions
                    .push(Action::UpdateReplicaSet(Box::new(copy.clone())));
                self.rss[i] = copy.clone();
            }
            let rev = annotation(&copy.metadata, REVISION)
                .unwrap_or_default()
                .to_string();
            self.d
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION.into(), rev);
            if has_progress_deadline(&self.d)
                && get_condition(self.status(), "Progressing").is_none()
            {
                let msg = format!("Found new replica set {:?}", name(&copy.metadata));
                let c = new_condition("Progressing", "True", "FoundNewReplicaSet", msg, self.now);
                set_condition(self.status(), c);
            }
            return (Some(i), old);
        }
        if !create {
            return (None, old);
        }
        let Some(spec) = self.d.spec.clone() else {
            return (None, old);
        };
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let rs_name = format!("{}-{hash}", name(&self.d.metadata));
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(rs_name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref(
                    "apps/v1",
                    "Deployment",
                    name(&self.d.metadata),
                    self.d.metadata.uid.as_deref().unwrap_or_default(),
                )]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        self.rss.push(rs.clone());
        let idx = self.rss.len() - 1;
        let mut all: Vec<usize> = old.clone();
        all.push(idx);
        let n = self.new_rs_new_replicas(&all, idx);
        set_rs_replicas(&mut rs, n);
        set_new_rs_annotations(&self.d, &mut rs, new_revision, false);
        self.rss[idx] = rs.clone();
        self.actions.push(Action::CreateReplicaSet(Box::new(rs)));
        if n > 0 {
            self.event(
                "Normal",
                "ScalingReplicaSet",
                format!("Scaled up replica set {rs_name} from 0 to {n}"),
            );
        }
        self.d
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(REVISION.into(), new_revision.to_string());
        if has_progress_deadline(&self.d) {
            let msg = format!("Created new replica set {rs_name:?}");
            let c = new_condition("Progressing", "True", "NewReplicaSetCreated", msg, self.now);
            set_condition(self.status(), c);
        }
        (Some(idx), old)
    }

    fn total_spec(&self, idx: &[usize]) -> i32 {
        idx.iter().map(|i| rs_replicas(&self.rss[*i])).sum()
    }

    /// Upstream `NewRSNewReplicas`.
    fn new_rs_new_replicas(&self, all: &[usize], new: usize) -> i32 {
        let r = self.replicas();
        let new_spec = rs_replicas(&self.rss[new]);
        if is_recreate(&self.d) {
            return r;
        }
        let surge = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.strategy.as_ref())
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_surge.as_ref())
            .map(|v| scaled_value(v, r, true))
            .unwrap_or(0);
        let current = self.total_spec(all);
        let max_total = r + surge;
        if current >= max_total {
            return new_spec;
        }
        let up = (max_total - current).min(r - new_spec);
        new_spec + up
    }

    /// Upstream `scaleReplicaSet`: returns whether the size changed.
    fn scale_rs(&mut self, i: usize, new_scale: i32, operation: &str) -> bool {
        let r = self.replicas();
        let max = r + max_surge(&self.d);
        let rs = &self.rss[i];
        let old = rs_replicas(rs);
        let size = old != new_scale;
        if !size && !replicas_annotations_need_update(rs, r, max) {
            return false;
        }
        let mut copy = rs.clone();
        set_rs_replicas(&mut copy, new_scale);
        set_replicas_annotations(&mut copy, r, max);
        let rs_name = name(&copy.metadata).to_string();
        self.rss[i] = copy.clone();
        self.actions.push(Action::UpdateReplicaSet(Box::new(copy)));
        if size {
            self.event(
                "Normal",
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {rs_name} from {old} to {new_scale}"),
            );
        }
        size
    }

    /// Upstream `scaleReplicaSetAndRecordEvent`.
    fn scale_and_record(&mut self, i: usize, new_scale: i32) -> bool {
        let cur = rs_replicas(&self.rss[i]);
        if cur == new_scale {
            return false;
        }
        let op = if cur < new_scale { "up" } else { "down" };
        self.scale_rs(i, new_scale, op)
    }

    fn active(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter()
            .copied()
            .filter(|i| rs_replicas(&self.rss[*i]) > 0)
            .collect()
    }

    fn sort_by_creation(&self, idx: &mut [usize]) {
        idx.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
    }

    /// Upstream `isScalingEvent`.
    fn is_scaling_event(&mut self) -> bool {
        let (new, old) = self.all_replicasets(false);
        let r = self.replicas();
        let mut all = old;
        all.extend(new);
        self.active(&all).iter().any(|i| {
            annotation(&self.rss[*i].metadata, DESIRED_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .is_some_and(|desired| desired != r)
        })
    }

    /// Upstream `sync`: scale (pause or scaling event), clean up when paused, status.
    fn sync(&mut self) {
        let (new, old) = self.all_replicasets(false);
        self.scale(new, &old);
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup(&old);
        }
        self.sync_deployment_status(&old, new);
    }

    /// Upstream `FindActiveOrLatest`.
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let mut olds = old.to_vec();
        self.sort_by_creation(&mut olds);
        olds.reverse();
        let mut all = olds.clone();
        all.extend(new);
        let active = self.active(&all);
        match active.len() {
            0 => new.or_else(|| olds.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// Upstream `IsSaturated`.
    fn saturated(&self, new: Option<usize>) -> bool {
        let Some(i) = new else { return false };
        let rs = &self.rss[i];
        let r = self.replicas();
        let desired =
            annotation(&rs.metadata, DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
        rs_replicas(rs) == r && desired == Some(r) && rs_available(rs) == r
    }

    /// Upstream `scale`: proportional scaling of the active ReplicaSets.
    fn scale(&mut self, new: Option<usize>, old: &[usize]) {
        let r = self.replicas();
        if let Some(i) = self.active_or_latest(new, old) {
            if rs_replicas(&self.rss[i]) != r {
                self.scale_and_record(i, r);
            }
            return;
        }
        if self.saturated(new) {
            for i in self.active(old) {
                self.scale_and_record(i, 0);
            }
            return;
        }
        if !is_rolling(&self.d) {
            return;
        }
        let mut all: Vec<usize> = old.to_vec();
        all.extend(new);
        let mut all = self.active(&all);
        let current = self.total_spec(&all);
        let allowed = if r > 0 { r + max_surge(&self.d) } else { 0 };
        let to_add = allowed - current;
        let operation = match to_add.cmp(&0) {
            Ordering::Greater => {
                // Bigger first; among equals, newer first.
                all.sort_by(|a, b| {
                    rs_replicas(&self.rss[*b])
                        .cmp(&rs_replicas(&self.rss[*a]))
                        .then_with(|| by_creation(&self.rss[*b], &self.rss[*a]))
                });
                "up"
            }
            Ordering::Less => {
                // Bigger first; among equals, older first.
                all.sort_by(|a, b| {
                    rs_replicas(&self.rss[*b])
                        .cmp(&rs_replicas(&self.rss[*a]))
                        .then_with(|| by_creation(&self.rss[*a], &self.rss[*b]))
                });
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for i in &all {
            let rs = &self.rss[*i];
            if to_add != 0 {
                let p = self.proportion(rs, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (k, i) in all.iter().enumerate() {
            if k == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(*i, sizes[k], operation);
        }
    }

    /// Upstream `GetReplicaSetProportion`.
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        let size = rs_replicas(rs);
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// Upstream `getReplicaSetFraction`.
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        let r = self.replicas();
        let size = rs_replicas(rs);
        if r == 0 {
            return -size;
        }
        let max_now = r + max_surge(&self.d);
        let before = annotation(&rs.metadata, MAX_REPLICAS)
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|v| *v != 0)
            .unwrap_or_else(|| self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
        if before == 0 {
            return 0;
        }
        let new_size = f64::from(size) * f64::from(max_now) / f64::from(before);
        (new_size.round() as i32) - size
    }

    /// Upstream `rolloutRolling`.
    fn rollout_rolling(&mut self) {
        let (new, old) = self.all_replicasets(true);
        let Some(new) = new else {
            return;
        };
        let mut all = old.clone();
        all.push(new);
        if self.reconcile_new(&all, new) {
            return self.sync_rollout_status(&old, Some(new));
        }
        if self.reconcile_old(&all, &old, new) {
            return self.sync_rollout_status(&old, Some(new));
        }
        if deployment_complete(&self.d, &normalized(self.d.status.as_ref())) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(&old, Some(new));
    }

    /// Upstream `reconcileNewReplicaSet`.
    fn reconcile_new(&mut self, all: &[usize], new: usize) -> bool {
        let r = self.replicas();
        let cur = rs_replicas(&self.rss[new]);
        if cur == r {
            return false;
        }
        if cur > r {
            return self.scale_and_record(new, r);
        }
        let n = self.new_rs_new_replicas(all, new);
        self.scale_and_record(new, n)
    }

    /// Available replicas of old ReplicaSets counted for scaling down: a status written
    /// before the last scale-down may still count pods being deleted, so no ReplicaSet counts
    /// more available pods than it is scaled to.
    fn available_for_scale_down(&self, idx: &[usize]) -> i32 {
        idx.iter()
            .map(|i| rs_available(&self.rss[*i]).min(rs_replicas(&self.rss[*i])))
            .sum()
    }

    /// Upstream `reconcileOldReplicaSets`.
    fn reconcile_old(&mut self, all: &[usize], old: &[usize], new: usize) -> bool {
        let old_active = self.active(old);
        if self.total_spec(&old_active) == 0 {
            return false;
        }
        let all_pods = self.total_spec(all);
        let min_available = self.replicas() - max_unavailable(&self.d);
        let new_rs = &self.rss[new];
        let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let cleaned = self.cleanup_unhealthy(&old_active, max_scaled_down);
        let mut all_now = old_active.clone();
        all_now.push(new);
        let scaled = self.scale_down_old_rolling(&all_now, &old_active);
        cleaned + scaled > 0
    }

    /// Upstream `cleanupUnhealthyReplicas`.
    fn cleanup_unhealthy(&mut self, old: &[usize], max_cleanup: i32) -> i32 {
        let mut olds = old.to_vec();
        self.sort_by_creation(&mut olds);
        let mut total = 0;
        for i in olds {
            if total >= max_cleanup {
                break;
            }
            let rs = &self.rss[i];
            let spec = rs_replicas(rs);
            let available = rs_available(rs);
            if spec == 0 || spec == available {
                continue;
            }
            let down = (max_cleanup - total).min(spec - available);
            if down <= 0 {
                continue;
            }
            self.scale_and_record(i, spec - down);
            total += down;
        }
        total
    }

    /// Upstream `scaleDownOldReplicaSetsForRollingUpdate`.
    fn scale_down_old_rolling(&mut self, all: &[usize], old: &[usize]) -> i32 {
        let min_available = self.replicas() - max_unavailable(&self.d);
        let available = self.available_for_scale_down(all);
        if available <= min_available {
            return 0;
        }
        let mut olds = old.to_vec();
        self.sort_by_creation(&mut olds);
        let target = available - min_available;
        let mut total = 0;
        for i in olds {
            if total >= target {
                break;
            }
            let spec = rs_replicas(&self.rss[i]);
            if spec == 0 {
                continue;
            }
            let down = spec.min(target - total);
            self.scale_and_record(i, spec - down);
            total += down;
        }
        total
    }

    /// Upstream `rolloutRecreate`.
    fn rollout_recreate(&mut self) {
        let (mut new, mut old) = self.all_replicasets(false);
        let mut scaled = false;
        for i in self.active(&old) {
            if self.scale_and_record(i, 0) {
                scaled = true;
            }
        }
        if scaled {
            return self.sync_rollout_status(&old, new);
        }
        if self.old_pods_running(new, &old) {
            return self.sync_rollout_status(&old, new);
        }
        if new.is_none() {
            (new, old) = self.all_replicasets(true);
        }
        if let Some(i) = new {
            let r = self.replicas();
            self.scale_and_record(i, r);
        }
        if deployment_complete(&self.d, &normalized(self.d.status.as_ref())) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(&old, new);
    }

    /// Upstream `oldPodsRunning`.
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if old.iter().map(|i| rs_actual(&self.rss[*i])).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new.and_then(|i| self.rss[i].metadata.uid.clone());
        self.pods.iter().any(|(uid, pods)| {
            Some(uid) != new_uid.as_ref()
                && pods.iter().any(|p| {
                    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                    !matches!(phase, Some("Failed") | Some("Succeeded"))
                })
        })
    }

    /// Upstream `cleanupDeployment`: delete the oldest old ReplicaSets beyond
    /// revisionHistoryLimit that are scaled to zero and settled.
    fn cleanup(&mut self, old: &[usize]) {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return;
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| self.rss[*i].metadata.deletion_timestamp.is_none())
            .collect();
        let diff = i64::try_from(cleanable.len()).unwrap_or(0) - i64::from(limit);
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| {
            let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
            revision(&ra.metadata)
                .cmp(&revision(&rb.metadata))
                .then_with(|| by_creation(ra, rb))
        });
        for i in cleanable
            .into_iter()
            .take(usize::try_from(diff).unwrap_or(0))
        {
            let rs = &self.rss[i];
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_actual(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            self.actions.push(Action::DeleteReplicaSet {
                name: name(&rs.metadata).to_string(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }

    /// Upstream `calculateStatus`.
    fn calculate_status(&self, old: &[usize], new: Option<usize>) -> DeploymentStatus {
        let mut all: Vec<usize> = old.to_vec();
        all.extend(new);
        let available: i32 = all.iter().map(|i| rs_available(&self.rss[*i])).sum();
        let total = self.total_spec(&all);
        let unavailable = (total - available).max(0);
        let cur = self.d.status.clone().unwrap_or_default();
        let mut s = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: nz(all.iter().map(|i| rs_actual(&self.rss[*i])).sum()),
            updated_replicas: nz(new.map(|i| rs_actual(&self.rss[i])).unwrap_or(0)),
            ready_replicas: nz(all.iter().map(|i| rs_ready(&self.rss[*i])).sum()),
            available_replicas: nz(available),
            unavailable_replicas: nz(unavailable),
            collision_count: cur.collision_count,
            conditions: cur.conditions.clone(),
            terminating_replicas: None,
        };
        if available >= self.replicas() - max_unavailable(&self.d) {
            let c = new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                self.now,
            );
            set_condition(&mut s, c);
        } else {
            let c = new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                self.now,
            );
            set_condition(&mut s, c);
        }
        s
    }

    /// Upstream `syncDeploymentStatus`.
    fn sync_deployment_status(&mut self, old: &[usize], new: Option<usize>) {
        let s = self.calculate_status(old, new);
        self.d.status = Some(s);
    }

    /// Upstream `syncRolloutStatus`: status plus the Progressing and ReplicaFailure conditions.
    fn sync_rollout_status(&mut self, old: &[usize], new: Option<usize>) {
        let mut s = self.calculate_status(old, new);
        let prev = normalized(self.d.status.as_ref());
        if !has_progress_deadline(&self.d) {
            remove_condition(&mut s, "Progressing");
        }
        let current = get_condition(&prev, "Progressing").cloned();
        let complete_before = s.replicas == s.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some("NewReplicaSetAvailable");
        let new_name = new.map(|i| name(&self.rss[i].metadata).to_string());
        let d_name = name(&self.d.metadata).to_string();
        if has_progress_deadline(&self.d) && !complete_before {
            if deployment_complete(&self.d, &s) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} has successfully progressed."),
                    None => format!("Deployment {d_name:?} has successfully progressed."),
                };
                let c = new_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    msg,
                    self.now,
                );
                set_condition(&mut s, c);
            } else if deployment_progressing(&prev, &s) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} is progressing."),
                    None => format!("Deployment {d_name:?} is progressing."),
                };
                let mut c =
                    new_condition("Progressing", "True", "ReplicaSetUpdated", msg, self.now);
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut s, "Progressing");
                }
                set_condition(&mut s, c);
            } else if timed_out(&self.d, &s, self.now) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} has timed out progressing."),
                    None => format!("Deployment {d_name:?} has timed out progressing."),
                };
                let c = new_condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    msg,
                    self.now,
                );
                set_condition(&mut s, c);
            }
        }
        match self.replica_failure(old, new) {
            Some(c) => set_condition(&mut s, c),
            None => remove_condition(&mut s, "ReplicaFailure"),
        }
        self.d.status = Some(s);
    }

    /// Upstream `getReplicaFailures`: the new ReplicaSet's ReplicaFailure, else an old one's.
    fn replica_failure(&self, old: &[usize], new: Option<usize>) -> Option<DeploymentCondition> {
        let failure = |i: &usize| {
            self.rss[*i]
                .status
                .as_ref()?
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "ReplicaFailure")
                .map(|c| DeploymentCondition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_update_time: c.last_transition_time.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                })
        };
        new.iter()
            .find_map(failure)
            .or_else(|| old.iter().find_map(failure))
    }

    /// Upstream `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let now = self.now;
        let s = self.status();
        let reason = get_condition(s, "Progressing").and_then(|c| c.reason.clone());
        if reason.as_deref() == Some("ProgressDeadlineExceeded") {
            return;
        }
        let paused_cond = reason.as_deref() == Some("DeploymentPaused");
        if paused && !paused_cond {
            let c = new_condition(
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused".into(),
                now,
            );
            set_condition(s, c);
        } else if !paused && paused_cond {
            let c = new_condition(
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed".into(),
                now,
            );
            set_condition(s, c);
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
