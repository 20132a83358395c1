//! Acceptance: stock kubectl (1.33 and 1.27) against a real `k3rs server`.

mod common;

use common::Server;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

const VERSIONS: &[&str] = &["1.33", "1.27"];

#[test]
fn api_resources_lists_builtins_with_short_names() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let out = server.ok(v, &["api-resources"]);
        for (name, short, api_version) in [
            ("pods", "po", "v1"),
            ("services", "svc", "v1"),
            ("configmaps", "cm", "v1"),
            ("namespaces", "ns", "v1"),
            ("deployments", "deploy", "apps/v1"),
            ("statefulsets", "sts", "apps/v1"),
            ("cronjobs", "cj", "batch/v1"),
            ("ingresses", "ing", "networking.k8s.io/v1"),
            (
                "customresourcedefinitions",
                "crd,crds",
                "apiextensions.k8s.io/v1",
            ),
            ("horizontalpodautoscalers", "hpa", "autoscaling/v2"),
        ] {
            let line = out
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("kubectl {v} api-resources lacks {name}:\n{out}"));
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols[1], short, "{line}");
            assert_eq!(cols[2], api_version, "{line}");
        }
        // Categories work: `get all` resolves through discovery.
        server.ok(v, &["get", "all", "-A"]);
    }
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels: {tier: web}
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {tier: web}
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
        image: busybox:1.36
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
"#;

fn everyday_commands(server: &Server, v: &str) {
    let ns = format!("e2e-{}", v.replace('.', "-"));
    server.ok(v, &["create", "namespace", &ns]);
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "create",
            "configmap",
            "app",
            "--from-literal=key=value",
            "--from-literal=other=x",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=s3cret",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "create",
            "deployment",
            "nginx",
            "--image=nginx:1.25",
            "--replicas=2",
        ],
    );

    // get: default, yaml, json, jsonpath.
    let table = server.ok(v, &["-n", &ns, "get", "configmaps"]);
    assert!(table.contains("app"), "{table}");
    let yaml = server.ok(v, &["-n", &ns, "get", "configmap", "app", "-o", "yaml"]);
    assert!(
        yaml.contains("key: value") && yaml.contains("resourceVersion:") && yaml.contains("uid:"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&server.ok(v, &["-n", &ns, "get", "secret", "creds", "-o", "json"]))
            .unwrap();
    assert_eq!(json["data"]["password"], "czNjcmV0");
    assert_eq!(json["type"], "Opaque");
    let image = server.ok(
        v,
        &[
            "-n",
            &ns,
            "get",
            "deploy",
            "nginx",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "nginx:1.25");
    // Defaults as upstream.
    let strategy = server.ok(v, &["-n", &ns, "get", "deploy", "nginx", "-o", "jsonpath={.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.template.spec.restartPolicy}"]);
    assert_eq!(strategy, "25% 10 Always");

    // label, annotate, selectors, show-labels.
    server.ok(v, &["-n", &ns, "label", "configmap", "app", "tier=backend"]);
    server.ok(
        v,
        &["-n", &ns, "annotate", "configmap", "app", "note=hello"],
    );
    let labelled = server.ok(
        v,
        &["-n", &ns, "get", "cm", "-l", "tier=backend", "-o", "name"],
    );
    assert_eq!(labelled.trim(), "configmap/app");
    let none = server.ok(
        v,
        &[
            "-n",
            &ns,
            "get",
            "cm",
            "-l",
            "tier in (nothing)",
            "-o",
            "name",
        ],
    );
    assert!(none.trim().is_empty(), "{none}");
    let by_field = server.ok(
        v,
        &[
            "-n",
            &ns,
            "get",
            "cm",
            "--field-selector",
            "metadata.name=app",
            "-o",
            "name",
        ],
    );
    assert_eq!(by_field.trim(), "configmap/app");
    let shown = server.ok(v, &["-n", &ns, "get", "cm", "app", "--show-labels"]);
    assert!(shown.contains("tier=backend"), "{shown}");
    let all_ns = server.ok(v, &["get", "cm", "-A", "-o", "name"]);
    assert!(all_ns.contains("configmap/app"), "{all_ns}");
    let note = server.ok(
        v,
        &[
            "-n",
            &ns,
            "get",
            "cm",
            "app",
            "-o",
            "jsonpath={.metadata.annotations.note}",
        ],
    );
    assert_eq!(note, "hello");

    // describe.
    let described = server.ok(v, &["-n", &ns, "describe", "configmap", "app"]);
    assert!(
        described.contains("Name:") && described.contains("key"),
        "{described}"
    );
    server.ok(v, &["-n", &ns, "describe", "deployment", "nginx"]);

    // patch (merge, json) and scale.
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "patch",
            "configmap",
            "app",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"key":"patched"}}"#,
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "patch",
            "configmap",
            "app",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/data/other"}]"#,
        ],
    );
    let data = server.ok(
        v,
        &["-n", &ns, "get", "cm", "app", "-o", "jsonpath={.data}"],
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data).unwrap(),
        serde_json::json!({"key": "patched"})
    );
    server.ok(
        v,
        &["-n", &ns, "scale", "deployment", "nginx", "--replicas=5"],
    );
    let replicas = server.ok(
        v,
        &[
            "-n",
            &ns,
            "get",
            "deploy",
            "nginx",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.generation}",
        ],
    );
    assert_eq!(replicas, "5 2");

    // apply of a multi-document file.
    let manifest = MANIFEST.replace("shop", &format!("{ns}-shop"));
    let applied = server.ok_stdin(v, &["apply", "--validate=false", "-f", "-"], &manifest);
    assert_eq!(
        applied.lines().filter(|l| l.ends_with("created")).count(),
        4,
        "{applied}"
    );
    let svc_ip = server.ok(
        v,
        &[
            "-n",
            &format!("{ns}-shop"),
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    assert!(svc_ip.starts_with("10.43."), "{svc_ip}");

    // delete by name, by label, --all.
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "create",
            "configmap",
            "one",
            "--from-literal=a=b",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            &ns,
            "create",
            "configmap",
            "two",
            "--from-literal=a=b",
        ],
    );
    server.ok(v, &["-n", &ns, "label", "configmap", "two", "drop=yes"]);
    server.ok(v, &["-n", &ns, "delete", "configmap", "one"]);
    server.ok(v, &["-n", &ns, "delete", "configmap", "-l", "drop=yes"]);
    // kube-root-ca.crt is published in every namespace (and republished when deleted).
    let user_cms = |out: String| -> Vec<String> {
        out.lines()
            .filter(|l| *l != "configmap/kube-root-ca.crt")
            .map(String::from)
            .collect()
    };
    let left = user_cms(server.ok(v, &["-n", &ns, "get", "cm", "-o", "name"]));
    assert_eq!(left, ["configmap/app"]);
    server.ok(v, &["-n", &ns, "delete", "configmap", "--all"]);
    let left = user_cms(server.ok(v, &["-n", &ns, "get", "cm", "-o", "name"]));
    assert!(left.is_empty(), "{left:?}");
    // delete namespace waits until the namespace and its content are gone.
    let shop = format!("{ns}-shop");
    server.ok(v, &["delete", "namespace", &shop, "--timeout=30s"]);
    assert!(
        server
            .fails(v, &["get", "namespace", &shop])
            .contains("not found")
    );
    let missing = server.fails(v, &["-n", &ns, "get", "cm", "one"]);
    assert!(
        missing.contains("configmaps \"one\" not found"),
        "{missing}"
    );
}

