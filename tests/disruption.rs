//! End-to-end tests of PodDisruptionBudgets: the disruption controller's status, the eviction
//! subresource and `kubectl drain`, against `k3rs server --simulate-nodes 3` driven by stock
//! kubectl 1.33 (and kube-rs for raw evictions and a watch of the budget).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{Server, raw, wait_for};
use futures_util::StreamExt;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

const V: &str = "1.33";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn ready_pods(server: &Server, app: &str) -> Vec<Value> {
    server
        .get_json(V, &["pods", "-l", &format!("app={app}")])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            p["metadata"]["deletionTimestamp"].is_null()
                && p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        })
        .collect()
}

fn deploy(server: &Server, name: &str, replicas: u32) {
    server.ok(
        V,
        &[
            "create",
            "deployment",
            name,
            "--image=nginx",
            &format!("--replicas={replicas}"),
        ],
    );
    wait_for(60, &format!("{replicas} ready {name} pods"), || {
        (ready_pods(server, name).len() == replicas as usize).then_some(())
    });
}

fn pdb_status(server: &Server, name: &str) -> Value {
    server
        .get_json(V, &["pdb", name])
        .map(|p| p["status"].clone())
        .unwrap_or(Value::Null)
}

fn wait_allowed(server: &Server, name: &str, allowed: i64) -> Value {
    wait_for(
        30,
        &format!("pdb {name} disruptionsAllowed={allowed}"),
        || {
            let s = pdb_status(server, name);
            (s["disruptionsAllowed"] == allowed && s["observedGeneration"] == 1).then_some(s)
        },
    )
}

