//! Loading the embedded artifact: gunzip, parse, normalize to upstream's Swagger 2.0 forms,
//! apply `list_metadata.tsv`, mark kinds with `x-kubernetes-group-version-kind`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Value, json};

use super::{INT_OR_STRING, KindDefinition, QUANTITY, SchemaError, Schemas};

/// The generated definitions (see `tools/gen-openapi`).
static ARTIFACT: &[u8] = include_bytes!("../openapi/definitions.json.gz");
/// Our table of list/map/patch metadata.
pub(super) static LIST_METADATA: &str = include_str!("../openapi/list_metadata.tsv");

#[derive(serde::Deserialize)]
struct Artifact {
    kinds: Vec<KindDefinition>,
    definitions: BTreeMap<String, Value>,
}

pub(super) fn load() -> Result<Schemas, SchemaError> {
    let mut raw = Vec::with_capacity(ARTIFACT.len() * 6);
    flate2::read::GzDecoder::new(ARTIFACT).read_to_end(&mut raw)?;
    let Artifact {
        kinds,
        mut definitions,
    } = serde_json::from_slice(&raw)?;
    normalize(&mut definitions);
    // k8s-openapi makes every resource's `metadata` non-optional (so schemars lists it as
    // required); upstream's schemas do not require it.
    for k in &kinds {
        if let Some(Value::Object(def)) = definitions.get_mut(&k.definition)
            && let Some(Value::Array(required)) = def.get_mut("required")
        {
            required.retain(|r| r != "metadata");
            if required.is_empty() {
                def.remove("required");
            }
        }
    }
    apply_list_metadata(&mut definitions, LIST_METADATA)?;
    for k in &kinds {
        if let Some(Value::Object(def)) = definitions.get_mut(&k.definition) {
            let entry = json!({"group": k.group, "kind": k.kind, "version": k.version});
            match def.get_mut("x-kubernetes-group-version-kind") {
                Some(Value::Array(list)) => list.push(entry),
                _ => {
                    def.insert("x-kubernetes-group-version-kind".into(), json!([entry]));
                }
            }
        }
    }
    let mut schemas = Schemas {
        definitions,
        kinds,
        map_types: BTreeMap::new(),
    };
    let mut map_types = BTreeMap::new();
    for def in schemas.definitions.values() {
        for prop in def
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values())
        {
            if let super::Shape::Map(inner) = schemas.shape(prop)
                && let Some(value) = inner.type_name()
            {
                map_types.insert(super::map_type_name(value), value.to_string());
            }
        }
    }
    schemas.map_types = map_types;
    Ok(schemas)
}

/// k8s-openapi's schemars output differs from upstream's Swagger in a few special types.
fn normalize(definitions: &mut BTreeMap<String, Value>) {
    let description = |v: &Value| v.get("description").cloned().unwrap_or(Value::Null);
    if let Some(v) = definitions.get_mut(INT_OR_STRING) {
        *v = json!({"description": description(v), "type": "string", "format": "int-or-string"});
    }
    if let Some(v) = definitions.get_mut(QUANTITY) {
        *v = json!({"description": description(v), "type": "string"});
    }
    for (name, v) in definitions.iter_mut() {
        // JSONSchemaPropsOr{Array,Bool,StringArray}: upstream declares no type at all.
        if name.contains("JSONSchemaPropsOr")
            && let Some(obj) = v.as_object_mut()
        {
            obj.remove("oneOf");
        }
    }
}

/// Apply the rows of the list metadata table to the definitions.
pub(super) fn apply_list_metadata(
    definitions: &mut BTreeMap<String, Value>,
    table: &str,
) -> Result<(), SchemaError> {
    const COLUMNS: [&str; 5] = [
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-patch-strategy",
        "x-kubernetes-patch-merge-key",
        "x-kubernetes-map-type",
    ];
    for (i, line) in table.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| SchemaError::ListMetadata {
            line: line_no,
            message,
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 2 + COLUMNS.len() {
            return Err(err(format!(
                "expected {} tab-separated columns, got {}",
                2 + COLUMNS.len(),
                cols.len()
            )));
        }
        let def = definitions
            .get_mut(cols[0])
            .ok_or_else(|| err(format!("no definition {:?}", cols[0])))?;
        let target = if cols[1] == "-" {
            def
        } else {
            def.get_mut("properties")
                .and_then(|p| p.get_mut(cols[1]))
                .ok_or_else(|| err(format!("{} has no field {:?}", cols[0], cols[1])))?
        };
        let Some(target) = target.as_object_mut() else {
            return Err(err("schema is not an object".into()));
        };
        for (ext, value) in COLUMNS.iter().zip(&cols[2..]) {
            if *value == "-" {
                continue;
            }
            let v = if *ext == "x-kubernetes-list-map-keys" {
                json!(value.split(',').collect::<Vec<_>>())
            } else {
                json!(value)
            };
            target.insert((*ext).to_string(), v);
        }
    }
    Ok(())
}
