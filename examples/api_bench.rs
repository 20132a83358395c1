//! API-server benchmarks of issue 2: start a fresh release `k3rs server` per run and measure
//! exec → /readyz, idle RSS, create throughput with 64 clients, create latency at a fixed
//! 200 req/s, GET and LIST latency, and watch delivery latency — each beside a floor
//! (the same request shape against `/version`, an in-memory endpoint) where one exists.
//!
//! Run: `cargo build --release --bin k3rs && cargo run --release --example api_bench -- --runs 3`
//! Options: `--runs N` (default 1), `--no-pin` (do not pin server to core 0 and bench to
//! core 1 with `taskset`). The server binary is `target/release/k3rs` or `$K3RS_BIN`.
//! All traffic goes to 127.0.0.1.

use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use serde_json::json;

/// Concurrent clients of the throughput test.
const TASKS: usize = 64;
/// kube::Client instances (connection pools) shared by the tasks.
const CLIENTS: usize = 8;
const THROUGHPUT_SECS: u64 = 5;
const OPEN_LOOP_RATE: u64 = 200;
const OPEN_LOOP_SECS: u64 = 10;
const FLOOR_OPEN_LOOP_SECS: u64 = 3;
const GET_SAMPLES: usize = 5000;
const PODS: usize = 1000;
const LIST_SAMPLES: usize = 50;
const WATCHERS: usize = 10;
const WATCH_RATE: u64 = 1000;
const WATCH_SECS: u64 = 5;

type R<T> = Result<T, String>;

trait Ctx<T> {
    fn ctx(self, what: &str) -> R<T>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> R<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

struct Args {
    runs: usize,
    pin: bool,
    bin: PathBuf,
}

fn parse_args() -> R<Args> {
    let mut args = Args {
        runs: 1,
        pin: true,
        bin: std::env::var_os("K3RS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/k3rs")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                args.runs = it
                    .next()
                    .ok_or("--runs needs a number")?
                    .parse()
                    .ctx("--runs")?
            }
            "--no-pin" => args.pin = false,
            "-h" | "--help" => {
                println!(
                    "usage: api_bench [--runs N] [--no-pin]   (server binary: $K3RS_BIN or target/release/k3rs)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if !args.bin.is_file() {
        return Err(format!(
            "server binary {} not found: run `cargo build --release --bin k3rs` or set K3RS_BIN",
            args.bin.display()
        ));
    }
    Ok(args)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("api_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> R<()> {
    let args = parse_args()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let pin = args.pin && taskset && cpus >= 2;
    if args.pin && !pin {
        eprintln!("api_bench: not pinning (taskset available: {taskset}, cpus: {cpus})");
    }
    if pin {
        // Before the runtime exists: every thread started later inherits core 1.
        let ok = Command::new("taskset")
            .args(["-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("taskset -p -c 1 <bench pid> failed".into());
        }
    }
    // Pinned to one core, the bench runs on one thread: with a multi-thread runtime the
    // block_on thread and the worker would hand every request to each other on the same
    // core, and a woken thread can wait a whole scheduler slice (≈ 3–4 ms) — a client-side
    // tail that measured p99 ≈ 2–3 ms even for /version (≈ 0.09 ms on one thread).
    let rt = if pin {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .ctx("tokio runtime")?;
    println!(
        "api_bench: {} run(s), server {}, pinning: {}, load before: {}",
        args.runs,
        args.bin.display(),
        if pin {
            "server core 0, bench core 1"
        } else {
            "none"
        },
        loadavg()
    );
    let mut results = Vec::new();
    for run in 1..=args.runs {
        println!("\n=== run {run} ===");
        let r = rt.block_on(one_run(&args.bin, pin))?;
        r.print();
        results.push(r);
        println!("load after run {run}: {}", loadavg());
    }
    summary(&results);
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------- process accounting ----------

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system, all threads) of a process, from /proc/<pid>/stat.
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / clk_tck()
}

/// Open sockets of a process (listener + one per client connection).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn vm_rss_kb(pid: u32) -> R<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ctx("read status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/<pid>/status".into())
}

/// CPU of the bench and the server over one phase, in % of one core.
struct Cpu {
    server_pid: String,
    t: Instant,
    bench: f64,
    server: f64,
}

#[derive(Clone, Copy, Default)]
struct CpuUse {
    bench_pct: f64,
    server_pct: f64,
}

impl Cpu {
    fn start(server_pid: u32) -> Self {
        let server_pid = server_pid.to_string();
        Self {
            bench: cpu_secs("self"),
            server: cpu_secs(&server_pid),
            server_pid,
            t: Instant::now(),
        }
    }
    fn stop(&self) -> CpuUse {
        let wall = self.t.elapsed().as_secs_f64().max(1e-9);
        CpuUse {
            bench_pct: 100.0 * (cpu_secs("self") - self.bench) / wall,
            server_pct: 100.0 * (cpu_secs(&self.server_pid) - self.server) / wall,
        }
    }
}

// ---------- statistics ----------

#[derive(Clone, Copy, Default)]
struct Lat {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

/// Percentiles in milliseconds of samples given in milliseconds (may be negative).
fn lat_ms(mut v: Vec<f64>) -> Lat {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let at = |p: f64| {
        if n == 0 {
            f64::NAN
        } else {
            v[((p * n as f64).ceil() as usize).clamp(1, n) - 1]
        }
    };
    Lat {
        n,
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
    }
}

fn lat(v: &[Duration]) -> Lat {
    lat_ms(v.iter().map(|d| d.as_secs_f64() * 1e3).collect())
}

impl Display for Lat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} / {:.2} ms (max {:.2}, n={})",
            self.p50, self.p99, self.max, self.n
        )
    }
}

