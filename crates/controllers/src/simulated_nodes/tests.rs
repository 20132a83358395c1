use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::status::*;
use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
        "spec": spec,
    }))
    .expect("pod")
}

#[test]
fn node_names_and_indexes() {
    assert_eq!(node_name(7), "sim-node-7");
    assert_eq!(node_index("sim-node-7", 10), Some(7));
    assert_eq!(node_index("sim-node-10", 10), None, "out of range");
    assert_eq!(node_index("sim-node-07", 10), None, "not canonical");
    assert_eq!(node_index("node-1", 10), None);
    assert_eq!(node_ip(0).to_string(), "198.18.0.1");
    assert_eq!(node_ip(999).to_string(), "198.18.3.232");
}

#[test]
fn node_object_is_a_valid_node_with_kubelet_conditions() {
    let cfg = SimulationConfig {
        nodes: 3,
        labels: vec![("zone".into(), "a".into())],
        taints: vec![k8s_openapi::api::core::v1::Taint {
            key: "sim".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        }],
        ..Default::default()
    };
    let now = ts("2025-01-02T03:04:05Z");
    let value = node_object(&cfg, 1, now);
    let node: Node = serde_json::from_value(value.clone()).expect("a Node");
    let labels = node.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["kubernetes.io/hostname"], "sim-node-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["type"], "simulated");
    assert_eq!(labels["zone"], "a");
    let spec = node.spec.clone().unwrap_or_default();
    assert_eq!(spec.taints.unwrap_or_default()[0].key, "sim");
    let status = node.status.clone().unwrap_or_default();
    let capacity = status.capacity.unwrap_or_default();
    assert_eq!(capacity["cpu"].0, "8");
    assert_eq!(capacity["memory"].0, "32Gi");
    assert_eq!(capacity["pods"].0, "110");
    assert_eq!(capacity["ephemeral-storage"].0, "100Gi");
    assert_eq!(status.allocatable.unwrap_or_default()["cpu"].0, "8");
    let addresses = status.addresses.unwrap_or_default();
    assert_eq!(addresses[0].type_, "InternalIP");
    assert_eq!(addresses[0].address, "198.18.0.2");
    let conditions = status.conditions.unwrap_or_default();
    let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        types,
        ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    );
    assert!(node_conditions_healthy(&conditions));
    let ready = &conditions[3];
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("kubelet is posting ready status")
    );
    assert_eq!(
        value["status"]["conditions"][0]["lastHeartbeatTime"],
        "2025-01-02T03:04:05Z"
    );
    let info = status.node_info.unwrap_or_default();
    assert_eq!(info.operating_system, "linux");
    assert_eq!(info.machine_id.len(), 32);
    assert_eq!(info.kubelet_version, kubelet_version());
}

#[test]
fn node_status_keeps_transition_times_and_detects_unhealthy() {
    let cfg = SimulationConfig::default();
    let earlier = ts("2025-01-01T00:00:00Z");
    let now = ts("2025-01-01T00:05:00Z");
    let observed = vec![
        NodeCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            reason: Some("NodeStatusUnknown".into()),
            last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                earlier,
            )),
            ..Default::default()
        },
        NodeCondition {
            type_: "MemoryPressure".into(),
            status: "False".into(),
            reason: Some("KubeletHasSufficientMemory".into()),
            last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                earlier,
            )),
            ..Default::default()
        },
    ];
    assert!(!node_conditions_healthy(&observed));
    let status = node_status(&cfg, 0, &observed, now);
    let conds = status["conditions"].as_array().expect("conditions");
    assert_eq!(conds[0]["type"], "MemoryPressure");
    assert_eq!(
        conds[0]["lastTransitionTime"], "2025-01-01T00:00:00Z",
        "unchanged status"
    );
    assert_eq!(conds[3]["type"], "Ready");
    assert_eq!(
        conds[3]["lastTransitionTime"], "2025-01-01T00:05:00Z",
        "Unknown → True"
    );
}

#[test]
fn lease_objects() {
    let now = ts("2025-01-01T00:00:00.123456Z");
    let lease = lease_object("sim-node-0", Some("uid-0"), now);
    assert_eq!(lease["spec"]["holderIdentity"], "sim-node-0");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["spec"]["renewTime"], "2025-01-01T00:00:00.123456Z");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], "uid-0");
    let _: k8s_openapi::api::coordination::v1::Lease =
        serde_json::from_value(lease).expect("a Lease");
    assert_eq!(
        lease_renewal("sim-node-0", None, now)["spec"]["renewTime"],
        "2025-01-01T00:00:00.123456Z"
    );
}

