//! The pure decisions of the CronJob controller (upstream `pkg/controller/cronjob`,
//! `syncCronJob` and `cleanupFinishedJobs`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::schedule::{Schedule, time_zone};
use crate::job::core::{EventSpec, finish_time, has_condition};
use crate::replicaset::core::controller_of;

/// Missed start times above which upstream warns (`TooManyMissedTimes`).
pub const TOO_MANY_MISSED: usize = 100;

/// A Job in `status.active`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveRef {
    /// The Job's name.
    pub name: String,
    /// The Job's uid.
    pub uid: String,
}

/// What one sync of a CronJob does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// `status.active` after the sync (without the Job to create).
    pub active: Vec<ActiveRef>,
    /// `status.lastScheduleTime`.
    pub last_schedule_time: Option<Timestamp>,
    /// `status.lastSuccessfulTime`.
    pub last_successful_time: Option<Timestamp>,
    /// Create the Job of this scheduled time (its name and time).
    pub create: Option<(String, Timestamp)>,
    /// Active Jobs to delete first (concurrencyPolicy Replace).
    pub replace: Vec<String>,
    /// Finished Jobs over the history limits.
    pub delete_history: Vec<String>,
    /// Events to record.
    pub events: Vec<EventSpec>,
    /// Sync again after this long (the next schedule time).
    pub requeue: Option<Duration>,
}

fn warning(reason: &'static str, message: String) -> EventSpec {
    EventSpec {
        type_: "Warning",
        reason,
        message,
    }
}

fn normal(reason: &'static str, message: String) -> EventSpec {
    EventSpec {
        type_: "Normal",
        reason,
        message,
    }
}

/// The terminal condition of a Job, if finished.
fn finished(j: &Job) -> Option<&'static str> {
    let s = j.status.as_ref();
    if has_condition(s, "Complete") {
        Some("Complete")
    } else if has_condition(s, "Failed") {
        Some("Failed")
    } else {
        None
    }
}

/// The name of the Job of a scheduled time (`<cronjob>-<minutes since the epoch>`).
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

fn until(t: Timestamp, now: Timestamp) -> Duration {
    let ms = t.as_millisecond() - now.as_millisecond();
    Duration::from_millis(u64::try_from(ms).unwrap_or(0)) + Duration::from_millis(100)
}

/// Plan one sync of `cj` over the Jobs of its namespace.
pub fn plan(cj: &CronJob, jobs: &[Arc<Job>], now: Timestamp) -> Plan {
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let name = cj.metadata.name.clone().unwrap_or_default();
    let children: Vec<&Arc<Job>> = jobs
        .iter()
        .filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == uid))
        .collect();
    let mut out = Plan {
        last_schedule_time: status.last_schedule_time.as_ref().map(|t| t.0),
        last_successful_time: status.last_successful_time.as_ref().map(|t| t.0),
        ..Default::default()
    };
    let was_active = |u: &str| {
        status
            .active
            .iter()
            .flatten()
            .any(|r| r.uid.as_deref() == Some(u))
    };
    for j in &children {
        let juid = j.metadata.uid.clone().unwrap_or_default();
        let jname = j.metadata.name.clone().unwrap_or_default();
        match finished(j) {
            None => out.active.push(ActiveRef {
                name: jname,
                uid: juid,
            }),
            Some(cond) => {
                if was_active(&juid) {
                    out.events.push(normal(
                        "SawCompletedJob",
                        format!("Saw completed job: {jname}, condition: {cond}"),
                    ));
                }
                if cond == "Complete"
                    && let Some(t) = finish_time(j)
                    && out.last_successful_time.is_none_or(|l| t > l)
                {
                    out.last_successful_time = Some(t);
                }
            }
        }
    }
    for r in status.active.iter().flatten() {
        let gone = !children
            .iter()
            .any(|j| j.metadata.uid.is_some() && j.metadata.uid == r.uid);
        if gone {
            out.events.push(normal(
                "MissingJob",
                format!(
                    "Active job went missing: {}",
                    r.name.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    out.active.sort_by(|a, b| a.name.cmp(&b.name));
    out.delete_history = history_to_delete(&spec, &children);
    if cj.metadata.deletion_timestamp.is_some() {
        return out;
    }
    let tz = match time_zone(spec.time_zone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => {
            out.events.push(warning(
                "UnknownTimeZone",
                format!(
                    "invalid timeZone: {:?}: {e}",
                    spec.time_zone.unwrap_or_default()
                ),
            ));
            return out;
        }
    };
    if spec.suspend == Some(true) {
        return out;
    }
    let sched = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            out.events.push(warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            ));
            return out;
        }
    };
    let created = cj
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(now);
    let mut earliest = out.last_schedule_time.unwrap_or(created);
    if let Some(sds) = spec.starting_deadline_seconds
        && let Ok(s) = now.checked_sub(SignedDuration::from_secs(sds))
        && s > earliest
    {
        earliest = s;
    }
    let (recent, missed) = sched.most_recent(earliest, now, &tz, 10 * TOO_MANY_MISSED);
    if missed > TOO_MANY_MISSED {
        out.events.push(warning(
            "TooManyMissedTimes",
            format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
        ));
    }
    out.requeue = sched.next(now, &tz).map(|t| until(t, now));
    let Some(scheduled) = recent else {
        return out;
    };
    if let Some(sds) = spec.starting_deadline_seconds
        && scheduled
            .checked_add(SignedDuration::from_secs(sds))
            .is_ok_and(|d| d < now)
    {
        out.events.push(normal(
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}",
                tz.to_datetime(scheduled)
                    .strftime("%a, %d %b %Y %H:%M:%S %z")
            ),
        ));
        return out;
    }
    let jname = job_name(&name, scheduled);
    if out.active.iter().any(|r| r.name == jname) {
        out.last_schedule_time = Some(scheduled);
        return out;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !out.active.is_empty() => {
            out.events.push(normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return out;
        }
        Some("Replace") => {
            out.replace = out.active.drain(..).map(|r| r.name).collect();
        }
        _ => {}
    }
    out.create = Some((jname, scheduled));
    out.last_schedule_time = Some(scheduled);
    out
}

