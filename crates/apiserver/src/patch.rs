//! PATCH bodies: JSON patch (RFC 6902) and JSON merge patch (RFC 7386).
//! Strategic merge patch and server-side apply come with full kubectl fidelity.

use k3rs_api::status::ApiError;
use serde_json::Value;

/// The patch formats of the PATCH verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        match ct {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" | "application/apply-patch+yaml" => {
                Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json ({ct} is not supported yet; use kubectl patch --type merge or --type json)"
                )))
            }
            other => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got {other:?})"
            ))),
        }
    }
}

/// Apply a patch to the current object, returning the patched one.
pub fn apply(kind: PatchKind, current: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| ApiError::Invalid {
                target: Default::default(),
                causes: vec![k3rs_api::status::FieldError::invalid(
                    "",
                    Value::Null,
                    format!("the server rejected our request due to an error in our request: {e}"),
                )],
            })?;
        }
        PatchKind::Merge => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut doc, &p);
        }
    }
    Ok(doc)
}
