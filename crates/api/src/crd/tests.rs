use super::*;
use serde_json::{Value, json};

fn compile(schema: Value) -> Schema {
    match Schema::compile(&schema) {
        Ok(s) => s,
        Err(e) => panic!("schema did not compile: {e:#?}"),
    }
}

/// Validate `obj` against `schema`; the errors as upstream prints them (`path: message`).
fn check(schema: Value, obj: Value, expected: &[&str]) {
    let s = compile(schema);
    let got: Vec<String> = s.validate(&obj).iter().map(ToString::to_string).collect();
    assert_eq!(got, expected, "object {obj}");
}

fn spec_schema(spec: Value) -> Value {
    json!({"type": "object", "properties": {"spec": spec}})
}

fn obj_schema(props: Value) -> Value {
    spec_schema(json!({"type": "object", "properties": props}))
}

fn compile_errs(schema: Value) -> Vec<String> {
    match Schema::compile(&schema) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn types() {
    let s = obj_schema(json!({
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "on": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "sub": {"type": "object"}
    }));
    check(
        s.clone(),
        json!({"spec": {"replicas": 3, "ratio": 1, "name": "x", "on": true, "tags": ["a"], "sub": {}}}),
        &[],
    );
    // an integral float is an integer; an integer is a number
    check(
        s.clone(),
        json!({"spec": {"replicas": 3.0, "ratio": 2}}),
        &[],
    );
    check(
        s.clone(),
        json!({"spec": {"replicas": "string"}}),
        &[
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
        ],
    );
    check(
        s.clone(),
        json!({"spec": {"replicas": 1.5}}),
        &[
            r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#,
        ],
    );
    check(
        s.clone(),
        json!({"spec": {"on": "yes", "tags": "a", "sub": [], "name": 5}}),
        &[
            r#"spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer""#,
            r#"spec.on: Invalid value: "string": spec.on in body must be of type boolean: "string""#,
            r#"spec.sub: Invalid value: "array": spec.sub in body must be of type object: "array""#,
            r#"spec.tags: Invalid value: "string": spec.tags in body must be of type array: "string""#,
        ],
    );
    check(
        s.clone(),
        json!({"spec": {"tags": ["a", 1]}}),
        &[
            r#"spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer""#,
        ],
    );
    check(
        s,
        json!({"spec": "nope"}),
        &[r#"spec: Invalid value: "string": spec in body must be of type object: "string""#],
    );
}

#[test]
fn int_or_string_and_nullable() {
    let s = obj_schema(json!({
        "port": {"x-kubernetes-int-or-string": true},
        "maybe": {"type": "string", "nullable": true},
        "never": {"type": "string"}
    }));
    check(s.clone(), json!({"spec": {"port": 80}}), &[]);
    check(
        s.clone(),
        json!({"spec": {"port": "http", "maybe": null}}),
        &[],
    );
    check(
        s.clone(),
        json!({"spec": {"port": true}}),
        &[
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
        ],
    );
    check(
        s,
        json!({"spec": {"never": null}}),
        &[
            r#"spec.never: Invalid value: "null": spec.never in body must be of type string: "null""#,
        ],
    );
    // the anyOf form of int-or-string is structural too
    let any_of = obj_schema(json!({
        "port": {"x-kubernetes-int-or-string": true,
                 "anyOf": [{"type": "integer"}, {"type": "string"}],
                 "pattern": "^[0-9]+%$"}
    }));
    check(any_of.clone(), json!({"spec": {"port": 5}}), &[]);
    check(any_of.clone(), json!({"spec": {"port": "50%"}}), &[]);
    check(
        any_of,
        json!({"spec": {"port": "x"}}),
        &[r#"spec.port: Invalid value: "x": spec.port in body should match '^[0-9]+%$'"#],
    );
}

#[test]
fn required_and_enum() {
    let s = spec_schema(json!({
        "type": "object",
        "required": ["name", "color"],
        "properties": {
            "name": {"type": "string"},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "size": {"type": "integer", "enum": [1, 2]}
        }
    }));
    check(
        s.clone(),
        json!({"spec": {"name": "a", "color": "red"}}),
        &[],
    );
    check(
        s.clone(),
        json!({"spec": {"color": "pink", "size": 3}}),
        &[
            r#"spec.color: Unsupported value: "pink": supported values: "red", "blue""#,
            r#"spec.size: Unsupported value: 3: supported values: "1", "2""#,
            "spec.name: Required value",
        ],
    );
    // required at the root
    let root =
        json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
    check(
        root,
        json!({"apiVersion": "x/v1", "kind": "X"}),
        &["spec: Required value"],
    );
}

#[test]
fn strings_numbers_arrays_objects() {
    let s = obj_schema(json!({
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "ex": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "exclusiveMaximum": true, "maximum": 1.5},
        "step": {"type": "integer", "multipleOf": 5},
        "list": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}},
        "labels": {"type": "object", "minProperties": 1, "maxProperties": 2,
                   "additionalProperties": {"type": "string", "maxLength": 3}}
    }));
    check(
        s.clone(),
        json!({"spec": {"name": "abc", "replicas": 10, "ex": 1, "step": 15, "list": [1], "labels": {"a": "b"}}}),
        &[],
    );
    check(
        s.clone(),
        json!({"spec": {"name": "a", "replicas": 0, "ex": 0, "step": 7, "list": [], "labels": {}}}),
        &[
            "spec.ex: Invalid value: 0: spec.ex in body should be greater than 0",
            "spec.labels: Invalid value: 0: spec.labels in body should have at least 1 properties",
            "spec.list: Invalid value: 0: spec.list in body should have at least 1 items",
            r#"spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long"#,
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            "spec.step: Invalid value: 7: spec.step in body should be a multiple of 5",
        ],
    );
    let errs: Vec<String> = compile(s.clone())
        .validate(&json!({"spec": {"name": "ABCDE", "replicas": 11, "ex": 1.5,
            "list": [1, 2, 3], "labels": {"a": "b", "c": "d", "e": "f"}}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.ex: Invalid value: 1.5: spec.ex in body should be less than 1.5",
            "spec.labels: Too many: must have at most 2 items",
            "spec.list: Too many: must have at most 2 items",
            "spec.name: Too long: may not be more than 4 bytes",
            "spec.name: Invalid value: \"ABCDE\": spec.name in body should match '^[a-z]+$'",
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        ]
    );
    let e = compile(s.clone()).validate(&json!({"spec": {"list": [1, 2, 3]}}));
    assert_eq!(e[0].kind, crate::status::FieldErrorType::TooMany);
    assert_eq!(e[0].value, Some(json!(3)));
    // map values are validated with a dotted path, as kube-openapi names them
    check(
        s,
        json!({"spec": {"labels": {"app": "long"}}}),
        &["spec.labels.app: Too long: may not be more than 3 bytes"],
    );
}

#[test]
fn formats() {
    let s = obj_schema(json!({
        "at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "id": {"type": "string", "format": "uuid"},
        "ip": {"type": "string", "format": "ipv4"},
        "any": {"type": "string", "format": "my-own-format"},
        "n": {"type": "integer", "format": "int32"}
    }));
    check(
        s.clone(),
        json!({"spec": {"at": "2024-01-02T03:04:05Z", "day": "2024-02-29",
            "id": "123e4567-e89b-12d3-a456-426614174000", "ip": "10.0.0.1", "any": "whatever", "n": 7}}),
        &[],
    );
    check(
        s,
        json!({"spec": {"at": "yesterday", "day": "2023-02-29", "ip": "10.0.0"}}),
        &[
            r#"spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday""#,
            r#"spec.day: Invalid value: "2023-02-29": spec.day in body must be of type date: "2023-02-29""#,
            r#"spec.ip: Invalid value: "10.0.0": spec.ip in body must be of type ipv4: "10.0.0""#,
        ],
    );
}

#[test]
fn logic_junctors() {
    let s = obj_schema(json!({
        "a": {"type": "string", "oneOf": [{"pattern": "^x"}, {"pattern": "^y"}]},
        "b": {"type": "integer", "not": {"enum": [13]}},
        "c": {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]}
    }));
    check(
        s.clone(),
        json!({"spec": {"a": "xa", "b": 12, "c": "abc"}}),
        &[],
    );
    let got: Vec<String> = compile(s)
        .validate(&json!({"spec": {"a": "z", "b": 13, "c": "a"}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        got.iter()
            .any(|e| e.contains("spec.a in body must validate one and only one schema (oneOf)")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("spec.b in body must not validate the schema (not)")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("spec.c in body should be at least 2 chars long")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("spec.c in body must validate all the schemas (allOf)")),
        "{got:?}"
    );
}

#[test]
fn root_metadata_only_name_restrictions() {
    let s = json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
        "spec": {"type": "object"}
    }});
    check(
        s.clone(),
        json!({"metadata": {"name": "abc", "namespace": "default", "labels": {"a": "b"}}, "spec": {}}),
        &[],
    );
    check(
        s,
        json!({"metadata": {"name": "toolong"}}),
        &["metadata.name: Too long: may not be more than 5 bytes"],
    );
}

