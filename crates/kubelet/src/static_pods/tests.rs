use super::*;
use serde_json::json;

fn manifest() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd", "namespace": "kube-system", "labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    })
}

#[test]
fn mirror_pod_is_renamed_bound_owned_and_hashed() {
    let pod = mirror_pod(&manifest(), Path::new("/m/etcd.yaml"), "node-a", "uid-1").unwrap();
    assert_eq!(pod["metadata"]["name"], "etcd-node-a");
    assert_eq!(pod["metadata"]["namespace"], "kube-system");
    assert_eq!(pod["spec"]["nodeName"], "node-a");
    assert_eq!(pod["metadata"]["labels"]["a"], "b");
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations[CONFIG_SOURCE_ANNOTATION], "file");
    assert_eq!(
        annotations[CONFIG_HASH_ANNOTATION].as_str().unwrap().len(),
        32
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    let _: Pod = serde_json::from_value(pod).expect("a Pod");
}

#[test]
fn a_changed_manifest_changes_the_hash() {
    let a = mirror_pod(&manifest(), Path::new("x"), "n", "u").unwrap();
    let mut changed = manifest();
    changed["spec"]["containers"][0]["image"] = json!("busybox:2");
    let b = mirror_pod(&changed, Path::new("x"), "n", "u").unwrap();
    assert_ne!(
        a["metadata"]["annotations"][CONFIG_HASH_ANNOTATION],
        b["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    );
}

#[test]
fn bad_manifests_say_what_is_wrong() {
    let err = mirror_pod(
        &json!({"kind": "Deployment"}),
        Path::new("/m/x.yaml"),
        "n",
        "u",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "/m/x.yaml: a static pod manifest must be a single object of kind Pod"
    );
    let err = mirror_pod(
        &json!({"kind": "Pod", "metadata": {}}),
        Path::new("y"),
        "n",
        "u",
    )
    .unwrap_err();
    assert!(err.to_string().contains("metadata.name is required"));
}

#[test]
fn plan_creates_replaces_and_deletes() {
    let pod = mirror_pod(&manifest(), Path::new("x"), "n", "u").unwrap();
    let hash = pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        .as_str()
        .unwrap()
        .to_string();
    let desired = BTreeMap::from([("kube-system/etcd-n".to_string(), pod)]);
    let none = BTreeMap::new();
    assert_eq!(
        plan(&desired, &none),
        (vec!["kube-system/etcd-n".into()], vec![])
    );
    let same = BTreeMap::from([("kube-system/etcd-n".to_string(), hash)]);
    assert_eq!(plan(&desired, &same), (vec![], vec![]));
    let stale = BTreeMap::from([("kube-system/etcd-n".to_string(), "old".to_string())]);
    assert_eq!(
        plan(&desired, &stale),
        (
            vec!["kube-system/etcd-n".into()],
            vec!["kube-system/etcd-n".into()]
        )
    );
    let gone = BTreeMap::from([("default/x-n".to_string(), "h".to_string())]);
    assert_eq!(
        plan(&BTreeMap::new(), &gone),
        (vec![], vec!["default/x-n".into()])
    );
}

#[test]
fn reads_yaml_and_json_manifests_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "kind: Pod\nmetadata: {name: b}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("a.json"), r#"{"kind":"Pod"}"#).unwrap();
    std::fs::write(dir.path().join("c.txt"), "ignored").unwrap();
    std::fs::write(dir.path().join("d.yml"), "kind: [").unwrap();
    let read = read_manifests(dir.path());
    let names: Vec<_> = read
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.json", "b.yaml", "d.yml"]);
    assert_eq!(read[1].1.as_ref().unwrap()["metadata"]["name"], "b");
    assert!(read[2].1.is_err());
    assert!(read_manifests(&dir.path().join("missing")).is_empty());
}
