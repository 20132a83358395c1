//! Node agent benchmark (issue 5): a release `k3rs server` with its in-process agent runs real
//! pods on the host's containerd, and this program measures
//!
//! - **floor**: the same containerd through CRI directly — RunPodSandbox (on the pod network the
//!   agent configured) + CreateContainer + StartContainer of busybox `sleep 3600` — for N pods
//!   one at a time and N at once, and StopPodSandbox + RemovePodSandbox of them;
//! - **startup**: pod startup latency by the upstream SLI — the client clock stamped just
//!   before each POST of a bare Pod until a watch (started before the POSTs) shows every
//!   container running — for N pods one at a time and N at once, and the time until deleted
//!   pods are gone;
//! - **churn**: a Deployment scaled 0 → N (pods/s until N run) → 0 (pods/s until all are gone);
//! - **idle**: the server process (containerd excluded) `--idle-wait` seconds after its start
//!   with no workload: VmRSS and CPU over a `--idle-window`; then the agent's memory per
//!   running pod ((RSS with N running pods − idle RSS) / N).
//!
//! Run: `cargo build --release --bin k3rs && cargo run --release --example pod_bench --
//! [--mode startup|churn|idle|all] [--runs 3] [--pods 100] [--idle-wait 300]
//! [--idle-window 60] [--keep-logs]` (`--keep-logs` copies each run's server and containerd
//! logs to `$TMPDIR/pod_bench-run<N>-{server,containerd}.log`, as happens on failure). The server binary is
//! `target/release/k3rs` or `$K3RS_BIN`; `K3RS_LOG` passes through to it. Needs root, containerd, runc, the CNI plugins and busybox-static.
//! Every run starts a fresh server in its own temp dir (unique `--run-dir` and kubelet port) and
//! removes everything it started at the end, also on failure or Ctrl-C: pod sandboxes through
//! CRI, containerd and its shims, mounts, the pods' cgroups and log directories, the temp dir.
//!
//! Every agent on this machine puts its pods on the one `cni0` bridge, which holds a single IPv4
//! gateway (so every node uses the first /24 of the default 10.42.0.0/16), and each agent's
//! host-local IPAM hands out the same addresses: while it has pods, the bench holds the lock file
//! the end-to-end tests hold (`$TMPDIR/k3rs-agent-tests.lock`). The idle phase runs without it.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use k3rs_cri::CriClient;
use k3rs_cri::image::BUSYBOX_TEST_IMAGE;
use k3rs_cri::v1;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::await_condition;
use kube::{Client, Config};
use serde_json::json;

type R<T> = Result<T, String>;

fn ctx<T, E: Display>(r: Result<T, E>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

const NODE_NAME: &str = "k3rs-bench-node";
/// How long one batch (start or removal of all its pods) may take before the run fails.
const BATCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Wait after the last pod of a batch runs before reading RSS (status writes settle).
const SETTLE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Startup,
    Churn,
    Idle,
    All,
}

impl Mode {
    fn has(self, m: Mode) -> bool {
        self == Mode::All || self == m
    }
}

struct Args {
    mode: Mode,
    runs: usize,
    pods: usize,
    idle_wait: Duration,
    idle_window: Duration,
    keep_logs: bool,
    bin: PathBuf,
}

fn parse_args() -> R<Args> {
    let mut a = Args {
        mode: Mode::All,
        runs: 3,
        pods: 100,
        idle_wait: Duration::from_secs(300),
        idle_window: Duration::from_secs(60),
        keep_logs: false,
        bin: std::env::var_os("K3RS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/k3rs")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--mode" => {
                a.mode = match val("--mode")?.as_str() {
                    "startup" => Mode::Startup,
                    "churn" => Mode::Churn,
                    "idle" => Mode::Idle,
                    "all" => Mode::All,
                    other => {
                        return Err(format!("--mode {other}: use startup, churn, idle or all"));
                    }
                }
            }
            "--runs" => a.runs = ctx(val("--runs")?.parse(), "--runs")?,
            "--pods" => a.pods = ctx(val("--pods")?.parse(), "--pods")?,
            "--idle-wait" => {
                a.idle_wait = Duration::from_secs(ctx(val("--idle-wait")?.parse(), "--idle-wait")?)
            }
            "--idle-window" => {
                a.idle_window =
                    Duration::from_secs(ctx(val("--idle-window")?.parse(), "--idle-window")?)
            }
            "--keep-logs" => a.keep_logs = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.pods == 0 || a.pods > 200 {
        return Err("--pods must be 1..=200 (the node's /24 pod CIDR holds 253 addresses)".into());
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// Figures

/// p50 and p99 (nearest rank) of a sample.
#[derive(Clone, Copy, Default)]
struct Pct {
    p50: f64,
    p99: f64,
}

fn pct(samples: &[Duration]) -> Pct {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| -> f64 {
        if ms.is_empty() {
            return f64::NAN;
        }
        let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i]
    };
    Pct {
        p50: rank(0.50),
        p99: rank(0.99),
    }
}

impl Display for Pct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} / {:.0} ms", self.p50, self.p99)
    }
}