// ---------- server ----------

struct Server {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> R<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ctx("finding a free loopback port")
}

fn spawn_server(bin: &Path, port: u16, pin: bool) -> R<(Server, Instant)> {
    let dir = tempfile::Builder::new()
        .prefix("k3rs-api-bench-")
        .tempdir()
        .ctx("temp dir")?;
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "{}\n").ctx("writing config.yaml")?;
    let log = std::fs::File::create(dir.path().join("server.log")).ctx("server log")?;
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.arg("server")
        .arg("--disable-agent")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--https-listen-port={port}"))
        .arg("--write-kubeconfig")
        .arg(dir.path().join("kubeconfig.yaml"))
        .arg("--config")
        .arg(&config)
        .env_remove("K3RS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let started = Instant::now();
    let child = cmd.spawn().ctx("starting k3rs server")?;
    Ok((Server { child, dir }, started))
}

impl Server {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

/// An anonymous client that accepts any serving certificate: /readyz is public, and the
/// CA does not exist before the server makes it.
fn anonymous_client(port: u16) -> R<Client> {
    let url = format!("https://127.0.0.1:{port}")
        .parse()
        .ctx("server URL")?;
    let mut cfg = Config::new(url);
    cfg.accept_invalid_certs = true;
    cfg.default_retry = false;
    cfg.connect_timeout = Some(Duration::from_secs(1));
    cfg.read_timeout = Some(Duration::from_secs(5));
    Client::try_from(cfg).ctx("anonymous client")
}

async fn get_status(client: &Client, path: &str) -> R<(u16, usize)> {
    let req = http::Request::get(path)
        .body(kube::client::Body::empty())
        .ctx("request")?;
    let resp = client.send(req).await.ctx(path)?;
    let code = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .ctx("reading body")?
        .to_bytes();
    Ok((code, body.len()))
}

async fn wait_ready(server: &mut Server, started: Instant, probe: &Client) -> R<Duration> {
    loop {
        if let Ok(Ok((200, _))) =
            tokio::time::timeout(Duration::from_secs(2), get_status(probe, "/readyz")).await
        {
            return Ok(started.elapsed());
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "server exited with {status} before ready:\n{}",
                server.log_tail()
            ));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "server not ready after 30 s:\n{}",
                server.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn admin_config(kubeconfig: &Path) -> R<Config> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).ctx("reading the kubeconfig")?;
    let mut cfg = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .ctx("kubeconfig")?;
    // Count every error; kube's default retry of 429/5xx would hide them.
    cfg.default_retry = false;
    Ok(cfg)
}

// ---------- workloads ----------

fn configmap(name: &str, t_nanos: u128) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.data = Some(
        [
            ("t".to_string(), t_nanos.to_string()),
            (
                "payload".to_string(),
                "x".repeat(128), // a small realistic value
            ),
        ]
        .into_iter()
        .collect(),
    );
    cm
}

fn pod(i: usize) -> R<Pod> {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:04}"),
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "5d8f7c9b6"},
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.k8s.io/nginx-slim:0.27",
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 10},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }))
    .ctx("pod spec")
}

async fn create_namespace(client: &Client, name: &str) -> R<()> {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .ctx(&format!("creating namespace {name}"))?;
    Ok(())
}

