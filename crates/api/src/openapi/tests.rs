use serde_json::Value;

use super::*;

fn patch_op<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["patch"]
}

#[test]
fn v3_group_version_document_has_operations_and_schemas() {
    let doc = v3_group_version("apps", "v1").expect("apps/v1 served");
    assert_eq!(doc["openapi"], "3.0.0");
    let op = patch_op(
        &doc,
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    );
    assert_eq!(op["x-kubernetes-action"], "patch");
    assert_eq!(
        op["x-kubernetes-group-version-kind"],
        serde_json::json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert_eq!(op["operationId"], "patchAppsV1NamespacedDeployment");
    let names: Vec<&str> = op["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    // Every PATCH of the document names fieldValidation inline (kubectl checks the first
    // PATCH operation of the kind it meets, in map order).
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if let Some(p) = item.get("patch") {
            assert!(
                p["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|x| x["name"] == "fieldValidation")),
                "{path}"
            );
        }
    }
    let scale = patch_op(
        &doc,
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
    );
    assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
    assert!(doc["paths"]["/apis/apps/v1/deployments"]["get"].is_object());

    let schemas = &doc["components"]["schemas"];
    let ru = &schemas["io.k8s.api.apps.v1.RollingUpdateDeployment"];
    assert!(
        ru["properties"]["maxSurge"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("The maximum number of pods that can be scheduled"))
    );
    assert_eq!(
        ru["properties"]["maxSurge"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    );
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
    // Only what the group-version references.
    assert!(schemas.get("io.k8s.api.batch.v1.Job").is_none());
    // No reference dangles.
    let text = doc.to_string();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or("");
        assert!(schemas.get(name).is_some(), "dangling {name}");
    }
}

#[test]
fn core_and_every_group_version_build() {
    for (g, v) in group_versions() {
        let doc = v3_group_version(g, v).unwrap_or_else(|| panic!("{g}/{v}"));
        assert!(
            !doc["paths"].as_object().expect("paths").is_empty(),
            "{g}/{v}"
        );
    }
    assert!(v3_group_version("nope", "v1").is_none());
    let core = v3_group_version("", "v1").expect("core");
    assert_eq!(
        patch_op(&core, "/api/v1/namespaces/{name}")["operationId"],
        "patchCoreV1Namespace"
    );
    assert_eq!(v3_key("", "v1"), "api/v1");
    assert_eq!(v3_key("apps", "v1"), "apis/apps/v1");
}

#[test]
fn v2_document_and_protobuf() {
    let doc = v2_document();
    assert_eq!(doc["swagger"], "2.0");
    let op = patch_op(
        &doc,
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    );
    let params = op["parameters"].as_array().expect("params");
    assert_eq!(params[0]["in"], "body");
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    assert_eq!(
        doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    let pb = proto::encode_document(&doc);
    // Field 1 (swagger) first: tag 0x0a, length 3, "2.0".
    assert_eq!(&pb[..5], b"\x0a\x032.0");
    let needle = b"x-kubernetes-group-version-kind";
    assert!(pb.windows(needle.len()).any(|w| w == needle));
    assert!(pb.len() > 100_000);
}

#[test]
fn protobuf_primitives() {
    let mut out = Vec::new();
    proto_test_varint(&mut out, 300);
    assert_eq!(out, [0xac, 0x02]);
    let doc = serde_json::json!({"swagger": "2.0", "paths": {"/x": {"get": {"operationId": "a"}}}});
    let pb = proto::encode_document(&doc);
    // swagger; paths(8) { path(2) { name "/x", value(2) { get(2) { operation_id(5) "a" } } } }
    assert_eq!(
        pb,
        [
            0x0a, 3, b'2', b'.', b'0', 0x42, 13, 0x12, 11, 0x0a, 2, b'/', b'x', 0x12, 5, 0x12, 3,
            0x2a, 1, b'a'
        ]
    );
}

fn proto_test_varint(out: &mut Vec<u8>, v: u64) {
    let mut v = v;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn widget_kind(schema: Option<Value>) -> CustomKind {
    static INFO: crate::registry::ResourceInfo = crate::registry::ResourceInfo {
        group: "example.com",
        version: "v1",
        plural: "widgets",
        singular: "widget",
        kind: "Widget",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        status: true,
        scale: true,
        generation: true,
        storage: "example.com/widgets",
    };
    CustomKind {
        info: &INFO,
        list_kind: "WidgetList".into(),
        schema,
    }
}

fn widget_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "description": "A widget.",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size", "note"],
                "properties": {
                    "size": {"type": "integer", "description": "The size."},
                    "note": {"type": "string", "nullable": true},
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        },
    })
}

#[test]
fn custom_resources_get_a_v3_document_like_upstream_crds() {
    assert_eq!(
        definition_name("example.com", "v1", "Widget"),
        "com.example.v1.Widget"
    );
    assert_eq!(
        definition_name("widgets", "v1", "Widget"),
        "widgets.v1.Widget"
    );
    let kinds = [widget_kind(Some(widget_schema()))];
    assert_eq!(custom_group_versions(&kinds), [("example.com", "v1")]);
    assert!(v3_group_version_with("example.com", "v2", &kinds).is_none());
    let doc = v3_group_version_with("example.com", "v1", &kinds).expect("served");
    let item = "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}";
    let op = patch_op(&doc, item);
    assert_eq!(op["operationId"], "patchExampleComV1NamespacedWidget");
    assert_eq!(op["x-kubernetes-action"], "patch");
    assert_eq!(
        op["x-kubernetes-group-version-kind"],
        serde_json::json!({"group": "example.com", "kind": "Widget", "version": "v1"})
    );
    // No strategic merge patch for custom resources (kubectl apply picks merge patch by it).
    let types: Vec<&String> = op["requestBody"]["content"]
        .as_object()
        .expect("content")
        .keys()
        .collect();
    assert_eq!(
        types,
        [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json"
        ]
    );
    assert_eq!(
        patch_op(&doc, &format!("{item}/scale"))["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    assert!(patch_op(&doc, &format!("{item}/status")).is_object());
    assert!(doc["paths"]["/apis/example.com/v1/widgets"]["get"].is_object());

    let schemas = &doc["components"]["schemas"];
    for name in [
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
        "io.k8s.api.autoscaling.v1.Scale",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
    let w = &schemas["com.example.v1.Widget"];
    assert_eq!(w["description"], "A widget.");
    assert_eq!(
        w["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "example.com", "kind": "Widget", "version": "v1"}])
    );
    assert_eq!(
        w["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(
        w["properties"]["kind"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Kind is a string value"))
    );
    let spec = &w["properties"]["spec"];
    assert_eq!(spec["properties"]["size"]["description"], "The size.");
    assert_eq!(spec["properties"]["note"]["nullable"], true);
    // Embedded resources get apiVersion, kind and metadata.
    let template = &spec["properties"]["template"];
    assert_eq!(
        template["required"],
        serde_json::json!(["kind", "apiVersion"])
    );
    assert!(template["properties"]["metadata"]["allOf"].is_array());
    let list = &schemas["com.example.v1.WidgetList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/com.example.v1.Widget"
    );
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "WidgetList"
    );
}

#[test]
fn custom_resources_join_the_v2_document_in_v2_form() {
    let mut doc = v2_document();
    let kinds = [widget_kind(Some(widget_schema()))];
    v2_add_custom(&mut doc, &kinds);
    let w = &doc["definitions"]["com.example.v1.Widget"];
    assert_eq!(
        w["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    let spec = &w["properties"]["spec"];
    // Nullable: untyped and not required; anyOf dropped.
    assert!(spec["properties"]["note"].get("type").is_none());
    assert_eq!(spec["required"], serde_json::json!(["size"]));
    assert!(spec["properties"]["port"].get("anyOf").is_none());
    let patch =
        &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(
        patch["consumes"],
        serde_json::json!([
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml"
        ])
    );
    assert!(doc["definitions"]["com.example.v1.WidgetList"].is_object());
    let pb = proto::encode_document(&doc);
    let needle = b"com.example.v1.Widget";
    assert!(pb.windows(needle.len()).any(|w| w == needle));

    // Preserving unknown fields at the root, or no schema: a bare object in v2.
    let mut root = widget_schema();
    root["x-kubernetes-preserve-unknown-fields"] = true.into();
    for kind in [widget_kind(Some(root)), widget_kind(None)] {
        assert_eq!(
            kind.kind_definition(true),
            serde_json::json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}]})
        );
    }
}
