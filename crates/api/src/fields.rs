//! Field selectors (`?fieldSelector=`) and the fields each resource supports.

use crate::registry::ResourceInfo;
use crate::selector::SelectorError;

/// A parsed field selector: AND of `field=value` / `field==value` / `field!=value`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    // helper
}

impl FieldSelector {
    /// Parse and check every field is supported by `resource`
    /// (error text as upstream: `field label not supported: <field>`).
    pub fn parse(_s: &str, _resource: &ResourceInfo) -> Result<Self, SelectorError> {
        todo!()
    }
    pub fn matches(&self, _resource: &ResourceInfo, _obj: &serde_json::Value) -> bool {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
}
