use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::model::NodeInfo;
use crate::testutil::{node, pod, pod_labeled, snapshot, with_spec};

fn info(n: &k8s_openapi::api::core::v1::Node) -> NodeInfo {
    NodeInfo::from_node(n)
}

fn reason(r: Result<(), Status>) -> String {
    r.err().map(|s| s.reasons.join("; ")).unwrap_or_default()
}

#[test]
fn unschedulable_nodes_unless_tolerated() {
    let n = info(&with_spec(
        node("n1", "4", "8Gi", json!({})),
        json!({"unschedulable": true}),
    ));
    let p = pod("p", "", "", json!({}));
    assert_eq!(reason(node_unschedulable(&p, &n)), reasons::UNSCHEDULABLE);
    let tolerant = pod(
        "p",
        "",
        "",
        json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
    );
    assert!(node_unschedulable(&tolerant, &n).is_ok());
}

#[test]
fn node_name_must_match() {
    let n = info(&node("n1", "4", "8Gi", json!({})));
    assert!(node_name(&pod("p", "", "", json!({})), &n).is_ok());
    assert!(node_name(&pod("p", "", "", json!({"nodeName": "n1"})), &n).is_ok());
    assert_eq!(
        reason(node_name(&pod("p", "", "", json!({"nodeName": "n2"})), &n)),
        reasons::NODE_NAME
    );
}

#[test]
fn taints_need_tolerations() {
    let n = info(&with_spec(
        node("n1", "4", "8Gi", json!({})),
        json!({"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            {"key": "soft", "value": "x", "effect": "PreferNoSchedule"}
        ]}),
    ));
    let p = pod("p", "", "", json!({}));
    let err = taint_toleration(&p, &n).unwrap_err();
    assert_eq!(err.code, Code::Unresolvable);
    assert_eq!(
        err.reasons,
        ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
    );
    let tol = pod(
        "p",
        "",
        "",
        json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}),
    );
    assert!(taint_toleration(&tol, &n).is_ok());
    let valued = info(&with_spec(
        node("n2", "4", "8Gi", json!({})),
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}),
    ));
    assert_eq!(
        reason(taint_toleration(&p, &valued)),
        "node(s) had untolerated taint {dedicated: gpu}"
    );
}

#[test]
fn node_selector_and_required_affinity() {
    let n = info(&node("n1", "4", "8Gi", json!({"disk": "ssd", "zone": "a"})));
    assert!(
        node_affinity(
            &pod("p", "", "", json!({"nodeSelector": {"disk": "ssd"}})),
            &n
        )
        .is_ok()
    );
    assert_eq!(
        reason(node_affinity(
            &pod("p", "", "", json!({"nodeSelector": {"disk": "hdd"}})),
            &n
        )),
        reasons::NODE_AFFINITY
    );
    let aff = |op: &str, vals: serde_json::Value| {
        pod(
            "p",
            "",
            "",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": op, "values": vals}]}
                ]
            }}}}),
        )
    };
    assert!(node_affinity(&aff("In", json!(["a", "b"])), &n).is_ok());
    assert!(node_affinity(&aff("NotIn", json!(["a"])), &n).is_err());
    let by_name = pod(
        "p",
        "",
        "",
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
            ]
        }}}}),
    );
    assert!(node_affinity(&by_name, &n).is_ok());
}

#[test]
fn host_ports_conflict() {
    let mut n = info(&node("n1", "4", "8Gi", json!({})));
    let ported = |name: &str, ip: Option<&str>, proto: &str| {
        let mut port = json!({"containerPort": 80, "hostPort": 8080, "protocol": proto});
        if let Some(ip) = ip {
            port["hostIP"] = json!(ip);
        }
        pod(
            name,
            "",
            "",
            json!({"containers": [{"name": "c", "image": "x", "ports": [port]}]}),
        )
    };
    let first = ported("a", None, "TCP");
    assert!(node_ports(&first, &n).is_ok());
    n.add_pod(Arc::new(first));
    assert_eq!(
        reason(node_ports(&ported("b", None, "TCP"), &n)),
        reasons::NODE_PORTS
    );
    assert_eq!(
        reason(node_ports(&ported("b", Some("10.0.0.1"), "TCP"), &n)),
        reasons::NODE_PORTS
    );
    assert!(node_ports(&ported("b", None, "UDP"), &n).is_ok());
    n.remove_pod("default", "a");
    assert!(node_ports(&ported("b", None, "TCP"), &n).is_ok());
}

