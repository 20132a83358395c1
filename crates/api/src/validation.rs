//! Validation of built-in kinds with upstream messages and field paths.

use crate::registry::ResourceInfo;
use crate::status::FieldError;
use serde_json::Value;

/// Validate an object for create (metadata + kind-specific rules).
pub fn validate_create(_resource: &ResourceInfo, _obj: &Value) -> Vec<FieldError> {
    Vec::new()
}

/// Validate an update: everything `validate_create` checks plus immutable fields against `old`.
pub fn validate_update(_resource: &ResourceInfo, _new: &Value, _old: &Value) -> Vec<FieldError> {
    Vec::new()
}
