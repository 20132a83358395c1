//! The OpenAPI schemas of the built-in types, for everything that needs to know the shape of an
//! object: field validation (unknown and duplicate fields), strategic merge patch and
//! server-side apply (list/map/patch metadata), and the served OpenAPI documents
//! ([`crate::openapi`]).
//!
//! The definitions come from `openapi/definitions.json.gz`, generated at development time from
//! k8s-openapi (`tools/gen-openapi`), plus `openapi/list_metadata.tsv`, our table of the
//! `x-kubernetes-list-type` / `-list-map-keys` / `-patch-strategy` / `-patch-merge-key` /
//! `-map-type` markers upstream declares and k8s-openapi lacks. Both are parsed once, lazily
//! ([`schemas`]).
//!
//! Definitions are kept in Swagger 2.0 form: `{"$ref": "#/definitions/<name>", "description": …}`
//! for a field of a named type; the v3 rendering lives in [`crate::openapi`].
//!
//! Nothing here does IO.

mod duplicates;
mod load;
mod prune;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

pub use duplicates::duplicate_fields;

/// The prefix of a reference to a definition.
pub const REF_PREFIX: &str = "#/definitions/";

/// Definition names with special meaning.
pub const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Why the embedded schemas could not be loaded (a build defect; tests catch it).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The compressed artifact is corrupt.
    #[error("decompressing the OpenAPI definitions: {0}")]
    Decompress(#[from] std::io::Error),
    /// The artifact is not the expected JSON.
    #[error("parsing the OpenAPI definitions: {0}")]
    Parse(#[from] serde_json::Error),
    /// A row of `list_metadata.tsv` is malformed or names a missing definition or field.
    #[error("list_metadata.tsv line {line}: {message}")]
    ListMetadata { line: usize, message: String },
}

/// A group, version and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gvk<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
}

impl<'a> Gvk<'a> {
    pub const fn new(group: &'a str, version: &'a str, kind: &'a str) -> Self {
        Gvk {
            group,
            version,
            kind,
        }
    }
}

impl<'a> From<&'a crate::registry::ResourceInfo> for Gvk<'a> {
    fn from(r: &'a crate::registry::ResourceInfo) -> Self {
        Gvk::new(r.group, r.version, r.kind)
    }
}

/// A served kind and the definition that describes it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct KindDefinition {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub definition: String,
}

/// The shape of a value as decoding sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape<'a> {
    /// A struct: a named definition with declared properties.
    Object(&'a str),
    /// A list of values.
    Array(Box<Shape<'a>>),
    /// A map from strings to values.
    Map(Box<Shape<'a>>),
    /// `string`, `integer`, `number` or `boolean` (also Time and Quantity, which are strings).
    Scalar(&'a str),
    /// `x-kubernetes-int-or-string`.
    IntOrString,
    /// Anything goes and is kept as it is: RawExtension, FieldsV1, JSON,
    /// `x-kubernetes-preserve-unknown-fields`, untyped objects.
    Opaque,
}

impl<'a> Shape<'a> {
    /// The definition name of the struct this shape holds: itself, or its items or values.
    pub fn type_name(&self) -> Option<&'a str> {
        match self {
            Shape::Object(name) => Some(name),
            Shape::Array(inner) | Shape::Map(inner) => inner.type_name(),
            _ => None,
        }
    }
}

/// One field of a struct, with its merge metadata.
#[derive(Clone, Debug)]
pub struct FieldSchema<'a> {
    pub name: &'a str,
    pub shape: Shape<'a>,
    pub description: Option<&'a str>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<&'a str>,
    /// `x-kubernetes-list-map-keys`.
    pub map_keys: Vec<&'a str>,
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub patch_strategy: Option<&'a str>,
    /// `x-kubernetes-patch-merge-key`.
    pub patch_merge_key: Option<&'a str>,
    /// `x-kubernetes-map-type`: `atomic` or `granular`.
    pub map_type: Option<&'a str>,
    /// The raw schema of the field.
    pub schema: &'a Value,
}

/// What strategic merge patch and server-side apply need to know about one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeInfo<'a> {
    /// The patch strategies (`merge`, `retainKeys`, `replace`), split on `,`.
    pub patch_strategies: Vec<&'a str>,
    pub patch_merge_key: Option<&'a str>,
    pub list_type: Option<&'a str>,
    pub list_map_keys: Vec<&'a str>,
    pub map_type: Option<&'a str>,
    /// The field's shape (list, map, struct, scalar).
    pub shape: Shape<'a>,
}

