use super::*;

#[test]
fn invalid_message_lists_causes_like_upstream() {
    let err = ApiError::Invalid {
        target: Target::new("apps", "Deployment", "web"),
        causes: vec![
            FieldError::required("spec.template.spec.containers[0].image", ""),
            FieldError::invalid("metadata.name", "Bad", "a lowercase RFC 1123 subdomain"),
        ],
    };
    assert_eq!(err.code(), 422);
    assert_eq!(
        err.to_string(),
        "Deployment.apps \"web\" is invalid: [spec.template.spec.containers[0].image: Required value, metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 subdomain]"
    );
    let status = serde_json::to_string(&err.to_status()).unwrap();
    // Upstream key order.
    let order: Vec<usize> = [
        "\"kind\"",
        "\"apiVersion\"",
        "\"metadata\"",
        "\"status\"",
        "\"message\"",
        "\"reason\"",
        "\"details\"",
        "\"code\"",
    ]
    .iter()
    .map(|k| status.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{status}");
    assert!(status.contains("\"field\":\"metadata.name\""));
}

#[test]
fn not_found_names_group_and_resource() {
    let err = ApiError::NotFound(Target::new("", "configmaps", "x"));
    assert_eq!(err.to_string(), "configmaps \"x\" not found");
    let err = ApiError::NotFound(Target::new("apps", "deployments", "web"));
    assert_eq!(err.to_string(), "deployments.apps \"web\" not found");
    assert_eq!(err.to_status().reason, "NotFound");
}

#[test]
fn apply_conflicts_are_409_with_field_manager_causes() {
    let err = ApiError::ApplyConflict {
        message: "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas".into(),
        causes: vec![("conflict with \"kubectl\"".into(), ".spec.replicas".into())],
    };
    assert_eq!(err.code(), 409);
    let status = serde_json::to_value(err.to_status()).unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"],
        serde_json::json!({"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl\"", "field": ".spec.replicas"}]})
    );
}