#[test]
fn resources_fit_and_unresolvable_when_bigger_than_the_node() {
    let mut n = info(&node("n1", "2", "4Gi", json!({})));
    n.add_pod(Arc::new(pod("a", "1500m", "1Gi", json!({}))));
    let err = node_resources_fit(&pod("b", "1", "1Gi", json!({})), &n).unwrap_err();
    assert_eq!(err.reasons, ["Insufficient cpu"]);
    assert_eq!(err.code, Code::Unschedulable);
    let err = node_resources_fit(&pod("c", "3", "5Gi", json!({})), &n).unwrap_err();
    assert_eq!(err.reasons, ["Insufficient cpu", "Insufficient memory"]);
    assert_eq!(err.code, Code::Unresolvable);
    assert!(node_resources_fit(&pod("d", "500m", "3Gi", json!({})), &n).is_ok());
    // Best-effort pods only need a pod slot.
    assert!(node_resources_fit(&pod("e", "", "", json!({})), &n).is_ok());
}

#[test]
fn too_many_pods_and_extended_resources() {
    let mut raw = node("n1", "4", "8Gi", json!({}));
    if let Some(st) = raw.status.as_mut()
        && let Some(a) = st.allocatable.as_mut()
    {
        a.insert(
            "pods".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into()),
        );
        a.insert(
            "example.com/gpu".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into()),
        );
    }
    let mut n = info(&raw);
    let gpu = pod(
        "g",
        "",
        "",
        json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "2"}}}]}),
    );
    assert_eq!(
        node_resources_fit(&gpu, &n).unwrap_err().reasons,
        ["Insufficient example.com/gpu"]
    );
    n.add_pod(Arc::new(pod("a", "", "", json!({}))));
    assert_eq!(
        reason(node_resources_fit(&pod("b", "", "", json!({})), &n)),
        reasons::TOO_MANY_PODS
    );
}

#[test]
fn volume_binding_prefilter_and_pv_affinity() {
    let p = pod(
        "p",
        "",
        "",
        json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}),
    );
    let mut vols = Volumes::default();
    let err = volume_prefilter(&p, &vols).unwrap_err();
    assert_eq!(err.reasons, ["persistentvolumeclaim \"data\" not found"]);
    vols.claims.insert(
        "default/data".into(),
        ClaimInfo {
            volume_name: None,
            storage_class: Some("standard".into()),
        },
    );
    assert_eq!(
        volume_prefilter(&p, &vols).unwrap_err().reasons,
        [reasons::UNBOUND_IMMEDIATE]
    );
    vols.wait_for_first_consumer.insert("standard".into());
    let pv = volume_prefilter(&p, &vols).expect("delayed binding");
    assert_eq!(pv.delayed_claims, ["default/data"]);
    vols.claims.insert(
        "default/data".into(),
        ClaimInfo {
            volume_name: Some("pv1".into()),
            storage_class: Some("standard".into()),
        },
    );
    vols.pv_affinity.insert(
        "pv1".into(),
        Some(
            serde_json::from_value(json!({"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}
            ]}]}))
            .expect("selector"),
        ),
    );
    let state = CycleState {
        volumes: volume_prefilter(&p, &vols).expect("bound"),
        ..Default::default()
    };
    assert!(volume_binding(&state, &info(&node("n1", "1", "1Gi", json!({})))).is_ok());
    assert_eq!(
        reason(volume_binding(
            &state,
            &info(&node("n2", "1", "1Gi", json!({})))
        )),
        reasons::VOLUME_NODE_AFFINITY
    );
}

