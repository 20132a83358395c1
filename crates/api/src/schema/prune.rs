//! The unknown-field walk: what decoding JSON into upstream's typed structs drops (and strict
//! decoding reports), with upstream's field paths.

use serde_json::Value;

use super::{Schemas, Shape};

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Walk `v` by `shape`, removing undeclared struct fields and recording their paths in `out`.
/// Values of the wrong JSON type are left alone (decoding reports those itself).
pub(super) fn prune_value(
    schemas: &Schemas,
    shape: &Shape<'_>,
    v: &mut Value,
    path: &str,
    out: &mut Vec<String>,
) {
    match (shape, v) {
        (Shape::Object(name), Value::Object(obj)) => {
            let Some(props) = schemas.properties(name) else {
                return;
            };
            obj.retain(|key, value| match props.get(key) {
                Some(schema) => {
                    let shape = schemas.shape(schema);
                    prune_value(schemas, &shape, value, &join(path, key), out);
                    true
                }
                None => {
                    out.push(join(path, key));
                    false
                }
            });
        }
        (Shape::Array(inner), Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune_value(schemas, inner, item, &format!("{path}[{i}]"), out);
            }
        }
        (Shape::Map(inner), Value::Object(map)) => {
            for (key, value) in map.iter_mut() {
                prune_value(schemas, inner, value, &join(path, key), out);
            }
        }
        _ => {}
    }
}
