//! Acceptance (issue 3, parts 1 and 2): OpenAPI and server-side field validation with stock
//! kubectl 1.27 (protobuf /openapi/v2), 1.30 and 1.33 (/openapi/v3) against a real server.

mod common;

use common::Server;

const VERSIONS: &[&str] = &["1.27", "1.30", "1.33"];

fn manifest(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: {ns}
type: Opaque
data:
  password: czNjcmV0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{tier: web}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: "25%"}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        env:
        - {{name: A, value: "1"}}
        resources:
          limits: {{cpu: 100m, memory: 64Mi}}
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
    targetPort: 80
"#
    )
}

#[test]
fn apply_with_default_validation_and_unknown_fields() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let ns = format!("fid-{}", v.replace('.', "-"));
        let out = server.ok_stdin(v, &["apply", "-f", "-"], &manifest(&ns));
        for line in [
            format!("namespace/{ns} created"),
            "configmap/settings created".into(),
            "secret/creds created".into(),
            "deployment.apps/web created".into(),
            "service/web created".into(),
        ] {
            assert!(out.contains(&line), "kubectl {v}: {out}");
        }
        // Re-applying the same manifest changes nothing.
        let again = server.ok_stdin(v, &["apply", "-f", "-"], &manifest(&ns));
        assert!(
            again.contains("deployment.apps/web unchanged"),
            "kubectl {v}: {again}"
        );
        let image = server.ok(
            v,
            &[
                "-n",
                &ns,
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ],
        );
        assert_eq!(image, "busybox:1.36");

        // An unknown field fails, naming it (Strict is kubectl's default with validation).
        let bad = manifest(&ns)
            .replace("name: web\n  namespace", "name: web-bad\n  namespace")
            .replace("  replicas: 2\n", "  replicas: 2\n  foo: bar\n")
            .replace(
                "        image: busybox:1.36\n",
                "        image: busybox:1.36\n        imagePullPolice: Always\n",
            );
        let out = server.kubectl_stdin(v, &["apply", "-f", "-"], Some(&bad));
        assert!(!out.status.success(), "kubectl {v} accepted unknown fields");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo", unknown field "spec.template.spec.containers[0].imagePullPolice""#
            ),
            "kubectl {v}: {stderr}"
        );
        let missing = server.kubectl(v, &["-n", &ns, "get", "deploy", "web-bad"]);
        assert!(!missing.status.success(), "kubectl {v}: web-bad was stored");

        // --validate=false sends Ignore: the object is created and the field dropped.
        server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], &bad);
        // (The last-applied annotation keeps the manifest as written, as upstream's does.)
        let spec = server.ok(
            v,
            &[
                "-n",
                &ns,
                "get",
                "deploy",
                "web-bad",
                "-o",
                "jsonpath={.spec}",
            ],
        );
        assert!(
            !spec.contains("imagePullPolice") && !spec.contains("\"foo\""),
            "kubectl {v}: {spec}"
        );
    }
}

#[test]
fn explain_prints_field_descriptions() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let out = server.ok(v, &["explain", "deployment.spec.strategy.rollingUpdate"]);
        assert!(
            out.contains("KIND:") && out.contains("Deployment"),
            "{v}: {out}"
        );
        assert!(
            out.contains("maxSurge") && out.contains("maxUnavailable"),
            "{v}: {out}"
        );
        assert!(
            out.contains("The maximum number of pods that can be scheduled above the desired"),
            "kubectl {v}: {out}"
        );
        let out = server.ok(v, &["explain", "pod.spec.containers.ports"]);
        assert!(out.contains("containerPort"), "{v}: {out}");
    }
}

