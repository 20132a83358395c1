//! Pruning of undeclared fields (`pruning/algorithm.go`), of non-nullable nulls
//! (`defaulting/prunenulls.go`), ObjectMeta coercion of root and embedded `metadata`
//! (`objectmeta/coerce.go`), and defaulting (`defaulting/algorithm.go`).

use super::schema::{Additional, Node, Schema};
use serde_json::{Map, Value};

/// The fields of `metav1.ObjectMeta`; others are dropped from `metadata` as upstream's JSON
/// round trip through ObjectMeta does.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

const META_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

impl Schema {
    /// Drop the fields the schema does not declare, honouring
    /// `x-kubernetes-preserve-unknown-fields` and `additionalProperties`. `apiVersion`, `kind`
    /// and `metadata` of the root and of embedded resources are kept, `metadata` reduced to the
    /// fields of ObjectMeta (upstream's ObjectMeta round trip). `null`s of non-nullable fields
    /// without a default are dropped too, as upstream does right after pruning.
    pub fn prune(&self, obj: &mut Value) {
        prune_node(obj, Some(&self.root), true);
        prune_nulls(obj, &self.root);
        coerce_meta(obj, &self.root, true);
    }

    /// Apply the schema's `default`s: a missing (or non-nullable `null`) property with a default
    /// gets a copy of it, then defaulting recurses into properties, additionalProperties and
    /// array items, so defaults nested inside defaults and inside list items apply too.
    pub fn apply_defaults(&self, obj: &mut Value) {
        default_node(obj, &self.root);
    }
}

/// `pruning.Prune`: `root` treats the node as a resource root (metadata fields kept).
pub(crate) fn prune_node(x: &mut Value, s: Option<&Node>, root: bool) {
    let embedded = root || s.is_some_and(|s| s.embedded);
    if let Some(s) = s.filter(|s| s.preserve_unknown) {
        skip_prune(x, s, embedded);
        return;
    }
    match x {
        Value::Object(m) => {
            let Some(s) = s else {
                m.clear();
                return;
            };
            m.retain(|k, _| {
                (embedded && META_FIELDS.contains(&k.as_str()))
                    || s.properties.contains_key(k)
                    || s.additional.is_some()
            });
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                match s.properties.get(k) {
                    Some(p) => prune_node(v, Some(p), false),
                    None => {
                        prune_node(v, s.additional.as_ref().and_then(Additional::schema), false)
                    }
                }
            }
        }
        Value::Array(items) => {
            let is = s.and_then(|s| s.items.as_deref());
            for v in items {
                prune_node(v, is, false);
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, s: &Node, embedded: bool) {
    match x {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.properties.get(k) {
                    prune_node(v, Some(p), false);
                } else if let Some(a) = &s.additional {
                    prune_node(v, a.schema(), false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for v in items {
                    skip_prune(v, is, is.embedded);
                }
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults`.
fn prune_nulls(x: &mut Value, s: &Node) {
    match x {
        Value::Object(m) => {
            m.retain(|k, v| {
                let ps = s
                    .properties
                    .get(k)
                    .or_else(|| s.additional.as_ref().and_then(Additional::schema));
                !(v.is_null() && ps.is_some_and(|p| !p.nullable && p.default.is_none()))
            });
            for (k, v) in m.iter_mut() {
                let ps = s
                    .properties
                    .get(k)
                    .or_else(|| s.additional.as_ref().and_then(Additional::schema));
                if let Some(p) = ps {
                    prune_nulls(v, p);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for v in items {
                    prune_nulls(v, is);
                }
            }
        }
        _ => {}
    }
}

/// Reduce root and embedded `metadata` to ObjectMeta fields; drop non-string
/// apiVersion/kind of embedded resources.
fn coerce_meta(x: &mut Value, s: &Node, root: bool) {
    match x {
        Value::Object(m) => {
            if root || s.embedded {
                coerce_object_meta(m, !root);
            }
            for (k, v) in m.iter_mut() {
                if (root || s.embedded) && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.properties.get(k) {
                    coerce_meta(v, p, false);
                } else if let Some(a) = s.additional.as_ref().and_then(Additional::schema) {
                    coerce_meta(v, a, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for v in items {
                    coerce_meta(v, is, false);
                }
            }
        }
        _ => {}
    }
}

fn coerce_object_meta(m: &mut Map<String, Value>, embedded: bool) {
    if embedded {
        for k in ["apiVersion", "kind"] {
            if m.get(k).is_some_and(|v| !v.is_string()) {
                m.remove(k);
            }
        }
    }
    if let Some(Value::Object(meta)) = m.get_mut("metadata") {
        meta.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
        if embedded && meta.get("creationTimestamp").is_some_and(Value::is_null) {
            meta.remove("creationTimestamp");
        }
    }
}

fn non_nullable_null(x: &Value, s: &Node) -> bool {
    x.is_null() && !s.nullable
}

/// `defaulting.Default`.
fn default_node(x: &mut Value, s: &Node) {
    match x {
        Value::Object(m) => {
            for (k, p) in &s.properties {
                let Some(d) = &p.default else { continue };
                if m.get(k).is_none_or(|v| non_nullable_null(v, p)) {
                    m.insert(k.clone(), d.clone());
                }
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = s.properties.get(k) {
                    default_node(v, p);
                } else if let Some(a) = s.additional.as_ref().and_then(Additional::schema) {
                    if non_nullable_null(v, a)
                        && let Some(d) = &a.default
                    {
                        *v = d.clone();
                    }
                    default_node(v, a);
                }
            }
        }
        Value::Array(items) => {
            let Some(is) = &s.items else { return };
            for v in items {
                if non_nullable_null(v, is)
                    && let Some(d) = &is.default
                {
                    *v = d.clone();
                }
                default_node(v, is);
            }
        }
        _ => {}
    }
}
