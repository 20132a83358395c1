//! The pure decisions of the Job controller (upstream `pkg/controller/job`): which pods to
//! create and delete, the status, the conditions and the Events of one sync.
//!
//! Counting is *exact counting from the pod cache* rather than upstream's
//! `batch.kubernetes.io/job-tracking` finalizer protocol: `succeeded`/`failed` are the number
//! of terminated pods the Job owns, never lower than what the status already says (so a pod
//! removed by pod GC does not lower them). `uncountedTerminatedPods` is always empty.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The annotation and label carrying a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Initial pod-failure back-off (upstream `DefaultJobPodFailureBackOff`).
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Maximal pod-failure back-off (upstream `MaxJobPodFailureBackOff`).
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(360);

/// An Event the sync should record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// The reason.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// A pod to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPod {
    /// The completion index (Indexed mode only).
    pub index: Option<i32>,
}

/// What one sync of a Job does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Pods to create.
    pub create: Vec<NewPod>,
    /// Names of pods to delete.
    pub delete: Vec<String>,
    /// The new status.
    pub status: JobStatus,
    /// Events to record once the status is written.
    pub events: Vec<EventSpec>,
    /// Delete the Job itself (ttlSecondsAfterFinished expired).
    pub delete_job: bool,
    /// Sync again after this long.
    pub requeue: Option<Duration>,
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The completion index of a pod (annotation first, then label).
pub fn pod_index(p: &Pod) -> Option<i32> {
    let m = &p.metadata;
    m.annotations
        .as_ref()
        .and_then(|a| a.get(COMPLETION_INDEX))
        .or_else(|| m.labels.as_ref().and_then(|l| l.get(COMPLETION_INDEX)))
        .and_then(|v| v.parse().ok())
}

/// Whether the condition `type_` is True.
pub fn has_condition(status: Option<&JobStatus>, type_: &str) -> bool {
    find_condition(status, type_).is_some_and(|c| c.status == "True")
}

fn find_condition<'a>(status: Option<&'a JobStatus>, type_: &str) -> Option<&'a JobCondition> {
    status?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether the Job has finished (Complete or Failed is True).
pub fn is_finished(job: &Job) -> bool {
    let s = job.status.as_ref();
    has_condition(s, "Complete") || has_condition(s, "Failed")
}

/// When a finished Job finished (completionTime, else the terminal condition's time).
pub fn finish_time(job: &Job) -> Option<Timestamp> {
    let s = job.status.as_ref()?;
    if let Some(t) = &s.completion_time {
        return Some(t.0);
    }
    s.conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// Format a set of indexes as upstream's interval list (`1,3-5,7`).
pub fn format_indexes(set: &BTreeSet<i32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// Parse an interval list (`1,3-5`); invalid parts are skipped.
pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    set.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    set.insert(v);
                }
            }
        }
    }
    set
}

/// What a pod failure policy decides for a failed pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// Fail the whole Job, with the upstream message.
    FailJob(String),
    /// Do not count the failure.
    Ignore,
    /// Count the failure (the default).
    Count,
}