#[test]
fn summary_of_a_pod_spec() {
    let p = pod(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [
            {"name": "a", "image": "nginx:1.27"},
            {"name": "b", "image": "registry.k8s.io/pause:3.9",
             "readinessProbe": {"initialDelaySeconds": 2, "exec": {"command": ["true"]}}},
        ],
    }));
    let s = summarize(&p);
    assert!(!s.restart_always);
    assert_eq!(s.containers.len(), 2);
    assert_eq!(s.containers[0].ready_after, None);
    assert_eq!(s.containers[1].ready_after, Some(Duration::from_secs(2)));
    assert_eq!(s.init_containers[0].name, "init");
    assert!(summarize(&pod(json!({"containers": [{"name": "a"}]}))).restart_always);

    let mut p = pod(json!({"containers": [{"name": "a"}], "restartPolicy": "OnFailure"}));
    p.metadata.annotations =
        Some([(COMPLETION_ANNOTATION.to_string(), "250ms".to_string())].into());
    assert_eq!(summarize(&p).completion, Some(Duration::from_millis(250)));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("soon"), None);
}

#[test]
fn desired_state_over_time() {
    let s = summarize(&pod(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "a"},
            {"name": "b", "readinessProbe": {"initialDelaySeconds": 2}},
        ],
    })));
    let start = ts("2025-01-01T00:00:00Z");
    let at = |secs: u64| after(start, Duration::from_secs(secs));
    let completion = Duration::from_secs(5);
    let d0 = desired(&s, start, at(0), completion);
    assert_eq!(d0.phase, SimPhase::Running);
    assert_eq!(d0.ready, [true, false]);
    assert_eq!(next_transition(&s, start, at(0), completion), Some(at(2)));
    let d2 = desired(&s, start, at(2), completion);
    assert_eq!(d2.ready, [true, true]);
    assert_eq!(next_transition(&s, start, at(2), completion), Some(at(5)));
    let d5 = desired(&s, start, at(5), completion);
    assert_eq!(d5.phase, SimPhase::Succeeded);
    assert_eq!(d5.ready, [false, false]);
    assert_eq!(next_transition(&s, start, at(5), completion), None);

    let always = summarize(&pod(json!({"containers": [{"name": "a"}]})));
    assert_eq!(
        desired(&always, start, at(3600), completion).phase,
        SimPhase::Running
    );
    assert_eq!(next_transition(&always, start, at(0), completion), None);
}

