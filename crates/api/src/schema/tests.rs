use serde_json::json;

use super::*;

fn deployment() -> Gvk<'static> {
    Gvk::new("apps", "v1", "Deployment")
}

#[test]
fn artifact_and_table_load() {
    let s = Schemas::load().expect("embedded schemas load");
    assert!(s.definitions().len() > 400);
    assert_eq!(
        s.kind_type(deployment()),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    // Every served kind has a schema.
    for r in crate::registry::all() {
        assert!(s.kind_type(r.into()).is_some(), "{} has no schema", r.kind);
    }
    let def = s.definition("io.k8s.api.apps.v1.Deployment").expect("def");
    assert_eq!(
        def["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    // As upstream: metadata is not required (k8s-openapi makes it non-optional).
    assert!(def.get("required").is_none());
}

#[test]
fn table_rows_are_checked() {
    let mut defs = schemas().definitions().clone();
    let err = load::apply_list_metadata(
        &mut defs,
        "io.k8s.api.core.v1.PodSpec\tnope\tmap\t-\t-\t-\t-\n",
    )
    .expect_err("missing field");
    assert!(err.to_string().contains("no field \"nope\""), "{err}");
    let err = load::apply_list_metadata(&mut defs, "x\ty\n").expect_err("columns");
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn field_lookup_has_description_and_merge_metadata() {
    let f = field("io.k8s.api.core.v1.PodSpec", "containers").expect("containers");
    assert_eq!(
        f.shape,
        Shape::Array(Box::new(Shape::Object("io.k8s.api.core.v1.Container")))
    );
    assert!(
        f.description
            .is_some_and(|d| d.starts_with("List of containers"))
    );
    assert_eq!(f.list_type, Some("map"));
    assert_eq!(f.map_keys, vec!["name"]);
    assert_eq!(f.patch_strategy, Some("merge"));
    assert_eq!(f.patch_merge_key, Some("name"));

    let ports = merge_info("io.k8s.api.core.v1.Container", "ports").expect("ports");
    assert_eq!(ports.patch_merge_key, Some("containerPort"));
    assert_eq!(ports.list_map_keys, vec!["containerPort", "protocol"]);
    assert_eq!(ports.item_type(), Some("io.k8s.api.core.v1.ContainerPort"));

    let svc = merge_info("io.k8s.api.core.v1.ServiceSpec", "ports").expect("svc ports");
    assert_eq!(svc.patch_merge_key, Some("port"));
    assert_eq!(svc.list_map_keys, vec!["port", "protocol"]);

    let volumes = merge_info("io.k8s.api.core.v1.PodSpec", "volumes").expect("volumes");
    assert!(volumes.merges() && volumes.retains_keys());
    let strategy = merge_info("io.k8s.api.apps.v1.DeploymentSpec", "strategy").expect("strategy");
    assert!(strategy.retains_keys() && !strategy.merges());
    assert_eq!(
        strategy.item_type(),
        Some("io.k8s.api.apps.v1.DeploymentStrategy")
    );

    let fin = merge_info(OBJECT_META, "finalizers").expect("finalizers");
    assert!(fin.merges());
    assert_eq!(fin.list_type, Some("set"));
    assert_eq!(fin.patch_merge_key, None);
    let owners = merge_info(OBJECT_META, "ownerReferences").expect("owners");
    assert_eq!(owners.patch_merge_key, Some("uid"));

    let tolerations = merge_info("io.k8s.api.core.v1.PodSpec", "tolerations").expect("tol");
    assert_eq!(tolerations.list_type, Some("atomic"));
    assert!(tolerations.patch_strategies.is_empty());

    let selector = merge_info("io.k8s.api.apps.v1.DeploymentSpec", "selector").expect("sel");
    assert_eq!(selector.map_type, Some("atomic"));

    let cond = merge_info("io.k8s.api.apps.v1.DeploymentStatus", "conditions").expect("c");
    assert_eq!(cond.patch_merge_key, Some("type"));

    let surge = field("io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge").expect("s");
    assert_eq!(surge.shape, Shape::IntOrString);
    let labels = field(OBJECT_META, "labels").expect("labels");
    assert_eq!(labels.shape, Shape::Map(Box::new(Shape::Scalar("string"))));
    assert!(field("io.k8s.api.core.v1.PodSpec", "nope").is_none());
}

#[test]
fn merge_schema_trait_answers_types() {
    use crate::strategic::{MergeSchema, Strategy};
    let s = schemas();
    let f = MergeSchema::field(s, "io.k8s.api.core.v1.PodSpec", "containers").expect("f");
    assert_eq!(f.ty, Some("io.k8s.api.core.v1.Container"));
    assert_eq!(f.merge.strategy, Strategy::Merge { key: Some("name") });
    let f = MergeSchema::field(s, "io.k8s.api.core.v1.PodSpec", "volumes").expect("v");
    assert!(f.merge.retain_keys);
    let f = MergeSchema::field(s, "io.k8s.api.core.v1.PodSpec", "tolerations").expect("t");
    assert_eq!(f.merge.strategy, Strategy::Default);
    let f = MergeSchema::field(s, OBJECT_META, "labels").expect("labels");
    assert_eq!(f.ty, None);
    // A map of structs answers every key with the value type.
    let f =
        MergeSchema::field(s, "io.k8s.api.core.v1.ResourceRequirements", "limits").expect("limits");
    assert_eq!(f.ty, None);
    let ty = s
        .map_types
        .keys()
        .next()
        .expect("some map of structs exists")
        .clone();
    let f = MergeSchema::field(s, &ty, "any-key").expect("map value");
    assert!(f.ty.is_some());
}

#[test]
fn unknown_fields_have_upstream_paths_and_are_dropped() {
    let mut obj = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"a": "b"}, "bogus": 1},
        "spec": {
            "foo": true,
            "replicas": 1,
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "extra": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "a", "image": "x"},
                    {"name": "b", "image": "y", "imagePullPolice": "Always",
                     "resources": {"limits": {"cpu": "1"}},
                     "ports": [{"containerPort": 80, "hostPortt": 1}]}
                ]}
            }
        },
        "status": {"whatever": 1}
    });
    let found = unknown_fields(deployment(), &obj);
    assert_eq!(
        found,
        vec![
            "metadata.bogus",
            "spec.foo",
            "spec.strategy.rollingUpdate.extra",
            "spec.template.spec.containers[1].imagePullPolice",
            "spec.template.spec.containers[1].ports[0].hostPortt",
            "status.whatever",
        ]
    );
    let dropped = prune_unknown(deployment(), &mut obj);
    assert_eq!(dropped, found);
    assert!(unknown_fields(deployment(), &obj).is_empty());
    assert_eq!(obj["spec"]["replicas"], json!(1));
    assert_eq!(obj["metadata"]["labels"]["a"], json!("b"));
}

