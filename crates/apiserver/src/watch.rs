//! Watch: a chunked stream of `{"type":…,"object":…}` lines fed by the store's watch.
//! Selector transitions follow upstream: an object that stops matching is DELETED for this
//! watcher, one that starts matching is ADDED.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::ApiError;
use k3rs_store::{Event, EventKind, ListOptions, Revision, StoreError};
use tokio::sync::mpsc;

use crate::codec;
use crate::ops::{Filter, list_prefix, store_error};
use crate::query::Query;
use crate::state::AppState;

/// How often idle watches get a BOOKMARK when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Frames buffered per watch response before the writer waits for the client.
const FRAME_BUFFER: usize = 64;

fn frame(kind: &str, object_json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object_json.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object_json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn event_frame(kind: &str, kv: &k3rs_store::KeyValue, version: Option<&str>) -> Option<Bytes> {
    codec::to_json_as(&kv.value, kv.mod_revision, version)
        .ok()
        .map(|json| frame(kind, &json))
}

fn bookmark(res: &ResourceInfo, revision: Revision, initial_events_end: bool) -> Bytes {
    let mut meta = serde_json::json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        meta["annotations"] = serde_json::json!({"k8s.io/initial-events-end": "true"});
    }
    let obj =
        serde_json::json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta});
    frame("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

fn error_frame(err: &ApiError) -> Bytes {
    frame(
        "ERROR",
        &serde_json::to_vec(&err.to_status()).unwrap_or_default(),
    )
}

/// Which watch line (if any) one store event becomes for this watcher.
fn translate(
    res: &ResourceInfo,
    filter: &Filter,
    ev: &Event,
    version: Option<&str>,
) -> Option<Bytes> {
    let now = filter.matches(res, &ev.kv.value);
    match ev.kind {
        EventKind::Delete => now
            .then(|| event_frame("DELETED", &ev.kv, version))
            .flatten(),
        EventKind::Put => {
            let before = ev.prev.as_ref().map(|p| filter.matches(res, &p.value));
            match (before, now) {
                (None | Some(false), true) => event_frame("ADDED", &ev.kv, version),
                (Some(true), true) => event_frame("MODIFIED", &ev.kv, version),
                (Some(true), false) => event_frame("DELETED", &ev.kv, version),
                _ => None,
            }
        }
    }
}

/// Start a watch and return the streaming response.
pub async fn watch(
    state: Arc<AppState>,
    res: &'static ResourceInfo,
    ns: Option<String>,
    q: Query,
) -> Result<Response, ApiError> {
    let filter = Filter::new(res, &q)?;
    let version = state.presented_version(res);
    let prefix = list_prefix(res, ns.as_deref());
    let (tx, rx) = mpsc::channel::<Bytes>(FRAME_BUFFER);
    let from_now = matches!(q.resource_version.as_deref(), None | Some("0"));
    let mut initial = Vec::new();
    let start: Revision = if from_now {
        // Synthetic ADDED events for the current state, then changes after it.
        let list = state
            .store
            .list(ListOptions {
                prefix: prefix.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| store_error(res, "", e))?;
        for kv in &list.items {
            if filter.matches(res, &kv.value)
                && let Some(f) = event_frame("ADDED", kv, version.as_deref())
            {
                initial.push(f);
            }
        }
        list.revision
    } else {
        q.resource_version
            .as_deref()
            .unwrap_or("0")
            .parse()
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid resource version: {:?}",
                    q.resource_version.as_deref().unwrap_or("")
                ))
            })?
    };
    let timeout = Duration::from_secs(
        q.timeout_seconds
            .unwrap_or_else(|| 1800 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 7),
    );
    let send_bookmarks = q.allow_watch_bookmarks;
    let initial_end = q.send_initial_events && send_bookmarks;
    let watch = state.store.watch(&prefix, start).await;
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut watch = match watch {
            Ok(w) => w,
            Err(StoreError::Compacted {
                requested,
                compacted,
            }) => {
                let _ = tx
                    .send(error_frame(&ApiError::Expired(format!(
                        "too old resource version: {requested} ({compacted})"
                    ))))
                    .await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(error_frame(&ApiError::Internal(e.to_string())))
                    .await;
                return;
            }
        };
        for f in initial {
            if tx.send(f).await.is_err() {
                return;
            }
        }
        let mut last = start;
        if initial_end && tx.send(bookmark(res, last, true)).await.is_err() {
            return;
        }
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_INTERVAL,
            BOOKMARK_INTERVAL,
        );
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if send_bookmarks => {
                    if tx.send(bookmark(res, last, false)).await.is_err() {
                        return;
                    }
                }
                batch = watch.next() => match batch {
                    Ok(events) => {
                        for ev in &events {
                            last = ev.kv.mod_revision;
                            if let Some(f) = translate(res, &filter, ev, version.as_deref())
                                && tx.send(f).await.is_err()
                            {
                                return;
                            }
                        }
                    }
                    Err(StoreError::Compacted { requested, compacted }) => {
                        let _ = tx.send(error_frame(&ApiError::Expired(format!("too old resource version: {requested} ({compacted})")))).await;
                        return;
                    }
                    // A lagging watcher is closed; the client re-watches from its last revision.
                    Err(_) => return,
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.to_string()))
}
