//! Acceptance: node lifecycle and taint eviction on `k3rs server --simulate-nodes 3
//! --node-monitor-grace-period 5s`. A node that stops heartbeating becomes Ready=Unknown with the
//! unreachable taints; its pods, tolerating that for 5 s, are evicted and replaced on the live
//! nodes; when the heartbeat resumes the taints go. Driven by stock kubectl 1.33.

mod common;

use std::time::{Duration, Instant};

use common::Server;

const V: &str = "1.33";

/// Poll `check` until it returns Some, or panic with `what` after `timeout`.
fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn json(server: &Server, args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    let out = server.ok(V, &all);
    serde_json::from_str(&out).expect("kubectl json")
}

fn ready_status(node: &serde_json::Value) -> String {
    node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn has_taint(node: &serde_json::Value, key: &str, effect: &str) -> bool {
    node["spec"]["taints"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["key"] == key && t["effect"] == effect))
}

/// (name, node, phase, terminating) of the deployment's pods.
fn pods(server: &Server) -> Vec<(String, String, String, bool)> {
    let list = json(server, &["get", "pods", "-l", "app=web"]);
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| {
                    (
                        p["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        p["spec"]["nodeName"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        p["status"]["phase"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        !p["metadata"]["deletionTimestamp"].is_null(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      containers:
      - name: web
        image: nginx
        resources: {requests: {cpu: "1"}}
"#;

#[test]
fn unreachable_node_is_tainted_and_its_pods_evicted_and_replaced() {
    let server = Server::start(&["--simulate-nodes", "3", "--node-monitor-grace-period", "5s"]);
    wait_for(Duration::from_secs(30), "3 Ready nodes", || {
        let nodes = json(&server, &["get", "nodes"]);
        let ready = nodes["items"]
            .as_array()
            .map(|ns| ns.iter().filter(|n| ready_status(n) == "True").count())
            .unwrap_or_default();
        (ready == 3).then_some(())
    });
    server.ok_stdin(V, &["apply", "-f", "-"], DEPLOYMENT);
    let running = wait_for(Duration::from_secs(30), "3 running pods", || {
        let ps = pods(&server);
        (ps.iter().filter(|p| p.2 == "Running").count() == 3).then_some(ps)
    });
    let victim = running[0].1.clone();
    let victims: Vec<String> = running
        .iter()
        .filter(|p| p.1 == victim)
        .map(|p| p.0.clone())
        .collect();

    server.ok(
        V,
        &[
            "annotate",
            "node",
            &victim,
            "k3rs.io/simulate-heartbeat=false",
            "--overwrite",
        ],
    );
    let stopped = Instant::now();
    // The last lease renewal may be up to 10 s old; grace 5 s; slack.
    let node = wait_for(
        Duration::from_secs(30),
        "the node Unknown and tainted",
        || {
            let node = json(&server, &["get", "node", &victim]);
            (ready_status(&node) == "Unknown"
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule"))
            .then_some(node)
        },
    );
    let tainted = Instant::now();
    let ready = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["reason"], "NodeStatusUnknown", "{ready}");
    assert_eq!(
        ready["message"], "Kubelet stopped posting node status.",
        "{ready}"
    );
    eprintln!(
        "node Unknown+tainted {:?} after the heartbeat stopped",
        stopped.elapsed()
    );

    // Evicted after tolerationSeconds (5 s), replaced on the live nodes.
    let evicted = wait_for(Duration::from_secs(30), "the victim's pods evicted", || {
        let ps = pods(&server);
        victims
            .iter()
            .all(|v| ps.iter().all(|p| &p.0 != v || p.3))
            .then(Instant::now)
    });
    let after = evicted.duration_since(tainted);
    assert!(
        after >= Duration::from_secs(3),
        "evicted too soon: {after:?}"
    );
    eprintln!("pods evicted {after:?} after the taint was seen");
    wait_for(
        Duration::from_secs(30),
        "3 replicas running on live nodes",
        || {
            let live: Vec<_> = pods(&server).into_iter().filter(|p| !p.3).collect();
            (live.len() == 3 && live.iter().all(|p| p.2 == "Running" && p.1 != victim))
                .then_some(())
        },
    );

    // The heartbeat resumes: Ready again, the taints go.
    server.ok(
        V,
        &[
            "annotate",
            "node",
            &victim,
            "k3rs.io/simulate-heartbeat=true",
            "--overwrite",
        ],
    );
    wait_for(
        Duration::from_secs(30),
        "the node Ready and untainted",
        || {
            let node = json(&server, &["get", "node", &victim]);
            (ready_status(&node) == "True"
                && !has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
                && !has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule"))
            .then_some(())
        },
    );
}