#[test]
fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let server = Server::start(&[]);
    let v = "1.33";
    server.ok(v, &["create", "namespace", "doomed"]);
    server.ok(
        v,
        &[
            "-n",
            "doomed",
            "create",
            "configmap",
            "plain",
            "--from-literal=a=b",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            "doomed",
            "create",
            "configmap",
            "held",
            "--from-literal=a=b",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            "doomed",
            "patch",
            "configmap",
            "held",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ],
    );
    server.ok(v, &["delete", "namespace", "doomed", "--wait=false"]);
    // Terminating: content goes, new content is refused, the finalizer holds the namespace.
    let phase = server.ok(
        v,
        &[
            "get",
            "namespace",
            "doomed",
            "-o",
            "jsonpath={.status.phase}",
        ],
    );
    assert_eq!(phase, "Terminating");
    let refused = server.fails(
        v,
        &[
            "-n",
            "doomed",
            "create",
            "configmap",
            "late",
            "--from-literal=a=b",
        ],
    );
    assert!(
        refused.contains("because it is being terminated"),
        "{refused}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server
        .ok(v, &["-n", "doomed", "get", "configmaps", "-o", "name"])
        .trim()
        != "configmap/held"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "namespace content was not deleted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.ok(
        v,
        &[
            "-n",
            "doomed",
            "patch",
            "configmap",
            "held",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ],
    );
    server.ok(
        v,
        &["wait", "--for=delete", "namespace/doomed", "--timeout=20s"],
    );
    let gone = server.fails(v, &["get", "namespace", "doomed"]);
    assert!(gone.contains("not found"), "{gone}");
}

#[test]
fn everyday_commands_kubectl_1_33() {
    let server = Server::start(&[]);
    everyday_commands(&server, "1.33");
}

#[test]
fn everyday_commands_kubectl_1_27() {
    let server = Server::start(&[]);
    everyday_commands(&server, "1.27");
}

#[test]
fn get_watch_sees_added_modified_deleted() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let ns = format!("watch-{}", v.replace('.', "-"));
        server.ok(v, &["create", "namespace", &ns]);
        let mut watcher = Command::new(common::require_kubectl(v))
            .args([
                "-n",
                &ns,
                "get",
                "configmaps",
                "-w",
                "--output-watch-events",
            ])
            .env("KUBECONFIG", &server.kubeconfig)
            .env("HOME", server.data_dir.join("home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        server.ok(
            v,
            &["-n", &ns, "create", "configmap", "w", "--from-literal=a=1"],
        );
        server.ok(
            v,
            &[
                "-n",
                &ns,
                "patch",
                "configmap",
                "w",
                "--type",
                "merge",
                "-p",
                r#"{"data":{"a":"2"}}"#,
            ],
        );
        server.ok(v, &["-n", &ns, "delete", "configmap", "w"]);
        std::thread::sleep(Duration::from_millis(700));
        let _ = watcher.kill();
        let _ = watcher.wait();
        let mut out = String::new();
        watcher
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        // Table rows: EVENT NAME AGE.
        let events: Vec<&str> = out
            .lines()
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.get(1) == Some(&"w")).then(|| cols[0])
            })
            .collect();
        assert_eq!(
            events,
            ["ADDED", "MODIFIED", "DELETED"],
            "kubectl {v}: {out}"
        );
    }
}

#[test]
fn auth_can_i_whoami_and_token_request() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        assert_eq!(
            server
                .ok(v, &["auth", "can-i", "create", "deployments"])
                .trim(),
            "yes"
        );
        let rules = server.ok(v, &["auth", "can-i", "--list"]);
        assert!(rules.contains("*.*"), "{rules}");
    }
    let whoami = server.ok(
        "1.33",
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
        ],
    );
    assert!(
        whoami.starts_with("system:admin ") && whoami.contains("system:masters"),
        "{whoami}"
    );
    let token = server.fails("1.33", &["create", "token", "default"]);
    assert!(token.contains("not served yet"), "{token}");
}
