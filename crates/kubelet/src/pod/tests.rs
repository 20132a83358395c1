use std::collections::HashMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

use super::actions::{SyncInput, back_off_key, compute_actions};
use super::backoff::{BackOff, INITIAL, MAX, secs};
use super::status::{StatusInput, compute_status, qos_class};
use super::*;

const NOW: Nanos = 1_000_000 * NANOS_PER_SEC;

fn pod(json: serde_json::Value) -> Pod {
    let mut base = serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    });
    merge(&mut base, json);
    serde_json::from_value(base).unwrap()
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn sandbox(attempt: u32, ready: bool) -> Sandbox {
    Sandbox {
        id: format!("sb{attempt}"),
        attempt,
        ready,
        ip: "10.42.0.5".into(),
        additional_ips: vec![],
        created_at: NOW - secs(100),
        host_network: false,
    }
}

fn container(
    pod: &Pod,
    name: &str,
    restart_count: i32,
    phase: ContainerPhase,
    exit: i32,
) -> RuntimeContainer {
    let spec = init_containers(pod)
        .iter()
        .chain(app_containers(pod))
        .find(|c| c.name == name)
        .unwrap();
    RuntimeContainer {
        id: format!("{name}-{restart_count}"),
        sandbox_id: "sb0".into(),
        name: name.into(),
        attempt: restart_count as u32,
        phase,
        created_at: NOW - secs(50) + i64::from(restart_count),
        started_at: NOW - secs(49),
        finished_at: if phase == ContainerPhase::Exited {
            NOW - secs(5)
        } else {
            0
        },
        exit_code: exit,
        reason: String::new(),
        message: String::new(),
        image: "busybox".into(),
        image_ref: "sha256:abc".into(),
        hash: container_hash(spec),
        restart_count,
    }
}

fn actions(
    pod: &Pod,
    runtime: &RuntimePod,
    back_off: &BackOff,
    probes: &ProbeResults,
) -> actions::PodActions {
    compute_actions(&SyncInput {
        pod,
        runtime,
        back_off,
        probes,
        now: NOW,
    })
}

fn status(
    pod: &Pod,
    runtime: &RuntimePod,
    failures: &HashMap<String, StartFailure>,
    probes: &ProbeResults,
) -> k8s_openapi::api::core::v1::PodStatus {
    let ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
    compute_status(&StatusInput {
        pod,
        runtime,
        probes,
        failures,
        node_ips: &ips,
        now: NOW,
    })
}

#[test]
fn a_new_pod_gets_a_sandbox_and_its_containers() {
    let p = pod(serde_json::json!({}));
    let a = actions(
        &p,
        &RuntimePod::default(),
        &BackOff::default(),
        &ProbeResults::default(),
    );
    assert_eq!(a.create_sandbox, Some(0));
    assert!(!a.kill_pod);
    assert_eq!(a.start.len(), 1);
    assert_eq!(a.start[0].restart_count, 0);
    assert_eq!(a.start[0].replaces_exit_at, None);
}

#[test]
fn a_sandbox_that_died_is_replaced_and_everything_killed() {
    let p = pod(serde_json::json!({}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, false)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Running, 0)],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert!(a.kill_pod);
    assert_eq!(a.create_sandbox, Some(1));
    assert_eq!(a.start[0].restart_count, 1);
}

#[test]
fn a_never_pod_that_ran_gets_no_new_sandbox() {
    let p = pod(serde_json::json!({"spec": {"restartPolicy": "Never"}}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, false)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Exited, 0)],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert!(a.kill_pod);
    assert_eq!(a.create_sandbox, None);
    assert!(a.start.is_empty());
}

#[test]
fn a_running_container_is_kept() {
    let p = pod(serde_json::json!({}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Running, 0)],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert_eq!(
        a,
        actions::PodActions {
            sandbox_id: Some("sb0".into()),
            ..Default::default()
        }
    );
}

