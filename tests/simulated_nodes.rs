//! Acceptance: `k3rs server --simulate-nodes 3` — simulated nodes register Ready with podCIDRs,
//! run bound pods as a kubelet reports them (IPs, readiness delays, completion, deletion) and
//! stop heartbeating on request. Driven by stock kubectl 1.33.

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
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn jsonpath(server: &Server, args: &[&str], path: &str) -> String {
    let out = format!("jsonpath={path}");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", &out]);
    let o = server.kubectl(V, &all);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether `ip` lies in `cidr` (IPv4 a.b.c.d/n).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let parse = |s: &str| -> Option<u32> { s.parse::<std::net::Ipv4Addr>().ok().map(u32::from) };
    let Some((net, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Some(ip), Some(net), Ok(prefix)) = (parse(ip), parse(net), prefix.parse::<u32>()) else {
        return false;
    };
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    ip & mask == net & mask
}

fn start() -> Server {
    Server::start(&["--simulate-nodes", "3", "--simulate-pod-completion", "2s"])
}

/// Wait until all three simulated nodes are Ready with a podCIDR; returns name → podCIDR.
fn ready_nodes(server: &Server) -> Vec<(String, String)> {
    wait_for(Duration::from_secs(30), "3 Ready simulated nodes", || {
        let out = jsonpath(
            server,
            &["get", "nodes", "-l", "type=simulated"],
            r#"{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        );
        let nodes: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() == 3 && cols[2] == "True")
                    .then(|| (cols[0].to_string(), cols[1].to_string()))
            })
            .collect();
        (nodes.len() == 3).then_some(nodes)
    })
}

#[test]
fn nodes_register_ready_with_pod_cidrs_and_leases() {
    let server = start();
    let nodes = ready_nodes(&server);
    let mut cidrs: Vec<&str> = nodes.iter().map(|(_, c)| c.as_str()).collect();
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 3, "distinct podCIDRs: {nodes:?}");
    for (name, cidr) in &nodes {
        assert!(
            cidr.starts_with("10.42.") && cidr.ends_with(".0/24"),
            "{name}: {cidr}"
        );
    }
    let table = server.ok(V, &["get", "nodes"]);
    assert_eq!(
        table.lines().filter(|l| l.contains(" Ready ")).count(),
        3,
        "{table}"
    );
    for name in ["sim-node-0", "sim-node-1", "sim-node-2"] {
        assert!(table.contains(name), "{table}");
    }
    let node = server.ok(V, &["get", "node", "sim-node-1", "-o", "json"]);
    for needle in [
        "\"kubernetes.io/hostname\": \"sim-node-1\"",
        "\"kubernetes.io/os\": \"linux\"",
        "\"kubernetes.io/arch\": \"amd64\"",
        "\"type\": \"simulated\"",
        "\"cpu\": \"8\"",
        "\"memory\": \"32Gi\"",
        "\"pods\": \"110\"",
        "\"ephemeral-storage\"",
        "\"KubeletHasSufficientMemory\"",
        "\"KubeletHasNoDiskPressure\"",
        "\"KubeletHasSufficientPID\"",
        "\"KubeletReady\"",
        "\"InternalIP\"",
        "\"podCIDRs\"",
    ] {
        assert!(node.contains(needle), "{needle} missing in {node}");
    }
    let holders = wait_for(Duration::from_secs(20), "node leases", || {
        let out = jsonpath(
            &server,
            &["get", "leases", "-n", "kube-node-lease"],
            "{.items[*].spec.holderIdentity}",
        );
        (out.split_whitespace().count() == 3).then_some(out)
    });
    assert!(holders.contains("sim-node-0"), "{holders}");
}

fn pod_field(server: &Server, pod: &str, path: &str) -> String {
    jsonpath(server, &["get", "pod", pod], path)
}

