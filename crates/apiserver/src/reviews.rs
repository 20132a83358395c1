//! Review APIs: SelfSubjectReview and TokenReview (authentication.k8s.io), and the access
//! reviews of authorization.k8s.io. They are evaluated on create and never stored.
//! Until RBAC arrives every authenticated user may do everything, so access reviews allow.

use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::ApiError;
use serde_json::{Value, json};

use crate::authn::{TokenAuthenticator, User};

/// Whether `res` is a review resource.
pub fn is_review(res: &ResourceInfo) -> bool {
    matches!(res.group, "authentication.k8s.io" | "authorization.k8s.io")
}

fn user_info(user: &User) -> Value {
    let mut groups = user.groups.clone();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    json!({"username": user.name, "groups": groups})
}

/// Evaluate a review: the request object with `status` filled in.
pub fn evaluate(
    res: &ResourceInfo,
    caller: &User,
    tokens: &TokenAuthenticator,
    mut review: Value,
) -> Result<Value, ApiError> {
    if !review.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    review["kind"] = json!(res.kind);
    review["apiVersion"] = json!(res.api_version());
    let status = match res.kind {
        "SelfSubjectReview" => json!({"userInfo": user_info(caller)}),
        "TokenReview" => {
            let token = review
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .unwrap_or("");
            match tokens.authenticate(&format!("Bearer {token}")) {
                Some(user) => json!({"authenticated": true, "user": user_info(&user)}),
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        // SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview.
        _ => {
            if review.pointer("/spec/resourceAttributes").is_none()
                && review.pointer("/spec/nonResourceAttributes").is_none()
            {
                return Err(ApiError::Invalid {
                    target: k3rs_api::status::Target::new(res.group, res.kind, ""),
                    causes: vec![k3rs_api::status::FieldError::invalid(
                        "spec.resourceAttributes",
                        Value::Null,
                        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                    )],
                });
            }
            json!({"allowed": true, "reason": "k3rs allows every authenticated user until RBAC is enabled"})
        }
    };
    review["status"] = status;
    if review.get("metadata").is_none() {
        review["metadata"] = json!({});
    }
    Ok(review)
}
