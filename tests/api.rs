//! Acceptance: API semantics against a real `k3rs server` — optimistic concurrency,
//! durability across kill -9, errors for bad input, CA reuse, and a kube-rs watcher
//! staying in sync across compaction.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, raw};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn configmap(name: &str, data: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": data}})).unwrap()
}

#[test]
fn two_writers_from_one_resource_version_exactly_one_wins() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let client = server.client().await;
        let base = "/api/v1/namespaces/default/configmaps";
        let (code, created) = raw(
            &client,
            "POST",
            base,
            "application/json",
            configmap("race", "0"),
        )
        .await;
        assert_eq!(code, 201, "{created}");
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        for round in 0..5 {
            let (_, current) = raw(
                &client,
                "GET",
                &format!("{base}/race"),
                "application/json",
                vec![],
            )
            .await;
            let rv = if round == 0 {
                rv.clone()
            } else {
                current["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            let update = |data: &str| {
                let mut obj = current.clone();
                obj["metadata"]["resourceVersion"] = json!(rv);
                obj["data"]["k"] = json!(data);
                serde_json::to_vec(&obj).unwrap()
            };
            let path = format!("{base}/race");
            let (a, b) = tokio::join!(
                raw(
                    &client,
                    "PUT",
                    &path,
                    "application/json",
                    update(&format!("a{round}"))
                ),
                raw(
                    &client,
                    "PUT",
                    &path,
                    "application/json",
                    update(&format!("b{round}"))
                ),
            );
            let mut codes = [a.0, b.0];
            codes.sort();
            assert_eq!(codes, [200, 409], "{a:?} {b:?}");
            let loser = if a.0 == 409 { &a.1 } else { &b.1 };
            assert_eq!(loser["reason"], "Conflict");
            assert!(
                loser["message"]
                    .as_str()
                    .unwrap()
                    .contains("the object has been modified"),
                "{loser}"
            );
        }
    });
}

#[test]
fn kill9_keeps_every_acknowledged_write() {
    let mut server = Server::start(&[]);
    let acked: Arc<Mutex<BTreeMap<String, (String, u64)>>> = Arc::default();
    let rt = runtime();
    rt.block_on(async {
        let client = server.client().await;
        let deadline = Instant::now() + Duration::from_millis(1500);
        let mut tasks = Vec::new();
        for w in 0..8 {
            let client = client.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let name = format!("w{w}-{i}");
                    let req = http::Request::builder()
                        .method("POST")
                        .uri("/api/v1/namespaces/default/configmaps")
                        .header("content-type", "application/json")
                        .body(configmap(&name, "x"))
                        .unwrap();
                    match client.request::<Value>(req).await {
                        Ok(obj) => {
                            let uid = obj["metadata"]["uid"].as_str().unwrap().to_string();
                            let rv: u64 = obj["metadata"]["resourceVersion"]
                                .as_str()
                                .unwrap()
                                .parse()
                                .unwrap();
                            acked.lock().unwrap().insert(name, (uid, rv));
                        }
                        Err(_) => break,
                    }
                }
            }));
        }
        // Kill while the writers are still going.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        server.kill9();
        for t in tasks {
            let _ = t.await;
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few writes were acknowledged: {}",
        acked.len()
    );
    server.restart();
    rt.block_on(async {
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, "default");
        let list = api.list(&Default::default()).await.unwrap();
        let stored: BTreeMap<String, (String, u64)> = list
            .items
            .iter()
            .map(|cm| {
                let m = &cm.metadata;
                (
                    m.name.clone().unwrap(),
                    (
                        m.uid.clone().unwrap(),
                        m.resource_version.clone().unwrap().parse().unwrap(),
                    ),
                )
            })
            .collect();
        for (name, ack) in &acked {
            assert_eq!(
                stored.get(name),
                Some(ack),
                "acknowledged write {name} lost or changed"
            );
        }
        let max_acked = acked.values().map(|(_, rv)| *rv).max().unwrap();
        let fresh = api
            .create(
                &PostParams::default(),
                &serde_json::from_slice(&configmap("after-restart", "y")).unwrap(),
            )
            .await
            .unwrap();
        let rv: u64 = fresh.metadata.resource_version.unwrap().parse().unwrap();
        assert!(
            rv > max_acked,
            "resourceVersion went backwards: {rv} <= {max_acked}"
        );
    });
}

