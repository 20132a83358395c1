//! End-to-end scheduling benchmark: start a release `k3rs server --disable-agent
//! --simulate-nodes N`, wait until every node is Ready, create bare pods (a small cpu request)
//! from concurrent client tasks, and measure from the first POST until a watch has seen every
//! pod bound (spec.nodeName set): pods/s, and the server's RSS afterwards.
//!
//! Run: `cargo build --release --bin k3rs && cargo run --release --example sched_e2e_bench --
//! --nodes 1000 --pods 30000` Options: `--tasks T` (default 48), `--cluster-cidr CIDR`
//! (default 10.32.0.0/12 up to 4,096 nodes, 10.0.0.0/8 above — node IPs and podCIDRs are API
//! data only), `--no-pin` (do not pin the server to core 0 and the bench to core 1). The server
//! binary is `target/release/k3rs` or `$K3RS_BIN`.

use std::collections::HashSet;
use std::fmt::Display;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use serde_json::json;

type R<T> = Result<T, String>;

fn ctx<T, E: Display>(r: Result<T, E>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

struct Args {
    nodes: usize,
    pods: usize,
    tasks: usize,
    cidr: Option<String>,
    pin: bool,
    bin: PathBuf,
}

fn parse_args() -> R<Args> {
    let mut a = Args {
        nodes: 1000,
        pods: 30_000,
        tasks: 48,
        cidr: None,
        pin: true,
        bin: std::env::var_os("K3RS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/k3rs")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--nodes" => a.nodes = ctx(val("--nodes")?.parse(), "--nodes")?,
            "--pods" => a.pods = ctx(val("--pods")?.parse(), "--pods")?,
            "--tasks" => a.tasks = ctx(val("--tasks")?.parse(), "--tasks")?,
            "--cluster-cidr" => a.cidr = Some(val("--cluster-cidr")?),
            "--no-pin" => a.pin = false,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

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

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sched_e2e_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> R<()> {
    let args = parse_args()?;
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = args.pin && taskset && cpus >= 2;
    if pin {
        let ok = Command::new("taskset")
            .args(["-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("taskset -p -c 1 <bench pid> failed".into());
        }
    }
    let rt = ctx(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "runtime",
    )?;
    rt.block_on(run(args, pin))
}

async fn run(args: Args, pin: bool) -> R<()> {
    let cidr = args.cidr.clone().unwrap_or_else(|| {
        if args.nodes > 4096 {
            "10.0.0.0/8".into()
        } else {
            "10.32.0.0/12".into()
        }
    });
    let dir = ctx(
        tempfile::Builder::new()
            .prefix("k3rs-sched-bench-")
            .tempdir(),
        "temp dir",
    )?;
    let config = dir.path().join("config.yaml");
    ctx(std::fs::write(&config, "{}\n"), "config.yaml")?;
    let log = ctx(
        std::fs::File::create(dir.path().join("server.log")),
        "server log",
    )?;
    let port = ctx(
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port()),
        "free port",
    )?;
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&args.bin);
        c
    } else {
        Command::new(&args.bin)
    };
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    cmd.arg("server")
        .arg("--disable-agent")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--https-listen-port={port}"))
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .arg("--config")
        .arg(&config)
        .arg("--simulate-nodes")
        .arg(args.nodes.to_string())
        .arg("--cluster-cidr")
        .arg(&cidr)
        .env_remove("K3RS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let started = Instant::now();
    let child = ctx(cmd.spawn(), "starting k3rs server")?;
    let server = Server { child, dir };
    let pid = server.child.id();
    println!(
        "sched_e2e_bench: {} nodes, {} pods, {} tasks, cluster-cidr {cidr}, pinned: {pin}",
        args.nodes, args.pods, args.tasks
    );

    // The admin client, once the kubeconfig exists and the API answers.
    let client = loop {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "server not ready after 60 s (log: {})",
                server.dir.path().join("server.log").display()
            ));
        }
        if kubeconfig.exists()
            && let Ok(kc) = kube::config::Kubeconfig::read_from(&kubeconfig)
            && let Ok(cfg) = Config::from_custom_kubeconfig(kc, &Default::default()).await
            && let Ok(client) = Client::try_from(cfg)
            && client.apiserver_version().await.is_ok()
        {
            break client;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Every node Ready.
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let list = ctx(nodes.list(&ListParams::default()).await, "listing nodes")?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready >= args.nodes {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "only {ready}/{} nodes Ready after 600 s",
                args.nodes
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "all {} nodes Ready {:.1} s after start; server RSS {:.0} MiB",
        args.nodes,
        started.elapsed().as_secs_f64(),
        rss_mib(pid).unwrap_or(0.0)
    );

    let ns = "sched-bench";
    let nss: Api<Namespace> = Api::all(client.clone());
    ctx(
        nss.create(
            &PostParams::default(),
            &ctx(
                serde_json::from_value(json!({"metadata": {"name": ns}})),
                "namespace",
            )?,
        )
        .await,
        "creating the namespace",
    )?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    // The watch starts before the first POST.
    let mut watch = ctx(
        pods.watch(&WatchParams::default().timeout(290), "0").await,
        "watching pods",
    )?
    .boxed();

    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut creators = Vec::new();
    for _ in 0..args.tasks {
        let pods = pods.clone();
        let next = next.clone();
        let errors = errors.clone();
        let total = args.pods;
        creators.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let pod: Pod = match serde_json::from_value(json!({
                    "metadata": {"name": format!("p-{i}")},
                    "spec": {"containers": [{
                        "name": "c", "image": "pause",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }]},
                })) {
                    Ok(p) => p,
                    Err(_) => continue,
                };
                if pods.create(&PostParams::default(), &pod).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut bound: HashSet<String> = HashSet::new();
    let mut created_at: Option<Duration> = None;
    let mut version = "0".to_string();
    while bound.len() + errors.load(Ordering::Relaxed) < args.pods {
        if created_at.is_none() && creators.iter().all(|c| c.is_finished()) {
            created_at = Some(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(1800) {
            return Err(format!("only {} pods bound after 1800 s", bound.len()));
        }
        match tokio::time::timeout(Duration::from_secs(1), watch.next()).await {
            Err(_) => continue,
            Ok(None) => {
                watch = ctx(
                    pods.watch(&WatchParams::default().timeout(290), &version)
                        .await,
                    "re-watching pods",
                )?
                .boxed();
            }
            Ok(Some(Err(e))) => return Err(format!("watch: {e}")),
            Ok(Some(Ok(ev))) => match ev {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                    if let Some(rv) = p.metadata.resource_version.clone() {
                        version = rv;
                    }
                    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
                        && let Some(name) = p.metadata.name
                    {
                        bound.insert(name);
                    }
                }
                WatchEvent::Bookmark(b) => version = b.metadata.resource_version,
                WatchEvent::Deleted(_) => {}
                WatchEvent::Error(e) => return Err(format!("watch error: {e:?}")),
            },
        }
    }
    let elapsed = t0.elapsed();
    let created = created_at.unwrap_or(elapsed);
    println!(
        "created {} pods in {:.1} s ({:.0} creates/s, {} errors); all bound after {:.1} s: {:.0} pods/s end to end",
        args.pods,
        created.as_secs_f64(),
        args.pods as f64 / created.as_secs_f64(),
        errors.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        args.pods as f64 / elapsed.as_secs_f64()
    );
    println!("server RSS after: {:.0} MiB", rss_mib(pid).unwrap_or(0.0));
    Ok(())
}
