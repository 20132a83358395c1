//! Static pods: Pod manifests in `<agent-dir>/pod-manifests` run on this node without a
//! scheduler. The agent keeps a mirror pod in the API for each (named `<pod>-<node>`, bound to
//! the node, owned by the Node, annotated with the manifest's hash), and the pod workers run it
//! like any pod bound here. The directory is read at start and every 20 s, upstream's
//! `fileCheckFrequency`; a changed manifest replaces its mirror pod, a removed one deletes it.
//!
//! Unlike upstream, the mirror pod is what the workers run from: a static pod needs the API
//! server to start (acceptable for an agent that joins before it runs anything).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// How often the manifest directory is read (upstream's `fileCheckFrequency`).
pub const FILE_CHECK_FREQUENCY: Duration = Duration::from_secs(20);
/// Annotations upstream puts on mirror pods.
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
pub const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
pub const CONFIG_MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A manifest that cannot become a mirror pod.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// The mirror pod of a static pod manifest on node `node` (uid `node_uid`): the manifest's pod
/// renamed `<name>-<node>`, bound to the node, owned by it and annotated with the hash of the
/// manifest (so a change is noticed).
pub fn mirror_pod(
    manifest: &Value,
    source: &Path,
    node: &str,
    node_uid: &str,
) -> Result<Value, ManifestError> {
    let invalid = |reason: &str| ManifestError::Invalid {
        path: source.display().to_string(),
        reason: reason.to_string(),
    };
    if manifest.get("kind").and_then(Value::as_str) != Some("Pod") {
        return Err(invalid(
            "a static pod manifest must be a single object of kind Pod",
        ));
    }
    let name = manifest
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("metadata.name is required"))?;
    let hash = {
        let bytes = serde_json::to_vec(manifest).map_err(|e| invalid(&e.to_string()))?;
        let digest = Sha256::digest(&bytes);
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let mut pod = manifest.clone();
    let namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let meta = pod
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| invalid("metadata must be an object"))?;
    meta.insert("name".into(), Value::String(format!("{name}-{node}")));
    meta.insert("namespace".into(), Value::String(namespace));
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(annotations) = annotations.as_object_mut() else {
        return Err(invalid("metadata.annotations must be a map"));
    };
    annotations.insert(CONFIG_SOURCE_ANNOTATION.into(), "file".into());
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), hash.clone().into());
    annotations.insert(CONFIG_MIRROR_ANNOTATION.into(), hash.into());
    meta.insert(
        "ownerReferences".into(),
        serde_json::json!([{
            "apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": true,
        }]),
    );
    let spec = pod
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| invalid("spec is required"))?;
    spec.insert("nodeName".into(), Value::String(node.to_string()));
    Ok(pod)
}

/// The static pod manifests of `dir` (`*.yaml`, `*.yml`, `*.json`, in name order), each parsed
/// or with the reason it cannot be used. A missing directory holds none.
pub fn read_manifests(dir: &Path) -> Vec<(PathBuf, Result<Value, String>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_saphyr::from_str::<Value>(&text).map_err(|e| e.to_string()));
            (path, parsed)
        })
        .collect()
}

/// What to do to make the API's mirror pods match the manifests: (create, delete) by name.
pub fn plan(
    desired: &BTreeMap<String, Value>,
    existing: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let hash_of = |pod: &Value| {
        pod.pointer(&format!(
            "/metadata/annotations/{}",
            CONFIG_HASH_ANNOTATION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
    };
    let mut create = Vec::new();
    let mut delete = Vec::new();
    for (key, pod) in desired {
        match existing.get(key) {
            Some(hash) if *hash == hash_of(pod) => {}
            Some(_) => {
                delete.push(key.clone());
                create.push(key.clone());
            }
            None => create.push(key.clone()),
        }
    }
    delete.extend(
        existing
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned(),
    );
    (create, delete)
}

/// Keep the mirror pods of `<agent-dir>/pod-manifests` until `shutdown` turns true.
pub async fn run(
    client: kube::Client,
    node: String,
    manifest_dir: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let mut tick = tokio::time::interval(FILE_CHECK_FREQUENCY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = sync(&client, &nodes, &pods, &node, &manifest_dir).await {
            tracing::warn!("static pods: {e}");
        }
    }
}

async fn sync(
    client: &kube::Client,
    nodes: &Api<Node>,
    pods: &Api<Pod>,
    node: &str,
    dir: &Path,
) -> Result<(), kube::Error> {
    let manifests = read_manifests(dir);
    let existing_list = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    let existing: BTreeMap<String, String> = existing_list
        .items
        .iter()
        .filter_map(|p| {
            let annotations = p.metadata.annotations.as_ref()?;
            (annotations.get(CONFIG_SOURCE_ANNOTATION)? == "file").then(|| {
                let key = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                );
                let hash = annotations
                    .get(CONFIG_HASH_ANNOTATION)
                    .cloned()
                    .unwrap_or_default();
                (key, hash)
            })
        })
        .collect();
    if manifests.is_empty() && existing.is_empty() {
        return Ok(());
    }
    let node_uid = nodes.get(node).await?.metadata.uid.unwrap_or_default();
    let mut desired = BTreeMap::new();
    for (path, parsed) in manifests {
        let pod = parsed.map_err(|reason| ManifestError::Invalid {
            path: path.display().to_string(),
            reason,
        });
        match pod.and_then(|m| mirror_pod(&m, &path, node, &node_uid)) {
            Ok(pod) => {
                let key = format!(
                    "{}/{}",
                    pod.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    pod.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                );
                desired.insert(key, pod);
            }
            Err(e) => tracing::warn!("static pod manifest skipped: {e}"),
        }
    }
    let (create, delete) = plan(&desired, &existing);
    for key in delete {
        let (ns, name) = key.split_once('/').unwrap_or(("default", &key));
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(pod = %key, "static pod removed"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    for key in create {
        let Some(value) = desired.remove(&key) else {
            continue;
        };
        let pod: Pod = serde_json::from_value(value).map_err(kube::Error::SerdeError)?;
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => tracing::info!(pod = %key, "static pod mirrored"),
            // The old mirror pod is still terminating: the next pass creates it.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => tracing::warn!(pod = %key, "static pod not mirrored: {e}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
