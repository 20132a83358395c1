//! Validation of a custom resource against its schema: kube-openapi's schema validator as
//! `apiextensions-apiserver` converts its results to field errors, then list-type uniqueness
//! (`listtype/validation.go`) and embedded-resource metadata (`objectmeta/validation.go`).

use super::path;
use super::schema::{Additional, Node, Schema};
use crate::names::{NameRule, is_dns1035_label, validate_object_meta};
use crate::status::{FieldError, FieldErrorType};
use serde_json::{Map, Value};

impl Schema {
    /// Validate a custom resource. Root `metadata` is checked against the schema only as far as
    /// the schema restricts it (name/generateName); the caller validates it as ObjectMeta
    /// (`names::validate_object_meta`), as upstream's strategy does. Embedded resources
    /// (`x-kubernetes-embedded-resource`) get their apiVersion/kind/metadata validated here.
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_node(&self.root, obj, "", &mut errs);
        if let Value::Object(m) = obj {
            list_sets_and_maps_object(&self.root, m, "", &mut errs);
        }
        embedded_meta(&self.root, obj, "", true, &mut errs);
        errs
    }
}

/// Go's `%v` of a float64 (integral values without a fraction).
pub(crate) fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f}")
    }
}

/// Go's `%q` of a string (close enough: Rust's debug escaping).
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// The JSON type name kube-openapi infers from a value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn invalid_type(name: &str, ty: &str, got: &str) -> FieldError {
    // upstream: field.TypeInvalid (reason FieldValueTypeInvalid, same message as Invalid)
    FieldError::invalid(
        name,
        got,
        format!("{name} in body must be of type {ty}: {}", go_quote(got)),
    )
}

fn too_many(name: &str, actual: usize, max: i64) -> FieldError {
    FieldError {
        kind: FieldErrorType::TooMany,
        field: name.to_string(),
        value: Some(Value::from(actual)),
        detail: format!(
            "must have at most {max} {}",
            if max == 1 { "item" } else { "items" }
        ),
    }
}

/// Numeric-aware JSON equality (1 == 1.0), as Go's convert-then-DeepEqual of enum values.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn is_integral(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// Validate `data` against `n`; `name` is kube-openapi's path (`spec.items[0].name`, `""` at the
/// root). Errors are field errors as `kubeOpenAPIResultToFieldErrors` builds them.
pub(crate) fn validate_node(n: &Node, data: &Value, name: &str, errs: &mut Vec<FieldError>) {
    if data.is_null() {
        if let Some(types) = n.types()
            && !n.nullable
        {
            errs.push(invalid_type(name, &types.join(","), "null"));
        }
        check_enum(n, data, name, errs);
        return;
    }
    // type
    if let Some(types) = n.types() {
        let got = json_type(data);
        let ok = types.contains(&got)
            || (got == "number" && is_integral(data) && types.contains(&"integer"))
            || (got == "integer" && types.contains(&"number"));
        if !ok {
            errs.push(invalid_type(name, &types.join(","), got));
        }
    }
    // allOf / anyOf / oneOf / not
    schema_props(n, data, name, errs);
    // string
    if let Value::String(s) = data {
        let len = s.chars().count() as i64;
        if let Some(max) = n.max_length.filter(|m| len > *m) {
            errs.push(FieldError::too_long(name, s.as_str(), max.max(0) as usize));
        }
        if let Some(min) = n.min_length.filter(|m| len < *m) {
            errs.push(FieldError::invalid(
                name,
                s.as_str(),
                format!("{name} in body should be at least {min} chars long"),
            ));
        }
        if let Some(p) = &n.pattern
            && !p.re.is_match(s)
        {
            errs.push(FieldError::invalid(
                name,
                s.as_str(),
                format!("{name} in body should match '{}'", p.source),
            ));
        }
        // format
        if let Some(f) = &n.format
            && !super::formats_ok(f, s)
        {
            errs.push(FieldError::invalid(
                name,
                s.as_str(),
                format!("{name} in body must be of type {f}: {}", go_quote(s)),
            ));
        }
    }
    // number
    if let (Value::Number(num), Some(x)) = (data, data.as_f64()) {
        if let Some(factor) = n.multiple_of.filter(|f| *f > 0.0) {
            let q = x / factor;
            if q.fract() != 0.0 || !q.is_finite() {
                errs.push(FieldError::invalid(
                    name,
                    Value::Number(num.clone()),
                    format!(
                        "{name} in body should be a multiple of {}",
                        go_float(factor)
                    ),
                ));
            }
        }
        if let Some(max) = n.maximum {
            let bad = if n.exclusive_maximum {
                x >= max
            } else {
                x > max
            };
            if bad {
                let rel = if n.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errs.push(FieldError::invalid(
                    name,
                    Value::Number(num.clone()),
                    format!("{name} in body should be {rel} {}", go_float(max)),
                ));
            }
        }
        if let Some(min) = n.minimum {
            let bad = if n.exclusive_minimum {
                x <= min
            } else {
                x < min
            };
            if bad {
                let rel = if n.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errs.push(FieldError::invalid(
                    name,
                    Value::Number(num.clone()),
                    format!("{name} in body should be {rel} {}", go_float(min)),
                ));
            }
        }
    }
    // array
    if let Value::Array(items) = data {
        if let Some(is) = &n.items {
            for (i, v) in items.iter().enumerate() {
                validate_node(is, v, &path::index(name, i), errs);
            }
        }
        let size = items.len() as i64;
        if let Some(min) = n.min_items.filter(|m| size < *m) {
            errs.push(FieldError::invalid(
                name,
                size,
                format!("{name} in body should have at least {min} items"),
            ));
        }
        if let Some(max) = n.max_items.filter(|m| size > *m) {
            errs.push(too_many(name, items.len(), max));
        }
        if n.unique_items
            && items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)))
        {
            errs.push(FieldError::invalid(
                name,
                "",
                format!("{name} in body shouldn't contain duplicates"),
            ));
        }
    }
    check_enum(n, data, name, errs);
    if let Value::Object(m) = data {
        validate_object(n, m, name, errs);
    }
}

