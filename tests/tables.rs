//! Acceptance: server-side Table output (`Accept: …;as=Table;g=meta.k8s.io;v=v1`) as stock
//! kubectl 1.27 and 1.33 print it, `-o wide`, `get -w`, and the PartialObjectMetadata forms.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;
use serde_json::Value;

const VERSIONS: &[&str] = &["1.33", "1.27"];

/// A Node object (no agent yet, so the test registers one itself).
const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"worker-1","labels":{"node-role.kubernetes.io/worker":""}}}"#;

/// The header line of each table in kubectl's output, as whitespace-split words.
fn headers(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| l.starts_with("NAME ") || l.starts_with("LAST SEEN"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The row of `name` (first column), as words.
fn row_of(out: &str, name: &str) -> Vec<String> {
    out.lines()
        .map(words)
        .find(|w| w.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{out}"))
}

fn setup(server: &Server, v: &str, ns: &str) {
    server.ok(v, &["create", "namespace", ns]);
    server.ok(
        v,
        &[
            "-n",
            ns,
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            ns,
            "create",
            "service",
            "nodeport",
            "web",
            "--tcp=80:8080",
        ],
    );
    server.ok(
        v,
        &[
            "-n",
            ns,
            "create",
            "configmap",
            "conf",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ],
    );
    server.ok(v, &["-n", ns, "run", "solo", "--image=busybox"]);
}

#[test]
fn kubectl_get_prints_upstream_columns() {
    let server = Server::start(&[]);
    // --validate=false: independent of the OpenAPI documents.
    server.ok_stdin("1.33", &["create", "--validate=false", "-f", "-"], NODE);
    for v in VERSIONS {
        let ns = format!("tables-{}", v.replace('.', "-"));
        setup(&server, v, &ns);

        let out = server.ok(v, &["-n", &ns, "get", "pods,deploy,svc,nodes,cm,ns"]);
        let want: Vec<Vec<String>> = [
            "NAME READY STATUS RESTARTS AGE",
            "NAME READY UP-TO-DATE AVAILABLE AGE",
            "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
            "NAME STATUS ROLES AGE VERSION",
            "NAME DATA AGE",
            "NAME STATUS AGE",
        ]
        .iter()
        .map(|h| words(h))
        .collect();
        assert_eq!(headers(&out), want, "kubectl {v}:\n{out}");
        let pod = row_of(&out, "pod/solo");
        assert_eq!(&pod[1..4], ["0/1", "Pending", "0"], "kubectl {v}:\n{out}");
        let deploy = row_of(&out, "deployment.apps/web");
        // UP-TO-DATE (deploy[2]) is 0 or 1 depending on how far the Deployment controller got.
        assert_eq!(deploy[1], "0/1", "kubectl {v}:\n{out}");
        assert_eq!(deploy[3], "0", "kubectl {v}:\n{out}");
        let svc = row_of(&out, "service/web");
        assert_eq!(svc[1], "NodePort", "kubectl {v}:\n{out}");
        assert!(svc[2].starts_with("10.43."), "cluster IP: {out}");
        assert_eq!(svc[3], "<none>");
        assert!(
            svc[4].starts_with("80:") && svc[4].ends_with("/TCP"),
            "ports: {out}"
        );
        let node = row_of(&out, "node/worker-1");
        assert_eq!(&node[1..3], ["Unknown", "worker"], "kubectl {v}:\n{out}");
        let cm = row_of(&out, "configmap/conf");
        assert_eq!(cm[1], "2");
        let nsrow = row_of(&out, &format!("namespace/{ns}"));
        assert_eq!(nsrow[1], "Active");

        let wide = server.ok(
            v,
            &["-n", &ns, "get", "pods,deploy,svc,nodes", "-o", "wide"],
        );
        let want: Vec<Vec<String>> = [
            "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES",
            "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR",
            "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR",
            "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
        ]
        .iter()
        .map(|h| words(h))
        .collect();
        assert_eq!(headers(&wide), want, "kubectl {v}:\n{wide}");
        let deploy = row_of(&wide, "deployment.apps/web");
        assert_eq!(&deploy[5..], ["nginx", "nginx:1.27", "app=web"], "{wide}");
        let pod = row_of(&wide, "pod/solo");
        assert_eq!(
            &pod[5..],
            ["<none>", "<none>", "<none>", "<none>"],
            "{wide}"
        );

        // A kind without a printer: upstream's default NAME / CREATED AT.
        server.ok(
            v,
            &[
                "-n",
                &ns,
                "create",
                "role",
                "reader",
                "--verb=get",
                "--resource=pods",
            ],
        );
        let out = server.ok(v, &["-n", &ns, "get", "roles"]);
        assert_eq!(
            headers(&out),
            [words("NAME CREATED AT")],
            "kubectl {v}:\n{out}"
        );
        let role = row_of(&out, "reader");
        assert!(role[1].ends_with('Z') && role[1].contains('T'), "{out}");
        // Single object, and -o json still returns the object itself.
        let one = server.ok(v, &["-n", &ns, "get", "configmap", "conf"]);
        assert_eq!(headers(&one), [words("NAME DATA AGE")], "{one}");
        let json = server.ok(v, &["-n", &ns, "get", "configmap", "conf", "-o", "json"]);
        let obj: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(obj["kind"], "ConfigMap");
    }
}

#[test]
fn get_watch_prints_updating_rows() {
    let server = Server::start(&[]);
    for v in VERSIONS {
        let ns = format!("tablewatch-{}", v.replace('.', "-"));
        server.ok(v, &["create", "namespace", &ns]);
        let mut watcher = Command::new(common::require_kubectl(v))
            .args(["-n", &ns, "get", "pods", "-w"])
            .env("KUBECONFIG", &server.kubeconfig)
            .env("HOME", server.data_dir.join("home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl -w");
        std::thread::sleep(Duration::from_millis(800));
        server.ok(v, &["-n", &ns, "run", "w1", "--image=busybox"]);
        server.ok(v, &["-n", &ns, "label", "pod", "w1", "touched=yes"]);
        server.ok(v, &["-n", &ns, "run", "w2", "--image=busybox"]);
        std::thread::sleep(Duration::from_millis(800));
        let _ = watcher.kill();
        let _ = watcher.wait();
        let mut out = String::new();
        watcher
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        assert_eq!(
            headers(&out),
            [words("NAME READY STATUS RESTARTS AGE")],
            "kubectl {v}: header once:\n{out}"
        );
        let rows: Vec<Vec<String>> = out
            .lines()
            .map(words)
            .filter(|w| w.first().is_some_and(|n| n.starts_with('w')))
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        // Each pod is added, then updated (w1 labelled; with no nodes the scheduler also marks
        // both PodScheduled=False, one more update each).
        let count = |n: &str| names.iter().filter(|x| **x == n).count();
        assert_eq!(names.first(), Some(&"w1"), "kubectl {v}:\n{out}");
        assert!(
            (2..=3).contains(&count("w1")) && (1..=2).contains(&count("w2")),
            "kubectl {v}:\n{out}"
        );
        assert_eq!(
            count("w1") + count("w2"),
            names.len(),
            "kubectl {v}:\n{out}"
        );
        assert!(
            rows.iter().all(|r| r[1] == "0/1" && r[2] == "Pending"),
            "kubectl {v}:\n{out}"
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn get(client: &kube::Client, path: &str, accept: &str) -> (u16, String, Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .uri(path)
        .header("accept", accept)
        .body(kube::client::Body::empty())
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        code,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[test]
fn table_and_partial_object_metadata_over_the_wire() {
    let server = Server::start(&[]);
    server.ok(
        "1.33",
        &["create", "configmap", "one", "--from-literal=k=v"],
    );
    runtime().block_on(async {
        let client = server.client().await;
        let cms = "/api/v1/namespaces/default/configmaps";
        let table_v1 = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

        let (code, ct, t) = get(&client, cms, table_v1).await;
        assert_eq!((code, ct.as_str()), (200, "application/json"), "{t}");
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert!(t["metadata"]["resourceVersion"].as_str().is_some(), "{t}");
        let cols: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(cols, ["Name", "Data", "Age"]);
        let row = t["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["cells"][0] == "one")
            .expect("row of one");
        assert_eq!(row["cells"][1], 1);
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["metadata"]["name"], "one");

        // v1beta1, includeObject=Object and None.
        let beta = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
        let (_, _, t) = get(&client, &format!("{cms}?includeObject=Object"), beta).await;
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
        // Find the row of `one` (kube-root-ca.crt is published in every namespace).
        let one = t["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["object"]["metadata"]["name"] == "one")
            .expect("row of one");
        assert_eq!(one["object"]["kind"], "ConfigMap");
        assert_eq!(one["object"]["data"]["k"], "v");
        let (_, _, t) = get(&client, &format!("{cms}?includeObject=None"), beta).await;
        assert_eq!(t["rows"][0]["object"], Value::Null);
        let (code, _, s) = get(&client, &format!("{cms}?includeObject=Bogus"), beta).await;
        assert_eq!(code, 400, "{s}");

        // One object as a Table.
        let (code, _, t) = get(&client, &format!("{cms}/one"), table_v1).await;
        assert_eq!(code, 200);
        assert_eq!(t["rows"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            t["metadata"]["resourceVersion"],
            t["rows"][0]["object"]["metadata"]["resourceVersion"]
        );

        // PartialObjectMetadata(List).
        let pom = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
        let poml = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        let (code, _, p) = get(&client, &format!("{cms}/one"), pom).await;
        assert_eq!(code, 200);
        assert_eq!(p["kind"], "PartialObjectMetadata");
        assert_eq!(p["metadata"]["name"], "one");
        assert!(p.get("data").is_none());
        let (code, _, l) = get(&client, cms, poml).await;
        assert_eq!(code, 200);
        assert_eq!(l["kind"], "PartialObjectMetadataList");
        assert_eq!(l["items"][0]["kind"], "PartialObjectMetadata");
        let (code, _, s) = get(&client, cms, pom).await;
        assert_eq!(code, 406, "{s}");
        let (code, _, s) = get(&client, &format!("{cms}/one"), poml).await;
        assert_eq!(code, 406, "{s}");
        let (code, _, _) = get(&client, cms, "application/json;as=Nope;g=meta.k8s.io;v=v1").await;
        assert_eq!(code, 406);
    });
}
