//! End-to-end tests of the PersistentVolume binder and the built-in local-path provisioner
//! against a real `k3rs server --simulate-nodes 3`, driven through kube-rs.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
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

fn phase(c: &PersistentVolumeClaim) -> Option<&str> {
    c.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn claim(name: &str, class: &str, size: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "storageClassName": class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        }
    }))
    .expect("claim")
}

#[test]
fn local_path_claim_binds_after_its_pod_is_scheduled_and_is_deleted_with_it() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    runtime().block_on(async {
        let client = server.client().await;
        let classes: Api<StorageClass> = Api::all(client.clone());
        let sc = wait_for(30, "the default StorageClass", || {
            let classes = classes.clone();
            async move { classes.get_opt("local-path").await.ok().flatten() }
        })
        .await;
        assert_eq!(sc.provisioner, "rancher.io/local-path");
        assert_eq!(sc.volume_binding_mode.as_deref(), Some("WaitForFirstConsumer"));
        assert_eq!(sc.reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(
            sc.metadata.annotations.as_ref().expect("annotations")
                ["storageclass.kubernetes.io/is-default-class"],
            "true"
        );

        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        let created = pvcs
            .create(&PostParams::default(), &claim("data", "local-path", "2Gi"))
            .await
            .expect("create claim");
        let uid = created.metadata.uid.clone().expect("uid");
        // No consumer yet: the claim waits.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let c = pvcs.get("data").await.expect("claim");
        assert_ne!(phase(&c), Some("Bound"), "bound before any consumer");
        assert!(pvs.list(&Default::default()).await.expect("pvs").items.is_empty());

        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "user"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox",
                    "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
            }
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        let node = wait_for(60, "the pod to be scheduled", || {
            let pods = pods.clone();
            async move {
                pods.get("user")
                    .await
                    .ok()?
                    .spec?
                    .node_name
                    .filter(|n| !n.is_empty())
            }
        })
        .await;
        let c = wait_for(60, "the claim to be Bound", || {
            let pvcs = pvcs.clone();
            async move {
                let c = pvcs.get("data").await.ok()?;
                (phase(&c) == Some("Bound")).then_some(c)
            }
        })
        .await;
        let spec = c.spec.clone().expect("spec");
        let pv_name = format!("pvc-{uid}");
        assert_eq!(spec.volume_name.as_deref(), Some(pv_name.as_str()));
        let status = c.status.clone().expect("status");
        assert_eq!(status.capacity.expect("capacity")["storage"].0, "2Gi");
        assert_eq!(status.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
        assert_eq!(
            c.metadata.annotations.as_ref().expect("ann")["pv.kubernetes.io/bind-completed"],
            "yes"
        );
        let pv = pvs.get(&pv_name).await.expect("pv");
        let pspec = pv.spec.clone().expect("pv spec");
        let term = &pspec
            .node_affinity
            .expect("nodeAffinity")
            .required
            .expect("required")
            .node_selector_terms[0];
        let expr = &term.match_expressions.as_ref().expect("exprs")[0];
        assert_eq!(expr.key, "kubernetes.io/hostname");
        assert_eq!(expr.values, Some(vec![node.clone()]));
        let expected = server
            .data_dir
            .join("storage")
            .join(format!("{pv_name}_default_data"));
        assert_eq!(
            pspec.host_path.expect("hostPath").path,
            expected.to_string_lossy()
        );
        assert_eq!(pspec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(pspec.storage_class_name.as_deref(), Some("local-path"));
        assert_eq!(pspec.claim_ref.expect("claimRef").uid.as_deref(), Some(uid.as_str()));
        assert_eq!(
            pv.status.and_then(|s| s.phase).as_deref(),
            Some("Bound")
        );
        // No directory is made for a simulated node.
        assert!(!expected.exists());

        // Deleting the claim releases the volume, and reclaim Delete removes it.
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        pods.delete("user", &dp).await.expect("delete pod");
        pvcs.delete("data", &DeleteParams::default())
            .await
            .expect("delete claim");
        wait_for(60, "the local-path volume to be deleted", || {
            let pvs = pvs.clone();
            let pv_name = pv_name.clone();
            async move { pvs.get_opt(&pv_name).await.ok()?.is_none().then_some(()) }
        })
        .await;
    });
}

#[test]
fn static_volume_binds_an_immediate_claim_smallest_fit_and_is_released() {
    let server = Server::start(&["--simulate-nodes", "3"]);
    runtime().block_on(async {
        let client = server.client().await;
        let classes: Api<StorageClass> = Api::all(client.clone());
        let sc: StorageClass = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "manual"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
        }))
        .expect("class");
        classes
            .create(&PostParams::default(), &sc)
            .await
            .expect("create class");
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        for (name, size) in [("big", "10Gi"), ("small", "1Gi"), ("tiny", "100Mi")] {
            let pv: PersistentVolume = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "storageClassName": "manual",
                    "capacity": {"storage": size},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": format!("/tmp/{name}")},
                }
            }))
            .expect("pv");
            pvs.create(&PostParams::default(), &pv)
                .await
                .expect("create pv");
        }
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
        pvcs.create(&PostParams::default(), &claim("static", "manual", "500Mi"))
            .await
            .expect("create claim");
        let c = wait_for(60, "the claim to be Bound", || {
            let pvcs = pvcs.clone();
            async move {
                let c = pvcs.get("static").await.ok()?;
                (phase(&c) == Some("Bound")).then_some(c)
            }
        })
        .await;
        assert_eq!(
            c.spec.as_ref().and_then(|s| s.volume_name.as_deref()),
            Some("small")
        );
        assert_eq!(
            c.status
                .as_ref()
                .and_then(|s| s.capacity.as_ref())
                .expect("cap")["storage"]
                .0,
            "1Gi"
        );
        let pv = wait_for(30, "the volume to be Bound", || {
            let pvs = pvs.clone();
            async move {
                let pv = pvs.get("small").await.ok()?;
                (pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")).then_some(pv)
            }
        })
        .await;
        let r = pv.spec.and_then(|s| s.claim_ref).expect("claimRef");
        assert_eq!(r.name.as_deref(), Some("static"));
        assert_eq!(r.uid, c.metadata.uid);
        // The others stay Available.
        let big = pvs.get("big").await.expect("big");
        assert_eq!(
            big.status.and_then(|s| s.phase).as_deref(),
            Some("Available")
        );

        // Two claims race for the last fitting volume: one wins, the other stays Pending.
        for n in ["racer-a", "racer-b"] {
            pvcs.create(&PostParams::default(), &claim(n, "manual", "500Mi"))
                .await
                .expect("create racer");
        }
        wait_for(60, "a racer to be Bound", || {
            let pvcs = pvcs.clone();
            async move {
                let a = pvcs.get("racer-a").await.ok()?;
                let b = pvcs.get("racer-b").await.ok()?;
                (phase(&a) == Some("Bound") || phase(&b) == Some("Bound")).then_some(())
            }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let a = pvcs.get("racer-a").await.expect("a");
        let b = pvcs.get("racer-b").await.expect("b");
        let bound: Vec<&str> = [&a, &b]
            .iter()
            .filter(|c| phase(c) == Some("Bound"))
            .filter_map(|c| c.spec.as_ref().and_then(|s| s.volume_name.as_deref()))
            .collect();
        assert_eq!(bound, vec!["big"], "exactly one racer bound, to big");
        let small = pvs.get("small").await.expect("small");
        assert_eq!(
            small
                .spec
                .and_then(|s| s.claim_ref)
                .and_then(|r| r.name)
                .as_deref(),
            Some("static"),
            "small was not stolen"
        );

        // Deleting a bound volume leaves its claim Lost.
        let winner = if phase(&a) == Some("Bound") {
            "racer-a"
        } else {
            "racer-b"
        };
        pvs.delete("big", &DeleteParams::default())
            .await
            .expect("delete big");
        wait_for(60, "the winner's claim to be Lost", || {
            let pvcs = pvcs.clone();
            async move {
                let c = pvcs.get(winner).await.ok()?;
                (phase(&c) == Some("Lost")).then_some(())
            }
        })
        .await;

        // Retain: deleting the claim leaves the volume Released.
        pvcs.delete("static", &DeleteParams::default())
            .await
            .expect("delete claim");
        wait_for(60, "the volume to be Released", || {
            let pvs = pvs.clone();
            async move {
                let pv = pvs.get("small").await.ok()?;
                (pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released"))
                    .then_some(())
            }
        })
        .await;
    });
}

#[test]
fn a_claim_without_a_class_gets_the_default_one_and_an_empty_class_stays_empty() {
    let server = Server::start(&[]);
    let no_class = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: plain}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    let empty_class = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: none}\nspec:\n  storageClassName: \"\"\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    // The default StorageClass is created by the local-path provisioner at start.
    common::wait_for(30, "the default StorageClass", || {
        let out = server.kubectl("1.33", &["get", "storageclass", "local-path"]);
        out.status.success().then_some(())
    });
    server.ok_stdin("1.33", &["create", "-f", "-"], no_class);
    server.ok_stdin("1.33", &["create", "-f", "-"], empty_class);
    let class = |name: &str| {
        server.ok(
            "1.33",
            &[
                "get",
                "pvc",
                name,
                "-o",
                "jsonpath={.spec.storageClassName}",
            ],
        )
    };
    assert_eq!(class("plain"), "local-path");
    assert_eq!(class("none"), "");
}
