use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;
use crate::registry;

fn res(group: &str, plural: &str) -> &'static ResourceInfo {
    registry::lookup_preferred(group, plural).expect("registered")
}

fn now() -> OffsetDateTime {
    parse_timestamp("2025-01-10T12:00:00Z").expect("time")
}

fn names(cols: &[ColumnDefinition]) -> Vec<&str> {
    cols.iter().map(|c| c.name).collect()
}

fn cells(group: &str, plural: &str, obj: Value) -> Vec<Value> {
    let r = res(group, plural);
    let out = row(r, &obj, now());
    assert_eq!(out.len(), columns(r).len(), "one cell per column");
    out
}

#[test]
fn human_duration_matches_upstream() {
    let d = time::Duration::seconds;
    for (secs, want) in [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (740 * 86400, "2y10d"),
        (3000 * 86400, "8y"),
    ] {
        assert_eq!(human_duration(d(secs)), want, "{secs}s");
    }
}

#[test]
fn columns_of_common_kinds() {
    assert_eq!(
        names(columns(res("", "pods"))),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    let wide: Vec<_> = columns(res("", "pods"))
        .iter()
        .filter(|c| c.priority == 1)
        .map(|c| c.name)
        .collect();
    assert_eq!(wide, ["IP", "Node", "Nominated Node", "Readiness Gates"]);
    assert_eq!(
        names(columns(res("apps", "deployments"))),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        names(columns(res("", "services"))),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    assert_eq!(
        names(columns(res("", "nodes"))),
        [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
    assert_eq!(
        names(columns(res("", "configmaps"))),
        ["Name", "Data", "Age"]
    );
    assert_eq!(
        names(columns(res("", "secrets"))),
        ["Name", "Type", "Data", "Age"]
    );
    assert_eq!(
        names(columns(res("", "namespaces"))),
        ["Name", "Status", "Age"]
    );
    // Kinds without a printer get upstream's default convertor.
    let crd = res("apiextensions.k8s.io", "customresourcedefinitions");
    assert!(!has_printer(crd));
    assert_eq!(names(columns(crd)), ["Name", "Created At"]);
    assert_eq!(columns(crd)[1].type_, "date");
    assert_eq!(columns(crd)[0].format, "name");
}

#[test]
fn every_registered_resource_has_one_cell_per_column() {
    for r in registry::all() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2025-01-10T11:00:00Z"}});
        assert_eq!(row(r, &obj, now()).len(), columns(r).len(), "{}", r.plural);
    }
}

#[test]
fn default_row_is_name_and_rfc3339() {
    let c = cells(
        "rbac.authorization.k8s.io",
        "roles",
        json!({"metadata": {"name": "r", "creationTimestamp": "2025-01-10T11:00:00Z"}}),
    );
    assert_eq!(c, [json!("r"), json!("2025-01-10T11:00:00Z")]);
}

fn pod(status: Value) -> Value {
    json!({
        "metadata": {"name": "web", "creationTimestamp": "2025-01-10T11:58:00Z"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]},
        "status": status,
    })
}

#[test]
fn pod_pending_without_statuses() {
    let c = cells("", "pods", pod(json!({"phase": "Pending"})));
    assert_eq!(
        c,
        [
            json!("web"),
            json!("0/2"),
            json!("Pending"),
            json!("0"),
            json!("2m"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn pod_ready_one_of_two_with_restarts_ago() {
    let c = cells(
        "",
        "pods",
        pod(json!({
            "phase": "Running",
            "podIPs": [{"ip": "10.42.0.5"}],
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-10T11:58:10Z"}}},
                {"name": "b", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-10T11:55:00Z"}}}
            ]
        })),
    );
    assert_eq!(c[1], json!("1/2"));
    assert_eq!(c[2], json!("CrashLoopBackOff"));
    assert_eq!(c[3], json!("5 (5m ago)"));
    assert_eq!(c[5], json!("10.42.0.5"));
}

#[test]
fn pod_status_from_phase_reason_and_states() {
    // Status reason wins over phase.
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Failed", "reason": "Evicted"})),
    );
    assert_eq!(c[2], json!("Evicted"));
    // Terminated without a reason: ExitCode / Signal.
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 3}}}
        ]})),
    );
    assert_eq!(c[2], json!("ExitCode:3"));
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]})),
    );
    assert_eq!(c[2], json!("Signal:9"));
    // Completed while another container still runs: Running or NotReady.
    let running = pod(
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}},
            {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}),
    );
    assert_eq!(cells("", "pods", running)[2], json!("Running"));
    // Init containers.
    let mut init = pod(json!({"phase": "Pending", "initContainerStatuses": [
        {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
        {"name": "i2", "state": {"running": {}}}
    ]}));
    init["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
    assert_eq!(cells("", "pods", init.clone())[2], json!("Init:1/2"));
    init["status"]["initContainerStatuses"][1]["state"] =
        json!({"waiting": {"reason": "ImagePullBackOff"}});
    assert_eq!(cells("", "pods", init)[2], json!("Init:ImagePullBackOff"));
    // Deletion: Terminating unless terminal.
    let mut deleting = pod(json!({"phase": "Running"}));
    deleting["metadata"]["deletionTimestamp"] = json!("2025-01-10T11:59:00Z");
    assert_eq!(cells("", "pods", deleting)[2], json!("Terminating"));
    // Scheduling gates.
    let gated = pod(json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
    ]}));
    assert_eq!(cells("", "pods", gated)[2], json!("SchedulingGated"));
}