impl<'a> MergeInfo<'a> {
    /// `patchStrategy` contains `merge`.
    pub fn merges(&self) -> bool {
        self.patch_strategies.contains(&"merge")
    }
    /// `patchStrategy` contains `retainKeys`.
    pub fn retains_keys(&self) -> bool {
        self.patch_strategies.contains(&"retainKeys")
    }
    /// `patchStrategy` is `replace`.
    pub fn replaces(&self) -> bool {
        self.patch_strategies.contains(&"replace")
    }
    /// The definition name of the field's struct type, or of its items or values.
    pub fn item_type(&self) -> Option<&'a str> {
        self.shape.type_name()
    }
}

/// All definitions, with list metadata applied, and the served kinds.
#[derive(Debug, Default)]
pub struct Schemas {
    definitions: BTreeMap<String, Value>,
    kinds: Vec<KindDefinition>,
    /// Synthetic type names of maps of structs (`map[string]<value type>`) → the value type,
    /// so that a merge walking a map can ask for "the type of any key".
    map_types: BTreeMap<String, String>,
}

/// The synthetic type name of a map whose values are of struct type `value`.
pub fn map_type_name(value: &str) -> String {
    format!("map[string]{value}")
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| Schemas::load().unwrap_or_default());

/// The built-in schemas, parsed on first use. Empty only if the embedded artifact is broken,
/// which the unit tests rule out.
pub fn schemas() -> &'static Schemas {
    &SCHEMAS
}

/// [`Schemas::field`] of the built-in schemas.
pub fn field(type_name: &str, name: &str) -> Option<FieldSchema<'static>> {
    schemas().field(type_name, name)
}

/// [`Schemas::merge_info`] of the built-in schemas.
pub fn merge_info(type_name: &str, name: &str) -> Option<MergeInfo<'static>> {
    schemas().merge_info(type_name, name)
}

