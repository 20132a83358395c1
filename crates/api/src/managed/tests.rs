use serde_json::{Value, json};

use super::*;

const NOW: &str = "2024-05-01T10:00:00Z";
const LATER: &str = "2024-05-01T11:00:00Z";

fn deployment() -> ObjectType<'static> {
    ObjectType::Builtin("io.k8s.api.apps.v1.Deployment")
}

fn configmap() -> ObjectType<'static> {
    ObjectType::Builtin("io.k8s.api.core.v1.ConfigMap")
}

fn writer(manager: &str) -> Writer<'_> {
    Writer {
        manager,
        api_version: "apps/v1",
        subresource: None,
    }
}

fn ctx<'a>(ot: ObjectType<'a>, ignored: &'a Set, now: &'a str) -> Context<'a> {
    Context {
        object_type: ot,
        ignored,
        now,
    }
}

/// Apply `config` as `manager` to `live` (with `managed`, a managedFields list) and expect
/// `expected_obj` and `expected_managed` (a managedFields list; Null for none).
#[allow(clippy::too_many_arguments)]
fn check(
    ot: ObjectType<'_>,
    live: Value,
    managed: Value,
    config: Value,
    manager: &str,
    force: bool,
    expected_obj: Value,
    expected_managed: Value,
) {
    let ignored = Set::new();
    let m = Managed::decode(Some(&managed)).expect("decode");
    let (obj, out) = apply(
        &ctx(ot, &ignored, LATER),
        &m,
        &writer(manager),
        &live,
        &config,
        force,
    )
    .expect("apply");
    assert_eq!(obj, expected_obj, "object");
    assert_eq!(
        out.encode().unwrap_or(Value::Null),
        expected_managed,
        "managedFields"
    );
}

fn conflict(
    ot: ObjectType<'_>,
    live: &Value,
    managed: Value,
    config: &Value,
    manager: &str,
) -> Conflicts {
    let ignored = Set::new();
    let m = Managed::decode(Some(&managed)).expect("decode");
    match apply(
        &ctx(ot, &ignored, LATER),
        &m,
        &writer(manager),
        live,
        config,
        false,
    ) {
        Err(ApplyError::Conflicts(c)) => c,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn entry(manager: &str, op: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": op, "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn web_deploy(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    })
}

fn web_fields() -> Value {
    json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
            }
        }
    })
}

#[test]
fn fields_v1_round_trip() {
    let v = json!({"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}},
                   "f:finalizers": {"v:\"a\"": {}}, "f:list": {"i:0": {}}});
    let s = Set::from_fields_v1(&v).expect("decode");
    assert_eq!(s.to_fields_v1(), v);
    assert!(s.has(&[
        PathElement::field("spec"),
        PathElement::field("containers"),
        PathElement::key(&[("name", json!("web"))]),
    ]));
    let paths: Vec<String> = s.paths().iter().map(|p| path_string(p)).collect();
    assert!(paths.contains(&".spec.containers[name=\"web\"].image".to_string()));
    assert!(paths.contains(&".finalizers[=\"a\"]".to_string()));
    assert!(Set::from_fields_v1(&json!({"x:y": {}})).is_err());
    assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
}

#[test]
fn keys_are_sorted_and_defaulted() {
    let pe = PathElement::key(&[("protocol", json!("TCP")), ("containerPort", json!(80))]);
    assert_eq!(pe.as_str(), "k:{\"containerPort\":80,\"protocol\":\"TCP\"}");
    assert_eq!(pe.display(), "[containerPort=80,protocol=\"TCP\"]");
    // A container port without protocol is keyed with the default TCP.
    let types = Types {
        schemas: crate::schema::schemas(),
    };
    let root = types.root(deployment());
    let cfg = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}});
    let set = walk::field_set(&types, root, &cfg).expect("set");
    assert!(
        set.to_fields_v1()
            .to_string()
            .contains(r#"k:{\"containerPort\":80,\"protocol\":\"TCP\"}"#),
        "{}",
        set.to_fields_v1()
    );
}

