use std::path::Path;

use k3rs_cri::v1::NamespaceMode;
use k8s_openapi::api::core::v1::Pod;

use super::*;

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
        "spec": spec,
    }))
    .unwrap()
}

fn image(uid: Option<i64>, username: &str) -> ImageInfo {
    ImageInfo {
        id: "sha256:1".into(),
        uid,
        username: username.into(),
    }
}

#[test]
fn sandbox_config_carries_identity_ports_and_namespaces() {
    let p = pod(
        serde_json::json!({"hostNetwork": true, "containers": [{"name": "c", "image": "i",
        "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]}]}),
    );
    let s = sandbox_config(&p, 2, Some("web".into()), None, Path::new("/var/log/pods"));
    let m = s.metadata.as_ref().unwrap();
    assert_eq!(
        (
            m.name.as_str(),
            m.namespace.as_str(),
            m.uid.as_str(),
            m.attempt
        ),
        ("web", "ns", "u1", 2)
    );
    assert_eq!(s.log_directory, "/var/log/pods/ns_web_u1");
    assert_eq!(
        s.labels.get("io.kubernetes.pod.uid").map(String::as_str),
        Some("u1")
    );
    assert_eq!(s.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(s.port_mappings.len(), 1);
    assert_eq!(
        (
            s.port_mappings[0].container_port,
            s.port_mappings[0].host_port
        ),
        (80, 8080)
    );
    let linux = s.linux.unwrap();
    assert_eq!(linux.cgroup_parent, "/kubepods/besteffort/podu1");
    let ns = linux.security_context.unwrap().namespace_options.unwrap();
    assert_eq!(ns.network, NamespaceMode::Node as i32);
    assert_eq!(ns.pid, NamespaceMode::Container as i32);
}

#[test]
fn resources_become_cgroup_limits() {
    let p = pod(
        serde_json::json!({"containers": [{"name": "c", "image": "i", "resources": {
        "requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}}]}),
    );
    let c = &p.spec.as_ref().unwrap().containers[0];
    let r = linux_resources(&p, c, 1 << 30);
    assert_eq!(r.cpu_shares, 256);
    assert_eq!((r.cpu_quota, r.cpu_period), (50_000, 100_000));
    assert_eq!(r.memory_limit_in_bytes, 128 << 20);
    assert_eq!(r.oom_score_adj, 1000 - 1000 * (64 << 20) / (1 << 30));

    let best_effort = pod(serde_json::json!({"containers": [{"name": "c", "image": "i"}]}));
    let r = linux_resources(
        &best_effort,
        &best_effort.spec.as_ref().unwrap().containers[0],
        1 << 30,
    );
    assert_eq!(
        (
            r.cpu_shares,
            r.cpu_quota,
            r.memory_limit_in_bytes,
            r.oom_score_adj
        ),
        (2, 0, 0, 1000)
    );
}

#[test]
fn container_config_labels_annotations_and_security() {
    let p = pod(serde_json::json!({"securityContext": {"runAsUser": 1000},
        "containers": [{"name": "c", "image": "busybox", "tty": true, "securityContext": {
        "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsGroup": 5,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}));
    let c = &p.spec.as_ref().unwrap().containers[0];
    let cfg = container_config(
        &p,
        ContainerInputs {
            container: c,
            restart_count: 3,
            image_ref: "sha256:1",
            env: vec![("A".into(), "1".into())],
            command: vec!["sh".into()],
            args: vec![],
            mounts: vec![],
            node_memory: 1 << 30,
        },
    );
    assert_eq!(cfg.log_path, "c/3.log");
    assert_eq!(cfg.metadata.as_ref().unwrap().attempt, 3);
    assert_eq!(
        cfg.annotations
            .get("io.kubernetes.container.restartCount")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        cfg.annotations.get("io.kubernetes.container.hash"),
        Some(&container_hash(c))
    );
    assert_eq!(
        cfg.labels
            .get("io.kubernetes.container.name")
            .map(String::as_str),
        Some("c")
    );
    assert!(cfg.tty);
    let sc = cfg.linux.unwrap().security_context.unwrap();
    assert_eq!(sc.run_as_user.map(|u| u.value), Some(1000));
    assert_eq!(sc.run_as_group.map(|u| u.value), Some(5));
    assert!(sc.no_new_privs && sc.readonly_rootfs && !sc.privileged);
    let caps = sc.capabilities.unwrap();
    assert_eq!(
        (caps.add_capabilities, caps.drop_capabilities),
        (vec!["NET_ADMIN".to_string()], vec!["ALL".to_string()])
    );
}

#[test]
fn run_as_non_root_is_checked_against_the_image() {
    let p = pod(
        serde_json::json!({"securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "c", "image": "i"}]}),
    );
    let c = &p.spec.as_ref().unwrap().containers[0];
    assert_eq!(
        verify_run_as_non_root(&p, c, &image(Some(0), "")).unwrap_err(),
        "container has runAsNonRoot and image will run as root (pod: \"web_ns(u1)\", container: c)"
    );
    assert!(verify_run_as_non_root(&p, c, &image(Some(1000), "")).is_ok());
    assert!(
        verify_run_as_non_root(&p, c, &image(None, "nobody"))
            .unwrap_err()
            .contains("non-numeric user (nobody)")
    );
    let explicit = pod(
        serde_json::json!({"containers": [{"name": "c", "image": "i",
        "securityContext": {"runAsNonRoot": true, "runAsUser": 0}}]}),
    );
    let c = &explicit.spec.as_ref().unwrap().containers[0];
    assert!(
        verify_run_as_non_root(&explicit, c, &image(Some(1000), ""))
            .unwrap_err()
            .starts_with("container's runAsUser breaks non-root policy")
    );
}

#[test]
fn pull_policy_defaults_as_upstream() {
    assert_eq!(default_pull_policy("busybox"), "Always");
    assert_eq!(default_pull_policy("busybox:latest"), "Always");
    assert_eq!(default_pull_policy("registry:5000/busybox"), "Always");
    assert_eq!(
        default_pull_policy("registry:5000/busybox:1.36"),
        "IfNotPresent"
    );
    assert_eq!(default_pull_policy("busybox@sha256:abc"), "IfNotPresent");
}

#[test]
fn log_tail_takes_the_text_of_the_last_lines() {
    let log = "2024-01-01T00:00:00Z stdout F one\n2024-01-01T00:00:01Z stderr F two words\n2024-01-01T00:00:02Z stdout F three\n";
    assert_eq!(log_tail(log, 2), "two words\nthree");
    assert_eq!(log_tail(log, 10), "one\ntwo words\nthree");
    assert_eq!(log_tail("", 10), "");
    let partial = "t stdout P par\nt stdout F tial\n";
    assert_eq!(log_tail(partial, 1), "partial");
}
