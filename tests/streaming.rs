//! Streaming end to end: stock kubectl (1.33 over WebSocket, 1.29 over SPDY) → the k3rs API
//! server → the kubelet API → containerd's streaming server → a real container.
//!
//! The test runs its own node: the host's containerd (own root, state and socket), the kubelet
//! API in this process with a serving certificate from the cluster CA, a Node object pointing
//! at it, and a pod whose containers the test starts through CRI with the kubelet's labels
//! (host network, so no CNI is involved). That isolates the streaming path from the pod loop.
//! Needs root, containerd, runc and busybox-static; skips with a message otherwise.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, free_port, require_kubectl};
use k3rs_cri::CriClient;
use k3rs_cri::containerd::{Containerd, ContainerdOptions};
use k3rs_cri::image::{self, BUSYBOX_TEST_IMAGE};
use k3rs_cri::v1;
use k3rs_kubelet::server::{self as kubelet_api, KubeletApi};

const NODE: &str = "stream-node";
const POD: &str = "stream-pod";
const SANDBOX_IMAGE: &str = "k3rs.local/stream-sandbox:test";

/// The test's node: containerd, the kubelet API, and the pod's sandbox. Dropping it removes
/// the sandbox (and its containers) and stops containerd, also when a test fails.
struct TestNode {
    rt: tokio::runtime::Runtime,
    containerd: Option<Containerd>,
    cri: CriClient,
    sandbox: Option<String>,
    /// The pod's uid and sandbox configuration, once it runs.
    pod: Option<(String, v1::PodSandboxConfig)>,
    log_dir: Option<PathBuf>,
    stop: tokio::sync::watch::Sender<bool>,
    base: PathBuf,
    kubelet_port: u16,
    httpd_port: u16,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let cri = self.cri.clone();
        let sandbox = self.sandbox.take();
        let containerd = self.containerd.take();
        self.rt.block_on(async move {
            if let Some(id) = sandbox {
                let _ = cri
                    .runtime()
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await;
                let _ = cri
                    .runtime()
                    .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id })
                    .await;
            }
            if let Some(c) = containerd {
                c.stop(Duration::from_secs(10)).await;
            }
        });
        if let Some(dir) = self.log_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn labels(container: Option<&str>, uid: &str) -> HashMap<String, String> {
    let mut l = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), POD.to_string()),
        (
            "io.kubernetes.pod.namespace".to_string(),
            "default".to_string(),
        ),
        ("io.kubernetes.pod.uid".to_string(), uid.to_string()),
    ]);
    if let Some(c) = container {
        l.insert("io.kubernetes.container.name".into(), c.into());
    }
    l
}

