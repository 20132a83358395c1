//! The schema view server-side apply walks objects with: for each value, whether it is a leaf
//! (scalar, atomic list or map), a granular map/struct, or a list with set or map semantics
//! (upstream's SMD schema, converted from OpenAPI as `schemaconv` does).
//!
//! Built-in kinds use the embedded OpenAPI definitions ([`crate::schema`]); lists without
//! `x-kubernetes-list-type` fall back to their patch strategy (`merge` with a key → map, without
//! → set, otherwise atomic). Custom resources use their structural schema ([`crate::crd`]):
//! lists are atomic unless `x-kubernetes-list-type` says otherwise. Values without a schema
//! (`x-kubernetes-preserve-unknown-fields`, RawExtension, no CRD schema) are "deduced":
//! objects are granular maps, lists atomic.

use serde_json::Value;

use super::ManagedError;
use super::set::PathElement;
use crate::crd::Schema as CrdSchema;
use crate::crd::schema::{Additional, Node};
use crate::schema::{OBJECT_META, Schemas};

/// Which schema describes an object.
#[derive(Clone, Copy, Debug)]
pub enum ObjectType<'a> {
    /// A built-in kind, by definition name (`io.k8s.api.apps.v1.Deployment`).
    Builtin(&'a str),
    /// A custom resource: its structural schema, or None (everything deduced).
    Custom(Option<&'a CrdSchema>),
}

/// The type of one value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty<'a> {
    /// An OpenAPI schema node of the built-in definitions.
    Builtin(&'a Value),
    /// A node of a custom resource's structural schema.
    Crd(&'a Node),
    /// The root of a custom resource (its `metadata` is ObjectMeta).
    CrdRoot(Option<&'a Node>),
    /// No schema: objects granular, lists atomic.
    Deduced,
}

/// How a value is walked.
#[derive(Clone, Debug)]
pub(crate) enum Kind<'a> {
    /// Compared and owned as a whole.
    Leaf,
    /// A granular map or struct. `value_struct`: a built-in struct, which upstream's typed
    /// objects always carry (so creating it is not a change of its own).
    Map { value_struct: bool },
    /// A granular list: `keys` None is a set of values, Some the keys of a map-list.
    List {
        elem: Ty<'a>,
        keys: Option<Vec<&'a str>>,
    },
}

/// Resolves [`Ty`]s against the built-in schemas.
#[derive(Clone, Copy)]
pub(crate) struct Types<'a> {
    pub schemas: &'a Schemas,
}

fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

impl<'a> Types<'a> {
    /// The type of a whole object.
    pub fn root(&self, ot: ObjectType<'a>) -> Ty<'a> {
        match ot {
            ObjectType::Builtin(name) => self
                .schemas
                .definition(name)
                .map_or(Ty::Deduced, Ty::Builtin),
            ObjectType::Custom(schema) => Ty::CrdRoot(schema.map(|s| &s.root)),
        }
    }

    /// How to walk a value of type `ty` (the value decides only for deduced types).
    pub fn kind(&self, ty: Ty<'a>, v: Option<&Value>) -> Kind<'a> {
        match ty {
            Ty::Deduced => match v {
                Some(Value::Object(_)) => Kind::Map {
                    value_struct: false,
                },
                _ => Kind::Leaf,
            },
            Ty::CrdRoot(_) => Kind::Map {
                value_struct: false,
            },
            Ty::Crd(node) => crd_kind(node, v),
            Ty::Builtin(s) => self.builtin_kind(s, v, false),
        }
    }

    fn builtin_kind(&self, s: &'a Value, v: Option<&Value>, atomic_map: bool) -> Kind<'a> {
        if is_true(s, "x-kubernetes-preserve-unknown-fields") {
            return self.kind(Ty::Deduced, v);
        }
        if is_true(s, "x-kubernetes-int-or-string") {
            return Kind::Leaf;
        }
        let atomic_map =
            atomic_map || s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
        if let Some(name) = Schemas::ref_name(s) {
            return match self.schemas.definition(name) {
                Some(def) => self.builtin_kind(def, v, atomic_map),
                None => self.kind(Ty::Deduced, v),
            };
        }
        match s.get("type").and_then(Value::as_str) {
            Some("array") => {
                let elem = s.get("items").map_or(Ty::Deduced, Ty::Builtin);
                let str_of = |k: &str| s.get(k).and_then(Value::as_str);
                let keys = || -> Vec<&'a str> {
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default()
                };
                match str_of("x-kubernetes-list-type") {
                    Some("map") => Kind::List {
                        elem,
                        keys: Some(keys()),
                    },
                    Some("set") => Kind::List { elem, keys: None },
                    Some(_) => Kind::Leaf,
                    None if str_of("x-kubernetes-patch-strategy")
                        .is_some_and(|p| p.split(',').any(|x| x.trim() == "merge")) =>
                    {
                        Kind::List {
                            elem,
                            keys: str_of("x-kubernetes-patch-merge-key").map(|k| vec![k]),
                        }
                    }
                    None => Kind::Leaf,
                }
            }
            Some("object") | None if s.get("properties").is_some() => {
                if atomic_map {
                    Kind::Leaf
                } else {
                    Kind::Map { value_struct: true }
                }
            }
            Some("object") => match s.get("additionalProperties") {
                Some(ap) if ap.is_object() && !atomic_map => Kind::Map {
                    value_struct: false,
                },
                Some(ap) if ap.is_object() => Kind::Leaf,
                _ => self.kind(Ty::Deduced, v),
            },
            Some(_) => Kind::Leaf,
            None => self.kind(Ty::Deduced, v),
        }
    }

    /// The type of field or key `name` of a map/struct value of type `ty`, and whether it is a
    /// declared struct field (upstream's "named field").
    pub fn field(&self, ty: Ty<'a>, name: &str) -> (Ty<'a>, bool) {
        match ty {
            Ty::Deduced => (Ty::Deduced, false),
            Ty::CrdRoot(node) => match name {
                "metadata" => (
                    self.schemas
                        .definition(OBJECT_META)
                        .map_or(Ty::Deduced, Ty::Builtin),
                    true,
                ),
                "apiVersion" | "kind" => (Ty::Deduced, true),
                _ => match node {
                    Some(n) => crd_field(n, name),
                    None => (Ty::Deduced, false),
                },
            },
            Ty::Crd(node) => crd_field(node, name),
            Ty::Builtin(s) => self.builtin_field(s, name),
        }
    }

    fn builtin_field(&self, s: &'a Value, name: &str) -> (Ty<'a>, bool) {
        if let Some(def) = Schemas::ref_name(s).and_then(|n| self.schemas.definition(n)) {
            return self.builtin_field(def, name);
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            return match props.get(name) {
                Some(p) => (Ty::Builtin(p), true),
                None => (Ty::Deduced, false),
            };
        }
        match s.get("additionalProperties") {
            Some(ap) if ap.is_object() => (Ty::Builtin(ap), false),
            _ => (Ty::Deduced, false),
        }
    }

    /// The path element of an item of a granular list.
    pub fn item_element(
        &self,
        elem: Ty<'a>,
        keys: &Option<Vec<&'a str>>,
        item: &Value,
    ) -> Result<PathElement, ManagedError> {
        let Some(keys) = keys else {
            return Ok(PathElement::value(item));
        };
        let Value::Object(m) = item else {
            return Err(ManagedError::Invalid(
                "associative list with keys has an element that is not a map".into(),
            ));
        };
        let mut fields = Vec::with_capacity(keys.len());
        for k in keys {
            match m.get(*k) {
                Some(v) => fields.push((*k, v.clone())),
                None => match self.key_default(elem, k) {
                    Some(d) => fields.push((*k, d)),
                    None => {
                        return Err(ManagedError::Invalid(format!(
                            "associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                        )));
                    }
                },
            }
        }
        Ok(PathElement::key(&fields))
    }

    /// The schema default of a list-map key field: the declared `default`, or upstream's
    /// `+default="TCP"` of the `protocol` keys of ports (the embedded definitions carry no
    /// defaults).
    fn key_default(&self, elem: Ty<'a>, key: &str) -> Option<Value> {
        let declared = match elem {
            Ty::Crd(node) => node.properties.get(key).and_then(|p| p.default.clone()),
            Ty::Builtin(_) => match self.field(elem, key).0 {
                Ty::Builtin(s) => s.get("default").cloned(),
                _ => None,
            },
            _ => None,
        };
        declared.or_else(|| match (elem, key) {
            (Ty::Builtin(_), "protocol") => Some(Value::String("TCP".into())),
            _ => None,
        })
    }
}

fn crd_kind<'a>(node: &'a Node, v: Option<&Value>) -> Kind<'a> {
    if node.int_or_string {
        return Kind::Leaf;
    }
    match node.ty.as_deref() {
        Some("array") => {
            let elem = node.items.as_deref().map_or(Ty::Deduced, Ty::Crd);
            match node.list_type.as_deref() {
                Some("set") => Kind::List { elem, keys: None },
                Some("map") => Kind::List {
                    elem,
                    keys: Some(node.list_map_keys.iter().map(String::as_str).collect()),
                },
                _ => Kind::Leaf,
            }
        }
        Some("object") => Kind::Map {
            value_struct: false,
        },
        Some(_) => Kind::Leaf,
        None if node.preserve_unknown || !node.properties.is_empty() => match v {
            Some(Value::Object(_)) => Kind::Map {
                value_struct: false,
            },
            _ => Kind::Leaf,
        },
        None => Types::deduced_kind(v),
    }
}

impl Types<'_> {
    fn deduced_kind<'b>(v: Option<&Value>) -> Kind<'b> {
        match v {
            Some(Value::Object(_)) => Kind::Map {
                value_struct: false,
            },
            _ => Kind::Leaf,
        }
    }
}

fn crd_field<'a>(node: &'a Node, name: &str) -> (Ty<'a>, bool) {
    if let Some(p) = node.properties.get(name) {
        return (Ty::Crd(p), true);
    }
    match &node.additional {
        Some(Additional::Schema(s)) => (Ty::Crd(s), false),
        _ => (Ty::Deduced, false),
    }
}