/// [`Schemas::kind_type`] of the built-in schemas.
pub fn kind_type(gvk: Gvk<'_>) -> Option<&'static str> {
    schemas().kind_type(gvk)
}

/// [`Schemas::unknown_fields`] of the built-in schemas.
pub fn unknown_fields(gvk: Gvk<'_>, obj: &Value) -> Vec<String> {
    schemas().unknown_fields(gvk, obj)
}

/// [`Schemas::prune_unknown`] of the built-in schemas.
pub fn prune_unknown(gvk: Gvk<'_>, obj: &mut Value) -> Vec<String> {
    schemas().prune_unknown(gvk, obj)
}

impl Schemas {
    /// Parse the embedded artifact and apply the list metadata table.
    pub fn load() -> Result<Self, SchemaError> {
        load::load()
    }

    /// Every definition by name.
    pub fn definitions(&self) -> &BTreeMap<String, Value> {
        &self.definitions
    }

    /// One definition.
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name)
    }

    /// The served kinds (and their lists) with their definitions.
    pub fn kinds(&self) -> &[KindDefinition] {
        &self.kinds
    }

    /// The definition name of a kind (`io.k8s.api.apps.v1.Deployment` for apps/v1 Deployment).
    pub fn kind_type(&self, gvk: Gvk<'_>) -> Option<&str> {
        self.kinds
            .iter()
            .find(|k| k.group == gvk.group && k.version == gvk.version && k.kind == gvk.kind)
            .map(|k| k.definition.as_str())
    }

    /// The schema of a kind.
    pub fn kind_schema(&self, gvk: Gvk<'_>) -> Option<&Value> {
        self.definition(self.kind_type(gvk)?)
    }

    /// Follow `$ref` (also a single `allOf`) to the referenced definition's name.
    pub fn ref_name(schema: &Value) -> Option<&str> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return r.strip_prefix(REF_PREFIX);
        }
        match schema.get("allOf").and_then(Value::as_array) {
            Some(all) if all.len() == 1 => Self::ref_name(&all[0]),
            _ => None,
        }
    }

    /// The schema behind a reference, or the schema itself.
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        Self::ref_name(schema)
            .and_then(|n| self.definition(n))
            .unwrap_or(schema)
    }

    /// The properties of a struct definition.
    pub fn properties(&self, type_name: &str) -> Option<&serde_json::Map<String, Value>> {
        self.definition(type_name)?
            .get("properties")
            .and_then(Value::as_object)
    }

    /// The shape a schema gives its values.
    pub fn shape<'a>(&'a self, schema: &'a Value) -> Shape<'a> {
        if schema
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Shape::Opaque;
        }
        if schema
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
            || schema.get("format").and_then(Value::as_str) == Some("int-or-string")
        {
            return Shape::IntOrString;
        }
        if let Some(name) = Self::ref_name(schema) {
            let Some((name, def)) = self.definitions.get_key_value(name) else {
                return Shape::Opaque;
            };
            if def.get("properties").is_some() {
                return Shape::Object(name);
            }
            return self.shape(def);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => Shape::Array(Box::new(
                schema
                    .get("items")
                    .map_or(Shape::Opaque, |items| self.shape(items)),
            )),
            Some("object") => match schema.get("additionalProperties") {
                Some(ap) if ap.is_object() => Shape::Map(Box::new(self.shape(ap))),
                _ => Shape::Opaque,
            },
            Some(t @ ("string" | "integer" | "number" | "boolean")) => Shape::Scalar(t),
            _ => Shape::Opaque,
        }
    }

    /// A field of a struct definition, with its metadata.
    pub fn field<'a>(&'a self, type_name: &str, name: &str) -> Option<FieldSchema<'a>> {
        let (name, schema) = self.properties(type_name)?.get_key_value(name)?;
        let s = |k: &str| schema.get(k).and_then(Value::as_str);
        Some(FieldSchema {
            name,
            shape: self.shape(schema),
            description: s("description"),
            list_type: s("x-kubernetes-list-type"),
            map_keys: schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            patch_strategy: s("x-kubernetes-patch-strategy"),
            patch_merge_key: s("x-kubernetes-patch-merge-key"),
            map_type: s("x-kubernetes-map-type"),
            schema,
        })
    }

    /// The merge metadata of a field of a struct definition.
    pub fn merge_info<'a>(&'a self, type_name: &str, name: &str) -> Option<MergeInfo<'a>> {
        let f = self.field(type_name, name)?;
        let map_type = f.map_type.or_else(|| {
            f.shape.type_name().and_then(|t| {
                self.definition(t)?
                    .get("x-kubernetes-map-type")
                    .and_then(Value::as_str)
            })
        });
        Some(MergeInfo {
            patch_strategies: f
                .patch_strategy
                .map(|s| s.split(',').map(str::trim).collect())
                .unwrap_or_default(),
            patch_merge_key: f.patch_merge_key,
            list_type: f.list_type,
            list_map_keys: f.map_keys,
            map_type,
            shape: f.shape,
        })
    }

    /// The type strategic merge descends into below a field: the struct of the field, of its
    /// list items, or the synthetic map type (see [`map_type_name`]) of a map of structs.
    pub fn merge_type(&self, shape: &Shape<'_>) -> Option<&str> {
        match shape {
            Shape::Object(name) => self
                .definitions
                .get_key_value(*name)
                .map(|(k, _)| k.as_str()),
            Shape::Array(inner) => self.merge_type(inner),
            Shape::Map(inner) => {
                let value = inner.type_name()?;
                self.map_types
                    .get_key_value(&map_type_name(value))
                    .map(|(k, _)| k.as_str())
            }
            _ => None,
        }
    }

    /// The definition name of a field's struct type, or of its list items / map values.
    pub fn field_type(&self, type_name: &str, name: &str) -> Option<&str> {
        self.field(type_name, name)?.shape.type_name()
    }

    /// The fields of `obj` (an object of kind `gvk`) that its type does not declare, as
    /// upstream's strict decoding names them (`spec.template.spec.containers[0].imagePullPolice`).
    /// Kinds without a schema have no unknown fields.
    pub fn unknown_fields(&self, gvk: Gvk<'_>, obj: &Value) -> Vec<String> {
        let mut copy = obj.clone();
        self.prune_unknown(gvk, &mut copy)
    }

    /// Drop the unknown fields of `obj` (as decoding into the typed struct does) and return
    /// their paths.
    pub fn prune_unknown(&self, gvk: Gvk<'_>, obj: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(name) = self.kind_type(gvk) {
            prune::prune_value(self, &Shape::Object(name), obj, "", &mut out);
        }
        out
    }
}

impl crate::strategic::MergeSchema for Schemas {
    fn field<'a>(&'a self, ty: &str, name: &str) -> Option<crate::strategic::FieldRef<'a>> {
        use crate::strategic::{FieldRef, MergeInfo as SmpInfo, Strategy};
        if let Some(value) = self.map_types.get(ty) {
            // Every key of a map of structs holds the value type.
            let _ = name;
            return Some(FieldRef {
                ty: self
                    .definitions
                    .get_key_value(value)
                    .map(|(k, _)| k.as_str()),
                merge: SmpInfo::default(),
            });
        }
        let info = self.merge_info(ty, name)?;
        let strategy = if info.replaces() {
            Strategy::Replace
        } else if info.merges() {
            Strategy::Merge {
                key: info.patch_merge_key,
            }
        } else {
            Strategy::Default
        };
        Some(FieldRef {
            ty: self.merge_type(&info.shape),
            merge: SmpInfo {
                strategy,
                retain_keys: info.retains_keys(),
            },
        })
    }
}
