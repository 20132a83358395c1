use super::*;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "prod", "uid": "u-1",
            "labels": {"app": "web", "tier": "front\"end"},
            "annotations": {"note": "line1\nline2"}
        },
        "spec": {
            "containers": [
                {"name": "main", "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "side"}
            ],
            "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "1"}}}]
        }
    }))
    .expect("pod")
}

fn allocatable() -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity("2".to_string())),
        ("memory".to_string(), Quantity("4Gi".to_string())),
        ("ephemeral-storage".to_string(), Quantity("10G".to_string())),
    ])
}

fn selector(
    resource: &str,
    container: Option<&str>,
    divisor: Option<&str>,
) -> ResourceFieldSelector {
    ResourceFieldSelector {
        resource: resource.to_string(),
        container_name: container.map(str::to_string),
        divisor: divisor.map(|d| Quantity(d.to_string())),
    }
}

#[test]
fn metadata_fields() {
    let p = pod();
    assert_eq!(metadata_field(&p, "metadata.name").as_deref(), Ok("web"));
    assert_eq!(
        metadata_field(&p, "metadata.namespace").as_deref(),
        Ok("prod")
    );
    assert_eq!(metadata_field(&p, "metadata.uid").as_deref(), Ok("u-1"));
    assert_eq!(
        metadata_field(&p, "metadata.labels['app']").as_deref(),
        Ok("web")
    );
    assert_eq!(
        metadata_field(&p, "metadata.labels['missing']").as_deref(),
        Ok("")
    );
    assert_eq!(
        metadata_field(&p, "metadata.annotations['note']").as_deref(),
        Ok("line1\nline2")
    );
}

#[test]
fn whole_maps_are_sorted_and_go_quoted() {
    let p = pod();
    assert_eq!(
        metadata_field(&p, "metadata.labels").as_deref(),
        Ok("app=\"web\"\ntier=\"front\\\"end\"")
    );
    assert_eq!(
        metadata_field(&p, "metadata.annotations").as_deref(),
        Ok("note=\"line1\\nline2\"")
    );
    assert_eq!(format_map(&BTreeMap::new()), "");
    let odd = BTreeMap::from([("k".to_string(), "a\\b\u{1}é\t".to_string())]);
    assert_eq!(format_map(&odd), "k=\"a\\\\b\\x01é\\t\"");
}

#[test]
fn unsupported_fields_are_errors() {
    let p = pod();
    assert_eq!(
        metadata_field(&p, "spec.nodeName"),
        Err(FieldError::UnsupportedField("spec.nodeName".into()))
    );
    assert_eq!(
        metadata_field(&p, "metadata.name['x']").map_err(|e| e.to_string()),
        Err("fieldPath \"metadata.name['x']\" does not support subscript".into())
    );
}

#[test]
fn resources_with_divisors_round_up() {
    let p = pod();
    let main = &p.spec.as_ref().expect("spec").containers[0];
    let a = allocatable();
    let value =
        |r: &str, d: Option<&str>| resource_value(&selector(r, None, d), &p, Some(main), &a);
    assert_eq!(value("limits.cpu", None).as_deref(), Ok("1"));
    assert_eq!(value("limits.cpu", Some("1m")).as_deref(), Ok("500"));
    assert_eq!(value("requests.cpu", Some("100m")).as_deref(), Ok("3"));
    assert_eq!(value("limits.memory", None).as_deref(), Ok("134217728"));
    assert_eq!(value("limits.memory", Some("1Mi")).as_deref(), Ok("128"));
    assert_eq!(value("requests.memory", Some("1Gi")).as_deref(), Ok("1"));
    // Unset limit: the node's allocatable; unset request: 0.
    assert_eq!(
        value("limits.ephemeral-storage", Some("1G")).as_deref(),
        Ok("10")
    );
    assert_eq!(
        value("requests.ephemeral-storage", None).as_deref(),
        Ok("0")
    );
}

#[test]
fn unset_limits_default_to_allocatable_for_named_containers() {
    let p = pod();
    let a = allocatable();
    let side = selector("limits.memory", Some("side"), Some("1Mi"));
    assert_eq!(resource_value(&side, &p, None, &a).as_deref(), Ok("4096"));
    let side_cpu = selector("limits.cpu", Some("side"), Some("1m"));
    assert_eq!(
        resource_value(&side_cpu, &p, None, &a).as_deref(),
        Ok("2000")
    );
    let init = selector("limits.cpu", Some("init"), None);
    assert_eq!(resource_value(&init, &p, None, &a).as_deref(), Ok("1"));
}

#[test]
fn resource_errors() {
    let p = pod();
    let a = allocatable();
    assert_eq!(
        resource_value(&selector("limits.cpu", Some("ghost"), None), &p, None, &a)
            .map_err(|e| e.to_string()),
        Err("container ghost not found".into())
    );
    assert_eq!(
        resource_value(&selector("limits.gpu", Some("main"), None), &p, None, &a)
            .map_err(|e| e.to_string()),
        Err("unsupported container resource : limits.gpu".into())
    );
    // A divisor below the unit counts as one unit, as upstream rounds it up.
    assert_eq!(
        resource_value(
            &selector("limits.memory", Some("main"), Some("1n")),
            &p,
            None,
            &a
        )
        .as_deref(),
        Ok("134217728")
    );
    assert_eq!(
        resource_value(
            &selector("limits.cpu", Some("main"), Some("bogus")),
            &p,
            None,
            &a
        ),
        Err(FieldError::Quantity("bogus".into(), "limits.cpu".into()))
    );
}
