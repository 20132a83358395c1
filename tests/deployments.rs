//! End-to-end tests of the ReplicaSet, ReplicationController and Deployment controllers
//! against a real `k3rs server`, driven by stock kubectl 1.33 and kube-rs.
//!
//! Most tests need no kubelet: their pods use `schedulerName: manual` (so the scheduler
//! leaves them alone) and a helper in the test plays the kubelet's part, writing each new pod
//! Running and Ready through `pods/status`. One test uses `--simulate-nodes 3` instead.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, wait_for};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

const V: &str = "1.33";

fn get_json(server: &Server, args: &[&str]) -> Option<Value> {
    server.get_json(V, args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Play the kubelet for pods with `schedulerName: manual`: write every new pod Running and
/// Ready (with containerStatuses) through `pods/status`.
fn spawn_ready_helper(rt: &tokio::runtime::Runtime, server: &Server) {
    let client = rt.block_on(server.client());
    rt.spawn(async move {
        let api: Api<Pod> = Api::all(client.clone());
        let done: Arc<Mutex<HashSet<String>>> = Arc::default();
        let limit = Arc::new(tokio::sync::Semaphore::new(64));
        let mut stream = watcher(api, watcher::Config::default())
            .applied_objects()
            .default_backoff()
            .boxed();
        while let Some(Ok(pod)) = stream.next().await {
            let spec = pod.spec.clone().unwrap_or_default();
            if spec.scheduler_name.as_deref() != Some("manual")
                || pod.metadata.deletion_timestamp.is_some()
                || is_ready(&pod)
            {
                continue;
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if !done.lock().expect("lock").insert(uid) {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let now = k8s_openapi::jiff::Timestamp::now().to_string();
            let statuses: Vec<Value> = spec
                .containers
                .iter()
                .map(|c| {
                    json!({"name": c.name, "image": c.image, "imageID": "", "ready": true,
                    "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}}})
                })
                .collect();
            let patch = json!({"status": {
                "phase": "Running",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                ],
                "containerStatuses": statuses,
                "startTime": now,
            }});
            let permit = limit.clone().acquire_owned().await;
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            tokio::spawn(async move {
                let _permit = permit;
                let _ = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            });
        }
    });
}

/// Watches the available pods (Ready, not being deleted) of a label selector and keeps the
/// lowest count seen while armed.
struct Availability {
    current: Arc<AtomicI64>,
    min: Arc<AtomicI64>,
    armed: Arc<AtomicBool>,
}

impl Availability {
    fn spawn(rt: &tokio::runtime::Runtime, server: &Server, selector: &str) -> Self {
        let client = rt.block_on(server.client());
        let current = Arc::new(AtomicI64::new(-1));
        let min = Arc::new(AtomicI64::new(i64::MAX));
        let armed = Arc::new(AtomicBool::new(false));
        let (c, m, a) = (current.clone(), min.clone(), armed.clone());
        let selector = selector.to_string();
        rt.spawn(async move {
            let api: Api<Pod> = Api::namespaced(client, "default");
            let mut avail: HashMap<String, bool> = HashMap::new();
            let mut listing: HashMap<String, bool> = HashMap::new();
            let available = |p: &Pod| is_ready(p) && p.metadata.deletion_timestamp.is_none();
            let mut stream = watcher(api, watcher::Config::default().labels(&selector)).boxed();
            while let Some(ev) = stream.next().await {
                let Ok(ev) = ev else { continue };
                match ev {
                    watcher::Event::Init => listing.clear(),
                    watcher::Event::InitApply(p) => {
                        listing.insert(p.metadata.name.clone().unwrap_or_default(), available(&p));
                    }
                    watcher::Event::InitDone => avail = std::mem::take(&mut listing),
                    watcher::Event::Apply(p) => {
                        avail.insert(p.metadata.name.clone().unwrap_or_default(), available(&p));
                    }
                    watcher::Event::Delete(p) => {
                        avail.remove(p.metadata.name.as_deref().unwrap_or_default());
                    }
                }
                let n = avail.values().filter(|v| **v).count() as i64;
                c.store(n, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) {
                    m.fetch_min(n, Ordering::SeqCst);
                }
            }
        });
        Availability {
            current,
            min,
            armed,
        }
    }

    /// Start recording the minimum once `n` pods are available.
    fn arm_at(&self, n: i64) {
        wait_for(60, "the availability watch to see the pods", || {
            (self.current.load(Ordering::SeqCst) == n).then_some(())
        });
        self.min.store(n, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    fn min(&self) -> i64 {
        self.min.load(Ordering::SeqCst)
    }
}

fn deployment_yaml(
    name: &str,
    replicas: i32,
    image: &str,
    extra_spec: &str,
    pod_extra: &str,
) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n{extra_spec}  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n{pod_extra}      containers:\n      - name: {name}\n        image: {image}\n"
    )
}

/// The pods (JSON) of a label selector.
fn pods(server: &Server, selector: &str) -> Vec<Value> {
    get_json(server, &["pods", "-l", selector])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
}

fn ready_pods_with_image(server: &Server, selector: &str, image: &str) -> usize {
    pods(server, selector)
        .iter()
        .filter(|p| {
            p["metadata"]["deletionTimestamp"].is_null()
                && p["spec"]["containers"][0]["image"] == image
                && p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        })
        .count()
}

fn rollout_status(server: &Server, what: &str) -> String {
    server.ok(V, &["rollout", "status", what, "--timeout=120s"])
}

#[test]
fn deployment_rollout_history_undo_scale_restart() {
    let server = Server::start(&[]);
    let rt = runtime();
    spawn_ready_helper(&rt, &server);
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &deployment_yaml("web", 10, "nginx:1.25", "", "      schedulerName: manual\n"),
    );

    // 10 pods, owned by one ReplicaSet named after its pod-template-hash.
    let rs = wait_for(30, "one ReplicaSet with 10 ready pods", || {
        let list = get_json(&server, &["replicasets", "-l", "app=web"])?;
        let items = list["items"].as_array()?;
        (items.len() == 1 && items[0]["status"]["readyReplicas"] == 10).then(|| items[0].clone())
    });
    let rs_name = rs["metadata"]["name"].as_str().expect("name").to_string();
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash label")
        .to_string();
    assert_eq!(rs_name, format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Deployment");
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    let web = pods(&server, "app=web");
    assert_eq!(web.len(), 10);
    for p in &web {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["name"],
            rs_name.as_str()
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash.as_str());
        assert!(
            p["metadata"]["name"]
                .as_str()
                .expect("name")
                .starts_with(&format!("{rs_name}-"))
        );
    }
    assert!(rollout_status(&server, "deployment/web").contains("successfully rolled out"));
    let d = get_json(&server, &["deployment", "web"]).expect("deployment");
    assert_eq!(d["status"]["replicas"], 10);
    assert_eq!(d["status"]["updatedReplicas"], 10);
    assert_eq!(d["status"]["availableReplicas"], 10);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let conds = d["status"]["conditions"].as_array().expect("conditions");
    let cond = |t: &str| {
        conds
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .expect("condition")
    };
    assert_eq!(cond("Available")["status"], "True");
    assert_eq!(cond("Available")["reason"], "MinimumReplicasAvailable");
    assert_eq!(cond("Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        cond("Progressing")["message"],
        format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
    );

    // A new image rolls out, never below replicas - maxUnavailable (25% of 10 → 2) available.
    let avail = Availability::spawn(&rt, &server, "app=web");
    avail.arm_at(10);
    server.ok(V, &["set", "image", "deployment/web", "web=nginx:1.26"]);
    assert!(rollout_status(&server, "deployment/web").contains("successfully rolled out"));
    wait_for(30, "10 ready pods of nginx:1.26", || {
        (ready_pods_with_image(&server, "app=web", "nginx:1.26") == 10
            && pods(&server, "app=web").len() == 10)
            .then_some(())
    });
    assert!(
        avail.min() >= 8,
        "available pods fell to {} during the rollout",
        avail.min()
    );
    let history = server.ok(V, &["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(revisions.len(), 2, "{history}");
    assert!(
        revisions[0].starts_with('1') && revisions[1].starts_with('2'),
        "{history}"
    );
    let events = server.ok(
        V,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
        ],
    );
    assert!(
        events.contains(&format!("Scaled up replica set {rs_name} from 0 to 10")),
        "{events}"
    );
    assert!(events.contains("ScalingReplicaSet"), "{events}");
    assert!(
        events.contains(&format!("Scaled down replica set {rs_name} from 10 to")),
        "{events}"
    );

    // Undo brings the old image back, as revision 3 of the first ReplicaSet.
    server.ok(V, &["rollout", "undo", "deployment/web"]);
    rollout_status(&server, "deployment/web");
    wait_for(30, "10 ready pods of nginx:1.25 again", || {
        (ready_pods_with_image(&server, "app=web", "nginx:1.25") == 10
            && pods(&server, "app=web").len() == 10)
            .then_some(())
    });
    let rs = get_json(&server, &["replicaset", &rs_name]).expect("first ReplicaSet");
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert!(
        avail.min() >= 8,
        "available pods fell to {} during the undo",
        avail.min()
    );

    // Scale to 0 and to 50.
    server.ok(V, &["scale", "deployment/web", "--replicas=0"]);
    wait_for(30, "no pods", || {
        pods(&server, "app=web").is_empty().then_some(())
    });
    wait_for(30, "status of 0 replicas", || {
        let d = get_json(&server, &["deployment", "web"])?;
        (d["status"]["replicas"].is_null()
            && d["status"]["observedGeneration"] == d["metadata"]["generation"])
            .then_some(())
    });
    server.ok(V, &["scale", "deployment/web", "--replicas=50"]);
    rollout_status(&server, "deployment/web");
    wait_for(60, "50 ready pods", || {
        (ready_pods_with_image(&server, "app=web", "nginx:1.25") == 50).then_some(())
    });

    // Restart: a new ReplicaSet whose pods carry the restartedAt annotation.
    server.ok(V, &["rollout", "restart", "deployment/web"]);
    rollout_status(&server, "deployment/web");
    wait_for(60, "50 restarted pods", || {
        let ps = pods(&server, "app=web");
        (ps.len() == 50
            && ps.iter().all(|p| {
                !p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_null()
                    && p["metadata"]["deletionTimestamp"].is_null()
            }))
        .then_some(())
    });
    let history = server.ok(V, &["rollout", "history", "deployment/web"]);
    assert!(history.lines().any(|l| l.starts_with('4')), "{history}");

    // Deleting a pod of the ReplicaSet makes a new one.
    let victim = pods(&server, "app=web")[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    server.ok(V, &["delete", "pod", &victim]);
    wait_for(30, "a replacement pod", || {
        let ps = pods(&server, "app=web");
        (ps.len() == 50 && ps.iter().all(|p| p["metadata"]["name"] != victim.as_str()))
            .then_some(())
    });
    wait_for(30, "50 ready replicas", || {
        let d = get_json(&server, &["deployment", "web"])?;
        (d["status"]["availableReplicas"] == 50).then_some(())
    });
}

#[test]
fn deployment_recreate_pause_and_history_limit() {
    let server = Server::start(&[]);
    let rt = runtime();
    spawn_ready_helper(&rt, &server);
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &deployment_yaml(
            "api",
            3,
            "busybox:1",
            "  revisionHistoryLimit: 1\n  strategy:\n    type: Recreate\n",
            "      schedulerName: manual\n",
        ),
    );
    rollout_status(&server, "deployment/api");
    // Recreate: the old ReplicaSet is scaled to 0 (its pods gone) before the new one grows.
    let avail = Availability::spawn(&rt, &server, "app=api");
    avail.arm_at(3);
    server.ok(V, &["set", "image", "deployment/api", "api=busybox:2"]);
    rollout_status(&server, "deployment/api");
    wait_for(30, "3 ready busybox:2 pods", || {
        (ready_pods_with_image(&server, "app=api", "busybox:2") == 3).then_some(())
    });
    assert_eq!(avail.min(), 0, "Recreate must stop every old pod first");
    let events = server.ok(
        V,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=api",
        ],
    );
    assert!(events.contains("from 3 to 0"), "{events}");

    // Paused: a template change makes no ReplicaSet until resumed.
    server.ok(V, &["rollout", "pause", "deployment/api"]);
    server.ok(V, &["set", "image", "deployment/api", "api=busybox:3"]);
    wait_for(15, "the Progressing condition DeploymentPaused", || {
        let d = get_json(&server, &["deployment", "api"])?;
        let conds = d["status"]["conditions"].as_array()?;
        conds
            .iter()
            .any(|c| c["type"] == "Progressing" && c["reason"] == "DeploymentPaused")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ready_pods_with_image(&server, "app=api", "busybox:3"), 0);
    server.ok(V, &["rollout", "resume", "deployment/api"]);
    rollout_status(&server, "deployment/api");
    wait_for(30, "3 ready busybox:3 pods", || {
        (ready_pods_with_image(&server, "app=api", "busybox:3") == 3).then_some(())
    });
    // revisionHistoryLimit 1: one old ReplicaSet is kept besides the current one.
    wait_for(30, "old ReplicaSets cleaned up", || {
        let list = get_json(&server, &["replicasets", "-l", "app=api"])?;
        (list["items"].as_array()?.len() == 2).then_some(())
    });
}

#[test]
fn replicaset_and_replicationcontroller_manage_pods() {
    let server = Server::start(&[]);
    let rt = runtime();
    spawn_ready_helper(&rt, &server);
    // An orphan pod the ReplicaSet's selector matches is adopted: 3 replicas, 2 created.
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: orphan\n  labels:\n    app: rs\nspec:\n  schedulerName: manual\n  containers:\n  - name: c\n    image: nginx\n",
    );
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: rs\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: rs\n  template:\n    metadata:\n      labels:\n        app: rs\n    spec:\n      schedulerName: manual\n      containers:\n      - name: c\n        image: nginx\n",
    );
    wait_for(30, "ReplicaSet status of 3 ready", || {
        let rs = get_json(&server, &["replicaset", "rs"])?;
        let s = &rs["status"];
        (s["replicas"] == 3
            && s["readyReplicas"] == 3
            && s["availableReplicas"] == 3
            && s["fullyLabeledReplicas"] == 3
            && s["observedGeneration"] == rs["metadata"]["generation"])
            .then_some(())
    });
    let ps = pods(&server, "app=rs");
    assert_eq!(ps.len(), 3);
    assert!(ps.iter().any(|p| p["metadata"]["name"] == "orphan"));
    for p in &ps {
        let o = &p["metadata"]["ownerReferences"][0];
        assert_eq!(o["kind"], "ReplicaSet");
        assert_eq!(o["name"], "rs");
        assert_eq!(o["controller"], true);
        assert_eq!(o["blockOwnerDeletion"], true);
    }
    // A pod whose labels stop matching is released and replaced.
    server.ok(V, &["label", "pod", "orphan", "app=gone", "--overwrite"]);
    wait_for(30, "the released pod replaced", || {
        let released = get_json(&server, &["pod", "orphan"])?;
        (released["metadata"]["ownerReferences"].is_null() && pods(&server, "app=rs").len() == 3)
            .then_some(())
    });
    // Deleting a pod makes a new one; scaling down deletes.
    let victim = pods(&server, "app=rs")[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    server.ok(V, &["delete", "pod", &victim]);
    wait_for(30, "a replacement", || {
        let ps = pods(&server, "app=rs");
        (ps.len() == 3 && ps.iter().all(|p| p["metadata"]["name"] != victim.as_str())).then_some(())
    });
    server.ok(V, &["scale", "replicaset/rs", "--replicas=1"]);
    wait_for(30, "one pod", || {
        (pods(&server, "app=rs").len() == 1).then_some(())
    });
    let events = server.ok(
        V,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=rs",
        ],
    );
    assert!(
        events.contains("SuccessfulCreate") && events.contains("Created pod: rs-"),
        "{events}"
    );
    assert!(events.contains("SuccessfulDelete"), "{events}");

    // A ReplicationController.
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: rc\nspec:\n  replicas: 2\n  selector:\n    app: rc\n  template:\n    metadata:\n      labels:\n        app: rc\n    spec:\n      schedulerName: manual\n      containers:\n      - name: c\n        image: nginx\n",
    );
    wait_for(30, "ReplicationController status of 2 ready", || {
        let rc = get_json(&server, &["rc", "rc"])?;
        (rc["status"]["readyReplicas"] == 2 && rc["status"]["replicas"] == 2).then_some(())
    });
    for p in pods(&server, "app=rc") {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["kind"],
            "ReplicationController"
        );
    }
    server.ok(V, &["scale", "rc/rc", "--replicas=0"]);
    wait_for(30, "no rc pods", || {
        pods(&server, "app=rc").is_empty().then_some(())
    });
}

#[test]
fn deployment_on_simulated_nodes() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    let rt = runtime();
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &deployment_yaml("web", 10, "nginx:1.25", "", ""),
    );
    rollout_status(&server, "deployment/web");
    let nodes: BTreeMap<String, usize> = wait_for(60, "10 Running pods", || {
        let ps = pods(&server, "app=web");
        let running: Vec<&Value> = ps
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .collect();
        (running.len() == 10).then(|| {
            let mut m = BTreeMap::new();
            for p in running {
                *m.entry(p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
                    .or_default() += 1;
            }
            m
        })
    });
    assert_eq!(nodes.len(), 3, "pods spread over the 3 nodes: {nodes:?}");
    let avail = Availability::spawn(&rt, &server, "app=web");
    avail.arm_at(10);
    server.ok(V, &["set", "image", "deployment/web", "web=nginx:1.26"]);
    rollout_status(&server, "deployment/web");
    wait_for(60, "10 Running pods of nginx:1.26 and no others", || {
        let ps = pods(&server, "app=web");
        (ps.len() == 10 && ready_pods_with_image(&server, "app=web", "nginx:1.26") == 10)
            .then_some(())
    });
    assert!(avail.min() >= 8, "available pods fell to {}", avail.min());
    let history = server.ok(V, &["rollout", "history", "deployment/web"]);
    assert!(history.lines().any(|l| l.starts_with('2')), "{history}");
    server.ok(V, &["rollout", "undo", "deployment/web"]);
    rollout_status(&server, "deployment/web");
    wait_for(60, "nginx:1.25 back", || {
        (pods(&server, "app=web").len() == 10
            && ready_pods_with_image(&server, "app=web", "nginx:1.25") == 10)
            .then_some(())
    });
}

/// Benchmark (run with `--ignored --nocapture`): roll a 1,000-replica Deployment to a new
/// image with the helper making pods ready; prints the time.
#[test]
#[ignore]
fn bench_rollout_1000_replicas() {
    let server = Server::start(&[]);
    let rt = runtime();
    spawn_ready_helper(&rt, &server);
    let start = Instant::now();
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        &deployment_yaml(
            "big",
            1000,
            "nginx:1.25",
            "",
            "      schedulerName: manual\n",
        ),
    );
    server.ok(
        V,
        &["rollout", "status", "deployment/big", "--timeout=600s"],
    );
    eprintln!(
        "create 1000 replicas until rolled out: {:?}",
        start.elapsed()
    );
    let avail = Availability::spawn(&rt, &server, "app=big");
    avail.arm_at(1000);
    let start = Instant::now();
    server.ok(V, &["set", "image", "deployment/big", "big=nginx:1.26"]);
    server.ok(
        V,
        &["rollout", "status", "deployment/big", "--timeout=600s"],
    );
    eprintln!("roll 1000 replicas to a new image: {:?}", start.elapsed());
    eprintln!(
        "lowest available during the rollout: {} (floor 750)",
        avail.min()
    );
    assert!(avail.min() >= 750);
}