struct Throughput {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    secs: f64,
    lat: Lat,
    cpu: CpuUse,
}

/// `TASKS` tasks over `clients`, each creating ConfigMaps back to back until `secs` pass.
async fn closed_loop_creates(
    clients: &[Client],
    ns: &str,
    prefix: &str,
    dur: Duration,
    server_pid: u32,
) -> R<Throughput> {
    let cpu = Cpu::start(server_pid);
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let api: Api<ConfigMap> = Api::namespaced(clients[i % clients.len()].clone(), ns);
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lats = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut j = 0u64;
            while Instant::now() < deadline {
                let cm = configmap(&format!("{prefix}-{i}-{j}"), 0);
                j += 1;
                let t = Instant::now();
                match api.create(&PostParams::default(), &cm).await {
                    Ok(_) => lats.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (lats, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.ctx("throughput task")?;
        all.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Throughput {
        ok: all.len() as u64,
        errors,
        first_error,
        secs,
        lat: lat(&all),
        cpu: cpu.stop(),
    })
}

struct OpenLoop {
    lat: Lat,
    errors: u64,
    first_error: Option<String>,
    rate: f64,
    /// Worst lateness of a send against its schedule (timer granularity, bench overload).
    max_lag_ms: f64,
}

/// Fire `make(i)` at `rate`/s for `dur`, each in its own task, so slow responses do not
/// delay later sends. Latency runs from the actual send to the response.
async fn open_loop<F, Fut>(rate: u64, dur: Duration, make: F) -> R<OpenLoop>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = R<()>> + Send + 'static,
{
    let n = rate * dur.as_secs();
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now() + Duration::from_millis(5);
    let mut handles = Vec::with_capacity(n as usize);
    let mut max_lag = Duration::ZERO;
    for i in 0..n {
        let due = start + period * (i as u32);
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        max_lag = max_lag.max(sent.saturating_duration_since(due));
        let fut = make(i);
        handles.push(tokio::spawn(async move {
            let r = fut.await;
            (sent.elapsed(), r)
        }));
    }
    let secs = start.elapsed().as_secs_f64();
    let mut lats = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for h in handles {
        let (d, r) = h.await.ctx("open-loop task")?;
        match r {
            Ok(()) => lats.push(d),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    Ok(OpenLoop {
        lat: lat(&lats),
        errors,
        first_error,
        rate: n as f64 / secs,
        max_lag_ms: max_lag.as_secs_f64() * 1e3,
    })
}

/// Sequential GETs of `path`; latency of each (status must be 200).
async fn sequential_get(client: &Client, path: &str, n: usize, warmup: usize) -> R<(Lat, usize)> {
    let mut lats = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..warmup + n {
        let t = Instant::now();
        let (code, len) = get_status(client, path).await?;
        let d = t.elapsed();
        if code != 200 {
            return Err(format!("GET {path}: HTTP {code}"));
        }
        bytes = len;
        if i >= warmup {
            lats.push(d);
        }
    }
    Ok((lat(&lats), bytes))
}

struct WatchResult {
    from_send: Lat,
    from_ack: Lat,
    writes: Lat,
    write_rate: f64,
    write_errors: u64,
    expected: usize,
    missing: usize,
    watch_errors: u64,
    cpu: CpuUse,
}

/// `WATCHERS` watches of one namespace's ConfigMaps, each on its own client (connection),
/// while a writer creates ConfigMaps at `WATCH_RATE`/s; each object carries its send time.
async fn watch_bench(
    cfg: &Config,
    writers: &[Client],
    ns: &str,
    server_pid: u32,
) -> R<WatchResult> {
    let epoch = Instant::now();
    let writer_api: Api<ConfigMap> = Api::namespaced(writers[0].clone(), ns);
    let rv = writer_api
        .list(&ListParams::default().limit(1))
        .await
        .ctx("list before watch")?
        .metadata
        .resource_version
        .unwrap_or_else(|| "0".into());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let client = Client::try_from(cfg.clone()).ctx("watch client")?;
        let api: Api<ConfigMap> = Api::namespaced(client, ns);
        let stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .ctx("starting a watch")?;
        let mut stop = stop_rx.clone();
        let received = received.clone();
        watchers.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            // (seq, send nanos, arrival nanos)
            let mut seen: Vec<(u64, u128, u128)> = Vec::new();
            let mut errors = 0u64;
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    ev = stream.next() => match ev {
                        Some(Ok(WatchEvent::Added(cm))) => {
                            let arrived = epoch.elapsed().as_nanos();
                            let seq = cm.metadata.name.as_deref()
                                .and_then(|n| n.strip_prefix("w-"))
                                .and_then(|s| s.parse().ok());
                            let sent = cm.data.as_ref()
                                .and_then(|d| d.get("t"))
                                .and_then(|t| t.parse().ok());
                            match (seq, sent) {
                                (Some(seq), Some(sent)) => {
                                    seen.push((seq, sent, arrived));
                                    received.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => errors += 1,
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) => errors += 1,
                        None => { errors += 1; break; }
                    }
                }
            }
            (seen, errors)
        }));
    }
    // Acknowledgement time of each write, by sequence number (0 = failed).
    let acks: Arc<Vec<AtomicU64>> = Arc::new(
        (0..WATCH_RATE * WATCH_SECS)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let cpu = Cpu::start(server_pid);
    let writers = writers.to_vec();
    let acks_w = acks.clone();
    let ns_w = ns.to_string();
    let w = open_loop(WATCH_RATE, Duration::from_secs(WATCH_SECS), move |i| {
        let api: Api<ConfigMap> =
            Api::namespaced(writers[i as usize % writers.len()].clone(), &ns_w);
        let acks = acks_w.clone();
        async move {
            let cm = configmap(&format!("w-{i}"), epoch.elapsed().as_nanos());
            api.create(&PostParams::default(), &cm)
                .await
                .map_err(|e| e.to_string())?;
            acks[i as usize].store(epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
            Ok(())
        }
    })
    .await?;
    let ok_writes = acks
        .iter()
        .filter(|a| a.load(Ordering::Relaxed) != 0)
        .count();
    let expected = ok_writes * WATCHERS;
    let drain = Instant::now();
    while (received.load(Ordering::Relaxed) as usize) < expected
        && drain.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = cpu.stop();
    let _ = stop_tx.send(true);
    let mut from_send = Vec::new();
    let mut from_ack = Vec::new();
    let mut missing = 0;
    let mut watch_errors = 0;
    for h in watchers {
        let (seen, errors) = h.await.ctx("watcher task")?;
        watch_errors += errors;
        let mut distinct = HashSet::new();
        for (seq, sent, arrived) in seen {
            distinct.insert(seq);
            from_send.push((arrived as f64 - sent as f64) / 1e6);
            if let Some(a) = acks.get(seq as usize) {
                let a = a.load(Ordering::Relaxed);
                if a != 0 {
                    from_ack.push((arrived as f64 - a as f64) / 1e6);
                }
            }
        }
        missing += ok_writes.saturating_sub(distinct.len());
    }
    Ok(WatchResult {
        from_send: lat_ms(from_send),
        from_ack: lat_ms(from_ack),
        writes: w.lat,
        write_rate: w.rate,
        write_errors: w.errors,
        expected,
        missing,
        watch_errors,
        cpu,
    })
}

// ---------- one run ----------

struct RunResult {
    ready: Duration,
    rss_mb: f64,
    /// After all the phases (the store keeps current objects in memory).
    rss_end_mb: f64,
    idle_cpu_pct: f64,
    tput: Throughput,
    create: OpenLoop,
    create_floor: OpenLoop,
    get: Lat,
    get_floor: Lat,
    /// Connections the client opened during the sequential GET loops.
    get_new_connections: usize,
    list: Lat,
    list_bytes: usize,
    pods_per_sec: f64,
    watch: WatchResult,
}

async fn one_run(bin: &Path, pin: bool) -> R<RunResult> {
    // Start: exec → /readyz 200, polled every 5 ms over HTTPS.
    // The probe client is built before the exec, so its set-up is not timed.
    let port = free_port()?;
    let probe = anonymous_client(port)?;
    let (mut server, started) = spawn_server(bin, port, pin)?;
    let ready = wait_ready(&mut server, started, &probe).await?;
    let pid = server.child.id();
    println!("ready in {:.1} ms", ready.as_secs_f64() * 1e3);
    let idle = Cpu::start(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_cpu_pct = idle.stop().server_pct;
    let rss_mb = vm_rss_kb(pid)? as f64 / 1024.0;

    let cfg = admin_config(&server.dir.path().join("kubeconfig.yaml")).await?;
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client::try_from(cfg.clone()).ctx("client"))
        .collect::<R<_>>()?;
    for ns in ["bench", "bench-pods", "bench-watch"] {
        create_namespace(&clients[0], ns).await?;
    }

    // Throughput: 64 tasks over 8 clients; a short warm-up opens the connections.
    closed_loop_creates(&clients, "bench", "warm", Duration::from_millis(500), pid).await?;
    let tput = closed_loop_creates(
        &clients,
        "bench",
        "tp",
        Duration::from_secs(THROUGHPUT_SECS),
        pid,
    )
    .await?;
    println!(
        "throughput: {:.0}/s, {} errors",
        tput.ok as f64 / tput.secs,
        tput.errors
    );

    // Create latency at a fixed 200 req/s (open loop), and the same schedule on /version.
    let api_for = |i: u64| -> Api<ConfigMap> {
        Api::namespaced(clients[i as usize % clients.len()].clone(), "bench")
    };
    let create = open_loop(OPEN_LOOP_RATE, Duration::from_secs(OPEN_LOOP_SECS), |i| {
        let api = api_for(i);
        async move {
            api.create(&PostParams::default(), &configmap(&format!("ol-{i}"), 0))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await?;
    let create_floor = open_loop(
        OPEN_LOOP_RATE,
        Duration::from_secs(FLOOR_OPEN_LOOP_SECS),
        |i| {
            let client = clients[i as usize % clients.len()].clone();
            async move {
                match get_status(&client, "/version").await? {
                    (200, _) => Ok(()),
                    (code, _) => Err(format!("/version: HTTP {code}")),
                }
            }
        },
    )
    .await?;
    println!("create at 200/s: {}", create.lat);

    // GET of one ConfigMap, sequential, beside /version.
    Api::<ConfigMap>::namespaced(clients[0].clone(), "bench")
        .create(&PostParams::default(), &configmap("probe", 0))
        .await
        .ctx("creating the probe ConfigMap")?;
    let sockets_before = sockets(pid);
    let (get, _) = sequential_get(
        &clients[0],
        "/api/v1/namespaces/bench/configmaps/probe",
        GET_SAMPLES,
        100,
    )
    .await?;
    let (get_floor, _) = sequential_get(&clients[0], "/version", GET_SAMPLES, 100).await?;
    let get_new_connections = sockets(pid).saturating_sub(sockets_before);
    println!(
        "GET: {get}; /version: {get_floor}; server sockets {sockets_before} → +{get_new_connections}"
    );

    // LIST of 1,000 pods.
    let t = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..TASKS {
        let api: Api<Pod> = Api::namespaced(clients[k % clients.len()].clone(), "bench-pods");
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= PODS {
                    return Ok::<(), String>(());
                }
                api.create(&PostParams::default(), &pod(i)?)
                    .await
                    .ctx("creating a pod")?;
            }
        }));
    }
    for t in tasks {
        t.await.ctx("pod task")??;
    }
    let pods_per_sec = PODS as f64 / t.elapsed().as_secs_f64();
    let n = Api::<Pod>::namespaced(clients[0].clone(), "bench-pods")
        .list(&ListParams::default())
        .await
        .ctx("listing pods")?
        .items
        .len();
    if n != PODS {
        return Err(format!("LIST returned {n} pods, expected {PODS}"));
    }
    let (list, list_bytes) = sequential_get(
        &clients[0],
        "/api/v1/namespaces/bench-pods/pods",
        LIST_SAMPLES,
        2,
    )
    .await?;
    println!("LIST 1000 pods: {list}, {list_bytes} bytes");

    // Watch delivery.
    let watch = watch_bench(&cfg, &clients, "bench-watch", pid).await?;
    let rss_end_mb = vm_rss_kb(pid)? as f64 / 1024.0;
    drop(server);
    Ok(RunResult {
        ready,
        rss_mb,
        rss_end_mb,
        idle_cpu_pct,
        tput,
        create,
        create_floor,
        get,
        get_floor,
        get_new_connections,
        list,
        list_bytes,
        pods_per_sec,
        watch,
    })
}

impl RunResult {
    fn print(&self) {
        let t = &self.tput;
        let w = &self.watch;
        println!("| metric | result | goal |");
        println!("|---|---|---|");
        println!(
            "| exec → /readyz 200 | {:.1} ms | ≤ 500 ms |",
            self.ready.as_secs_f64() * 1e3
        );
        println!(
            "| idle RSS (VmRSS 2 s after ready) | {:.1} MB (server CPU in those 2 s: {:.1} %; RSS at the end of the run {:.0} MB) | ≤ 40 MB |",
            self.rss_mb, self.idle_cpu_pct, self.rss_end_mb
        );
        println!(
            "| creates/s, {TASKS} tasks over {CLIENTS} clients, {THROUGHPUT_SECS} s | {:.0}/s ({} ok, {} errors{}); latency {}; CPU bench {:.0} % / server {:.0} % of a core | ≥ 5,000/s, 0 errors |",
            t.ok as f64 / t.secs,
            t.ok,
            t.errors,
            t.first_error
                .as_deref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default(),
            t.lat,
            t.cpu.bench_pct,
            t.cpu.server_pct
        );
        println!(
            "| create at {OPEN_LOOP_RATE}/s open loop, {OPEN_LOOP_SECS} s | {} ({:.0}/s, {} errors{}, max send lag {:.2} ms) | p50 ≤ 2, p99 ≤ 15 ms |",
            self.create.lat,
            self.create.rate,
            self.create.errors,
            self.create
                .first_error
                .as_deref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default(),
            self.create.max_lag_ms
        );
        println!(
            "| floor: /version at {OPEN_LOOP_RATE}/s open loop | {} ({} errors) | |",
            self.create_floor.lat, self.create_floor.errors
        );
        println!(
            "| GET one ConfigMap, sequential | {} | p99 ≤ 2 ms |",
            self.get
        );
        println!("| floor: GET /version, sequential | {} | |", self.get_floor);
        println!(
            "| LIST 1,000 pods ({} KiB), 50 sequential | {} (pods created at {:.0}/s) | p99 ≤ 30 ms |",
            self.list_bytes / 1024,
            self.list,
            self.pods_per_sec
        );
        println!(
            "| watch delivery, {WATCHERS} watchers, from send | {} | p99 ≤ 5 ms |",
            w.from_send
        );
        println!(
            "| watch delivery, from the writer's acknowledgement | {} | |",
            w.from_ack
        );
        println!(
            "| watch writer: create latency (floor of from-send) | {} at {:.0}/s, {} errors; events {} expected, {} missing, {} watch errors; CPU bench {:.0} % / server {:.0} % | |",
            w.writes,
            w.write_rate,
            w.write_errors,
            w.expected,
            w.missing,
            w.watch_errors,
            w.cpu.bench_pct,
            w.cpu.server_pct
        );
    }
}

fn summary(results: &[RunResult]) {
    println!("\n=== summary (p50 / p99 in ms) ===");
    let head: Vec<String> = (1..=results.len()).map(|i| format!("run {i}")).collect();
    println!("| metric | {} |", head.join(" | "));
    println!("|---|{}", "---|".repeat(results.len()));
    let row = |name: &str, f: &dyn Fn(&RunResult) -> String| {
        let cells: Vec<String> = results.iter().map(f).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    let pp = |l: &Lat| format!("{:.2} / {:.2}", l.p50, l.p99);
    row("exec → /readyz (ms)", &|r| {
        format!("{:.0}", r.ready.as_secs_f64() * 1e3)
    });
    row("idle VmRSS (MB)", &|r| format!("{:.1}", r.rss_mb));
    row("  VmRSS after all phases (MB)", &|r| {
        format!("{:.0}", r.rss_end_mb)
    });
    row("creates/s, 64 clients (errors)", &|r| {
        format!("{:.0} ({})", r.tput.ok as f64 / r.tput.secs, r.tput.errors)
    });
    row("  latency under that load", &|r| pp(&r.tput.lat));
    row("  CPU bench / server (% core)", &|r| {
        format!("{:.0} / {:.0}", r.tput.cpu.bench_pct, r.tput.cpu.server_pct)
    });
    row("create @200/s", &|r| pp(&r.create.lat));
    row("  floor: /version @200/s", &|r| pp(&r.create_floor.lat));
    row("GET one ConfigMap", &|r| pp(&r.get));
    row("  floor: GET /version", &|r| pp(&r.get_floor));
    row("  new connections in the GET loops", &|r| {
        r.get_new_connections.to_string()
    });
    row("LIST 1,000 pods", &|r| pp(&r.list));
    row("watch delivery from send", &|r| pp(&r.watch.from_send));
    row("watch delivery from ack", &|r| pp(&r.watch.from_ack));
    row("  writer create @1000/s", &|r| pp(&r.watch.writes));
    row("  missing events / errors", &|r| {
        format!(
            "{} / {}",
            r.watch.missing,
            r.watch.write_errors + r.watch.watch_errors
        )
    });
}
