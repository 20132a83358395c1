//! End-to-end tests of the StatefulSet and DaemonSet controllers against a real
//! `k3rs server --simulate-nodes 3` (simulated kubelets run the pods, the scheduler binds them),
//! driven through kube-rs.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

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

/// Poll `f` until it returns Some, or panic with `what` after `secs`.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ready_nodes(client: &kube::Client, n: usize) -> Vec<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    wait_for(60, "Ready nodes", || {
        let nodes = nodes.clone();
        async move {
            let list = nodes.list(&ListParams::default()).await.ok()?;
            let ready: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        })
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            (ready.len() >= n).then_some(ready)
        }
    })
    .await
}

#[test]
fn statefulset_ordered_ready_with_claims() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    let rt = runtime();
    rt.block_on(async {
        let client = server.client().await;
        ready_nodes(&client, 3).await;

        // Without the built-in local-path provisioner, a WaitForFirstConsumer class lets the
        // scheduler place pods whose claims are unbound.
        let classes: Api<StorageClass> = Api::all(client.clone());
        let local_path = classes.get_opt("local-path").await.ok().flatten().is_some();
        let class = if local_path {
            "local-path"
        } else {
            let sc: StorageClass = serde_json::from_value(json!({
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": "wffc"},
                "provisioner": "example.com/none",
                "volumeBindingMode": "WaitForFirstConsumer"
            }))
            .expect("storageclass");
            classes
                .create(&PostParams::default(), &sc)
                .await
                .expect("create storageclass");
            "wffc"
        };

        // Record, from a watch, whether each pod appeared only after its predecessor was Ready.
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let order: Arc<Mutex<Vec<String>>> = Arc::default();
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let (o, v) = (order.clone(), violations.clone());
        let wp = pods.clone();
        let watch = tokio::spawn(async move {
            let mut ready: HashMap<String, bool> = HashMap::new();
            let mut stream = watcher(wp, watcher::Config::default().labels("app=web"))
                .applied_objects()
                .default_backoff()
                .boxed();
            while let Some(Ok(p)) = stream.next().await {
                let name = p.metadata.name.clone().unwrap_or_default();
                if !ready.contains_key(&name) {
                    let ord: i32 = name
                        .rsplit('-')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let prev = format!("web-{}", ord - 1);
                    let first_time = !o.lock().expect("lock").contains(&name);
                    if first_time && ord > 0 && ready.get(&prev) != Some(&true) {
                        v.lock()
                            .expect("lock")
                            .push(format!("{name} appeared before {prev} was Ready"));
                    }
                    if first_time {
                        o.lock().expect("lock").push(name.clone());
                    }
                }
                ready.insert(name, is_ready(&p));
            }
        });

        let sts: StatefulSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{
                        "name": "nginx", "image": "nginx:1.27",
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 1}
                    }]}
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": class,
                        "resources": {"requests": {"storage": "1Gi"}}
                    }
                }]
            }
        }))
        .expect("statefulset");
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
        sets.create(&PostParams::default(), &sts)
            .await
            .expect("create statefulset");

        wait_for(90, "3 ready replicas", || {
            let sets = sets.clone();
            async move {
                let s = sets.get("web").await.ok()?.status?;
                (s.ready_replicas == Some(3)).then_some(())
            }
        })
        .await;
        assert_eq!(
            *order.lock().expect("lock"),
            vec!["web-0", "web-1", "web-2"],
            "creation order"
        );
        assert!(
            violations.lock().expect("lock").is_empty(),
            "{:?}",
            violations.lock().expect("lock")
        );

        // Identity labels, claims and volumes.
        let web1 = pods.get("web-1").await.expect("web-1");
        let labels = web1.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("statefulset.kubernetes.io/pod-name").map(String::as_str),
            Some("web-1")
        );
        assert_eq!(
            labels.get("apps.kubernetes.io/pod-index").map(String::as_str),
            Some("1")
        );
        let claim_of = |p: &Pod| {
            p.spec
                .as_ref()
                .and_then(|s| s.volumes.as_ref())
                .and_then(|vs| vs.iter().find(|v| v.name == "data"))
                .and_then(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
        };
        assert_eq!(claim_of(&web1).as_deref(), Some("data-web-1"));
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
        for i in 0..3 {
            let c = claims
                .get(&format!("data-web-{i}"))
                .await
                .expect("claim exists");
            // Retain (the default): no owner reference.
            assert!(c.metadata.owner_references.is_none());
            if local_path {
                let name = format!("data-web-{i}");
                wait_for(60, "claim Bound", || {
                    let claims = claims.clone();
                    let name = name.clone();
                    async move {
                        let c = claims.get(&name).await.ok()?;
                        (c.status?.phase.as_deref() == Some("Bound")).then_some(())
                    }
                })
                .await;
            }
        }
        let status = sets.get("web").await.expect("sts").status.expect("status");
        assert_eq!(status.current_revision, status.update_revision);
        assert!(
            status
                .update_revision
                .as_deref()
                .is_some_and(|r| r.starts_with("web-"))
        );
        assert_eq!(status.replicas, 3);

        // A deleted pod comes back with the same name and claim.
        let old_uid = web1.metadata.uid.clone();
        pods.delete("web-1", &DeleteParams::default())
            .await
            .expect("delete web-1");
        let again = wait_for(60, "web-1 recreated and Ready", || {
            let pods = pods.clone();
            let old_uid = old_uid.clone();
            async move {
                let p = pods.get("web-1").await.ok()?;
                (p.metadata.uid != old_uid && is_ready(&p)).then_some(p)
            }
        })
        .await;
        assert_eq!(claim_of(&again).as_deref(), Some("data-web-1"));

        // A template change rolls from the highest ordinal to a new revision.
        sets.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{
                "name": "nginx", "image": "nginx:1.28"
            }]}}}})),
        )
        .await
        .expect("patch image");
        wait_for(120, "rollout complete", || {
            let sets = sets.clone();
            async move {
                let s = sets.get("web").await.ok()?.status?;
                (s.update_revision.is_some()
                    && s.current_revision == s.update_revision
                    && s.updated_replicas == Some(3)
                    && s.ready_replicas == Some(3)
                    && s.observed_generation == Some(2))
                .then_some(())
            }
        })
        .await;
        let images: BTreeMap<String, String> = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods")
            .items
            .into_iter()
            .map(|p| {
                (
                    p.metadata.name.clone().unwrap_or_default(),
                    p.spec
                        .and_then(|s| s.containers.first().and_then(|c| c.image.clone()))
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert!(
            images.values().all(|i| i == "nginx:1.28"),
            "images after rollout: {images:?}"
        );
        let revisions: Api<k8s_openapi::api::apps::v1::ControllerRevision> =
            Api::namespaced(client.clone(), "default");
        let mut numbers: Vec<i64> = revisions
            .list(&ListParams::default())
            .await
            .expect("revisions")
            .items
            .iter()
            .filter(|r| r.metadata.name.as_deref().is_some_and(|n| n.starts_with("web-")))
            .map(|r| r.revision)
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, vec![1, 2], "ControllerRevisions");

        // Scale down from the highest ordinal; the claims are retained.
        sets.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .expect("scale down");
        wait_for(60, "only web-0 left", || {
            let pods = pods.clone();
            async move {
                let items = pods
                    .list(&ListParams::default().labels("app=web"))
                    .await
                    .ok()?
                    .items;
                let names: Vec<String> =
                    items.iter().filter_map(|p| p.metadata.name.clone()).collect();
                (names == vec!["web-0".to_string()]).then_some(())
            }
        })
        .await;
        for i in 1..3 {
            claims
                .get(&format!("data-web-{i}"))
                .await
                .expect("claim retained after scale-down");
        }
        watch.abort();
    });
}

