use super::*;
use crate::objects::ObjectSnapshot;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};

fn objects() -> ObjectSnapshot {
    let mut o = ObjectSnapshot::default();
    o.insert_config_map(
        serde_json::from_value::<ConfigMap>(json!({
            "metadata": {"name": "cfg", "namespace": "prod"},
            "data": {"MODE": "fast", "LEVEL": "3", "bad=key": "x", "1ST": "ok"}
        }))
        .expect("cm"),
    );
    o.insert_secret(
        serde_json::from_value::<Secret>(json!({
            "metadata": {"name": "creds", "namespace": "prod"},
            "data": {"PASSWORD": "czNjcjN0", "USER": "YWRtaW4="}
        }))
        .expect("secret"),
    );
    // Same name in another namespace: never seen by prod pods.
    o.insert_config_map(
        serde_json::from_value::<ConfigMap>(json!({
            "metadata": {"name": "other", "namespace": "dev"}, "data": {"K": "v"}
        }))
        .expect("cm"),
    );
    o
}

fn node() -> NodeFacts {
    NodeFacts {
        name: "node-1".into(),
        host_ips: vec!["10.0.0.5".into(), "fd00::5".into()],
        allocatable: BTreeMap::from([
            ("cpu".into(), Quantity("4".into())),
            ("memory".into(), Quantity("8Gi".into())),
        ]),
    }
}

fn pod(container: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web-1", "namespace": "prod", "uid": "uid-9",
            "labels": {"app": "web"}, "annotations": {"team": "blue"}
        },
        "spec": {
            "nodeName": "node-1", "serviceAccountName": "robot",
            "containers": [container]
        }
    }))
    .expect("pod")
}

fn env_of(container: Value) -> Result<ContainerEnv, EnvError> {
    let p = pod(container);
    let objects = objects();
    let node = node();
    let ips = vec!["10.42.0.7".to_string(), "fd42::7".to_string()];
    let input = EnvInput {
        pod: &p,
        pod_ips: &ips,
        node: &node,
        objects: &objects,
    };
    let c = p.spec.as_ref().expect("spec").containers[0].clone();
    container_env(&input, &c)
}

fn pairs(env: &ContainerEnv) -> Vec<(String, String)> {
    env.vars
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect()
}

fn p(n: &str, v: &str) -> (String, String) {
    (n.to_string(), v.to_string())
}

#[test]
fn plain_values_and_expansion_of_earlier_vars_only() {
    let env = env_of(json!({"name": "c", "env": [
        {"name": "A", "value": "a"},
        {"name": "B", "value": "$(A)-b-$(C)"},
        {"name": "C", "value": "c"},
        {"name": "D", "value": "$$(A)"},
        {"name": "E"},
        {"name": "A", "value": "again-$(A)"}
    ]}))
    .expect("env");
    assert_eq!(
        pairs(&env),
        vec![
            p("A", "again-a"),
            p("B", "a-b-$(C)"),
            p("C", "c"),
            p("D", "$(A)"),
            p("E", ""),
        ]
    );
}

#[test]
fn config_map_and_secret_keys() {
    let env = env_of(json!({"name": "c", "env": [
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
        {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": true}}},
        {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "ghost", "key": "k", "optional": true}}},
        {"name": "URL", "value": "$(MODE)://$(PW)@$(OPT)"}
    ]}))
    .expect("env");
    assert_eq!(
        pairs(&env),
        vec![
            p("MODE", "fast"),
            p("PW", "s3cr3t"),
            p("URL", "fast://s3cr3t@$(OPT)")
        ]
    );
}

