//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
//! patch (merge keys and list strategies from the built-in schemas). Server-side apply
//! (`application/apply-patch+yaml`) is [`crate::fieldmanager`].

use k3rs_api::registry::ResourceInfo;
use k3rs_api::schema::{self, Gvk};
use k3rs_api::status::ApiError;
use k3rs_api::strategic;
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
            other => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got {other:?})"
            ))),
        }
    }
}

/// The schema type a strategic merge patch of `res` (or of its `subresource`) starts from.
/// None for custom resources: upstream refuses strategic merge patches for them.
pub fn strategic_root(res: &ResourceInfo, subresource: Option<&str>) -> Option<&'static str> {
    match subresource {
        Some("scale") => schema::kind_type(Gvk::new("autoscaling", "v1", "Scale")),
        _ => schema::kind_type(Gvk::new(res.group, res.version, res.kind)),
    }
}

/// Apply a patch to the current object, returning the patched one. `strategic_root` is the
/// schema type for strategic merge patches (see [`strategic_root`]).
pub fn apply(
    kind: PatchKind,
    strategic_root: Option<&str>,
    current: &Value,
    patch: &[u8],
) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Json => {
            let mut doc = current.clone();
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
            Ok(doc)
        }
        PatchKind::Merge | PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            if kind == PatchKind::Merge {
                let mut doc = current.clone();
                json_patch::merge(&mut doc, &p);
                return Ok(doc);
            }
            let Some(root) = strategic_root else {
                return Err(ApiError::UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
                ));
            };
            strategic::apply(current, &p, root, schema::schemas())
                .map_err(|e| ApiError::bad_request(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