#[test]
fn create_dry_run_server_stores_nothing_and_warn_mode_warns() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let name = format!("dry-{}", v.replace('.', "-"));
        let cm = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default"}},"data":{{"a":"1"}}}}"#
        );
        let out = server.ok_stdin(v, &["create", "--dry-run=server", "-f", "-"], &cm);
        assert!(out.contains("(server dry run)"), "{v}: {out}");
        let got = server.kubectl(v, &["get", "configmap", &name]);
        assert!(!got.status.success(), "kubectl {v}: dry run stored {name}");
    }
    // --validate=warn: the object is created and kubectl prints the server's warning.
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned","namespace":"default"},"bogus":1}"#;
    let out = server.kubectl_stdin("1.33", &["create", "--validate=warn", "-f", "-"], Some(cm));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"Warning: unknown field "bogus""#),
        "{stderr}"
    );
}

#[test]
fn openapi_documents_are_served_cacheable() {
    let server = Server::start(&[]);
    let index = server.ok("1.33", &["get", "--raw", "/openapi/v3"]);
    let index: serde_json::Value = serde_json::from_str(&index).expect("index JSON");
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1 in the index");
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
    let doc = server.ok("1.33", &["get", "--raw", url]);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("GV JSON");
    assert!(doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());
    let v2 = server.ok("1.33", &["get", "--raw", "/openapi/v2"]);
    let v2: serde_json::Value = serde_json::from_str(&v2).expect("v2 JSON");
    assert_eq!(v2["swagger"], "2.0");
    assert!(index["paths"]["api/v1"].is_object());
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - {name: KEEP, value: "1"}
        - {name: DROP, value: "2"}
        ports:
        - {containerPort: 80}
        - {containerPort: 443}
      - name: sidecar
        image: busybox:1.36
"#;

/// Client-side apply sends a three-way strategic merge patch; the result must equal upstream's.
#[test]
fn reapplying_an_edited_manifest_changes_exactly_that() {
    let server = Server::start(&[]);
    for v in ["1.27", "1.30", "1.33"] {
        let ns = format!("reapply-{}", v.replace('.', "-"));
        server.ok(v, &["create", "namespace", &ns]);
        let applied = server.ok_stdin(v, &["-n", &ns, "apply", "-f", "-"], WEB);
        assert!(applied.contains("created"), "{applied}");
        // Someone else scales it; client-side apply must keep fields it does not manage.
        server.ok(
            v,
            &["-n", &ns, "annotate", "deployment", "web", "team=blue"],
        );
        let edited = WEB
            .replace("image: nginx:1.25", "image: nginx:1.26")
            .replace("        - {name: DROP, value: \"2\"}\n", "");
        let reapplied = server.ok_stdin(v, &["-n", &ns, "apply", "-f", "-"], &edited);
        assert!(reapplied.contains("configured"), "{reapplied}");
        let get = |path: &str| {
            server.ok(
                v,
                &[
                    "-n",
                    &ns,
                    "get",
                    "deployment",
                    "web",
                    "-o",
                    &format!("jsonpath={path}"),
                ],
            )
        };
        assert_eq!(
            get("{.spec.template.spec.containers[*].image}"),
            "nginx:1.26 busybox:1.36"
        );
        assert_eq!(
            get("{.spec.template.spec.containers[0].env[*].name}"),
            "KEEP"
        );
        assert_eq!(
            get("{.spec.template.spec.containers[0].ports[*].containerPort}"),
            "80 443"
        );
        assert_eq!(get("{.metadata.annotations.team}"), "blue");
        assert_eq!(get("{.spec.replicas}"), "2");
        let again = server.ok_stdin(v, &["-n", &ns, "apply", "-f", "-"], &edited);
        assert!(again.contains("unchanged"), "{again}");
    }
}

/// `kubectl patch` with a strategic merge patch: add a container by name, replace one env
/// var, delete one port with `$patch: delete`.
#[test]
fn strategic_merge_patch_by_merge_keys() {
    let server = Server::start(&[]);
    let v = "1.33";
    server.ok_stdin(v, &["apply", "-f", "-"], WEB);
    let patch = r#"{"spec":{"template":{"spec":{"containers":[
        {"name":"web","env":[{"name":"KEEP","value":"changed"}],"ports":[{"containerPort":443,"$patch":"delete"}]},
        {"name":"logger","image":"busybox:1.36"}]}}}}"#;
    server.ok(v, &["patch", "deployment", "web", "-p", patch]);
    let get = |path: &str| {
        server.ok(
            v,
            &[
                "get",
                "deployment",
                "web",
                "-o",
                &format!("jsonpath={path}"),
            ],
        )
    };
    let mut names: Vec<String> = get("{.spec.template.spec.containers[*].name}")
        .split(' ')
        .map(str::to_string)
        .collect();
    names.sort();
    assert_eq!(names, ["logger", "sidecar", "web"]);
    assert_eq!(
        get("{.spec.template.spec.containers[?(@.name==\"web\")].env[?(@.name==\"KEEP\")].value}"),
        "changed"
    );
    assert_eq!(
        get("{.spec.template.spec.containers[?(@.name==\"web\")].env[*].name}"),
        "KEEP DROP"
    );
    assert_eq!(
        get("{.spec.template.spec.containers[?(@.name==\"web\")].ports[*].containerPort}"),
        "80"
    );
}

