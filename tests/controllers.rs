//! End-to-end tests of the endpoints, service-account, root-CA, garbage-collector and pod-GC
//! loops against a real `k3rs server`, driven by stock kubectl 1.33 and kube-rs. No kubelet:
//! pods are made "ready" by writing their status through `pods/status`.

mod common;

use std::time::Duration;

use common::{Server, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const V: &str = "1.33";

fn get_json(server: &Server, args: &[&str]) -> Option<Value> {
    server.get_json(V, args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Write a pod's status as a kubelet would: Running with an IP and the Ready condition.
fn set_pod_status(server: &Server, name: &str, ip: &str, ready: bool) {
    runtime().block_on(async {
        let pods: Api<Pod> = Api::namespaced(server.client().await, "default");
        let status = if ready { "True" } else { "False" };
        let patch = json!({"status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Ready", "status": status},
                {"type": "ContainersReady", "status": status},
            ],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch pod status");
    });
}

fn pod_yaml(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n    image: nginx\n    ports:\n    - name: http\n      containerPort: 8080\n"
    )
}

/// (ready IPs, not-ready IPs) of the Endpoints `web`, with their ports.
fn endpoints_ips(ep: &Value) -> (Vec<String>, Vec<String>, Vec<i64>) {
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    let mut ports = Vec::new();
    for s in ep["subsets"].as_array().into_iter().flatten() {
        for a in s["addresses"].as_array().into_iter().flatten() {
            ready.push(a["ip"].as_str().unwrap_or("").to_string());
        }
        for a in s["notReadyAddresses"].as_array().into_iter().flatten() {
            not_ready.push(a["ip"].as_str().unwrap_or("").to_string());
        }
        for p in s["ports"].as_array().into_iter().flatten() {
            ports.push(p["port"].as_i64().unwrap_or(0));
        }
    }
    ready.sort();
    not_ready.sort();
    (ready, not_ready, ports)
}

/// ip → ready condition over the Service's managed slices.
fn slice_conditions(server: &Server) -> Option<Vec<(String, bool)>> {
    let list = get_json(
        server,
        &["endpointslices", "-l", "kubernetes.io/service-name=web"],
    )?;
    let mut out = Vec::new();
    for s in list["items"].as_array()? {
        if s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
            != "endpointslice-controller.k8s.io"
        {
            return None;
        }
        let owner = &s["metadata"]["ownerReferences"][0];
        if owner["kind"] != "Service" || owner["name"] != "web" {
            return None;
        }
        for e in s["endpoints"].as_array().into_iter().flatten() {
            out.push((
                e["addresses"][0].as_str()?.to_string(),
                e["conditions"]["ready"].as_bool()?,
            ));
        }
    }
    out.sort();
    Some(out)
}

#[test]
fn endpoints_and_slices_follow_pod_readiness() {
    let server = Server::start(&[]);
    for n in ["web-1", "web-2"] {
        server.ok_stdin(V, &["apply", "-f", "-"], &pod_yaml(n));
    }
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n",
    );
    // No pod has an IP yet: no addresses, a placeholder slice.
    wait_for(15, "an empty Endpoints object", || {
        let ep = get_json(&server, &["endpoints", "web"])?;
        (endpoints_ips(&ep).0.is_empty()).then_some(())
    });

    set_pod_status(&server, "web-1", "10.42.0.11", true);
    set_pod_status(&server, "web-2", "10.42.0.12", true);
    wait_for(15, "both pods ready in Endpoints", || {
        let ep = get_json(&server, &["endpoints", "web"])?;
        let (ready, not_ready, ports) = endpoints_ips(&ep);
        (ready == ["10.42.0.11", "10.42.0.12"] && not_ready.is_empty() && ports == [8080])
            .then_some(())
    });
    wait_for(15, "both pods ready in EndpointSlices", || {
        let c = slice_conditions(&server)?;
        (c == [("10.42.0.11".into(), true), ("10.42.0.12".into(), true)]).then_some(())
    });

    // web-2 stops being ready.
    set_pod_status(&server, "web-2", "10.42.0.12", false);
    wait_for(15, "web-2 in notReadyAddresses", || {
        let ep = get_json(&server, &["endpoints", "web"])?;
        let (ready, not_ready, _) = endpoints_ips(&ep);
        (ready == ["10.42.0.11"] && not_ready == ["10.42.0.12"]).then_some(())
    });
    wait_for(15, "web-2 ready=false in the slice", || {
        let c = slice_conditions(&server)?;
        (c == [("10.42.0.11".into(), true), ("10.42.0.12".into(), false)]).then_some(())
    });

    // A deleted pod leaves both.
    server.ok(
        V,
        &["delete", "pod", "web-1", "--grace-period=0", "--force"],
    );
    wait_for(30, "web-1 gone from Endpoints and slices", || {
        let ep = get_json(&server, &["endpoints", "web"])?;
        let (ready, not_ready, _) = endpoints_ips(&ep);
        let c = slice_conditions(&server)?;
        (ready.is_empty() && not_ready == ["10.42.0.12"] && c.len() == 1).then_some(())
    });

    // The kubernetes Service's endpoints (written by the API server) are left alone.
    let k = get_json(&server, &["endpoints", "kubernetes"]).expect("kubernetes endpoints");
    assert_eq!(endpoints_ips(&k).0.len(), 1, "{k}");
}

#[test]
fn every_namespace_gets_the_default_service_account_and_root_ca() {
    let server = Server::start(&[]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        wait_for(20, "default ServiceAccount", || {
            get_json(&server, &["serviceaccount", "default", "-n", ns])
        });
        let cm = wait_for(20, "kube-root-ca.crt", || {
            get_json(&server, &["configmap", "kube-root-ca.crt", "-n", ns])
        });
        let pem = cm["data"]["ca.crt"].as_str().unwrap_or("");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{cm}");
    }
    server.ok(V, &["create", "namespace", "fresh"]);
    wait_for(20, "default ServiceAccount in a new namespace", || {
        get_json(&server, &["serviceaccount", "default", "-n", "fresh"])
    });
    wait_for(20, "kube-root-ca.crt in a new namespace", || {
        get_json(&server, &["configmap", "kube-root-ca.crt", "-n", "fresh"])
    });
    // Deleted or edited, they come back.
    server.ok(V, &["delete", "serviceaccount", "default", "-n", "fresh"]);
    server.ok(
        V,
        &[
            "patch",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "fresh",
            "--type=merge",
            "-p",
            r#"{"data":{"ca.crt":"tampered"}}"#,
        ],
    );
    wait_for(20, "the ServiceAccount recreated", || {
        get_json(&server, &["serviceaccount", "default", "-n", "fresh"])
    });
    wait_for(20, "the CA restored", || {
        let cm = get_json(&server, &["configmap", "kube-root-ca.crt", "-n", "fresh"])?;
        cm["data"]["ca.crt"]
            .as_str()?
            .starts_with("-----BEGIN CERTIFICATE-----")
            .then_some(())
    });
}

/// Create ConfigMap `owner` and `dependent` owned by it; returns the owner's uid.
fn owner_and_dependent(server: &Server, owner: &str, dependent: &str, block: bool) -> String {
    server.ok(V, &["create", "configmap", owner]);
    let uid = get_json(server, &["configmap", owner]).expect("owner")["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let dep = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": dependent,
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner,
                "uid": uid,
                "blockOwnerDeletion": block,
            }],
        },
        "data": {"k": "v"},
    });
    server.ok_stdin(V, &["create", "-f", "-"], &dep.to_string());
    uid
}