#[test]
fn restart_policy_decides_restarts_and_the_terminal_kill() {
    for (policy, exit, restarts) in [
        ("Always", 0, true),
        ("Always", 1, true),
        ("OnFailure", 3, true),
        ("OnFailure", 0, false),
        ("Never", 3, false),
    ] {
        let p = pod(serde_json::json!({"spec": {"restartPolicy": policy}}));
        let rt = RuntimePod {
            sandboxes: vec![sandbox(0, true)],
            containers: vec![container(&p, "app", 0, ContainerPhase::Exited, exit)],
        };
        let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
        assert_eq!(a.start.len() == 1, restarts, "{policy} exit {exit}");
        assert_eq!(
            a.kill_pod, !restarts,
            "{policy} exit {exit}: sandbox released when done"
        );
        if restarts {
            assert_eq!(a.start[0].restart_count, 1);
            assert_eq!(a.start[0].replaces_exit_at, Some(NOW - secs(5)));
        }
    }
}

#[test]
fn a_restart_waits_for_the_back_off() {
    let p = pod(serde_json::json!({}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "app", 2, ContainerPhase::Exited, 1)],
    };
    let key = back_off_key(&p, &p.spec.as_ref().unwrap().containers[0]);
    let mut back_off = BackOff::default();
    back_off.next(&key, NOW - secs(30));
    back_off.next(&key, NOW - secs(20)); // 20 s now
    let a = actions(&p, &rt, &back_off, &ProbeResults::default());
    assert!(a.start.is_empty());
    assert!(!a.kill_pod, "a crash-looping pod keeps its sandbox");
    assert_eq!(a.backing_off.len(), 1);
    assert_eq!(a.backing_off[0].until, NOW - secs(5) + secs(20));
    assert_eq!(a.next_wake(), Some(NOW + secs(15)));
    assert_eq!(
        a.backing_off[0].message,
        "back-off 20s restarting failed container=app pod=p_ns(u1)"
    );
}

#[test]
fn back_off_doubles_to_five_minutes_and_resets_after_ten_quiet_minutes() {
    let mut b = BackOff::default();
    let mut t = NOW;
    let mut delays = vec![];
    for _ in 0..7 {
        b.next("k", t);
        delays.push(b.delay("k").as_secs());
        t += secs(1);
    }
    assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(
        b.in_back_off_until("k", t, t + secs(10)),
        Some(t + MAX.as_secs() as i64 * NANOS_PER_SEC)
    );
    assert_eq!(
        b.in_back_off_since_update("k", t),
        Some(t - secs(1) + secs(300))
    );
    assert_eq!(b.in_back_off_since_update("other", t), None);
    b.next("k", t + secs(601));
    assert_eq!(b.delay("k"), INITIAL);
    b.gc(t + secs(601 + 601));
    assert_eq!(b.delay("k").as_secs(), 0);
}

#[test]
fn a_changed_spec_or_failed_probe_restarts_a_running_container() {
    let p = pod(serde_json::json!({}));
    let mut running = container(&p, "app", 0, ContainerPhase::Running, 0);
    running.hash = "old".into();
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![running],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert_eq!(a.kill.len(), 1);
    assert_eq!(
        a.kill[0].message,
        "Container app definition changed, will be restarted"
    );
    assert_eq!(a.start.len(), 1);

    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Running, 0)],
    };
    let mut probes = ProbeResults::default();
    probes.failed.insert(
        "app-0".into(),
        FailedProbe {
            message: "Container app failed liveness probe, will be restarted".into(),
            grace_seconds: Some(1),
        },
    );
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert_eq!(
        a.kill[0].message,
        "Container app failed liveness probe, will be restarted"
    );
    assert_eq!(a.kill[0].grace_seconds, Some(1));
    assert_eq!(a.start[0].restart_count, 1);
    assert_eq!(
        a.start[0].replaces_exit_at, None,
        "a liveness kill restarts at once"
    );
}

