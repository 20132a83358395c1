//! Throughput of the pure scheduling core: queue + filter + score + assume, in memory.
//!
//! `cargo run --release -p k3rs-scheduler --example sched_bench [pods] [nodes...]`
//! (default: 30000 pods onto 1000 and 5000 nodes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k3rs_scheduler::filter::Volumes;
use k3rs_scheduler::{Outcome, PodInfo, Scheduler, SchedulingQueue, Snapshot};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{i}"), "labels": {
            "kubernetes.io/hostname": format!("node-{i}"),
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
            "type": "simulated"
        }},
        "spec": {},
        "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}
    }))
    .expect("node")
}

fn pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": "default", "uid": format!("uid-{i}"),
                     "labels": {"app": format!("app-{}", i % 100)}},
        "spec": {
            "schedulerName": "default-scheduler",
            "priority": 0,
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]
        }
    }))
    .expect("pod")
}

fn run(num_pods: usize, num_nodes: usize) -> (Duration, usize) {
    let mut snap = Snapshot::new();
    for i in 0..num_nodes {
        snap.upsert_node(&node(i));
    }
    let pods: Vec<Arc<Pod>> = (0..num_pods).map(|i| Arc::new(pod(i))).collect();
    let volumes = Volumes::default();
    let mut sched = Scheduler::new();
    let mut queue = SchedulingQueue::new();
    let start = Instant::now();
    let now = Instant::now();
    let mut infos = std::collections::HashMap::with_capacity(num_pods);
    for p in &pods {
        let info = Arc::new(PodInfo::new(p.clone(), None));
        queue.add_or_update(&info.key(), info.priority, now);
        infos.insert(info.key(), info);
    }
    let mut scheduled = 0;
    while let Some(key) = queue.pop(now) {
        let Some(info) = infos.get(&key) else {
            continue;
        };
        match sched.schedule(info, &mut snap, &volumes) {
            Outcome::Scheduled { .. } => {
                queue.done(&key);
                scheduled += 1;
            }
            _ => queue.unschedulable(&key, now),
        }
    }
    (start.elapsed(), scheduled)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let num_pods = args.first().copied().unwrap_or(30_000);
    let node_counts = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![1000, 5000]
    };
    for nodes in node_counts {
        let (took, scheduled) = run(num_pods, nodes);
        println!(
            "{scheduled} pods onto {nodes} nodes in {:.2} s: {:.0} pods/s",
            took.as_secs_f64(),
            scheduled as f64 / took.as_secs_f64()
        );
    }
}