#[test]
fn garbage_collector_background_orphan_and_foreground() {
    let server = Server::start(&[]);

    // Background: the dependent goes after its owner.
    owner_and_dependent(&server, "owner-bg", "dep-bg", false);
    server.ok(V, &["delete", "configmap", "owner-bg"]);
    wait_for(20, "the dependent deleted in the background", || {
        get_json(&server, &["configmap", "dep-bg"])
            .is_none()
            .then_some(())
    });

    // A dependent whose owner never existed goes too.
    let dep = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "dep-dangling", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "nobody",
            "uid": "00000000-0000-0000-0000-000000000000"}]},
    });
    server.ok_stdin(V, &["create", "-f", "-"], &dep.to_string());
    wait_for(20, "the dangling dependent deleted", || {
        get_json(&server, &["configmap", "dep-dangling"])
            .is_none()
            .then_some(())
    });

    // Orphan: the dependent stays, without the reference.
    owner_and_dependent(&server, "owner-or", "dep-or", true);
    server.ok(
        V,
        &[
            "delete",
            "configmap",
            "owner-or",
            "--cascade=orphan",
            "--timeout=30s",
        ],
    );
    assert!(get_json(&server, &["configmap", "owner-or"]).is_none());
    let dep = get_json(&server, &["configmap", "dep-or"]).expect("orphan kept");
    assert!(
        dep["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{dep}"
    );

    // Foreground: the dependent is deleted first, then the owner.
    owner_and_dependent(&server, "owner-fg", "dep-fg", true);
    let rt = runtime();
    let client = rt.block_on(server.client());
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = std::sync::Arc::clone(&order);
    let watch = rt.spawn(async move {
        use futures_util::StreamExt;
        use kube::runtime::watcher::{self, Event};
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        let stream = watcher::watcher(cms, watcher::Config::default());
        futures_util::pin_mut!(stream);
        while let Some(Ok(ev)) = stream.next().await {
            if let Event::Delete(cm) = ev
                && let Some(n) = cm.metadata.name
                && let Ok(mut o) = seen.lock()
            {
                o.push(n);
            }
        }
    });
    // Let the watch list before deleting.
    rt.block_on(async { tokio::time::sleep(Duration::from_secs(1)).await });
    let del = std::thread::scope(|s| {
        let h = s.spawn(|| {
            server.kubectl(
                V,
                &[
                    "delete",
                    "configmap",
                    "owner-fg",
                    "--cascade=foreground",
                    "--timeout=30s",
                ],
            )
        });
        // Drive the watch task meanwhile.
        rt.block_on(async {
            while !h.is_finished() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        });
        h.join().expect("kubectl thread")
    });
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    watch.abort();
    assert!(get_json(&server, &["configmap", "dep-fg"]).is_none());
    assert!(get_json(&server, &["configmap", "owner-fg"]).is_none());
    let order = order.lock().map(|o| o.clone()).unwrap_or_default();
    let pos = |n: &str| order.iter().position(|x| x == n);
    assert!(
        pos("dep-fg").is_some() && pos("dep-fg") < pos("owner-fg"),
        "deletion order {order:?}"
    );
}

#[test]
fn pod_gc_removes_pods_of_deleted_nodes() {
    let server = Server::start(&[]);
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: doomed\n",
    );
    server.ok_stdin(
        V,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: on-doomed\nspec:\n  nodeName: doomed\n  containers:\n  - name: c\n    image: nginx\n",
    );
    // While the node exists the pod stays.
    std::thread::sleep(Duration::from_secs(2));
    assert!(get_json(&server, &["pod", "on-doomed"]).is_some());
    server.ok(V, &["delete", "node", "doomed"]);
    wait_for(30, "the pod of the deleted node removed", || {
        get_json(&server, &["pod", "on-doomed"])
            .is_none()
            .then_some(())
    });
}