#[test]
fn bad_input_gets_upstream_status_and_server_keeps_serving() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let client = server.client().await;
        let cms = "/api/v1/namespaces/default/configmaps";
        let check = |(code, body): (u16, Value), want_code: u16, want_reason: &str| {
            assert_eq!(code, want_code, "{body}");
            assert_eq!(body["kind"], "Status", "{body}");
            assert_eq!(body["status"], "Failure", "{body}");
            assert_eq!(body["reason"], want_reason, "{body}");
            assert_eq!(body["code"], want_code, "{body}");
            body
        };
        check(
            raw(
                &client,
                "POST",
                cms,
                "application/json",
                b"{\"kind\": ".to_vec(),
            )
            .await,
            400,
            "BadRequest",
        );
        check(
            raw(
                &client,
                "POST",
                cms,
                "application/yaml",
                b"kind: [unclosed\n  - x: {".to_vec(),
            )
            .await,
            400,
            "BadRequest",
        );
        check(
            raw(&client, "POST", cms, "application/json", b"[1,2]".to_vec()).await,
            400,
            "BadRequest",
        );
        check(
            raw(
                &client,
                "POST",
                "/api/v1/namespaces/default/foos",
                "application/json",
                b"{}".to_vec(),
            )
            .await,
            404,
            "NotFound",
        );
        check(
            raw(&client, "POST", cms, "text/plain", b"hello".to_vec()).await,
            415,
            "UnsupportedMediaType",
        );
        let long = "a".repeat(64);
        let body = serde_json::to_vec(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": long}}),
        )
        .unwrap();
        let invalid = check(
            raw(
                &client,
                "POST",
                "/api/v1/namespaces",
                "application/json",
                body,
            )
            .await,
            422,
            "Invalid",
        );
        assert_eq!(
            invalid["details"]["causes"][0]["field"], "metadata.name",
            "{invalid}"
        );
        assert!(
            invalid["message"]
                .as_str()
                .unwrap()
                .contains("must be no more than 63 characters"),
            "{invalid}"
        );
        let big = configmap("big", &"x".repeat(10 << 20));
        check(
            raw(&client, "POST", cms, "application/json", big).await,
            413,
            "RequestEntityTooLarge",
        );
        check(
            raw(
                &client,
                "GET",
                &format!("{cms}?labelSelector=a%20in%20(b"),
                "application/json",
                vec![],
            )
            .await,
            400,
            "BadRequest",
        );
        check(
            raw(
                &client,
                "GET",
                &format!("{cms}?fieldSelector=spec.nope%3Dx"),
                "application/json",
                vec![],
            )
            .await,
            400,
            "BadRequest",
        );
        let (code, created) = raw(
            &client,
            "POST",
            cms,
            "application/json",
            configmap("stale", "1"),
        )
        .await;
        assert_eq!(code, 201);
        let mut stale = created.clone();
        stale["data"]["k"] = json!("2");
        assert_eq!(
            raw(
                &client,
                "PUT",
                &format!("{cms}/stale"),
                "application/json",
                serde_json::to_vec(&stale).unwrap()
            )
            .await
            .0,
            200
        );
        stale["data"]["k"] = json!("3");
        check(
            raw(
                &client,
                "PUT",
                &format!("{cms}/stale"),
                "application/json",
                serde_json::to_vec(&stale).unwrap(),
            )
            .await,
            409,
            "Conflict",
        );
        let missing = check(
            raw(
                &client,
                "POST",
                "/api/v1/namespaces/nope/configmaps",
                "application/json",
                configmap("x", "1"),
            )
            .await,
            404,
            "NotFound",
        );
        assert_eq!(missing["message"], "namespaces \"nope\" not found");
        check(
            raw(
                &client,
                "POST",
                cms,
                "application/json",
                configmap("stale", "1"),
            )
            .await,
            409,
            "AlreadyExists",
        );
        check(
            raw(
                &client,
                "GET",
                &format!("{cms}/absent"),
                "application/json",
                vec![],
            )
            .await,
            404,
            "NotFound",
        );
        check(
            raw(
                &client,
                "POST",
                &format!("{cms}/stale"),
                "application/json",
                configmap("stale", "1"),
            )
            .await,
            405,
            "MethodNotAllowed",
        );
        check(
            raw(
                &client,
                "PUT",
                cms,
                "application/json",
                configmap("stale", "1"),
            )
            .await,
            405,
            "MethodNotAllowed",
        );
        check(
            raw(
                &client,
                "DELETE",
                "/api/v1/namespaces",
                "application/json",
                vec![],
            )
            .await,
            405,
            "MethodNotAllowed",
        );
        let protobuf_only = http::Request::builder()
            .uri(cms)
            .header("accept", "application/vnd.kubernetes.protobuf")
            .body(kube::client::Body::empty())
            .unwrap();
        assert_eq!(
            client.send(protobuf_only).await.unwrap().status().as_u16(),
            406
        );
        // Still serving, nothing half-written.
        let (code, list) = raw(&client, "GET", cms, "application/json", vec![]).await;
        assert_eq!(code, 200);
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            // Published in every namespace by the root CA controller.
            .filter(|n| *n != "kube-root-ca.crt")
            .collect();
        assert_eq!(names, ["stale"]);
    });
    server.ok("1.33", &["get", "--raw", "/readyz"]);
}

