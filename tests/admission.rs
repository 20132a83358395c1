//! End-to-end tests of the LimitRanger and ResourceQuota admission plugins and the resource
//! quota controller against `k3rs server --simulate-nodes 3`, driven by stock kubectl 1.33
//! (and kube-rs for concurrent creates).

mod common;

use common::{Server, raw, wait_for};
use serde_json::{Value, json};

const V: &str = "1.33";

fn start() -> Server {
    Server::start(&["--simulate-nodes", "3", "--simulate-pod-completion=1s"])
}

fn pod_yaml(ns: &str, name: &str, resources: Value, extra_spec: Value) -> String {
    let mut spec = json!({
        "containers": [{"name": "c", "image": "nginx", "resources": resources}],
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
        .to_string()
}

fn create(server: &Server, yaml: &str) -> std::process::Output {
    server.kubectl_stdin(V, &["create", "-f", "-"], Some(yaml))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// [sig-scheduling] LimitRange should create a LimitRange with defaults and ensure pod has those defaults applied. [Conformance]
#[test]
fn limit_ranges_default_and_bound_pods_and_claims() {
    let server = start();
    server.ok(V, &["create", "namespace", "lr"]);
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": "lr"},
            "spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "500m", "memory": "128Mi"},
                 "defaultRequest": {"cpu": "100m", "memory": "64Mi"}},
                {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}},
            ]}})
        .to_string(),
    );
    // The object itself is defaulted as upstream: defaultRequest from default, default from max.
    let lr = server
        .get_json(V, &["limitrange", "limits", "-n", "lr"])
        .expect("limitrange");
    assert_eq!(
        lr.pointer("/spec/limits/0/default/cpu"),
        Some(&json!("500m"))
    );

    // A pod without resources gets the defaults, recorded in the annotation.
    server.ok(V, &["run", "plain", "-n", "lr", "--image=nginx"]);
    let pod = server
        .get_json(V, &["pod", "plain", "-n", "lr"])
        .expect("pod");
    let res = &pod["spec"]["containers"][0]["resources"];
    assert_eq!(
        res["requests"],
        json!({"cpu": "100m", "memory": "64Mi"}),
        "{res}"
    );
    assert_eq!(
        res["limits"],
        json!({"cpu": "500m", "memory": "128Mi"}),
        "{res}"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container plain; cpu, memory limit for container plain"
    );
    assert_eq!(pod["status"]["qosClass"], "Burstable");

    // Over the maximum: 403 with upstream's message.
    let out = create(
        &server,
        &pod_yaml("lr", "big", json!({"limits": {"cpu": "3"}}), json!({})),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            r#"pods "big" is forbidden: maximum cpu usage per Container is 2, but limit is 3"#
        ),
        "{err}"
    );
    assert!(err.contains("(Forbidden)"), "{err}");

    // Claims are bounded by the PersistentVolumeClaim item.
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "lr"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}});
    let err = stderr(&create(&server, &claim.to_string()));
    assert!(
        err.contains(r#"persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"#),
        "{err}"
    );

    // LimitRange objects are validated as upstream.
    let bad = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bad", "namespace": "lr"},
        "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
    let err = stderr(&create(&server, &bad.to_string()));
    assert!(
        err.contains(r#"LimitRange "bad" is invalid: "#)
            && err.contains(
                r#"spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1"#
            ),
        "{err}"
    );
}

fn quota_status(server: &Server, ns: &str, name: &str) -> Option<Value> {
    server
        .get_json(V, &["resourcequota", name, "-n", ns])
        .map(|q| q["status"].clone())
}

/// Wait until the quota's `status.used[resource]` is `want`.
fn wait_used(server: &Server, ns: &str, name: &str, resource: &str, want: &str) {
    wait_for(30, &format!("quota {name} used {resource}={want}"), || {
        let s = quota_status(server, ns, name)?;
        (s["used"][resource] == want).then_some(())
    });
}

/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated. [Conformance]
/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a pod. [Conformance]
/// [sig-api-machinery] ResourceQuota should be able to update and delete ResourceQuota. [Conformance]
#[test]
fn resource_quotas_count_refuse_and_report() {
    let server = start();
    server.ok(V, &["create", "namespace", "q"]);
    server.ok(
        V,
        &[
            "create",
            "quota",
            "q",
            "-n",
            "q",
            "--hard=pods=2,count/configmaps=20",
        ],
    );
    // The controller fills in status.hard and status.used.
    wait_used(&server, "q", "q", "pods", "0");
    let status = quota_status(&server, "q", "q").expect("status");
    assert_eq!(status["hard"]["pods"], "2");

    server.ok(V, &["run", "p1", "-n", "q", "--image=nginx"]);
    server.ok(V, &["run", "p2", "-n", "q", "--image=nginx"]);
    let err = server.fails(V, &["run", "p3", "-n", "q", "--image=nginx"]);
    assert!(
        err.contains(r#"pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"#),
        "{err}"
    );
    let status = quota_status(&server, "q", "q").expect("status");
    assert_eq!(status["used"]["pods"], "2");
    assert_eq!(status["hard"]["pods"], "2");
    // kube-root-ca.crt is counted among the ConfigMaps.
    wait_used(&server, "q", "q", "count/configmaps", "1");

    let describe = server.ok(V, &["describe", "quota", "q", "-n", "q"]);
    assert!(describe.contains("Resource"), "{describe}");
    let row = describe
        .lines()
        .find(|l| l.split_whitespace().next() == Some("pods"))
        .unwrap_or_else(|| panic!("no pods row in {describe}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["pods", "2", "2"]
    );

    // Deleting a pod gives its share back (the controller recalculates).
    server.ok(V, &["delete", "pod", "p1", "-n", "q", "--wait=true"]);
    wait_used(&server, "q", "q", "pods", "1");
    server.ok(V, &["run", "p3", "-n", "q", "--image=nginx"]);
    wait_used(&server, "q", "q", "pods", "2");

    // Terminal pods do not count.
    server.ok(V, &["delete", "pod", "p3", "-n", "q", "--wait=true"]);
    wait_used(&server, "q", "q", "pods", "1");
    server.ok(
        V,
        &[
            "run",
            "once",
            "-n",
            "q",
            "--image=busybox",
            "--restart=Never",
        ],
    );
    wait_for(30, "pod once Succeeded", || {
        let p = server.get_json(V, &["pod", "once", "-n", "q"])?;
        (p["status"]["phase"] == "Succeeded").then_some(())
    });
    wait_used(&server, "q", "q", "pods", "1");

    // Raising spec.hard is reflected in status.hard and admits more.
    server.ok(
        V,
        &[
            "patch",
            "quota",
            "q",
            "-n",
            "q",
            "--type=merge",
            "-p",
            r#"{"spec":{"hard":{"pods":"3"}}}"#,
        ],
    );
    wait_for(30, "status.hard pods=3", || {
        let s = quota_status(&server, "q", "q")?;
        (s["hard"]["pods"] == "3").then_some(())
    });
    server.ok(V, &["run", "p4", "-n", "q", "--image=nginx"]);
    server.ok(V, &["run", "p5", "-n", "q", "--image=nginx"]);
    let err = server.fails(V, &["run", "p6", "-n", "q", "--image=nginx"]);
    assert!(err.contains("limited: pods=3"), "{err}");
    // Without the quota nothing is limited.
    server.ok(V, &["delete", "quota", "q", "-n", "q"]);
    assert!(server.get_json(V, &["quota", "q", "-n", "q"]).is_none());
    server.ok(V, &["run", "p6", "-n", "q", "--image=nginx"]);
}

/// [sig-api-machinery] ResourceQuota should verify ResourceQuota with best effort scope. [Conformance]
/// [sig-api-machinery] ResourceQuota should verify ResourceQuota with terminating scopes. [Conformance]
#[test]
fn quota_on_compute_resources_and_scopes() {
    let server = start();
    server.ok(V, &["create", "namespace", "c"]);
    server.ok(
        V,
        &[
            "create",
            "quota",
            "cpu",
            "-n",
            "c",
            "--hard=limits.cpu=2,requests.memory=1Gi",
        ],
    );
    wait_used(&server, "c", "cpu", "limits.cpu", "0");
    let err = stderr(&create(
        &server,
        &pod_yaml(
            "c",
            "nolimit",
            json!({"requests": {"memory": "64Mi"}}),
            json!({}),
        ),
    ));
    assert!(
        err.contains(
            r#"pods "nolimit" is forbidden: failed quota: cpu: must specify limits.cpu for: c"#
        ),
        "{err}"
    );
    let sized = |name: &str, cpu: &str| {
        pod_yaml(
            "c",
            name,
            json!({"limits": {"cpu": cpu, "memory": "256Mi"}}),
            json!({}),
        )
    };
    assert!(create(&server, &sized("a", "1500m")).status.success());
    wait_used(&server, "c", "cpu", "limits.cpu", "1500m");
    let err = stderr(&create(&server, &sized("b", "1")));
    assert!(
        err.contains("exceeded quota: cpu, requested: limits.cpu=1, used: limits.cpu=1500m, limited: limits.cpu=2"),
        "{err}"
    );

    // A BestEffort quota counts only pods without requests and limits.
    server.ok(V, &["create", "namespace", "s"]);
    server.ok(
        V,
        &[
            "create",
            "quota",
            "be",
            "-n",
            "s",
            "--hard=pods=1",
            "--scopes=BestEffort",
        ],
    );
    wait_used(&server, "s", "be", "pods", "0");
    assert!(
        create(&server, &pod_yaml("s", "be1", json!({}), json!({})))
            .status
            .success()
    );
    let err = stderr(&create(
        &server,
        &pod_yaml("s", "be2", json!({}), json!({})),
    ));
    assert!(err.contains("exceeded quota: be"), "{err}");
    let burstable = pod_yaml("s", "bu", json!({"requests": {"cpu": "100m"}}), json!({}));
    assert!(create(&server, &burstable).status.success());

    // A Terminating quota counts only pods with activeDeadlineSeconds.
    server.ok(
        V,
        &[
            "create",
            "quota",
            "term",
            "-n",
            "s",
            "--hard=pods=0",
            "--scopes=Terminating",
        ],
    );
    wait_used(&server, "s", "term", "pods", "0");
    let deadline = pod_yaml(
        "s",
        "dl",
        json!({"requests": {"cpu": "100m"}}),
        json!({"activeDeadlineSeconds": 60}),
    );
    let err = stderr(&create(&server, &deadline));
    assert!(err.contains("exceeded quota: term"), "{err}");
    // A NotTerminating quota counts only pods without it.
    server.ok(
        V,
        &[
            "create",
            "quota",
            "nterm",
            "-n",
            "s",
            "--hard=pods=2",
            "--scopes=NotTerminating",
        ],
    );
    wait_used(&server, "s", "nterm", "pods", "2");
    let err = stderr(&create(
        &server,
        &pod_yaml("s", "more", json!({"requests": {"cpu": "100m"}}), json!({})),
    ));
    assert!(
        err.contains("exceeded quota: nterm, requested: pods=1, used: pods=2, limited: pods=2"),
        "{err}"
    );
    server.ok(V, &["delete", "quota", "term", "-n", "s"]);
    assert!(create(&server, &deadline).status.success());
    let status = quota_status(&server, "s", "nterm").expect("status");
    assert_eq!(status["used"]["pods"], "2");
}

/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a configMap. [Conformance]
#[test]
fn concurrent_creates_do_not_both_pass_a_quota() {
    let server = start();
    server.ok(V, &["create", "namespace", "race"]);
    server.ok(
        V,
        &[
            "create",
            "quota",
            "one",
            "-n",
            "race",
            "--hard=configmaps=3,count/configmaps=3",
        ],
    );
    // kube-root-ca.crt takes one of the three.
    wait_used(&server, "race", "one", "count/configmaps", "1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let codes: Vec<u16> = rt.block_on(async {
        let client = server.client().await;
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm{i}")}});
                    raw(
                        &client,
                        "POST",
                        "/api/v1/namespaces/race/configmaps",
                        "application/json",
                        body.to_string().into_bytes(),
                    )
                    .await
                    .0
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 2, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 403).count(), 10, "{codes:?}");
    let list = server
        .get_json(V, &["configmaps", "-n", "race"])
        .expect("list");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    wait_used(&server, "race", "one", "configmaps", "3");
    wait_used(&server, "race", "one", "count/configmaps", "3");
    // Deleting one gives its share back.
    let created = items
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .find(|n| n.starts_with("cm"))
        .expect("a created ConfigMap")
        .to_string();
    server.ok(V, &["delete", "configmap", &created, "-n", "race"]);
    wait_used(&server, "race", "one", "configmaps", "2");
    // A duplicate is refused as one and not charged.
    let err = server.fails(
        V,
        &["create", "configmap", "kube-root-ca.crt", "-n", "race"],
    );
    assert!(
        err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let status = quota_status(&server, "race", "one").expect("status");
    assert_eq!(status["used"]["configmaps"], "2");
    server.ok(V, &["create", "configmap", "again", "-n", "race"]);
    wait_used(&server, "race", "one", "configmaps", "3");
}

/// [sig-apps] ReplicationController should surface a failure condition on a common issue like exceeded quota [Conformance]
#[test]
fn replication_controller_reports_exceeded_quota() {
    let server = start();
    server.ok(V, &["create", "quota", "condition-test", "--hard=pods=2"]);
    wait_used(&server, "default", "condition-test", "pods", "0");
    let rc = |replicas: u32| {
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "condition-test"},
            "spec": {"replicas": replicas, "selector": {"name": "condition-test"},
                "template": {"metadata": {"labels": {"name": "condition-test"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        .to_string()
    };
    server.ok_stdin(V, &["apply", "-f", "-"], &rc(3));
    let cond = wait_for(30, "the ReplicaFailure condition", || {
        let rc = server.get_json(V, &["rc", "condition-test"])?;
        rc["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "ReplicaFailure" && c["status"] == "True")
            .cloned()
    });
    assert_eq!(cond["reason"], "FailedCreate", "{cond}");
    let message = cond["message"].as_str().unwrap_or("");
    assert!(
        message.contains("exceeded quota: condition-test"),
        "{message}"
    );
    server.ok(V, &["scale", "rc", "condition-test", "--replicas=2"]);
    wait_for(30, "the ReplicaFailure condition to clear", || {
        let rc = server.get_json(V, &["rc", "condition-test"])?;
        let failing = rc["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "ReplicaFailure"));
        (!failing && rc["status"]["replicas"] == 2).then_some(())
    });
}

/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a service. [Conformance]
/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a secret. [Conformance]
/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a replication controller. [Conformance]
/// [sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a replica set. [Conformance]
#[test]
fn quota_captures_the_life_of_counted_objects() {
    let server = start();
    let ns = "life";
    server.ok(V, &["create", "namespace", ns]);
    server.ok(
        V,
        &[
            "create",
            "quota",
            "test-quota",
            "-n",
            ns,
            "--hard=services=3,services.nodeports=2,services.loadbalancers=1,secrets=10,replicationcontrollers=2,count/replicasets.apps=2",
        ],
    );
    wait_used(&server, ns, "test-quota", "secrets", "0");
    wait_used(&server, ns, "test-quota", "services", "0");

    server.ok(
        V,
        &[
            "create",
            "service",
            "clusterip",
            "a",
            "-n",
            ns,
            "--tcp=80:80",
        ],
    );
    server.ok(
        V,
        &[
            "create",
            "service",
            "nodeport",
            "b",
            "-n",
            ns,
            "--tcp=80:80",
        ],
    );
    wait_used(&server, ns, "test-quota", "services", "2");
    wait_used(&server, ns, "test-quota", "services.nodeports", "1");
    server.ok(
        V,
        &[
            "create",
            "service",
            "loadbalancer",
            "c",
            "-n",
            ns,
            "--tcp=80:80",
        ],
    );
    wait_used(&server, ns, "test-quota", "services.loadbalancers", "1");
    wait_used(&server, ns, "test-quota", "services.nodeports", "2");
    let err = server.fails(
        V,
        &[
            "create",
            "service",
            "nodeport",
            "d",
            "-n",
            ns,
            "--tcp=81:81",
        ],
    );
    assert!(
        err.contains("exceeded quota: test-quota, requested: services=1,services.nodeports=1, used: services=3,services.nodeports=2, limited: services=3,services.nodeports=2"),
        "{err}"
    );
    server.ok(V, &["delete", "service", "b", "c", "-n", ns]);
    wait_used(&server, ns, "test-quota", "services", "1");
    wait_used(&server, ns, "test-quota", "services.nodeports", "0");
    wait_used(&server, ns, "test-quota", "services.loadbalancers", "0");

    server.ok(
        V,
        &[
            "create",
            "secret",
            "generic",
            "s",
            "-n",
            ns,
            "--from-literal=a=b",
        ],
    );
    wait_used(&server, ns, "test-quota", "secrets", "1");
    server.ok(V, &["delete", "secret", "s", "-n", ns]);
    wait_used(&server, ns, "test-quota", "secrets", "0");

    let template = json!({"metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc", "namespace": ns},
        "spec": {"replicas": 0, "selector": {"app": "x"}, "template": template}});
    server.ok_stdin(V, &["create", "-f", "-"], &rc.to_string());
    wait_used(&server, ns, "test-quota", "replicationcontrollers", "1");
    server.ok(V, &["delete", "rc", "rc", "-n", ns]);
    wait_used(&server, ns, "test-quota", "replicationcontrollers", "0");

    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": ns},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "x"}}, "template": template}});
    server.ok_stdin(V, &["create", "-f", "-"], &rs.to_string());
    wait_used(&server, ns, "test-quota", "count/replicasets.apps", "1");
    server.ok(V, &["delete", "rs", "rs", "-n", ns]);
    wait_used(&server, ns, "test-quota", "count/replicasets.apps", "0");
}
