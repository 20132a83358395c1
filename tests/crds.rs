//! Acceptance: custom resources — a CRD is served at once, its objects behave like built-ins,
//! and deleting the CRD deletes its objects.

mod common;

use common::Server;
use std::time::{Duration, Instant};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a thing of some size.
        properties:
          spec:
            type: object
            description: WidgetSpec is the desired state of a Widget.
            required: [size]
            properties:
              size: {type: integer, minimum: 1, description: Size of the widget in centimetres.}
              color: {type: string, enum: [red, blue], default: red, description: Colour of the widget.}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn widget(name: &str, size: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: {name}}}\nspec: {{size: {size}}}\n"
    )
}

#[test]
fn crd_is_served_at_once_and_deleting_it_deletes_its_objects() {
    let server = Server::start(&[]);
    for v in ["1.33", "1.27"] {
        server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], CRD);
        server.ok(
            v,
            &[
                "wait",
                "--for",
                "condition=established",
                "crd/widgets.example.com",
                "--timeout=10s",
            ],
        );
        let names = server.ok(v, &["get", "crd", "widgets.example.com", "-o", "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].status} {.status.acceptedNames.listKind}"]);
        assert_eq!(names, "True WidgetList");
        let resources = server.ok(v, &["api-resources", "--api-group=example.com"]);
        assert!(
            resources.contains("widgets")
                && resources.contains("wd")
                && resources.contains("Widget"),
            "{resources}"
        );

        server.ok_stdin(
            v,
            &["apply", "--validate=false", "-f", "-"],
            &widget("w1", "3"),
        );
        server.ok_stdin(
            v,
            &["apply", "--validate=false", "-f", "-"],
            &widget("w2", "5"),
        );
        let by_short = server.ok(v, &["get", "wd", "-o", "name"]);
        assert_eq!(
            by_short.lines().collect::<Vec<_>>(),
            ["widget.example.com/w1", "widget.example.com/w2"]
        );
        // additionalPrinterColumns in Table output.
        let table = server.ok(v, &["get", "widgets"]);
        let header: Vec<&str> = table
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(header, ["NAME", "SIZE"], "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["w2", "5"]),
            "{table}"
        );
        let in_all = server.ok(v, &["get", "all", "-o", "name"]);
        assert!(in_all.contains("widget.example.com/w1"), "{in_all}");
        server.ok(v, &["label", "widget", "w1", "size=small"]);
        assert_eq!(
            server
                .ok(v, &["get", "widgets", "-l", "size=small", "-o", "name"])
                .trim(),
            "widget.example.com/w1"
        );
        assert_eq!(
            server
                .ok(
                    v,
                    &[
                        "get",
                        "widgets",
                        "--field-selector",
                        "metadata.name=w2",
                        "-o",
                        "name"
                    ]
                )
                .trim(),
            "widget.example.com/w2"
        );
        server.ok(
            v,
            &[
                "patch",
                "widget",
                "w2",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"size":7}}"#,
            ],
        );
        let patched = server.ok(
            v,
            &[
                "get",
                "widget",
                "w2",
                "-o",
                "jsonpath={.spec.size} {.metadata.generation}",
            ],
        );
        assert_eq!(patched, "7 2");
        // The status subresource: status written through the main resource is ignored.
        server.ok(
            v,
            &[
                "patch",
                "widget",
                "w2",
                "--type",
                "merge",
                "-p",
                r#"{"status":{"ready":true}}"#,
            ],
        );
        assert_eq!(
            server.ok(
                v,
                &["get", "widget", "w2", "-o", "jsonpath={.status.ready}"]
            ),
            ""
        );

        server.ok(
            v,
            &["delete", "crd", "widgets.example.com", "--timeout=20s"],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = server.kubectl(
                v,
                &[
                    "get",
                    "--raw",
                    "/apis/example.com/v1/namespaces/default/widgets",
                ],
            );
            if !out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "widgets still served after the CRD was deleted"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Recreating the CRD serves an empty collection: the objects went with the CRD.
        server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], CRD);
        server.ok(
            v,
            &[
                "wait",
                "--for",
                "condition=established",
                "crd/widgets.example.com",
                "--timeout=10s",
            ],
        );
        let empty = server.ok(v, &["get", "widgets", "-o", "name"]);
        assert!(
            empty.trim().is_empty(),
            "objects survived their CRD: {empty}"
        );
        server.ok(
            v,
            &["delete", "crd", "widgets.example.com", "--timeout=20s"],
        );
    }
}

