//! Strategic merge patch tests: upstream's `patch_test.go` cases (transcribed in
//! [`UPSTREAM_CASES`], run against a fake of upstream's `MergeItem` test type) and Kubernetes-shaped
//! cases against a small table of built-in types with their upstream merge keys.

use serde_json::{Value, json};

use super::*;

const POD: &str = "io.k8s.api.core.v1.Pod";
const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const SERVICE: &str = "io.k8s.api.core.v1.Service";
const MERGE_ITEM: &str = "MergeItem";

/// A table-backed schema: upstream's `MergeItem`/`RetainKeysMergeItem` test structs and the
/// built-in types the Kubernetes-shaped cases use, with upstream's `patchStrategy`/`patchMergeKey`.
struct Fake;

fn plain(ty: Option<&'static str>) -> FieldRef<'static> {
    FieldRef {
        ty,
        merge: MergeInfo::default(),
    }
}

fn merge(key: Option<&'static str>, ty: Option<&'static str>) -> FieldRef<'static> {
    FieldRef {
        ty,
        merge: MergeInfo {
            strategy: Strategy::Merge { key },
            retain_keys: false,
        },
    }
}

fn retain(mut f: FieldRef<'static>) -> FieldRef<'static> {
    f.merge.retain_keys = true;
    f
}

impl MergeSchema for Fake {
    fn field<'a>(&'a self, ty: &str, name: &str) -> Option<FieldRef<'a>> {
        const MI: Option<&str> = Some(MERGE_ITEM);
        let core = |t: &'static str| Some(t);
        Some(match (ty, name) {
            // upstream patch_test.go MergeItem / RetainKeysMergeItem
            ("MergeItem" | "RetainKeysMergeItem", "name" | "value" | "other" | "simpleMap") => {
                plain(None)
            }
            ("MergeItem" | "RetainKeysMergeItem", "mergingList") => merge(Some("name"), MI),
            ("MergeItem" | "RetainKeysMergeItem", "nonMergingList") => plain(MI),
            ("MergeItem" | "RetainKeysMergeItem", "mergingIntList") => merge(None, None),
            ("MergeItem", "nonMergingIntList") => plain(None),
            ("MergeItem", "mergeItemPtr") => merge(Some("name"), MI),
            ("MergeItem", "replacingItem") => FieldRef {
                ty: None,
                merge: MergeInfo {
                    strategy: Strategy::Replace,
                    retain_keys: false,
                },
            },
            ("MergeItem", "retainKeysMap") => retain(plain(Some("RetainKeysMergeItem"))),
            ("MergeItem", "retainKeysMergingList") => retain(merge(Some("name"), MI)),
            // built-in types
            (POD | DEPLOYMENT | SERVICE | "io.k8s.api.core.v1.PodTemplateSpec", "metadata") => {
                plain(core("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
            }
            (POD | "io.k8s.api.core.v1.PodTemplateSpec", "spec") => {
                plain(core("io.k8s.api.core.v1.PodSpec"))
            }
            (POD, "status") => plain(core("io.k8s.api.core.v1.PodStatus")),
            (DEPLOYMENT, "spec") => plain(core("io.k8s.api.apps.v1.DeploymentSpec")),
            (SERVICE, "spec") => plain(core("io.k8s.api.core.v1.ServiceSpec")),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers") => merge(None, None),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences") => {
                merge(Some("uid"), None)
            }
            ("io.k8s.api.core.v1.PodSpec", "containers" | "initContainers") => {
                merge(Some("name"), core("io.k8s.api.core.v1.Container"))
            }
            ("io.k8s.api.core.v1.PodSpec", "volumes") => {
                retain(merge(Some("name"), core("io.k8s.api.core.v1.Volume")))
            }
            ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets") => merge(Some("name"), None),
            ("io.k8s.api.core.v1.PodSpec", "tolerations") => plain(None),
            ("io.k8s.api.core.v1.Container", "env") => merge(Some("name"), None),
            ("io.k8s.api.core.v1.Container", "ports") => merge(Some("containerPort"), None),
            ("io.k8s.api.core.v1.Container", "volumeMounts") => merge(Some("mountPath"), None),
            ("io.k8s.api.core.v1.Container", "args" | "command") => plain(None),
            ("io.k8s.api.core.v1.PodStatus", "conditions") => merge(Some("type"), None),
            ("io.k8s.api.apps.v1.DeploymentSpec", "template") => {
                plain(core("io.k8s.api.core.v1.PodTemplateSpec"))
            }
            ("io.k8s.api.apps.v1.DeploymentSpec", "strategy") => retain(plain(None)),
            ("io.k8s.api.core.v1.ServiceSpec", "ports") => merge(Some("port"), None),
            _ => return None,
        })
    }
}

/// Applies `patch` to `original` (an object of type `root`) and compares with `expected`, which
/// is a JSON document or `error: <substring of the error message>`.
fn check(
    root: &str,
    original: &str,
    patch: &str,
    expected: &str,
) -> std::result::Result<(), String> {
    let parse =
        |s: &str| serde_json::from_str::<Value>(s).map_err(|e| format!("bad JSON {s}: {e}"));
    let got = apply(&parse(original)?, &parse(patch)?, root, &Fake);
    match (expected.strip_prefix("error: "), got) {
        (Some(want), Err(e)) if e.to_string().contains(want) => Ok(()),
        (Some(want), got) => Err(format!("expected error containing {want:?}, got {got:?}")),
        (None, Err(e)) => Err(format!("unexpected error: {e}")),
        (None, Ok(got)) => {
            let want = parse(expected)?;
            if got == want {
                Ok(())
            } else {
                Err(format!("\n  want {want}\n  got  {got}"))
            }
        }
    }
}

fn run(root: &str, cases: &[(&str, &str, &str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, original, patch, expected)| {
            check(root, original, patch, expected)
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn upstream_patch_test_cases() {
    run(MERGE_ITEM, UPSTREAM_CASES);
}

#[test]
fn kubectl_apply_edit_image_and_delete_env() {
    let live = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web"}},"spec":{
        "containers":[{"name":"web","image":"nginx:1.25","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
        "ports":[{"containerPort":80,"protocol":"TCP"}]}],"restartPolicy":"Always"}}}}"#;
    let patch = r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
        "containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],
        "image":"nginx:1.26","name":"web"}]}}}}"#;
    let want = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web"}},"spec":{
        "containers":[{"name":"web","image":"nginx:1.26","env":[{"name":"A","value":"1"}],
        "ports":[{"containerPort":80,"protocol":"TCP"}]}],"restartPolicy":"Always"}}}}"#;
    check(DEPLOYMENT, live, patch, want).unwrap();
}

