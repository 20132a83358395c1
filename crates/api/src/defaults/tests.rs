use super::*;
use serde_json::json;

/// Default `input` as `group`/`kind` and compare the values at JSON pointers.
fn check(group: &str, kind: &str, input: Value, expected: &[(&str, Value)]) {
    let mut obj = input;
    apply_kind(group, kind, &mut obj);
    for (ptr, want) in expected {
        assert_eq!(obj.pointer(ptr), Some(want), "{kind} at {ptr} in {obj:#}");
    }
}

/// Default and compare the whole object.
fn check_all(group: &str, kind: &str, input: Value, expected: Value) {
    let mut obj = input;
    apply_kind(group, kind, &mut obj);
    assert_eq!(obj, expected, "{kind}");
}

#[test]
fn image_pull_policies() {
    for (image, want) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:1", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
        ("nginx:latest@sha256:abc", "Always"),
    ] {
        assert_eq!(image_pull_policy(image), want, "{image}");
    }
}

#[test]
fn pod_defaults() {
    let pod = json!({
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{
                "name": "c", "image": "nginx:1.27",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
            }],
            "initContainers": [{"name": "i", "image": "busybox"}],
            "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}}, {"name": "h", "hostPath": {"path": "/x"}}]
        }
    });
    check(
        "",
        "Pod",
        pod,
        &[
            ("/spec/restartPolicy", json!("Always")),
            ("/spec/dnsPolicy", json!("ClusterFirst")),
            ("/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/schedulerName", json!("default-scheduler")),
            ("/spec/securityContext", json!({})),
            ("/spec/enableServiceLinks", json!(true)),
            ("/spec/serviceAccountName", json!("default")),
            ("/spec/serviceAccount", json!("default")),
            ("/spec/priority", json!(0)),
            ("/spec/preemptionPolicy", json!("PreemptLowerPriority")),
            (
                "/spec/tolerations",
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            ),
            ("/spec/containers/0/imagePullPolicy", json!("IfNotPresent")),
            (
                "/spec/containers/0/terminationMessagePath",
                json!("/dev/termination-log"),
            ),
            ("/spec/containers/0/terminationMessagePolicy", json!("File")),
            ("/spec/containers/0/ports/0/protocol", json!("TCP")),
            (
                "/spec/containers/0/resources/requests",
                json!({"cpu": "500m", "memory": "1Gi"}),
            ),
            (
                "/spec/containers/0/livenessProbe",
                json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}),
            ),
            (
                "/spec/containers/0/env/0/valueFrom/fieldRef/apiVersion",
                json!("v1"),
            ),
            ("/spec/initContainers/0/imagePullPolicy", json!("Always")),
            ("/spec/initContainers/0/resources", json!({})),
            ("/spec/volumes/0", json!({"name": "a", "emptyDir": {}})),
            ("/spec/volumes/1/secret/defaultMode", json!(420)),
            ("/spec/volumes/2/hostPath/type", json!("")),
        ],
    );
}

#[test]
fn pod_keeps_user_values() {
    let pod = json!({"spec": {
        "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 5,
        "serviceAccountName": "builder", "enableServiceLinks": false, "priorityClassName": "system-node-critical",
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]
    }});
    check(
        "",
        "Pod",
        pod,
        &[
            ("/spec/restartPolicy", json!("Never")),
            ("/spec/dnsPolicy", json!("Default")),
            ("/spec/terminationGracePeriodSeconds", json!(5)),
            ("/spec/serviceAccountName", json!("builder")),
            ("/spec/serviceAccount", json!("builder")),
            ("/spec/enableServiceLinks", json!(false)),
            ("/spec/priority", json!(2_000_001_000)),
            ("/spec/tolerations", json!([{"operator": "Exists"}])),
            ("/spec/containers/0/imagePullPolicy", json!("Never")),
        ],
    );
    // The deprecated field alone names the service account.
    check(
        "",
        "Pod",
        json!({"spec": {"serviceAccount": "old", "containers": []}}),
        &[("/spec/serviceAccountName", json!("old"))],
    );
}

#[test]
fn host_network_ports() {
    let pod = json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 53}]}]}});
    check(
        "",
        "Pod",
        pod,
        &[("/spec/containers/0/ports/0/hostPort", json!(53))],
    );
}