impl TestNode {
    fn start(server: &Server) -> TestNode {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let base = tempfile::Builder::new()
            .prefix("k3rs-stream-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let (agent_dir, run_dir) = (base.join("agent"), base.join("run"));
        let containerd = rt
            .block_on(Containerd::start(ContainerdOptions::new(
                &agent_dir,
                &run_dir,
                SANDBOX_IMAGE,
            )))
            .expect("start containerd");
        let cri = containerd.client().clone();
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut node = TestNode {
            rt,
            containerd: Some(containerd),
            cri,
            sandbox: None,
            pod: None,
            log_dir: None,
            stop,
            base,
            kubelet_port: 0,
            httpd_port: free_port(),
        };
        node.import_images();
        node.kubelet_port = node.serve_kubelet_api(server, stop_rx);
        node
    }

    fn import_images(&self) {
        let containerd = self.containerd.as_ref().expect("containerd");
        let (socket, snapshotter) = (
            containerd.socket().to_path_buf(),
            containerd.snapshotter().to_string(),
        );
        let busybox_tar = self.base.join("busybox.tar");
        image::write_busybox_test_image(&busybox_tar).expect("busybox image");
        // The sandbox only has to hold the namespaces: busybox sleeping.
        let mut sandbox = image::busybox_image_spec(
            SANDBOX_IMAGE,
            Path::new("/bin/busybox"),
            &["sleep".to_string()],
        );
        sandbox.config.cmd = vec!["sleep".into(), "2147483647".into()];
        self.rt.block_on(async {
            image::import_archive(&socket, Some(&snapshotter), &busybox_tar)
                .await
                .expect("import busybox");
            image::import_image(&socket, Some(&snapshotter), sandbox)
                .await
                .expect("import the sandbox image");
        });
    }

    /// The kubelet API on a free loopback port, with a serving certificate of the server's CA.
    fn serve_kubelet_api(&self, server: &Server, stop: tokio::sync::watch::Receiver<bool>) -> u16 {
        // A copy of the server's PKI, so loading it cannot touch the running server's files.
        let tls_copy = self.base.join("tls");
        std::fs::create_dir_all(&tls_copy).expect("tls copy");
        for entry in std::fs::read_dir(server.data_dir.join("server/tls")).expect("server tls") {
            let entry = entry.expect("entry");
            if entry.path().is_file() {
                std::fs::copy(entry.path(), tls_copy.join(entry.file_name())).expect("copy");
            }
        }
        let localhost = k3rs_pki::ServingIdentity {
            dns_names: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().expect("ip")],
        };
        let pki = k3rs_pki::load_or_create(&tls_copy, &localhost).expect("cluster PKI");
        let serving = pki
            .issue_cert(
                &format!("system:node:{NODE}"),
                &["system:nodes"],
                k3rs_pki::CertUsage::Server,
                &localhost,
            )
            .expect("kubelet serving cert");
        let stranger = pki.issue_client_cert("someone", &[]).expect("client cert");
        std::fs::write(tls_copy.join("stranger.crt"), &stranger.cert_pem).expect("write");
        std::fs::write(tls_copy.join("stranger.key"), &stranger.key_pem).expect("write");
        let api = KubeletApi {
            cri: self.cri.clone(),
            node_name: NODE.into(),
        };
        let (bound, _task) = self
            .rt
            .block_on(kubelet_api::start(
                "127.0.0.1:0".parse().expect("address"),
                &serving.cert_pem,
                &serving.key_pem,
                pki.ca_cert_pem(),
                api,
                stop,
            ))
            .expect("kubelet API");
        bound.port()
    }

