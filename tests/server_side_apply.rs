//! Acceptance (issue 3, part 4): server-side apply and managedFields with stock kubectl 1.27
//! and 1.33 against a real server, plus the raw API behaviour clients rely on.

mod common;

use common::{Server, raw};
use serde_json::{Value, json};

const VERSIONS: &[&str] = &["1.27", "1.33"];

fn deployment(ns: &str, replicas: Option<u32>, image: &str, ports: bool) -> String {
    let replicas = replicas
        .map(|r| format!("  replicas: {r}\n"))
        .unwrap_or_default();
    let ports = if ports {
        "        ports:\n        - containerPort: 80\n"
    } else {
        ""
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  labels: {{app: web}}\nspec:\n{replicas}  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n{ports}"
    )
}

/// The Deployment once its controller has stopped writing status (the resourceVersion held
/// still for 700 ms), so that a resourceVersion comparison measures only our own writes.
fn settled_json(s: &Server, v: &str, ns: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut last = get_json(s, v, ns);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(700));
        let now = get_json(s, v, ns);
        if now["metadata"]["resourceVersion"] == last["metadata"]["resourceVersion"]
            || std::time::Instant::now() > deadline
        {
            return now;
        }
        last = now;
    }
}

fn get_json(s: &Server, v: &str, ns: &str) -> Value {
    let out = s.ok(
        v,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            ns,
            "-o",
            "json",
            "--show-managed-fields",
        ],
    );
    serde_json::from_str(&out).expect("json")
}

/// The managers of the object's fields, leaving out status writes (the Deployment
/// controller's, as on any cluster).
fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["subresource"] != "status")
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scenario(s: &Server, v: &str) {
    let ns = format!("ssa-{}", v.replace('.', "-"));
    s.ok(v, &["create", "namespace", &ns]);
    let apply = ["apply", "--server-side", "-f", "-"];

    // Create on apply.
    let out = s.ok_stdin(v, &apply, &deployment(&ns, Some(2), "nginx:1", true));
    assert!(out.contains("serverside-applied"), "{out}");
    let obj = get_json(s, v, &ns);
    assert_eq!(
        managers(&obj),
        [("kubectl".to_string(), "Apply".to_string())]
    );
    let fields = obj["metadata"]["managedFields"][0]["fieldsV1"].to_string();
    assert!(
        fields.contains(r#""k:{\"containerPort\":80,\"protocol\":\"TCP\"}""#),
        "{fields}"
    );

    // Re-applying the unchanged manifest writes nothing.
    let rv = settled_json(s, v, &ns)["metadata"]["resourceVersion"].clone();
    s.ok_stdin(v, &apply, &deployment(&ns, Some(2), "nginx:1", true));
    assert_eq!(get_json(s, v, &ns)["metadata"]["resourceVersion"], rv);

    // A second manager changing the replicas conflicts, naming the owner and the field.
    let replicas = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 3\n"
    );
    let out = s.kubectl_stdin(
        v,
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&replicas),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#),
        "{err}"
    );
    assert_eq!(get_json(s, v, &ns)["spec"]["replicas"], 2);

    // --force-conflicts takes ownership.
    s.ok_stdin(
        v,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &replicas,
    );
    let obj = get_json(s, v, &ns);
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(
        managers(&obj),
        [
            ("kubectl".to_string(), "Apply".to_string()),
            ("other".to_string(), "Apply".to_string())
        ]
    );
    assert!(
        !obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
            .as_object()
            .expect("spec")
            .contains_key("f:replicas")
    );
    let yaml = s.ok(
        v,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            &ns,
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
    );
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("manager: other"),
        "{yaml}"
    );
    let plain = s.ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "yaml"]);
    assert!(!plain.contains("managedFields"), "{plain}");

    // kubectl diff (a server-side dry-run apply) shows the change and stores nothing.
    let rv = settled_json(s, v, &ns)["metadata"]["resourceVersion"].clone();
    let out = s.kubectl_stdin(
        v,
        &["diff", "--server-side", "-f", "-"],
        Some(&deployment(&ns, None, "nginx:2", true)),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    let line = |sign: char, text: &str| {
        diff.lines()
            .any(|l| l.starts_with(sign) && l.contains(text))
    };
    assert!(
        line('-', "image: nginx:1") && line('+', "image: nginx:2"),
        "{diff}"
    );
    assert!(!line('-', "resourceVersion"), "{diff}");
    let obj = get_json(s, v, &ns);
    assert_eq!(obj["metadata"]["resourceVersion"], rv);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );

    // Dropping fields from the manifest removes them; replicas stay (other owns them).
    s.ok_stdin(v, &apply, &deployment(&ns, None, "nginx:2", false));
    let obj = get_json(s, v, &ns);
    let c = &obj["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:2");
    assert!(c.get("ports").is_none(), "{c}");
    assert_eq!(obj["spec"]["replicas"], 3);
}

