//! The gnostic `openapi.v2.Document` protobuf encoding of a Swagger 2.0 document
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), which kubectl 1.27 and 1.28
//! fetch from `/openapi/v2` for their `fieldValidation` support check and patch metadata.
//!
//! Field numbers follow gnostic's `openapiv2/OpenAPIv2.proto`. Only what a Kubernetes document
//! uses is encoded: info, paths (operations, parameters, responses), definitions (schemas with
//! properties, items, additionalProperties, allOf, required, enum, defaults and vendor
//! extensions). Vendor extension values are written as YAML (JSON is valid YAML).

use serde_json::Value;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        bytes(out, field, s.as_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn boolean(out: &mut Vec<u8>, field: u32, b: bool) {
    if b {
        key(out, field, VARINT);
        out.push(1);
    }
}

fn int64(out: &mut Vec<u8>, field: u32, v: i64) {
    if v != 0 {
        key(out, field, VARINT);
        varint(out, v as u64);
    }
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    if v != 0.0 {
        key(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// An embedded message.
fn message(out: &mut Vec<u8>, field: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    build(&mut inner);
    bytes(out, field, &inner);
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn strings(out: &mut Vec<u8>, field: u32, v: Option<&Value>) {
    for s in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = s.as_str() {
            bytes(out, field, s.as_bytes());
        }
    }
}

/// `Any { string yaml = 2; }`
fn any(out: &mut Vec<u8>, field: u32, v: &Value) {
    let yaml = serde_json::to_string(v).unwrap_or_default();
    message(out, field, |m| string(m, 2, &yaml));
}

/// `repeated NamedAny vendor_extension` for the `x-` keys of an object.
fn vendor_extensions(out: &mut Vec<u8>, field: u32, v: &Value) {
    for (k, val) in v.as_object().into_iter().flatten() {
        if k.starts_with("x-") {
            message(out, field, |m| {
                string(m, 1, k);
                any(m, 2, val);
            });
        }
    }
}

/// The encoded `openapi.v2.Document`.
pub fn encode_document(doc: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 << 20);
    string(&mut out, 1, str_of(doc, "swagger"));
    if let Some(info) = doc.get("info") {
        message(&mut out, 2, |m| {
            string(m, 1, str_of(info, "title"));
            string(m, 2, str_of(info, "version"));
            string(m, 3, str_of(info, "description"));
        });
    }
    string(&mut out, 3, str_of(doc, "host"));
    string(&mut out, 4, str_of(doc, "basePath"));
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        message(&mut out, 8, |m| {
            for (name, item) in paths {
                message(m, 2, |np| {
                    string(np, 1, name);
                    message(np, 2, |p| path_item(p, item));
                });
            }
        });
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        message(&mut out, 9, |m| {
            for (name, s) in defs {
                message(m, 1, |ns| {
                    string(ns, 1, name);
                    message(ns, 2, |sm| schema(sm, s));
                });
            }
        });
    }
    vendor_extensions(&mut out, 16, doc);
    out
}

fn path_item(out: &mut Vec<u8>, item: &Value) {
    string(out, 1, str_of(item, "$ref"));
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(op) = item.get(method) {
            message(out, field, |m| operation(m, op));
        }
    }
    for p in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message(out, 9, |m| parameters_item(m, p));
    }
    vendor_extensions(out, 10, item);
}

fn operation(out: &mut Vec<u8>, op: &Value) {
    strings(out, 1, op.get("tags"));
    string(out, 2, str_of(op, "summary"));
    string(out, 3, str_of(op, "description"));
    string(out, 5, str_of(op, "operationId"));
    strings(out, 6, op.get("produces"));
    strings(out, 7, op.get("consumes"));
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message(out, 8, |m| parameters_item(m, p));
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        message(out, 9, |m| {
            for (code, resp) in responses {
                message(m, 1, |nr| {
                    string(nr, 1, code);
                    // ResponseValue { Response response = 1; }
                    message(nr, 2, |rv| {
                        message(rv, 1, |r| {
                            string(r, 1, str_of(resp, "description"));
                            if let Some(s) = resp.get("schema") {
                                // SchemaItem { Schema schema = 1; }
                                message(r, 2, |si| message(si, 1, |sm| schema(sm, s)));
                            }
                        });
                    });
                });
            }
        });
    }
    strings(out, 10, op.get("schemes"));
    boolean(
        out,
        11,
        op.get("deprecated").and_then(Value::as_bool) == Some(true),
    );
    vendor_extensions(out, 13, op);
}

