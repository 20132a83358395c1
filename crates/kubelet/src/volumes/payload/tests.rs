use super::*;
use crate::objects::ObjectSnapshot;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};

fn objects() -> ObjectSnapshot {
    let mut o = ObjectSnapshot::default();
    o.insert_config_map(
        serde_json::from_value::<ConfigMap>(json!({
            "metadata": {"name": "cfg", "namespace": "ns"},
            "data": {"a.conf": "A", "b.conf": "B"},
            "binaryData": {"blob": "AAEC"}
        }))
        .expect("cm"),
    );
    o.insert_secret(
        serde_json::from_value::<Secret>(json!({
            "metadata": {"name": "tls", "namespace": "ns"},
            "data": {"tls.key": "a2V5", "tls.crt": "Y2VydA=="}
        }))
        .expect("secret"),
    );
    o
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "x", "v": "2"}},
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]}
    }))
    .expect("pod")
}

fn node() -> NodeFacts {
    NodeFacts {
        allocatable: BTreeMap::from([(
            "cpu".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("2".into()),
        )]),
        ..NodeFacts::default()
    }
}

fn with_input<T>(f: impl FnOnce(&PayloadInput<'_>) -> T) -> T {
    let p = pod();
    let o = objects();
    let n = node();
    f(&PayloadInput {
        pod: &p,
        node: &n,
        objects: &o,
    })
}

fn f(data: &[u8], mode: u32) -> FileProjection {
    FileProjection {
        data: data.to_vec(),
        mode,
    }
}

fn src<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("source")
}

#[test]
fn config_map_all_keys_with_default_mode() {
    let payload =
        with_input(|i| config_map_volume(i, &src(json!({"name": "cfg"})))).expect("payload");
    assert_eq!(
        payload,
        Payload::from([
            ("a.conf".into(), f(b"A", 0o644)),
            ("b.conf".into(), f(b"B", 0o644)),
            ("blob".into(), f(&[0, 1, 2], 0o644)),
        ])
    );
}

#[test]
fn config_map_items_and_modes() {
    let payload = with_input(|i| {
        config_map_volume(
            i,
            &src(json!({"name": "cfg", "defaultMode": 0o600, "items": [
                {"key": "a.conf", "path": "conf/a"},
                {"key": "blob", "path": "bin/blob", "mode": 0o755}
            ]})),
        )
    })
    .expect("payload");
    assert_eq!(
        payload,
        Payload::from([
            ("conf/a".into(), f(b"A", 0o600)),
            ("bin/blob".into(), f(&[0, 1, 2], 0o755)),
        ])
    );
}

#[test]
fn missing_objects_and_keys() {
    let err =
        with_input(|i| config_map_volume(i, &src(json!({"name": "ghost"})))).expect_err("missing");
    assert_eq!(err, "configmap \"ghost\" not found");
    let empty =
        with_input(|i| config_map_volume(i, &src(json!({"name": "ghost", "optional": true}))));
    assert_eq!(empty, Ok(Payload::new()));
    let err = with_input(|i| {
        config_map_volume(
            i,
            &src(json!({"name": "cfg", "items": [{"key": "zzz", "path": "z"}]})),
        )
    })
    .expect_err("key");
    assert_eq!(err, "configmap references non-existent config key: zzz");
    let skipped = with_input(|i| {
        config_map_volume(
            i,
            &src(json!({"name": "cfg", "optional": true, "items": [{"key": "zzz", "path": "z"}, {"key": "a.conf", "path": "a"}]})),
        )
    })
    .expect("optional");
    assert_eq!(skipped.keys().collect::<Vec<_>>(), vec!["a"]);
    let err =
        with_input(|i| secret_volume(i, &src(json!({"secretName": "nope"})))).expect_err("secret");
    assert_eq!(err, "secret \"nope\" not found");
    let err = with_input(|i| {
        secret_volume(
            i,
            &src(json!({"secretName": "tls", "items": [{"key": "ca.crt", "path": "ca"}]})),
        )
    })
    .expect_err("secret key");
    assert_eq!(err, "references non-existent secret key: ca.crt");
}