#[test]
fn pod_wide_cells_and_conditions() {
    let mut p = pod(json!({"phase": "Succeeded", "nominatedNodeName": "n2",
        "conditions": [{"type": "www.example.com/gate", "status": "True"}]}));
    p["spec"]["nodeName"] = json!("n1");
    p["spec"]["readinessGates"] =
        json!([{"conditionType": "www.example.com/gate"}, {"conditionType": "other"}]);
    let c = cells("", "pods", p.clone());
    assert_eq!(c[6], json!("n1"));
    assert_eq!(c[7], json!("n2"));
    assert_eq!(c[8], json!("1/2"));
    let cond = row_conditions(res("", "pods"), &p).expect("conditions");
    assert_eq!(cond[0]["type"], "Completed");
    assert_eq!(cond[0]["reason"], "Succeeded");
    assert!(row_conditions(res("", "pods"), &pod(json!({"phase": "Running"}))).is_none());
}

#[test]
fn deployment_row() {
    let c = cells(
        "apps",
        "deployments",
        json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-01-09T12:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        }),
    );
    assert_eq!(
        c,
        [
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("24h"),
            json!("nginx,side"),
            json!("nginx:1.27,busybox"),
            json!("app=web,tier=fe")
        ]
    );
}

#[test]
fn service_rows() {
    let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s", "creationTimestamp": "2025-01-10T11:00:00Z"}, "spec": spec, "status": status});
    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "NodePort", "clusterIPs": ["10.43.0.10"], "selector": {"app": "web"},
                   "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
            json!({}),
        ),
    );
    assert_eq!(
        c,
        [
            json!("s"),
            json!("NodePort"),
            json!("10.43.0.10"),
            json!("<none>"),
            json!("80/TCP,443:30443/TCP"),
            json!("60m"),
            json!("app=web")
        ]
    );
    let lb = cells(
        "",
        "services",
        svc(
            json!({"type": "LoadBalancer", "clusterIPs": ["10.43.0.11"], "ports": [{"port": 53, "nodePort": 31000, "protocol": "UDP"}]}),
            json!({}),
        ),
    );
    assert_eq!(lb[3], json!("<pending>"));
    assert_eq!(lb[4], json!("53:31000/UDP"));
    assert_eq!(lb[6], json!("<none>"));
    let lb = cells(
        "",
        "services",
        svc(
            json!({"type": "LoadBalancer", "externalIPs": ["1.2.3.4"]}),
            json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}}),
        ),
    );
    assert_eq!(lb[2], json!("<none>"));
    assert_eq!(lb[3], json!("5.6.7.8,lb.example.com,1.2.3.4"));
    assert_eq!(lb[4], json!("<none>"));
    let ext = cells(
        "",
        "services",
        svc(
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({}),
        ),
    );
    assert_eq!(ext[3], json!("example.com"));
}