#[test]
fn kubectl_server_side_apply() {
    let s = Server::start(&[]);
    for v in VERSIONS {
        scenario(&s, v);
    }
}

#[tokio::test]
async fn apply_and_managed_fields_over_the_api() {
    let s = Server::start(&[]);
    let client = s.client().await;
    let cm = "/api/v1/namespaces/default/configmaps/c1";
    let body = |data: Value| {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": data}))
            .expect("json")
    };
    let yaml = "application/apply-patch+yaml";

    // fieldManager is required for apply.
    let (code, st) = raw(&client, "PATCH", cm, yaml, body(json!({"a": "1"}))).await;
    assert_eq!(code, 422, "{st}");
    assert_eq!(
        st["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    // Create on apply (201), then an apply conflict as upstream's Status.
    let (code, obj) = raw(
        &client,
        "PATCH",
        &format!("{cm}?fieldManager=a"),
        yaml,
        body(json!({"a": "1"})),
    )
    .await;
    assert_eq!(code, 201, "{obj}");
    assert_eq!(obj["metadata"]["managedFields"][0]["manager"], "a");
    assert_eq!(
        obj["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:a": {}}})
    );
    let (code, st) = raw(
        &client,
        "PATCH",
        &format!("{cm}?fieldManager=b"),
        yaml,
        body(json!({"a": "2"})),
    )
    .await;
    assert_eq!(code, 409, "{st}");
    assert_eq!(st["reason"], "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 1 conflict: conflict with \"a\": .data.a"
    );
    assert_eq!(
        st["details"],
        json!({"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".data.a"}]})
    );
    // Dry-run apply stores nothing.
    let (code, obj) = raw(
        &client,
        "PATCH",
        &format!("{cm}?fieldManager=b&force=true&dryRun=All"),
        yaml,
        body(json!({"a": "2"})),
    )
    .await;
    assert_eq!(code, 200, "{obj}");
    assert_eq!(obj["data"]["a"], "2");
    let (_, live) = raw(&client, "GET", cm, "application/json", Vec::new()).await;
    assert_eq!(live["data"]["a"], "1");
    // Unknown fields cannot be applied.
    let bad = serde_json::to_vec(
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "bogus": 1}),
    )
    .expect("json");
    let (code, st) = raw(&client, "PATCH", &format!("{cm}?fieldManager=a"), yaml, bad).await;
    assert_eq!(code, 400, "{st}");
    assert!(
        st["message"]
            .as_str()
            .unwrap_or("")
            .contains(".bogus: field not declared in schema"),
        "{st}"
    );
    // force on a non-apply patch is refused.
    let (code, _) = raw(
        &client,
        "PATCH",
        &format!("{cm}?force=true"),
        "application/merge-patch+json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(code, 422);

    // Updates are recorded for their manager; a merge patch moves the field to it.
    let (code, obj) = raw(
        &client,
        "PATCH",
        &format!("{cm}?fieldManager=patcher"),
        "application/merge-patch+json",
        br#"{"data":{"a":"3","b":"x"}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 200, "{obj}");
    let mf = obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .clone();
    assert_eq!(mf.len(), 1, "{mf:?}");
    assert_eq!(mf[0]["manager"], "patcher");
    assert_eq!(mf[0]["operation"], "Update");
    assert_eq!(mf[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));

    // Creates are recorded too; without fieldManager the User-Agent names the manager.
    let (code, obj) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldManager=creator",
        "application/json",
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2", "labels": {"x": "y"}}, "data": {"k": "v"}})).expect("json"),
    )
    .await;
    assert_eq!(code, 201, "{obj}");
    assert_eq!(
        obj["metadata"]["managedFields"],
        json!([{"manager": "creator", "operation": "Update", "apiVersion": "v1",
                "time": obj["metadata"]["creationTimestamp"], "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}}])
    );

    // A PUT with `managedFields: []` clears them; absent keeps them.
    let mut put = obj.clone();
    put["metadata"]["managedFields"] = json!([]);
    let (code, obj) = raw(
        &client,
        "PUT",
        "/api/v1/namespaces/default/configmaps/c2",
        "application/json",
        serde_json::to_vec(&put).expect("json"),
    )
    .await;
    assert_eq!(code, 200, "{obj}");
    assert!(obj["metadata"].get("managedFields").is_none(), "{obj}");
}