#[test]
fn list_type_set_and_map() {
    let s = obj_schema(json!({
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object", "required": ["port", "protocol"], "properties": {
                      "port": {"type": "integer"}, "protocol": {"type": "string"}, "name": {"type": "string"}}}},
        "hosts": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}
    }));
    check(
        s.clone(),
        json!({"spec": {"tags": ["a", "b"], "ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}]}}),
        &[],
    );
    check(
        s.clone(),
        json!({"spec": {"tags": ["a", "b", "a", "a"]}}),
        &[r#"spec.tags[2]: Duplicate value: "a""#],
    );
    check(
        s.clone(),
        json!({"spec": {"ports": [{"port": 80, "protocol": "TCP", "name": "x"}, {"port": 80, "protocol": "TCP", "name": "y"}]}}),
        &[r#"spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}"#],
    );
    check(
        s,
        json!({"spec": {"hosts": [{"name": "a"}, {"name": "a"}]}}),
        &[r#"spec.hosts[1]: Duplicate value: {"name":"a"}"#],
    );
}

#[test]
fn embedded_resource_validation() {
    let s = obj_schema(json!({
        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                     "x-kubernetes-preserve-unknown-fields": true}
    }));
    check(
        s.clone(),
        json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}}),
        &[],
    );
    let got: Vec<String> = compile(s)
        .validate(&json!({"spec": {"template": {"kind": "bad_kind", "metadata": {"name": "Bad/Name", "labels": {"a": "-"}}}}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got[0], "spec.template.apiVersion: Required value");
    assert!(got[1].starts_with(r#"spec.template.kind: Invalid value: "bad_kind": may have mixed case, but should otherwise match: "#), "{got:?}");
    assert!(
        got.iter().any(|e| e.starts_with(
            r#"spec.template.metadata.name: Invalid value: "Bad/Name": may not contain '/'"#
        )),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.starts_with("spec.template.metadata.labels: Invalid value: \"-\"")),
        "{got:?}"
    );
}

#[test]
fn pruning() {
    let s = compile(json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "known": {"type": "string"},
            "nested": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                     "properties": {"strict": {"type": "object", "properties": {"k": {"type": "string"}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                         "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            "nullable": {"type": "string", "nullable": true},
            "notnull": {"type": "string"}
        }},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    }}));
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Thing",
        "metadata": {"name": "t", "namespace": "ns", "bogus": 1, "labels": {"a": "b"}},
        "spec": {
            "known": "k", "unknown": 1,
            "nested": {"a": 1, "b": 2},
            "items": [{"name": "x", "junk": true}, {"junk": 1}],
            "map": {"one": {"v": "1", "w": "2"}},
            "free": {"anything": {"deep": 1}, "strict": {"k": "v", "drop": 1}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "extra": 1},
                         "spec": {"x": "y", "z": 1}, "other": 1},
            "nullable": null, "notnull": null
        },
        "status": {"ready": true, "phase": "x"},
        "extra": {}
    });
    s.prune(&mut obj);
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Thing",
            "metadata": {"name": "t", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {
                "known": "k",
                "nested": {"a": 1},
                "items": [{"name": "x"}, {}],
                "map": {"one": {"v": "1"}},
                "free": {"anything": {"deep": 1}, "strict": {"k": "v"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "y"}},
                "nullable": null
            },
            "status": {"ready": true}
        })
    );
}

