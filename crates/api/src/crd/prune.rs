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

    /// [`Schema::prune`], returning the paths of the unknown fields it dropped, as upstream's
    /// strict decoding of a custom resource reports them (`unknown field "spec.shape"`): first
    /// the unknown fields of the root `metadata` (`metadata.foo`), then the undeclared fields
    /// (`spec.items[0].extra`). Nulls of non-nullable fields are not unknown fields.
    pub fn prune_unknown(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Pruned::default();
        if let Some(Value::Object(meta)) = obj.get("metadata") {
            for k in meta.keys() {
                if !OBJECT_META_FIELDS.contains(&k.as_str()) {
                    pruned.paths.push(format!("metadata.{k}"));
                }
            }
        }
        prune_at(obj, Some(&self.root), true, Some(&mut pruned));
        prune_nulls(obj, &self.root);
        coerce_meta(obj, &self.root, true);
        pruned.paths
    }

    /// Apply the schema's `default`s: a missing (or non-nullable `null`) property with a default
    /// gets a copy of it, then defaulting recurses into properties, additionalProperties and
    /// array items, so defaults nested inside defaults and inside list items apply too.
    pub fn apply_defaults(&self, obj: &mut Value) {
        default_node(obj, &self.root);
    }
}

/// The paths of pruned fields, spelled as upstream's `UnknownFieldPathOptions` records them
/// (`spec.shape`, `spec.items[0].extra`).
#[derive(Default)]
pub(crate) struct Pruned {
    parent: String,
    paths: Vec<String>,
}

impl Pruned {
    fn record(&mut self, key: &str) {
        let path = if self.parent.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.parent)
        };
        self.paths.push(path);
    }

    /// Descend into `key`; returns the length to truncate back to.
    fn enter_key(&mut self, key: &str) -> usize {
        let len = self.parent.len();
        if !self.parent.is_empty() {
            self.parent.push('.');
        }
        self.parent.push_str(key);
        len
    }

    /// Descend into item `i`; returns the length to truncate back to.
    fn enter_index(&mut self, i: usize) -> usize {
        let len = self.parent.len();
        self.parent.push_str(&format!("[{i}]"));
        len
    }

    fn leave(&mut self, len: usize) {
        self.parent.truncate(len);
    }
}

/// `pruning.Prune`: `root` treats the node as a resource root (metadata fields kept).
pub(crate) fn prune_node(x: &mut Value, s: Option<&Node>, root: bool) {
    prune_at(x, s, root, None);
}

/// Run `f` one level down (at `key` or item `index`) when paths are tracked.
fn descend<R>(
    track: &mut Option<&mut Pruned>,
    step: Result<&str, usize>,
    f: impl FnOnce(Option<&mut Pruned>) -> R,
) -> R {
    match track.as_deref_mut() {
        Some(t) => {
            let len = match step {
                Ok(key) => t.enter_key(key),
                Err(i) => t.enter_index(i),
            };
            let r = f(Some(&mut *t));
            t.leave(len);
            r
        }
        None => f(None),
    }
}

/// [`prune_node`], recording the pruned paths in `track`.
pub(crate) fn prune_at(
    x: &mut Value,
    s: Option<&Node>,
    root: bool,
    mut track: Option<&mut Pruned>,
) {
    let embedded = root || s.is_some_and(|s| s.embedded);
    if let Some(s) = s.filter(|s| s.preserve_unknown) {
        skip_prune(x, s, embedded, track);
        return;
    }
    match x {
        Value::Object(m) => {
            let Some(s) = s else {
                if let Some(t) = track.as_deref_mut() {
                    for k in m.keys() {
                        t.record(k);
                    }
                }
                m.clear();
                return;
            };
            m.retain(|k, _| {
                let keep = (embedded && META_FIELDS.contains(&k.as_str()))
                    || s.properties.contains_key(k)
                    || s.additional.is_some();
                if !keep && let Some(t) = track.as_deref_mut() {
                    t.record(k);
                }
                keep
            });
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let child = match s.properties.get(k) {
                    Some(p) => Some(p),
                    None => s.additional.as_ref().and_then(Additional::schema),
                };
                descend(&mut track, Ok(k), |t| prune_at(v, child, false, t));
            }
        }
        Value::Array(items) => {
            let is = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                descend(&mut track, Err(i), |t| prune_at(v, is, false, t));
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, s: &Node, embedded: bool, mut track: Option<&mut Pruned>) {
    match x {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.properties.get(k) {
                    descend(&mut track, Ok(k), |t| prune_at(v, Some(p), false, t));
                } else if let Some(a) = &s.additional {
                    descend(&mut track, Ok(k), |t| prune_at(v, a.schema(), false, t));
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for (i, v) in items.iter_mut().enumerate() {
                    descend(&mut track, Err(i), |t| skip_prune(v, is, is.embedded, t));
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