#[test]
fn templates_get_pod_spec_defaults_only() {
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]}});
    let common = |prefix: &str| -> Vec<(String, Value)> {
        vec![
            (format!("{prefix}/spec/restartPolicy"), json!("Always")),
            (
                format!("{prefix}/spec/containers/0/imagePullPolicy"),
                json!("Always"),
            ),
            (
                format!("{prefix}/spec/containers/0/resources"),
                json!({"limits": {"cpu": "1"}}),
            ),
        ]
    };
    for (group, kind, obj, prefix) in [
        (
            "apps",
            "Deployment",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "apps",
            "ReplicaSet",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "apps",
            "StatefulSet",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "apps",
            "DaemonSet",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "",
            "ReplicationController",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "batch",
            "Job",
            json!({"spec": {"template": template.clone()}}),
            "/spec/template",
        ),
        (
            "batch",
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": template.clone()}}}}),
            "/spec/jobTemplate/spec/template",
        ),
        (
            "",
            "PodTemplate",
            json!({"template": template.clone()}),
            "/template",
        ),
    ] {
        let expected = common(prefix);
        let expected: Vec<(&str, Value)> = expected
            .iter()
            .map(|(p, v)| (p.as_str(), v.clone()))
            .collect();
        check(group, kind, obj.clone(), &expected);
        let mut o = obj;
        apply_kind(group, kind, &mut o);
        let spec = o.pointer(&format!("{prefix}/spec")).expect("spec");
        assert!(
            spec.get("enableServiceLinks").is_none() && spec.get("tolerations").is_none(),
            "{kind}: {spec}"
        );
    }
}

#[test]
fn deployment_defaults() {
    check(
        "apps",
        "Deployment",
        json!({"spec": {}}),
        &[
            ("/spec/replicas", json!(1)),
            (
                "/spec/strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/progressDeadlineSeconds", json!(600)),
        ],
    );
    check(
        "apps",
        "Deployment",
        json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}}),
        &[
            ("/spec/replicas", json!(0)),
            ("/spec/strategy", json!({"type": "Recreate"})),
        ],
    );
    check(
        "apps",
        "Deployment",
        json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2}}}}),
        &[(
            "/spec/strategy/rollingUpdate",
            json!({"maxSurge": 2, "maxUnavailable": "25%"}),
        )],
    );
}

#[test]
fn statefulset_and_daemonset_defaults() {
    check(
        "apps",
        "StatefulSet",
        json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
        &[
            ("/spec/replicas", json!(1)),
            ("/spec/podManagementPolicy", json!("OrderedReady")),
            (
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
            (
                "/spec/persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            ),
            (
                "/spec/volumeClaimTemplates/0/spec/volumeMode",
                json!("Filesystem"),
            ),
            (
                "/spec/volumeClaimTemplates/0/status/phase",
                json!("Pending"),
            ),
        ],
    );
    check(
        "apps",
        "StatefulSet",
        json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        &[("/spec/updateStrategy", json!({"type": "OnDelete"}))],
    );
    check(
        "apps",
        "DaemonSet",
        json!({"spec": {}}),
        &[
            (
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
        ],
    );
}

#[test]
fn replication_controller_defaults() {
    check(
        "",
        "ReplicationController",
        json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}}}),
        &[
            ("/spec/replicas", json!(1)),
            ("/spec/selector", json!({"app": "a"})),
            ("/metadata/labels", json!({"app": "a"})),
        ],
    );
}