/// `kubectl wait` on what the API stores: a condition, a JSONPath value, deletion.
#[test]
fn kubectl_wait_for_jsonpath_condition_and_delete() {
    let server = Server::start(&[]);
    let v = "1.33";
    server.ok(
        v,
        &["create", "configmap", "flag", "--from-literal=state=old"],
    );
    // Without the change the wait times out…
    let timed_out = std::process::Command::new(common::require_kubectl(v))
        .args([
            "wait",
            "--for=jsonpath={.data.state}=ready",
            "configmap/flag",
            "--timeout=1s",
        ])
        .env("KUBECONFIG", &server.kubeconfig)
        .env("HOME", server.data_dir.join("home"))
        .output()
        .unwrap();
    assert!(!timed_out.status.success());
    // …and with it the wait returns.
    server.ok(
        v,
        &[
            "patch",
            "configmap",
            "flag",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"state":"ready"}}"#,
        ],
    );
    server.ok(
        v,
        &[
            "wait",
            "--for=jsonpath={.data.state}=ready",
            "configmap/flag",
            "--timeout=10s",
        ],
    );
    server.ok(v, &["delete", "configmap", "flag", "--wait=false"]);
    server.ok(
        v,
        &["wait", "--for=delete", "configmap/flag", "--timeout=10s"],
    );
}

/// `kubectl diff -f` shows the change (server-side dry run) and stores nothing. (The generation,
/// not the resourceVersion, is compared: the Deployment controller writes status meanwhile.)
#[test]
fn kubectl_diff_shows_the_change_and_stores_nothing() {
    let server = Server::start(&[]);
    for v in ["1.27", "1.33"] {
        let ns = format!("diff-{}", v.replace('.', "-"));
        server.ok(v, &["create", "namespace", &ns]);
        server.ok_stdin(v, &["-n", &ns, "apply", "-f", "-"], WEB);
        let generation = server.ok(
            v,
            &[
                "-n",
                &ns,
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.metadata.generation}",
            ],
        );
        let edited = WEB.replace("image: nginx:1.25", "image: nginx:1.27");
        let out = server.kubectl_stdin(v, &["-n", &ns, "diff", "-f", "-"], Some(&edited));
        // kubectl diff exits 1 when there are differences.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let diff = String::from_utf8_lossy(&out.stdout);
        assert!(
            diff.contains("-        image: nginx:1.25")
                && diff.contains("+        image: nginx:1.27"),
            "{diff}"
        );
        let image = server.ok(
            v,
            &[
                "-n",
                &ns,
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}",
            ],
        );
        assert_eq!(image, format!("nginx:1.25 {generation}"));
    }
}