#[test]
fn conflicting_crd_names_are_not_accepted() {
    let server = Server::start(&[]);
    server.ok_stdin("1.33", &["apply", "--validate=false", "-f", "-"], CRD);
    // Another plural in the same group claiming the kind Widget and the short name wd.
    let clash = CRD
        .replace("name: widgets.example.com", "name: gadgets.example.com")
        .replace(
            "plural: widgets, singular: widget",
            "plural: gadgets, singular: gadget",
        );
    server.ok_stdin("1.33", &["apply", "--validate=false", "-f", "-"], &clash);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = server.ok(
            "1.33",
            &[
                "get",
                "crd",
                "gadgets.example.com",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].status}",
            ],
        );
        if status == "False" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "conflict not reported: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn custom_objects_are_validated_pruned_and_defaulted_by_the_schema() {
    let server = Server::start(&[]);
    let v = "1.33";
    server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], CRD);
    server.ok(
        v,
        &[
            "wait",
            "--for",
            "condition=established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
    );
    let apply =
        |doc: &str| server.kubectl_stdin(v, &["apply", "--validate=false", "-f", "-"], Some(doc));
    let stderr = |out: std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    // Wrong type, missing required, out of enum, below minimum: 422 naming the field.
    let wrong_type = stderr(apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\nspec: {size: big}\n",
    ));
    assert!(
        wrong_type.contains("spec.size") && wrong_type.contains("must be of type integer"),
        "{wrong_type}"
    );
    let missing = stderr(apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: b}\nspec: {color: red}\n",
    ));
    assert!(missing.contains("spec.size: Required value"), "{missing}");
    let enum_err = stderr(apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: c}\nspec: {size: 1, color: pink}\n",
    ));
    assert!(
        enum_err.contains("spec.color: Unsupported value: \"pink\""),
        "{enum_err}"
    );
    let minimum = stderr(apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: d}\nspec: {size: 0}\n",
    ));
    assert!(
        minimum.contains("spec.size") && minimum.contains("greater than or equal to 1"),
        "{minimum}"
    );
    assert!(
        server
            .ok(v, &["get", "widgets", "-o", "name"])
            .trim()
            .is_empty(),
        "invalid objects were stored"
    );

    // Unknown fields are pruned; defaults are applied.
    let out = apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ok}\nspec: {size: 2, shape: round}\nextra: 1\n",
    );
    assert!(out.status.success(), "{}", stderr(out));
    let stored = server.ok(v, &["get", "widget", "ok", "-o", "json"]);
    let obj: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(obj["spec"], serde_json::json!({"size": 2, "color": "red"}));
    assert!(obj.get("extra").is_none(), "{stored}");
}

fn establish(server: &Server, v: &str) {
    server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], CRD);
    server.ok(
        v,
        &[
            "wait",
            "--for",
            "condition=established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
    );
}