/// Evaluate `rules` against a failed pod (upstream `matchPodFailurePolicy`).
pub fn match_pod_failure_policy(rules: &[PodFailurePolicyRule], pod: &Pod) -> PolicyAction {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let act = |how: String| match rule.action.as_str() {
            "FailJob" => Some(PolicyAction::FailJob(how)),
            "Ignore" => Some(PolicyAction::Ignore),
            "Count" => Some(PolicyAction::Count),
            _ => None,
        };
        if let Some(req) = &rule.on_exit_codes {
            let statuses = pod
                .status
                .as_ref()
                .into_iter()
                .flat_map(|s| s.container_statuses.iter().flatten());
            for cs in statuses {
                if req.container_name.as_ref().is_some_and(|n| *n != cs.name) {
                    continue;
                }
                let Some(code) = cs
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| t.exit_code)
                else {
                    continue;
                };
                if code == 0 {
                    continue;
                }
                let contains = req.values.contains(&code);
                let hit = match req.operator.as_str() {
                    "In" => contains,
                    "NotIn" => !contains,
                    _ => false,
                };
                if hit
                    && let Some(a) = act(format!(
                        "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}",
                        cs.name, rule.action
                    ))
                {
                    return a;
                }
            }
        }
        for pat in rule.on_pod_conditions.iter().flatten() {
            let want = if pat.status.is_empty() {
                "True"
            } else {
                pat.status.as_str()
            };
            let hit = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == pat.type_ && c.status == want));
            if hit
                && let Some(a) = act(format!(
                    "Pod {ns}/{name} has condition {} matching {} rule at index {i}",
                    pat.type_, rule.action
                ))
            {
                return a;
            }
        }
    }
    PolicyAction::Count
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set a condition, keeping the transition time when the status does not change.
fn set_condition(conds: &mut Vec<JobCondition>, c: JobCondition) {
    match conds.iter_mut().find(|x| x.type_ == c.type_) {
        Some(x) if x.status == c.status => {
            x.reason = c.reason;
            x.message = c.message;
        }
        Some(x) => *x = c,
        None => conds.push(c),
    }
}