/// Pod startup of one batch: the SLI and where the time went.
#[derive(Clone, Copy, Default)]
struct Startup {
    latency: Pct,
    /// POST → the watch shows spec.nodeName (API server + scheduler).
    to_bound: Pct,
    /// Bound → every container running (the agent and containerd).
    bound_to_running: Pct,
    /// First POST → last pod running.
    all_running: Duration,
    /// Delete of every pod → the last one gone from the API.
    all_gone: Duration,
    /// The server's RSS once every pod ran (and status writes settled), when asked for.
    rss_running_mib: Option<f64>,
}

#[derive(Default)]
struct Floor {
    /// One at a time: the three calls, and each of them.
    total: Pct,
    sandbox: Pct,
    create: Pct,
    start: Pct,
    /// One at a time: StopPodSandbox + RemovePodSandbox.
    removal: Pct,
    /// At once, from the common start.
    at_once: Pct,
    at_once_all_running: Duration,
    /// All removed at once.
    at_once_all_removed: Duration,
}

#[derive(Default)]
struct RunFigures {
    loadavg: Vec<(String, String)>,
    floor: Option<Floor>,
    one_at_a_time: Option<Startup>,
    at_once: Option<Startup>,
    churn_up: Option<f64>,
    churn_down: Option<f64>,
    idle_rss_mib: Option<f64>,
    idle_cpu_pct: Option<f64>,
    busy_rss_mib: Option<f64>,
}

