//! The disruption controller's decisions (upstream `pkg/controller/disruption`), over plain
//! values: how many pods a budget expects and wants healthy, which recorded disruptions still
//! stand, how many pods are healthy, and the status that follows.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// How long an evicted pod may take to be deleted before the budget counts it again
/// (upstream `DeletionTimeout`).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// What the controller needs of a selected pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    pub name: String,
    pub ready: bool,
    pub terminating: bool,
    /// The uid and scale of the pod's controller (a Deployment for pods of its ReplicaSets);
    /// None for a pod without a controller.
    pub controller: Option<(String, i32)>,
}

/// `minAvailable` or `maxUnavailable`: a count or a percentage.
#[derive(Clone, Debug, PartialEq)]
pub enum Amount {
    Int(i32),
    Percent(String),
}

/// The budget's rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    MinAvailable(Amount),
    MaxUnavailable(Amount),
    None,
}

/// Upstream `GetScaledValueFromIntOrPercent(…, roundUp=true)`.
fn scaled(amount: &Amount, total: i32) -> Result<i32, String> {
    match amount {
        Amount::Int(n) => Ok(*n),
        Amount::Percent(s) => {
            let n: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let v = (n * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(v).unwrap_or(i32::MAX))
        }
    }
}

/// The sum of the scales of the pods' controllers, each controller once; a pod without a
/// controller counts as one pod.
fn expected_scale(pods: &[PodView]) -> i32 {
    let mut seen: BTreeMap<&str, i32> = BTreeMap::new();
    let mut bare = 0;
    for p in pods {
        match &p.controller {
            Some((uid, scale)) => {
                seen.insert(uid, *scale);
            }
            None => bare += 1,
        }
    }
    seen.values().sum::<i32>() + bare
}

/// (expectedPods, desiredHealthy) of a budget over its pods (upstream `getExpectedPodCount`).
pub fn expected_and_desired(rule: &Rule, pods: &[PodView]) -> Result<(i32, i32), String> {
    Ok(match rule {
        Rule::MaxUnavailable(a) => {
            let expected = expected_scale(pods);
            let unavailable = scaled(a, expected)?;
            (expected, (expected - unavailable).max(0))
        }
        Rule::MinAvailable(Amount::Int(n)) => (i32::try_from(pods.len()).unwrap_or(i32::MAX), *n),
        Rule::MinAvailable(a) => {
            let expected = expected_scale(pods);
            (expected, scaled(a, expected)?)
        }
        Rule::None => (0, 0),
    })
}

/// The recorded disruptions that still stand (upstream `buildDisruptedPodMap`): pods evicted
/// less than [`DELETION_TIMEOUT`] ago and not yet being deleted; and when the oldest of them
/// expires. Entries of pods that are gone or terminating are dropped.
pub fn standing_disruptions(
    recorded: &BTreeMap<String, Timestamp>,
    pods: &[PodView],
    now: Timestamp,
) -> (BTreeMap<String, Timestamp>, Option<Duration>) {
    let mut out = BTreeMap::new();
    let mut recheck: Option<Duration> = None;
    for p in pods.iter().filter(|p| !p.terminating) {
        let Some(at) = recorded.get(&p.name) else {
            continue;
        };
        let expires = at.as_millisecond() + DELETION_TIMEOUT.as_millis() as i64;
        let left = expires - now.as_millisecond();
        if left >= 0 {
            out.insert(p.name.clone(), *at);
            let left = Duration::from_millis(u64::try_from(left).unwrap_or(0) + 1);
            recheck = Some(recheck.map_or(left, |r| r.min(left)));
        }
    }
    (out, recheck)
}

/// Ready pods that are neither terminating nor recently evicted (upstream `countHealthyPods`).
pub fn current_healthy(pods: &[PodView], disrupted: &BTreeMap<String, Timestamp>) -> i32 {
    let n = pods
        .iter()
        .filter(|p| !p.terminating && !disrupted.contains_key(&p.name) && p.ready)
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The counts of a budget's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
    pub disruptions_allowed: i32,
}

/// The status counts (upstream `updatePdbStatus`): no disruption is allowed while the budget
/// expects no pods.
pub fn counts(current_healthy: i32, desired_healthy: i32, expected_pods: i32) -> Counts {
    let mut allowed = current_healthy - desired_healthy;
    if expected_pods <= 0 || allowed <= 0 {
        allowed = 0;
    }
    Counts {
        current_healthy,
        desired_healthy,
        expected_pods,
        disruptions_allowed: allowed,
    }
}