fn latest_finish(p: &Pod) -> Option<Timestamp> {
    let s = p.status.as_ref()?;
    s.container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .or_else(|| {
            s.conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
        })
        .or_else(|| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn remaining(until: Timestamp, now: Timestamp) -> Duration {
    let d = until.as_millisecond() - now.as_millisecond();
    Duration::from_millis(u64::try_from(d).unwrap_or(0))
}

/// With `restartPolicy: OnFailure`, container restarts of active pods count against
/// `backoffLimit` (upstream `pastBackoffLimitOnFailure`).
pub fn past_backoff_limit_on_failure(job: &Job, active: &[&Arc<Pod>]) -> bool {
    let Some(spec) = job.spec.as_ref() else {
        return false;
    };
    let on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    if !on_failure {
        return false;
    }
    let restarts: i64 = active
        .iter()
        .filter(|p| matches!(phase(p), "Pending" | "Running"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .map(|c| i64::from(c.restart_count))
        .sum();
    let limit = i64::from(spec.backoff_limit.unwrap_or(6));
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Plan one sync of `job` over the pods it controls (any phase).
pub fn plan(job: &Job, pods: &[Arc<Pod>], now: Timestamp) -> Plan {
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut out = Plan::default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");

    // A finished Job only waits for its TTL.
    if is_finished(job) {
        if let (Some(ttl), Some(done)) = (spec.ttl_seconds_after_finished, finish_time(job)) {
            let expire = done
                .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(ttl)))
                .unwrap_or(done);
            if now >= expire {
                out.delete_job = true;
            } else {
                out.requeue = Some(remaining(expire, now) + Duration::from_millis(100));
            }
        }
        out.status = old;
        return out;
    }

    let terminal = |p: &Pod| matches!(phase(p), "Succeeded" | "Failed");
    let active: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| !terminal(p) && p.metadata.deletion_timestamp.is_none())
        .collect();
    let terminating = pods
        .iter()
        .filter(|p| !terminal(p) && p.metadata.deletion_timestamp.is_some())
        .count();
    let rules = spec
        .pod_failure_policy
        .as_ref()
        .map(|p| p.rules.clone())
        .unwrap_or_default();
    let mut fail_job: Option<String> = None;
    let mut failed_pods = Vec::new();
    for p in pods.iter().filter(|p| phase(p) == "Failed") {
        match match_pod_failure_policy(&rules, p) {
            PolicyAction::Ignore => {}
            PolicyAction::Count => failed_pods.push(p),
            PolicyAction::FailJob(m) => {
                fail_job.get_or_insert(m);
                failed_pods.push(p);
            }
        }
    }
    let completions = spec.completions;
    let mut completed: BTreeSet<i32> = old
        .completed_indexes
        .as_deref()
        .map(parse_indexes)
        .unwrap_or_default();
    let succeeded_pods = pods.iter().filter(|p| phase(p) == "Succeeded");
    let succeeded = if indexed {
        let n = completions.unwrap_or(0);
        completed.extend(
            succeeded_pods
                .filter_map(|p| pod_index(p))
                .filter(|i| (0..n).contains(i)),
        );
        i32::try_from(completed.len()).unwrap_or(i32::MAX)
    } else {
        let n = i32::try_from(succeeded_pods.count()).unwrap_or(i32::MAX);
        n.max(old.succeeded.unwrap_or(0))
    };
    let failed = i32::try_from(failed_pods.len())
        .unwrap_or(i32::MAX)
        .max(old.failed.unwrap_or(0));
    let mut conds = old.conditions.clone().unwrap_or_default();
    let suspended = spec.suspend == Some(true);

    // A pending terminal condition (FailureTarget / SuccessCriteriaMet), new or old.
    let pending = |t: &str| find_condition(Some(&old), t).filter(|c| c.status == "True");
    let mut target: Option<(&str, String, String)> = pending("FailureTarget")
        .map(|c| {
            (
                "Failed",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .or_else(|| {
            pending("SuccessCriteriaMet").map(|c| {
                (
                    "Complete",
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            })
        });
    let deadline = spec.active_deadline_seconds.and_then(|ads| {
        let start = old.start_time.as_ref()?.0;
        start
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(ads))
            .ok()
    });
    if target.is_none() {
        let complete = if indexed {
            completions.is_some_and(|c| succeeded >= c)
        } else {
            match completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active.is_empty(),
            }
        };
        let t = if let Some(m) = fail_job {
            Some(("FailureTarget", "PodFailurePolicy", m))
        } else if failed > spec.backoff_limit.unwrap_or(6)
            || past_backoff_limit_on_failure(job, &active)
        {
            Some((
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".to_string(),
            ))
        } else if !suspended && deadline.is_some_and(|d| now >= d) {
            Some((
                "FailureTarget",
                "DeadlineExceeded",
                "Job was active longer than specified deadline".to_string(),
            ))
        } else if complete {
            Some((
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods".to_string(),
            ))
        } else {
            None
        };
        if let Some((ty, reason, message)) = t {
            set_condition(&mut conds, condition(ty, "True", reason, &message, now));
            let fin = if ty == "FailureTarget" {
                "Failed"
            } else {
                "Complete"
            };
            target = Some((fin, reason.to_string(), message));
        }
    }

    let mut active_count = active.len();
    if let Some((fin, reason, message)) = &target {
        // Terminate what is left, then add the terminal condition.
        out.delete = active
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if active.is_empty() && terminating == 0 {
            set_condition(&mut conds, condition(fin, "True", reason, message, now));
            if *fin == "Complete" {
                status.completion_time = Some(Time(now));
                out.events.push(EventSpec {
                    type_: "Normal",
                    reason: "Completed",
                    message: "Job completed".into(),
                });
            } else {
                let r = match reason.as_str() {
                    "BackoffLimitExceeded" => "BackoffLimitExceeded",
                    "DeadlineExceeded" => "DeadlineExceeded",
                    _ => "PodFailurePolicy",
                };
                out.events.push(EventSpec {
                    type_: "Warning",
                    reason: r,
                    message: message.clone(),
                });
            }
        }
    } else if suspended {
        out.delete = active
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if !has_condition(Some(&old), "Suspended") {
            set_condition(
                &mut conds,
                condition("Suspended", "True", "JobSuspended", "Job suspended", now),
            );
            out.events.push(EventSpec {
                type_: "Normal",
                reason: "Suspended",
                message: "Job suspended".into(),
            });
        }
    } else {
        if has_condition(Some(&old), "Suspended") {
            set_condition(
                &mut conds,
                condition("Suspended", "False", "JobResumed", "Job resumed", now),
            );
            out.events.push(EventSpec {
                type_: "Normal",
                reason: "Resumed",
                message: "Job resumed".into(),
            });
            status.start_time = Some(Time(now));
        }
        if status.start_time.is_none() {
            status.start_time = Some(Time(now));
        }
        if let Some(ads) = spec.active_deadline_seconds {
            let start = status.start_time.as_ref().map(|t| t.0).unwrap_or(now);
            if let Ok(d) = start.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(ads)) {
                out.requeue = Some(remaining(d, now) + Duration::from_millis(100));
            }
        }
        let parallelism = usize::try_from(spec.parallelism.unwrap_or(1).max(0)).unwrap_or(0);
        // Back off after failures (10 s doubling, at most 6 min) from the latest failure.
        let backoff_until = (failed > 0)
            .then(|| failed_pods.iter().filter_map(|p| latest_finish(p)).max())
            .flatten()
            .map(|t| {
                let exp = u32::try_from(failed - 1).unwrap_or(0).min(16);
                let d = POD_FAILURE_BACKOFF
                    .saturating_mul(1 << exp)
                    .min(MAX_POD_FAILURE_BACKOFF);
                t.checked_add(d).unwrap_or(t)
            })
            .filter(|until| *until > now);
        if indexed {
            let n = completions.unwrap_or(0);
            let running: BTreeSet<i32> = active.iter().filter_map(|p| pod_index(p)).collect();
            let missing: Vec<i32> = (0..n)
                .filter(|i| !completed.contains(i) && !running.contains(i))
                .collect();
            // Duplicates of an index and active pods of completed indexes go.
            let mut seen = BTreeSet::new();
            for p in &active {
                match pod_index(p) {
                    Some(i) if (0..n).contains(&i) && !completed.contains(&i) && seen.insert(i) => {
                    }
                    _ => out.delete.extend(p.metadata.name.clone()),
                }
            }
            active_count -= out.delete.len();
            let room = parallelism.saturating_sub(active_count);
            if backoff_until.is_none() {
                out.create = missing
                    .into_iter()
                    .take(room)
                    .map(|i| NewPod { index: Some(i) })
                    .collect();
            }
        } else {
            let want = match completions {
                Some(c) => usize::try_from((c - succeeded).max(0))
                    .unwrap_or(0)
                    .min(parallelism),
                None if succeeded > 0 => active_count.min(parallelism),
                None => parallelism,
            };
            if active_count > want {
                let mut extra: Vec<&&Arc<Pod>> = active.iter().collect();
                // Not-ready and newest first, as upstream's ActivePods ranking.
                extra.sort_by_key(|p| {
                    (
                        is_ready(p),
                        std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                    )
                });
                out.delete = extra
                    .iter()
                    .take(active_count - want)
                    .filter_map(|p| p.metadata.name.clone())
                    .collect();
            } else if active_count < want && backoff_until.is_none() {
                out.create = vec![NewPod { index: None }; want - active_count];
            }
        }
        if let Some(until) = backoff_until {
            let d = remaining(until, now) + Duration::from_millis(100);
            out.requeue = Some(out.requeue.map_or(d, |r| r.min(d)));
        }
    }

    let ready = active.iter().filter(|p| is_ready(p)).count();
    status.active = (!active.is_empty()).then(|| i32::try_from(active.len()).unwrap_or(i32::MAX));
    status.ready = Some(i32::try_from(ready).unwrap_or(i32::MAX));
    status.terminating = Some(i32::try_from(terminating).unwrap_or(i32::MAX));
    status.succeeded = (succeeded > 0).then_some(succeeded);
    status.failed = (failed > 0).then_some(failed);
    if indexed {
        status.completed_indexes = Some(format_indexes(&completed));
    }
    status.uncounted_terminated_pods = Some(Default::default());
    status.conditions = (!conds.is_empty()).then_some(conds);
    out.status = status;
    out
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
