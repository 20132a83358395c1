use super::quantity::{Quantity, parse_quantity};
use super::*;
use crate::defaults::apply_kind;
use serde_json::json;

fn kind_info(kind: &str) -> (&'static str, bool) {
    match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => ("apps", true),
        "Job" | "CronJob" => ("batch", true),
        "Namespace" | "PersistentVolume" | "Node" => ("", false),
        "StorageClass" => ("storage.k8s.io", false),
        "PriorityClass" => ("scheduling.k8s.io", false),
        "Ingress" => ("networking.k8s.io", true),
        "ClusterRole" => ("rbac.authorization.k8s.io", false),
        _ => ("", true),
    }
}

/// Default then validate `obj` as `kind`; the rendered errors must equal `expected`.
fn check(kind: &str, obj: Value, expected: &[&str]) {
    let (group, namespaced) = kind_info(kind);
    let mut obj = obj;
    apply_kind(group, kind, &mut obj);
    let got: Vec<String> = validate_kind(group, kind, namespaced, &obj)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, expected, "{kind}: {obj}");
}

/// Default both then validate an update; the rendered errors must equal `expected`.
fn check_update(kind: &str, old: Value, new: Value, expected: &[&str]) {
    let (group, namespaced) = kind_info(kind);
    let (mut old, mut new) = (old, new);
    apply_kind(group, kind, &mut old);
    apply_kind(group, kind, &mut new);
    let got: Vec<String> = validate_kind_update(group, kind, namespaced, &new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, expected, "{kind}");
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default"})
}

fn pod(spec: Value) -> Value {
    json!({"metadata": meta("p"), "spec": spec})
}

fn deployment(spec_patch: Value) -> Value {
    let mut spec = json!({
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    });
    if let (Some(s), Some(p)) = (spec.as_object_mut(), spec_patch.as_object()) {
        for (k, v) in p {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"metadata": meta("web"), "spec": spec})
}

