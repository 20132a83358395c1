//! Acceptance: the default-scheduler inside `k3rs server`, on nodes created through the API
//! (capacity, labels, taints, a Ready condition patched into status), driven by kubectl 1.33.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

const V: &str = "1.33";

/// Poll `check` until it returns Some, or panic with `what` after `timeout`.
fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get_json(server: &Server, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&server.ok(V, &all)).expect("kubectl json")
}

/// Create a node with allocatable cpu/memory, labels and taints, and mark it Ready.
fn add_node(server: &Server, name: &str, cpu: &str, labels: &[(&str, &str)], taints: &str) {
    let mut l = format!("    kubernetes.io/hostname: {name}\n");
    for (k, v) in labels {
        l.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let manifest = format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n{l}spec:\n  taints: {taints}\n"
    );
    server.ok_stdin(V, &["apply", "-f", "-"], &manifest);
    let status = format!(
        r#"{{"status":{{"capacity":{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}},"allocatable":{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"ready"}}]}}}}"#
    );
    server.ok(
        V,
        &[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            &status,
        ],
    );
}

/// A pod manifest with a cpu request and extra spec YAML (indented by 2).
fn pod(name: &str, labels: &str, cpu: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n{extra}  containers:\n  - name: c\n    image: nginx\n    resources:\n      requests:\n        cpu: {cpu}\n"
    )
}

fn node_of(server: &Server, pod: &str) -> Option<String> {
    let p = get_json(server, &["get", "pod", pod]);
    p.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn wait_bound(server: &Server, pod: &str) -> String {
    wait_for(Duration::from_secs(20), &format!("{pod} bound"), || {
        node_of(server, pod)
    })
}

/// The PodScheduled=False condition's (reason, message), once written.
fn unschedulable(server: &Server, pod: &str) -> (String, String) {
    wait_for(
        Duration::from_secs(20),
        &format!("{pod} PodScheduled=False"),
        || {
            let p = get_json(server, &["get", "pod", pod]);
            let c = p
                .pointer("/status/conditions")?
                .as_array()?
                .iter()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")?
                .clone();
            Some((
                c["reason"].as_str()?.to_string(),
                c["message"].as_str()?.to_string(),
            ))
        },
    )
}

fn failed_scheduling_events(server: &Server, pod: &str) -> Vec<Value> {
    let evs = get_json(server, &["get", "events"]);
    evs["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == pod && e["reason"] == "FailedScheduling")
        .collect()
}

#[test]
fn scheduler_places_pods_and_reports_unschedulable_ones() {
    let server = Server::start(&[]);
    let none = "[]";
    add_node(&server, "w1", "2", &[("zone", "a")], none);
    add_node(&server, "w2", "2", &[("zone", "b"), ("disk", "ssd")], none);
    add_node(
        &server,
        "cp",
        "2",
        &[("node-role.kubernetes.io/control-plane", "")],
        "[{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]",
    );

    // Pods spread over the untainted nodes.
    let mut all = String::new();
    for i in 0..6 {
        all.push_str(&pod(&format!("web-{i}"), "{app: web}", "100m", ""));
        all.push_str("---\n");
    }
    server.ok_stdin(V, &["apply", "-f", "-"], &all);
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..6 {
        *per_node
            .entry(wait_bound(&server, &format!("web-{i}")))
            .or_default() += 1;
    }
    assert_eq!(
        per_node.keys().cloned().collect::<Vec<_>>(),
        ["w1", "w2"],
        "{per_node:?}"
    );
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [3, 3]);
    let p = get_json(&server, &["get", "pod", "web-0"]);
    let scheduled = p["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["status"] == "True");
    assert!(scheduled, "{p}");

    // More CPU than any node: Pending, PodScheduled=False/Unschedulable, FailedScheduling.
    server.ok_stdin(V, &["apply", "-f", "-"], &pod("big", "{app: big}", "8", ""));
    let (reason, message) = unschedulable(&server, "big");
    assert_eq!(reason, "Unschedulable");
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint \
                    {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: \
                    0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    assert!(message.starts_with(expected), "{message}");
    let events = wait_for(Duration::from_secs(10), "FailedScheduling event", || {
        let e = failed_scheduling_events(&server, "big");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["source"]["component"], "default-scheduler");
    assert!(
        events[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(expected)),
        "{}",
        events[0]
    );
    let described = server.ok(V, &["describe", "pod", "big"]);
    assert!(described.contains("FailedScheduling"), "{described}");
    assert!(described.contains("default-scheduler"), "{described}");

    // A bigger node: the pod is retried and lands there.
    add_node(&server, "huge", "16", &[], none);
    assert_eq!(wait_bound(&server, "big"), "huge");

    // nodeSelector.
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &pod(
            "ssd",
            "{app: ssd}",
            "100m",
            "  nodeSelector:\n    disk: ssd\n",
        ),
    );
    assert_eq!(wait_bound(&server, "ssd"), "w2");

    // Taints: a toleration (plus a selector) admits the pod to the control-plane node.
    let tol = "  nodeSelector:\n    node-role.kubernetes.io/control-plane: \"\"\n  tolerations:\n  - key: node-role.kubernetes.io/control-plane\n    operator: Exists\n    effect: NoSchedule\n";
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &pod("tolerant", "{app: t}", "100m", tol),
    );
    assert_eq!(wait_bound(&server, "tolerant"), "cp");
    let intol = "  nodeSelector:\n    node-role.kubernetes.io/control-plane: \"\"\n";
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &pod("intolerant", "{app: i}", "100m", intol),
    );
    let (_, message) = unschedulable(&server, "intolerant");
    assert!(
        message.starts_with(
            "0/4 nodes are available: 1 node(s) had untolerated taint \
             {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't match Pod's node affinity/selector."
        ),
        "{message}"
    );

    // Required anti-affinity: one per untainted node, the fourth stays pending.
    let anti = "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: kubernetes.io/hostname\n        labelSelector:\n          matchLabels:\n            app: solo\n";
    let mut solos = String::new();
    for i in 0..4 {
        solos.push_str(&pod(&format!("solo-{i}"), "{app: solo}", "10m", anti));
        solos.push_str("---\n");
    }
    server.ok_stdin(V, &["apply", "-f", "-"], &solos);
    let (bound, pending) = wait_for(Duration::from_secs(20), "anti-affinity placement", || {
        let mut bound = Vec::new();
        let mut pending = Vec::new();
        for i in 0..4 {
            let name = format!("solo-{i}");
            match node_of(&server, &name) {
                Some(n) => bound.push(n),
                None => pending.push(name),
            }
        }
        (bound.len() == 3).then_some((bound, pending))
    });
    let mut distinct = bound.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct, ["huge", "w1", "w2"], "{bound:?}");
    let (_, message) = unschedulable(&server, &pending[0]);
    assert!(
        message.contains("3 node(s) didn't match pod anti-affinity rules")
            && message.contains("1 node(s) had untolerated taint"),
        "{message}"
    );

    // Another scheduler's pod is left alone.
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &pod(
            "other",
            "{app: o}",
            "100m",
            "  schedulerName: my-scheduler\n",
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    let p = get_json(&server, &["get", "pod", "other"]);
    assert!(p.pointer("/spec/nodeName").is_none(), "{p}");
    let touched = p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "PodScheduled"));
    assert!(!touched, "{p}");
    assert!(failed_scheduling_events(&server, "other").is_empty());
}
