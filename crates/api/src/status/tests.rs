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