fn check_enum(n: &Node, data: &Value, name: &str, errs: &mut Vec<FieldError>) {
    let Some(values) = &n.enum_values else { return };
    if values.iter().any(|e| json_eq(e, data)) {
        return;
    }
    let supported: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
    errs.push(FieldError::not_supported(name, data.clone(), &refs));
}

/// kube-openapi's object validator.
fn validate_object(n: &Node, m: &Map<String, Value>, name: &str, errs: &mut Vec<FieldError>) {
    let count = m.len() as i64;
    if let Some(min) = n.min_properties.filter(|x| count < *x) {
        errs.push(FieldError::invalid(
            name,
            count,
            format!("{name} in body should have at least {min} properties"),
        ));
        return;
    }
    if let Some(max) = n.max_properties.filter(|x| count > *x) {
        errs.push(too_many(name, m.len(), max));
        return;
    }
    match &n.additional {
        Some(Additional::Bool(false)) => {
            for k in m.keys().filter(|k| !n.properties.contains_key(*k)) {
                errs.push(FieldError::invalid(
                    name,
                    k.as_str(),
                    format!("{name}.{k} in body is a forbidden property"),
                ));
            }
        }
        Some(Additional::Schema(s)) => {
            for (k, v) in m.iter().filter(|(k, _)| !n.properties.contains_key(*k)) {
                validate_node(s, v, &format!("{name}.{k}"), errs);
            }
        }
        _ => {}
    }
    for (k, s) in &n.properties {
        if let Some(v) = m.get(k) {
            validate_node(s, v, &path::child(name, k), errs);
        }
    }
    for k in &n.required {
        if !m.contains_key(k) {
            errs.push(FieldError::required(path::child(name, k), ""));
        }
    }
}

/// allOf / anyOf / oneOf / not, as go-openapi's schemaPropsValidator.
fn schema_props(n: &Node, data: &Value, name: &str, errs: &mut Vec<FieldError>) {
    let run = |s: &Node| {
        let mut e = Vec::new();
        validate_node(s, data, name, &mut e);
        e
    };
    if !n.any_of.is_empty() {
        let results: Vec<Vec<FieldError>> = n.any_of.iter().map(run).collect();
        if !results.iter().any(Vec::is_empty) {
            errs.push(FieldError::invalid(
                name,
                "",
                format!("{name} in body must validate at least one schema (anyOf)"),
            ));
            if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                errs.extend(best);
            }
        }
    }
    if !n.one_of.is_empty() {
        let results: Vec<Vec<FieldError>> = n.one_of.iter().map(run).collect();
        let valid = results.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let extra = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            errs.push(FieldError::invalid(
                name,
                "",
                format!("{name} in body must validate one and only one schema (oneOf). {extra}"),
            ));
            if valid == 0
                && let Some(best) = results.into_iter().min_by_key(Vec::len)
            {
                errs.extend(best);
            }
        }
    }
    if !n.all_of.is_empty() {
        let mut validated = 0;
        for s in &n.all_of {
            let r = run(s);
            if r.is_empty() {
                validated += 1;
            }
            errs.extend(r);
        }
        if validated != n.all_of.len() {
            let extra = if validated == 0 {
                ". Validated none"
            } else {
                ""
            };
            errs.push(FieldError::invalid(
                name,
                "",
                format!("{name} in body must validate all the schemas (allOf){extra}"),
            ));
        }
    }
    if let Some(not) = &n.not
        && run(not).is_empty()
    {
        errs.push(FieldError::invalid(
            name,
            "",
            format!("{name} in body must not validate the schema (not)"),
        ));
    }
}

