//! The compiled schema tree and the structural-schema checks run when compiling it.

use super::path::{child, index, key};
use crate::status::FieldError;
use regex_lite::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A compiled CRD version schema (from `spec.versions[].schema.openAPIV3Schema`).
///
/// Built once per CRD version with [`Schema::compile`]; patterns are compiled then, not per
/// validation.
#[derive(Clone, Debug)]
pub struct Schema {
    pub(crate) root: Node,
}

/// A `pattern` with its compiled regular expression.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub source: String,
    pub re: Regex,
}

/// `additionalProperties`: a boolean or a schema.
#[derive(Clone, Debug)]
pub(crate) enum Additional {
    Bool(bool),
    Schema(Box<Node>),
}

impl Additional {
    /// The schema for additional properties, if one is given.
    pub fn schema(&self) -> Option<&Node> {
        match self {
            Self::Schema(s) => Some(s),
            Self::Bool(_) => None,
        }
    }
}

/// One node of a schema: both the structural part (type, properties, items,
/// additionalProperties, extensions) and its value validations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    pub ty: Option<String>,
    pub int_or_string: bool,
    pub nullable: bool,
    /// The format, kept only when upstream validates it (unsupported formats are stripped).
    pub format: Option<String>,
    pub properties: BTreeMap<String, Node>,
    pub additional: Option<Additional>,
    pub items: Option<Box<Node>>,
    pub required: Vec<String>,
    pub enum_values: Option<Vec<Value>>,
    pub pattern: Option<Pattern>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub unique_items: bool,
    pub default: Option<Value>,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
}

/// Formats of string schemas upstream validates (go-openapi names, `-` removed).
const STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "quantity",
];

