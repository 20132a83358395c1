//! The OpenAPI of custom resources, as apiextensions-apiserver's
//! `pkg/controller/openapi/builder` renders a CRD version: the kind and its list as definitions
//! named by the reversed group (`com.example.v1.Widget`, `com.example.v1.WidgetList`) with
//! `x-kubernetes-group-version-kind`, `metadata` a reference to ObjectMeta (ListMeta for the
//! list), `apiVersion`/`kind` with the TypeMeta descriptions, and the same paths and operations
//! as a built-in resource.
//!
//! Definitions are built in Swagger 2.0 form (`#/definitions/` references); the v3 documents
//! convert them like the built-in ones. For v2, the schema goes through upstream's
//! `ToStructuralOpenAPIV2` first (no `allOf`/`anyOf`/`oneOf`/`not`; nullable and
//! unknown-preserving nodes lose what kubectl's v2 reader cannot cope with).

use serde_json::{Map, Value, json};

use super::paths::{PathItem, resource_operations};
use crate::registry::ResourceInfo;
use crate::schema::REF_PREFIX;

/// ObjectMeta's definition name.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// ListMeta's definition name.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const EMBEDDED_API_VERSION_DESCRIPTION: &str = "apiVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const EMBEDDED_KIND_DESCRIPTION: &str = "kind is a string value representing the type of this object. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// One served version of a custom resource, as the OpenAPI documents describe it.
#[derive(Clone, Debug)]
pub struct CustomKind {
    pub info: &'static ResourceInfo,
    /// `status.acceptedNames.listKind` (`WidgetList`).
    pub list_kind: String,
    /// The version's `schema.openAPIV3Schema` (None: the CRD declares none).
    pub schema: Option<Value>,
}

impl PartialEq for CustomKind {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.info, other.info);
        (
            a.group,
            a.version,
            a.plural,
            a.kind,
            a.namespaced,
            a.status,
            a.scale,
        ) == (
            b.group,
            b.version,
            b.plural,
            b.kind,
            b.namespaced,
            b.status,
            b.scale,
        ) && self.list_kind == other.list_kind
            && self.schema == other.schema
    }
}

/// `util.ToRESTFriendlyName("<group>/<version>/<kind>")`: the group's labels reversed, then
/// version and kind, dot-separated (`com.example.v1.Widget`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

fn gvk_extension(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

impl CustomKind {
    /// The kind's definition name.
    pub fn definition_name(&self) -> String {
        definition_name(self.info.group, self.info.version, self.info.kind)
    }

    /// The list kind's definition name.
    pub fn list_definition_name(&self) -> String {
        definition_name(self.info.group, self.info.version, &self.list_kind)
    }

    /// The kind's definition (`buildKubeNative`); `v2` renders it for the Swagger 2.0 document.
    pub fn kind_definition(&self, v2: bool) -> Value {
        let i = self.info;
        let schema = self.schema.as_ref().filter(|s| {
            // Upstream's v2 cannot express "anything goes" at the root: a bare object.
            !(v2 && flag(s, "x-kubernetes-preserve-unknown-fields"))
        });
        let mut def = match schema {
            None => json!({"type": "object"}),
            Some(s) => {
                let mut s = s.clone();
                if v2 {
                    to_v2(&mut s);
                }
                if !s.is_object() {
                    s = json!({});
                }
                set_property(&mut s, "metadata", {
                    let mut m = reference(OBJECT_META);
                    m["description"] = json!(METADATA_DESCRIPTION);
                    m
                });
                set_property(
                    &mut s,
                    "apiVersion",
                    json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
                );
                set_property(
                    &mut s,
                    "kind",
                    json!({"description": KIND_DESCRIPTION, "type": "string"}),
                );
                add_embedded_properties(&mut s);
                s
            }
        };
        def["x-kubernetes-group-version-kind"] = gvk_extension(i.group, i.version, i.kind);
        def
    }

    /// The list kind's definition (`buildListSchema`).
    pub fn list_definition(&self) -> Value {
        let i = self.info;
        let mut items = json!({"type": "array", "items": reference(&self.definition_name())});
        items["description"] = json!(format!(
            "List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
            i.plural
        ));
        let mut metadata = reference(LIST_META);
        metadata["description"] = json!(LIST_METADATA_DESCRIPTION);
        json!({
            "description": format!("{} is a list of {}", self.list_kind, i.kind),
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
                "items": items,
                "kind": {"description": KIND_DESCRIPTION, "type": "string"},
                "metadata": metadata,
            },
            "x-kubernetes-group-version-kind": gvk_extension(i.group, i.version, &self.list_kind),
        })
    }

    /// Both definitions by name (Swagger 2.0 form when `v2`, else ready for [`super::to_v3`]).
    pub fn definitions(&self, v2: bool) -> [(String, Value); 2] {
        [
            (self.definition_name(), self.kind_definition(v2)),
            (self.list_definition_name(), self.list_definition()),
        ]
    }

    /// The resource's paths and operations, appended to `out` (unsorted).
    pub fn operations(&self, out: &mut Vec<PathItem>) {
        resource_operations(
            self.info,
            &self.definition_name(),
            Some(self.list_definition_name()),
            false,
            out,
        );
    }
}