fn eviction(name: &str, api_version: &str) -> Vec<u8> {
    json!({"apiVersion": api_version, "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}})
        .to_string()
        .into_bytes()
}

async fn evict(client: &kube::Client, pod: &str, api_version: &str) -> (u16, Value) {
    raw(
        client,
        "POST",
        &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
        "application/json",
        eviction(pod, api_version),
    )
    .await
}

/// [sig-apps] DisruptionController should create a PodDisruptionBudget [Conformance]
/// [sig-apps] DisruptionController should observe PodDisruptionBudget status updated [Conformance]
/// [sig-apps] DisruptionController should block an eviction until the PDB is updated to allow it [Conformance]
#[test]
fn budgets_guard_evictions_and_drain() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    let rt = runtime();
    // kube-rs retries 429s by default; the evictions here must see them.
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        config.default_retry = false;
        kube::Client::try_from(config).expect("client")
    });

    // Discovery lists pods/eviction in policy/v1, which kubectl drain looks for.
    let core = server.ok(V, &["get", "--raw", "/api/v1"]);
    let core: Value = serde_json::from_str(&core).expect("discovery");
    let sub = core["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "pods/eviction"))
        .cloned()
        .expect("pods/eviction in discovery");
    assert_eq!(
        (
            sub["group"].as_str(),
            sub["version"].as_str(),
            sub["kind"].as_str()
        ),
        (Some("policy"), Some("v1"), Some("Eviction"))
    );

    // minAvailable 2 over 3 replicas: one disruption allowed.
    deploy(&server, "web", 3);
    server.ok(
        V,
        &[
            "create",
            "pdb",
            "web",
            "--selector=app=web",
            "--min-available=2",
        ],
    );
    let s = wait_allowed(&server, "web", 1);
    assert_eq!(
        (
            s["currentHealthy"].as_i64(),
            s["desiredHealthy"].as_i64(),
            s["expectedPods"].as_i64()
        ),
        (Some(3), Some(2), Some(3)),
        "{s}"
    );
    let cond = s["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionAllowed"))
        .cloned()
        .expect("condition");
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str()),
        (Some("True"), Some("SufficientPods"))
    );
    let row = server.ok(V, &["get", "pdb", "web", "--no-headers"]);
    assert_eq!(
        row.split_whitespace().take(4).collect::<Vec<_>>(),
        ["web", "2", "N/A", "1"],
        "{row}"
    );

    // An allowed eviction deletes the pod and spends the disruption in the budget's status
    // (seen from a watch: the controller restores it once the replacement is Ready).
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen_w = seen.clone();
    let watch_client = client.clone();
    rt.spawn(async move {
        let api: Api<PodDisruptionBudget> = Api::namespaced(watch_client, "default");
        let mut stream = watcher(api, watcher::Config::default().fields("metadata.name=web"))
            .applied_objects()
            .boxed();
        while let Some(Ok(p)) = stream.next().await {
            let status = serde_json::to_value(&p.status).unwrap_or_default();
            seen_w.lock().expect("lock").push(status);
        }
    });
    wait_for(10, "the budget watch to start", || {
        (!seen.lock().expect("lock").is_empty()).then_some(())
    });
    let victim = ready_pods(&server, "web")[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let (code, body) = rt.block_on(evict(&client, &victim, "policy/v1"));
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"], "Success", "{body}");
    wait_for(30, "the evicted pod to go", || {
        server
            .get_json(V, &["pod", &victim])
            .is_none()
            .then_some(())
    });
    wait_for(10, "a watched status with the eviction recorded", || {
        seen.lock()
            .expect("lock")
            .iter()
            .any(|s| s["disruptionsAllowed"] == 0 && s["disruptedPods"].get(&victim).is_some())
            .then_some(())
    });
    wait_allowed(&server, "web", 1);

    // No disruption allowed: 429 with upstream's message and a DisruptionBudget cause.
    deploy(&server, "db", 2);
    server.ok(
        V,
        &[
            "create",
            "pdb",
            "db",
            "--selector=app=db",
            "--min-available=2",
        ],
    );
    wait_allowed(&server, "db", 0);
    let db = ready_pods(&server, "db")[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let (code, body) = rt.block_on(evict(&client, &db, "policy/v1"));
    assert_eq!(code, 429, "{body}");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(
        body["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        body["details"]["causes"][0]["reason"], "DisruptionBudget",
        "{body}"
    );
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "The disruption budget db needs 2 healthy pods and has 2 currently"
    );
    // The v1beta1 body is accepted too, with the same answer.
    let (code, _) = rt.block_on(evict(&client, &db, "policy/v1beta1"));
    assert_eq!(code, 429);

    // Two budgets over one pod: 500 as upstream.
    server.ok(
        V,
        &[
            "create",
            "pdb",
            "db2",
            "--selector=app=db",
            "--max-unavailable=1",
        ],
    );
    let (code, body) = rt.block_on(evict(&client, &db, "policy/v1"));
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    server.ok(V, &["delete", "pdb", "db2"]);

    // Relaxing the budget lets the blocked eviction through.
    server.ok(
        V,
        &[
            "patch",
            "pdb",
            "db",
            "--type=merge",
            "-p",
            r#"{"spec":{"minAvailable":1}}"#,
        ],
    );
    wait_for(30, "pdb db to allow one disruption", || {
        let s = pdb_status(&server, "db");
        (s["disruptionsAllowed"] == 1 && s["observedGeneration"] == 2).then_some(())
    });
    let (code, body) = rt.block_on(evict(&client, &db, "policy/v1"));
    assert_eq!(code, 201, "{body}");

    // A Pending pod is evicted whatever its budget says.
    server.ok_stdin(
        V,
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waiting", "labels": {"app": "db"}},
            "spec": {"schedulerName": "manual", "containers": [{"name": "c", "image": "nginx"}]}})
        .to_string(),
    );
    let (code, body) = rt.block_on(evict(&client, "waiting", "policy/v1"));
    assert_eq!(code, 201, "{body}");

    // An unready pod is protected while the budget is short (IfHealthyBudget, the default) and
    // evictable with unhealthyPodEvictionPolicy AlwaysAllow.
    server.ok_stdin(
        V,
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slow", "labels": {"app": "slow"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "readinessProbe":
                {"exec": {"command": ["true"]}, "initialDelaySeconds": 3600}}]}})
        .to_string(),
    );
    wait_for(30, "pod slow Running", || {
        let p = server.get_json(V, &["pod", "slow"])?;
        (p["status"]["phase"] == "Running").then_some(())
    });
    server.ok(
        V,
        &[
            "create",
            "pdb",
            "slow",
            "--selector=app=slow",
            "--min-available=1",
        ],
    );
    let s = wait_allowed(&server, "slow", 0);
    assert_eq!(
        (s["currentHealthy"].as_i64(), s["desiredHealthy"].as_i64()),
        (Some(0), Some(1)),
        "{s}"
    );
    let (code, body) = rt.block_on(evict(&client, "slow", "policy/v1"));
    assert_eq!(code, 429, "{body}");
    server.ok(
        V,
        &[
            "patch",
            "pdb",
            "slow",
            "--type=merge",
            "-p",
            r#"{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}"#,
        ],
    );
    wait_for(30, "pdb slow observed generation 2", || {
        (pdb_status(&server, "slow")["observedGeneration"] == 2).then_some(())
    });
    let (code, body) = rt.block_on(evict(&client, "slow", "policy/v1"));
    assert_eq!(code, 201, "{body}");
    wait_for(30, "pod slow to go", || {
        server.get_json(V, &["pod", "slow"]).is_none().then_some(())
    });

    // Drain: 4 replicas with minAvailable 3 allow one eviction at a time, so draining a node
    // that runs two of them evicts one, is refused (429) for the other and retries until the
    // replacement is Ready elsewhere.
    deploy(&server, "api", 4);
    server.ok(
        V,
        &[
            "create",
            "pdb",
            "api",
            "--selector=app=api",
            "--min-available=3",
        ],
    );
    wait_allowed(&server, "api", 1);
    let mut per_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in ready_pods(&server, "api") {
        per_node
            .entry(p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(p["metadata"]["name"].as_str().unwrap_or("").to_string());
    }
    let (node, pods) = per_node
        .iter()
        .max_by_key(|(_, p)| p.len())
        .map(|(n, p)| (n.clone(), p.clone()))
        .expect("a node");
    assert!(pods.len() >= 2, "{per_node:?}");
    let out = server.kubectl(
        V,
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=120s",
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for p in &pods {
        assert!(text.contains(&format!("pod/{p} evicted")), "{text}");
    }
    assert!(
        text.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{text}"
    );
    assert!(text.contains(&format!("node/{node} drained")), "{text}");
    let left: Vec<Value> = ready_pods(&server, "api");
    assert!(
        left.iter().all(|p| p["spec"]["nodeName"] != node.as_str()),
        "{left:?}"
    );
    let node_obj = server.get_json(V, &["node", &node]).expect("node");
    assert_eq!(node_obj["spec"]["unschedulable"], true);
    wait_for(60, "4 api pods ready after the drain", || {
        (ready_pods(&server, "api").len() == 4).then_some(())
    });
}