#[test]
fn job_defaults() {
    let job = json!({
        "metadata": {"name": "pi", "uid": "u-1"},
        "spec": {"template": {"metadata": {"labels": {"team": "x"}}, "spec": {"restartPolicy": "Never", "containers": []}}}
    });
    check(
        "batch",
        "Job",
        job,
        &[
            ("/spec/completions", json!(1)),
            ("/spec/parallelism", json!(1)),
            ("/spec/backoffLimit", json!(6)),
            ("/spec/completionMode", json!("NonIndexed")),
            ("/spec/suspend", json!(false)),
            ("/spec/manualSelector", json!(false)),
            ("/spec/podReplacementPolicy", json!("TerminatingOrFailed")),
            ("/spec/template/spec/restartPolicy", json!("Never")),
            ("/metadata/labels", json!({"team": "x"})),
            (
                "/spec/selector",
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}),
            ),
            (
                "/spec/template/metadata/labels",
                json!({"team": "x", "batch.kubernetes.io/job-name": "pi", "job-name": "pi", "batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1"}),
            ),
        ],
    );
    // Parallel job: only parallelism given, completions stays unset.
    let mut j = json!({"spec": {"parallelism": 3, "template": {"spec": {"containers": []}}}});
    apply_kind("batch", "Job", &mut j);
    assert!(j.pointer("/spec/completions").is_none());
    assert!(
        j.pointer("/spec/selector").is_none(),
        "no uid, no generated selector"
    );
    check(
        "batch",
        "CronJob",
        json!({"spec": {"schedule": "* * * * *"}}),
        &[
            ("/spec/concurrencyPolicy", json!("Allow")),
            ("/spec/suspend", json!(false)),
            ("/spec/successfulJobsHistoryLimit", json!(3)),
            ("/spec/failedJobsHistoryLimit", json!(1)),
        ],
    );
}

#[test]
fn service_defaults() {
    check_all(
        "",
        "Service",
        json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
        json!({"spec": {
            "selector": {"app": "a"},
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
            "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
            "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]
        }}),
    );
    check(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
        &[
            ("/spec/externalTrafficPolicy", json!("Cluster")),
            ("/spec/allocateLoadBalancerNodePorts", json!(true)),
            ("/spec/internalTrafficPolicy", json!("Cluster")),
        ],
    );
    check_all(
        "",
        "Service",
        json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        json!({"spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}}),
    );
    check(
        "",
        "Service",
        json!({"spec": {"clusterIP": "None"}}),
        &[
            ("/spec/clusterIPs", json!(["None"])),
            ("/spec/ipFamilyPolicy", json!("RequireDualStack")),
        ],
    );
    check(
        "",
        "Service",
        json!({"spec": {"sessionAffinity": "ClientIP"}}),
        &[(
            "/spec/sessionAffinityConfig",
            json!({"clientIP": {"timeoutSeconds": 10800}}),
        )],
    );
}

#[test]
fn cluster_objects() {
    check_all(
        "",
        "Namespace",
        json!({"metadata": {"name": "dev"}}),
        json!({"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
    );
    check(
        "",
        "PersistentVolumeClaim",
        json!({"spec": {}}),
        &[("/spec/volumeMode", json!("Filesystem"))],
    );
    check(
        "",
        "PersistentVolume",
        json!({"spec": {}}),
        &[
            ("/spec/persistentVolumeReclaimPolicy", json!("Retain")),
            ("/spec/volumeMode", json!("Filesystem")),
        ],
    );
    check_all(
        "",
        "Secret",
        json!({"stringData": {"user": "admin"}, "data": {"x": "eA=="}}),
        json!({"type": "Opaque", "data": {"x": "eA==", "user": "YWRtaW4="}}),
    );
    check(
        "",
        "Endpoints",
        json!({"subsets": [{"ports": [{"port": 80}]}]}),
        &[("/subsets/0/ports/0/protocol", json!("TCP"))],
    );
    check(
        "storage.k8s.io",
        "StorageClass",
        json!({}),
        &[
            ("/reclaimPolicy", json!("Delete")),
            ("/volumeBindingMode", json!("Immediate")),
        ],
    );
    check(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"value": 5}),
        &[("/preemptionPolicy", json!("PreemptLowerPriority"))],
    );
    check(
        "networking.k8s.io",
        "NetworkPolicy",
        json!({"spec": {"egress": [{}]}}),
        &[("/spec/policyTypes", json!(["Ingress", "Egress"]))],
    );
    check(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        json!({"subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
        &[(
            "/subjects",
            json!([{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "s"}]),
        )],
    );
    check(
        "",
        "Node",
        json!({"status": {"capacity": {"cpu": "2"}}}),
        &[("/status/allocatable", json!({"cpu": "2"}))],
    );
}

#[test]
fn base64() {
    for (input, want) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
    ] {
        assert_eq!(base64_encode(input.as_bytes()), want);
    }
}
