use super::status::*;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

fn report(not_ready: Option<&str>) -> NodeReport {
    NodeReport {
        capacity: BTreeMap::from([("cpu".into(), "2".into()), ("pods".into(), "110".into())]),
        allocatable: BTreeMap::from([
            ("cpu".into(), "1500m".into()),
            ("pods".into(), "110".into()),
        ]),
        addresses: vec![
            ("InternalIP".into(), "192.0.2.5".into()),
            ("Hostname".into(), "node-a".into()),
        ],
        kubelet_port: 10250,
        node_info: NodeInfo {
            kernel_version: "6.1.0".into(),
            architecture: "amd64".into(),
            container_runtime_version: "containerd://1.6.20".into(),
            ..Default::default()
        },
        conditions: conditions(Pressure::default(), not_ready).to_vec(),
    }
}

#[test]
fn a_registered_node_parses_as_a_node_with_the_well_known_labels() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let extra = BTreeMap::from([(
        "node-role.kubernetes.io/control-plane".to_string(),
        "true".to_string(),
    )]);
    let labels = node_labels("node-a", "amd64", &extra);
    let node: Node = serde_json::from_value(node_object("node-a", labels, &[], &report(None), now))
        .expect("a Node");
    let labels = node.metadata.labels.unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "node-a");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["node-role.kubernetes.io/control-plane"], "true");
    let status = node.status.unwrap();
    assert_eq!(status.allocatable.unwrap()["cpu"].0, "1500m");
    assert_eq!(
        status
            .daemon_endpoints
            .unwrap()
            .kubelet_endpoint
            .unwrap()
            .port,
        10250
    );
    let info = status.node_info.unwrap();
    assert_eq!(info.container_runtime_version, "containerd://1.6.20");
    assert!(info.kubelet_version.starts_with("v1.33.0+k3rs"));
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
}

#[test]
fn not_ready_says_why() {
    let c = conditions(
        Pressure::default(),
        Some("container runtime network not ready"),
    );
    assert_eq!(c[3].status, "False");
    assert_eq!(c[3].reason, "KubeletNotReady");
    assert_eq!(c[3].message, "container runtime network not ready");
    let c = conditions(
        Pressure {
            memory: true,
            disk: false,
            pid: false,
        },
        None,
    );
    assert_eq!((c[0].type_, c[0].status), ("MemoryPressure", "True"));
    assert_eq!(c[0].reason, "KubeletHasInsufficientMemory");
}

#[test]
fn transition_time_is_kept_while_the_status_is_unchanged() {
    let earlier = Timestamp::from_second(1_600_000_000).unwrap();
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let observed = vec![
        NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("KubeletReady".into()),
            last_transition_time: Some(Time(earlier)),
            ..Default::default()
        },
        NodeCondition {
            type_: "MemoryPressure".into(),
            status: "True".into(),
            last_transition_time: Some(Time(earlier)),
            ..Default::default()
        },
    ];
    let status = node_status(&report(None), &observed, now);
    let find = |ty: &str| {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == ty)
            .unwrap()
            .clone()
    };
    assert_eq!(find("Ready")["lastTransitionTime"], time(earlier));
    assert_eq!(find("Ready")["lastHeartbeatTime"], time(now));
    // MemoryPressure went True → False: a new transition.
    assert_eq!(find("MemoryPressure")["lastTransitionTime"], time(now));
    assert!(!conditions_match(&observed, &report(None).conditions));
}

#[test]
fn lease_is_owned_by_the_node_and_renewed_by_patch() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let lease: k8s_openapi::api::coordination::v1::Lease =
        serde_json::from_value(lease_object("node-a", Some("uid-1"), now)).expect("a Lease");
    assert_eq!(lease.metadata.namespace.as_deref(), Some("kube-node-lease"));
    let owner = &lease.metadata.owner_references.unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Node", "uid-1"));
    let spec = lease.spec.unwrap();
    assert_eq!(spec.lease_duration_seconds, Some(40));
    assert_eq!(spec.holder_identity.as_deref(), Some("node-a"));
    assert_eq!(
        lease_renewal("node-a", None, now)["spec"]["renewTime"],
        micro_time(now)
    );
    assert!(lease_renewal("node-a", None, now).get("metadata").is_none());
    let renewal = lease_renewal("node-a", Some("uid-1"), now);
    assert_eq!(renewal["metadata"]["ownerReferences"][0]["uid"], "uid-1");
}