fn parameters_item(out: &mut Vec<u8>, p: &Value) {
    if let Some(r) = p.get("$ref").and_then(Value::as_str) {
        // JsonReference { string _ref = 1; }
        message(out, 2, |m| string(m, 1, r));
        return;
    }
    // Parameter
    message(out, 1, |param| {
        let location = str_of(p, "in");
        if location == "body" {
            message(param, 1, |b| {
                string(b, 1, str_of(p, "description"));
                string(b, 2, str_of(p, "name"));
                string(b, 3, location);
                boolean(
                    b,
                    4,
                    p.get("required").and_then(Value::as_bool) == Some(true),
                );
                if let Some(s) = p.get("schema") {
                    message(b, 5, |sm| schema(sm, s));
                }
                vendor_extensions(b, 6, p);
            });
            return;
        }
        // NonBodyParameter: header 1, formData 2, query 3, path 4. The sub-schemas share the
        // leading fields; `type` is 6 for query/formData (after allow_empty_value) and 5 for
        // header/path; unique_items 20 or 19; vendor extensions 23 or 22.
        let (which, ty, unique, ext) = match location {
            "query" => (3, 6, 20, 23),
            "formData" => (2, 6, 20, 23),
            "header" => (1, 5, 19, 22),
            _ => (4, 5, 19, 22),
        };
        message(param, 2, |nb| {
            message(nb, which, |s| {
                boolean(
                    s,
                    1,
                    p.get("required").and_then(Value::as_bool) == Some(true),
                );
                string(s, 2, location);
                string(s, 3, str_of(p, "description"));
                string(s, 4, str_of(p, "name"));
                string(s, ty, str_of(p, "type"));
                boolean(
                    s,
                    unique,
                    p.get("uniqueItems").and_then(Value::as_bool) == Some(true),
                );
                vendor_extensions(s, ext, p);
            });
        });
    });
}

fn schema(out: &mut Vec<u8>, s: &Value) {
    string(out, 1, str_of(s, "$ref"));
    string(out, 2, str_of(s, "format"));
    string(out, 3, str_of(s, "title"));
    string(out, 4, str_of(s, "description"));
    if let Some(d) = s.get("default") {
        any(out, 5, d);
    }
    let num = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
    double(out, 6, num("multipleOf"));
    double(out, 7, num("maximum"));
    boolean(
        out,
        8,
        s.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true),
    );
    double(out, 9, num("minimum"));
    boolean(
        out,
        10,
        s.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true),
    );
    int64(out, 11, int("maxLength"));
    int64(out, 12, int("minLength"));
    string(out, 13, str_of(s, "pattern"));
    int64(out, 14, int("maxItems"));
    int64(out, 15, int("minItems"));
    boolean(
        out,
        16,
        s.get("uniqueItems").and_then(Value::as_bool) == Some(true),
    );
    int64(out, 17, int("maxProperties"));
    int64(out, 18, int("minProperties"));
    strings(out, 19, s.get("required"));
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        any(out, 20, e);
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => message(out, 21, |m| {
            key(m, 2, VARINT);
            m.push(u8::from(*b));
        }),
        Some(ap @ Value::Object(_)) => message(out, 21, |m| message(m, 1, |sm| schema(sm, ap))),
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => message(out, 22, |m| string(m, 1, t)),
        Some(types @ Value::Array(_)) => message(out, 22, |m| strings(m, 1, Some(types))),
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(items)) => message(out, 23, |m| {
            for i in items {
                message(m, 1, |sm| schema(sm, i));
            }
        }),
        Some(item @ Value::Object(_)) => message(out, 23, |m| message(m, 1, |sm| schema(sm, item))),
        _ => {}
    }
    for a in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message(out, 24, |m| schema(m, a));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        message(out, 25, |m| {
            for (name, p) in props {
                message(m, 1, |ns| {
                    string(ns, 1, name);
                    message(ns, 2, |sm| schema(sm, p));
                });
            }
        });
    }
    boolean(
        out,
        27,
        s.get("readOnly").and_then(Value::as_bool) == Some(true),
    );
    vendor_extensions(out, 31, s);
}