#[test]
fn topology_spread_do_not_schedule() {
    let mut snap = snapshot(&[
        node("a1", "8", "8Gi", json!({"zone": "a"})),
        node("b1", "8", "8Gi", json!({"zone": "b"})),
        node("nolabel", "8", "8Gi", json!({})),
    ]);
    let web = |name: &str| pod_labeled(name, json!({"app": "web"}), "", "", json!({}));
    snap.add_pod("a1", Arc::new(web("w1")));
    snap.add_pod("a1", Arc::new(web("w2")));
    snap.add_pod("b1", Arc::new(web("w3")));
    let p = pod_labeled(
        "new",
        json!({"app": "web"}),
        "",
        "",
        json!({"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}
        }]}),
    );
    let mut state = CycleState::default();
    spread_prefilter(&p, &snap, &mut state);
    let get = |n: &str| snap.node(n).expect("node").clone();
    assert_eq!(
        reason(topology_spread(&p, &state, &get("a1"))),
        reasons::SPREAD
    );
    assert!(topology_spread(&p, &state, &get("b1")).is_ok());
    let err = topology_spread(&p, &state, &get("nolabel")).unwrap_err();
    assert_eq!(err.reasons, [reasons::SPREAD_LABEL]);
    assert_eq!(err.code, Code::Unresolvable);
}

#[test]
fn inter_pod_affinity_and_anti_affinity() {
    let mut snap = snapshot(&[
        node("n1", "8", "8Gi", json!({"zone": "a"})),
        node("n2", "8", "8Gi", json!({"zone": "a"})),
        node("n3", "8", "8Gi", json!({"zone": "b"})),
    ]);
    snap.add_pod(
        "n1",
        Arc::new(pod_labeled("db", json!({"app": "db"}), "", "", json!({}))),
    );
    let anti = |name: &str, key: &str| {
        pod_labeled(
            name,
            json!({"app": "web"}),
            "",
            "",
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": key}
            ]}}}),
        )
    };
    snap.add_pod("n2", Arc::new(anti("web1", "kubernetes.io/hostname")));
    let run = |p: &PodInfo, n: &str| {
        let mut st = CycleState::default();
        interpod_prefilter(p, &snap, &mut st);
        reason(inter_pod_affinity(
            p,
            &st,
            snap.node(n).expect("node"),
            &snap.namespace_labels,
        ))
    };
    // The pod's own anti-affinity: not next to web1 (n2), fine elsewhere.
    let web2 = anti("web2", "kubernetes.io/hostname");
    assert_eq!(run(&web2, "n2"), reasons::ANTI_AFFINITY);
    assert_eq!(run(&web2, "n1"), "");
    // An existing pod's anti-affinity repels a matching pod without terms of its own.
    let plain = pod_labeled("plain", json!({"app": "web"}), "", "", json!({}));
    assert_eq!(run(&plain, "n2"), reasons::EXISTING_ANTI_AFFINITY);
    assert_eq!(run(&plain, "n3"), "");
    // Zone-wide anti-affinity.
    let zonal = anti("web3", "zone");
    assert_eq!(run(&zonal, "n1"), reasons::ANTI_AFFINITY);
    assert_eq!(run(&zonal, "n3"), "");
    // Required affinity to the db's zone.
    let near_db = pod(
        "near",
        "",
        "",
        json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
        ]}}}),
    );
    assert_eq!(run(&near_db, "n2"), "");
    assert_eq!(run(&near_db, "n3"), reasons::AFFINITY);
    // The first pod of a self-affine group may go anywhere.
    let selfish = pod_labeled(
        "s",
        json!({"app": "cache"}),
        "",
        "",
        json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}
        ]}}}),
    );
    assert_eq!(run(&selfish, "n3"), "");
}

#[test]
fn filters_run_in_upstream_order() {
    let n = info(&with_spec(
        node("n1", "1", "1Gi", json!({})),
        json!({"taints": [{"key": "t", "effect": "NoSchedule"}]}),
    ));
    // Both tainted and too small: the taint is reported (it comes first).
    let p = pod("p", "2", "", json!({}));
    let err = run_filters(&p, &CycleState::default(), &n, &Default::default()).unwrap_err();
    assert_eq!(err.reasons, ["node(s) had untolerated taint {t: }"]);
}