#[test]
fn apply_creates() {
    check(
        deployment(),
        json!({}),
        json!([]),
        web_deploy(2, "nginx:1"),
        "kubectl",
        false,
        web_deploy(2, "nginx:1"),
        json!([entry("kubectl", "Apply", LATER, web_fields())]),
    );
}

#[test]
fn apply_unchanged_is_a_no_op() {
    let managed = json!([entry("kubectl", "Apply", NOW, web_fields())]);
    check(
        deployment(),
        web_deploy(2, "nginx:1"),
        managed.clone(),
        web_deploy(2, "nginx:1"),
        "kubectl",
        false,
        web_deploy(2, "nginx:1"),
        managed,
    );
}

#[test]
fn second_manager_conflicts_then_forces() {
    let live = web_deploy(2, "nginx:1");
    let managed = json!([entry("kubectl", "Apply", NOW, web_fields())]);
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let c = conflict(deployment(), &live, managed.clone(), &cfg, "other");
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
    );
    assert_eq!(
        c.causes(),
        vec![(
            "conflict with \"kubectl\"".to_string(),
            ".spec.replicas".to_string()
        )]
    );
    let mut expected = live.clone();
    expected["spec"]["replicas"] = json!(5);
    let mut kubectl_fields = web_fields();
    kubectl_fields["f:spec"]
        .as_object_mut()
        .expect("spec")
        .remove("f:replicas");
    check(
        deployment(),
        live,
        managed,
        cfg,
        "other",
        true,
        expected,
        json!([
            entry("kubectl", "Apply", NOW, kubectl_fields),
            entry(
                "other",
                "Apply",
                LATER,
                json!({"f:spec": {"f:replicas": {}}})
            ),
        ]),
    );
}

#[test]
fn same_value_is_shared() {
    let live = web_deploy(2, "nginx:1");
    let managed = json!([entry("kubectl", "Apply", NOW, web_fields())]);
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    check(
        deployment(),
        live.clone(),
        managed,
        cfg,
        "other",
        false,
        live,
        json!([
            entry("kubectl", "Apply", NOW, web_fields()),
            entry(
                "other",
                "Apply",
                LATER,
                json!({"f:spec": {"f:replicas": {}}})
            ),
        ]),
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let live = web_deploy(2, "nginx:1");
    let managed = json!([
        entry("a", "Apply", NOW, json!({"f:spec": {"f:replicas": {}}})),
        entry(
            "b",
            "Update",
            NOW,
            json!({"f:metadata": {"f:labels": {"f:app": {}}}})
        ),
    ]);
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "x"}}, "spec": {"replicas": 3}});
    let c = conflict(deployment(), &live, managed, &cfg, "c");
    assert_eq!(
        c.message(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\nconflicts with \"b\" using apps/v1 at 2024-05-01T10:00:00Z:\n- .metadata.labels.app"
    );
}

#[test]
fn dropped_fields_are_removed_unless_owned() {
    let mut live = web_deploy(2, "nginx:1");
    live["metadata"]["labels"]["tier"] = json!("front");
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "side", "image": "busybox"}));
    let mut fields = web_fields();
    fields["f:metadata"]["f:labels"]["f:tier"] = json!({});
    fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"side\"}"] =
        json!({".": {}, "f:image": {}, "f:name": {}});
    // Another manager also owns the replicas.
    let managed = json!([
        entry("kubectl", "Apply", NOW, fields),
        entry("hpa", "Update", NOW, json!({"f:spec": {"f:replicas": {}}})),
    ]);
    let mut cfg = web_deploy(2, "nginx:1");
    cfg["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    // The tier label and the side container go; replicas stay (hpa owns them).
    let expected = web_deploy(2, "nginx:1");
    let mut kubectl_fields = web_fields();
    kubectl_fields["f:spec"]
        .as_object_mut()
        .expect("spec")
        .remove("f:replicas");
    check(
        deployment(),
        live,
        managed,
        cfg,
        "kubectl",
        false,
        expected,
        json!([
            entry("kubectl", "Apply", LATER, kubectl_fields),
            entry("hpa", "Update", NOW, json!({"f:spec": {"f:replicas": {}}})),
        ]),
    );
}

