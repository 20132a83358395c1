//! Acceptance of the Job and CronJob controllers against a real
//! `k3rs server --simulate-nodes 3`, driven by stock kubectl 1.33.
//!
//! Simulated pods never fail, so the failing Jobs use `schedulerName: manual` pods and the
//! test plays the kubelet, writing them Failed through `pods/status`.

mod common;

use std::time::Duration;

use common::{Server, wait_for};
use serde_json::{Value, json};

const V: &str = "1.33";

fn get_json(server: &Server, args: &[&str]) -> Option<Value> {
    server.get_json(V, args)
}

fn condition<'a>(job: &'a Value, type_: &str) -> Option<&'a Value> {
    job.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")
}

fn job_yaml(name: &str, spec: Value) -> String {
    let mut s = json!({
        "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}],
        }},
    });
    if let (Some(o), Some(e)) = (s.as_object_mut(), spec.as_object()) {
        o.extend(e.clone());
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s})
        .to_string()
}

fn start() -> Server {
    Server::start(&["--simulate-nodes", "3", "--simulate-pod-completion=1s"])
}

#[test]
fn jobs_complete_nonindexed_indexed_and_ttl() {
    let server = start();
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &job_yaml("five", json!({"completions": 5, "parallelism": 2})),
    );
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &job_yaml(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ),
    );
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &job_yaml("ttl", json!({"ttlSecondsAfterFinished": 1})),
    );

    // Never more than `parallelism` active pods.
    let job = wait_for(60, "job five Complete", || {
        let j = get_json(&server, &["job", "five"])?;
        assert!(
            j.pointer("/status/active")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                <= 2,
            "{j}"
        );
        condition(&j, "Complete").is_some().then_some(j)
    });
    assert_eq!(job.pointer("/status/succeeded"), Some(&json!(5)), "{job}");
    assert!(condition(&job, "SuccessCriteriaMet").is_some(), "{job}");
    assert!(job.pointer("/status/completionTime").is_some(), "{job}");
    assert!(job.pointer("/status/startTime").is_some(), "{job}");
    let pods = get_json(
        &server,
        &["pods", "-l", "batch.kubernetes.io/job-name=five"],
    )
    .expect("pods");
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|p| p["status"]["phase"] == "Succeeded"));
    let events = server.ok(
        V,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=five",
        ],
    );
    assert!(events.contains("SuccessfulCreate"), "{events}");
    assert!(events.contains("Completed"), "{events}");

    let idx = wait_for(60, "job idx Complete", || {
        let j = get_json(&server, &["job", "idx"])?;
        condition(&j, "Complete").is_some().then_some(j)
    });
    assert_eq!(
        idx.pointer("/status/completedIndexes"),
        Some(&json!("0-2")),
        "{idx}"
    );
    let pods =
        get_json(&server, &["pods", "-l", "batch.kubernetes.io/job-name=idx"]).expect("pods");
    let mut indexes: Vec<String> = pods["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            let i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .expect("index annotation")
                .to_string();
            assert_eq!(
                p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
                i.as_str()
            );
            assert_eq!(p["spec"]["hostname"], format!("idx-{i}").as_str());
            i
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);

    // ttlSecondsAfterFinished: the finished Job is deleted.
    wait_for(60, "job ttl deleted", || {
        let out = server.kubectl(V, &["get", "job", "ttl"]);
        (!out.status.success()).then_some(())
    });
}

/// Write every pod of `job` that is not Failed yet Failed with `exit_code`.
fn fail_pods(server: &Server, job: &str, exit_code: i32) {
    let Some(pods) = get_json(
        server,
        &["pods", "-l", &format!("batch.kubernetes.io/job-name={job}")],
    ) else {
        return;
    };
    for p in pods["items"].as_array().into_iter().flatten() {
        if p["status"]["phase"] == "Failed" {
            continue;
        }
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        let now = "2024-01-01T00:00:00Z";
        let patch = json!({"status": {"phase": "Failed", "containerStatuses": [{
            "name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Error", "startedAt": now, "finishedAt": now}},
        }]}});
        let _ = server.kubectl(
            V,
            &[
                "patch",
                "pod",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch.to_string(),
            ],
        );
    }
}

#[test]
fn failing_jobs_stop_at_backoff_limit_and_pod_failure_policy() {
    let server = start();
    let manual = json!({"spec": {
        "schedulerName": "manual",
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox"}],
    }});
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &job_yaml("fails", json!({"backoffLimit": 1, "template": manual})),
    );
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &job_yaml(
            "policy",
            json!({"backoffLimit": 6, "template": manual, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
            ]}}),
        ),
    );
    let job = wait_for(60, "job fails Failed", || {
        fail_pods(&server, "fails", 1);
        let j = get_json(&server, &["job", "fails"])?;
        condition(&j, "Failed").is_some().then_some(j)
    });
    let failed = condition(&job, "Failed").expect("Failed");
    assert_eq!(failed["reason"], "BackoffLimitExceeded", "{job}");
    assert!(condition(&job, "FailureTarget").is_some(), "{job}");
    assert_eq!(job.pointer("/status/failed"), Some(&json!(2)), "{job}");
    assert!(job.pointer("/status/active").is_none(), "{job}");
    let events = server.ok(
        V,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=fails",
        ],
    );
    assert!(events.contains("BackoffLimitExceeded"), "{events}");
    // No more pods after the limit.
    std::thread::sleep(Duration::from_secs(2));
    let pods = get_json(
        &server,
        &["pods", "-l", "batch.kubernetes.io/job-name=fails"],
    )
    .expect("pods");
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(2));

    let job = wait_for(30, "job policy Failed", || {
        fail_pods(&server, "policy", 42);
        let j = get_json(&server, &["job", "policy"])?;
        condition(&j, "Failed").is_some().then_some(j)
    });
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["reason"],
        "PodFailurePolicy",
        "{job}"
    );
}

#[test]
fn cronjob_every_minute_creates_a_job() {
    let server = start();
    let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"}, "spec": {
        "schedule": "*/1 * * * *",
        "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}],
        }}}},
    }});
    server.ok_stdin(V, &["apply", "-f", "-"], &cj.to_string());
    let job = wait_for(75, "a Job of the CronJob", || {
        let jobs = get_json(&server, &["jobs"])?;
        jobs["items"].as_array()?.first().cloned()
    });
    let name = job["metadata"]["name"].as_str().expect("name");
    let minutes: i64 = name
        .strip_prefix("tick-")
        .expect("tick-<minutes>")
        .parse()
        .expect("minutes");
    let cj = wait_for(10, "lastScheduleTime", || {
        let c = get_json(&server, &["cronjob", "tick"])?;
        c.pointer("/status/lastScheduleTime").is_some().then_some(c)
    });
    let last = cj["status"]["lastScheduleTime"].as_str().expect("time");
    let t: k8s_openapi::jiff::Timestamp = last.parse().expect("timestamp");
    assert_eq!(t.as_second() / 60, minutes);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert!(
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .is_string()
    );
    // The Job runs to completion on the simulated nodes and the CronJob notices.
    wait_for(30, "lastSuccessfulTime", || {
        let c = get_json(&server, &["cronjob", "tick"])?;
        c.pointer("/status/lastSuccessfulTime").map(|_| ())
    });
}
