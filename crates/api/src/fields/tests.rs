use serde_json::json;

use super::*;
use crate::registry::lookup;

fn res(group: &str, plural: &str) -> &'static ResourceInfo {
    crate::registry::lookup_preferred(group, plural).unwrap_or_else(|| panic!("{plural}"))
}

fn sel(s: &str, r: &ResourceInfo) -> FieldSelector {
    FieldSelector::parse(s, r).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn parse_err(s: &str, r: &ResourceInfo) -> String {
    FieldSelector::parse(s, r)
        .map(|s| s.to_string())
        .unwrap_err()
        .0
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {"nodeName": "node-a", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "serviceAccountName": "default", "containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": "Running", "podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]}
    })
}

#[test]
fn pod_fields() {
    let pods = res("", "pods");
    let p = pod();
    let yes = [
        "",
        "metadata.name=web-0",
        "metadata.namespace=default",
        "spec.nodeName=node-a",
        "spec.nodeName==node-a",
        "spec.host=node-a",
        "spec.nodeName!=node-b",
        "spec.restartPolicy=Always",
        "spec.schedulerName=default-scheduler",
        "spec.serviceAccountName=default",
        "spec.hostNetwork=false",
        "status.phase=Running,spec.nodeName=node-a",
        "status.phase!=Pending",
        "status.podIP=10.42.0.5",
        "status.podIPs=",
        "status.nominatedNodeName=",
    ];
    for s in yes {
        assert!(sel(s, pods).matches(pods, &p), "{s:?} should match");
    }
    let no = [
        "metadata.name=web-1",
        "spec.nodeName=",
        "spec.nodeName!=node-a",
        "spec.hostNetwork=true",
        "status.phase=Running,spec.nodeName=node-b",
        "status.podIP=fd00::5",
    ];
    for s in no {
        assert!(!sel(s, pods).matches(pods, &p), "{s:?} should not match");
    }
    let host = json!({"metadata": {"name": "h"}, "spec": {"hostNetwork": true}, "status": {"podIP": "1.2.3.4"}});
    assert!(sel("spec.hostNetwork=true", pods).matches(pods, &host));
    assert!(sel("status.podIP=1.2.3.4", pods).matches(pods, &host));
    assert!(sel("spec.nodeName=", pods).matches(pods, &host));

    // spec.host is converted; the canonical form shows the real field
    let s = sel("spec.host=node-a", pods);
    assert_eq!(s.to_string(), "spec.nodeName=node-a");
    assert_eq!(s.requires_exact_match("spec.nodeName"), Some("node-a"));
    assert_eq!(
        sel("spec.nodeName!=x", pods).requires_exact_match("spec.nodeName"),
        None
    );

    assert_eq!(
        parse_err("spec.containers=x", pods),
        "field label not supported: spec.containers"
    );
}

#[test]
fn core_event_fields() {
    let events = res("", "events");
    let ev = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-0.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "u-1",
                           "apiVersion": "v1", "resourceVersion": "42", "fieldPath": "spec.containers{c}"},
        "reason": "Scheduled", "type": "Normal", "source": {"component": "default-scheduler"},
        "reportingComponent": "default-scheduler"
    });
    for s in [
        "involvedObject.kind=Pod,involvedObject.name=web-0",
        "involvedObject.namespace=default",
        "involvedObject.uid=u-1",
        "involvedObject.apiVersion=v1",
        "involvedObject.resourceVersion=42",
        "involvedObject.fieldPath=spec.containers{c}",
        "reason=Scheduled",
        "type!=Warning",
        "source=default-scheduler",
        "reportingComponent=default-scheduler",
        "metadata.namespace=default",
    ] {
        assert!(sel(s, events).matches(events, &ev), "{s:?}");
    }
    assert!(!sel("type=Warning", events).matches(events, &ev));
    // source falls back to reportingComponent
    let ev2 = json!({"metadata": {"name": "e"}, "reportingComponent": "kubelet", "source": {}});
    assert!(sel("source=kubelet", events).matches(events, &ev2));
    assert_eq!(
        parse_err("regarding.kind=Pod", events),
        "field label not supported: regarding.kind"
    );
}

#[test]
fn events_k8s_io_fields() {
    let events = res("events.k8s.io", "events");
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "e", "namespace": "kube-system"},
        "regarding": {"kind": "Node", "name": "node-a"},
        "reason": "Starting", "type": "Normal", "reportingController": "kubelet", "reportingInstance": "node-a"
    });
    let s = sel(
        "regarding.kind=Node,regarding.name=node-a,reportingController=kubelet",
        events,
    );
    assert!(s.matches(events, &ev));
    assert_eq!(
        s.to_string(),
        "involvedObject.kind=Node,involvedObject.name=node-a,reportingComponent=kubelet"
    );
    assert!(sel("source=kubelet,reason=Starting,type=Normal", events).matches(events, &ev));
    assert!(!sel("regarding.namespace=x", events).matches(events, &ev));
    assert_eq!(
        parse_err("involvedObject.kind=Node", events),
        "field label not supported: involvedObject.kind"
    );
}