#[test]
fn pods_on_simulated_nodes_run_become_ready_complete_and_delete() {
    let server = start();
    let nodes = ready_nodes(&server);
    let cidr_of = |n: &str| {
        nodes
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: sim-node-1
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  nodeName: sim-node-2
  containers:
  - name: app
    image: nginx
    readinessProbe:
      initialDelaySeconds: 2
      httpGet: {path: /, port: 80}
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: sim-node-0
  restartPolicy: Never
  containers: [{name: job, image: busybox}]
"#,
    );

    // A bare pod bound to a simulated node runs, with an IP from the node's podCIDR, and is Ready.
    let ip = wait_for(Duration::from_secs(20), "web Running and Ready", || {
        let out = pod_field(
            &server,
            "web",
            r#"{.status.phase} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status}"#,
        );
        let cols: Vec<&str> = out.split_whitespace().collect();
        (cols.len() == 3 && cols[0] == "Running" && cols[2] == "True").then(|| cols[1].to_string())
    });
    assert!(
        in_cidr(&ip, &cidr_of("sim-node-1")),
        "{ip} not in {:?}",
        nodes
    );
    let web = server.ok(V, &["get", "pod", "web", "-o", "json"]);
    for needle in [
        "\"hostIP\": \"198.18.0.2\"",
        "\"containerID\": \"containerd://",
        "\"imageID\": \"docker.io/library/nginx@sha256:",
        "\"restartCount\": 0",
        "\"started\": true",
        "\"startTime\"",
        "\"PodReadyToStartContainers\"",
        "\"Initialized\"",
        "\"ContainersReady\"",
        "\"PodScheduled\"",
        "\"running\": {",
    ] {
        assert!(web.contains(needle), "{needle} missing in {web}");
    }
    let wide = server.ok(V, &["get", "pod", "web", "-o", "wide"]);
    assert!(
        wide.contains("1/1") && wide.contains("Running") && wide.contains(&ip),
        "{wide}"
    );

    // A readiness probe's initialDelaySeconds: Running first, Ready two seconds after start.
    wait_for(Duration::from_secs(20), "probed Running", || {
        (pod_field(&server, "probed", "{.status.phase}") == "Running").then_some(())
    });
    let ready = wait_for(Duration::from_secs(20), "probed Ready", || {
        let out = pod_field(
            &server,
            "probed",
            r#"{.status.conditions[?(@.type=="Ready")].status} {.status.startTime} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}"#,
        );
        let cols: Vec<String> = out.split_whitespace().map(String::from).collect();
        (cols.len() == 3 && cols[0] == "True").then_some(cols)
    });
    let secs = |t: &str| -> i64 {
        // HH:MM:SS of an RFC 3339 time, as seconds of the day.
        let hms = &t[11..19];
        let p: Vec<i64> = hms.split(':').filter_map(|x| x.parse().ok()).collect();
        p[0] * 3600 + p[1] * 60 + p[2]
    };
    let delay = (secs(&ready[2]) - secs(&ready[1])).rem_euclid(86_400);
    assert!(
        (2..=3).contains(&delay),
        "Ready {delay}s after start: {ready:?}"
    );
    let probed_ip = pod_field(&server, "probed", "{.status.podIP}");
    assert!(in_cidr(&probed_ip, &cidr_of("sim-node-2")), "{probed_ip}");

    // restartPolicy Never: Succeeded after --simulate-pod-completion, containers Completed.
    wait_for(Duration::from_secs(20), "once Succeeded", || {
        (pod_field(&server, "once", "{.status.phase}") == "Succeeded").then_some(())
    });
    let done = pod_field(
        &server,
        "once",
        "{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!(done, "Completed 0");

    // Graceful deletion completes: the kubelet removes the pod.
    let started = Instant::now();
    server.ok(V, &["delete", "pod", "web", "--timeout=20s"]);
    assert!(started.elapsed() < Duration::from_secs(15));
    let err = server.fails(V, &["get", "pod", "web"]);
    assert!(err.contains("NotFound"), "{err}");

    // A new pod on the same node gets an IP in the same podCIDR.
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web2}\nspec:\n  nodeName: sim-node-1\n  containers: [{name: web, image: nginx}]\n",
    );
    let ip2 = wait_for(Duration::from_secs(20), "web2 Running", || {
        let out = pod_field(&server, "web2", "{.status.phase} {.status.podIP}");
        let cols: Vec<&str> = out.split_whitespace().collect();
        (cols.len() == 2 && cols[0] == "Running").then(|| cols[1].to_string())
    });
    assert!(in_cidr(&ip2, &cidr_of("sim-node-1")), "{ip2}");
}

fn renew_time(server: &Server, node: &str) -> String {
    jsonpath(
        server,
        &["get", "lease", node, "-n", "kube-node-lease"],
        "{.spec.renewTime}",
    )
}

#[test]
fn stopping_heartbeats_stops_lease_renewals() {
    let server = start();
    ready_nodes(&server);
    let first = wait_for(Duration::from_secs(20), "sim-node-1 lease", || {
        let t = renew_time(&server, "sim-node-1");
        (!t.is_empty()).then_some(t)
    });
    // Renewed every 10 s.
    wait_for(Duration::from_secs(15), "a lease renewal", || {
        (renew_time(&server, "sim-node-1") != first).then_some(())
    });

    server.ok(
        V,
        &[
            "annotate",
            "node",
            "sim-node-1",
            "k3rs.io/simulate-heartbeat=false",
        ],
    );
    // A renewal already under way may still land; after that, nothing moves.
    std::thread::sleep(Duration::from_secs(2));
    let stopped = renew_time(&server, "sim-node-1");
    let other = renew_time(&server, "sim-node-0");
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(
        renew_time(&server, "sim-node-1"),
        stopped,
        "lease still renewed"
    );
    assert_ne!(
        renew_time(&server, "sim-node-0"),
        other,
        "other nodes keep renewing"
    );

    // Heartbeats resume when the annotation goes.
    server.ok(
        V,
        &[
            "annotate",
            "node",
            "sim-node-1",
            "k3rs.io/simulate-heartbeat-",
        ],
    );
    wait_for(Duration::from_secs(15), "renewals to resume", || {
        (renew_time(&server, "sim-node-1") != stopped).then_some(())
    });
}