#[test]
fn preserve_unknown_fields_at_root() {
    let s = compile(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
    );
    let mut obj =
        json!({"apiVersion": "a/v1", "kind": "K", "spec": {"a": "x", "b": 1}, "other": {"z": 1}});
    s.prune(&mut obj);
    assert_eq!(
        obj,
        json!({"apiVersion": "a/v1", "kind": "K", "spec": {"a": "x"}, "other": {"z": 1}})
    );
}

#[test]
fn defaults() {
    let s = compile(json!({"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "strategy": {"type": "object", "default": {"type": "Rolling"}, "properties": {
                "type": {"type": "string"},
                "maxSurge": {"x-kubernetes-int-or-string": true, "default": "25%"}
            }},
            "containers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"},
                "pull": {"type": "string", "default": "IfNotPresent"}
            }}},
            "env": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "v": {"type": "string", "default": "d"}}}},
            "nulled": {"type": "string", "default": "x"}
        }}
    }}));
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K"});
    s.apply_defaults(&mut obj);
    assert_eq!(
        obj,
        json!({"apiVersion": "a/v1", "kind": "K", "spec": {
            "replicas": 1, "nulled": "x",
            "strategy": {"type": "Rolling", "maxSurge": "25%"}
        }})
    );
    let mut obj = json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"},
        "containers": [{"name": "a"}, {"name": "b", "pull": "Always"}],
        "env": {"X": {}}, "nulled": null}});
    s.apply_defaults(&mut obj);
    assert_eq!(
        obj,
        json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate", "maxSurge": "25%"},
            "containers": [{"name": "a", "pull": "IfNotPresent"}, {"name": "b", "pull": "Always"}],
            "env": {"X": {"v": "d"}}, "nulled": "x"}})
    );
}