/// Finished Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`, oldest first.
fn history_to_delete(
    spec: &k8s_openapi::api::batch::v1::CronJobSpec,
    children: &[&Arc<Job>],
) -> Vec<String> {
    let mut out = Vec::new();
    for (cond, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&&Arc<Job>> = children
            .iter()
            .filter(|j| finished(j) == Some(cond))
            .collect();
        done.sort_by_key(|j| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .or(j.metadata.creation_timestamp.as_ref())
                .map(|t| t.0)
        });
        let extra = done
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        out.extend(
            done.iter()
                .take(extra)
                .filter_map(|j| j.metadata.name.clone()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    fn cj(spec: serde_json::Value, created: &str) -> CronJob {
        serde_json::from_value(json!({
            "metadata": {"name": "cj", "namespace": "default", "uid": "cu", "creationTimestamp": created},
            "spec": spec,
        }))
        .unwrap()
    }

    fn child(name: &str, cond: Option<&str>) -> Arc<Job> {
        let mut j: Job = serde_json::from_value(json!({
            "metadata": {"name": name, "uid": format!("u-{name}"), "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "cu", "controller": true}]},
        }))
        .unwrap();
        if let Some(c) = cond {
            j.status = Some(
                serde_json::from_value(json!({
                    "conditions": [{"type": c, "status": "True"}],
                    "completionTime": "2024-01-01T00:00:30Z",
                }))
                .unwrap(),
            );
        }
        Arc::new(j)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn creates_the_job_of_the_latest_time() {
        let c = cj(
            json!({"schedule": "*/1 * * * *", "jobTemplate": {}}),
            "2024-01-01T00:00:10Z",
        );
        let p = plan(&c, &[], ts("2024-01-01T00:02:05Z"));
        let t = ts("2024-01-01T00:02:00Z");
        assert_eq!(p.create, Some((job_name("cj", t), t)));
        assert_eq!(
            p.create.as_ref().unwrap().0,
            format!("cj-{}", t.as_second() / 60)
        );
        assert_eq!(p.requeue, Some(Duration::from_millis(55_100)));
    }

    #[test]
    fn forbid_replace_and_deadline() {
        let now = ts("2024-01-01T00:02:05Z");
        let active = child("cj-1", None);
        let mut c = cj(
            json!({"schedule": "*/1 * * * *", "jobTemplate": {}, "concurrencyPolicy": "Forbid"}),
            "2024-01-01T00:00:10Z",
        );
        let p = plan(&c, std::slice::from_ref(&active), now);
        assert!(p.create.is_none());
        assert_eq!(p.events[0].reason, "JobAlreadyActive");
        c.spec.as_mut().unwrap().concurrency_policy = Some("Replace".into());
        let p = plan(&c, std::slice::from_ref(&active), now);
        assert_eq!(p.replace, vec!["cj-1".to_string()]);
        assert!(p.create.is_some());
        c.spec.as_mut().unwrap().concurrency_policy = None;
        c.spec.as_mut().unwrap().starting_deadline_seconds = Some(2);
        let p = plan(&c, &[], now);
        assert!(p.create.is_none());
    }

    #[test]
    fn history_limits_and_success_time() {
        let mut c = cj(
            json!({"schedule": "@hourly", "jobTemplate": {}, "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0, "suspend": true}),
            "2024-01-01T00:00:10Z",
        );
        c.status = Some(k8s_openapi::api::batch::v1::CronJobStatus {
            last_schedule_time: Some(Time(ts("2024-01-01T00:00:00Z"))),
            ..Default::default()
        });
        let jobs = vec![
            child("a", Some("Complete")),
            child("b", Some("Complete")),
            child("c", Some("Failed")),
        ];
        let p = plan(&c, &jobs, ts("2024-01-01T05:00:00Z"));
        assert_eq!(p.delete_history.len(), 2);
        assert_eq!(p.last_successful_time, Some(ts("2024-01-01T00:00:30Z")));
        assert!(p.create.is_none());
    }
}