impl Node {
    /// The types a value may have (`x-kubernetes-int-or-string` means integer or string).
    pub fn types(&self) -> Option<Vec<&str>> {
        if self.int_or_string {
            Some(vec!["integer", "string"])
        } else {
            self.ty.as_deref().map(|t| vec![t])
        }
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

/// Parse one schema node; JSON shape errors (wrong types of keywords) are appended to `errs`.
fn parse(v: &Value, p: &str, errs: &mut Vec<FieldError>) -> Node {
    let Some(m) = v.as_object() else {
        errs.push(FieldError::invalid(p, v.clone(), "must be an object"));
        return Node::default();
    };
    let mut n = Node::default();
    let str_of = |k: &str, errs: &mut Vec<FieldError>| -> Option<String> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errs.push(FieldError::invalid(
                    child(p, k),
                    other.clone(),
                    "must be a string",
                ));
                None
            }
        }
    };
    let bool_of = |k: &str, errs: &mut Vec<FieldError>| -> bool {
        match m.get(k) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                errs.push(FieldError::invalid(
                    child(p, k),
                    other.clone(),
                    "must be a boolean",
                ));
                false
            }
        }
    };
    let num_of = |k: &str, errs: &mut Vec<FieldError>| -> Option<f64> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::Number(x)) => x.as_f64(),
            Some(other) => {
                errs.push(FieldError::invalid(
                    child(p, k),
                    other.clone(),
                    "must be a number",
                ));
                None
            }
        }
    };
    let int_of = |k: &str, errs: &mut Vec<FieldError>| -> Option<i64> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(x) => match as_i64(x) {
                Some(i) => Some(i),
                None => {
                    errs.push(FieldError::invalid(
                        child(p, k),
                        x.clone(),
                        "must be an integer",
                    ));
                    None
                }
            },
        }
    };
    n.ty = str_of("type", errs).filter(|t| !t.is_empty());
    n.int_or_string = bool_of("x-kubernetes-int-or-string", errs);
    n.nullable = bool_of("nullable", errs);
    n.format = str_of("format", errs).filter(|f| {
        match n.ty.as_deref() {
            None | Some("string") => STRING_FORMATS.contains(&f.replace('-', "").as_str()),
            // kept but only checked as a type hint upstream
            Some("integer") => f == "int32" || f == "int64",
            Some("number") => f == "float" || f == "double",
            _ => false,
        }
    });
    n.maximum = num_of("maximum", errs);
    n.exclusive_maximum = bool_of("exclusiveMaximum", errs);
    n.minimum = num_of("minimum", errs);
    n.exclusive_minimum = bool_of("exclusiveMinimum", errs);
    n.multiple_of = num_of("multipleOf", errs);
    n.max_length = int_of("maxLength", errs);
    n.min_length = int_of("minLength", errs);
    n.max_items = int_of("maxItems", errs);
    n.min_items = int_of("minItems", errs);
    n.max_properties = int_of("maxProperties", errs);
    n.min_properties = int_of("minProperties", errs);
    n.unique_items = bool_of("uniqueItems", errs);
    n.preserve_unknown = bool_of("x-kubernetes-preserve-unknown-fields", errs);
    n.embedded = bool_of("x-kubernetes-embedded-resource", errs);
    n.list_type = str_of("x-kubernetes-list-type", errs);
    n.default = m.get("default").filter(|d| !d.is_null()).cloned();
    if let Some(pat) = str_of("pattern", errs).filter(|s| !s.is_empty()) {
        match Regex::new(&pat) {
            Ok(re) => n.pattern = Some(Pattern { source: pat, re }),
            Err(e) => errs.push(FieldError::invalid(
                child(p, "pattern"),
                pat.clone(),
                format!("must be a valid regular expression, but isn't: {e}"),
            )),
        }
    }
    match m.get("required") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            n.required = a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        }
        Some(other) => errs.push(FieldError::invalid(
            child(p, "required"),
            other.clone(),
            "must be an array of strings",
        )),
    }
    match m.get("x-kubernetes-list-map-keys") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            n.list_map_keys = a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        }
        Some(other) => errs.push(FieldError::invalid(
            child(p, "x-kubernetes-list-map-keys"),
            other.clone(),
            "must be an array of strings",
        )),
    }
    match m.get("enum") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => n.enum_values = Some(a.clone()),
        Some(other) => errs.push(FieldError::invalid(
            child(p, "enum"),
            other.clone(),
            "must be an array",
        )),
    }
    if let Some(Value::Object(props)) = m.get("properties") {
        let pp = child(p, "properties");
        for (k, s) in props {
            n.properties.insert(k.clone(), parse(s, &key(&pp, k), errs));
        }
    }
    match m.get("additionalProperties") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => n.additional = Some(Additional::Bool(*b)),
        Some(s) => {
            n.additional = Some(Additional::Schema(Box::new(parse(
                s,
                &child(p, "additionalProperties"),
                errs,
            ))))
        }
    }
    match m.get("items") {
        None | Some(Value::Null) | Some(Value::Array(_)) => {}
        Some(s) => n.items = Some(Box::new(parse(s, &child(p, "items"), errs))),
    }
    let list = |k: &str, errs: &mut Vec<FieldError>| -> Vec<Node> {
        match m.get(k) {
            Some(Value::Array(a)) => {
                let lp = child(p, k);
                a.iter()
                    .enumerate()
                    .map(|(i, s)| parse(s, &index(&lp, i), errs))
                    .collect()
            }
            _ => Vec::new(),
        }
    };
    n.all_of = list("allOf", errs);
    n.any_of = list("anyOf", errs);
    n.one_of = list("oneOf", errs);
    if let Some(s) = m.get("not").filter(|s| !s.is_null()) {
        n.not = Some(Box::new(parse(s, &child(p, "not"), errs)));
    }
    n
}

impl Schema {
    /// Compile an `openAPIV3Schema`. Errors are structural-schema and OpenAPI-schema errors with
    /// paths relative to the schema (`properties[spec].type`, `type` for the root); use
    /// [`Schema::compile_at`] to get them under `spec.versions[i].schema.openAPIV3Schema`.
    pub fn compile(open_api_v3_schema: &Value) -> Result<Schema, Vec<FieldError>> {
        Self::compile_at(open_api_v3_schema, "")
    }