#[test]
fn init_containers_run_one_at_a_time_before_the_app() {
    let p = pod(serde_json::json!({"spec": {"initContainers": [
        {"name": "i1", "image": "busybox"}, {"name": "i2", "image": "busybox"}]}}));
    let a = actions(
        &p,
        &RuntimePod::default(),
        &BackOff::default(),
        &ProbeResults::default(),
    );
    assert_eq!(a.start.len(), 1);
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::Init,
            index: 0
        }
    );

    let mut rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "i1", 0, ContainerPhase::Exited, 0)],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::Init,
            index: 1
        }
    );

    rt.containers
        .push(container(&p, "i2", 0, ContainerPhase::Running, 0));
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert!(a.start.is_empty() && !a.kill_pod);

    rt.containers.pop();
    rt.containers
        .push(container(&p, "i2", 0, ContainerPhase::Exited, 0));
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::App,
            index: 0
        }
    );
    let s = status(&p, &rt, &HashMap::new(), &ProbeResults::default());
    let init = cond(&s, "Initialized");
    assert_eq!(init.status, "True");
}

#[test]
fn a_failed_init_container_fails_a_never_pod() {
    let p = pod(serde_json::json!({"spec": {"restartPolicy": "Never",
        "initContainers": [{"name": "i1", "image": "busybox"}]}}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "i1", 0, ContainerPhase::Exited, 2)],
    };
    let a = actions(&p, &rt, &BackOff::default(), &ProbeResults::default());
    assert!(a.kill_pod && a.start.is_empty());
    let s = status(&p, &rt, &HashMap::new(), &ProbeResults::default());
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let app = &s.container_statuses.unwrap()[0];
    assert_eq!(
        app.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("PodInitializing")
    );
}

fn cond<'a>(
    s: &'a k8s_openapi::api::core::v1::PodStatus,
    t: &str,
) -> &'a k8s_openapi::api::core::v1::PodCondition {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == t)
        .unwrap()
}

#[test]
fn status_of_a_pending_pod() {
    let p = pod(serde_json::json!({"status": {"qosClass": "BestEffort",
        "conditions": [{"type": "PodScheduled", "status": "True"}]}}));
    let s = status(
        &p,
        &RuntimePod::default(),
        &HashMap::new(),
        &ProbeResults::default(),
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        c.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("ContainerCreating")
    );
    assert!(!c.ready);
    assert_eq!(c.started, Some(false));
    assert_eq!(cond(&s, "PodReadyToStartContainers").status, "False");
    assert_eq!(cond(&s, "PodScheduled").status, "True");
    let ready = cond(&s, "Ready");
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [app]")
    );
    assert_eq!(s.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.pod_ip, None);
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));

    let unseen = pod(serde_json::json!({}));
    let s = status(
        &unseen,
        &RuntimePod::default(),
        &HashMap::new(),
        &ProbeResults::default(),
    );
    assert_eq!(
        cond(&s, "PodScheduled").status,
        "True",
        "bound means scheduled"
    );
}

#[test]
fn status_of_a_running_pod_with_readiness() {
    let p = pod(
        serde_json::json!({"spec": {"containers": [{"name": "app", "image": "busybox",
        "readinessProbe": {"exec": {"command": ["true"]}}}]}}),
    );
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Running, 0)],
    };
    let mut probes = ProbeResults::default();
    let s = status(&p, &rt, &HashMap::new(), &probes);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(s.pod_ip.as_deref(), Some("10.42.0.5"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(c.container_id.as_deref(), Some("containerd://app-0"));
    assert_eq!(c.image_id, "sha256:abc");
    assert_eq!(c.started, Some(true));
    assert!(c.state.as_ref().unwrap().running.is_some());

    probes.ready.insert("app-0".into(), true);
    let s = status(&p, &rt, &HashMap::new(), &probes);
    assert_eq!(cond(&s, "Ready").status, "True");
    assert_eq!(cond(&s, "ContainersReady").status, "True");
    assert!(s.container_statuses.unwrap()[0].ready);
}

#[test]
fn a_startup_probe_holds_started_and_ready() {
    let p = pod(
        serde_json::json!({"spec": {"containers": [{"name": "app", "image": "busybox",
        "startupProbe": {"exec": {"command": ["true"]}}}]}}),
    );
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "app", 0, ContainerPhase::Running, 0)],
    };
    let mut probes = ProbeResults::default();
    let s = status(&p, &rt, &HashMap::new(), &probes);
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!((c.started, c.ready), (Some(false), false));
    probes.started.insert("app-0".into(), true);
    let s = status(&p, &rt, &HashMap::new(), &probes);
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!((c.started, c.ready), (Some(true), true));
}