    /// Create and start a container of the pod through CRI, with the kubelet's labels.
    fn start_container(&self, name: &str, attempt: u32, script: &str) -> String {
        let (uid, sandbox_config) = self.pod.clone().expect("pod sandbox");
        let sandbox = self.sandbox.clone().expect("sandbox");
        let config = v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt,
            }),
            image: Some(v1::ImageSpec {
                image: BUSYBOX_TEST_IMAGE.into(),
                ..Default::default()
            }),
            command: vec!["sh".into(), "-c".into(), script.into()],
            log_path: format!("{name}/{attempt}.log"),
            labels: labels(Some(name), &uid),
            stdin: true,
            ..Default::default()
        };
        let cri = self.cri.clone();
        self.rt.block_on(async move {
            let id = cri
                .runtime()
                .create_container(v1::CreateContainerRequest {
                    pod_sandbox_id: sandbox,
                    config: Some(config),
                    sandbox_config: Some(sandbox_config),
                })
                .await
                .expect("create container")
                .into_inner()
                .container_id;
            cri.runtime()
                .start_container(v1::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await
                .expect("start container");
            id
        })
    }

    fn wait_exited(&self, id: &str) {
        let cri = self.cri.clone();
        self.rt.block_on(async move {
            loop {
                let state = cri
                    .runtime()
                    .container_status(v1::ContainerStatusRequest {
                        container_id: id.to_string(),
                        verbose: false,
                    })
                    .await
                    .expect("status")
                    .into_inner()
                    .status
                    .map(|s| s.state);
                if state == Some(v1::ContainerState::ContainerExited as i32) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    fn run_pod(&mut self, server: &Server) {
        server.ok_stdin(
            "1.33",
            &["apply", "-f", "-"],
            &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n"),
        );
        let status = serde_json::json!({"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
        }});
        server.ok(
            "1.33",
            &[
                "patch",
                "node",
                NODE,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
        );
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {POD}\nspec:\n  nodeName: {NODE}\n  containers:\n  - name: c\n    image: {BUSYBOX_TEST_IMAGE}\n  - name: web\n    image: {BUSYBOX_TEST_IMAGE}\n  - name: short\n    image: {BUSYBOX_TEST_IMAGE}\n"
        );
        server.ok_stdin("1.33", &["apply", "-f", "-"], &pod);
        let uid = server
            .get_json("1.33", &["pod", POD])
            .and_then(|p| p["metadata"]["uid"].as_str().map(str::to_string))
            .expect("pod uid");
        let log_dir = PathBuf::from(format!("/var/log/pods/default_{POD}_{uid}"));
        self.log_dir = Some(log_dir.clone());
        let httpd = format!(
            "mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p 127.0.0.1:{} -h /www",
            self.httpd_port
        );
        let sandbox_config = v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: POD.into(),
                uid: uid.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            log_directory: log_dir.display().to_string(),
            labels: labels(None, &uid),
            linux: Some(v1::LinuxPodSandboxConfig {
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    namespace_options: Some(v1::NamespaceOption {
                        network: v1::NamespaceMode::Node as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cri = self.cri.clone();
        let sandbox = self.rt.block_on(async {
            cri.runtime()
                .run_pod_sandbox(v1::RunPodSandboxRequest {
                    config: Some(sandbox_config.clone()),
                    runtime_handler: String::new(),
                })
                .await
                .expect("run sandbox")
                .into_inner()
                .pod_sandbox_id
        });
        self.sandbox = Some(sandbox);
        self.pod = Some((uid, sandbox_config));
        // A first run that ends, so that there is a previous log.
        let first = self.start_container("c", 0, "echo first-run; exit 1");
        self.wait_exited(&first);
        self.start_container(
            "c",
            1,
            "echo line-0; i=1; while true; do echo line-$i; i=$((i+1)); sleep 0.3; done",
        );
        self.start_container("web", 0, &httpd);
        let now = "2026-01-01T00:00:00Z";
        let status = serde_json::json!({"status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "c", "ready": true, "restartCount": 1, "image": BUSYBOX_TEST_IMAGE, "imageID": "",
                 "state": {"running": {"startedAt": now}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}},
                {"name": "web", "ready": true, "restartCount": 0, "image": BUSYBOX_TEST_IMAGE, "imageID": "",
                 "state": {"running": {"startedAt": now}}},
                {"name": "short", "ready": true, "restartCount": 0, "image": BUSYBOX_TEST_IMAGE, "imageID": "",
                 "state": {"running": {"startedAt": now}}},
            ],
        }});
        server.ok(
            "1.33",
            &[
                "patch",
                "pod",
                POD,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
        );
    }
}

fn setup() -> Option<(Server, TestNode)> {
    if let Some(why) = common::node::missing_parts() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let server = Server::start(&[]);
    let mut node = TestNode::start(&server);
    node.run_pod(&server);
    Some((server, node))
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubectl_command(server: &Server, version: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(require_kubectl(version));
    cmd.args(args)
        .env("KUBECONFIG", &server.kubeconfig)
        .env("HOME", server.data_dir.join("home"));
    cmd
}

/// A background kubectl, killed when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stdout, read on a thread.
fn line_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn counter(line: &str) -> Option<u64> {
    line.trim().strip_prefix("line-")?.parse().ok()
}

fn check_logs(server: &Server, v: &str) {
    let all = server.ok(v, &["logs", POD, "-c", "c"]);
    assert!(all.starts_with("line-0\nline-1\n"), "{v}: logs: {all:?}");
    let tail = server.ok(v, &["logs", POD, "-c", "c", "--tail=1"]);
    assert_eq!(tail.lines().count(), 1, "{v}: --tail=1 gave {tail:?}");
    assert!(counter(&tail).is_some(), "{v}: --tail=1 gave {tail:?}");
    assert_eq!(
        server.ok(v, &["logs", POD, "-c", "c", "--previous"]),
        "first-run\n",
        "{v}: --previous"
    );
    let stamped = server.ok(v, &["logs", POD, "-c", "c", "--timestamps", "--tail=1"]);
    let (time, rest) = stamped.split_once(' ').expect("timestamp and line");
    assert!(
        time.starts_with("20") && time.ends_with('Z'),
        "{v}: {stamped:?}"
    );
    assert!(counter(rest).is_some(), "{v}: {stamped:?}");
    assert_eq!(
        server.ok(v, &["logs", POD, "-c", "c", "--limit-bytes=4"]),
        "line",
        "{v}: --limit-bytes"
    );
    let recent = server.ok(v, &["logs", POD, "-c", "c", "--since=1h"]);
    assert!(recent.contains("line-0"), "{v}: --since=1h: {recent:?}");
    // The API server's own checks, as upstream words them.
    let several = server.fails(
        v,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{POD}/log"),
        ],
    );
    assert!(
        several.contains(
            "a container name must be specified for pod stream-pod, choose one of: [c web short]"
        ),
        "{v}: {several}"
    );
    let web_previous = server.fails(v, &["logs", POD, "-c", "web", "--previous"]);
    assert!(
        web_previous
            .contains("previous terminated container \"web\" in pod \"stream-pod\" not found"),
        "{v}: {web_previous}"
    );

    // -f: the stream stays open and new lines arrive.
    let mut child = kubectl_command(server, v, &["logs", "-f", POD, "-c", "c"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    let lines = line_reader(&mut child);
    let _guard = Background(child);
    let latest_now = counter(&server.ok(v, &["logs", POD, "-c", "c", "--tail=1"])).expect("count");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{v}: logs -f stopped streaming"));
        if counter(&line).is_some_and(|n| n > latest_now + 2) {
            break;
        }
    }
}

/// The wire protocol kubectl settled on, from its request log: 1.33 must not have fallen back.
/// `logs -f` of a container that exits ends by itself, after its last line.
fn check_follow_ends_with_the_container(server: &Server, node: &TestNode, v: &str) {
    let attempt = if v == "1.33" { 0 } else { 1 };
    node.start_container(
        "short",
        attempt,
        "for i in 1 2 3 4 5 6 7 8; do echo short-$i; sleep 0.25; done",
    );
    let mut child = kubectl_command(server, v, &["logs", "-f", POD, "-c", "short"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{v}: logs -f did not end when the container exited");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    let expected: String = (1..=8).map(|i| format!("short-{i}\n")).collect();
    assert_eq!(
        stdout(&out),
        expected,
        "{v}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_exec_protocol(server: &Server, v: &str) {
    let out = server.kubectl(v, &["exec", "-v=8", POD, "-c", "c", "--", "true"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{v}: {log}");
    let expected = if v == "1.33" {
        "Sec-Websocket-Protocol: v5.channel.k8s.io"
    } else {
        "Upgrade: SPDY/3.1"
    };
    assert!(
        log.contains("101 Switching Protocols") && log.contains(expected),
        "{v}: {log}"
    );
    assert_eq!(log.contains("SPDY"), v != "1.33", "{v}: {log}");
}

fn check_exec(server: &Server, v: &str) {
    // Host network: the container sees the node's host name.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    assert_eq!(
        server
            .ok(v, &["exec", POD, "-c", "c", "--", "cat", "/etc/hostname"])
            .trim(),
        host_name.trim(),
        "{v}: /etc/hostname"
    );
    let out = server.kubectl(
        v,
        &[
            "exec",
            POD,
            "-c",
            "c",
            "--",
            "sh",
            "-c",
            "echo to-err >&2; exit 3",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{v}: exit code; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("to-err"),
        "{v}: stderr"
    );
    let unknown = server.fails(v, &["exec", POD, "-c", "zzz", "--", "true"]);
    assert!(
        unknown.contains("container zzz is not valid for pod stream-pod"),
        "{v}: {unknown}"
    );
    // stdin reaches the process and its end ends `cat`.
    let echoed = server.ok_stdin(
        v,
        &["exec", "-i", POD, "-c", "c", "--", "cat"],
        "through stdin\n",
    );
    assert_eq!(echoed, "through stdin\n", "{v}: stdin");
    // A terminal: kubectl under a pty (script), the shell sees a tty.
    let kubectl = require_kubectl(v);
    let inner = format!(
        "KUBECONFIG={} HOME={} {} exec -it {POD} -c c -- sh -c 'test -t 0 && echo has-a-tty; stty size'",
        server.kubeconfig.display(),
        server.data_dir.join("home").display(),
        kubectl.display()
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .output()
        .expect("script");
    let text = stdout(&out);
    assert!(
        out.status.success() && text.contains("has-a-tty"),
        "{v}: exec -it: {text:?}"
    );
}

/// attach: the running process's output arrives.
fn check_attach(server: &Server, v: &str) {
    let mut child = kubectl_command(server, v, &["attach", POD, "-c", "c"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl attach");
    let lines = line_reader(&mut child);
    let _guard = Background(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{v}: attach showed no output"));
        if counter(&line).is_some() {
            break;
        }
    }
}

fn check_cp(server: &Server, v: &str, dir: &Path) {
    let local = dir.join(format!("upload-{v}.txt"));
    let content: String = (0..100_000).map(|i| format!("row {i}\n")).collect();
    std::fs::write(&local, &content).expect("write");
    let remote = format!("default/{POD}:/tmp/upload-{v}.txt");
    server.ok(
        v,
        &["cp", local.to_str().expect("path"), &remote, "-c", "c"],
    );
    let inside = server.ok(
        v,
        &[
            "exec",
            POD,
            "-c",
            "c",
            "--",
            "cat",
            &format!("/tmp/upload-{v}.txt"),
        ],
    );
    assert_eq!(inside, content, "{v}: cp into the pod");
    let back = dir.join(format!("download-{v}.txt"));
    server.ok(v, &["cp", &remote, back.to_str().expect("path"), "-c", "c"]);
    assert_eq!(
        std::fs::read_to_string(&back).expect("read"),
        content,
        "{v}: cp out of the pod"
    );
}

fn check_port_forward(server: &Server, node: &TestNode, v: &str, dir: &Path) {
    let local = free_port();
    let log_path = dir.join(format!("port-forward-{v}.log"));
    let mut child = kubectl_command(
        server,
        v,
        &[
            "port-forward",
            "-v=8",
            &format!("pod/{POD}"),
            &format!("{local}:{}", node.httpd_port),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&log_path).expect("log file"))
    .spawn()
    .expect("kubectl port-forward");
    let lines = line_reader(&mut child);
    let _guard = Background(child);
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{v}: port-forward printed nothing"));
    assert!(first.contains("Forwarding from"), "{v}: {first}");
    for attempt in 0..2 {
        let mut tcp =
            TcpStream::connect(("127.0.0.1", local)).expect("connect to the forwarded port");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        tcp.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
            .expect("request");
        let mut response = String::new();
        let _ = tcp.read_to_string(&mut response);
        assert!(
            response.contains("hello-from-httpd"),
            "{v}: port-forward connection {attempt}: {response:?}"
        );
    }
    // 1.33 tunnels SPDY through a WebSocket; 1.29 upgrades to SPDY directly.
    let log = std::fs::read_to_string(&log_path).expect("kubectl log");
    let expected = if v == "1.33" {
        "Sec-Websocket-Protocol: SPDY/3.1+portforward.k8s.io"
    } else {
        "Upgrade: SPDY/3.1"
    };
    assert!(log.contains(expected), "{v}: {log}");
}

#[test]
fn kubectl_logs_exec_cp_port_forward_through_the_kubelet() {
    let Some((server, node)) = setup() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    for v in ["1.33", "1.29"] {
        check_exec_protocol(&server, v);
        check_logs(&server, v);
        check_follow_ends_with_the_container(&server, &node, v);
        check_exec(&server, v);
        check_cp(&server, v, scratch.path());
        check_attach(&server, v);
        check_port_forward(&server, &node, v, scratch.path());
    }
    // nodes/proxy reaches the kubelet's stats.
    let summary: serde_json::Value = serde_json::from_str(&server.ok(
        "1.33",
        &[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{NODE}/proxy/stats/summary"),
        ],
    ))
    .expect("summary JSON");
    assert_eq!(summary["node"]["nodeName"], NODE);
    assert!(
        summary["node"]["memory"]["availableBytes"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    let pods = summary["pods"].as_array().expect("pods");
    assert!(pods.iter().any(|p| p["podRef"]["name"] == POD), "{summary}");
    let healthz = server.ok(
        "1.33",
        &[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{NODE}/proxy/healthz"),
        ],
    );
    assert_eq!(healthz, "ok");
    check_kubelet_authorization(&node);
    check_python_client(&server, &node);
}

/// Client libraries use the WebSocket dialects kubectl does not: exec over
/// `v4.channel.k8s.io` and port-forward over channels.
fn check_python_client(server: &Server, node: &TestNode) {
    let python = std::env::var("K3RS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/streaming_check.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(&server.kubeconfig)
        .args([POD, "c", &node.httpd_port.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client streaming failed:\n{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The kubelet API answers only the API server: 401 without a client certificate, 403 for a
/// certificate of the cluster CA that is neither the API server's nor an admin's.
fn check_kubelet_authorization(node: &TestNode) {
    let url = format!("https://127.0.0.1:{}/healthz", node.kubelet_port);
    let code = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl");
        stdout(&out)
    };
    assert_eq!(code(&[]), "401");
    let (cert, key) = (
        node.base.join("tls/stranger.crt"),
        node.base.join("tls/stranger.key"),
    );
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    assert_eq!(code(&["--cert", cert, "--key", key]), "403");
}