#[test]
fn structural_schema_errors() {
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}})
        ),
        ["properties[spec].type: Required value: must not be empty for specified object fields"]
    );
    assert_eq!(
        compile_errs(json!({"type": "object", "properties": {"l": {"type": "array"}}})),
        ["properties[l].items: Required value: must be specified"]
    );
    assert_eq!(
        compile_errs(json!({"type": "array", "items": {"type": "string"}})),
        ["type: Invalid value: \"array\": must be object at the root"]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "string",
            "anyOf": [{"type": "string"}]}}})
        ),
        ["properties[a].anyOf[0].type: Forbidden: must be empty to be structural"]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}})
        )
        .len(),
        1
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"labels": {"type": "object"}}}}})
        ),
        [
            "properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
        ]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}})
        ),
        [
            r#"properties[a].default: Invalid value: "string":  in body must be of type integer: "string""#
        ]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "object", "default": {"b": 1}}}})
        ),
        [r#"properties[a].default: Invalid value: {"b":1}: must not have unknown fields"#]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": true,
            "items": {"type": "string"}}}})
        ),
        [
            "properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"a": {"type": "array",
            "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}})
        ),
        [
            "properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        ]
    );
    assert_eq!(
        compile_errs(
            json!({"type": "object", "properties": {"t": {"type": "object",
            "x-kubernetes-embedded-resource": true}}})
        ),
        [
            "properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
        ]
    );
    // compile_at prefixes every path
    let e = Schema::compile_at(
        &json!({"type": "object", "properties": {"spec": {}}}),
        "spec.versions[0].schema.openAPIV3Schema",
    )
    .err()
    .unwrap_or_default();
    assert_eq!(
        e[0].to_string(),
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
    );
}

fn crd(group: &str, versions: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
                      "shortNames": ["wd"]},
            "versions": versions
        }
    })
}