fn flag(s: &Value, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool) == Some(true)
}

/// Set `properties.<name>` of an object schema (creating `properties`).
fn set_property(s: &mut Value, name: &str, prop: Value) {
    let Some(m) = s.as_object_mut() else { return };
    let props = m
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if !props.is_object() {
        *props = Value::Object(Map::new());
    }
    if let Some(p) = props.as_object_mut() {
        p.insert(name.to_string(), prop);
    }
}

/// Every sub-schema of a node (properties, items, additionalProperties) — mutable.
fn children_mut(s: &mut Value, mut f: impl FnMut(&mut Value)) {
    let Some(m) = s.as_object_mut() else { return };
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(&mut f);
    }
    if let Some(items @ Value::Object(_)) = m.get_mut("items") {
        f(items);
    }
    if let Some(ap @ Value::Object(_)) = m.get_mut("additionalProperties") {
        f(ap);
    }
}

/// `addEmbeddedProperties`: nodes with `x-kubernetes-embedded-resource` get `apiVersion`,
/// `kind` and `metadata` properties, and require `apiVersion` and `kind`.
fn add_embedded_properties(s: &mut Value) {
    children_mut(s, add_embedded_properties);
    if !flag(s, "x-kubernetes-embedded-resource") {
        return;
    }
    set_property(
        s,
        "apiVersion",
        json!({"description": EMBEDDED_API_VERSION_DESCRIPTION, "type": "string"}),
    );
    set_property(
        s,
        "kind",
        json!({"description": EMBEDDED_KIND_DESCRIPTION, "type": "string"}),
    );
    let mut m = reference(OBJECT_META);
    m["description"] = json!(METADATA_DESCRIPTION);
    set_property(s, "metadata", m);
    let Some(obj) = s.as_object_mut() else { return };
    let required = obj
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(r) = required.as_array_mut() {
        for name in ["kind", "apiVersion"] {
            if !r.iter().any(|v| v == name) {
                r.push(json!(name));
            }
        }
    }
}

/// `openapiv2.ToStructuralOpenAPIV2` on a raw schema node, recursively.
fn to_v2(s: &mut Value) {
    let Some(m) = s.as_object_mut() else { return };
    for k in ["allOf", "anyOf", "oneOf", "not"] {
        m.remove(k);
    }
    if m.remove("nullable").and_then(|v| v.as_bool()) == Some(true) {
        // Untyped values break kubectl when items or properties are set.
        m.remove("type");
        m.remove("items");
        m.remove("properties");
    }
    if m.get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
    {
        m.remove("items");
        m.remove("properties");
    }
    if !m.contains_key("items") && m.get("type").and_then(Value::as_str) == Some("array") {
        m.remove("type");
    }
    // A nullable property is not required in v2.
    let nullable: Vec<String> = m
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, v)| flag(v, "nullable"))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if !nullable.is_empty()
        && let Some(Value::Array(req)) = m.get_mut("required")
    {
        req.retain(|r| r.as_str().is_none_or(|r| !nullable.iter().any(|n| n == r)));
        if req.is_empty() {
            m.remove("required");
        }
    }
    children_mut(s, to_v2);
}
