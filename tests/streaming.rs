//! Streaming end to end: stock kubectl (1.33 over WebSocket, 1.29 over SPDY) and the Python
//! client → the k3rs API server → the node agent's kubelet API → containerd's streaming server
//! → the containers of real pods (pod network) that kubectl created.
//! Needs root, containerd, runc, the CNI plugins and busybox-static; skips with a message otherwise.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::images::BUSYBOX_IMAGE;
use common::node::NODE_NAME;
use common::{Server, free_port, require_kubectl, wait_for};

/// The pod most checks use: `c` prints a counter, `web` serves a page on port 80, and
/// `restarted` fails once (its first run is the `--previous` log), then sleeps.
const POD: &str = "stream-pod";
/// A pod with one container per kubectl version that prints a line, waits for `/tmp/go`,
/// prints the rest and exits: `logs -f` must end with it.
const SHORT_POD: &str = "stream-short";
const VERSIONS: [&str; 2] = ["1.33", "1.29"];
const HTTPD_PORT: u16 = 80;

fn manifests() -> String {
    let short_containers: String = VERSIONS
        .iter()
        .map(|v| {
            format!(
                "  - name: {}\n    image: {BUSYBOX_IMAGE}\n    command: [sh, -c, 'echo short-1; until [ -e /tmp/go ]; do sleep 0.1; done; for i in 2 3 4 5 6 7 8; do echo short-$i; sleep 0.25; done']\n",
                short_container(v)
            )
        })
        .collect();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {POD}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
  - name: state
    emptyDir: {{}}
  containers:
  - name: c
    image: {BUSYBOX_IMAGE}
    command: [sh, -c, 'echo line-0; i=1; while true; do echo line-$i; i=$((i+1)); sleep 0.3; done']
  - name: web
    image: {BUSYBOX_IMAGE}
    command: [sh, -c, 'mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p {HTTPD_PORT} -h /www']
  - name: restarted
    image: {BUSYBOX_IMAGE}
    command: [sh, -c, 'if [ -e /state/ran ]; then exec sleep 2147483647; fi; touch /state/ran; echo first-run; exit 1']
    volumeMounts:
    - name: state
      mountPath: /state
---
apiVersion: v1
kind: Pod
metadata:
  name: {SHORT_POD}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
{short_containers}"#
    )
}

/// The container of [`SHORT_POD`] that kubectl `v` follows.
fn short_container(v: &str) -> String {
    format!("for-{}", v.replace('.', "-"))
}

/// The status of `container` in `pod`, from a `kubectl get pods -o json` list.
fn container_status<'a>(
    pods: &'a serde_json::Value,
    pod: &str,
    container: &str,
) -> Option<&'a serde_json::Value> {
    pods["items"]
        .as_array()?
        .iter()
        .find(|p| p["metadata"]["name"] == pod)?["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == container)
}

/// A server with its node agent, running both pods.
fn setup() -> Option<Server> {
    if let Some(why) = common::node::missing_parts() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let server = Server::start_with_agent(&[]);
    server.ok_stdin("1.33", &["apply", "-f", "-"], &manifests());
    let mut running = vec![(POD, "c".to_string()), (POD, "web".to_string())];
    running.extend(VERSIONS.iter().map(|v| (SHORT_POD, short_container(v))));
    wait_for(90, "the pods' containers to run", || {
        let pods = server.get_json("1.33", &["pods"])?;
        running
            .iter()
            .all(|(pod, c)| {
                container_status(&pods, pod, c).is_some_and(|s| s["state"]["running"].is_object())
            })
            .then_some(())
    });
    Some(server)
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

/// Lines of a child's stdout, read on a thread; the channel closes when stdout does.
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
    // The agent restarts `restarted` after its back-off; from then on its first run is previous.
    wait_for(60, "container restarted to restart", || {
        let pods = server.get_json("1.33", &["pods"])?;
        container_status(&pods, POD, "restarted")
            .is_some_and(|s| s["restartCount"].as_u64() >= Some(1))
            .then_some(())
    });
    assert_eq!(
        server.ok(v, &["logs", POD, "-c", "restarted", "--previous"]),
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
        several.contains(&format!(
            "a container name must be specified for pod {POD}, choose one of: [c web restarted]"
        )),
        "{v}: {several}"
    );
    let web_previous = server.fails(v, &["logs", POD, "-c", "web", "--previous"]);
    assert!(
        web_previous.contains(&format!(
            "previous terminated container \"web\" in pod \"{POD}\" not found"
        )),
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

/// `logs -f` of a container that exits ends by itself, after its last line.
fn check_follow_ends_with_the_container(server: &Server, v: &str) {
    let container = short_container(v);
    let mut child = kubectl_command(server, v, &["logs", "-f", SHORT_POD, "-c", &container])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    let lines = line_reader(&mut child);
    let mut child = Background(child);
    // The first line arrives while the container waits: the stream follows a live container.
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{v}: logs -f showed nothing"));
    server.ok(
        v,
        &[
            "exec", SHORT_POD, "-c", &container, "--", "touch", "/tmp/go",
        ],
    );
    let mut got = vec![first];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => got.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{v}: logs -f did not end when the container exited; got {got:?}")
            }
        }
    }
    let expected: Vec<String> = (1..=8).map(|i| format!("short-{i}")).collect();
    assert_eq!(got, expected, "{v}");
    let status = child.0.wait().expect("wait for kubectl logs -f");
    assert!(status.success(), "{v}: kubectl logs -f: {status}");
}