#[test]
fn a_crash_looping_container_waits_with_its_last_exit() {
    let p = pod(serde_json::json!({"spec": {"restartPolicy": "OnFailure"}}));
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![
            container(&p, "app", 0, ContainerPhase::Exited, 3),
            container(&p, "app", 1, ContainerPhase::Exited, 3),
        ],
    };
    let mut failures = HashMap::new();
    failures.insert(
        "app".to_string(),
        StartFailure {
            reason: "CrashLoopBackOff".into(),
            message: "back-off 10s restarting failed container=app pod=p_ns(u1)".into(),
        },
    );
    let s = status(&p, &rt, &failures, &ProbeResults::default());
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(c.restart_count, 1);
    let w = c.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
    let last = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(last.exit_code, 3);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    assert_eq!(last.container_id.as_deref(), Some("containerd://app-1"));
}

#[test]
fn finished_pods_succeed_or_fail_by_policy() {
    for (policy, exit, phase, reason) in [
        ("Never", 0, "Succeeded", "Completed"),
        ("Never", 1, "Failed", "Error"),
        ("OnFailure", 0, "Succeeded", "Completed"),
    ] {
        let p = pod(serde_json::json!({"spec": {"restartPolicy": policy}}));
        let rt = RuntimePod {
            sandboxes: vec![sandbox(0, false)],
            containers: vec![container(&p, "app", 0, ContainerPhase::Exited, exit)],
        };
        let s = status(&p, &rt, &HashMap::new(), &ProbeResults::default());
        assert_eq!(s.phase.as_deref(), Some(phase), "{policy} {exit}");
        let t = s.container_statuses.as_ref().unwrap()[0]
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap();
        assert_eq!(t.reason.as_deref(), Some(reason));
        let ready = cond(&s, "Ready");
        assert_eq!(ready.status, "False");
        assert_eq!(
            ready.reason.as_deref(),
            Some(if phase == "Succeeded" {
                "PodCompleted"
            } else {
                "PodFailed"
            })
        );
        assert_eq!(s.pod_ip, None, "no sandbox, no old IP");
    }
}

#[test]
fn image_pull_errors_show_as_waiting_reasons() {
    let p = pod(serde_json::json!({}));
    let mut failures = HashMap::new();
    failures.insert(
        "app".to_string(),
        StartFailure {
            reason: "ImagePullBackOff".into(),
            message: "Back-off pulling image \"nope\"".into(),
        },
    );
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![],
    };
    let s = status(&p, &rt, &failures, &ProbeResults::default());
    let w = s.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(w.reason.as_deref(), Some("ImagePullBackOff"));
    assert_eq!(
        w.message.as_deref(),
        Some("Back-off pulling image \"nope\"")
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
}

#[test]
fn oom_killed_is_reported_as_the_runtime_says() {
    let p = pod(serde_json::json!({"spec": {"restartPolicy": "Never"}}));
    let mut c = container(&p, "app", 0, ContainerPhase::Exited, 137);
    c.reason = "OOMKilled".into();
    let rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![c],
    };
    let s = status(&p, &rt, &HashMap::new(), &ProbeResults::default());
    let t = s.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (137, Some("OOMKilled")));
}

