//! Defaulting of built-in kinds as upstream's SetDefaults_* functions do.

use crate::registry::ResourceInfo;
use serde_json::Value;

/// Fill in defaults on an object about to be created or updated.
pub fn apply(_resource: &ResourceInfo, _obj: &mut Value) {}
