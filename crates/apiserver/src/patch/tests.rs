use super::*;
use serde_json::json;

fn pods() -> &'static ResourceInfo {
    k3rs_api::registry::lookup("", "v1", "pods").unwrap()
}

#[test]
fn strategic_merge_uses_the_schema_merge_keys() {
    let current = json!({"spec": {"containers": [
        {"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "b", "image": "y"}
    ]}});
    let patch = br#"{"spec":{"containers":[{"name":"a","image":"z","env":[{"$patch":"delete","name":"B"}]}]}}"#;
    let out = apply(
        PatchKind::Strategic,
        strategic_root(pods(), None),
        &current,
        patch,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"spec": {"containers": [
            {"name": "a", "image": "z", "env": [{"name": "A", "value": "1"}]},
            {"name": "b", "image": "y"}
        ]}})
    );
    // A merge patch replaces the list instead.
    let merged = apply(PatchKind::Merge, None, &current, patch).unwrap();
    assert_eq!(merged["spec"]["containers"].as_array().unwrap().len(), 1);
}

#[test]
fn strategic_merge_is_refused_without_a_schema() {
    let err = apply(PatchKind::Strategic, None, &json!({}), br#"{"a":1}"#).unwrap_err();
    assert!(matches!(err, ApiError::UnsupportedMediaType(_)), "{err:?}");
}

#[test]
fn content_types() {
    assert_eq!(
        PatchKind::from_content_type("application/strategic-merge-patch+json").unwrap(),
        PatchKind::Strategic
    );
    assert!(PatchKind::from_content_type("application/apply-patch+yaml").is_err());
}