impl RunFigures {
    fn per_pod_kib(&self, pods: usize) -> Option<f64> {
        Some((self.busy_rss_mib? - self.idle_rss_mib?) * 1024.0 / pods as f64)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rss_mib(pid: u32) -> R<f64> {
    let status = ctx(
        std::fs::read_to_string(format!("/proc/{pid}/status")),
        "reading the server's /proc status",
    )?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| "no VmRSS in the server's /proc status".into())
}

/// utime + stime of a process, in clock ticks (its children are not counted).
fn cpu_ticks(pid: u32) -> R<u64> {
    let stat = ctx(
        std::fs::read_to_string(format!("/proc/{pid}/stat")),
        "reading the server's /proc stat",
    )?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (field(11), field(12)) {
        (Some(utime), Some(stime)) => Ok(utime + stime),
        _ => Err(format!("cannot parse /proc/{pid}/stat")),
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

// ---------------------------------------------------------------------------------------------
// The server and everything it starts

/// A `k3rs server` with its agent in a temp dir. Dropping it removes every pod sandbox through
/// CRI, stops containerd and its shims, unmounts what they left, removes the pods' cgroups and
/// log directories, and deletes the temp dir.
struct Cluster {
    child: Option<Child>,
    dir: PathBuf,
    namespace: String,
    /// Pod UIDs seen (API pods) or made up (floor sandboxes): their cgroups go at the end.
    pod_uids: HashSet<String>,
}

impl Cluster {
    fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    fn socket(&self) -> PathBuf {
        self.run_dir().join("containerd/containerd.sock")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // kill -9, so that the agent does not stop containerd before its sandboxes are removed.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let socket = self.socket();
        // Its own runtime on its own thread: this may run inside the bench's runtime.
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(remove_all_sandboxes(&socket));
                }
            })
            .join()
        });
        let pid_file = self.run_dir().join("containerd/containerd.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            // SAFETY: kill takes plain integers; the pid is the containerd our server started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Shims (their command lines name our run dir).
        for pid in processes_mentioning(&self.run_dir().to_string_lossy()) {
            // SAFETY: as above; these are processes started for this run dir.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        unmount_under(&self.dir);
        remove_pod_cgroups(&self.pod_uids);
        if let Ok(entries) = std::fs::read_dir("/var/log/pods") {
            let prefix = format!("{}_", self.namespace);
            for e in entries.filter_map(Result::ok) {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn remove_all_sandboxes(socket: &Path) {
    let Ok(cri) = CriClient::connect_within(socket, Duration::ZERO).await else {
        return;
    };
    let Ok(list) = cri
        .runtime()
        .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
        .await
    else {
        return;
    };
    for sandbox in list.into_inner().items {
        remove_sandbox(&cri, sandbox.id).await;
    }
}

async fn remove_sandbox(cri: &CriClient, id: String) {
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

fn processes_mentioning(marker: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Lazily unmount every mount point under `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        if let Ok(c) = std::ffi::CString::new(point) {
            // SAFETY: a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// The empty pod-level cgroups runc leaves (`kubepods/<qos>/pod<uid>` in every hierarchy).
fn remove_pod_cgroups(uids: &HashSet<String>) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.filter_map(Result::ok) {
        for qos in ["", "burstable/", "besteffort/"] {
            for uid in uids {
                let _ = std::fs::remove_dir(h.path().join(format!("kubepods/{qos}pod{uid}")));
            }
        }
    }
}

/// Takes the lock the agent end-to-end tests hold while they run pods (see the module doc).
async fn lock_pod_network() -> R<std::fs::File> {
    let path = std::env::temp_dir().join("k3rs-agent-tests.lock");
    let file = ctx(std::fs::File::create(&path), &path.display().to_string())?;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !told {
                    println!("  waiting for {} (agent tests are running)", path.display());
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("locking {}: {e}", path.display()));
            }
        }
    }
}

fn free_port() -> R<u16> {
    ctx(
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port()),
        "free port",
    )
}

impl Cluster {
    fn new() -> R<Cluster> {
        let dir = ctx(
            tempfile::Builder::new().prefix("k3rs-pod-bench-").tempdir(),
            "temp dir",
        )?
        .keep();
        Ok(Cluster {
            child: None,
            dir,
            namespace: format!("pod-bench-{}", std::process::id()),
            pod_uids: HashSet::new(),
        })
    }
}

async fn admin_client(kubeconfig: &Path) -> R<Client> {
    let kc = ctx(
        kube::config::Kubeconfig::read_from(kubeconfig),
        "kubeconfig",
    )?;
    let cfg = ctx(
        Config::from_custom_kubeconfig(kc, &Default::default()).await,
        "kubeconfig",
    )?;
    ctx(Client::try_from(cfg), "client")
}

/// Starts the server and waits until its node is Ready, the busybox image is in containerd and
/// the bench namespace has its default ServiceAccount.
async fn start_cluster(args: &Args, cluster: &mut Cluster) -> R<(Client, CriClient, Instant)> {
    let images = cluster.dir.join("agent/images");
    ctx(std::fs::create_dir_all(&images), "images dir")?;
    ctx(
        k3rs_cri::image::write_busybox_test_image(&images.join("busybox.tar")),
        "writing the busybox test image",
    )?;
    let config = cluster.dir.join("config.yaml");
    ctx(std::fs::write(&config, "{}\n"), "config.yaml")?;
    let log = ctx(std::fs::File::create(cluster.log()), "server log")?;
    let kubeconfig = cluster.dir.join("kubeconfig.yaml");
    let port = free_port()?;
    let kubelet_port = free_port()?;
    let mut cmd = Command::new(&args.bin);
    cmd.arg("server")
        .arg("--data-dir")
        .arg(&cluster.dir)
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--https-listen-port={port}"))
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .arg("--config")
        .arg(&config)
        .arg("--node-ip=127.0.0.1")
        .arg(format!("--node-name={NODE_NAME}"))
        .arg(format!("--run-dir={}", cluster.run_dir().display()))
        .arg(format!("--kubelet-arg=port={kubelet_port}"))
        .env_remove("K3RS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let started = Instant::now();
    cluster.child = Some(ctx(
        cmd.spawn(),
        &format!("starting {} server", args.bin.display()),
    )?);

    let client = loop {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the API server did not answer within 60 s".into());
        }
        if kubeconfig.exists()
            && let Ok(client) = admin_client(&kubeconfig).await
            && client.apiserver_version().await.is_ok()
        {
            break client;
        }
        if let Some(Ok(Some(status))) = cluster.child.as_mut().map(Child::try_wait) {
            return Err(format!("the server exited: {status}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let node_ready = |n: Option<&Node>| {
        n.and_then(|n| n.status.as_ref()?.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    ctx(
        tokio::time::timeout(
            Duration::from_secs(120),
            await_condition(Api::<Node>::all(client.clone()), NODE_NAME, node_ready),
        )
        .await,
        "waiting 120 s for the node to be Ready",
    )?
    .map_err(|e| format!("waiting for the node: {e}"))?;
    let cri = ctx(
        CriClient::connect(&cluster.socket()).await,
        "connecting to the agent's containerd",
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ctx(
        k3rs_cri::image::image_present(&cri, BUSYBOX_TEST_IMAGE).await,
        "image status",
    )? {
        if Instant::now() > deadline {
            return Err(format!("{BUSYBOX_TEST_IMAGE} not imported within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ns: Namespace = ctx(
        serde_json::from_value(json!({"metadata": {"name": cluster.namespace}})),
        "namespace",
    )?;
    ctx(
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await,
        "creating the bench namespace",
    )?;
    ctx(
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(
                Api::<ServiceAccount>::namespaced(client.clone(), &cluster.namespace),
                "default",
                |sa: Option<&ServiceAccount>| sa.is_some(),
            ),
        )
        .await,
        "waiting 60 s for the default ServiceAccount",
    )?
    .map_err(|e| format!("waiting for the default ServiceAccount: {e}"))?;
    Ok((client, cri, started))
}

// ---------------------------------------------------------------------------------------------
// Pods and the watch

fn pod_spec() -> serde_json::Value {
    json!({
        "terminationGracePeriodSeconds": 1,
        "containers": [{
            "name": "c",
            "image": BUSYBOX_TEST_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"],
        }],
    })
}

fn bare_pod(name: &str) -> R<Pod> {
    ctx(
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": pod_spec()})),
        "pod",
    )
}

fn all_running(pod: &Pod) -> bool {
    let want = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    want > 0
        && statuses.len() == want
        && statuses
            .iter()
            .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

/// What one container is waiting for, if anything (for error messages).
fn waiting_reason(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|c| {
        let w = c.state.as_ref()?.waiting.as_ref()?;
        Some(format!(
            "{}: {}",
            w.reason.as_deref().unwrap_or("waiting"),
            w.message.as_deref().unwrap_or("")
        ))
    })
}

/// When the watch first saw each milestone of a pod.
#[derive(Default, Clone)]
struct Seen {
    bound: Option<Instant>,
    running: Option<Instant>,
    gone: Option<Instant>,
    last_waiting: Option<String>,
}

/// A watch of the bench namespace's pods that reconnects from the last resourceVersion and
/// records when each pod was bound, had every container running, and was deleted.
struct PodWatch {
    api: Api<Pod>,
    params: WatchParams,
    version: String,
    stream: BoxStream<'static, kube::Result<WatchEvent<Pod>>>,
    seen: HashMap<String, Seen>,
}

impl PodWatch {
    async fn start(api: &Api<Pod>, labels: Option<&str>) -> R<PodWatch> {
        let mut list = ListParams::default().limit(1);
        let mut params = WatchParams::default().timeout(290);
        if let Some(l) = labels {
            list = list.labels(l);
            params = params.labels(l);
        }
        let version = ctx(api.list(&list).await, "listing pods")?
            .metadata
            .resource_version
            .unwrap_or_default();
        let stream = ctx(api.watch(&params, &version).await, "watching pods")?.boxed();
        Ok(PodWatch {
            api: api.clone(),
            params,
            version,
            stream,
            seen: HashMap::new(),
        })
    }

    /// Processes events until `done(seen)` holds, or fails at `deadline`.
    async fn until(
        &mut self,
        deadline: Instant,
        what: &str,
        done: impl Fn(&HashMap<String, Seen>) -> bool,
    ) -> R<()> {
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let waiting: Vec<String> = self
                    .seen
                    .iter()
                    .filter_map(|(n, s)| Some(format!("{n}: {}", s.last_waiting.as_ref()?)))
                    .take(3)
                    .collect();
                return Err(format!(
                    "timed out waiting for {what} (waiting: {waiting:?})"
                ));
            }
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => {}
                Ok(None) => {
                    self.stream = ctx(
                        self.api.watch(&self.params, &self.version).await,
                        "re-watching pods",
                    )?
                    .boxed();
                }
                Ok(Some(Err(e))) => return Err(format!("pod watch: {e}")),
                Ok(Some(Ok(ev))) => self.observe(ev, Instant::now())?,
            }
        }
        Ok(())
    }

    fn observe(&mut self, ev: WatchEvent<Pod>, at: Instant) -> R<()> {
        let (pod, deleted) = match ev {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => (p, false),
            WatchEvent::Deleted(p) => (p, true),
            WatchEvent::Bookmark(b) => {
                self.version = b.metadata.resource_version;
                return Ok(());
            }
            WatchEvent::Error(e) => return Err(format!("pod watch error: {e:?}")),
        };
        if let Some(rv) = &pod.metadata.resource_version {
            self.version.clone_from(rv);
        }
        let Some(name) = pod.metadata.name.clone() else {
            return Ok(());
        };
        let seen = self.seen.entry(name).or_default();
        if deleted {
            seen.gone.get_or_insert(at);
            return Ok(());
        }
        if seen.bound.is_none() && pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()) {
            seen.bound = Some(at);
        }
        if seen.running.is_none() && all_running(&pod) {
            seen.running = Some(at);
        }
        seen.last_waiting = waiting_reason(&pod);
        Ok(())
    }
}

/// Runs every call at once, one task each, with the clock stamped just before the call.
fn spawn_stamped<F>(calls: Vec<F>) -> Vec<JoinHandle<(Instant, R<()>)>>
where
    F: Future<Output = R<()>> + Send + 'static,
{
    calls
        .into_iter()
        .map(|call| {
            tokio::spawn(async move {
                let at = Instant::now();
                (at, call.await)
            })
        })
        .collect()
}

/// The stamps of the calls, or the first call's error.
async fn stamps(tasks: Vec<JoinHandle<(Instant, R<()>)>>) -> R<Vec<Instant>> {
    let mut out = Vec::new();
    for t in tasks {
        let (at, r) = ctx(t.await, "call task")?;
        r?;
        out.push(at);
    }
    Ok(out)
}

/// Waits for the watch while the calls run, so that events are stamped as they arrive; a
/// failed call is reported before the watch's own failure.
async fn calls_and_watch(
    calls: Vec<JoinHandle<(Instant, R<()>)>>,
    watch: R<()>,
) -> R<Vec<Instant>> {
    let stamped = stamps(calls).await?;
    watch?;
    Ok(stamped)
}

/// Opens `n` connections to the API server, so that N concurrent POSTs do not each start with
/// a TLS handshake (kube-rs speaks HTTP/1.1: one connection per request in flight).
async fn warm_connections(client: &Client, n: usize) {
    let calls = (0..n).map(|_| client.apiserver_version());
    let _ = futures_util::future::join_all(calls).await;
}

/// Starts `names` (one at a time, or all at once), measures the SLI, reads the server's RSS
/// when `rss_of` is given, then deletes them all at once and measures until they are gone.
async fn startup_batch(
    cluster: &mut Cluster,
    client: &Client,
    names: Vec<String>,
    at_once: bool,
    rss_of: Option<u32>,
) -> R<Startup> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &cluster.namespace);
    let mut watch = PodWatch::start(&pods, None).await?;
    let deadline = Instant::now() + BATCH_TIMEOUT;
    let mut posted: HashMap<String, Instant> = HashMap::new();
    let first_post;
    if at_once {
        // A client of its own, dropped once its POSTs are done: the server then closes their
        // connections, which would otherwise count in its RSS with the pods running.
        let client = admin_client(&cluster.dir.join("kubeconfig.yaml")).await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &cluster.namespace);
        warm_connections(&client, names.len()).await;
        drop(client);
        first_post = Instant::now();
        let mut creates = Vec::new();
        for name in &names {
            let pod = bare_pod(name)?;
            let pods = pods.clone();
            let name = name.clone();
            creates.push(async move {
                ctx(
                    pods.create(&PostParams::default(), &pod).await,
                    &format!("creating pod {name}"),
                )
                .map(|_| ())
            });
        }
        let creates = spawn_stamped(creates);
        let ran = watch
            .until(deadline, "every pod to run", |seen| {
                names
                    .iter()
                    .all(|n| seen.get(n).is_some_and(|s| s.running.is_some()))
            })
            .await;
        let stamped = calls_and_watch(creates, ran).await?;
        posted = names.iter().cloned().zip(stamped).collect();
    } else {
        first_post = Instant::now();
        for name in &names {
            let pod = bare_pod(name)?;
            posted.insert(name.clone(), Instant::now());
            ctx(
                pods.create(&PostParams::default(), &pod).await,
                &format!("creating pod {name}"),
            )?;
            watch
                .until(deadline, &format!("pod {name} to run"), |seen| {
                    seen.get(name).is_some_and(|s| s.running.is_some())
                })
                .await?;
        }
    }
    let mut latency = Vec::new();
    let mut to_bound = Vec::new();
    let mut bound_to_running = Vec::new();
    let mut last = first_post;
    for name in &names {
        let (Some(post), Some(seen)) = (posted.get(name), watch.seen.get(name)) else {
            continue;
        };
        let Some(running) = seen.running else {
            continue;
        };
        latency.push(running - *post);
        last = last.max(running);
        if let Some(bound) = seen.bound {
            to_bound.push(bound.saturating_duration_since(*post));
            bound_to_running.push(running.saturating_duration_since(bound));
        }
    }
    let all_running = last - first_post;
    // Remember the UIDs' cgroups for the clean-up.
    for p in ctx(pods.list(&ListParams::default()).await, "listing pods")?.items {
        if let Some(uid) = p.metadata.uid {
            cluster.pod_uids.insert(uid);
        }
    }
    let rss_running_mib = match rss_of {
        Some(pid) => {
            tokio::time::sleep(SETTLE).await;
            Some(rss_mib(pid)?)
        }
        None => None,
    };

    let delete_start = Instant::now();
    let deletes = spawn_stamped(
        names
            .iter()
            .map(|name| {
                let pods = pods.clone();
                let name = name.clone();
                async move {
                    ctx(
                        pods.delete(&name, &DeleteParams::default()).await,
                        &format!("deleting pod {name}"),
                    )
                    .map(|_| ())
                }
            })
            .collect(),
    );
    let gone = watch
        .until(
            Instant::now() + BATCH_TIMEOUT,
            "every pod to be gone",
            |seen| {
                names
                    .iter()
                    .all(|n| seen.get(n).is_some_and(|s| s.gone.is_some()))
            },
        )
        .await;
    calls_and_watch(deletes, gone).await?;
    let gone = names
        .iter()
        .filter_map(|n| watch.seen.get(n)?.gone)
        .max()
        .unwrap_or(delete_start);
    Ok(Startup {
        latency: pct(&latency),
        to_bound: pct(&to_bound),
        bound_to_running: pct(&bound_to_running),
        all_running,
        all_gone: gone - delete_start,
        rss_running_mib,
    })
}

/// A Deployment scaled 0 → n → 0: pods/s until n run, and until all are gone.
async fn churn(cluster: &mut Cluster, client: &Client, n: usize) -> R<(f64, f64)> {
    let ns = cluster.namespace.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let deployment: Deployment = ctx(
        serde_json::from_value(json!({
            "metadata": {"name": "churn"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "churn"}},
                "template": {"metadata": {"labels": {"app": "churn"}}, "spec": pod_spec()},
            },
        })),
        "deployment",
    )?;
    ctx(
        deployments
            .create(&PostParams::default(), &deployment)
            .await,
        "creating the deployment",
    )?;
    let mut watch = PodWatch::start(&pods, Some("app=churn")).await?;
    let scale = |replicas: usize| {
        let deployments = deployments.clone();
        async move {
            ctx(
                deployments
                    .patch(
                        "churn",
                        &PatchParams::default(),
                        &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                    )
                    .await,
                "scaling the deployment",
            )
        }
    };
    let up = Instant::now();
    scale(n).await?;
    watch
        .until(
            Instant::now() + BATCH_TIMEOUT,
            "the deployment's pods to run",
            |seen| {
                seen.values()
                    .filter(|s| s.running.is_some() && s.gone.is_none())
                    .count()
                    >= n
            },
        )
        .await?;
    let up_secs = watch
        .seen
        .values()
        .filter_map(|s| s.running)
        .max()
        .map_or(f64::NAN, |t| (t - up).as_secs_f64());
    for p in ctx(pods.list(&ListParams::default()).await, "listing pods")?.items {
        if let Some(uid) = p.metadata.uid {
            cluster.pod_uids.insert(uid);
        }
    }
    let down = Instant::now();
    scale(0).await?;
    watch
        .until(
            Instant::now() + BATCH_TIMEOUT,
            "the deployment's pods to go",
            |seen| seen.values().all(|s| s.gone.is_some()),
        )
        .await?;
    let down_secs = watch
        .seen
        .values()
        .filter_map(|s| s.gone)
        .max()
        .map_or(f64::NAN, |t| (t - down).as_secs_f64());
    ctx(
        deployments.delete("churn", &DeleteParams::default()).await,
        "deleting the deployment",
    )?;
    Ok((n as f64 / up_secs, n as f64 / down_secs))
}

// ---------------------------------------------------------------------------------------------
// The floor: the same containerd through CRI directly

fn floor_sandbox_config(uid: &str, log_dir: &Path) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: uid.to_owned(),
            uid: uid.to_owned(),
            namespace: "floor".into(),
            attempt: 0,
        }),
        hostname: uid.to_owned(),
        log_directory: log_dir.to_string_lossy().into_owned(),
        labels: HashMap::from([("k3rs.bench".into(), "floor".into())]),
        linux: Some(v1::LinuxPodSandboxConfig {
            // As the kubelet's BestEffort pods.
            cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: v1::NamespaceMode::Pod as i32,
                    pid: v1::NamespaceMode::Container as i32,
                    ipc: v1::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn floor_container_config() -> v1::ContainerConfig {
    v1::ContainerConfig {
        metadata: Some(v1::ContainerMetadata {
            name: "c".into(),
            attempt: 0,
        }),
        image: Some(v1::ImageSpec {
            image: BUSYBOX_TEST_IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["sleep".into(), "3600".into()],
        log_path: "c/0.log".into(),
        labels: HashMap::from([("k3rs.bench".into(), "floor".into())]),
        linux: Some(v1::LinuxContainerConfig {
            resources: Some(v1::LinuxContainerResources::default()),
            security_context: Some(v1::LinuxContainerSecurityContext::default()),
        }),
        ..Default::default()
    }
}

/// One floor pod: RunPodSandbox + CreateContainer + StartContainer; the sandbox's ID and how
/// long each call took.
async fn floor_pod(cri: CriClient, dir: PathBuf, uid: String) -> R<(String, [Duration; 3])> {
    let mut rt = cri.runtime();
    let t0 = Instant::now();
    let log_dir = dir.join("floor-logs").join(&uid);
    ctx(
        tokio::fs::create_dir_all(log_dir.join("c")).await,
        "floor log dir",
    )?;
    let config = floor_sandbox_config(&uid, &log_dir);
    let sandbox = rt
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .map_err(|e| format!("RunPodSandbox: {}", e.message()))?
        .into_inner()
        .pod_sandbox_id;
    let t1 = Instant::now();
    let container = rt
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox.clone(),
            config: Some(floor_container_config()),
            sandbox_config: Some(config),
        })
        .await
        .map_err(|e| format!("CreateContainer: {}", e.message()))?
        .into_inner()
        .container_id;
    let t2 = Instant::now();
    rt.start_container(v1::StartContainerRequest {
        container_id: container,
    })
    .await
    .map_err(|e| format!("StartContainer: {}", e.message()))?;
    Ok((sandbox, [t1 - t0, t2 - t1, t2.elapsed()]))
}

/// StopPodSandbox + RemovePodSandbox, timed.
async fn floor_remove(cri: CriClient, id: String) -> Duration {
    let t0 = Instant::now();
    remove_sandbox(&cri, id).await;
    t0.elapsed()
}

/// `n` floor pods one at a time, then `n` at once (each timed from the common start); each
/// batch is removed (one at a time, then at once) before the next. A failure leaves the
/// sandboxes to the clean-up.
async fn floor(cluster: &mut Cluster, cri: &CriClient, n: usize) -> R<Floor> {
    let uid = |batch: &str, i: usize| format!("floor-{}-{batch}{i}", std::process::id());
    let mut steps: [Vec<Duration>; 3] = Default::default();
    let mut total = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let uid = uid("s", i);
        cluster.pod_uids.insert(uid.clone());
        let (id, took) = floor_pod(cri.clone(), cluster.dir.clone(), uid).await?;
        ids.push(id);
        for (all, one) in steps.iter_mut().zip(took) {
            all.push(one);
        }
        total.push(took.iter().sum());
    }
    let mut removal = Vec::new();
    for id in ids {
        removal.push(floor_remove(cri.clone(), id).await);
    }

    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let uid = uid("b", i);
        cluster.pod_uids.insert(uid.clone());
        let started = floor_pod(cri.clone(), cluster.dir.clone(), uid);
        tasks.push(tokio::spawn(async move {
            started.await.map(|(id, _)| (id, Instant::now()))
        }));
    }
    let mut at_once = Vec::new();
    let mut ids = Vec::new();
    for t in tasks {
        let (id, running) = ctx(t.await, "floor task")??;
        ids.push(id);
        at_once.push(running - t0);
    }
    let removing = Instant::now();
    let removals: Vec<_> = ids
        .into_iter()
        .map(|id| tokio::spawn(floor_remove(cri.clone(), id)))
        .collect();
    for r in removals {
        ctx(r.await, "floor removal task")?;
    }
    Ok(Floor {
        total: pct(&total),
        sandbox: pct(&steps[0]),
        create: pct(&steps[1]),
        start: pct(&steps[2]),
        removal: pct(&removal),
        at_once: pct(&at_once),
        at_once_all_running: at_once.iter().max().copied().unwrap_or_default(),
        at_once_all_removed: removing.elapsed(),
    })
}

// ---------------------------------------------------------------------------------------------
// One run

async fn one_run(args: &Args, run: usize) -> R<RunFigures> {
    let mut figures = RunFigures::default();
    figures.loadavg.push(("start".into(), loadavg()));
    let mut cluster = Cluster::new()?;
    let result = match start_cluster(args, &mut cluster).await {
        Ok((client, cri, started)) => {
            phases(args, &mut cluster, &client, &cri, started, &mut figures).await
        }
        Err(e) => Err(e),
    };
    let kept = |what: &str| std::env::temp_dir().join(format!("pod_bench-run{run}-{what}.log"));
    if result.is_err() || args.keep_logs {
        let _ = std::fs::copy(cluster.log(), kept("server"));
        let containerd_log = cluster.dir.join("agent/containerd/containerd.log");
        let _ = std::fs::copy(containerd_log, kept("containerd"));
    }
    let logs = format!(
        "logs: {}, {}",
        kept("server").display(),
        kept("containerd").display()
    );
    result.map_err(|e| format!("{e} ({logs})"))?;
    if args.keep_logs {
        println!("  {logs}");
    }
    Ok(figures)
}

async fn phases(
    args: &Args,
    cluster: &mut Cluster,
    client: &Client,
    cri: &CriClient,
    started: Instant,
    figures: &mut RunFigures,
) -> R<()> {
    let pid = cluster.pid();
    println!(
        "  node Ready, image and ServiceAccount in place {:.1} s after start; server RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib(pid)?
    );
    if args.mode.has(Mode::Idle) {
        let until = started + args.idle_wait;
        println!(
            "  idle: waiting {:.0} s more (until {} s after start)",
            until
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
            args.idle_wait.as_secs()
        );
        tokio::time::sleep_until(until.into()).await;
        let rss = rss_mib(pid)?;
        figures.loadavg.push(("idle".into(), loadavg()));
        let t0 = cpu_ticks(pid)?;
        tokio::time::sleep(args.idle_window).await;
        let ticks = cpu_ticks(pid)? - t0;
        let cpu = ticks as f64 / clock_ticks_per_second() / args.idle_window.as_secs_f64() * 100.0;
        println!(
            "  idle: RSS {rss:.1} MiB at {} s; CPU {cpu:.2} % of a core over the next {} s ({ticks} ticks); RSS then {:.1} MiB",
            args.idle_wait.as_secs(),
            args.idle_window.as_secs(),
            rss_mib(pid)?
        );
        figures.idle_rss_mib = Some(rss);
        figures.idle_cpu_pct = Some(cpu);
    }
    let _pod_network = lock_pod_network().await?;
    let names =
        |prefix: &str| -> Vec<String> { (0..args.pods).map(|i| format!("{prefix}-{i}")).collect() };
    if args.mode.has(Mode::Startup) {
        figures.loadavg.push(("floor".into(), loadavg()));
        let f = floor(cluster, cri, args.pods).await?;
        println!(
            "  floor, one at a time: sandbox+create+start {} (sandbox {}, create {}, start {}); stop+remove {}",
            f.total, f.sandbox, f.create, f.start, f.removal
        );
        println!(
            "  floor, at once: {}; all running after {:.2} s; all removed {:.2} s after the removals started",
            f.at_once,
            f.at_once_all_running.as_secs_f64(),
            f.at_once_all_removed.as_secs_f64()
        );
        figures.floor = Some(f);
    }
    if args.mode.has(Mode::Startup) || args.mode.has(Mode::Idle) {
        figures.loadavg.push(("at once".into(), loadavg()));
        let s = startup_batch(cluster, client, names("burst"), true, Some(pid)).await?;
        let busy = s.rss_running_mib;
        figures.busy_rss_mib = busy;
        print_startup("at once", &s, figures.floor.as_ref().map(|f| f.at_once));
        if let Some(kib) = figures.per_pod_kib(args.pods) {
            println!(
                "  RSS with {} running pods {:.1} MiB: {kib:.0} KiB per pod over idle",
                args.pods,
                busy.unwrap_or(f64::NAN)
            );
        }
        if args.mode.has(Mode::Startup) {
            figures.at_once = Some(s);
        }
    }
    if args.mode.has(Mode::Startup) {
        figures.loadavg.push(("one at a time".into(), loadavg()));
        let s = startup_batch(cluster, client, names("seq"), false, None).await?;
        print_startup("one at a time", &s, figures.floor.as_ref().map(|f| f.total));
        figures.one_at_a_time = Some(s);
    }
    if args.mode.has(Mode::Churn) {
        figures.loadavg.push(("churn".into(), loadavg()));
        let (up, down) = churn(cluster, client, args.pods).await?;
        println!(
            "  churn: 0 → {0}: {up:.1} pods/s; {0} → 0: {down:.1} pods/s",
            args.pods
        );
        figures.churn_up = Some(up);
        figures.churn_down = Some(down);
    }
    figures.loadavg.push(("end".into(), loadavg()));
    Ok(())
}

fn print_startup(label: &str, s: &Startup, floor: Option<Pct>) {
    let ratio = floor.map_or(String::new(), |f| {
        format!(" ({} the floor)", ratio(s.latency, f))
    });
    println!(
        "  {label}: startup {}{ratio}; POST→bound {}, bound→running {}; all running after {:.2} s; all gone {:.2} s after delete",
        s.latency,
        s.to_bound,
        s.bound_to_running,
        s.all_running.as_secs_f64(),
        s.all_gone.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// The summary

fn ratio(x: Pct, floor: Pct) -> String {
    format!("×{:.1} / ×{:.1}", x.p50 / floor.p50, x.p99 / floor.p99)
}

fn cell<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or("—".into(), f)
}

fn print_summary(args: &Args, runs: &[RunFigures]) {
    let mut rows: Vec<(String, &str, Vec<String>)> = Vec::new();
    let mut row = |name: &str, goal: &'static str, f: &dyn Fn(&RunFigures) -> String| {
        rows.push((name.to_owned(), goal, runs.iter().map(f).collect()));
    };
    let n = args.pods;
    row(
        &format!("floor, {n} one at a time: CRI sandbox+create+start p50 / p99"),
        "",
        &|r| cell(r.floor.as_ref(), |f| f.total.to_string()),
    );
    row(
        "· RunPodSandbox / CreateContainer / StartContainer p50",
        "",
        &|r| {
            cell(r.floor.as_ref(), |f| {
                format!(
                    "{:.0} / {:.0} / {:.0} ms",
                    f.sandbox.p50, f.create.p50, f.start.p50
                )
            })
        },
    );
    row("· StopPodSandbox + RemovePodSandbox p50 / p99", "", &|r| {
        cell(r.floor.as_ref(), |f| f.removal.to_string())
    });
    row(
        &format!("floor, {n} at once: p50 / p99 from the common start"),
        "",
        &|r| cell(r.floor.as_ref(), |f| f.at_once.to_string()),
    );
    row(
        "· all running after / all removed (at once) after",
        "",
        &|r| {
            cell(r.floor.as_ref(), |f| {
                format!(
                    "{:.1} s / {:.1} s",
                    f.at_once_all_running.as_secs_f64(),
                    f.at_once_all_removed.as_secs_f64()
                )
            })
        },
    );
    type Pick = fn(&RunFigures) -> Option<(Startup, Option<Pct>)>;
    let batches: [(&str, Pick); 2] = [
        ("one at a time", |r| {
            Some((r.one_at_a_time?, r.floor.as_ref().map(|f| f.total)))
        }),
        ("at once", |r| {
            Some((r.at_once?, r.floor.as_ref().map(|f| f.at_once)))
        }),
    ];
    for (label, pick) in batches {
        row(
            &format!("startup, {n} {label}, p50 / p99"),
            "≤ 250 / ≤ 500 ms",
            &|r| cell(pick(r), |(s, _)| s.latency.to_string()),
        );
        row(
            "· ratio to the floor p50 / p99",
            "→ 1",
            &|r| match pick(r) {
                Some((s, Some(f))) => ratio(s.latency, f),
                _ => "—".into(),
            },
        );
        row("· POST→bound / bound→running p50", "", &|r| {
            cell(pick(r), |(s, _)| {
                format!("{:.0} / {:.0} ms", s.to_bound.p50, s.bound_to_running.p50)
            })
        });
        row("· all running after / all gone after delete", "", &|r| {
            cell(pick(r), |(s, _)| {
                format!(
                    "{:.1} s / {:.1} s",
                    s.all_running.as_secs_f64(),
                    s.all_gone.as_secs_f64()
                )
            })
        });
    }
    row(
        &format!("churn: Deployment 0 → {n}, to Running"),
        "≥ 20 pods/s",
        &|r| cell(r.churn_up, |v| format!("{v:.1} pods/s")),
    );
    row(
        &format!("churn: {n} → 0, to gone"),
        "≥ 20 pods/s",
        &|r| cell(r.churn_down, |v| format!("{v:.1} pods/s")),
    );
    let idle = args.idle_wait.as_secs();
    let window = args.idle_window.as_secs();
    row(
        &format!("idle RSS at {idle} s (k3rs server + agent)"),
        "≤ 64 MB",
        &|r| cell(r.idle_rss_mib, |v| format!("{v:.1} MiB")),
    );
    row(&format!("idle CPU over {window} s"), "≤ 0.5 %", &|r| {
        cell(r.idle_cpu_pct, |v| format!("{v:.2} %"))
    });
    row(&format!("RSS with {n} running pods"), "", &|r| {
        cell(r.busy_rss_mib, |v| format!("{v:.1} MiB"))
    });
    row("agent memory per running pod", "≤ 100 KB", &|r| {
        cell(r.per_pod_kib(n), |v| format!("{v:.0} KiB"))
    });
    row("load average (1/5/15 min) at each phase", "", &|r| {
        r.loadavg
            .iter()
            .map(|(phase, l)| format!("{phase}: {l}"))
            .collect::<Vec<_>>()
            .join("; ")
    });

    let header: Vec<String> = (1..=runs.len()).map(|i| format!("run {i}")).collect();
    println!("\n| metric | goal | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(runs.len()));
    for (name, goal, cells) in rows {
        println!("| {name} | {goal} | {} |", cells.join(" | "));
    }
}

// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pod_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> R<()> {
    let args = parse_args()?;
    if !args.bin.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release --bin k3rs` first (or set K3RS_BIN)",
            args.bin.display()
        ));
    }
    let rt = ctx(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "runtime",
    )?;
    rt.block_on(async {
        tokio::select! {
            r = all_runs(&args) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted; cleaned up".into()),
        }
    })
}

async fn all_runs(args: &Args) -> R<()> {
    println!(
        "pod_bench: {} run(s), {} pods, idle wait {} s, window {} s, binary {}",
        args.runs,
        args.pods,
        args.idle_wait.as_secs(),
        args.idle_window.as_secs(),
        args.bin.display()
    );
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        println!("run {run} (load average {})", loadavg());
        runs.push(one_run(args, run).await?);
    }
    print_summary(args, &runs);
    Ok(())
}