fn version(name: &str, storage: bool) -> Value {
    json!({"name": name, "served": true, "storage": storage, "schema": {"openAPIV3Schema":
        {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}})
}

fn def_errs(crd: &Value) -> Vec<String> {
    validate_definition(crd)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn definition_valid() {
    let c = crd(
        "example.com",
        json!([version("v1", true), version("v1beta1", false)]),
    );
    assert_eq!(def_errs(&c), Vec::<String>::new());
    assert_eq!(storage_version(&c), Some("v1"));
}

#[test]
fn definition_errors() {
    let c = crd("example", json!([version("v1", true)]));
    assert_eq!(
        def_errs(&c),
        [r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#]
    );
    let c = crd("example.com", json!([version("v1", false)]));
    let e = def_errs(&c);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("spec.versions: Invalid value: "));
    assert!(e[0].ends_with(": must have exactly one version marked as storage version"));
    let c = crd(
        "example.com",
        json!([version("v1", true), version("v2", true)]),
    );
    assert!(def_errs(&c)[0].ends_with("must have exactly one version marked as storage version"));
    let c = crd(
        "example.com",
        json!([version("v1", true), version("v1", false)]),
    );
    assert!(def_errs(&c)[0].ends_with("must contain unique version names"));

    let mut c = crd("example.com", json!([version("v1", true)]));
    c["spec"]["names"]["plural"] = json!("Widgets");
    c["spec"]["names"]["kind"] = json!("Wid_get");
    c["spec"]["scope"] = json!("Global");
    let e = def_errs(&c);
    assert_eq!(e[0], r#"metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+".."+spec.group"#.replace("..", "."));
    assert_eq!(
        e[1],
        r#"spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced""#
    );
    assert!(e[2].starts_with(r#"spec.names.plural: Invalid value: "Widgets": a DNS-1035 label must consist of lower case"#), "{e:?}");
    assert!(e[3].starts_with(r#"spec.names.kind: Invalid value: "Wid_get": may have mixed case, but should otherwise match: a DNS-1035 label"#), "{e:?}");

    let mut c = crd("example.com", json!([version("v1", true)]));
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        json!({"properties": {}});
    assert_eq!(
        def_errs(&c),
        [
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        ]
    );
    let mut c = crd(
        "example.com",
        json!([version("v1", true), version("v2", false)]),
    );
    c["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        json!({"properties": {}});
    assert_eq!(
        def_errs(&c),
        [
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        ]
    );
    let mut c = crd("example.com", json!([version("v1", true)]));
    c["spec"]["versions"][0]["schema"] = json!(null);
    assert_eq!(
        def_errs(&c),
        ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]
    );
    let mut c = crd("example.com", json!([version("v1", true)]));
    c["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": "R", "type": "int", "jsonPath": "spec.r"}]);
    assert_eq!(
        def_errs(&c),
        [
            r#"spec.additionalPrinterColumns[0].type: Invalid value: "int": must be one of boolean,date,integer,number,string"#,
            r#"spec.additionalPrinterColumns[0].JSONPath: Invalid value: "spec.r": must be a simple json path starting with ."#,
        ]
    );
    let c = crd("apps.k8s.io", json!([version("v1", true)]));
    assert_eq!(
        def_errs(&c)[0],
        r#"metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111"#
    );
}

#[test]
fn definition_defaults_and_update() {
    let mut c = crd("example.com", json!([version("v1", true)]));
    c["spec"]["names"] = json!({"plural": "widgets", "kind": "Widget"});
    apply_definition_defaults(&mut c);
    assert_eq!(c["spec"]["names"]["singular"], json!("widget"));
    assert_eq!(c["spec"]["names"]["listKind"], json!("WidgetList"));
    assert_eq!(c["spec"]["conversion"], json!({"strategy": "None"}));

    let mut old = c.clone();
    old["status"] = json!({"storedVersions": ["v1"], "conditions": [{"type": "Established", "status": "True"}]});
    let mut new = old.clone();
    assert_eq!(validate_definition_update(&new, &old), Vec::new());
    new["spec"]["group"] = json!("other.com");
    new["spec"]["scope"] = json!("Cluster");
    let e: Vec<String> = validate_definition_update(&new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        e,
        [
            r#"spec.scope: Invalid value: "Cluster": field is immutable"#,
            r#"spec.group: Invalid value: "other.com": field is immutable"#,
        ]
    );
    let mut new = old.clone();
    new["spec"]["versions"] = json!([version("v2", true)]);
    new["status"]["storedVersions"] = json!(["v1"]);
    let e: Vec<String> = validate_definition_update(&new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].ends_with("must have the storage version v2"));
    assert!(e[1].starts_with(
        "status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions"
    ));
}

#[test]
fn json_paths() {
    let obj = json!({
        "metadata": {"name": "x", "creationTimestamp": "2024-01-01T00:00:00Z",
                     "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"replicas": 3, "list": [1, 2, 3]},
        "status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True", "n": 2}
        ]}
    });
    assert_eq!(json_path(&obj, ".spec.replicas"), Some(json!(3)));
    assert_eq!(json_path(&obj, "{.spec.replicas}"), Some(json!(3)));
    assert_eq!(
        json_path(&obj, ".metadata.creationTimestamp"),
        Some(json!("2024-01-01T00:00:00Z"))
    );
    assert_eq!(
        json_path(&obj, r#".status.conditions[?(@.type=="Ready")].status"#),
        Some(json!("True"))
    );
    assert_eq!(
        json_path(&obj, r#".status.conditions[?(@.type != 'Ready')].status"#),
        Some(json!("False"))
    );
    assert_eq!(
        json_path(&obj, ".status.conditions[?(@.n > 1)].type"),
        Some(json!("Ready"))
    );
    assert_eq!(
        json_path(&obj, ".status.conditions[?(@.n)].type"),
        Some(json!("Ready"))
    );
    assert_eq!(json_path(&obj, ".spec.list[-1]"), Some(json!(3)));
    assert_eq!(json_path(&obj, ".spec.list[1]"), Some(json!(2)));
    assert_eq!(
        json_path_all(&obj, ".spec.list[*]"),
        Ok(vec![json!(1), json!(2), json!(3)])
    );
    assert_eq!(
        json_path_all(&obj, ".spec.list[0:2]"),
        Ok(vec![json!(1), json!(2)])
    );
    assert_eq!(
        json_path(&obj, ".metadata.labels['app.kubernetes.io/name']"),
        Some(json!("web"))
    );
    assert_eq!(
        json_path(&obj, r".metadata.labels.app\.kubernetes\.io/name"),
        Some(json!("web"))
    );
    assert_eq!(
        json_path_all(&obj, "..type"),
        Ok(vec![json!("Progressing"), json!("Ready")])
    );
    assert_eq!(json_path(&obj, ".spec.missing"), None);
    assert_eq!(json_path(&obj, ".spec.list[9]"), None);
    assert!(json_path_all(&obj, ".spec[").is_err());
}

#[test]
fn prune_unknown_reports_paths_as_upstream() {
    let s = compile(json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"known": {"type": "object", "properties": {}}}},
                },
            },
        },
    }));
    let mut obj = json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "foo": 1},
        "spec": {
            "size": 1,
            "shape": "round",
            "items": [{"a": "x"}, {"a": "y", "b": 2}],
            "labels": {"k": {"v": "1", "w": 2}},
            "free": {"anything": 1, "known": {"gone": true}},
        },
        "extra": {"nested": 1},
    });
    let unknown = s.prune_unknown(&mut obj);
    assert_eq!(
        unknown,
        [
            "metadata.foo",
            "extra",
            "spec.shape",
            "spec.free.known.gone",
            "spec.items[1].b",
            "spec.labels.k.w",
        ]
    );
    // The same result as `prune`.
    let mut again = obj.clone();
    s.prune(&mut again);
    assert_eq!(again, obj);
    assert_eq!(
        obj["spec"],
        json!({"size": 1, "items": [{"a": "x"}, {"a": "y"}], "labels": {"k": {"v": "1"}}, "free": {"anything": 1, "known": {}}})
    );
    assert_eq!(obj["metadata"], json!({"name": "w"}));
    assert!(s.prune_unknown(&mut obj).is_empty());
}
