//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386), and the part of strategic
//! merge patch that equals a merge patch: a body without lists and without `$` directives (lists
//! are where the two differ, through per-field merge keys). The rest of strategic merge patch
//! and server-side apply come with full kubectl fidelity.

use k3rs_api::status::ApiError;
use serde_json::Value;

/// The patch formats of the PATCH verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        match ct {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json ({ct} is not supported yet; use kubectl patch --type merge or --type json)"
            ))),
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
        PatchKind::Merge | PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            if kind == PatchKind::Strategic && !merge_equivalent(&p) {
                return Err(ApiError::UnsupportedMediaType(
                    "strategic merge patches with lists or $-directives are not supported yet; use kubectl patch --type merge or --type json".into(),
                ));
            }
            json_patch::merge(&mut doc, &p);
        }
    }
    Ok(doc)
}

/// Whether a strategic merge patch means the same as a JSON merge patch: no lists anywhere
/// (lists merge by key or replace per field) and no `$patch`/`$retainKeys`/… directive keys.
fn merge_equivalent(p: &Value) -> bool {
    match p {
        Value::Array(_) => false,
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| !k.starts_with('$') && merge_equivalent(v)),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