#[test]
fn secret_and_other_kinds() {
    let secrets = res("", "secrets");
    let secret = json!({"metadata": {"name": "tls", "namespace": "ns1"}, "type": "kubernetes.io/tls", "data": {}});
    assert!(sel("type=kubernetes.io/tls", secrets).matches(secrets, &secret));
    assert!(sel("type!=Opaque,metadata.name=tls", secrets).matches(secrets, &secret));
    assert!(!sel("type=Opaque", secrets).matches(secrets, &secret));
    assert_eq!(
        parse_err("data=x", secrets),
        "field label not supported: data"
    );

    let nodes = res("", "nodes");
    let node = json!({"metadata": {"name": "n1"}, "spec": {}});
    assert!(sel("spec.unschedulable=false", nodes).matches(nodes, &node));
    assert!(
        sel("spec.unschedulable=true", nodes)
            .matches(nodes, &json!({"spec": {"unschedulable": true}}))
    );
    assert_eq!(
        parse_err("metadata.namespace=x", nodes),
        "field label not supported: metadata.namespace"
    );

    let ns = res("", "namespaces");
    assert!(sel("status.phase=Active", ns).matches(ns, &json!({"status": {"phase": "Active"}})));

    let rcs = res("", "replicationcontrollers");
    assert!(sel("status.replicas=0", rcs).matches(rcs, &json!({"status": {}})));
    assert!(sel("status.replicas=3", rcs).matches(rcs, &json!({"status": {"replicas": 3}})));

    let jobs = res("batch", "jobs");
    assert!(sel("status.successful=2", jobs).matches(jobs, &json!({"status": {"succeeded": 2}})));
    assert!(sel("status.successful=0", jobs).matches(jobs, &json!({})));
    assert_eq!(
        parse_err("status.failed=1", jobs),
        "field label \"status.failed\" not supported for Job"
    );

    let csrs = res("certificates.k8s.io", "certificatesigningrequests");
    let csr =
        json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}});
    assert!(sel("spec.signerName=kubernetes.io/kubelet-serving", csrs).matches(csrs, &csr));

    let svcs = res("", "services");
    let svc = json!({"metadata": {"name": "kubernetes", "namespace": "default"}, "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.1"}});
    assert!(sel("spec.clusterIP=10.43.0.1,spec.type=ClusterIP", svcs).matches(svcs, &svc));

    // kinds without their own conversion: metadata only, upstream's default message
    let rs = res("apps", "replicasets");
    assert_eq!(
        parse_err("status.replicas=1", rs),
        "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let cms = res("", "configmaps");
    let cm = json!({"metadata": {"name": "a", "namespace": "x"}});
    assert!(sel("metadata.name=a,metadata.namespace=x", cms).matches(cms, &cm));
    // cluster-scoped without conversion: metadata.namespace accepted, always ""
    let pvs = res("", "persistentvolumes");
    assert!(sel("metadata.namespace=", pvs).matches(pvs, &json!({"metadata": {"name": "pv"}})));
    assert!(
        !sel("metadata.namespace=x", pvs)
            .matches(pvs, &json!({"metadata": {"name": "pv", "namespace": "x"}}))
    );
}

#[test]
fn syntax_escapes_and_errors() {
    let cms = lookup("", "v1", "configmaps").expect("configmaps");
    let s = sel(r"metadata.name=a\,b\=c\\d", cms);
    assert_eq!(s.requirements()[0].value, r"a,b=c\d");
    assert_eq!(s.to_string(), r"metadata.name=a\,b\=c\\d");
    assert!(s.matches(cms, &json!({"metadata": {"name": r"a,b=c\d"}})));

    // sorted, empty terms skipped, == rendered as =
    let s = sel("metadata.namespace==x,,metadata.name!=y,", cms);
    assert_eq!(s.to_string(), "metadata.name!=y,metadata.namespace=x");
    assert_eq!(s.requirements().len(), 2);
    assert!(sel("", cms).is_empty());
    assert!(sel(",", cms).is_empty());

    assert_eq!(
        parse_err("metadata.name", cms),
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
    );
    assert_eq!(
        parse_err("metadata.name=a=b", cms),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        parse_err(r"metadata.name=a\x", cms),
        r"invalid field selector: invalid escape sequence: \x"
    );
    assert_eq!(
        parse_err(r"metadata.name=a\", cms),
        r"invalid field selector: invalid escape sequence: \"
    );
    // the first unsupported field in sorted order is reported
    assert_eq!(
        parse_err("zz=1,aa=2", cms),
        "\"aa\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    // syntax-only parsing keeps unknown fields; they compare against ""
    let any = FieldSelector::parse_syntax("foo.bar=,spec.x!=1").expect("syntax");
    assert!(any.matches(cms, &json!({"spec": {"x": 1}})));
    assert_eq!(escape_value(r"a,b=\"), r"a\,b\=\\");
    assert_eq!(
        unescape_value(&escape_value(r"x\,=y")),
        Ok(r"x\,=y".to_string())
    );
}

#[test]
fn supported_fields_per_kind() {
    assert_eq!(
        supported_fields(res("", "configmaps")),
        ["metadata.name", "metadata.namespace"]
    );
    assert!(supported_fields(res("", "pods")).contains(&"spec.host"));
    assert_eq!(supported_fields(res("", "secrets")).len(), 3);
    for r in crate::registry::all() {
        assert_eq!(
            convert_field_label(r, "metadata.name"),
            Ok("metadata.name".to_string()),
            "{}",
            r.plural
        );
        for f in supported_fields(r) {
            assert!(convert_field_label(r, f).is_ok());
        }
    }
}