/// `ValidateListSetsAndMaps` over an object's declared properties and additionalProperties.
fn list_sets_and_maps_object(
    n: &Node,
    m: &Map<String, Value>,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(a) = n.additional.as_ref().and_then(Additional::schema) {
        for (k, v) in m {
            list_sets_and_maps(a, v, &path::key(p, k), errs);
        }
    }
    for (k, v) in m {
        if let Some(s) = n.properties.get(k) {
            list_sets_and_maps(s, v, &path::child(p, k), errs);
        }
    }
}

fn list_sets_and_maps(n: &Node, v: &Value, p: &str, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(m) => list_sets_and_maps_object(n, m, p, errs),
        Value::Array(items) => {
            match n.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique(items) {
                        errs.push(FieldError::duplicate(path::index(p, i), items[i].clone()));
                    }
                }
                Some("map") => list_map(n, items, p, errs),
                _ => {}
            }
            if let Some(is) = &n.items {
                for (i, x) in items.iter().enumerate() {
                    list_sets_and_maps(is, x, &path::index(p, i), errs);
                }
            }
        }
        _ => {}
    }
}

/// Indices of the second occurrence of each repeated value.
fn non_unique(items: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let earlier = items[..i].iter().filter(|b| json_eq(a, b)).count();
        if earlier == 1 {
            out.push(i);
        }
    }
    out
}

fn list_map(n: &Node, items: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(FieldError::invalid(
                path::index(p, i),
                x.clone(),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    // the key of each item: the present key fields (a missing key is its own value)
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut k = Map::new();
            if let Value::Object(m) = x {
                for f in &n.list_map_keys {
                    if let Some(v) = m.get(f) {
                        k.insert(f.clone(), v.clone());
                    }
                }
            }
            Value::Object(k)
        })
        .collect();
    for i in non_unique(&keys) {
        errs.push(FieldError::duplicate(path::index(p, i), keys[i].clone()));
    }
}

/// `objectmeta.Validate`: apiVersion/kind/metadata of embedded resources.
fn embedded_meta(n: &Node, v: &Value, p: &str, is_root: bool, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(m) => {
            if n.embedded && !is_root {
                embedded_resource(m, p, errs);
            }
            for (k, x) in m {
                if let Some(s) = n.properties.get(k) {
                    embedded_meta(s, x, &path::child(p, k), false, errs);
                } else if let Some(a) = n.additional.as_ref().and_then(Additional::schema) {
                    embedded_meta(a, x, &path::key(p, k), false, errs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &n.items {
                for (i, x) in items.iter().enumerate() {
                    embedded_meta(is, x, &path::index(p, i), false, errs);
                }
            }
        }
        _ => {}
    }
}

fn embedded_resource(m: &Map<String, Value>, p: &str, errs: &mut Vec<FieldError>) {
    let av = path::child(p, "apiVersion");
    let kp = path::child(p, "kind");
    match m.get("apiVersion") {
        None => errs.push(FieldError::required(av, "")),
        Some(Value::String(s)) if s.is_empty() => errs.push(FieldError::required(av, "")),
        Some(Value::String(s)) => {
            if let Err(e) = parse_group_version(s) {
                errs.push(FieldError::invalid(av, s.as_str(), e));
            }
        }
        Some(other) => errs.push(FieldError::invalid(av, other.clone(), "must be a string")),
    }
    match m.get("kind") {
        None => errs.push(FieldError::required(kp, "")),
        Some(Value::String(s)) if s.is_empty() => errs.push(FieldError::required(kp, "")),
        Some(Value::String(s)) => {
            let problems = is_dns1035_label(&s.to_lowercase());
            if !problems.is_empty() {
                errs.push(FieldError::invalid(
                    kp,
                    s.as_str(),
                    format!(
                        "may have mixed case, but should otherwise match: {}",
                        problems.join(",")
                    ),
                ));
            }
        }
        Some(other) => errs.push(FieldError::invalid(kp, other.clone(), "must be a string")),
    }
    if let Some(meta) = m.get("metadata") {
        let mp = path::child(p, "metadata");
        if !meta.is_object() {
            errs.push(FieldError::invalid(
                mp,
                meta.clone(),
                "json: cannot unmarshal into Go value of type v1.ObjectMeta",
            ));
            return;
        }
        let mut meta = meta.clone();
        if let Value::Object(mm) = &mut meta
            && mm
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            mm.insert("name".into(), Value::from("fakename"));
        }
        let namespaced = meta
            .get("namespace")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        errs.extend(validate_object_meta(
            Some(&meta),
            namespaced,
            NameRule::PathSegment,
            &mp,
        ));
    }
}

/// `schema.ParseGroupVersion`.
fn parse_group_version(s: &str) -> Result<(), String> {
    if s == "/" || s.matches('/').count() <= 1 {
        Ok(())
    } else {
        Err(format!("unexpected GroupVersion string: {s}"))
    }
}
