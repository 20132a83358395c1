use super::*;
use serde_json::json;

fn key(kind: ObjectKind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, "ns", name)
}

#[test]
fn pod_references_cover_env_env_from_volumes_and_projections() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
            "containers": [{"name": "c",
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                    {"name": "C", "value": "plain"}
                ],
                "envFrom": [{"configMapRef": {"name": "from-cm"}}]
            }],
            "volumes": [
                {"name": "v1", "configMap": {"name": "vol-cm"}},
                {"name": "v2", "secret": {"secretName": "vol-secret"}},
                {"name": "v3", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "v4", "projected": {"sources": [
                    {"configMap": {"name": "proj-cm"}},
                    {"secret": {"name": "proj-secret"}},
                    {"serviceAccountToken": {"path": "token"}}
                ]}},
                {"name": "v5", "emptyDir": {}}
            ]
        }
    }))
    .expect("pod");
    let refs = pod_references(&pod);
    let expected: BTreeSet<ObjectKey> = [
        key(ObjectKind::Secret, "init-secret"),
        key(ObjectKind::ConfigMap, "env-cm"),
        key(ObjectKind::Secret, "env-secret"),
        key(ObjectKind::ConfigMap, "from-cm"),
        key(ObjectKind::ConfigMap, "vol-cm"),
        key(ObjectKind::Secret, "vol-secret"),
        key(ObjectKind::PersistentVolumeClaim, "data"),
        key(ObjectKind::ConfigMap, "proj-cm"),
        key(ObjectKind::Secret, "proj-secret"),
    ]
    .into_iter()
    .collect();
    assert_eq!(refs, expected);
    assert!(pod_references(&Pod::default()).is_empty());
}

#[test]
fn snapshot_looks_up_by_namespace_and_name() {
    let mut s = ObjectSnapshot::default();
    s.insert_config_map(
        serde_json::from_value(
            json!({"metadata": {"name": "a", "namespace": "x"}, "data": {"k": "1"}}),
        )
        .expect("cm"),
    );
    s.insert_volume(serde_json::from_value(json!({"metadata": {"name": "pv"}})).expect("pv"));
    assert!(s.config_map("x", "a").is_some());
    assert!(s.config_map("y", "a").is_none());
    assert!(s.secret("x", "a").is_none());
    assert!(s.persistent_volume("pv").is_some());
    assert!(s.persistent_volume_claim("x", "pv").is_none());
}