#[test]
fn running_pod_status_as_the_kubelet_writes_it() {
    let s = summarize(&pod(json!({
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [
            {"name": "web", "image": "nginx"},
            {"name": "side", "image": "example.com/team/side:v1",
             "readinessProbe": {"initialDelaySeconds": 2}},
        ],
    })));
    let start = ts("2025-01-01T00:00:00Z");
    let placement = Placement {
        pod_ip: "10.42.1.2".parse().expect("ip"),
        host_ip: "198.18.0.2".parse().expect("ip"),
        start,
    };
    let d = desired(&s, start, start, Duration::from_secs(5));
    let patch = pod_status_patch("u-1", &s, placement, &d, Duration::from_secs(5));
    let status = &patch["status"];
    assert_eq!(status["phase"], "Running");
    assert_eq!(status["podIP"], "10.42.1.2");
    assert_eq!(status["podIPs"], json!([{"ip": "10.42.1.2"}]));
    assert_eq!(status["hostIP"], "198.18.0.2");
    assert_eq!(status["hostIPs"], json!([{"ip": "198.18.0.2"}]));
    assert_eq!(status["startTime"], "2025-01-01T00:00:00Z");
    let conds = status["conditions"].as_array().expect("conditions");
    let types: Vec<&str> = conds.iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            // A pod bound by nodeName alone gets PodScheduled from its kubelet.
            "PodScheduled"
        ]
    );
    assert_eq!(conds[2]["status"], "False");
    assert_eq!(conds[2]["reason"], "ContainersNotReady");
    assert_eq!(
        conds[2]["message"],
        "containers with unready status: [side]"
    );
    let cs = status["containerStatuses"].as_array().expect("statuses");
    assert_eq!(cs[0]["name"], "web");
    assert_eq!(cs[0]["ready"], true);
    assert_eq!(cs[0]["started"], true);
    assert_eq!(cs[0]["restartCount"], 0);
    assert_eq!(
        cs[0]["state"]["running"]["startedAt"],
        "2025-01-01T00:00:00Z"
    );
    assert!(
        cs[0]["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("containerd://") && id.len() == 13 + 64)
    );
    assert!(
        cs[0]["imageID"]
            .as_str()
            .is_some_and(|id| id.starts_with("docker.io/library/nginx@sha256:"))
    );
    assert!(
        cs[1]["imageID"]
            .as_str()
            .is_some_and(|id| id.starts_with("example.com/team/side@sha256:"))
    );
    assert_eq!(cs[1]["ready"], false);
    assert_eq!(
        status["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    // The typed client reads it.
    let _: k8s_openapi::api::core::v1::PodStatus =
        serde_json::from_value(status.clone()).expect("a PodStatus");

    // Ready after the probe's initial delay; the transition time is that moment, every time.
    let later = after(start, Duration::from_secs(2));
    let d = desired(&s, start, later, Duration::from_secs(5));
    let patch = pod_status_patch("u-1", &s, placement, &d, Duration::from_secs(5));
    let conds = &patch["status"]["conditions"];
    assert_eq!(conds[2]["status"], "True");
    assert_eq!(conds[2]["lastTransitionTime"], "2025-01-01T00:00:02Z");
    assert_eq!(conds[2].get("reason"), None);
    let again = pod_status_patch(
        "u-1",
        &s,
        placement,
        &desired(
            &s,
            start,
            after(start, Duration::from_secs(60)),
            Duration::from_secs(5),
        ),
        Duration::from_secs(5),
    );
    assert_eq!(patch, again, "rewriting the same state changes nothing");
}

#[test]
fn succeeded_pod_status() {
    let s = summarize(&pod(json!({
        "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "busybox"}],
    })));
    let start = ts("2025-01-01T00:00:00Z");
    let placement = Placement {
        pod_ip: "10.42.0.5".parse().expect("ip"),
        host_ip: "198.18.0.1".parse().expect("ip"),
        start,
    };
    let completion = Duration::from_secs(5);
    let d = desired(&s, start, after(start, completion), completion);
    let status = pod_status_patch("u-1", &s, placement, &d, completion)["status"].clone();
    assert_eq!(status["phase"], "Succeeded");
    let term = &status["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["reason"], "Completed");
    assert_eq!(term["exitCode"], 0);
    assert_eq!(term["finishedAt"], "2025-01-01T00:00:05Z");
    assert_eq!(status["containerStatuses"][0]["ready"], false);
    assert_eq!(status["conditions"][2]["reason"], "PodCompleted");
    assert_eq!(status["conditions"][2]["status"], "False");
    assert_eq!(status["conditions"][0]["status"], "False");
}

#[test]
fn observed_state_of_a_pod() {
    let mut p = pod(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
    let s = summarize(&p);
    assert_eq!(observed(&p, &s), None, "no status");
    p.status = serde_json::from_value(json!({
        "phase": "Running",
        "containerStatuses": [
            {"name": "b", "ready": true, "restartCount": 0, "image": "x", "imageID": ""},
            {"name": "a", "ready": false, "restartCount": 0, "image": "x", "imageID": ""},
        ],
    }))
    .expect("status");
    assert_eq!(
        observed(&p, &s),
        Some(Desired {
            phase: SimPhase::Running,
            ready: vec![false, true],
        })
    );
}

#[test]
fn heartbeat_annotation() {
    let mut node = Node::default();
    assert!(heartbeat::heartbeat_enabled(&node));
    node.metadata.annotations =
        Some([(HEARTBEAT_ANNOTATION.to_string(), "false".to_string())].into());
    assert!(!heartbeat::heartbeat_enabled(&node));
    node.metadata.annotations =
        Some([(HEARTBEAT_ANNOTATION.to_string(), "true".to_string())].into());
    assert!(heartbeat::heartbeat_enabled(&node));
}