#[test]
fn quantities() {
    let q = |s: &str| parse_quantity(s).map(|q| q.nanos);
    for (input, nanos) in [
        ("1", 1_000_000_000i128),
        ("100m", 100_000_000),
        ("0.5", 500_000_000),
        ("1e3", 1_000_000_000_000),
        ("1Ki", 1024 * 1_000_000_000),
        ("1Gi", 1_073_741_824 * 1_000_000_000),
        ("1.5Gi", 1_610_612_736 * 1_000_000_000),
        ("-2", -2_000_000_000),
        ("1n", 1),
        ("0.1n", 1),
        ("+3k", 3_000_000_000_000),
    ] {
        assert_eq!(q(input), Ok(nanos), "{input}");
    }
    assert_eq!(parse_quantity("100m"), parse_quantity("0.1"));
    assert!(parse_quantity("1Gi").ok() > parse_quantity("1G").ok());
    for bad in ["", "abc", "1 Gi", "Gi", "1.2.3", "1/2"] {
        assert!(parse_quantity(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_quantity("1K").map_err(|e| e.to_string()),
        Err("unable to parse quantity's suffix".to_string())
    );
    assert!(Quantity { nanos: -1 }.is_negative());
}

#[test]
fn pod_valid() {
    check(
        "Pod",
        pod(
            json!({"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "name": "http"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}}}],
            "volumes": [{"name": "data", "emptyDir": {}}]}),
        ),
        &[],
    );
}

#[test]
fn pod_rules() {
    check("Pod", pod(json!({})), &["spec.containers: Required value"]);
    check(
        "Pod",
        pod(json!({"containers": [{"name": "c"}]})),
        &["spec.containers[0].image: Required value"],
    );
    check(
        "Pod",
        pod(json!({"containers": [{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]})),
        &["spec.containers[1].name: Duplicate value: \"c\""],
    );
    check(
        "Pod",
        pod(json!({"containers": [{"name": "C_1", "image": "a"}]})),
        &[
            "spec.containers[0].name: Invalid value: \"C_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ],
    );
    check(
        "Pod",
        pod(
            json!({"containers": [{"name": "c", "image": "a", "ports": [{"containerPort": 70000, "protocol": "HTTP"}]}]}),
        ),
        &[
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ],
    );
    check(
        "Pod",
        pod(
            json!({"restartPolicy": "Sometimes", "dnsPolicy": "Bogus", "containers": [{"name": "c", "image": "a"}]}),
        ),
        &[
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"",
        ],
    );
    check(
        "Pod",
        pod(
            json!({"containers": [{"name": "c", "image": "a", "volumeMounts": [{"name": "missing", "mountPath": "/m"}]}],
            "volumes": [{"name": "v", "emptyDir": {}, "configMap": {"name": "x"}}, {"name": "v", "emptyDir": {}}]}),
        ),
        &[
            "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1].name: Duplicate value: \"v\"",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
        ],
    );
    check(
        "Pod",
        pod(
            json!({"containers": [{"name": "c", "image": "a", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1", "memory": "lots"}}}]}),
        ),
        &[
            "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            // Requests were defaulted from limits.
            "spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        ],
    );
}

#[test]
fn pod_name_lengths() {
    // Pod names are subdomains: 64 characters are fine, 254 are not.
    check(
        "Pod",
        json!({"metadata": meta(&"a".repeat(64)), "spec": {"containers": [{"name": "c", "image": "a"}]}}),
        &[],
    );
    check(
        "Pod",
        json!({"metadata": meta(&"a".repeat(254)), "spec": {"containers": [{"name": "c", "image": "a"}]}}),
        &[&format!(
            "metadata.name: Invalid value: \"{}\": must be no more than 253 characters",
            "a".repeat(254)
        )],
    );
    // Service and Namespace names are labels.
    let long = "a".repeat(64);
    check(
        "Namespace",
        json!({"metadata": {"name": long}}),
        // As upstream, the defaulted kubernetes.io/metadata.name label fails too.
        &[
            &format!(
                "metadata.name: Invalid value: \"{long}\": must be no more than 63 characters"
            ),
            &format!(
                "metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"
            ),
        ],
    );
    check(
        "Service",
        json!({"metadata": meta(&long), "spec": {"ports": [{"port": 80}]}}),
        &[&format!(
            "metadata.name: Invalid value: \"{long}\": must be no more than 63 characters"
        )],
    );
    check(
        "ClusterRole",
        json!({"metadata": {"name": "system:aggregate-to-view"}}),
        &[],
    );
}

#[test]
fn pod_update() {
    let base = pod(json!({"containers": [{"name": "c", "image": "nginx:1"}]}));
    let mut new_image = base.clone();
    new_image["spec"]["containers"][0]["image"] = json!("nginx:2");
    new_image["metadata"]["labels"] = json!({"x": "y"});
    check_update("Pod", base.clone(), new_image, &[]);
    let mut bound = base.clone();
    bound["spec"]["nodeName"] = json!("node-1");
    check_update("Pod", base.clone(), bound, &[]);
    let mut bad = base.clone();
    bad["spec"]["restartPolicy"] = json!("Never");
    check_update(
        "Pod",
        base.clone(),
        bad,
        &[&format!(
            "spec: Forbidden: {}",
            pod::tests_support::POD_UPDATE_FORBIDDEN
        )],
    );
    let mut renamed = base.clone();
    renamed["metadata"]["name"] = json!("q");
    check_update(
        "Pod",
        base,
        renamed,
        &["metadata.name: Invalid value: \"q\": field is immutable"],
    );
}

#[test]
fn workloads() {
    check("Deployment", deployment(json!({})), &[]);
    check(
        "Deployment",
        deployment(json!({"selector": null})),
        &["spec.selector: Required value"],
    );
    check(
        "Deployment",
        deployment(json!({"selector": {"matchLabels": {"app": "api"}}})),
        &[
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
        ],
    );
    check(
        "ReplicaSet",
        deployment(json!({"selector": {}})),
        &["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
    );
    check(
        "Deployment",
        deployment(
            json!({"replicas": -1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}),
        ),
        &[
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ],
    );
    let mut never = deployment(json!({}));
    never["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    check(
        "Deployment",
        never,
        &[
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ],
    );
    let mut no_image = deployment(json!({}));
    no_image["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .map(|c| c.remove("image"));
    check(
        "StatefulSet",
        no_image,
        &["spec.template.spec.containers[0].image: Required value"],
    );
    check(
        "DaemonSet",
        deployment(
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}}),
        ),
        &[],
    );
    check(
        "ReplicationController",
        json!({"metadata": meta("rc"), "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
        &[],
    );
}

#[test]
fn workload_updates() {
    check_update(
        "Deployment",
        deployment(json!({})),
        deployment(json!({"selector": {"matchLabels": {"app": "web", "tier": "x"}}})),
        &[
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"x\"}}: field is immutable",
        ],
    );
    check_update(
        "Deployment",
        deployment(json!({})),
        deployment(json!({"replicas": 5})),
        &[],
    );
    check_update(
        "StatefulSet",
        deployment(json!({})),
        deployment(json!({"replicas": 3, "minReadySeconds": 4})),
        &[],
    );
    check_update(
        "StatefulSet",
        deployment(json!({})),
        deployment(json!({"serviceName": "other"})),
        &[
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ],
    );
}

fn job(restart: Value) -> Value {
    json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
        "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl"}]}}}})
}

#[test]
fn jobs() {
    check("Job", job(json!("Never")), &[]);
    check(
        "Job",
        job(Value::Null),
        &[
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ],
    );
    check(
        "Job",
        job(json!("Sometimes")),
        &[
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
        ],
    );
    let mut neg = job(json!("Never"));
    neg["spec"]["parallelism"] = json!(-1);
    check(
        "Job",
        neg,
        &["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"],
    );
    let mut changed = job(json!("Never"));
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
    let errs = {
        let (mut o, mut n) = (job(json!("Never")), changed);
        apply_kind("batch", "Job", &mut o);
        apply_kind("batch", "Job", &mut n);
        validate_kind_update("batch", "Job", true, &n, &o)
    };
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.template");
    assert_eq!(errs[0].detail, "field is immutable");

    let cron = |schedule: &str| json!({"metadata": meta("c"), "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}}}});
    check("CronJob", cron("*/5 * * * *"), &[]);
    check("CronJob", cron("@hourly"), &[]);
    check(
        "CronJob",
        cron("often"),
        &["spec.schedule: Invalid value: \"often\": expected exactly 5 fields, found 1: [often]"],
    );
    check("CronJob", cron(""), &["spec.schedule: Required value"]);
    let mut long = cron("@daily");
    long["metadata"]["name"] = json!("a".repeat(53));
    check(
        "CronJob",
        long,
        &[&format!(
            "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
            "a".repeat(53)
        )],
    );
}

fn svc(spec: Value) -> Value {
    json!({"metadata": meta("web"), "spec": spec})
}

#[test]
fn services() {
    check(
        "Service",
        svc(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})),
        &[],
    );
    check("Service", svc(json!({"clusterIP": "None"})), &[]);
    check(
        "Service",
        svc(json!({"type": "ExternalName", "externalName": "db.example.com"})),
        &[],
    );
    check("Service", svc(json!({})), &["spec.ports: Required value"]);
    check(
        "Service",
        svc(json!({"type": "Magic", "ports": [{"port": 0}, {"port": 80}]})),
        &[
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            "spec.ports[0].name: Required value",
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[1].name: Required value",
        ],
    );
    check(
        "Service",
        svc(
            json!({"ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "a", "port": 80}]}),
        ),
        &[
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            "spec.ports[1].name: Duplicate value: \"a\"",
            "spec.ports[1]: Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}",
        ],
    );
    check(
        "Service",
        svc(json!({"clusterIP": "10.43.0.300", "ports": [{"port": 80}]})),
        &[
            "spec.clusterIPs[0]: Invalid value: \"10.43.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ],
    );
    // clusterIP may not change, but an update without one keeps it (the server fills it).
    let old = svc(json!({"clusterIP": "10.43.0.10", "ports": [{"port": 80}]}));
    check_update(
        "Service",
        old.clone(),
        svc(json!({"ports": [{"port": 81}]})),
        &[],
    );
    check_update(
        "Service",
        old,
        svc(json!({"clusterIP": "None", "ports": [{"port": 80}]})),
        &["spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set"],
    );
}

#[test]
fn config_and_secrets() {
    check(
        "ConfigMap",
        json!({"metadata": meta("c"), "data": {"app.properties": "x", "bad/key": "y"}}),
        &[
            "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        ],
    );
    check(
        "ConfigMap",
        json!({"metadata": meta("c"), "data": {"big": "x".repeat(1024 * 1024 + 1)}}),
        &[": Too long: may not be more than 1048576 bytes"],
    );
    check(
        "Secret",
        json!({"metadata": meta("s"), "data": {"password": "cGFzcw=="}, "stringData": {"user": "me"}}),
        &[],
    );
    check(
        "Secret",
        json!({"metadata": meta("s"), "data": {"password": "not base64!"}}),
        &["data[password]: Invalid value: \"<value omitted>\": must be base64-encoded"],
    );
    check(
        "Secret",
        json!({"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {}}),
        &[
            "data[tls.key]: Required value",
            "data[tls.crt]: Required value",
        ],
    );
    let old = json!({"metadata": meta("c"), "immutable": true, "data": {"a": "1"}});
    check_update(
        "ConfigMap",
        old.clone(),
        json!({"metadata": meta("c"), "immutable": true, "data": {"a": "2"}}),
        &["data: Forbidden: field is immutable when `immutable` is set"],
    );
    check_update("ConfigMap", old.clone(), old, &[]);
    check_update(
        "Secret",
        json!({"metadata": meta("s")}),
        json!({"metadata": meta("s"), "type": "kubernetes.io/basic-auth", "data": {"username": "dQ=="}}),
        &["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"],
    );
}

#[test]
fn volumes_and_cluster_objects() {
    let claim = |size: &str| json!({"metadata": meta("data"), "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
    check("PersistentVolumeClaim", claim("1Gi"), &[]);
    check(
        "PersistentVolumeClaim",
        json!({"metadata": meta("d"), "spec": {}}),
        &[
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
        ],
    );
    check_update("PersistentVolumeClaim", claim("1Gi"), claim("2Gi"), &[]);
    check_update(
        "PersistentVolumeClaim",
        claim("2Gi"),
        claim("1Gi"),
        &["spec.resources.requests.storage: Forbidden: field can not be less than previous value"],
    );
    check("Namespace", json!({"metadata": {"name": "dev"}}), &[]);
    check(
        "Namespace",
        json!({"metadata": {"name": "dev", "namespace": "x"}}),
        &["metadata.namespace: Forbidden: not allowed on this type"],
    );
    check(
        "StorageClass",
        json!({"metadata": {"name": "local"}, "provisioner": "rancher.io/local-path"}),
        &[],
    );
    check(
        "StorageClass",
        json!({"metadata": {"name": "local"}}),
        &["provisioner: Required value"],
    );
    check(
        "PriorityClass",
        json!({"metadata": {"name": "system-custom"}, "value": 5}),
        &["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved."],
    );
    let ing = |path: Value| json!({"metadata": meta("i"), "spec": {"rules": [{"host": "example.com", "http": {"paths": [path]}}]}});
    check(
        "Ingress",
        ing(
            json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}),
        ),
        &[],
    );
    check(
        "Ingress",
        ing(json!({"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}})),
        &["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
    );
}

#[test]
fn selectors() {
    let labels = json!({"app": "web", "tier": "fe"});
    let l = labels.as_object();
    for (sel, want) in [
        (json!({"matchLabels": {"app": "web"}}), true),
        (json!({"matchLabels": {"app": "api"}}), false),
        (
            json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}),
            true,
        ),
        (
            json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}),
            false,
        ),
        (
            json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
            true,
        ),
        (
            json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}),
            false,
        ),
    ] {
        assert_eq!(selector_matches(&sel, l), want, "{sel}");
    }
}