#[test]
fn anonymous_callers_reach_only_health_and_version() {
    let server = Server::start(&[]);
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("https://127.0.0.1:{}{path}", server.port),
            ])
            .output()
            .expect("curl is installed by .ci/run");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("/healthz"), "200");
    assert_eq!(curl("/readyz?verbose"), "200");
    assert_eq!(curl("/version"), "200");
    assert_eq!(curl("/api"), "401");
    assert_eq!(curl("/api/v1/namespaces/default/configmaps"), "401");
    // The cluster token is a bearer token.
    let token = std::fs::read_to_string(server.data_dir.join("server/token")).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
            &format!("https://127.0.0.1:{}/api/v1/namespaces", server.port),
        ])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "NamespaceList");
    let metrics = server.ok("1.33", &["get", "--raw", "/metrics"]);
    assert!(metrics.contains("apiserver_request_total{"), "{metrics}");
}

#[test]
fn restart_reuses_the_ca_and_the_old_kubeconfig_still_works() {
    let mut server = Server::start(&[]);
    let ca_before = std::fs::read(server.data_dir.join("server/tls/server-ca.crt")).unwrap();
    let token_before = std::fs::read_to_string(server.data_dir.join("server/token")).unwrap();
    assert!(token_before.starts_with("K10"), "{token_before}");
    let old_kubeconfig = server.data_dir.join("old-kubeconfig.yaml");
    std::fs::copy(&server.kubeconfig, &old_kubeconfig).unwrap();
    server.ok(
        "1.27",
        &[
            "create",
            "configmap",
            "before-restart",
            "--from-literal=a=b",
        ],
    );
    server.restart();
    assert_eq!(
        std::fs::read(server.data_dir.join("server/tls/server-ca.crt")).unwrap(),
        ca_before
    );
    assert_eq!(
        std::fs::read_to_string(server.data_dir.join("server/token")).unwrap(),
        token_before
    );
    let out = std::process::Command::new(common::require_kubectl("1.33"))
        .args([
            "--kubeconfig",
            old_kubeconfig.to_str().unwrap(),
            "get",
            "namespaces",
            "-o",
            "name",
        ])
        .env("HOME", server.data_dir.join("home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/kube-system"));
    server.ok("1.27", &["get", "configmap", "before-restart"]);
}

#[test]
fn kube_watcher_stays_in_sync_across_compaction() {
    let server = Server::start(&["--datastore-compact-interval=1s"]);
    runtime().block_on(async {
        let client = server.client().await;
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        ns.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "watched"}})).unwrap(),
        )
        .await
        .unwrap();
        let watched: Api<ConfigMap> = Api::namespaced(client.clone(), "watched");
        let other: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let cm = |name: &str| {
            serde_json::from_value::<ConfigMap>(
                json!({"metadata": {"name": name}, "data": {"k": "v"}}),
            )
            .unwrap()
        };
        watched
            .create(&PostParams::default(), &cm("first"))
            .await
            .unwrap();

        // A short server-side timeout makes the watcher reconnect from its last resourceVersion.
        let config = watcher::Config::default().timeout(2);
        let (reader, writer) = kube::runtime::reflector::store();
        let inits = Arc::new(Mutex::new(0usize));
        let counter = inits.clone();
        let stream = kube::runtime::reflector(writer, watcher(watched.clone(), config)).for_each(
            move |ev| {
                if let Ok(watcher::Event::InitDone) = ev {
                    *counter.lock().unwrap() += 1;
                }
                futures_util::future::ready(())
            },
        );
        let task = tokio::spawn(stream);
        let names = |r: &kube::runtime::reflector::Store<ConfigMap>| {
            let mut n: Vec<String> = r
                .state()
                .iter()
                .map(|c| c.metadata.name.clone().unwrap())
                // Published in every namespace by the root CA controller.
                .filter(|n| n != "kube-root-ca.crt")
                .collect();
            n.sort();
            n
        };
        let wait_for = |want: Vec<&'static str>| {
            let reader = reader.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                while names(&reader) != want {
                    assert!(
                        Instant::now() < deadline,
                        "reflector has {:?}, want {want:?}",
                        names(&reader)
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        wait_for(vec!["first"]).await;
        // Advance the store elsewhere long enough for compaction to pass the watcher's revision.
        other
            .create(&PostParams::default(), &cm("churn"))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut i = 0;
        while Instant::now() < deadline {
            let mut c = cm("churn");
            c.data = Some([("k".to_string(), i.to_string())].into());
            other
                .replace("churn", &Default::default(), &c)
                .await
                .unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        watched
            .create(&PostParams::default(), &cm("second"))
            .await
            .unwrap();
        watched.delete("first", &Default::default()).await.unwrap();
        wait_for(vec!["second"]).await;
        assert!(
            *inits.lock().unwrap() >= 2,
            "the watcher never had to relist (no 410 seen)"
        );
        task.abort();
    });
}