#[test]
fn secret_keys_are_decoded() {
    let payload =
        with_input(|i| secret_volume(i, &src(json!({"secretName": "tls", "defaultMode": 0o400}))))
            .expect("payload");
    assert_eq!(
        payload,
        Payload::from([
            ("tls.crt".into(), f(b"cert", 0o400)),
            ("tls.key".into(), f(b"key", 0o400)),
        ])
    );
}

#[test]
fn downward_api_files() {
    let payload = with_input(|i| {
        downward_api_volume(
            i,
            &src(json!({"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "./meta//name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
                {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
                {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}
            ]})),
        )
    })
    .expect("payload");
    assert_eq!(
        payload,
        Payload::from([
            ("labels".into(), f(b"app=\"x\"\nv=\"2\"", 0o644)),
            ("meta/name".into(), f(b"p", 0o400)),
            ("mem".into(), f(b"64", 0o644)),
            ("cpu".into(), f(b"2", 0o644)),
        ])
    );
    let err = with_input(|i| {
        downward_api_volume(
            i,
            &src(json!({"items": [
                {"path": "a", "fieldRef": {"fieldPath": "status.podIP"}},
                {"path": "b", "resourceFieldRef": {"containerName": "zz", "resource": "limits.cpu"}}
            ]})),
        )
    })
    .expect_err("bad fields");
    assert_eq!(
        err,
        "[unsupported fieldPath: status.podIP, container zz not found]"
    );
}

#[test]
fn projected_merges_sources_and_skips_tokens_with_a_warning() {
    let (payload, warnings) = with_input(|i| {
        projected_volume(
            i,
            &src(json!({"defaultMode": 0o640, "sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "a"}]}},
                {"secret": {"name": "tls", "items": [{"key": "tls.crt", "path": "certs/tls.crt"}]}},
                {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {"configMap": {"name": "ghost", "optional": true}}
            ]})),
        )
    })
    .expect("payload");
    assert_eq!(
        payload,
        Payload::from([
            ("a".into(), f(b"A", 0o640)),
            ("certs/tls.crt".into(), f(b"cert", 0o640)),
            ("name".into(), f(b"p", 0o640)),
        ])
    );
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("\"token\" was not projected"),
        "{warnings:?}"
    );
    let err = with_input(|i| {
        projected_volume(i, &src(json!({"sources": [{"secret": {"name": "ghost"}}]})))
    })
    .expect_err("missing");
    assert_eq!(err, "secret \"ghost\" not found");
}

#[test]
fn path_validation() {
    for ok in ["a", "a/b", "a..b/c", "a/..b", "a/b.."] {
        assert_eq!(validate_path(ok), Ok(()), "{ok}");
    }
    assert_eq!(
        validate_path(""),
        Err("invalid path: must not be empty: \"\"".into())
    );
    assert_eq!(
        validate_path("/etc/passwd"),
        Err("invalid path: must be relative path: /etc/passwd".into())
    );
    assert_eq!(
        validate_path("a/../../x"),
        Err("invalid path: must not contain '..': a/../../x".into())
    );
    assert_eq!(
        validate_path(".."),
        Err("invalid path: must not contain '..': ..".into())
    );
    assert_eq!(
        validate_path("..data/x"),
        Err("invalid path: must not start with '..': ..data/x".into())
    );
    assert!(validate_path("..a").is_err());
    assert!(validate_path(&"a".repeat(256)).is_err());
    assert!(validate_path(&format!("{}/", "a/".repeat(2048))).is_err());
    assert_eq!(clean_path("./a//b/"), "a/b");
    assert_eq!(clean_path("/a/./b"), "/a/b");
    assert_eq!(clean_path("."), ".");
}
