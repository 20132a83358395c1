//! Label selectors: the string syntax of `?labelSelector=` and the `metav1.LabelSelector` object.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A parsed label selector (AND of requirements). Empty selects everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    // helper: requirements
}

impl LabelSelector {
    /// Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(_s: &str) -> Result<Self, SelectorError> {
        todo!()
    }
    /// From a `metav1.LabelSelector` JSON object (matchLabels/matchExpressions).
    pub fn from_object(_v: &serde_json::Value) -> Result<Self, SelectorError> {
        todo!()
    }
    pub fn matches(&self, _labels: &BTreeMap<String, String>) -> bool {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
}