#[test]
fn removing_the_only_label_removes_labels() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}});
    let managed = json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}}}]);
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let ignored = Set::new();
    let m = Managed::decode(Some(&managed)).expect("decode");
    let w = Writer {
        manager: "m",
        api_version: "v1",
        subresource: None,
    };
    let (obj, out) = apply(
        &ctx(configmap(), &ignored, LATER),
        &m,
        &w,
        &live,
        &cfg,
        false,
    )
    .expect("apply");
    assert_eq!(obj, cfg);
    assert_eq!(
        out.entries[0].fields.to_fields_v1(),
        json!({"f:data": {"f:k": {}}})
    );
}

#[test]
fn list_merge_keeps_unapplied_items_and_follows_config_order() {
    let types = Types {
        schemas: crate::schema::schemas(),
    };
    let root = types.root(deployment());
    let c = |names: &[&str]| {
        let items: Vec<Value> = names
            .iter()
            .map(|n| json!({"name": n, "image": n}))
            .collect();
        json!({"spec": {"template": {"spec": {"containers": items}}}})
    };
    let names = |v: &Value| -> Vec<String> {
        v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let merged =
        walk::merge(&types, root, Some(&c(&["a", "x", "b"])), &c(&["b", "c"])).expect("merge");
    assert_eq!(names(&merged), ["a", "x", "b", "c"]);
    let merged = walk::merge(&types, root, Some(&c(&["a", "b"])), &c(&["b", "a"])).expect("merge");
    assert_eq!(names(&merged), ["b", "a"]);
    // Atomic lists (args) are replaced, maps merged.
    let live = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["1", "2"], "image": "i"}]}}}});
    let cfg =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}}});
    let merged = walk::merge(&types, root, Some(&live), &cfg).expect("merge");
    assert_eq!(
        merged,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["3"], "image": "i"}]}}}})
    );
    // Duplicate keys in a configuration are refused.
    assert!(walk::merge(&types, root, Some(&live), &c(&["a", "a"])).is_err());
}

#[test]
fn update_takes_changed_fields() {
    let ignored = top_level_fields(&["status"]);
    let c = ctx(deployment(), &ignored, NOW);
    // A create by kubectl-create: lists, list items and maps are owned as such ("."), structs not.
    let mut obj = web_deploy(1, "nginx:1");
    obj["status"] = json!({"replicas": 0});
    let created = update(
        &c,
        &Managed::default(),
        &writer("kubectl-create"),
        &Value::Null,
        &obj,
    )
    .expect("update");
    assert_eq!(
        created.encode(),
        Some(json!([entry(
            "kubectl-create",
            "Update",
            NOW,
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {".": {}, "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                    }
                }
            })
        )]))
    );
    // An edit of the image moves it to the editor; unchanged updates change nothing.
    obj["metadata"]["uid"] = json!("u1");
    let mut edited = obj.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let c2 = ctx(deployment(), &ignored, LATER);
    let after = update(&c2, &created, &writer("kubectl-edit"), &obj, &edited).expect("update");
    let enc = after.encode().expect("entries");
    assert_eq!(enc[1]["manager"], "kubectl-edit");
    assert_eq!(
        enc[1]["fieldsV1"],
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}}}}})
    );
    assert!(!enc[0]["fieldsV1"].to_string().contains("f:image"));
    let same = update(&c2, &after, &writer("kubectl-edit"), &edited, &edited).expect("update");
    assert_eq!(same, after);
    // Objects that exist without managed fields stay untracked.
    let none = update(&c2, &Managed::default(), &writer("x"), &obj, &edited).expect("update");
    assert!(none.is_empty());
}

