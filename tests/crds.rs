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
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [red, blue], default: red}
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
