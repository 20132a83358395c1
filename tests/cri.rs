//! The container runtime layer against the host's real containerd, runc and (static) busybox:
//! a supervised containerd in a temporary agent directory, the pause image made from the k3rs
//! binary, the busybox test image, a pod sandbox and a container through CRI, containerd's
//! restart after it is killed, and adoption of a running containerd by a new supervisor.

mod common;

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k3rs_cri::CriClient;
use k3rs_cri::containerd::{Containerd, ContainerdOptions};
use k3rs_cri::image::{self, BUSYBOX_TEST_IMAGE, PAUSE_IMAGE};
use k3rs_cri::v1;

const K3RS: &str = env!("CARGO_BIN_EXE_k3rs");

/// Why this machine cannot run the test, if it cannot.
fn missing_parts() -> Option<String> {
    for (path, package) in [
        ("/usr/bin/containerd", "containerd"),
        ("/usr/bin/ctr", "containerd"),
        ("/usr/sbin/runc", "runc"),
        ("/bin/busybox", "busybox-static"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!("{path} is missing (apt-get install {package})"));
        }
    }
    None
}

/// A temporary agent and run directory. Dropping it removes everything the test made there,
/// even after a failure: CRI sandboxes, containerd, shims, mounts, files.
struct Node {
    dir: PathBuf,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::Builder::new()
            .prefix("k3rs-cri-")
            .tempdir()
            .expect("tempdir")
            .keep();
        Node { dir }
    }

    fn options(&self) -> ContainerdOptions {
        ContainerdOptions::new(&self.agent_dir(), &self.dir.join("run"), PAUSE_IMAGE)
    }

    fn agent_dir(&self) -> PathBuf {
        self.dir.join("agent")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let socket = self.options().socket_path();
        // Remove what CRI still runs while containerd answers (a new runtime: the test's may be gone).
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(remove_all_sandboxes(&socket));
            })
            .join()
        });
        let needle = self.dir.to_string_lossy().into_owned();
        for pid in processes_mentioning(&needle) {
            // SAFETY: kill takes plain integers; these are processes this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn remove_all_sandboxes(socket: &Path) {
    let Ok(client) = CriClient::connect_within(socket, Duration::ZERO).await else {
        return;
    };
    let Ok(list) = client
        .runtime()
        .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
        .await
    else {
        return;
    };
    for sandbox in list.into_inner().items {
        let id = sandbox.id;
        let _ = client
            .runtime()
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await;
        let _ = client
            .runtime()
            .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id })
            .await;
    }
}

/// Processes whose command line mentions `needle` (containerd and its shims name our paths).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Mount points under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(str::to_owned))
        .filter(|point| point.starts_with(&prefix))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    mounts
}