#[test]
fn missing_objects_and_keys_give_upstream_messages() {
    let err = |c: Value| env_of(c).expect_err("must fail").to_string();
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "ghost", "key": "k"}}}]})
        ),
        "configmap \"ghost\" not found"
    );
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "other", "key": "K"}}}]})
        ),
        "configmap \"other\" not found"
    );
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]})
        ),
        "couldn't find key k in ConfigMap prod/cfg"
    );
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "ghost", "key": "k"}}}]})
        ),
        "secret \"ghost\" not found"
    );
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]})
        ),
        "couldn't find key k in Secret prod/creds"
    );
    assert_eq!(
        err(json!({"name": "c", "envFrom": [{"configMapRef": {"name": "ghost"}}]})),
        "configmap \"ghost\" not found"
    );
    assert_eq!(
        err(json!({"name": "c", "envFrom": [{"secretRef": {"name": "ghost"}}]})),
        "secret \"ghost\" not found"
    );
    assert_eq!(
        err(
            json!({"name": "c", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]})
        ),
        "unsupported fieldPath: spec.bogus"
    );
}

#[test]
fn env_from_with_prefix_skips_invalid_names_and_env_overrides() {
    let env = env_of(json!({"name": "c",
        "envFrom": [
            {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
            {"secretRef": {"name": "creds"}},
            {"configMapRef": {"name": "ghost", "optional": true}}
        ],
        "env": [{"name": "USER", "value": "override-$(CFG_MODE)"}]
    }))
    .expect("env");
    assert_eq!(
        pairs(&env),
        vec![
            p("CFG_1ST", "ok"),
            p("CFG_LEVEL", "3"),
            p("CFG_MODE", "fast"),
            p("PASSWORD", "s3cr3t"),
            p("USER", "override-fast"),
        ]
    );
    assert_eq!(
        env.warnings,
        vec![
            "Keys [CFG_bad=key] from the EnvFrom configMap prod/cfg were skipped since they are considered invalid environment variable names."
                .to_string()
        ]
    );
}

#[test]
fn field_refs() {
    let field = |path: &str| json!({"name": path, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    let paths = [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels['app']",
        "metadata.annotations['team']",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    ];
    let env =
        env_of(json!({"name": "c", "env": paths.iter().map(|p| field(p)).collect::<Vec<_>>()}))
            .expect("env");
    let values: Vec<String> = env.vars.iter().map(|v| v.value.clone()).collect();
    assert_eq!(
        values,
        vec![
            "web-1",
            "prod",
            "uid-9",
            "web",
            "blue",
            "node-1",
            "robot",
            "10.0.0.5",
            "10.0.0.5,fd00::5",
            "10.42.0.7",
            "10.42.0.7,fd42::7"
        ]
    );
}

#[test]
fn resource_field_refs_default_limits_to_allocatable() {
    let env = env_of(json!({"name": "c",
        "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m"}},
        "env": [
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}}
        ]
    }))
    .expect("env");
    assert_eq!(
        pairs(&env),
        vec![p("MEM", "256"), p("CPU", "4"), p("REQ", "100")]
    );
}

#[test]
fn command_and_args_see_the_whole_environment() {
    let c: Container = serde_json::from_value(json!({
        "name": "c",
        "command": ["/bin/$(SHELL)", "-c"],
        "args": ["echo $(GREETING) $$(GREETING) $(UNKNOWN)"]
    }))
    .expect("container");
    let env = vec![
        EnvVar {
            name: "SHELL".into(),
            value: "sh".into(),
        },
        EnvVar {
            name: "GREETING".into(),
            value: "hi".into(),
        },
    ];
    let (command, args) = expand_command_and_args(&c, &env);
    assert_eq!(command, vec!["/bin/sh", "-c"]);
    assert_eq!(args, vec!["echo hi $(GREETING) $(UNKNOWN)"]);
    let bare: Container = serde_json::from_value(json!({"name": "c"})).expect("container");
    assert_eq!(expand_command_and_args(&bare, &env), (vec![], vec![]));
}

#[test]
fn env_var_names() {
    assert!(is_env_var_name("PATH"));
    assert!(is_env_var_name("my.var-1"));
    assert!(is_env_var_name("1ST"));
    assert!(!is_env_var_name(""));
    assert!(!is_env_var_name("A=B"));
    assert!(!is_env_var_name("tab\there"));
    assert!(!is_env_var_name("é"));
}
