//! End-to-end test of deletion propagation through a Deployment's ReplicaSets and pods
//! (issue 4 acceptance: "Deleting a Deployment removes its ReplicaSets and pods;
//! --cascade=orphan keeps the pods"), against `k3rs server --simulate-nodes 3` driven by
//! stock kubectl 1.33.

mod common;

use common::{Server, wait_for};
use serde_json::Value;

const V: &str = "1.33";

fn items(server: &Server, kind: &str, selector: &str) -> Vec<Value> {
    server
        .get_json(V, &[kind, "-l", selector])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
}

fn names(objs: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = objs
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    n.sort();
    n
}

fn owners(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or("").to_string(),
                r["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn deploy(server: &Server, name: &str, replicas: usize) -> Vec<Value> {
    server.ok(
        V,
        &[
            "create",
            "deployment",
            name,
            "--image=nginx",
            &format!("--replicas={replicas}"),
        ],
    );
    wait_for(60, &format!("{replicas} running {name} pods"), || {
        let pods = items(server, "pods", &format!("app={name}"));
        (pods.len() == replicas && pods.iter().all(|p| p["status"]["phase"] == "Running"))
            .then_some(pods)
    })
}

/// [sig-api-machinery] Garbage collector should delete RS created by deployment when not orphaning [Conformance]
/// [sig-api-machinery] Garbage collector should orphan RS created by deployment when deleteOptions.PropagationPolicy is Orphan [Conformance]
#[test]
fn deleting_a_deployment_cascades_or_orphans() {
    let server = Server::start(&["--simulate-nodes", "3"]);

    // Background deletion: the ReplicaSets and pods go with the Deployment.
    deploy(&server, "web", 3);
    assert_eq!(items(&server, "replicasets", "app=web").len(), 1);
    server.ok(V, &["delete", "deployment", "web"]);
    wait_for(60, "web's ReplicaSets and pods to be deleted", || {
        (items(&server, "replicasets", "app=web").is_empty()
            && items(&server, "pods", "app=web").is_empty())
        .then_some(())
    });

    // Orphan: the ReplicaSet and its pods stay; the ReplicaSet loses its owner reference.
    let pods = deploy(&server, "api", 2);
    let before = names(&pods);
    let rs = items(&server, "replicasets", "app=api");
    assert_eq!(rs.len(), 1);
    let rs_name = rs[0]["metadata"]["name"]
        .as_str()
        .expect("rs name")
        .to_string();
    assert_eq!(
        owners(&rs[0]),
        [("Deployment".to_string(), "api".to_string())]
    );
    server.ok(V, &["delete", "deployment", "api", "--cascade=orphan"]);
    wait_for(30, "deployment api to be gone", || {
        server
            .get_json(V, &["deployment", "api"])
            .is_none()
            .then_some(())
    });
    let rs = wait_for(30, "the orphaned ReplicaSet without owner", || {
        let rs = server.get_json(V, &["replicaset", &rs_name])?;
        owners(&rs).is_empty().then_some(rs)
    });
    assert!(rs["metadata"]["finalizers"].is_null(), "{rs}");
    // Give the garbage collector time it would need to (wrongly) remove anything.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let pods = items(&server, "pods", "app=api");
    assert_eq!(names(&pods), before);
    for p in &pods {
        assert!(p["metadata"]["deletionTimestamp"].is_null(), "{p}");
        assert_eq!(owners(p), [("ReplicaSet".to_string(), rs_name.clone())]);
    }

    // Orphaning the ReplicaSet in turn keeps the pods and removes their owner reference.
    server.ok(V, &["delete", "replicaset", &rs_name, "--cascade=orphan"]);
    let pods = wait_for(30, "pods without owner references", || {
        let pods = items(&server, "pods", "app=api");
        (server.get_json(V, &["replicaset", &rs_name]).is_none()
            && pods.iter().all(|p| owners(p).is_empty()))
        .then_some(pods)
    });
    assert_eq!(names(&pods), before);
}