#[test]
fn transition_times_stay_while_a_condition_keeps_its_status() {
    let p = pod(
        serde_json::json!({"status": {"startTime": "2020-01-01T00:00:00Z", "conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"},
        {"type": "Initialized", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}),
    );
    let s = status(
        &p,
        &RuntimePod::default(),
        &HashMap::new(),
        &ProbeResults::default(),
    );
    let old = "2020-01-01T00:00:00Z";
    assert_eq!(
        serde_json::to_value(&cond(&s, "Ready").last_transition_time).unwrap(),
        old
    );
    assert_ne!(
        serde_json::to_value(&cond(&s, "Initialized").last_transition_time).unwrap(),
        old
    );
    assert_eq!(serde_json::to_value(&s.start_time).unwrap(), old);
}

#[test]
fn a_terminal_phase_never_changes() {
    let p = pod(serde_json::json!({"status": {"phase": "Succeeded"}}));
    let s = status(
        &p,
        &RuntimePod::default(),
        &HashMap::new(),
        &ProbeResults::default(),
    );
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
}

#[test]
fn qos_classes() {
    let p = pod(serde_json::json!({}));
    assert_eq!(qos_class(&p), "BestEffort");
    let p = pod(serde_json::json!({"spec": {"containers": [{"name": "a",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}}));
    assert_eq!(qos_class(&p), "Guaranteed");
    let p = pod(serde_json::json!({"spec": {"containers": [{"name": "a",
        "resources": {"limits": {"memory": "1Gi"}}}]}}));
    assert_eq!(qos_class(&p), "Burstable");
}

#[test]
fn garbage_keeps_the_last_two_runs_and_the_sandboxes_they_use() {
    let p = pod(serde_json::json!({}));
    let mut old = container(&p, "app", 0, ContainerPhase::Exited, 1);
    old.sandbox_id = "sb-old".into();
    let mut rt = RuntimePod {
        sandboxes: vec![sandbox(0, false), sandbox(1, true)],
        containers: vec![
            old,
            container(&p, "app", 1, ContainerPhase::Exited, 1),
            container(&p, "app", 2, ContainerPhase::Running, 0),
        ],
    };
    rt.sandboxes.push(Sandbox {
        id: "sb-old".into(),
        attempt: 0,
        ..sandbox(0, false)
    });
    rt.containers[1].sandbox_id = "sb1".into();
    rt.containers[2].sandbox_id = "sb1".into();
    let g = garbage(&rt);
    assert_eq!(g.containers, vec!["app-0".to_string()]);
    assert_eq!(g.sandboxes, vec!["sb0".to_string(), "sb-old".to_string()]);
}

#[test]
fn a_sidecar_starts_before_the_app_and_keeps_running_beside_it() {
    let p = pod(
        serde_json::json!({"spec": {"restartPolicy": "Never", "initContainers": [
        {"name": "side", "image": "busybox", "restartPolicy": "Always",
         "startupProbe": {"exec": {"command": ["true"]}}},
        {"name": "setup", "image": "busybox"}]}}),
    );
    let mut rt = RuntimePod {
        sandboxes: vec![sandbox(0, true)],
        containers: vec![container(&p, "side", 0, ContainerPhase::Running, 0)],
    };
    let mut probes = ProbeResults::default();
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert!(
        a.start.is_empty(),
        "the next init container waits for the sidecar to start"
    );
    let s = status(&p, &rt, &HashMap::new(), &probes);
    assert_eq!(cond(&s, "Initialized").status, "False");

    probes.started.insert("side-0".into(), true);
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::Init,
            index: 1
        }
    );

    rt.containers
        .push(container(&p, "setup", 0, ContainerPhase::Exited, 0));
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::App,
            index: 0
        }
    );
    let s = status(&p, &rt, &HashMap::new(), &probes);
    assert_eq!(cond(&s, "Initialized").status, "True");

    // The sidecar restarts under a Never pod; the app keeps going.
    rt.containers
        .push(container(&p, "app", 0, ContainerPhase::Running, 0));
    rt.containers[0].phase = ContainerPhase::Exited;
    rt.containers[0].exit_code = 1;
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert_eq!(a.start.len(), 1);
    assert_eq!(
        a.start[0].container,
        ContainerRef {
            kind: ContainerKind::Init,
            index: 0
        }
    );
    assert!(!a.kill_pod);

    // The app finished: the sidecar is stopped with the pod, which succeeds.
    rt.containers[0].phase = ContainerPhase::Running;
    let last = rt.containers.len() - 1;
    rt.containers[last].phase = ContainerPhase::Exited;
    let a = actions(&p, &rt, &BackOff::default(), &probes);
    assert!(a.kill_pod);
    let s = status(&p, &rt, &HashMap::new(), &probes);
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
}