#[test]
fn update_steals_from_appliers() {
    let ignored = Set::new();
    let live = web_deploy(2, "nginx:1");
    let mut live_uid = live.clone();
    live_uid["metadata"]["uid"] = json!("u");
    let managed = Managed::decode(Some(&json!([entry("kubectl", "Apply", NOW, web_fields())])))
        .expect("decode");
    let mut scaled = live_uid.clone();
    scaled["spec"]["replicas"] = json!(7);
    let out = update(
        &ctx(deployment(), &ignored, LATER),
        &managed,
        &writer("kubectl-scale"),
        &live_uid,
        &scaled,
    )
    .expect("update");
    let enc = out.encode().expect("entries");
    assert!(
        !enc[0]["fieldsV1"]["f:spec"]
            .as_object()
            .expect("spec")
            .contains_key("f:replicas")
    );
    assert_eq!(enc[1]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    // Re-applying replicas 2 by kubectl now conflicts with the updater.
    let c = conflict(deployment(), &scaled, enc.clone(), &live, "kubectl");
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1 at 2024-05-01T11:00:00Z: .spec.replicas"
    );
}

#[test]
fn before_first_apply_owns_existing_fields() {
    let mut live = web_deploy(2, "nginx:1");
    live["metadata"]["uid"] = json!("u");
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let c = conflict(deployment(), &live, json!(null), &cfg, "mgr");
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1 at 2024-05-01T11:00:00Z: .spec.replicas"
    );
}

#[test]
fn client_side_apply_fields_may_be_taken_by_kubectl() {
    let mut live = web_deploy(2, "nginx:1");
    live["metadata"]["uid"] = json!("u");
    let last = web_deploy(2, "nginx:1");
    live["metadata"]["annotations"] = json!({LAST_APPLIED: last.to_string()});
    let managed = json!([entry(
        "kubectl-client-side-apply",
        "Update",
        NOW,
        web_fields()
    )]);
    let ignored = Set::new();
    let m = Managed::decode(Some(&managed)).expect("decode");
    let cfg = web_deploy(4, "nginx:1");
    let (obj, out) = apply(
        &ctx(deployment(), &ignored, LATER),
        &m,
        &writer("kubectl"),
        &live,
        &cfg,
        false,
    )
    .expect("apply");
    assert_eq!(obj["spec"]["replicas"], 4);
    // The annotation follows what was applied.
    let ann = obj["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .expect("annotation");
    assert_eq!(serde_json::from_str::<Value>(ann).expect("json"), cfg);
    assert_eq!(out.entries.len(), 2);
    // Another manager name gets the conflict.
    assert!(matches!(
        apply(
            &ctx(deployment(), &ignored, LATER),
            &m,
            &writer("other"),
            &live,
            &cfg,
            false
        ),
        Err(ApplyError::Conflicts(_))
    ));
}

#[test]
fn reset_and_request_managed() {
    let live =
        json!({"metadata": {"managedFields": [entry("a", "Update", NOW, json!({"f:data": {}}))]}});
    assert!(request_managed(&live, &json!({"metadata": {"managedFields": []}}), None).is_empty());
    assert!(request_managed(&live, &json!({"metadata": {"managedFields": [{}]}}), None).is_empty());
    assert_eq!(
        request_managed(&live, &json!({"metadata": {}}), None)
            .entries
            .len(),
        1
    );
    let sent =
        json!({"metadata": {"managedFields": [entry("b", "Apply", NOW, json!({"f:data": {}}))]}});
    assert_eq!(request_managed(&live, &sent, None).entries[0].manager, "b");
    assert_eq!(
        request_managed(&live, &sent, Some("status")).entries[0].manager,
        "a"
    );
    // Invalid entries fall back to the live ones.
    let bad = json!({"metadata": {"managedFields": [{"manager": "x", "operation": "Bogus"}]}});
    assert_eq!(request_managed(&live, &bad, None).entries[0].manager, "a");
}

#[test]
fn update_entries_are_capped() {
    let ignored = Set::new();
    let mut managed = Managed::default();
    let mut obj =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    for i in 0..12 {
        let mut next = obj.clone();
        next["data"][format!("k{i}")] = json!("v");
        let now = format!("2024-05-01T10:00:{i:02}Z");
        let w = Writer {
            manager: &format!("m{i}"),
            api_version: "v1",
            subresource: None,
        };
        managed =
            update(&ctx(configmap(), &ignored, &now), &managed, &w, &obj, &next).expect("update");
        obj = next;
        obj["metadata"]["uid"] = json!("u");
    }
    assert_eq!(managed.entries.len(), MAX_UPDATE_MANAGERS);
    let ancient = managed
        .entries
        .iter()
        .find(|e| e.manager == ANCIENT_CHANGES)
        .expect("bucket");
    assert_eq!(
        ancient.fields.to_fields_v1(),
        json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}})
    );
}