#[test]
fn node_rows() {
    let c = cells(
        "",
        "nodes",
        json!({
            "metadata": {"name": "n1", "creationTimestamp": "2025-01-01T12:00:00Z",
                         "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "kubernetes.io/role": "etcd"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.5"}, {"type": "Hostname", "address": "n1"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.1+k3rs", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://2.0.0"}}
        }),
    );
    assert_eq!(
        c,
        [
            json!("n1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,etcd,master"),
            json!("9d"),
            json!("v1.33.1+k3rs"),
            json!("192.168.1.5"),
            json!("<none>"),
            json!("Debian GNU/Linux 12"),
            json!("6.1.0"),
            json!("containerd://2.0.0")
        ]
    );
    let bare = cells("", "nodes", json!({"metadata": {"name": "n2"}}));
    assert_eq!(bare[1], json!("Unknown"));
    assert_eq!(bare[2], json!("<none>"));
    assert_eq!(bare[3], json!("<unknown>"));
    assert_eq!(bare[7], json!("<unknown>"));
    let not_ready = cells(
        "",
        "nodes",
        json!({"metadata": {"name": "n3"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
    );
    assert_eq!(not_ready[1], json!("NotReady"));
}

#[test]
fn configmap_secret_namespace_rows() {
    let meta = json!({"name": "x", "creationTimestamp": "2025-01-10T11:59:30Z"});
    let c = cells(
        "",
        "configmaps",
        json!({"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
    );
    assert_eq!(c, [json!("x"), json!(3), json!("30s")]);
    let c = cells(
        "",
        "secrets",
        json!({"metadata": meta, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
    );
    assert_eq!(
        c,
        [
            json!("x"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("30s")
        ]
    );
    let c = cells(
        "",
        "namespaces",
        json!({"metadata": meta, "status": {"phase": "Terminating"}}),
    );
    assert_eq!(c, [json!("x"), json!("Terminating"), json!("30s")]);
}

#[test]
fn event_rows_core_and_events_v1() {
    let c = cells(
        "",
        "events",
        json!({
            "metadata": {"name": "web.17a", "creationTimestamp": "2025-01-10T11:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled", "type": "Normal", "message": "  Successfully pulled image  ",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2025-01-10T11:00:00Z", "lastTimestamp": "2025-01-10T11:50:00Z", "count": 4
        }),
    );
    assert_eq!(
        c,
        [
            json!("10m"),
            json!("Normal"),
            json!("Pulled"),
            json!("pod/web"),
            json!("spec.containers{nginx}"),
            json!("kubelet, n1"),
            json!("Successfully pulled image"),
            json!("60m"),
            json!(4),
            json!("web.17a")
        ]
    );
    let c = cells(
        "events.k8s.io",
        "events",
        json!({
            "metadata": {"name": "e"},
            "regarding": {"kind": "Node", "name": "n1"},
            "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
            "eventTime": "2025-01-10T11:59:00.000000Z", "reportingController": "kubelet", "reportingInstance": "n1"
        }),
    );
    assert_eq!(c[0], json!("60s"));
    assert_eq!(c[3], json!("node/n1"));
    assert_eq!(c[5], json!("kubelet, n1"));
    assert_eq!(c[6], json!("Starting kubelet."));
    assert_eq!(c[7], json!("60s"));
    assert_eq!(c[8], json!(1));
    // A series overrides last-seen and count.
    let c = cells(
        "",
        "events",
        json!({"metadata": {"name": "s"}, "eventTime": "2025-01-10T10:00:00Z",
               "series": {"count": 7, "lastObservedTime": "2025-01-10T11:59:50.5Z"}}),
    );
    assert_eq!(c[0], json!("9s"));
    assert_eq!(c[7], json!("120m"));
    assert_eq!(c[8], json!(7));
}

#[test]
fn workload_rows() {
    let job = cells(
        "batch",
        "jobs",
        json!({"metadata": {"name": "j"}, "spec": {"completions": 3, "selector": {"matchLabels": {"a": "b"}},
               "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
               "status": {"succeeded": 3, "startTime": "2025-01-10T11:00:00Z", "completionTime": "2025-01-10T11:02:30Z",
                          "conditions": [{"type": "Complete", "status": "True"}]}}),
    );
    assert_eq!(job[1], json!("Complete"));
    assert_eq!(job[2], json!("3/3"));
    assert_eq!(job[3], json!("2m30s"));
    assert_eq!(job[7], json!("a=b"));
    let sts = cells(
        "apps",
        "statefulsets",
        json!({"metadata": {"name": "db"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}),
    );
    assert_eq!(sts[1], json!("1/2"));
    let rs = cells("apps", "replicasets", json!({"metadata": {"name": "rs"}}));
    assert_eq!(rs[7], json!("<none>"));
    let cj = cells(
        "batch",
        "cronjobs",
        json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/5 * * * *", "suspend": false}}),
    );
    assert_eq!(
        &cj[1..6],
        [
            json!("*/5 * * * *"),
            json!("<none>"),
            json!("False"),
            json!(0),
            json!("<none>")
        ]
    );
}

#[test]
fn partial_object_metadata_keeps_only_metadata() {
    let p = partial_object_metadata(
        &json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "resourceVersion": "5"}, "spec": {}}),
        "v1beta1",
    );
    assert_eq!(
        p,
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1beta1", "metadata": {"name": "a", "resourceVersion": "5"}})
    );
}