fn unmount_under(dir: &Path) {
    for point in mounts_under(dir) {
        if let Ok(c) = std::ffi::CString::new(point) {
            // SAFETY: a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// A `k3rs pause` process, killed if a test fails before it ends it.
struct Pause(std::process::Child);

impl Pause {
    /// Starts `k3rs pause` and waits until it waits for signals (by then it has mapped every
    /// library, and SIGTERM no longer kills it before its handling is in place).
    fn start() -> Pause {
        let pause = Pause(
            Command::new(K3RS)
                .arg("pause")
                .stdin(Stdio::null())
                .spawn()
                .expect("k3rs pause"),
        );
        let pid = pause.0.id();
        let sigterm_bit = 1u64 << (libc::SIGTERM - 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let blocked = status
                .lines()
                .find_map(|l| l.strip_prefix("SigBlk:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or(0);
            // The signals stay blocked until sigwait, which unblocks them while it waits.
            let waiting = std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("sigtimedwait"));
            if blocked & sigterm_bit != 0 || waiting {
                return pause;
            }
            assert!(
                Instant::now() < deadline,
                "k3rs pause never waited for signals: {status}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill takes plain integers; the process is our child.
        unsafe { libc::kill(self.0.id() as i32, signal) };
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().expect("wait for k3rs pause")
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds the pause image from a running `k3rs pause` (its binary and the libraries it mapped),
/// then checks that it exits 0 on SIGTERM.
fn pause_image_from_binary() -> k3rs_cri::image::ImageSpec {
    let mut pause = Pause::start();
    let proc_dir = PathBuf::from(format!("/proc/{}", pause.0.id()));
    let spec = image::pause_image_spec(&proc_dir).expect("pause image spec");
    pause.signal(libc::SIGTERM);
    let status = pause.wait();
    assert_eq!(
        status.code(),
        Some(0),
        "k3rs pause exits 0 on SIGTERM ({status:?})"
    );
    spec
}

#[test]
fn pause_exits_zero_on_sigint_and_survives_sigchld() {
    let mut pause = Pause::start();
    // SIGCHLD (no children here) must not end it.
    pause.signal(libc::SIGCHLD);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        pause.0.try_wait().expect("try_wait").is_none(),
        "pause survived SIGCHLD"
    );
    pause.signal(libc::SIGINT);
    let status = pause.wait();
    assert_eq!((status.code(), status.signal()), (Some(0), None));
}

async fn wait_for_exit(client: &CriClient, id: &str) -> v1::ContainerStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .runtime()
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: false,
            })
            .await
            .expect("container status")
            .into_inner()
            .status
            .expect("a status");
        if status.state == v1::ContainerState::ContainerExited as i32 {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "container never exited: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs a host-network sandbox and a container of `command` in it; returns the sandbox ID, the
/// container ID and how long sandbox + container start took.
async fn run_pod(
    client: &CriClient,
    log_dir: &Path,
    name: &str,
    command: &[&str],
) -> (String, String, Duration) {
    let uid = format!("uid-{name}");
    let sandbox_config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.to_owned(),
            uid: uid.clone(),
            namespace: "default".to_owned(),
            attempt: 0,
        }),
        // With the node's network the sandbox shares the node's UTS namespace: runc refuses a hostname.
        hostname: String::new(),
        log_directory: log_dir.to_string_lossy().into_owned(),
        labels: labels(&[
            ("io.kubernetes.pod.name", name),
            ("io.kubernetes.pod.uid", &uid),
        ]),
        linux: Some(v1::LinuxPodSandboxConfig {
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    // The node's network: no CNI needed for this test.
                    network: v1::NamespaceMode::Node as i32,
                    pid: v1::NamespaceMode::Pod as i32,
                    ipc: v1::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let started = Instant::now();
    let sandbox_id = client
        .runtime()
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .expect("RunPodSandbox")
        .into_inner()
        .pod_sandbox_id;
    let container_id = client
        .runtime()
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "main".to_owned(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX_TEST_IMAGE.to_owned(),
                    ..Default::default()
                }),
                command: command.iter().map(|s| s.to_string()).collect(),
                log_path: "main/0.log".to_owned(),
                labels: labels(&[("io.kubernetes.container.name", "main")]),
                // The sandbox's PID namespace: the pause process is the container's PID 1.
                linux: Some(v1::LinuxContainerConfig {
                    security_context: Some(v1::LinuxContainerSecurityContext {
                        namespace_options: Some(v1::NamespaceOption {
                            network: v1::NamespaceMode::Node as i32,
                            pid: v1::NamespaceMode::Pod as i32,
                            ipc: v1::NamespaceMode::Pod as i32,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .expect("CreateContainer")
        .into_inner()
        .container_id;
    client
        .runtime()
        .start_container(v1::StartContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .expect("StartContainer");
    (sandbox_id, container_id, started.elapsed())
}

async fn remove_pod(client: &CriClient, sandbox_id: &str) {
    client
        .runtime()
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
        })
        .await
        .expect("StopPodSandbox");
    client
        .runtime()
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
        })
        .await
        .expect("RemovePodSandbox");
}

async fn wait_for_new_pid(containerd: &Containerd, old: u32) -> u32 {
    let mut pid = containerd.watch_pid();
    let new = tokio::time::timeout(
        Duration::from_secs(30),
        pid.wait_for(|p| p.is_some_and(|p| p != old)),
    )
    .await
    .expect("the supervisor restarts containerd within 30 s")
    .expect("supervisor alive");
    new.unwrap_or_default()
}

fn process_alive(pid: u32) -> bool {
    // A zombie has no command line.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_runs_pods_from_local_images_and_survives_restarts() {
    if let Some(why) = missing_parts() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let node = Node::new();
    let pause_spec = pause_image_from_binary();
    let images_dir = node.agent_dir().join("images");
    std::fs::create_dir_all(&images_dir).expect("images dir");
    common::images::busybox_image_tar(&images_dir.join("busybox.tar"));
    // Not an image archive: must be reported, not stop the others.
    std::fs::write(images_dir.join("broken.tar"), b"not a tar").expect("write");
    std::fs::write(images_dir.join("notes.txt"), b"ignored").expect("write");

    let started = Instant::now();
    let containerd = Containerd::start(node.options())
        .await
        .expect("containerd starts");
    eprintln!("containerd answered after {:?}", started.elapsed());
    let config = std::fs::read_to_string(node.options().config_path()).expect("config written");
    assert!(
        config.contains(&format!("sandbox_image = \"{PAUSE_IMAGE}\"")),
        "{config}"
    );
    let client = containerd.client().clone();
    assert_eq!(client.version().runtime_name, "containerd");
    let first_pid = containerd.pid().expect("supervised");
    assert!(process_alive(first_pid));

    // Images: the pause image streamed from its spec, the airgap directory by file.
    let snapshotter = Some(containerd.snapshotter());
    assert_eq!(
        image::cri_snapshotter(&client)
            .await
            .expect("status")
            .as_deref(),
        snapshotter
    );
    let started = Instant::now();
    image::import_image(containerd.socket(), snapshotter, pause_spec)
        .await
        .expect("import the pause image");
    eprintln!("pause image built and imported in {:?}", started.elapsed());
    let outcomes = image::import_dir(containerd.socket(), snapshotter, &images_dir)
        .await
        .expect("read the images dir");
    let outcomes: Vec<(String, bool)> = outcomes
        .iter()
        .map(|(path, outcome)| {
            (
                path.file_name().unwrap().to_string_lossy().into(),
                outcome.is_ok(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("broken.tar".to_owned(), false),
            ("busybox.tar".to_owned(), true)
        ]
    );
    let tags: Vec<String> = image::list_images(&client)
        .await
        .expect("ListImages")
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .collect();
    assert!(tags.contains(&PAUSE_IMAGE.to_owned()), "{tags:?}");
    assert!(tags.contains(&BUSYBOX_TEST_IMAGE.to_owned()), "{tags:?}");
    assert!(
        image::image_present(&client, BUSYBOX_TEST_IMAGE)
            .await
            .expect("ImageStatus")
    );
    assert!(
        !image::image_present(&client, "k3rs.local/absent:1")
            .await
            .expect("ImageStatus")
    );

    // A pod: sandbox from the pause image, a container printing hello.
    let log_dir = node.dir.join("logs/default_hello_uid-hello");
    let (sandbox, container, start_time) =
        run_pod(&client, &log_dir, "hello", &["echo", "hello"]).await;
    let status = wait_for_exit(&client, &container).await;
    assert_eq!(status.exit_code, 0, "{status:?}");
    assert_eq!(status.reason, "Completed");
    let log = std::fs::read_to_string(log_dir.join("main/0.log")).expect("container log");
    // CRI log format: <RFC 3339 time> <stream> <F|P> <text>
    let fields: Vec<&str> = log.trim_end().splitn(4, ' ').collect();
    assert_eq!(fields[1..], ["stdout", "F", "hello"], "{log:?}");
    eprintln!(
        "sandbox + container start (RunPodSandbox → StartContainer returned): {start_time:?}"
    );

    // An orphan is re-parented to the pause process (PID 1 of the pod), which reaps it when it
    // exits: the first snapshot of the process table shows the orphan with parent 1, the second
    // (after it ended) no zombie.
    let reaper_logs = node.dir.join("logs/reaper");
    let script =
        "(sleep 0.3 &); sleep 0.1; cat /proc/[0-9]*/stat; echo ---; sleep 1; cat /proc/[0-9]*/stat";
    let (reaper_sandbox, reaper, _) =
        run_pod(&client, &reaper_logs, "reaper", &["sh", "-c", script]).await;
    assert_eq!(wait_for_exit(&client, &reaper).await.exit_code, 0);
    let log = std::fs::read_to_string(reaper_logs.join("main/0.log")).expect("log");
    let text: Vec<&str> = log
        .lines()
        .filter_map(|line| line.splitn(4, ' ').nth(3))
        .collect();
    let snapshots: Vec<&[&str]> = text.split(|line| *line == "---").collect();
    assert_eq!(snapshots.len(), 2, "{log}");
    // (pid, comm, state, parent pid) from `pid (comm) state ppid …`.
    let processes = |snapshot: &[&str]| -> Vec<(String, String, String, String)> {
        snapshot
            .iter()
            .filter_map(|stat| {
                let (pid, rest) = stat.split_once(" (")?;
                let (comm, rest) = rest.rsplit_once(") ")?;
                let mut fields = rest.split(' ');
                let (state, parent) = (fields.next()?, fields.next()?);
                Some((pid.into(), comm.into(), state.into(), parent.into()))
            })
            .collect()
    };
    let before = processes(snapshots[0]);
    assert!(
        before
            .iter()
            .any(|(pid, comm, _, _)| pid == "1" && comm == "k3rs"),
        "pause is PID 1: {log}"
    );
    assert!(
        before
            .iter()
            .any(|(_, comm, _, parent)| comm == "sleep" && parent == "1"),
        "the orphan was re-parented to pause: {log}"
    );
    let after = processes(snapshots[1]);
    assert!(
        !after.iter().any(|(_, _, state, _)| state == "Z"),
        "no zombie left: {log}"
    );
    remove_pod(&client, &reaper_sandbox).await;

    // The CLI lists and imports through the same containerd.
    let socket = containerd.socket().to_string_lossy().into_owned();
    let listed = Command::new(K3RS)
        .args(["images", "ls", "--container-runtime-endpoint", &socket])
        .output()
        .expect("k3rs images ls");
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        table.starts_with("IMAGE ") && table.contains("k3rs.local/busybox   test "),
        "{table}"
    );
    let extra = node.dir.join("extra.tar");
    image::write_oci_archive_file(
        &image::ImageSpec {
            reference: "k3rs.local/cli-import:v1".to_owned(),
            files: vec![image::ImageFile::content("/hello", 0o644, "hi")],
            config: image::ImageConfig::default(),
        },
        &extra,
    )
    .expect("archive");
    let imported = Command::new(K3RS)
        .args(["images", "import", "--container-runtime-endpoint", &socket])
        .arg(&extra)
        .output()
        .expect("k3rs images import");
    assert!(imported.status.success(), "{imported:?}");
    assert!(
        image::image_present(&client, "k3rs.local/cli-import:v1")
            .await
            .expect("ImageStatus")
    );
    let unreachable = Command::new(K3RS)
        .args(["images", "ls", "--run-dir"])
        .arg(node.dir.join("no-such-run-dir"))
        .output()
        .expect("k3rs images ls");
    let said = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        !unreachable.status.success() && said.contains("is the k3rs agent (or server) running?"),
        "{said}"
    );

    // More runs for the start-time figure (host network, warm images).
    let mut times = Vec::new();
    for i in 0..5 {
        let name = format!("timing-{i}");
        let (sandbox, container, time) = run_pod(
            &client,
            &node.dir.join("logs").join(&name),
            &name,
            &["true"],
        )
        .await;
        times.push(time);
        assert_eq!(wait_for_exit(&client, &container).await.exit_code, 0);
        remove_pod(&client, &sandbox).await;
    }
    times.sort();
    eprintln!(
        "sandbox + container start over 5 more pods: min {:?}, median {:?}, max {:?}",
        times[0], times[2], times[4]
    );

    // A long-running pod that must survive containerd's death and the supervisor's change.
    let (sleeper_sandbox, sleeper, _) = run_pod(
        &client,
        &node.dir.join("logs/sleeper"),
        "sleeper",
        &["sleep", "3600"],
    )
    .await;

    // Killed containerd is restarted by the supervisor; the client reconnects by itself.
    // SAFETY: kill takes plain integers; this containerd is ours.
    unsafe { libc::kill(first_pid as i32, libc::SIGKILL) };
    let second_pid = wait_for_new_pid(&containerd, first_pid).await;
    let answered = CriClient::connect(containerd.socket()).await;
    assert!(
        answered.is_ok(),
        "restarted containerd answers: {answered:?}"
    );
    let running = client
        .runtime()
        .container_status(v1::ContainerStatusRequest {
            container_id: sleeper.clone(),
            verbose: false,
        })
        .await
        .expect("the old client works after the restart")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(running.state, v1::ContainerState::ContainerRunning as i32);

    // A supervisor dropped without stop (as when the agent is killed) leaves containerd running,
    // and the next one adopts it instead of starting a second.
    drop(containerd);
    assert!(process_alive(second_pid));
    let containerd = Containerd::start(node.options())
        .await
        .expect("containerd adopted");
    assert_eq!(containerd.pid(), Some(second_pid), "adopted, not restarted");
    // The adopted one is supervised too: killed, it is replaced.
    // SAFETY: as above.
    unsafe { libc::kill(second_pid as i32, libc::SIGKILL) };
    let third_pid = wait_for_new_pid(&containerd, second_pid).await;
    let client = CriClient::connect(containerd.socket())
        .await
        .expect("answers");
    let status = client
        .runtime()
        .container_status(v1::ContainerStatusRequest {
            container_id: sleeper.clone(),
            verbose: false,
        })
        .await
        .expect("status")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(
        status.state,
        v1::ContainerState::ContainerRunning as i32,
        "the container outlived two containerds"
    );

    // Clean shutdown: pods first, then containerd; nothing stays mounted.
    remove_pod(&client, &sleeper_sandbox).await;
    remove_pod(&client, &sandbox).await;
    let sandboxes = client
        .runtime()
        .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
        .await
        .expect("ListPodSandbox")
        .into_inner()
        .items;
    assert!(sandboxes.is_empty(), "{sandboxes:?}");
    containerd.stop(Duration::from_secs(10)).await;
    assert!(!process_alive(third_pid), "containerd stopped");
    assert!(
        !node.options().socket_path().exists()
            || CriClient::connect_within(&node.options().socket_path(), Duration::ZERO)
                .await
                .is_err()
    );
    let mounts = mounts_under(&node.dir);
    assert!(mounts.is_empty(), "left mounted: {mounts:?}");
}
