//! Namespace deletion: a namespace marked for deletion (Terminating) has all its content
//! deleted, then its `kubernetes` finalizer removed, which removes the namespace.
//! (Upstream's namespace controller; it moves to the controllers crate with the other loops.)

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::status::ApiError;
use k3rs_store::{EventKind, ListOptions};
use serde_json::{Value, json};

use crate::codec;
use crate::ops::DeleteOptions;
use crate::query::Query;
use crate::state::AppState;

/// Retry delays while a namespace still has content (objects with finalizers, pods being
/// terminated); the work is bounded to namespaces being deleted.
const RETRY: &[u64] = &[200, 500, 1000, 2000, 5000];

fn namespaces() -> Option<&'static ResourceInfo> {
    registry::lookup("", "v1", "namespaces")
}

fn terminating(ns: &Value) -> bool {
    ns.pointer("/metadata/deletionTimestamp").is_some()
}

/// One resource per storage location (two versions of one resource share their objects).
fn namespaced_storage() -> Vec<&'static ResourceInfo> {
    let mut seen = HashSet::new();
    registry::all()
        .iter()
        .filter(|r| r.namespaced && seen.insert(r.storage))
        .collect()
}

/// Delete everything in `ns`; true when nothing is left.
async fn empty_namespace(state: &AppState, ns: &str) -> Result<bool, ApiError> {
    let mut left = false;
    for res in namespaced_storage() {
        let page = state
            .store
            .list(ListOptions {
                prefix: res.namespace_prefix(ns),
                ..Default::default()
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        for kv in page.items {
            left = true;
            let Ok(obj) = codec::decode_plain(&kv.value) else {
                continue;
            };
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if obj.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let opts = DeleteOptions {
                propagation_policy: Some("Background".into()),
                ..Default::default()
            };
            match state
                .delete(res, Some(ns), &name, &opts, &Query::default())
                .await
            {
                Ok(_) | Err(ApiError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(namespace = ns, resource = res.plural, %name, "deleting namespace content: {e}")
                }
            }
        }
    }
    Ok(!left)
}

async fn finalize(state: &AppState, ns: &str) -> Result<bool, ApiError> {
    if !empty_namespace(state, ns).await? {
        // One more pass tells whether the deletes just made emptied it.
        if !empty_namespace(state, ns).await? {
            return Ok(false);
        }
    }
    let Some(res) = namespaces() else {
        return Ok(true);
    };
    let result = state
        .update_with(
            res,
            None,
            ns,
            Some("finalize"),
            &Query::default(),
            |current| {
                let mut next = current.clone();
                let remaining: Vec<Value> = current
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter(|f| f.as_str() != Some("kubernetes"))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                next["spec"]["finalizers"] = json!(remaining);
                Ok(next)
            },
        )
        .await;
    match result {
        Ok(_) | Err(ApiError::NotFound(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Finalize one terminating namespace, retrying with back-off until it is gone.
async fn drive(state: Arc<AppState>, ns: String) {
    for delay in RETRY
        .iter()
        .chain(std::iter::repeat(&RETRY[RETRY.len() - 1]))
    {
        match finalize(&state, &ns).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => tracing::warn!(namespace = %ns, "finalizing namespace: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(*delay)).await;
        match state
            .get_object(namespaces().expect("registered"), None, &ns)
            .await
        {
            Ok(obj) if terminating(&obj) => {}
            _ => return,
        }
    }
}

/// Watch namespaces and finalize those being deleted. Runs until the store closes.
pub async fn run(state: Arc<AppState>) {
    let Some(res) = namespaces() else { return };
    let mut active: HashSet<String> = HashSet::new();
    let (tx, mut done) = tokio::sync::mpsc::unbounded_channel::<String>();
    let start = match state
        .store
        .list(ListOptions {
            prefix: res.prefix(),
            ..Default::default()
        })
        .await
    {
        Ok(list) => {
            for kv in &list.items {
                if let Ok(obj) = codec::decode_plain(&kv.value)
                    && terminating(&obj)
                    && let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str)
                {
                    spawn(&state, &tx, &mut active, name);
                }
            }
            list.revision
        }
        Err(e) => {
            tracing::error!("namespace finalizer cannot list namespaces: {e}");
            return;
        }
    };
    let mut watch = match state.store.watch(&res.prefix(), start).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("namespace finalizer cannot watch namespaces: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            Some(name) = done.recv() => { active.remove(&name); }
            batch = watch.next() => match batch {
                Ok(events) => {
                    for ev in events.iter().filter(|e| e.kind == EventKind::Put) {
                        if let Ok(obj) = codec::decode_plain(&ev.kv.value)
                            && terminating(&obj)
                            && let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str)
                        {
                            spawn(&state, &tx, &mut active, name);
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!("namespace watch ended: {e}");
                    return;
                }
            }
        }
    }
}

fn spawn(
    state: &Arc<AppState>,
    tx: &tokio::sync::mpsc::UnboundedSender<String>,
    active: &mut HashSet<String>,
    name: &str,
) {
    if !active.insert(name.to_string()) {
        return;
    }
    let state = state.clone();
    let tx = tx.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        drive(state, name.clone()).await;
        let _ = tx.send(name);
    });
}
