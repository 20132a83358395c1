use super::*;
use serde_json::json;

#[test]
fn round_trip_splices_resource_version() {
    let obj = json!({"metadata": {"name": "a", "resourceVersion": "7", "labels": {"x": "y"}}, "apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
    let stored = encode(&obj);
    let text = String::from_utf8(to_json(&stored, 42).unwrap()).unwrap();
    assert!(text.starts_with("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"42\","), "{text}");
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["metadata"]["resourceVersion"], "42");
    assert_eq!(back["metadata"]["labels"]["x"], "y");
    assert_eq!(back["data"]["k"], "v");
    assert_eq!(decode(&stored, 42).unwrap(), back);
}

#[test]
fn empty_metadata_and_missing_kind() {
    let stored = encode(&json!({"spec": {"a": 1}}));
    let back: Value = serde_json::from_slice(&to_json(&stored, 3).unwrap()).unwrap();
    assert_eq!(
        back,
        json!({"metadata": {"resourceVersion": "3"}, "spec": {"a": 1}})
    );
}

#[test]
fn rejects_foreign_bytes() {
    assert!(to_json(b"{}", 1).is_err());
    assert!(decode(b"k3r\x01\xff\xff\xff\xff\x00{}", 1).is_err());
}

#[test]
fn presents_another_api_version() {
    let obj = json!({"kind": "Widget", "apiVersion": "example.com/v1", "metadata": {"name": "a"}, "spec": {"x": 1}});
    let stored = encode(&obj);
    let out: Value =
        serde_json::from_slice(&to_json_as(&stored, 5, Some("example.com/v1beta1")).unwrap())
            .unwrap();
    assert_eq!(out["apiVersion"], "example.com/v1beta1");
    assert_eq!(out["metadata"]["resourceVersion"], "5");
    assert_eq!(out["spec"]["x"], 1);
    let same: Value =
        serde_json::from_slice(&to_json_as(&stored, 5, Some("example.com/v1")).unwrap()).unwrap();
    assert_eq!(same["apiVersion"], "example.com/v1");
}
