use super::*;
use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::PodStatus;
use kube::api::ObjectMeta;
use serde_json::json;

fn job(spec: serde_json::Value) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            uid: Some("u".into()),
            ..Default::default()
        },
        spec: Some(serde_json::from_value::<JobSpec>(spec).unwrap()),
        status: None,
    }
}

fn pod(name: &str, phase: &str, index: Option<i32>) -> Arc<Pod> {
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(i) = index {
        annotations.insert(COMPLETION_INDEX.to_string(), i.to_string());
    }
    Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: Some(annotations),
            creation_timestamp: Some(Time(Timestamp::now())),
            ..Default::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    })
}

fn spec(extra: serde_json::Value) -> serde_json::Value {
    let mut s =
        json!({"template": {"spec": {"containers": []}}, "backoffLimit": 6, "parallelism": 1});
    if let (Some(o), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    s
}

#[test]
fn creates_up_to_parallelism_and_completions() {
    let j = job(spec(json!({"completions": 5, "parallelism": 2})));
    let p = plan(&j, &[], Timestamp::now());
    assert_eq!(p.create.len(), 2);
    assert!(p.status.start_time.is_some());
    let pods = vec![
        pod("a", "Succeeded", None),
        pod("b", "Succeeded", None),
        pod("c", "Succeeded", None),
        pod("d", "Succeeded", None),
        pod("e", "Running", None),
    ];
    let p = plan(&j, &pods, Timestamp::now());
    assert!(p.create.is_empty());
    assert_eq!(p.status.succeeded, Some(4));
    assert_eq!(p.status.active, Some(1));
}

#[test]
fn completes_with_success_criteria_then_complete() {
    let j = job(spec(json!({"completions": 2})));
    let pods = vec![pod("a", "Succeeded", None), pod("b", "Succeeded", None)];
    let p = plan(&j, &pods, Timestamp::now());
    let types: Vec<_> = p
        .status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    assert!(p.status.completion_time.is_some());
    assert_eq!(p.events[0].reason, "Completed");
}

#[test]
fn backoff_limit_fails_the_job() {
    let j = job(spec(json!({"completions": 1, "backoffLimit": 1})));
    let pods = vec![pod("a", "Failed", None), pod("b", "Failed", None)];
    let p = plan(&j, &pods, Timestamp::now());
    let failed = p
        .status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(p.events[0].reason, "BackoffLimitExceeded");
    // One failure: back off instead of recreating at once.
    let p = plan(&j, &[pod("a", "Failed", None)], Timestamp::now());
    assert!(p.create.is_empty());
    assert!(p.requeue.is_some());
}

#[test]
fn indexed_creates_missing_indexes() {
    let j = job(spec(
        json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed"}),
    ));
    let pods = vec![pod("a", "Succeeded", Some(0)), pod("b", "Running", Some(2))];
    let p = plan(&j, &pods, Timestamp::now());
    assert_eq!(p.create, vec![NewPod { index: Some(1) }]);
    assert_eq!(p.status.completed_indexes.as_deref(), Some("0"));
}

#[test]
fn suspend_deletes_active_pods() {
    let j = job(spec(json!({"completions": 2, "suspend": true})));
    let p = plan(&j, &[pod("a", "Running", None)], Timestamp::now());
    assert_eq!(p.delete, vec!["a".to_string()]);
    assert!(p.create.is_empty());
    assert_eq!(p.events[0].reason, "Suspended");
}

#[test]
fn ttl_deletes_finished_job() {
    let mut j = job(spec(json!({"ttlSecondsAfterFinished": 0})));
    let now = Timestamp::now();
    j.status = Some(JobStatus {
        completion_time: Some(Time(now)),
        conditions: Some(vec![condition("Complete", "True", "r", "m", now)]),
        ..Default::default()
    });
    assert!(plan(&j, &[], now).delete_job);
}

#[test]
fn index_sets_round_trip() {
    let s = parse_indexes("0,2-4,7");
    assert_eq!(s.len(), 5);
    assert_eq!(format_indexes(&s), "0,2-4,7");
}

#[test]
fn pod_failure_policy_fail_job_and_ignore() {
    let rules: Vec<PodFailurePolicyRule> = serde_json::from_value(json!([
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
    ]))
    .unwrap();
    let mut p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 42}}}]}
    }))
    .unwrap();
    assert!(matches!(
        match_pod_failure_policy(&rules, &p),
        PolicyAction::FailJob(m) if m.contains("exit code 42")
    ));
    p.status.as_mut().unwrap().conditions = Some(vec![
        serde_json::from_value(json!({"type": "DisruptionTarget", "status": "True"})).unwrap(),
    ]);
    assert_eq!(match_pod_failure_policy(&rules, &p), PolicyAction::Ignore);
}

#[test]
fn on_failure_restarts_count_against_backoff_limit() {
    let j = job(spec(json!({"completions": 1, "backoffLimit": 2,
        "template": {"spec": {"containers": [], "restartPolicy": "OnFailure"}}})));
    let p: Arc<Pod> = Arc::new(serde_json::from_value(json!({
        "metadata": {"name": "a"},
        "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 2}]}
    })).unwrap());
    let plan = plan(&j, &[p], Timestamp::now());
    assert!(
        plan.status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "FailureTarget"
                && c.reason.as_deref() == Some("BackoffLimitExceeded"))
    );
    assert_eq!(plan.delete, vec!["a".to_string()]);
}