fn daemon_pods_by_node(pods: &[Pod]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in pods {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        *m.entry(node).or_insert(0) += 1;
    }
    m
}

#[test]
fn daemonset_one_pod_per_eligible_node() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    let rt = runtime();
    rt.block_on(async {
        let client = server.client().await;
        let nodes = ready_nodes(&client, 3).await;
        let ds: DaemonSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "a", "image": "busybox"}]}
                }
            }
        }))
        .expect("daemonset");
        let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
        sets.create(&PostParams::default(), &ds)
            .await
            .expect("create daemonset");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let lp = ListParams::default().labels("app=agent");
        let wait_pods = |want: BTreeMap<String, usize>, what: &'static str| {
            let pods = pods.clone();
            let lp = lp.clone();
            async move {
                wait_for(90, what, || {
                    let pods = pods.clone();
                    let lp = lp.clone();
                    let want = want.clone();
                    async move {
                        let items = pods.list(&lp).await.ok()?.items;
                        let all_ready = items.iter().all(is_ready);
                        (all_ready && daemon_pods_by_node(&items) == want).then_some(())
                    }
                })
                .await
            }
        };
        let mut want: BTreeMap<String, usize> = nodes.iter().map(|n| (n.clone(), 1)).collect();
        wait_pods(want.clone(), "one ready pod per node").await;
        // The pods tolerate the default daemon taints and are bound through node affinity.
        let first = pods.list(&lp).await.expect("pods").items;
        let spec = first[0].spec.clone().unwrap_or_default();
        let tols = spec.tolerations.unwrap_or_default();
        assert!(tols.iter().any(
            |t| t.key.as_deref() == Some("node.kubernetes.io/unreachable")
                && t.effect.as_deref() == Some("NoExecute")
        ));
        assert!(spec.affinity.is_some());
        let status = wait_for(30, "daemonset status", || {
            let sets = sets.clone();
            async move {
                let s = sets.get("agent").await.ok()?.status?;
                (s.number_ready == 3).then_some(s)
            }
        })
        .await;
        assert_eq!(status.desired_number_scheduled, 3);
        assert_eq!(status.current_number_scheduled, 3);
        assert_eq!(status.number_misscheduled, 0);
        assert_eq!(status.updated_number_scheduled, Some(3));

        // RollingUpdate (maxUnavailable 1): every pod is replaced by one of the new template.
        sets.patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "busybox:1.37"}
            ]}}}})),
        )
        .await
        .expect("patch daemonset image");
        wait_for(90, "rolled daemon pods", || {
            let pods = pods.clone();
            let lp = lp.clone();
            let want = want.clone();
            async move {
                let items = pods.list(&lp).await.ok()?.items;
                let rolled = items.iter().all(|p| {
                    is_ready(p)
                        && p.spec
                            .as_ref()
                            .and_then(|s| s.containers.first())
                            .and_then(|c| c.image.as_deref())
                            == Some("busybox:1.37")
                });
                (rolled && daemon_pods_by_node(&items) == want).then_some(())
            }
        })
        .await;

        // A new node gets a pod; a tainted one does not.
        let node_api: Api<Node> = Api::all(client.clone());
        for (name, taints) in [
            ("extra-1", json!([])),
            (
                "tainted-1",
                json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
            ),
        ] {
            let node: Node = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "spec": {"taints": taints},
                "status": {
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
                }
            }))
            .expect("node");
            node_api
                .create(&PostParams::default(), &node)
                .await
                .expect("create node");
            // The status subresource: write Ready explicitly in case create drops it.
            let _ = node_api
                .patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": node.status})),
                )
                .await;
        }
        want.insert("extra-1".into(), 1);
        // The added node has no kubelet: wait for the pod to be bound to it, not for Ready.
        wait_for(60, "a pod bound to the new node only", || {
            let pods = pods.clone();
            let lp = lp.clone();
            let want = want.clone();
            async move {
                let items = pods.list(&lp).await.ok()?.items;
                (daemon_pods_by_node(&items) == want).then_some(())
            }
        })
        .await;
        wait_for(30, "desired and current 4", || {
            let sets = sets.clone();
            async move {
                let s = sets.get("agent").await.ok()?.status?;
                (s.desired_number_scheduled == 4 && s.current_number_scheduled == 4).then_some(())
            }
        })
        .await;

        // Tainting an existing node (NoExecute, untolerated) removes its pod.
        let victim = nodes[0].clone();
        node_api
            .patch(
                &victim,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"spec": {"taints": [{"key": "evict", "effect": "NoExecute"}]}}),
                ),
            )
            .await
            .expect("taint node");
        want.remove(&victim);
        wait_for(60, "no pod on the tainted node", || {
            let pods = pods.clone();
            let lp = lp.clone();
            let want = want.clone();
            async move {
                let items = pods.list(&lp).await.ok()?.items;
                (daemon_pods_by_node(&items) == want).then_some(())
            }
        })
        .await;
    });
}
