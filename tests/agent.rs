//! The node agent end to end: `k3rs server` with its in-process agent runs real pods on the
//! host's containerd (runc, CNI bridge), and a second `k3rs agent` joins with the token.
//! Root and containerd are required; the tests skip with a clear message without them.

mod common;

use std::process::{Command, Stdio};

use common::node::NODE_NAME;
use common::{Server, wait_for};

fn busybox() -> &'static str {
    common::images::BUSYBOX_IMAGE
}

fn pod_field(server: &Server, pod: &str, path: &str) -> String {
    let out = server.kubectl(
        "1.33",
        &["get", "pod", pod, "-o", &format!("jsonpath={path}")],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_phase(server: &Server, pod: &str, phase: &str, secs: u64) {
    wait_for(secs, &format!("pod {pod} to be {phase}"), || {
        (pod_field(server, pod, "{.status.phase}") == phase).then_some(())
    });
}

#[test]
fn server_node_registers_with_its_facts_and_control_plane_role() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    let node = server
        .get_json("1.33", &["node", NODE_NAME])
        .expect("the node");
    let labels = &node["metadata"]["labels"];
    assert_eq!(labels["node-role.kubernetes.io/control-plane"], "true");
    assert_eq!(labels["kubernetes.io/hostname"], NODE_NAME);
    assert_eq!(labels["kubernetes.io/os"], "linux");
    let status = &node["status"];
    assert_eq!(status["capacity"]["pods"], "110");
    assert!(status["allocatable"]["memory"].as_str().is_some());
    assert_eq!(status["addresses"][0]["type"], "InternalIP");
    assert_eq!(status["addresses"][0]["address"], "127.0.0.1");
    assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
    let runtime = status["nodeInfo"]["containerRuntimeVersion"]
        .as_str()
        .unwrap();
    assert!(runtime.starts_with("containerd://"), "{runtime}");
    assert!(
        !status["nodeInfo"]["kernelVersion"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(!status["nodeInfo"]["bootID"].as_str().unwrap().is_empty());
    assert!(node["spec"]["podCIDR"].as_str().is_some());
    let lease = server
        .get_json("1.33", &["lease", "-n", "kube-node-lease", NODE_NAME])
        .expect("the node lease");
    assert_eq!(lease["spec"]["holderIdentity"], NODE_NAME);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
}

const HTTPD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-N
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
"#;

/// [sig-network] Networking Granular Checks: Pods should function for intra-pod communication: http [NodeConformance] [Conformance]
/// [sig-node] Pods should get a host IP [NodeConformance] [Conformance]
#[test]
fn three_httpd_pods_get_pod_ips_and_reach_each_other() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    for n in 0..3 {
        let manifest = HTTPD
            .replace("web-N", &format!("web-{n}"))
            .replace("IMAGE", busybox());
        server.ok_stdin("1.33", &["apply", "-f", "-"], &manifest);
    }
    let mut ips = Vec::new();
    for n in 0..3 {
        let pod = format!("web-{n}");
        wait_phase(&server, &pod, "Running", 90);
        let ip = pod_field(&server, &pod, "{.status.podIP}");
        assert!(
            ip.starts_with("10.42."),
            "pod IP {ip:?} is on the node's podCIDR"
        );
        assert_eq!(pod_field(&server, &pod, "{.status.hostIP}"), "127.0.0.1");
        ips.push(ip);
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "every pod has its own IP");
    // exec reaches the container through the API server and the kubelet API: the pod's
    // hostname is its name, with kubectl over WebSocket (1.33) and SPDY (1.29).
    for version in ["1.33", "1.29"] {
        let out = server.ok(version, &["exec", "web-0", "--", "cat", "/etc/hostname"]);
        assert_eq!(out.trim(), "web-0", "kubectl {version}");
    }
    // A fourth pod fetches web-1's page over the pod network.
    let target = pod_field(&server, "web-1", "{.status.podIP}");
    let fetch = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: fetch}}
spec:
  restartPolicy: Never
  containers:
  - name: wget
    image: {image}
    command: ["sh", "-c", "wget -q -O /tmp/page http://{target}/ && grep -q 'hello from web-1' /tmp/page"]
"#,
        image = busybox()
    );
    server.ok_stdin("1.33", &["apply", "-f", "-"], &fetch);
    wait_for(60, "the fetch pod to finish", || {
        match pod_field(&server, "fetch", "{.status.phase}").as_str() {
            "Succeeded" => Some(()),
            "Failed" => panic!("wget from one pod to another failed"),
            _ => None,
        }
    });
}

#[test]
fn a_second_agent_joins_with_the_token_and_wrong_tokens_are_refused() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    let token = std::fs::read_to_string(server.data_dir.join("server/token"))
        .expect("server token")
        .trim()
        .to_string();
    let url = format!("https://127.0.0.1:{}", server.port);
    let agent_dir = server.data_dir.join("second-agent");
    let agent = |token: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_k3rs"));
        cmd.args(["agent", "--server", &url, "--token", token])
            .arg(format!("--data-dir={}", agent_dir.display()))
            .arg(format!("--run-dir={}", agent_dir.join("run").display()))
            .args(["--node-name=second", "--node-ip=127.0.0.2"])
            .arg(format!(
                "--config={}",
                server.data_dir.join("config.yaml").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };

    // A wrong secret: refused, and the message says it is the token.
    let (hash_part, _) = token.split_once("::").expect("a K10 token");
    let wrong_secret = format!("{hash_part}::server:not-the-secret");
    let out = agent(&wrong_secret).output().expect("run k3rs agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("token"), "{err}");
    // A token whose CA hash is not the server's: refused before anything is sent.
    let wrong_hash = format!("K10{}::server:x", "0".repeat(64));
    let out = agent(&wrong_hash).output().expect("run k3rs agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("ca"), "{err}");

    // The right token: the second node registers and becomes Ready.
    let mut second = agent(&token)
        .stderr(Stdio::null())
        .spawn()
        .expect("start k3rs agent");
    let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        server.wait_node_ready("second", 90);
    }));
    let _ = second.kill();
    let _ = second.wait();
    // Its containerd outlives a killed agent on purpose; stop it here.
    common::node::stop_containerd(&agent_dir.join("run"), &agent_dir);
    ready.expect("the second node became Ready");
    let nodes = server.ok("1.33", &["get", "nodes", "-o", "name"]);
    assert!(nodes.contains("node/second") && nodes.contains(&format!("node/{NODE_NAME}")));
}

#[test]
fn static_pod_manifests_run_as_mirror_pods() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    let dir = server.data_dir.join("agent/pod-manifests");
    std::fs::create_dir_all(&dir).expect("manifest dir");
    let manifest = dir.join("static-web.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: web\n    image: {}\n    command: [sleep, '3600']\n",
            busybox()
        ),
    )
    .expect("write manifest");
    let mirror = format!("static-web-{NODE_NAME}");
    wait_phase(&server, &mirror, "Running", 60);
    assert_eq!(
        pod_field(
            &server,
            &mirror,
            r#"{.metadata.annotations.kubernetes\.io/config\.source}"#
        ),
        "file"
    );
    assert_eq!(
        pod_field(&server, &mirror, "{.metadata.ownerReferences[0].kind}"),
        "Node"
    );
    std::fs::remove_file(&manifest).expect("remove manifest");
    wait_for(60, "the mirror pod to go with its manifest", || {
        let out = server.kubectl("1.33", &["get", "pod", &mirror]);
        (!out.status.success()).then_some(())
    });
}