#[test]
fn custom_resources_are_in_the_openapi_documents() {
    let server = Server::start(&[]);
    establish(&server, "1.33");
    let index = server.ok("1.33", &["get", "--raw", "/openapi/v3"]);
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or_else(|| panic!("apis/example.com/v1 not in the index: {index}"))
        .to_string();
    assert!(index["paths"]["apis/apps/v1"].is_object(), "{index}");
    let doc: serde_json::Value =
        serde_json::from_str(&server.ok("1.33", &["get", "--raw", &url])).unwrap();
    let patch =
        &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        serde_json::json!({"group": "example.com", "kind": "Widget", "version": "v1"})
    );
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        params,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    assert!(
        doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"]["put"]
            .is_object()
    );
    assert!(doc["paths"]["/apis/example.com/v1/widgets"]["get"].is_object());
    let schemas = &doc["components"]["schemas"];
    let widget = &schemas["com.example.v1.Widget"];
    assert_eq!(
        widget["properties"]["spec"]["properties"]["size"]["description"],
        "Size of the widget in centimetres."
    );
    assert_eq!(
        widget["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());
    assert!(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"].is_object());
    assert_eq!(
        schemas["com.example.v1.WidgetList"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/com.example.v1.Widget"
    );

    let v2: serde_json::Value =
        serde_json::from_str(&server.ok("1.33", &["get", "--raw", "/openapi/v2"])).unwrap();
    assert!(v2["definitions"]["com.example.v1.Widget"].is_object());
    assert!(
        v2["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
            .is_object()
    );

    // Deleting the CRD takes it out of the documents.
    server.ok(
        "1.33",
        &["delete", "crd", "widgets.example.com", "--timeout=20s"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let index = server.ok("1.33", &["get", "--raw", "/openapi/v3"]);
        let v2 = server.ok("1.33", &["get", "--raw", "/openapi/v2"]);
        if !index.contains("apis/example.com/v1") && !v2.contains("com.example.v1.Widget") {
            break;
        }
        assert!(Instant::now() < deadline, "the CRD stayed in the documents");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kubectl_explain_prints_the_crd_schema() {
    let server = Server::start(&[]);
    for v in ["1.33", "1.27"] {
        establish(&server, v);
        let spec = server.ok(v, &["explain", "widget.spec"]);
        for text in [
            "WidgetSpec is the desired state of a Widget.",
            "Size of the widget in centimetres.",
            "Colour of the widget.",
        ] {
            assert!(
                spec.contains(text),
                "kubectl {v}: {text:?} missing:\n{spec}"
            );
        }
        let kind = server.ok(v, &["explain", "widgets"]);
        assert!(
            kind.contains("A Widget is a thing of some size.")
                && kind.contains("Standard object's metadata."),
            "kubectl {v}:\n{kind}"
        );
        server.ok(
            v,
            &["delete", "crd", "widgets.example.com", "--timeout=20s"],
        );
    }
}

#[test]
fn apply_with_default_validation_rejects_unknown_fields_of_custom_resources() {
    let server = Server::start(&[]);
    establish(&server, "1.33");
    for v in ["1.33", "1.27"] {
        let name = format!("w{}", v.replace('.', "-"));
        let unknown = format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: {name}}}\nspec: {{size: 2, shape: round}}\n"
        );
        // Create: the POST carries fieldValidation=Strict.
        let out = server.kubectl_stdin(v, &["apply", "-f", "-"], Some(&unknown));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "kubectl {v} accepted an unknown field"
        );
        assert!(
            stderr.contains("unknown field \"spec.shape\""),
            "kubectl {v}: {stderr}"
        );
        assert!(
            server
                .kubectl(v, &["get", "widget", &name])
                .status
                .code()
                .is_some_and(|c| c != 0),
            "the invalid object was stored"
        );
        // A valid one is created, re-applied, and an unknown field in an update fails too.
        server.ok_stdin(v, &["apply", "-f", "-"], &widget(&name, "2"));
        server.ok_stdin(v, &["apply", "-f", "-"], &widget(&name, "4"));
        assert_eq!(
            server.ok(v, &["get", "widget", &name, "-o", "jsonpath={.spec.size}"]),
            "4"
        );
        let out = server.kubectl_stdin(v, &["apply", "-f", "-"], Some(&unknown));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success() && stderr.contains("unknown field \"spec.shape\""),
            "kubectl {v}: {stderr}"
        );
    }
}

/// Several served versions, one storage version, conversion None: every version serves the
/// same objects, each presented with its own apiVersion.
#[test]
fn versions_of_a_crd_share_objects() {
    let server = Server::start(&[]);
    let v = "1.33";
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;
    server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], crd);
    server.ok(
        v,
        &[
            "wait",
            "--for",
            "condition=established",
            "crd/gizmos.example.com",
            "--timeout=10s",
        ],
    );
    server.ok_stdin(
        v,
        &["apply", "--validate=false", "-f", "-"],
        "apiVersion: example.com/v1beta1\nkind: Gizmo\nmetadata: {name: g}\nspec: {a: 1}\n",
    );
    let via = |version: &str| -> serde_json::Value {
        let raw = server.ok(
            v,
            &[
                "get",
                "--raw",
                &format!("/apis/example.com/{version}/namespaces/default/gizmos/g"),
            ],
        );
        serde_json::from_str(&raw).unwrap()
    };
    assert_eq!(via("v1")["apiVersion"], "example.com/v1");
    assert_eq!(via("v1beta1")["apiVersion"], "example.com/v1beta1");
    assert_eq!(via("v1")["spec"]["a"], 1);
    let list: serde_json::Value = serde_json::from_str(&server.ok(
        v,
        &[
            "get",
            "--raw",
            "/apis/example.com/v1/namespaces/default/gizmos",
        ],
    ))
    .unwrap();
    assert_eq!(list["items"][0]["apiVersion"], "example.com/v1");
    let stored = server.ok(
        v,
        &[
            "get",
            "crd",
            "gizmos.example.com",
            "-o",
            "jsonpath={.status.storedVersions}",
        ],
    );
    assert_eq!(stored, r#"["v1"]"#);
}