#[test]
fn opaque_values_are_preserved() {
    // RawExtension (ControllerRevision.data), FieldsV1 (managedFields[].fieldsV1), JSON in a CRD
    // schema, int-or-string and quantities are kept whatever they hold.
    let rev = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r",
            "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
        "revision": 1,
        "data": {"spec": {"anything": {"goes": true}}}
    });
    assert!(unknown_fields(Gvk::new("apps", "v1", "ControllerRevision"), &rev).is_empty());
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "a.b"},
        "spec": {"group": "b", "scope": "Namespaced", "names": {"plural": "a", "kind": "A"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"spec": {"type": "object", "default": {"x": 1},
                    "items": {"type": "string"}}}}}}]}
    });
    assert_eq!(
        unknown_fields(
            Gvk::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            &crd
        ),
        Vec::<String>::new()
    );
    // Unknown kinds have no unknown fields.
    assert!(unknown_fields(Gvk::new("example.com", "v1", "Foo"), &json!({"x": 1})).is_empty());
    // Wrong JSON types are left to decoding.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "nope"}});
    assert!(unknown_fields(Gvk::new("", "v1", "Pod"), &pod).is_empty());
}

#[test]
fn duplicates_are_found_in_raw_json() {
    let raw = br#"{"kind":"Deployment","spec":{"replicas":1,"replicas":2,
        "template":{"spec":{"containers":[{"name":"a","name":"b"},{"name":"c"}]}}},
        "metadata":{"labels":{"a":"1","a":"2","a":"3"},"na\"me":"x","na\u0022me":"y"}}"#;
    assert_eq!(
        duplicate_fields(raw),
        vec![
            "spec.replicas",
            "spec.template.spec.containers[0].name",
            "metadata.labels.a",
            "metadata.na\"me",
        ]
    );
    assert!(duplicate_fields(br#"{"a":[1,2,{"b":[]}],"c":{}}"#).is_empty());
    assert!(duplicate_fields(b"{\"a\":1,\"a\"").len() <= 1);
    assert!(duplicate_fields(b"not json").is_empty());
}
