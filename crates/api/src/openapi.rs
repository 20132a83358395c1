//! The OpenAPI documents k3rs serves, built from the registry and [`crate::schema`]:
//! one OpenAPI v3 document per group-version (`/openapi/v3/apis/<group>/<version>`) and the
//! Swagger 2.0 document (`/openapi/v2`, also as gnostic protobuf via [`proto`]).
//!
//! Every operation carries `x-kubernetes-action` and `x-kubernetes-group-version-kind`, and
//! its query parameters inline (kubectl's `fieldValidation` support check looks for the
//! parameter by name on the PATCH operation of the kind). Component schemas keep upstream's
//! descriptions and list/patch metadata, so `kubectl explain` prints upstream's text.
//!
//! Custom resources ([`CustomKind`], from CRDs) join both: their group-versions get documents
//! of their own (or join a built-in one), and the v2 document gains their paths and
//! definitions ([`v2_add_custom`]).
//!
//! Nothing here does IO; the API server renders the documents once and serves bytes.

mod custom;
mod paths;
pub mod proto;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::registry;
use crate::schema::{self, INT_OR_STRING, QUANTITY, REF_PREFIX, Schemas};

pub use custom::{CustomKind, definition_name};
pub use paths::{Operation, Param, PathItem, operations, resource_operations};

/// The prefix of a v3 component schema reference.
pub const V3_REF_PREFIX: &str = "#/components/schemas/";

/// `info.version` of the documents.
pub const INFO_VERSION: &str = "v1.33.0";

/// The served group-versions as the v3 index names them: `api/v1`, `apis/apps/v1`, …
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("", "v1")];
    for g in registry::groups() {
        for v in g.versions {
            out.push((g.name, v));
        }
    }
    out
}

/// The v3 index key (and URL path below `/openapi/v3/`) of a group-version.
pub fn v3_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Every definition `roots` reference, transitively, roots included.
fn closure(schemas: &Schemas, roots: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = schemas.definition(&name) {
            collect_refs(def, &mut todo);
        }
    }
    seen
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "$ref" {
                    if let Some(name) = child.as_str().and_then(|r| r.strip_prefix(REF_PREFIX)) {
                        out.push(name.to_string());
                    }
                } else if !k.starts_with("x-") {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// A Swagger 2.0 schema in OpenAPI v3 form: a reference with siblings becomes
/// `allOf: [{$ref}]` beside them (as upstream renders), refs point at `components/schemas`.
fn to_v3(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let reference = m.get("$ref").and_then(Value::as_str).map(|r| {
                json!({"$ref": format!("{V3_REF_PREFIX}{}", r.strip_prefix(REF_PREFIX).unwrap_or(r))})
            });
            for (k, child) in m {
                match k.as_str() {
                    "$ref" => {}
                    "properties" => {
                        let props: Map<String, Value> = child
                            .as_object()
                            .map(|p| p.iter().map(|(n, s)| (n.clone(), to_v3(s))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    "items" | "additionalProperties" | "allOf" | "oneOf" | "anyOf" | "not" => {
                        out.insert(k.clone(), to_v3(child));
                    }
                    _ => {
                        out.insert(k.clone(), child.clone());
                    }
                }
            }
            if let Some(r) = reference {
                if out.is_empty() {
                    return r;
                }
                out.insert("allOf".into(), json!([r]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

/// A definition in v3 form (IntOrString and Quantity as upstream's v3 documents declare them).
fn definition_v3(name: &str, def: &Value) -> Value {
    let description = def.get("description").cloned().unwrap_or(Value::Null);
    match name {
        INT_OR_STRING => json!({
            "description": description,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }),
        QUANTITY => json!({
            "description": description,
            "oneOf": [{"type": "string"}, {"type": "number"}],
        }),
        _ => to_v3(def),
    }
}

/// The definitions operations of these paths refer to.
fn operation_refs(items: &[PathItem]) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        for op in &item.operations {
            out.extend(op.body.iter().cloned());
            out.extend(op.responses.iter().filter_map(|(_, r)| r.clone()));
        }
    }
    out
}

/// The OpenAPI v3 document of one built-in group-version, or None when it is not served.
pub fn v3_group_version(group: &str, version: &str) -> Option<Value> {
    v3_group_version_with(group, version, &[])
}

/// The group-versions custom resources are served at (sorted, each once).
pub fn custom_group_versions(custom: &[CustomKind]) -> Vec<(&'static str, &'static str)> {
    let gvs: BTreeSet<(&'static str, &'static str)> = custom
        .iter()
        .map(|k| (k.info.group, k.info.version))
        .collect();
    gvs.into_iter().collect()
}

/// The OpenAPI v3 document of one group-version with its built-in resources and those of
/// `custom` served in it (others are ignored), or None when neither serves anything there.
pub fn v3_group_version_with(group: &str, version: &str, custom: &[CustomKind]) -> Option<Value> {
    let schemas = schema::schemas();
    let custom: Vec<&CustomKind> = custom
        .iter()
        .filter(|k| k.info.group == group && k.info.version == version)
        .collect();
    if registry::resources_of(group, version).next().is_none() && custom.is_empty() {
        return None;
    }
    let mut items = operations(schemas, group, version);
    for k in &custom {
        k.operations(&mut items);
    }
    items.sort_by(|a, b| a.path.cmp(&b.path));
    let mut roots = operation_refs(&items);
    // Every kind of the group-version, even create-only ones.
    for r in registry::resources_of(group, version) {
        roots.extend(schemas.kind_type(r.into()).map(str::to_string));
    }
    let mut custom_defs = Map::new();
    for k in &custom {
        for (name, def) in k.definitions(false) {
            let mut refs = Vec::new();
            collect_refs(&def, &mut refs);
            roots.extend(refs);
            custom_defs.insert(name, to_v3(&def));
        }
    }
    // Custom definition names are not built-in ones: the closure passes over them.
    let names = closure(schemas, roots);
    let mut components = Map::new();
    for name in &names {
        if let Some(def) = schemas.definition(name) {
            components.insert(name.clone(), definition_v3(name, def));
        }
    }
    components.extend(custom_defs);
    let mut paths = Map::new();
    for item in &items {
        paths.insert(item.path.clone(), item.to_v3());
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}},
        },
        "security": [{"BearerToken": []}],
    }))
}

/// Add the paths and definitions of custom resources to a Swagger 2.0 document from
/// [`v2_document`].
pub fn v2_add_custom(doc: &mut Value, custom: &[CustomKind]) {
    let mut items = Vec::new();
    for k in custom {
        k.operations(&mut items);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in &items {
            paths.insert(item.path.clone(), item.to_v2());
        }
    }
    if let Some(defs) = doc.get_mut("definitions").and_then(Value::as_object_mut) {
        for k in custom {
            for (name, def) in k.definitions(true) {
                defs.insert(name, def);
            }
        }
    }
}

/// The Swagger 2.0 document of everything served.
pub fn v2_document() -> Value {
    let schemas = schema::schemas();
    let mut paths = BTreeMap::new();
    for (group, version) in group_versions() {
        for item in operations(schemas, group, version) {
            paths.insert(item.path.clone(), item.to_v2());
        }
    }
    let definitions: Map<String, Value> = schemas
        .definitions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    })
}