/// Kubernetes-shaped cases: (description, root type, original, patch, expected).
const K8S_CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "docs example: a new container without anchor goes first (kubectl patch task page)",
        DEPLOYMENT,
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr","image":"nginx"}]}}}}"#,
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr-2","image":"redis"}]}}}}"#,
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr-2","image":"redis"},{"name":"patch-demo-ctr","image":"nginx"}]}}}}"#,
    ),
    (
        "containers merge by name; a new one after an anchor follows it",
        POD,
        r#"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}}"#,
        r#"{"spec":{"containers":[{"name":"b","image":"y2"},{"name":"c","image":"z"}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y2"},{"name":"c","image":"z"}]}}"#,
    ),
    (
        "initContainers merge by name",
        POD,
        r#"{"spec":{"initContainers":[{"name":"init","image":"x","args":["a"]}]}}"#,
        r#"{"spec":{"initContainers":[{"name":"init","args":["b","c"]}]}}"#,
        r#"{"spec":{"initContainers":[{"name":"init","image":"x","args":["b","c"]}]}}"#,
    ),
    (
        "env var deleted by name, others kept",
        POD,
        r#"{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","env":[{"name":"X","$patch":"delete"}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"}]}]}}"#,
    ),
    (
        "ports merge by containerPort",
        POD,
        r#"{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http"},{"containerPort":443}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","ports":[{"containerPort":443,"name":"https"},{"containerPort":8080}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http"},{"containerPort":443,"name":"https"},{"containerPort":8080}]}]}}"#,
    ),
    (
        "volumeMounts merge by mountPath",
        POD,
        r#"{"spec":{"containers":[{"name":"a","volumeMounts":[{"mountPath":"/data","name":"d"}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","volumeMounts":[{"mountPath":"/data","readOnly":true},{"mountPath":"/cfg","name":"c"}]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","volumeMounts":[{"mountPath":"/data","name":"d","readOnly":true},{"mountPath":"/cfg","name":"c"}]}]}}"#,
    ),
    (
        "args and command are atomic",
        POD,
        r#"{"spec":{"containers":[{"name":"a","command":["sh"],"args":["-c","x"]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","args":["y"]}]}}"#,
        r#"{"spec":{"containers":[{"name":"a","command":["sh"],"args":["y"]}]}}"#,
    ),
    (
        "tolerations are atomic",
        POD,
        r#"{"spec":{"tolerations":[{"key":"a","operator":"Exists"},{"key":"b","operator":"Exists"}]}}"#,
        r#"{"spec":{"tolerations":[{"key":"c","operator":"Exists"}]}}"#,
        r#"{"spec":{"tolerations":[{"key":"c","operator":"Exists"}]}}"#,
    ),
    (
        "imagePullSecrets merge by name",
        POD,
        r#"{"spec":{"imagePullSecrets":[{"name":"a"}]}}"#,
        r#"{"spec":{"imagePullSecrets":[{"name":"b"},{"name":"a"}]}}"#,
        r#"{"spec":{"imagePullSecrets":[{"name":"b"},{"name":"a"}]}}"#,
    ),
    (
        "status conditions merge by type",
        POD,
        r#"{"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Initialized","status":"True"}]}}"#,
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Initialized","status":"True"}]}}"#,
    ),
    (
        "ownerReferences merge by uid",
        POD,
        r#"{"metadata":{"ownerReferences":[{"uid":"1","name":"rs-a"}]}}"#,
        r#"{"metadata":{"ownerReferences":[{"uid":"2","name":"rs-b"},{"uid":"1","controller":true}]}}"#,
        r#"{"metadata":{"ownerReferences":[{"uid":"2","name":"rs-b"},{"uid":"1","name":"rs-a","controller":true}]}}"#,
    ),
    (
        "finalizers are a set: union without duplicates",
        POD,
        r#"{"metadata":{"finalizers":["a","b"]}}"#,
        r#"{"metadata":{"finalizers":["b","c"]}}"#,
        r#"{"metadata":{"finalizers":["a","b","c"]}}"#,
    ),
    (
        "$deleteFromPrimitiveList/finalizers",
        POD,
        r#"{"metadata":{"finalizers":["a","b","c"]}}"#,
        r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["b","x"]}}"#,
        r#"{"metadata":{"finalizers":["a","c"]}}"#,
    ),
    (
        "finalizers: add one and delete one",
        POD,
        r#"{"metadata":{"finalizers":["a","b"]}}"#,
        r#"{"metadata":{"finalizers":["c"],"$deleteFromPrimitiveList/finalizers":["a"]}}"#,
        r#"{"metadata":{"finalizers":["c","b"]}}"#,
    ),
    (
        "null deletes a label; labels merge",
        POD,
        r#"{"metadata":{"labels":{"a":"1","b":"2"}}}"#,
        r#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#,
        r#"{"metadata":{"labels":{"b":"2","c":"3"}}}"#,
    ),
    (
        "service ports merge by port",
        SERVICE,
        r#"{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}}"#,
        r#"{"spec":{"ports":[{"port":80,"targetPort":9090}]}}"#,
        r#"{"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}}"#,
    ),
    (
        "$patch: replace on the containers list",
        POD,
        r#"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}}"#,
        r#"{"spec":{"containers":[{"name":"c","image":"z"},{"$patch":"replace"}]}}"#,
        r#"{"spec":{"containers":[{"name":"c","image":"z"}]}}"#,
    ),
    (
        "$patch: replace on a map",
        POD,
        r#"{"spec":{"nodeSelector":{"a":"1","b":"2"}}}"#,
        r#"{"spec":{"nodeSelector":{"$patch":"replace","c":"3"}}}"#,
        r#"{"spec":{"nodeSelector":{"c":"3"}}}"#,
    ),
    (
        "$patch: delete on a map empties it",
        POD,
        r#"{"spec":{"affinity":{"nodeAffinity":{"x":1}},"restartPolicy":"Always"}}"#,
        r#"{"spec":{"affinity":{"$patch":"delete"}}}"#,
        r#"{"spec":{"affinity":{},"restartPolicy":"Always"}}"#,
    ),
    (
        "volumes: $retainKeys switches the volume source",
        POD,
        r#"{"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"w","secret":{"secretName":"s"}}]}}"#,
        r#"{"spec":{"$setElementOrder/volumes":[{"name":"v"},{"name":"w"}],"volumes":[{"$retainKeys":["configMap","name"],"name":"v","configMap":{"name":"cm"}}]}}"#,
        r#"{"spec":{"volumes":[{"name":"v","configMap":{"name":"cm"}},{"name":"w","secret":{"secretName":"s"}}]}}"#,
    ),
    (
        "deployment strategy: $retainKeys drops rollingUpdate when switching to Recreate",
        DEPLOYMENT,
        r#"{"spec":{"replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}}"#,
        r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#,
        r#"{"spec":{"replicas":1,"strategy":{"type":"Recreate"}}}"#,
    ),
    (
        "$setElementOrder reorders containers; a server-only one goes before its live successor",
        POD,
        r#"{"spec":{"containers":[{"name":"a"},{"name":"sidecar"},{"name":"b"}]}}"#,
        r#"{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}"#,
        r#"{"spec":{"containers":[{"name":"sidecar"},{"name":"b"},{"name":"a"}]}}"#,
    ),
    (
        "a new container with directives inside: none leak",
        POD,
        r#"{"spec":{"containers":[{"name":"a"}]}}"#,
        r#"{"spec":{"containers":[{"name":"b","$setElementOrder/env":[{"name":"X"}],"env":[{"name":"X","value":"1"},{"name":"Y","$patch":"delete"}],"resources":{"$retainKeys":["limits"],"limits":{"cpu":"1"},"requests":null}}]}}"#,
        r#"{"spec":{"containers":[{"name":"b","env":[{"name":"X","value":"1"}],"resources":{"limits":{"cpu":"1"}}},{"name":"a"}]}}"#,
    ),
    (
        "a new map with $patch: replace keeps its content; with delete it is dropped",
        POD,
        r#"{"spec":{}}"#,
        r#"{"spec":{"nodeSelector":{"$patch":"replace","a":"1"},"affinity":{"$patch":"delete"}}}"#,
        r#"{"spec":{"nodeSelector":{"a":"1"}}}"#,
    ),
    (
        "a map replacing a string, and a list replacing a map",
        POD,
        r#"{"spec":{"a":"x","b":{"c":1}}}"#,
        r#"{"spec":{"a":{"y":null,"z":1},"b":[1]}}"#,
        r#"{"spec":{"a":{"z":1},"b":[1]}}"#,
    ),
    (
        "top-level $patch: replace",
        POD,
        r#"{"metadata":{"name":"p"},"spec":{}}"#,
        r#"{"$patch":"replace","metadata":{"name":"q"}}"#,
        r#"{"metadata":{"name":"q"}}"#,
    ),
    (
        "null patch and null original count as {}",
        POD,
        r#"null"#,
        r#"{"metadata":{"name":"p"}}"#,
        r#"{"metadata":{"name":"p"}}"#,
    ),
    (
        "unknown type: maps merge, lists are replaced",
        "example.com/v1.Widget",
        r#"{"spec":{"items":[{"name":"a"}],"size":{"w":1,"h":2}}}"#,
        r#"{"spec":{"items":[{"name":"b"}],"size":{"h":null,"d":3}}}"#,
        r#"{"spec":{"items":[{"name":"b"}],"size":{"w":1,"d":3}}}"#,
    ),
    (
        "unknown field of a known type: default rules",
        POD,
        r#"{"spec":{"newList":[1,2],"newMap":{"a":1}}}"#,
        r#"{"spec":{"newList":[3],"newMap":{"b":2}}}"#,
        r#"{"spec":{"newList":[3],"newMap":{"a":1,"b":2}}}"#,
    ),
    // errors
    (
        "unknown $patch in a map",
        POD,
        r#"{"spec":{"affinity":{}}}"#,
        r#"{"spec":{"affinity":{"$patch":"frob"}}}"#,
        "error: unknown patch type: frob in map",
    ),
    (
        "$patch: merge in a list",
        POD,
        r#"{"spec":{"containers":[{"name":"a"}]}}"#,
        r#"{"spec":{"containers":[{"$patch":"merge"}]}}"#,
        "error: merging lists cannot yet be specified in the patch",
    ),
    (
        "$patch: delete without the merge key",
        POD,
        r#"{"spec":{"containers":[{"name":"a"}]}}"#,
        r#"{"spec":{"containers":[{"$patch":"delete","image":"x"}]}}"#,
        "error: does not contain declared merge key: name",
    ),
    (
        "$retainKeys is not a list",
        DEPLOYMENT,
        r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
        r#"{"spec":{"strategy":{"$retainKeys":"type"}}}"#,
        "error: invalid patch format of retainKeys",
    ),
    (
        "patch sets a key $retainKeys does not list",
        DEPLOYMENT,
        r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
        r#"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}}"#,
        "error: invalid patch format of retainKeys",
    ),
    (
        "$setElementOrder without a field",
        POD,
        r#"{"spec":{}}"#,
        r#"{"spec":{"$setElementOrder":[]}}"#,
        "error: invalid patch format of setElementOrder list",
    ),
    (
        "$setElementOrder that is not a list",
        POD,
        r#"{"spec":{"containers":[{"name":"a"}]}}"#,
        r#"{"spec":{"$setElementOrder/containers":{"name":"a"}}}"#,
        "error: expected a []interface {}, but received a map[string]interface {}",
    ),
    (
        "$deleteFromPrimitiveList without a field",
        POD,
        r#"{"metadata":{"finalizers":["a"]}}"#,
        r#"{"metadata":{"$deleteFromPrimitiveList":["a"]}}"#,
        "error: invalid patch format of primitive list",
    ),
    (
        "merged list mixing element types",
        POD,
        r#"{"metadata":{"finalizers":["a"]}}"#,
        r#"{"metadata":{"finalizers":[1]}}"#,
        "error: list element types are not identical",
    ),
    (
        "patch is not an object",
        POD,
        r#"{}"#,
        r#"[1]"#,
        "error: invalid JSON document",
    ),
];

