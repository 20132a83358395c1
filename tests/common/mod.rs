//! Shared harness of the end-to-end tests: start a real `k3rs server` on a loopback port
//! with a temporary data dir, and drive it with stock kubectl or kube-rs.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod images;
pub mod node;

/// A running server.
pub struct Server {
    pub child: Child,
    pub data_dir: PathBuf,
    pub port: u16,
    pub kubeconfig: PathBuf,
    extra: Vec<String>,
    /// Set when the server runs its node agent (containerd and real pods).
    agent: Option<node::AgentParts>,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// The stock kubectl of a minor version (`"1.33"`), or None when this machine lacks it.
pub fn kubectl_bin(version: &str) -> Option<PathBuf> {
    let on_path = which("kubectl")?;
    let real = std::fs::canonicalize(on_path).ok()?;
    let candidate = real.parent()?.join(format!("kubectl.{version}"));
    candidate.exists().then_some(candidate)
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// kubectl of `version`; panics with a clear message when missing (CI machines have them).
pub fn require_kubectl(version: &str) -> PathBuf {
    kubectl_bin(version).unwrap_or_else(|| {
        panic!("kubectl {version} is not installed beside the kubectl on PATH (kubectl.{version})")
    })
}

impl Server {
    /// Start a server in a new temporary data dir.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("k3rs-e2e-")
            .tempdir()
            .expect("tempdir")
            .keep();
        Self::start_in(&dir, free_port(), extra)
    }

    /// Start a server over an existing data dir and port.
    pub fn start_in(data_dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        extra.insert(0, "--disable-agent".into());
        Self::launch(data_dir, port, extra, None)
    }

    fn launch(
        data_dir: &Path,
        port: u16,
        extra: Vec<String>,
        agent: Option<node::AgentParts>,
    ) -> Self {
        let kubeconfig = data_dir.join("kubeconfig.yaml");
        let child = spawn(data_dir, port, &kubeconfig, &extra);
        let server = Server {
            child,
            data_dir: data_dir.to_path_buf(),
            port,
            kubeconfig,
            extra,
            agent,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.kubeconfig.exists()
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                let out = self.kubectl("1.33", &["get", "--raw", "/readyz"]);
                if out.status.success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("k3rs server on port {} did not become ready", self.port);
    }

    /// kill -9 the server.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kill and start again over the same data dir and port.
    pub fn restart(&mut self) {
        self.kill9();
        let fresh = Server::launch(
            &self.data_dir.clone(),
            self.port,
            self.extra.clone(),
            self.agent.take(),
        );
        let old = std::mem::replace(self, fresh);
        std::mem::forget(old);
    }

    /// Run kubectl of `version` against this server.
    pub fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        self.kubectl_stdin(version, args, None)
    }

    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(require_kubectl(version));
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.data_dir.join("home"))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl with stdin that must succeed.
    pub fn ok_stdin(&self, version: &str, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_stdin(version, args, Some(stdin));
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl that must fail; returns stderr.
    pub fn fails(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl get ARGS -o json` parsed, or None when kubectl fails (e.g. not found yet).
    pub fn get_json(&self, version: &str, args: &[&str]) -> Option<serde_json::Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(version, &a);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// A kube-rs client from the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kubeconfig");
        kube::Client::try_from(config).expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(agent) = self.agent.take() {
            agent.clean_up(&self.data_dir);
        }
        if std::thread::panicking() {
            eprintln!(
                "server data dir and log kept for inspection: {}",
                self.data_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// An empty config file, so that a machine's /etc/k3rs/config.yaml cannot leak into tests.
fn empty_config(data_dir: &Path) -> PathBuf {
    let path = data_dir.join("config.yaml");
    if !path.exists() {
        std::fs::create_dir_all(data_dir).expect("data dir");
        std::fs::write(&path, "{}\n").expect("config file");
    }
    path
}

fn spawn(data_dir: &Path, port: u16, kubeconfig: &Path, extra: &[String]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"))
        .or_else(|_| {
            std::fs::create_dir_all(data_dir)?;
            std::fs::File::create(data_dir.join("server.log"))
        })
        .expect("server log");
    Command::new(env!("CARGO_BIN_EXE_k3rs"))
        .arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--https-listen-port={port}"))
        .arg("--write-kubeconfig")
        .arg(kubeconfig)
        .arg("--config")
        .arg(empty_config(data_dir))
        .args(extra)
        .env_remove("K3RS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start k3rs server")
}

/// One raw HTTP request through a kube-rs client: (status code, JSON body or Null).
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        code,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// Poll `f` until it returns Some, or panic with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