#[test]
fn custom_resources_without_list_types_are_atomic() {
    let schema = crate::crd::Schema::compile(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}},
            "size": {"type": "integer"}
        }}}
    }))
    .expect("schema");
    let ot = ObjectType::Custom(Some(&schema));
    let cfg = json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                     "spec": {"items": ["a"], "ports": [{"name": "p", "n": 1}], "size": 1}});
    let ignored = Set::new();
    let w = Writer {
        manager: "m",
        api_version: "x.io/v1",
        subresource: None,
    };
    let (obj, out) = apply(
        &ctx(ot, &ignored, NOW),
        &Managed::default(),
        &w,
        &json!({}),
        &cfg,
        false,
    )
    .expect("apply");
    assert_eq!(obj, cfg);
    assert_eq!(
        out.entries[0].fields.to_fields_v1(),
        json!({"f:spec": {"f:items": {}, "f:ports": {"k:{\"name\":\"p\"}": {".": {}, "f:n": {}, "f:name": {}}}, "f:size": {}}})
    );
    // Untyped custom resources: objects granular, lists atomic; structs get "." on update.
    let untyped = ObjectType::Custom(None);
    let created = update(
        &ctx(untyped, &ignored, NOW),
        &Managed::default(),
        &w,
        &Value::Null,
        &cfg,
    )
    .expect("update");
    assert_eq!(
        created.entries[0].fields.to_fields_v1(),
        json!({"f:spec": {".": {}, "f:items": {}, "f:ports": {}, "f:size": {}}})
    );
}

#[test]
fn status_is_ignored_on_the_main_resource() {
    let ignored = top_level_fields(&["status"]);
    let mut cfg = web_deploy(1, "nginx:1");
    cfg["status"] = json!({"replicas": 9});
    let (_, out) = apply(
        &ctx(deployment(), &ignored, NOW),
        &Managed::default(),
        &writer("m"),
        &json!({}),
        &cfg,
        false,
    )
    .expect("apply");
    assert!(
        !out.entries[0]
            .fields
            .to_fields_v1()
            .to_string()
            .contains("status")
    );
}

#[test]
fn manager_names_from_user_agents() {
    assert_eq!(
        manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(manager_from_user_agent("curl"), "curl");
    assert_eq!(manager_from_user_agent(&"x".repeat(200)).len(), 128);
    assert_eq!(manager_from_user_agent("a\u{7}b/1"), "ab");
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing() {
    let ignored = top_level_fields(&["status"]);
    let containers: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("c{i}"), "image": "nginx", "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}}))
        .collect();
    for (label, n) in [
        ("deployment (1 container)", 1usize),
        ("deployment (200 containers)", 200),
    ] {
        let mut obj = web_deploy(2, "nginx:1");
        obj["spec"]["template"]["spec"]["containers"] = json!(containers[..n]);
        let c = ctx(deployment(), &ignored, NOW);
        let created =
            update(&c, &Managed::default(), &writer("m"), &Value::Null, &obj).expect("update");
        let mut live = obj.clone();
        live["metadata"]["uid"] = json!("u");
        created.write_to(&mut live);
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(3);
        let t = std::time::Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            let m = request_managed(&live, &edited, None);
            let out = update(&c, &m, &writer("e"), &live, &edited).expect("update");
            let mut o = edited.clone();
            out.write_to(&mut o);
        }
        let per_update = t.elapsed() / rounds;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            let m = Managed::decode(live.pointer("/metadata/managedFields")).expect("decode");
            let _ = apply(&c, &m, &writer("m"), &live, &obj, false).expect("apply");
        }
        println!(
            "{label}: update {per_update:?}, apply {:?}",
            t.elapsed() / rounds
        );
    }
}