/// The wire protocol kubectl settled on, from its request log: 1.33 must not have fallen back.
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
    // The pod's host name is its name (kubectl picks the first container).
    assert_eq!(
        server
            .ok(v, &["exec", POD, "--", "cat", "/etc/hostname"])
            .trim(),
        POD,
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
        unknown.contains(&format!("container zzz is not valid for pod {POD}")),
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

fn check_port_forward(server: &Server, v: &str, dir: &Path) {
    let local = free_port();
    let log_path = dir.join(format!("port-forward-{v}.log"));
    let mut child = kubectl_command(
        server,
        v,
        &[
            "port-forward",
            "-v=8",
            &format!("pod/{POD}"),
            &format!("{local}:{HTTPD_PORT}"),
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

/// nodes/proxy reaches the kubelet's stats and health.
fn check_node_proxy(server: &Server) {
    let summary: serde_json::Value = serde_json::from_str(&server.ok(
        "1.33",
        &[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{NODE_NAME}/proxy/stats/summary"),
        ],
    ))
    .expect("summary JSON");
    assert_eq!(summary["node"]["nodeName"], NODE_NAME);
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
            &format!("/api/v1/nodes/{NODE_NAME}/proxy/healthz"),
        ],
    );
    assert_eq!(healthz, "ok");
}

#[test]
fn kubectl_logs_exec_cp_port_forward_through_the_kubelet() {
    let Some(server) = setup() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    for v in VERSIONS {
        check_exec_protocol(&server, v);
        check_exec(&server, v);
        check_cp(&server, v, scratch.path());
        check_attach(&server, v);
        check_port_forward(&server, v, scratch.path());
        check_follow_ends_with_the_container(&server, v);
        // Last: its `--previous` check may wait for the restart back-off.
        check_logs(&server, v);
    }
    check_node_proxy(&server);
    check_kubelet_authorization(&server, scratch.path());
    check_python_client(&server);
}

/// Client libraries use the WebSocket dialects kubectl does not: exec over
/// `v4.channel.k8s.io` and port-forward over channels.
fn check_python_client(server: &Server) {
    let python = std::env::var("K3RS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/streaming_check.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(&server.kubeconfig)
        .args([POD, "c", &HTTPD_PORT.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client streaming failed:\n{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The agent's kubelet API, at the address and port its Node advertises, serves a certificate
/// of the cluster CA and answers only the API server: 401 without a client certificate, 403 for
/// a certificate of the cluster CA that is neither the API server's nor an admin's.
fn check_kubelet_authorization(server: &Server, dir: &Path) {
    let node = server
        .get_json("1.33", &["node", NODE_NAME])
        .expect("the node");
    let port = &node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"];
    let ip = node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a["address"].as_str())
        .expect("the node's InternalIP");
    let url = format!("https://{ip}:{port}/healthz");
    let tls = server.data_dir.join("server/tls");
    let ca = tls.join("server-ca.crt");
    let code = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl");
        format!("{} {}", stdout(&out), String::from_utf8_lossy(&out.stderr))
    };
    assert_eq!(code(&[]).trim(), "401");
    // A client certificate of the cluster CA for someone else, issued from a copy of the
    // server's PKI so that the running server's files stay untouched.
    let pki_copy = dir.join("tls");
    std::fs::create_dir_all(&pki_copy).expect("pki copy");
    for file in ["server-ca.crt", "server-ca.key"] {
        std::fs::copy(tls.join(file), pki_copy.join(file)).expect("copy the CA");
    }
    let localhost = k3rs_pki::ServingIdentity {
        dns_names: vec!["localhost".into()],
        ips: vec!["127.0.0.1".parse().expect("ip")],
    };
    let pki = k3rs_pki::load_or_create(&pki_copy, &localhost).expect("cluster PKI");
    let stranger = pki.issue_client_cert("someone", &[]).expect("client cert");
    let (cert, key) = (pki_copy.join("stranger.crt"), pki_copy.join("stranger.key"));
    std::fs::write(&cert, &stranger.cert_pem).expect("write");
    std::fs::write(&key, &stranger.key_pem).expect("write");
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    assert_eq!(code(&["--cert", cert, "--key", key]).trim(), "403");
    // The API server's own client certificate is let in.
    let (cert, key) = (
        tls.join("client-kube-apiserver.crt"),
        tls.join("client-kube-apiserver.key"),
    );
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    assert_eq!(code(&["--cert", cert, "--key", key]).trim(), "200");
}