#[test]
fn kubernetes_cases() {
    let failures: Vec<String> = K8S_CASES
        .iter()
        .filter_map(|(name, root, original, patch, expected)| {
            check(root, original, patch, expected)
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        K8S_CASES.len(),
        failures.join("\n")
    );
}

/// True when some key anywhere in `v` is a directive.
fn has_directive(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k.starts_with('$') || has_directive(x)),
        Value::Array(a) => a.iter().any(has_directive),
        _ => false,
    }
}

#[test]
fn directives_never_reach_the_result() {
    let failures: Vec<&str> = UPSTREAM_CASES
        .iter()
        .filter(|(_, _, _, expected)| !expected.starts_with("error: "))
        .filter_map(|(name, original, patch, _)| {
            let original: Value = serde_json::from_str(original).ok()?;
            let patch: Value = serde_json::from_str(patch).ok()?;
            let got = apply(&original, &patch, MERGE_ITEM, &Fake).ok()?;
            has_directive(&got).then_some(*name)
        })
        .collect();
    assert!(failures.is_empty(), "directives leaked: {failures:?}");
}

#[test]
fn no_schema_is_a_json_merge_patch_with_directives() {
    let original = json!({"a": {"b": 1, "c": [1, 2]}, "d": [{"name": "x"}]});
    let patch = json!({"a": {"b": null, "c": [3]}, "d": [{"name": "y"}], "e": {"f": null, "g": 1}});
    let got = apply(&original, &patch, POD, &NoSchema).unwrap();
    assert_eq!(
        got,
        json!({"a": {"c": [3]}, "d": [{"name": "y"}], "e": {"g": 1}})
    );
}

#[test]
fn apply_owned_matches_apply() {
    let original = json!({"metadata": {"finalizers": ["a"]}});
    let patch = json!({"metadata": {"finalizers": ["b"]}});
    assert_eq!(
        apply(&original, &patch, POD, &Fake).unwrap(),
        apply_owned(original.clone(), &patch, POD, &Fake).unwrap()
    );
}

/// A pod spec with `n` containers, each with env, ports and mounts.
fn big_pod(n: usize) -> Value {
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "name": format!("c{i}"), "image": "nginx:1.25",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8000 + i, "protocol": "TCP"}],
                "volumeMounts": [{"mountPath": "/data", "name": "data"}],
            })
        })
        .collect();
    json!({"metadata": {"name": "big", "labels": {"app": "big"}}, "spec": {"containers": containers}})
}

/// What `kubectl apply` sends after changing every image and deleting env `B` everywhere.
fn big_apply_patch(n: usize) -> Value {
    let order: Vec<Value> = (0..n).map(|i| json!({"name": format!("c{i}")})).collect();
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "name": format!("c{i}"), "image": "nginx:1.26",
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
            })
        })
        .collect();
    json!({"spec": {"$setElementOrder/containers": order, "containers": containers}})
}

