use super::*;
use serde_json::json;

#[test]
fn strategic_without_lists_is_a_merge_patch() {
    let current =
        json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "data": {"k": "v"}});
    let patch = br#"{"metadata": {"labels": {"x": null, "z": "3"}}, "data": {"k": "w"}}"#;
    let out = apply(PatchKind::Strategic, &current, patch).unwrap();
    assert_eq!(out, apply(PatchKind::Merge, &current, patch).unwrap());
    assert_eq!(out["metadata"]["labels"], json!({"y": "2", "z": "3"}));
    assert_eq!(out["data"]["k"], "w");
}

#[test]
fn strategic_with_lists_or_directives_is_not_supported_yet() {
    let current = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
    for patch in [
        &br#"{"spec": {"containers": [{"name": "a", "image": "y"}]}}"#[..],
        br#"{"spec": {"$patch": "replace"}}"#,
        br#"{"$setElementOrder/containers": [{"name": "a"}]}"#,
    ] {
        let err = apply(PatchKind::Strategic, &current, patch).unwrap_err();
        assert!(matches!(err, ApiError::UnsupportedMediaType(_)), "{err:?}");
    }
}

#[test]
fn content_types() {
    assert_eq!(
        PatchKind::from_content_type("application/strategic-merge-patch+json").unwrap(),
        PatchKind::Strategic
    );
    assert!(PatchKind::from_content_type("application/apply-patch+yaml").is_err());
}