    /// Like [`Schema::compile`], with every error path prefixed by `path`
    /// (e.g. `spec.versions[0].schema.openAPIV3Schema`).
    pub fn compile_at(open_api_v3_schema: &Value, path: &str) -> Result<Schema, Vec<FieldError>> {
        let mut shape = Vec::new();
        let root = parse(open_api_v3_schema, path, &mut shape);
        let mut errs = Vec::new();
        if root.nullable {
            errs.push(FieldError::forbidden(
                child(path, "nullable"),
                "nullable cannot be true at the root",
            ));
        }
        // structural invariants (sorted by message, as upstream), then defaults, then the
        // OpenAPI-schema checks.
        let mut structural = Vec::new();
        if let Some(m) = open_api_v3_schema.as_object() {
            structural_invariants(m, Level::Root, path, &mut structural);
            completeness(m, path, &mut structural);
        }
        structural.sort_by_key(|e| e.to_string());
        let structural_ok = structural.is_empty() && shape.is_empty();
        errs.extend(shape);
        errs.extend(structural);
        if structural_ok {
            validate_defaults(&root, path, Ctx::default(), true, &mut errs);
        }
        if let Some(m) = open_api_v3_schema.as_object() {
            openapi_checks(m, path, Ctx::default(), true, &mut errs);
        }
        if errs.is_empty() {
            Ok(Schema { root })
        } else {
            Err(errs)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn obj<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Map<String, Value>> {
    m.get(k).and_then(Value::as_object)
}

fn ty(m: &Map<String, Value>) -> &str {
    m.get("type").and_then(Value::as_str).unwrap_or("")
}

fn flag(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Keywords of the value-validation part of a schema (may appear under allOf/anyOf/oneOf/not).
const GENERIC_FORBIDDEN_NESTED: &[(&str, &str)] = &[
    ("type", "must be empty to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    (
        "x-kubernetes-list-map-keys",
        "must be empty to be structural",
    ),
    (
        "x-kubernetes-list-type",
        "must be undefined to be structural",
    ),
    (
        "x-kubernetes-map-type",
        "must be undefined to be structural",
    ),
    ("x-kubernetes-validations", "must be empty to be structural"),
];

/// `validateStructuralInvariants`.
fn structural_invariants(m: &Map<String, Value>, lvl: Level, p: &str, errs: &mut Vec<FieldError>) {
    let t = ty(m);
    let embedded = flag(m, "x-kubernetes-embedded-resource");
    let preserve = flag(m, "x-kubernetes-preserve-unknown-fields");
    let int_or_string = flag(m, "x-kubernetes-int-or-string");
    if t == "array" && m.get("items").is_none_or(Value::is_null) {
        errs.push(FieldError::required(child(p, "items"), "must be specified"));
    }
    if let Some(items) = obj(m, "items") {
        structural_invariants(items, Level::Item, &child(p, "items"), errs);
    }
    if let Some(props) = obj(m, "properties") {
        let pp = child(p, "properties");
        for (k, v) in props {
            if let Some(vm) = v.as_object() {
                structural_invariants(vm, Level::Field, &key(&pp, k), errs);
            }
        }
    }
    if m.get("additionalProperties").is_some_and(|a| !a.is_null()) {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(
                child(p, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Some(a) = obj(m, "additionalProperties") {
            structural_invariants(a, Level::Field, &child(p, "additionalProperties"), errs);
        }
    }
    if int_or_string && preserve {
        errs.push(FieldError::invalid(
            child(p, "x-kubernetes-preserve-unknown-fields"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(
            child(p, "x-kubernetes-embedded-resource"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(m);
    let skip_first_all_of_any_of = obj_list(m, "allOf")
        .first()
        .is_some_and(|f| is_int_or_string_any_of(f));
    value_validation(m, skip_any_of, skip_first_all_of_any_of, p, errs);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && t != "object" {
        if t.is_empty() {
            errs.push(FieldError::required(
                child(p, "type"),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        } else {
            errs.push(FieldError::invalid(
                child(p, "type"),
                t,
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        }
    } else if t.is_empty() && !int_or_string && !preserve {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(child(p, "type"), detail));
    }
    if embedded && m.get("additionalProperties").is_some_and(|a| !a.is_null()) {
        errs.push(FieldError::forbidden(
            child(p, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !t.is_empty() && t != "object" {
        errs.push(FieldError::invalid(
            child(p, "type"),
            t,
            "must be object at the root",
        ));
    }
    let props = obj(m, "properties");
    let pp = child(p, "properties");
    for meta_key in ["kind", "apiVersion"] {
        if let Some(k) = props.and_then(|ps| obj(ps, meta_key))
            && check_metadata
            && ty(k) != "string"
        {
            errs.push(FieldError::invalid(
                child(&key(&pp, meta_key), "type"),
                ty(k),
                "must be string",
            ));
        }
    }
    if let Some(md) = props.and_then(|ps| obj(ps, "metadata")) {
        let mp = key(&pp, "metadata");
        if check_metadata && ty(md) != "object" {
            errs.push(FieldError::invalid(
                child(&mp, "type"),
                ty(md),
                "must be object",
            ));
        }
        if lvl == Level::Root {
            let names_only = obj(md, "properties")
                .is_none_or(|ps| ps.keys().all(|k| k == "name" || k == "generateName"));
            let other = md
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "properties" | "default"));
            if !names_only || other {
                errs.push(FieldError::forbidden(
                    mp,
                    "must not specify anything other than name and generateName, but metadata is implicitly specified",
                ));
            }
        }
    }
    if embedded && !preserve && props.is_none_or(|ps| ps.is_empty()) {
        errs.push(FieldError::required(
            child(p, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

fn obj_list<'a>(m: &'a Map<String, Value>, k: &str) -> Vec<&'a Map<String, Value>> {
    match m.get(k) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// `anyOf: [{type: integer}, {type: string}]` exactly.
fn is_int_or_string_any_of(m: &Map<String, Value>) -> bool {
    let any = obj_list(m, "anyOf");
    any.len() == 2
        && any[0].len() == 1
        && ty(any[0]) == "integer"
        && any[1].len() == 1
        && ty(any[1]) == "string"
}

/// `validateValueValidation` of a structural node (its allOf/anyOf/oneOf/not).
fn value_validation(
    m: &Map<String, Value>,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, s) in obj_list(m, "anyOf").into_iter().enumerate() {
            nested_value_validation(s, false, &index(&child(p, "anyOf"), i), errs);
        }
    }
    for (i, s) in obj_list(m, "allOf").into_iter().enumerate() {
        nested_value_validation(
            s,
            skip_first_all_of_any_of && i == 0,
            &index(&child(p, "allOf"), i),
            errs,
        );
    }
    for (i, s) in obj_list(m, "oneOf").into_iter().enumerate() {
        nested_value_validation(s, false, &index(&child(p, "oneOf"), i), errs);
    }
    if let Some(s) = obj(m, "not") {
        nested_value_validation(s, false, &child(p, "not"), errs);
    }
}

/// `validateNestedValueValidation`: what may not appear under a logic junctor.
fn nested_value_validation(
    m: &Map<String, Value>,
    skip_any_of: bool,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    value_validation(m, skip_any_of, false, p, errs);
    if let Some(items) = obj(m, "items") {
        nested_value_validation(items, false, &child(p, "items"), errs);
    }
    if let Some(props) = obj(m, "properties") {
        let pp = child(p, "properties");
        for (k, v) in props {
            if let Some(vm) = v.as_object() {
                nested_value_validation(vm, false, &key(&pp, k), errs);
            }
        }
        if props.contains_key("metadata") {
            errs.push(FieldError::forbidden(
                key(&pp, "metadata"),
                "must not be specified in a nested context",
            ));
        }
    }
    if m.get("additionalProperties").is_some_and(|a| !a.is_null()) {
        errs.push(FieldError::forbidden(
            child(p, "additionalProperties"),
            "must be undefined to be structural",
        ));
    }
    for (k, detail) in GENERIC_FORBIDDEN_NESTED {
        let present = match m.get(*k) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if present {
            errs.push(FieldError::forbidden(child(p, k), *detail));
        }
    }
    for (k, detail) in [
        ("nullable", "must be false to be structural"),
        (
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-embedded-resource",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-int-or-string",
            "must be false to be structural",
        ),
    ] {
        if flag(m, k) {
            errs.push(FieldError::forbidden(child(p, k), detail));
        }
    }
}

/// `validateStructuralCompleteness`: properties/items used in value validations must be
/// specified in the structural part too.
fn completeness(s: &Map<String, Value>, p: &str, errs: &mut Vec<FieldError>) {
    fn vv(
        v: &Map<String, Value>,
        s: Option<&Map<String, Value>>,
        sp: &str,
        vp: &str,
        errs: &mut Vec<FieldError>,
    ) {
        for (k, list) in [
            ("allOf", true),
            ("anyOf", true),
            ("oneOf", true),
            ("not", false),
        ] {
            if list {
                for (i, n) in obj_list(v, k).into_iter().enumerate() {
                    nested(n, s, sp, &index(&child(vp, k), i), errs);
                }
            } else if let Some(n) = obj(v, k) {
                nested(n, s, sp, &child(vp, k), errs);
            }
        }
    }
    fn nested(
        v: &Map<String, Value>,
        s: Option<&Map<String, Value>>,
        sp: &str,
        vp: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let Some(s) = s else {
            errs.push(FieldError::required(
                sp,
                format!("because it is defined in {vp}"),
            ));
            return;
        };
        vv(v, Some(s), sp, vp, errs);
        if let Some(items) = obj(v, "items") {
            nested(
                items,
                obj(s, "items"),
                &child(sp, "items"),
                &child(vp, "items"),
                errs,
            );
        }
        if let Some(props) = obj(v, "properties") {
            for (k, vf) in props {
                let Some(vf) = vf.as_object() else { continue };
                let spk = key(&child(sp, "properties"), k);
                let vpk = key(&child(vp, "properties"), k);
                match obj(s, "properties").and_then(|ps| obj(ps, k)) {
                    Some(sf) => nested(vf, Some(sf), &spk, &vpk, errs),
                    None => errs.push(FieldError::required(
                        spk,
                        format!("because it is defined in {vpk}"),
                    )),
                }
            }
        }
    }
    fn walk(s: &Map<String, Value>, p: &str, errs: &mut Vec<FieldError>) {
        vv(s, Some(s), p, p, errs);
        if let Some(items) = obj(s, "items") {
            walk(items, &child(p, "items"), errs);
        }
        if let Some(props) = obj(s, "properties") {
            for (k, v) in props {
                if let Some(vm) = v.as_object() {
                    walk(vm, &key(&child(p, "properties"), k), errs);
                }
            }
        }
        if let Some(a) = obj(s, "additionalProperties") {
            walk(a, &child(p, "additionalProperties"), errs);
        }
    }
    walk(s, p, errs);
}

/// Context of the OpenAPI-schema checks (`specStandardValidatorV3`).
#[derive(Clone, Copy, Default)]
struct Ctx {
    /// Defaults are forbidden here; the reason completes "must not be set".
    forbid_defaults: Option<&'static str>,
    inside_resource_meta: bool,
}

const OPENAPI_V3_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// `ValidateCustomResourceDefinitionOpenAPISchema` (without CEL).
fn openapi_checks(
    m: &Map<String, Value>,
    p: &str,
    ctx: Ctx,
    is_root: bool,
    errs: &mut Vec<FieldError>,
) {
    let t = ty(m);
    if !t.is_empty() && !OPENAPI_V3_TYPES.contains(&t) {
        errs.push(FieldError::not_supported(
            child(p, "type"),
            t,
            OPENAPI_V3_TYPES,
        ));
    }
    if m.get("default").is_some_and(|d| !d.is_null())
        && let Some(reason) = ctx.forbid_defaults
    {
        errs.push(FieldError::forbidden(
            child(p, "default"),
            format!("must not be set {reason}"),
        ));
    }
    if m.get("id")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        errs.push(FieldError::forbidden(child(p, "id"), "id is not supported"));
    }
    for (k, what) in [
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        let present = match m.get(k) {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => {
                !o.is_empty() || k == "dependencies" || k == "additionalItems"
            }
            Some(_) => true,
        };
        if present {
            errs.push(FieldError::forbidden(child(p, k), what));
        }
    }
    if t == "null" {
        errs.push(FieldError::forbidden(
            child(p, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if matches!(m.get("items"), Some(Value::Array(a)) if !a.is_empty()) {
        errs.push(FieldError::forbidden(
            child(p, "items"),
            "items must be a schema object and not an array",
        ));
    }
    let embedded = flag(m, "x-kubernetes-embedded-resource");
    if ctx.inside_resource_meta && embedded {
        errs.push(FieldError::forbidden(
            child(p, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
    if flag(m, "uniqueItems") {
        errs.push(FieldError::forbidden(
            child(p, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let props = obj(m, "properties");
    if let Some(a) = m.get("additionalProperties").filter(|a| !a.is_null()) {
        if props.is_some_and(|ps| !ps.is_empty()) && a != &Value::Bool(true) {
            errs.push(FieldError::forbidden(
                child(p, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Some(am) = a.as_object() {
            let mut sub = ctx;
            if ctx.inside_resource_meta {
                sub.forbid_defaults =
                    Some("inside additionalProperties applying to object metadata");
            }
            openapi_checks(am, &child(p, "additionalProperties"), sub, false, errs);
        }
    }
    if let Some(ps) = props {
        let pp = child(p, "properties");
        for (k, v) in ps {
            let Some(vm) = v.as_object() else { continue };
            let mut sub = ctx;
            if (is_root || embedded) && matches!(k.as_str(), "metadata" | "kind" | "apiVersion") {
                sub.inside_resource_meta = true;
                if is_root {
                    sub.forbid_defaults = Some(match k.as_str() {
                        "metadata" => "in top-level metadata",
                        "kind" => "in top-level kind",
                        _ => "in top-level apiVersion",
                    });
                }
            }
            openapi_checks(vm, &key(&pp, k), sub, false, errs);
        }
    }
    if let Some(n) = obj(m, "not") {
        openapi_checks(n, &child(p, "not"), ctx, false, errs);
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for (i, s) in obj_list(m, k).into_iter().enumerate() {
            openapi_checks(s, &index(&child(p, k), i), ctx, false, errs);
        }
    }
    if let Some(items) = obj(m, "items") {
        openapi_checks(items, &child(p, "items"), ctx, false, errs);
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(
            child(p, "x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    let map_type = m.get("x-kubernetes-map-type").and_then(Value::as_str);
    if let Some(mt) = map_type {
        if t != "object" {
            if t.is_empty() {
                errs.push(FieldError::required(
                    child(p, "type"),
                    "must be object if x-kubernetes-map-type is specified",
                ));
            } else {
                errs.push(FieldError::invalid(
                    child(p, "type"),
                    t,
                    "must be object if x-kubernetes-map-type is specified",
                ));
            }
        }
        if mt != "atomic" && mt != "granular" {
            errs.push(FieldError::not_supported(
                child(p, "x-kubernetes-map-type"),
                mt,
                &["atomic", "granular"],
            ));
        }
    }
    let list_type = m.get("x-kubernetes-list-type").and_then(Value::as_str);
    let items = obj(m, "items");
    if let Some(lt) = list_type {
        if t != "array" {
            if t.is_empty() {
                errs.push(FieldError::required(
                    child(p, "type"),
                    "must be array if x-kubernetes-list-type is specified",
                ));
            } else {
                errs.push(FieldError::invalid(
                    child(p, "type"),
                    t,
                    "must be array if x-kubernetes-list-type is specified",
                ));
            }
        } else if lt == "set"
            && let Some(is) = items
        {
            let ip = child(p, "items");
            let atomic = "must be atomic as item of a list with x-kubernetes-list-type=set";
            let ilt = is.get("x-kubernetes-list-type").and_then(Value::as_str);
            let imt = is.get("x-kubernetes-map-type").and_then(Value::as_str);
            match ty(is) {
                "array" if ilt.is_some_and(|x| x != "atomic") => errs.push(FieldError::invalid(
                    child(&ip, "x-kubernetes-list-type"),
                    ilt.unwrap_or_default(),
                    atomic,
                )),
                "object" if imt != Some("atomic") => errs.push(FieldError::invalid(
                    child(&ip, "x-kubernetes-map-type"),
                    Value::Null,
                    atomic,
                )),
                _ => {}
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(
                child(p, "x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
    }
    let map_keys: Vec<&str> = match m.get("x-kubernetes-list-map-keys") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !map_keys.is_empty() {
        match list_type {
            None => errs.push(FieldError::required(
                child(p, "x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            Some(lt) if lt != "map" => errs.push(FieldError::invalid(
                child(p, "x-kubernetes-list-type"),
                lt,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            _ => {}
        }
    }
    if list_type == Some("map") {
        if map_keys.is_empty() {
            errs.push(FieldError::required(
                child(p, "x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match m.get("items") {
            None | Some(Value::Null) => errs.push(FieldError::required(
                child(p, "items"),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(Value::Array(a)) => errs.push(FieldError::invalid(
                child(p, "items"),
                Value::Array(a.clone()),
                "must only have a single schema if x-kubernetes-list-type is map",
            )),
            _ => {}
        }
        if let Some(is) = items {
            let ip = child(p, "items");
            if ty(is) != "object" {
                errs.push(FieldError::invalid(
                    child(&ip, "type"),
                    ty(is),
                    "must be object if parent array's x-kubernetes-list-type is map",
                ));
            } else {
                let keys_json = Value::from(map_keys.clone());
                let mut seen = std::collections::HashSet::new();
                for k in &map_keys {
                    match obj(is, "properties").and_then(|ps| obj(ps, k)) {
                        Some(ks) => {
                            if matches!(ty(ks), "array" | "object") {
                                errs.push(FieldError::invalid(
                                    child(&key(&child(&ip, "properties"), k), "type"),
                                    ty(is),
                                    "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                ));
                            }
                        }
                        None => errs.push(FieldError::invalid(
                            child(p, "x-kubernetes-list-map-keys"),
                            keys_json.clone(),
                            "entries must all be names of item properties",
                        )),
                    }
                    if !seen.insert(*k) {
                        errs.push(FieldError::invalid(
                            child(p, "x-kubernetes-list-map-keys"),
                            keys_json.clone(),
                            "must not contain duplicate entries",
                        ));
                    }
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(lt @ ("set" | "map")), Some(is)) = (list_type, items) {
        let ip = child(p, "items");
        if flag(is, "nullable") {
            errs.push(FieldError::forbidden(
                child(&ip, "nullable"),
                format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            let required: Vec<&str> = match is.get("required") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for k in &map_keys {
                let Some(ks) = obj(is, "properties").and_then(|ps| obj(ps, k)) else {
                    continue;
                };
                let kp = key(&child(&ip, "properties"), k);
                if !required.contains(k) && ks.get("default").is_none_or(Value::is_null) {
                    errs.push(FieldError::required(
                        child(&kp, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if flag(ks, "nullable") {
                    errs.push(FieldError::forbidden(
                        child(&kp, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

/// `ValidateDefaults`: every default must be pruned and valid against its schema.
fn validate_defaults(n: &Node, p: &str, ctx: Ctx, is_root: bool, errs: &mut Vec<FieldError>) {
    if let Some(d) = &n.default
        && ctx.forbid_defaults.is_none()
    {
        let dp = child(p, "default");
        let mut pruned = d.clone();
        super::prune::prune_node(&mut pruned, Some(n), n.embedded);
        if &pruned != d {
            errs.push(FieldError::invalid(
                dp.clone(),
                d.clone(),
                "must not have unknown fields",
            ));
        } else {
            let mut found = Vec::new();
            super::validate::validate_node(n, d, "", &mut found);
            for mut e in found {
                e.field = if e.field.is_empty() {
                    dp.clone()
                } else {
                    child(&dp, &e.field)
                };
                errs.push(e);
            }
        }
    }
    for (k, v) in &n.properties {
        let mut sub = ctx;
        if (is_root || n.embedded) && matches!(k.as_str(), "metadata" | "kind" | "apiVersion") {
            sub.inside_resource_meta = true;
            if is_root {
                // reported by the OpenAPI-schema checks
                sub.forbid_defaults = Some("");
            }
        }
        validate_defaults(v, &key(&child(p, "properties"), k), sub, false, errs);
    }
    if let Some(a) = n.additional.as_ref().and_then(Additional::schema) {
        validate_defaults(a, &child(p, "additionalProperties"), ctx, false, errs);
    }
    if let Some(items) = &n.items {
        validate_defaults(items, &child(p, "items"), ctx, false, errs);
    }
}
