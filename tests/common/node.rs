//! Servers that run their node agent: the host's containerd, runc and CNI plugins, real pods.
//! Only one such server runs at a time on a machine (they share the `cni0` bridge and the
//! kubelet port on 127.0.0.1), so each holds a lock file while it lives; the lock also
//! serialises test binaries and developers' parallel runs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Server, free_port, wait_for};

/// The node name agent-enabled test servers register.
pub const NODE_NAME: &str = "k3rs-test-node";

/// Why this machine cannot run real pods, if it cannot (tests then skip with that message).
pub fn missing_parts() -> Option<String> {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root {
        return Some("the node agent tests need root".into());
    }
    for (path, package) in [
        ("/usr/bin/containerd", "containerd"),
        ("/usr/sbin/runc", "runc"),
        ("/usr/lib/cni/bridge", "containernetworking-plugins"),
        ("/bin/busybox", "busybox-static"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!("{path} is missing (apt-get install {package})"));
        }
    }
    None
}

/// Skip the calling test (return from it) with a clear message when the machine lacks a part.
#[macro_export]
macro_rules! require_node_parts {
    () => {
        if let Some(why) = $crate::common::node::missing_parts() {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// What an agent-enabled server holds besides its process.
pub struct AgentParts {
    _lock: File,
    run_dir: PathBuf,
}

impl Server {
    /// Start a server with its node agent (node `k3rs-test-node` on 127.0.0.1) and the busybox
    /// test image preloaded; returns once the node is Ready.
    pub fn start_with_agent(extra: &[&str]) -> Server {
        let lock = File::create(std::env::temp_dir().join("k3rs-agent-tests.lock"))
            .expect("agent test lock file");
        lock.lock().expect("take the agent test lock");
        let data_dir = tempfile::Builder::new()
            .prefix("k3rs-e2e-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let images = data_dir.join("agent/images");
        std::fs::create_dir_all(&images).expect("images dir");
        super::images::busybox_image_tar(&images.join("busybox.tar"));
        let run_dir = data_dir.join("run");
        let mut flags: Vec<String> = vec![
            "--node-ip=127.0.0.1".into(),
            format!("--node-name={NODE_NAME}"),
            format!("--run-dir={}", run_dir.display()),
        ];
        flags.extend(extra.iter().map(|s| s.to_string()));
        let server = Server::launch(
            &data_dir,
            free_port(),
            flags,
            Some(AgentParts {
                _lock: lock,
                run_dir,
            }),
        );
        server.wait_node_ready(NODE_NAME, 90);
        server
    }

    /// Wait until node `name` reports Ready=True.
    pub fn wait_node_ready(&self, name: &str, secs: u64) {
        let path = r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#;
        wait_for(secs, &format!("node {name} to be Ready"), || {
            let out = self.kubectl("1.33", &["get", "node", name, "-o", path]);
            (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
        });
    }
}

impl AgentParts {
    /// Remove every pod sandbox, stop the agent's containerd and its shims, and unmount what
    /// they left under the data dir — so that nothing outlives the test.
    pub fn clean_up(self, data_dir: &Path) {
        stop_containerd(&self.run_dir, data_dir);
    }
}

/// Remove every pod sandbox of the containerd under `run_dir`, stop it and its shims, and
/// unmount what they left under `data_dir`.
pub fn stop_containerd(run_dir: &Path, data_dir: &Path) {
    let socket = run_dir.join("containerd/containerd.sock");
    // A thread with its own runtime: Drop may run inside a test's runtime.
    let remove_pods = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(remove_all_sandboxes(&socket));
    });
    let _ = remove_pods.join();
    let pid_file = run_dir.join("containerd/containerd.pid");
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        signal(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(pid, "KILL");
    }
    // Shims (and anything else) started for this run dir.
    let marker = run_dir.to_string_lossy().into_owned();
    for pid in processes_mentioning(&marker) {
        signal(pid, "KILL");
    }
    unmount_under(data_dir);
}

async fn remove_all_sandboxes(socket: &Path) {
    use k3rs_cri::v1::{ListPodSandboxRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
    let Ok(cri) = k3rs_cri::CriClient::connect_within(socket, Duration::from_secs(2)).await else {
        return;
    };
    let Ok(list) = cri
        .runtime()
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
    else {
        return;
    };
    for sandbox in list.into_inner().items {
        if let Some(meta) = &sandbox.metadata {
            // The agent is gone: remove the pod's log directory as it would have.
            let dir = format!(
                "/var/log/pods/{}_{}_{}",
                meta.namespace, meta.name, meta.uid
            );
            let _ = std::fs::remove_dir_all(dir);
        }
        let id = sandbox.id;
        let _ = cri
            .runtime()
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await;
        let _ = cri
            .runtime()
            .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
            .await;
    }
}

fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Processes whose command line contains `marker`.
fn processes_mentioning(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Lazily unmount every mount point under `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&point)
            .stderr(std::process::Stdio::null())
            .status();
    }
}