#[test]
fn two_hundred_containers() {
    let got = apply(&big_pod(200), &big_apply_patch(200), POD, &Fake).unwrap();
    let containers = got["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 200);
    for (i, c) in containers.iter().enumerate() {
        assert_eq!(c["name"], format!("c{i}"));
        assert_eq!(c["image"], "nginx:1.26");
        assert_eq!(c["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(c["ports"][0]["containerPort"], 8000 + i);
    }
    assert!(!has_directive(&got));
}

/// Upstream `patch_test.go` cases for `StrategicMergePatch`, against its `MergeItem` type:
/// (description, original, patch, expected result or `error: <message part>`). Each upstream
/// case gives a two-way check (original + two-way patch → modified, or its `twoWayResult`) and,
/// where it has one, a three-way check (current + three-way patch → result).
const UPSTREAM_CASES: &[(&str, &str, &str, &str)] = &[
    (
        "unique scalars when merging lists",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"mergingIntList":[2,3]}"#,
        r#"{"mergingIntList":[1,2,3]}"#,
    ),
    (
        "delete map from nested map",
        r#"{"simpleMap":{"key1":1,"key2":1}}"#,
        r#"{"simpleMap":{"$patch":"delete"}}"#,
        r#"{"simpleMap":{}}"#,
    ),
    (
        "delete all items from merging list",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"mergingList":[{"$patch":"replace"}]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "merge empty merging lists",
        r#"{"mergingList":[]}"#,
        r#"{"mergingList":[]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "delete all keys from map",
        r#"{"name":1,"value":1}"#,
        r#"{"$patch":"replace"}"#,
        r#"{}"#,
    ),
    (
        "add key and delete all keys from map",
        r#"{"name":1,"value":1}"#,
        r#"{"other":"a","$patch":"replace"}"#,
        r#"{"other":"a"}"#,
    ),
    (
        "delete all duplicate entries in a merging list",
        r#"{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}"#,
        r#"{"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2,"value":"a"}]}"#,
    ),
    (
        "retainKeys map can add a field when no retainKeys directive present",
        r#"{"retainKeysMap":{"name":"foo"}}"#,
        r#"{"retainKeysMap":{"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map can change a field when no retainKeys directive present",
        r#"{"retainKeysMap":{"name":"foo","value":"a"}}"#,
        r#"{"retainKeysMap":{"value":"b"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"b"}}"#,
    ),
    (
        "retainKeys map can delete a field when no retainKeys directive present",
        r#"{"retainKeysMap":{"name":"foo","value":"a"}}"#,
        r#"{"retainKeysMap":{"value":null}}"#,
        r#"{"retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map merge an empty map",
        r#"{"retainKeysMap":{"name":"foo","value":"a"}}"#,
        r#"{"retainKeysMap":{}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"a"}}"#,
    ),
    (
        "retainKeys list can add a field when no retainKeys directive present",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"foo","value":"a"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
    ),
    (
        "retainKeys list can change a field when no retainKeys directive present",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"foo","value":"b"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"b"}]}"#,
    ),
    (
        "retainKeys list can delete a field when no retainKeys directive present",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"foo","value":null}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]}"#,
    ),
    (
        "preserve the order from the patch in a merging list",
        r#"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
        r#"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]}"#,
        r#"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]}"#,
    ),
    (
        "preserve the order from the patch in a merging list 2",
        r#"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
        r#"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#,
        r#"{"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#,
    ),
    (
        "preserve the order from the patch in a merging int list",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"mergingIntList":[3,1,2]}"#,
        r#"{"mergingIntList":[3,1,2]}"#,
    ),
    (
        "preserve the order from the patch in a merging int list 2",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"mergingIntList":[3,1]}"#,
        r#"{"mergingIntList":[2,3,1]}"#,
    ),
    (
        "$setElementOrder contains item that is not present in the list to be merged",
        r#"{"mergingList":[{"name":1},{"name":3}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
        r#"{"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
    ),
    (
        "$setElementOrder contains item that is not present in the int list to be merged",
        r#"{"mergingIntList":[1,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[3,2,1]}"#,
        r#"{"mergingIntList":[3,1]}"#,
    ),
    (
        "should check if order in $setElementOrder and patch list match",
        r#"{"mergingList":[{"name":1},{"name":3},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
        r#"error: doesn't match"#,
    ),
    (
        "should check if order in $setElementOrder and patch int list match",
        r#"{"mergingIntList":[1,3,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]}"#,
        r#"error: doesn't match"#,
    ),
    (
        "missing merge key should error out",
        r#"{"mergingList":[{"name":1,"value":"a"}]}"#,
        r#"{"mergingList":[{"value":"b"}]}"#,
        r#"error: does not contain declared merge key"#,
    ),
    (
        "$deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2]}"#,
    ),
    (
        "$deleteFromPrimitiveList on empty primitive list should not add the item to the list",
        r#"{"mergingIntList":null}"#,
        r#"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":null}"#,
    ),
    (
        "$deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list",
        r#"{"foo":["bar"]}"#,
        r#"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"foo":["bar"]}"#,
    ),
    (
        "$deleteFromPrimitiveList should delete item from a list with merge patch strategy",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$deleteFromPrimitiveList/mergingIntList":[2]}"#,
        r#"{"mergingIntList":[1,3]}"#,
    ),
    (
        "$deleteFromPrimitiveList should delete item from a list without merge patch strategy",
        r#"{"nonMergingIntList":[1,2,3]}"#,
        r#"{"$deleteFromPrimitiveList/nonMergingIntList":[2]}"#,
        r#"{"nonMergingIntList":[1,3]}"#,
    ),
    (
        "nil original (two-way)",
        r#"null"#,
        r#"{"name":1,"value":1}"#,
        r#"{"name":1,"value":1}"#,
    ),
    (
        "nil original (three-way)",
        r#"{"name":1,"other":"a"}"#,
        r#"{"value":1}"#,
        r#"{"name":1,"value":1,"other":"a"}"#,
    ),
    (
        "nil patch (two-way)",
        r#"{"name":1}"#,
        r#"{}"#,
        r#"{"name":1}"#,
    ),
    (
        "nil patch (three-way)",
        r#"{"name":1}"#,
        r#"{}"#,
        r#"{"name":1}"#,
    ),
    (
        "add field to map with conflict (two-way)",
        r#"{"name":1}"#,
        r#"{"value":1}"#,
        r#"{"name":1,"value":1}"#,
    ),
    (
        "add field to map with conflict (three-way)",
        r#"{"name":"a","other":"a"}"#,
        r#"{"name":1,"value":1}"#,
        r#"{"name":1,"value":1,"other":"a"}"#,
    ),
    (
        "add field and delete field from map (two-way)",
        r#"{"name":1}"#,
        r#"{"name":null,"value":1}"#,
        r#"{"value":1}"#,
    ),
    (
        "add field and delete field from map (three-way)",
        r#"{"name":1,"other":"a"}"#,
        r#"{"name":null,"value":1}"#,
        r#"{"value":1,"other":"a"}"#,
    ),
    (
        "delete field from nested map with conflict (two-way)",
        r#"{"simpleMap":{"key1":1,"key2":1}}"#,
        r#"{"simpleMap":{"key2":null}}"#,
        r#"{"simpleMap":{"key1":1}}"#,
    ),
    (
        "delete field from nested map with conflict (three-way)",
        r#"{"simpleMap":{"key1":"a","key2":1,"other":"a"}}"#,
        r#"{"simpleMap":{"key1":1,"key2":null}}"#,
        r#"{"simpleMap":{"key1":1,"other":"a"}}"#,
    ),
    (
        "delete all fields from map (two-way)",
        r#"{"name":1,"value":1}"#,
        r#"{"name":null,"value":null}"#,
        r#"{}"#,
    ),
    (
        "delete all fields from map (three-way)",
        r#"{"name":1,"value":1,"other":"a"}"#,
        r#"{"name":null,"value":null}"#,
        r#"{"other":"a"}"#,
    ),
    (
        "add field and delete all fields from map with conflict (two-way)",
        r#"{"name":1,"value":1}"#,
        r#"{"name":null,"value":null,"other":"a"}"#,
        r#"{"other":"a"}"#,
    ),
    (
        "add field and delete all fields from map with conflict (three-way)",
        r#"{"name":1,"value":1,"other":"b"}"#,
        r#"{"name":null,"value":null,"other":"a"}"#,
        r#"{"other":"a"}"#,
    ),
    (
        "replace list of scalars with conflict (two-way)",
        r#"{"nonMergingIntList":[1,2]}"#,
        r#"{"nonMergingIntList":[2,3]}"#,
        r#"{"nonMergingIntList":[2,3]}"#,
    ),
    (
        "replace list of scalars with conflict (three-way)",
        r#"{"nonMergingIntList":[1,4]}"#,
        r#"{"nonMergingIntList":[2,3]}"#,
        r#"{"nonMergingIntList":[2,3]}"#,
    ),
    (
        "delete all maps from merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "delete all maps from merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"other":"b"}]}"#,
        r#"{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "delete all maps from empty merging list (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "delete all maps from empty merging list (three-way)",
        r#"{"mergingList":[]}"#,
        r#"{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]}"#,
        r#"{"mergingList":[]}"#,
    ),
    (
        "defined null values should propagate overwrite current fields (with conflict) (two-way)",
        r#"{"name":2}"#,
        r#"{"name":1,"value":1,"other":null}"#,
        r#"{"name":1,"value":1}"#,
    ),
    (
        "defined null values should propagate overwrite current fields (with conflict) (three-way)",
        r#"{"name":"a","other":"a"}"#,
        r#"{"name":1,"value":1,"other":null}"#,
        r#"{"name":1,"value":1}"#,
    ),
    (
        "defined null values should propagate removing original fields (two-way)",
        r#"{"name":"original-name","value":"original-value"}"#,
        r#"{"name":"modified-name","value":null}"#,
        r#"{"name":"modified-name"}"#,
    ),
    (
        "defined null values should propagate removing original fields (three-way)",
        r#"{"name":"original-name","value":"original-value","other":"current-other"}"#,
        r#"{"name":"modified-name","value":null}"#,
        r#"{"name":"modified-name","other":"current-other"}"#,
    ),
    (
        "retainKeys map with no change should not be present (two-way)",
        r#"{"name":"a","retainKeysMap":{"name":"foo"}}"#,
        r#"{"value":"b"}"#,
        r#"{"name":"a","value":"b","retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map with no change should not be present (three-way)",
        r#"{"name":"a","other":"c","retainKeysMap":{"name":"foo"}}"#,
        r#"{"value":"b"}"#,
        r#"{"name":"a","value":"b","other":"c","retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "nested patch merge with empty list (two-way)",
        r#"{"name":"hi"}"#,
        r#"{"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#,
        r#"{"name":"hi","mergingList":[{"name":"hello"}]}"#,
    ),
    (
        "nested patch merge with empty list (three-way)",
        r#"{"name":"hi","mergingList":[{"name":"hello2"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":"hello"},{"name":"doesntexist"}],"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#,
        r#"{"name":"hi","mergingList":[{"name":"hello"},{"name":"hello2"}]}"#,
    ),
    (
        "delete items in lists of scalars (two-way)",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2]}"#,
    ),
    (
        "delete items in lists of scalars (three-way)",
        r#"{"mergingIntList":[1,2,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2,4]}"#,
    ),
    (
        "delete all duplicate items in lists of scalars (two-way)",
        r#"{"mergingIntList":[1,2,3,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2]}"#,
    ),
    (
        "delete all duplicate items in lists of scalars (three-way)",
        r#"{"mergingIntList":[1,2,3,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2,4]}"#,
    ),
    (
        "add and delete items in lists of scalars (two-way)",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],"mergingIntList":[4]}"#,
        r#"{"mergingIntList":[1,2,4]}"#,
    ),
    (
        "add and delete items in lists of scalars (three-way)",
        r#"{"mergingIntList":[1,2,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2,4]}"#,
    ),
    (
        "merge lists of maps (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#,
    ),
    (
        "merge lists of maps (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
    ),
    (
        "merge lists of maps with conflict (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#,
    ),
    (
        "merge lists of maps with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":3,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":2,"value":2},{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
    ),
    (
        "add field to map in merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1}]}"#,
        r#"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
    ),
    (
        "add field to map in merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":3,"value":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
        r#"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2},{"name":3,"value":2,"other":"b"}]}"#,
    ),
    (
        "add an item that already exists in current object in merging list (two-way)",
        r#"{"mergingList":[{"name":1,"value":"a"},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3}]}"#,
        r#"{"mergingList":[{"name":1,"value":"a"},{"name":2},{"name":3}]}"#,
    ),
    (
        "add an item that already exists in current object in merging list (three-way)",
        r#"{"mergingList":[{"name":1,"value":"a","other":"x"},{"name":2},{"name":3}]}"#,
        r#"{}"#,
        r#"{"mergingList":[{"name":1,"value":"a","other":"x"},{"name":2},{"name":3}]}"#,
    ),
    (
        "replace map field value in merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":"a"}]}"#,
        r#"{"mergingList":[{"name":1,"value":"a"},{"name":2,"value":2}]}"#,
    ),
    (
        "replace map field value in merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"value":3,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":"a"}]}"#,
        r#"{"mergingList":[{"name":1,"value":"a","other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
    ),
    (
        "delete map from merging list (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2}]}"#,
    ),
    (
        "delete map from merging list (three-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2,"other":"b"}]}"#,
    ),
    (
        "delete missing map from merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2}]}"#,
    ),
    (
        "delete missing map from merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":3,"other":"a"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":2},{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2},{"name":3,"other":"a"}]}"#,
    ),
    (
        "add map and delete map from merging list (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2},{"name":3}]}"#,
    ),
    (
        "add map and delete map from merging list (three-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}"#,
    ),
    (
        "add map and delete map from merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2},{"name":3}]}"#,
    ),
    (
        "add map and delete map from merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":4,"other":"c"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":2},{"name":3},{"name":1,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":4,"other":"c"},{"name":2},{"name":3}]}"#,
    ),
    (
        "delete field from map in merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null}]}"#,
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
    ),
    (
        "delete field from map in merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"value":"a","other":"a"},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2}]}"#,
    ),
    (
        "delete missing field from map in merging list with conflict (two-way)",
        r#"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null}]}"#,
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
    ),
    (
        "delete missing field from map in merging list with conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null},{"name":2,"value":2}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
    ),
    (
        "replace non merging list nested in merging list with deletion conflict (two-way)",
        r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}"#,
        r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]},{"name":2}]}"#,
    ),
    (
        "replace non merging list nested in merging list with deletion conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":2,"value":2}]},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":1,"value":1}]},{"name":2,"other":"b"}]}"#,
    ),
    (
        "add field to map in merging list nested in merging list with value conflict (two-way)",
        r#"{"mergingList":[{"name":1,"mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"name":1,"mergingList":[{"name":1,"value":1}]}]}"#,
        r#"{"mergingList":[{"name":1,"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2}]}"#,
    ),
    (
        "add field to map in merging list nested in merging list with value conflict (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1,"value":"a","other":"c"},{"name":2,"value":"b","other":"d"}]},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"name":1,"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1,"value":1,"other":"c"},{"name":2,"value":2,"other":"d"}]},{"name":2,"other":"b"}]}"#,
    ),
    (
        "add field to map in merging list nested in merging list with deletion conflict (reordered) (two-way)",
        r#"{"mergingList":[{"name":1,"mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"name":1,"mergingList":[{"name":1,"value":1}]}]}"#,
        r#"{"mergingList":[{"name":1,"mergingList":[{"name":2,"value":2},{"name":1,"value":1}]},{"name":2}]}"#,
    ),
    (
        "add field to map in merging list nested in merging list with deletion conflict (reordered) (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":2,"value":2,"other":"d"}]},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"name":1,"mergingList":[{"name":1,"value":1}]}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":2,"value":2,"other":"d"},{"name":1,"value":1}]},{"name":2,"other":"b"}]}"#,
    ),
    (
        "add map to merging list by pointer (two-way)",
        r#"{"mergeItemPtr":[{"name":1}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":2}]}"#,
        r#"{"mergeItemPtr":[{"name":1},{"name":2}]}"#,
    ),
    (
        "add map to merging list by pointer (three-way)",
        r#"{"mergeItemPtr":[{"name":1,"other":"a"},{"name":3}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":2}]}"#,
        r#"{"mergeItemPtr":[{"name":1,"other":"a"},{"name":2},{"name":3}]}"#,
    ),
    (
        "add map to merging list by pointer with conflict (two-way)",
        r#"{"mergeItemPtr":[{"name":1}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":2}]}"#,
        r#"{"mergeItemPtr":[{"name":1},{"name":2}]}"#,
    ),
    (
        "add map to merging list by pointer with conflict (three-way)",
        r#"{"mergeItemPtr":[{"name":3}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":1},{"name":2}]}"#,
        r#"{"mergeItemPtr":[{"name":1},{"name":2},{"name":3}]}"#,
    ),
    (
        "add field to map in merging list by pointer with conflict (two-way)",
        r#"{"mergeItemPtr":[{"name":1,"mergeItemPtr":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"name":1,"mergeItemPtr":[{"name":1,"value":1}]}]}"#,
        r#"{"mergeItemPtr":[{"name":1,"mergeItemPtr":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2}]}"#,
    ),
    (
        "add field to map in merging list by pointer with conflict (three-way)",
        r#"{"mergeItemPtr":[{"name":1,"other":"a","mergeItemPtr":[{"name":1,"value":"a"},{"name":2,"value":2,"other":"b"}]},{"name":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"name":1,"mergeItemPtr":[{"name":1,"value":1}]}]}"#,
        r#"{"mergeItemPtr":[{"name":1,"other":"a","mergeItemPtr":[{"name":1,"value":1},{"name":2,"value":2,"other":"b"}]},{"name":2,"other":"b"}]}"#,
    ),
    (
        "merge lists of scalars (two-way)",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2,3]}"#,
    ),
    (
        "merge lists of scalars (three-way)",
        r#"{"mergingIntList":[1,2,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3]}"#,
        r#"{"mergingIntList":[1,2,3,4]}"#,
    ),
    (
        "add an item in a list of primitives and preserve order (two-way)",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]}"#,
        r#"{"mergingIntList":[3,1,2]}"#,
    ),
    (
        "add an item in a list of primitives and preserve order (three-way)",
        r#"{"mergingIntList":[1,4,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]}"#,
        r#"{"mergingIntList":[3,1,4,2]}"#,
    ),
    (
        "delete an item in a list of primitives and preserve order (two-way)",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[2,1]}"#,
    ),
    (
        "delete an item in a list of primitives and preserve order (three-way)",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[2,1]}"#,
    ),
    (
        "add multiple items in a list and preserve order (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":4},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":1},{"name":4,"value":4},{"name":2,"value":2},{"name":3,"value":3}]}"#,
    ),
    (
        "add multiple items in a list and preserve order (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":4},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":4,"value":4},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
    ),
    (
        "delete an item in a list and preserve order (two-way)",
        r#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"mergingList":[{"name":3,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":1}]}"#,
    ),
    (
        "delete an item in a list and preserve order (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"mergingList":[{"name":3,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":2,"value":2,"other":"b"},{"name":1,"other":"a"}]}"#,
    ),
    (
        "change an item in a list and preserve order (two-way)",
        r#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3},{"name":1}],"mergingList":[{"name":3,"value":"x"}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":3,"value":"x"},{"name":1}]}"#,
    ),
    (
        "change an item in a list and preserve order (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3},{"name":1}],"mergingList":[{"name":3,"value":"x"}]}"#,
        r#"{"mergingList":[{"name":2,"value":2,"other":"b"},{"name":3,"value":"x"},{"name":1,"other":"a"}]}"#,
    ),
    (
        "add and delete an item in a list and preserve order (two-way)",
        r#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":1}],"mergingList":[{"name":4,"value":4},{"name":3,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2},{"name":1}]}"#,
    ),
    (
        "add and delete an item in a list and preserve order (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":1}],"mergingList":[{"name":4,"value":4},{"name":3,"$patch":"delete"}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2,"other":"b"},{"name":1,"other":"a"}]}"#,
    ),
    (
        "set elements order in a list with server-only items (two-way)",
        r#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":4,"value":4},{"name":2,"value":2}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":3},{"name":1}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2},{"name":3,"value":3},{"name":1}]}"#,
    ),
    (
        "set elements order in a list with server-only items (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":3,"value":3},{"name":4,"value":4},{"name":2,"value":2},{"name":9}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":3},{"name":1}]}"#,
        r#"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2},{"name":3,"value":3},{"name":1,"other":"a"},{"name":9}]}"#,
    ),
    (
        "set elements order in a list with server-only items 2 (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3},{"name":4,"value":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":1},{"name":4,"value":4},{"name":3,"value":3}]}"#,
    ),
    (
        "set elements order in a list with server-only items 2 (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":9},{"name":3,"value":3},{"name":4,"value":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":9},{"name":4,"value":4},{"name":3,"value":3}]}"#,
    ),
    (
        "set elements order in a list with server-only items 3 (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3},{"name":4,"value":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":1},{"name":4,"value":4},{"name":3,"value":3}]}"#,
    ),
    (
        "set elements order in a list with server-only items 3 (three-way)",
        r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":7},{"name":9},{"name":8},{"name":3,"value":3},{"name":4,"value":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
        r#"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":7},{"name":9},{"name":8},{"name":4,"value":4},{"name":3,"value":3}]}"#,
    ),
    (
        "add multiple items in a int list and preserve order (two-way)",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,4,2,3],"mergingIntList":[4,3]}"#,
        r#"{"mergingIntList":[1,4,2,3]}"#,
    ),
    (
        "add multiple items in a int list and preserve order (three-way)",
        r#"{"mergingIntList":[1,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[1,4,2,3],"mergingIntList":[4,3]}"#,
        r#"{"mergingIntList":[1,4,2,3]}"#,
    ),
    (
        "add and delete an item in a int list and preserve order (two-way)",
        r#"{"mergingIntList":[1,3,2]}"#,
        r#"{"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[4,2,1]}"#,
    ),
    (
        "add and delete an item in a int list and preserve order (three-way)",
        r#"{"mergingIntList":[1,2,3]}"#,
        r#"{"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
        r#"{"mergingIntList":[4,2,1]}"#,
    ),
    (
        "set elements order in a int list with server-only items 2 (two-way)",
        r#"{"mergingIntList":[1,2,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
        r#"{"mergingIntList":[2,1,4,3]}"#,
    ),
    (
        "set elements order in a int list with server-only items 2 (three-way)",
        r#"{"mergingIntList":[1,2,9,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
        r#"{"mergingIntList":[2,1,9,4,3]}"#,
    ),
    (
        "set elements order in a int list with server-only items 3 (two-way)",
        r#"{"mergingIntList":[1,2,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
        r#"{"mergingIntList":[2,1,4,3]}"#,
    ),
    (
        "set elements order in a int list with server-only items 3 (three-way)",
        r#"{"mergingIntList":[1,2,7,9,8,3,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
        r#"{"mergingIntList":[2,1,7,9,8,4,3]}"#,
    ),
    (
        "behavior of set element order for a merging list with duplicate (two-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#,
        r#"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#,
    ),
    (
        "behavior of set element order for a merging list with duplicate (three-way)",
        r#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#,
        r#"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#,
    ),
    (
        "behavior of set element order for a merging int list with duplicate (two-way)",
        r#"{"mergingIntList":[1,2,3,2,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3,2]}"#,
        r#"{"mergingIntList":[2,2,1,4,3]}"#,
    ),
    (
        "behavior of set element order for a merging int list with duplicate (three-way)",
        r#"{"mergingIntList":[1,2,3,2,4]}"#,
        r#"{"$setElementOrder/mergingIntList":[2,1,4,3,2]}"#,
        r#"{"mergingIntList":[2,2,1,4,3]}"#,
    ),
    (
        "retainKeys map should clear defaulted field with conflict (discriminated union) (two-way)",
        r#"{}"#,
        r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#,
    ),
    (
        "retainKeys map should clear defaulted field with conflict (discriminated union) (three-way)",
        r#"{"retainKeysMap":{"name":"type1","value":"foo"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","other"],"name":"type2","other":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#,
    ),
    (
        "retainKeys map adds a field and clear a field (two-way)",
        r#"{"retainKeysMap":{"name":"foo"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","value"],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map adds a field and clear a field (three-way)",
        r#"{"retainKeysMap":{"name":"foo","other":"a"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","value"],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map deletes a field and clears a field (two-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name"],"value":null}}"#,
        r#"{"retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map deletes a field and clears a field (three-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","other":"a"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name"],"value":null}}"#,
        r#"{"retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map clears a field (two-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
        r#"{}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map clears a field (three-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","other":"a"}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","value"]}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map adds a field in a nested map (two-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a"}}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","simpleMap","value"],"simpleMap":{"key2":"b"}}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a","key2":"b"}}}"#,
    ),
    (
        "retainKeys map adds a field in a nested map (three-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a","key3":"c"}}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","simpleMap","value"],"simpleMap":{"key2":"b"}}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"key1":"a","key2":"b","key3":"c"}}}"#,
    ),
    (
        "retainKeys map replaces non-merging list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","nonMergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","nonMergingList","value"],"nonMergingList":[{"name":"a"},{"name":"c"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","nonMergingList":[{"name":"a"},{"name":"c"},{"name":"b"}]}}"#,
    ),
    (
        "retainKeys map replaces non-merging list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","value":"bar","nonMergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","nonMergingList","value"],"nonMergingList":[{"name":"a"},{"name":"c"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","nonMergingList":[{"name":"a"},{"name":"c"},{"name":"b"}]}}"#,
    ),
    (
        "retainKeys map delete nested non-merging list with conflict (two-way)",
        r#"{"retainKeysMap":{"name":"foo","nonMergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","value"],"value":"bar","nonMergingList":null}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map delete nested non-merging list with conflict (three-way)",
        r#"{"retainKeysMap":{"name":"foo","nonMergingList":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name","value"],"value":"bar","nonMergingList":null}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
    ),
    (
        "retainKeys map nested merging int list with no change (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingIntList","name","value"],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","mergingIntList":[1,2]}}"#,
    ),
    (
        "retainKeys map nested merging int list with no change (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingIntList","name","value"],"$setElementOrder/mergingIntList":[1,2],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","mergingIntList":[1,2,3]}}"#,
    ),
    (
        "retainKeys map adds an item in nested merging int list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2]}}"#,
        r#"{"retainKeysMap":{"$setElementOrder/mergingIntList":[1,2,4],"$retainKeys":["mergingIntList","name"],"mergingIntList":[4]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,4]}}"#,
    ),
    (
        "retainKeys map adds an item in nested merging int list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
        r#"{"retainKeysMap":{"$setElementOrder/mergingIntList":[1,2,4],"$retainKeys":["mergingIntList","name"],"mergingIntList":[4]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,4,3]}}"#,
    ),
    (
        "retainKeys map adds an item and deletes an item in nested merging int list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingIntList","name"],"mergingIntList":[5],"$deleteFromPrimitiveList/mergingIntList":[2],"$setElementOrder/mergingIntList":[1,3,5]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,3,5]}}"#,
    ),
    (
        "retainKeys map adds an item and deletes an item in nested merging int list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3,4]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingIntList","name"],"mergingIntList":[5],"$deleteFromPrimitiveList/mergingIntList":[2],"$setElementOrder/mergingIntList":[1,3,5]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,3,5,4]}}"#,
    ),
    (
        "retainKeys map deletes nested merging int list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name"],"mergingIntList":null}}"#,
        r#"{"retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map deletes nested merging int list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["name"],"mergingIntList":null}}"#,
        r#"{"retainKeysMap":{"name":"foo"}}"#,
    ),
    (
        "retainKeys map nested merging list with no change (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name","value"],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","mergingList":[{"name":"a"},{"name":"b"}]}}"#,
    ),
    (
        "retainKeys map nested merging list with no change (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name","value"],"$setElementOrder/mergingList":[{"name":"a"},{"name":"b"}],"value":"bar"}}"#,
        r#"{"retainKeysMap":{"name":"foo","value":"bar","mergingList":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
    ),
    (
        "retainKeys map adds an item in nested merging list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"},{"name":"b"},{"name":"c"}],"mergingList":[{"name":"c"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
    ),
    (
        "retainKeys map adds an item in nested merging list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"x"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"},{"name":"b"},{"name":"c"}],"mergingList":[{"name":"c"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"x"}]}}"#,
    ),
    (
        "retainKeys map changes an item in nested merging list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b","value":"foo"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"},{"name":"b"}],"mergingList":[{"name":"b","value":"bar"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b","value":"bar"}]}}"#,
    ),
    (
        "retainKeys map changes an item in nested merging list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b","value":"foo"},{"name":"x"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"},{"name":"b"}],"mergingList":[{"name":"b","value":"bar"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b","value":"bar"},{"name":"x"}]}}"#,
    ),
    (
        "retainKeys map deletes an item in nested merging list (two-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"}],"mergingList":[{"name":"b","$patch":"delete"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"}]}}"#,
    ),
    (
        "retainKeys map deletes an item in nested merging list (three-way)",
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"x"}]}}"#,
        r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"}],"mergingList":[{"name":"b","$patch":"delete"}]}}"#,
        r#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"x"}]}}"#,
    ),
    (
        "retainKeys list of maps clears a field (two-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
        r#"{}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
    ),
    (
        "retainKeys list of maps clears a field (three-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"x"}]}"#,
        r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
    ),
    (
        "retainKeys list of maps changes a field and clear a field with conflict (two-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"old"}]}"#,
        r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"new"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"new"}]}"#,
    ),
    (
        "retainKeys list of maps changes a field and clear a field with conflict (three-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"modified","other":"x"}]}"#,
        r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"new"}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"new"}]}"#,
    ),
    (
        "retainKeys list of maps deletes a field and clear a field (two-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
        r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name"],"name":"foo","value":null}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]}"#,
    ),
    (
        "retainKeys list of maps deletes a field and clear a field (three-way)",
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"x"}]}"#,
        r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name"],"name":"foo","value":null}]}"#,
        r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]}"#,
    ),
    (
        "delete and reorder in one list, reorder in another (two-way)",
        r#"{"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"c","value":"c"},{"name":"d","value":"d"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":"b"}],"$setElementOrder/mergeItemPtr":[{"name":"d"},{"name":"c"}],"mergingList":[{"$patch":"delete","name":"a"}]}"#,
        r#"{"mergingList":[{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"d","value":"d"},{"name":"c","value":"c"}]}"#,
    ),
    (
        "delete and reorder in one list, reorder in another (three-way)",
        r#"{"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"c","value":"c"},{"name":"d","value":"d"}]}"#,
        r#"{"$setElementOrder/mergingList":[{"name":"b"}],"$setElementOrder/mergeItemPtr":[{"name":"d"},{"name":"c"}],"mergingList":[{"$patch":"delete","name":"a"}]}"#,
        r#"{"mergingList":[{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"d","value":"d"},{"name":"c","value":"c"}]}"#,
    ),
    (
        "replace RawExtension field and merge list (two-way)",
        r#"{"name":"my-object","value":"some-value","other":"current-other","mergingList":[{"name":1}],"replacingItem":{"Some":"Generic","Yaml":"Inside","The":"RawExtension","Field":"Period"}}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":2}],"replacingItem":{"Newly":"Modified","Yaml":"Inside","The":"RawExtension"}}"#,
        r#"{"name":"my-object","value":"some-value","other":"current-other","mergingList":[{"name":1},{"name":2}],"replacingItem":{"Newly":"Modified","Yaml":"Inside","The":"RawExtension"}}"#,
    ),
    (
        "replace RawExtension field and merge list (three-way)",
        r#"{"name":"my-object","value":"some-value","other":"current-other","mergingList":[{"name":1},{"name":3}],"replacingItem":{"Some":"Generic","Yaml":"Inside","The":"RawExtension","Field":"Period"}}"#,
        r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":2}],"replacingItem":{"Newly":"Modified","Yaml":"Inside","The":"RawExtension"}}"#,
        r#"{"name":"my-object","value":"some-value","other":"current-other","mergingList":[{"name":1},{"name":2},{"name":3}],"replacingItem":{"Newly":"Modified","Yaml":"Inside","The":"RawExtension"}}"#,
    ),
    (
        "unknown field - no diff even if modified null",
        r#"{"array":[1,2,3],"complex":{"nested":true},"name":"foo","scalar":true}"#,
        r#"{"complex_nullable":{"key":null}}"#,
        r#"{"array":[1,2,3],"complex":{"nested":true},"complex_nullable":{},"name":"foo","scalar":true}"#,
    ),
    (
        "unknown field - discard nulls in nested and adds not nulls",
        r#"{"array":[1,2,3],"complex":{"nested":true},"name":"foo","scalar":true}"#,
        r#"{"complex_nullable":{"key":{"keynotnull":"value","keynull":null}}}"#,
        r#"{"array":[1,2,3],"complex":{"nested":true},"complex_nullable":{"key":{"keynotnull":"value"}},"name":"foo","scalar":true}"#,
    ),
    (
        "unknown field - add only not nulls",
        r#"{}"#,
        r#"{"complex":{"nested":null,"nested2":"foo"}}"#,
        r#"{"complex":{"nested2":"foo"}}"#,
    ),
    (
        "unknown field - null values in original are preserved",
        r#"{"complex":{"key":null},"thing":null}"#,
        r#"{"nested":{"value":5}}"#,
        r#"{"complex":{"key":null},"nested":{"value":5},"thing":null}"#,
    ),
    (
        "unknown field - add empty slices",
        r#"{"name":"foo"}"#,
        r#"{"complex_nullable":[]}"#,
        r#"{"complex_nullable":[],"name":"foo"}"#,
    ),
    (
        "unknown field - filter nulls from nested slices",
        r#"{}"#,
        r#"{"complex_nullable":[{"inner_one":{"key_one":"foo","key_two":null}}]}"#,
        r#"{"complex_nullable":[{"inner_one":{"key_one":"foo"}}]}"#,
    ),
    (
        "unknown field - filter if slice is all empty",
        r#"{}"#,
        r#"{"complex_nullable":[{"inner_one":{"key_one":null,"key_two":null}}]}"#,
        r#"{"complex_nullable":[{"inner_one":{}}]}"#,
    ),
    (
        "unknown field - not filter nulls from non-associative slice",
        r#"{}"#,
        r#"{"complex_nullable":["key1",null,"key2"]}"#,
        r#"{"complex_nullable":["key1",null,"key2"]}"#,
    ),
    (
        "unknown field - removed only",
        r#"{"name":"foo","scalar":true,"complex":{"nested":true},"array":[1,2,3]}"#,
        r#"{"complex":null,"scalar":null}"#,
        r#"{"array":[1,2,3],"name":"foo"}"#,
    ),
];
