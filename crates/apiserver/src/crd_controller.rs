//! The CRD controller: accepts a CustomResourceDefinition's names, serves its versions at once
//! (conditions NamesAccepted and Established), and on deletion removes every custom object
//! before the CRD goes (finalizer `customresourcecleanup.apiextensions.k8s.io`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::status::ApiError;
use k3rs_store::{EventKind, ListOptions};
use serde_json::{Value, json};

use crate::codec;
use crate::crds::{CustomResource, Definition, Schema};
use crate::meta::now_rfc3339;
use crate::ops::DeleteOptions;
use crate::query::Query;
use crate::state::AppState;

/// The finalizer that holds a CRD until its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn crd_resource() -> Option<&'static ResourceInfo> {
    registry::lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The names a CRD asks for, with upstream's defaults (singular = lower-case kind, listKind = kind + "List").
fn accepted_names(crd: &Value) -> Value {
    let kind = text(crd, "/spec/names/kind");
    let singular = match text(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let list_kind = match text(crd, "/spec/names/listKind") {
        "" => format!("{kind}List"),
        s => s.to_string(),
    };
    let mut names = json!({
        "plural": text(crd, "/spec/names/plural"),
        "singular": singular,
        "kind": kind,
        "listKind": list_kind,
    });
    for f in ["shortNames", "categories"] {
        let list = strings(crd, &format!("/spec/names/{f}"));
        if !list.is_empty() {
            names[f] = json!(list);
        }
    }
    names
}

/// The served versions of a CRD, ready to register.
fn versions(state: &AppState, crd: &Value) -> Vec<CustomResource> {
    let names = accepted_names(crd);
    let crd_name = text(crd, "/metadata/name").to_string();
    let group = text(crd, "/spec/group").to_string();
    let namespaced = text(crd, "/spec/scope") != "Cluster";
    let all_versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage_version = all_versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| text(v, "/name").to_string())
        .unwrap_or_default();
    all_versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .map(|v| {
            let definition = Definition {
                group: group.clone(),
                version: text(v, "/name").to_string(),
                plural: text(&names, "/plural").to_string(),
                singular: text(&names, "/singular").to_string(),
                kind: text(&names, "/kind").to_string(),
                namespaced,
                short_names: strings(&names, "/shortNames"),
                categories: strings(&names, "/categories"),
                status: v.pointer("/subresources/status").is_some(),
                scale: v.pointer("/subresources/scale").is_some(),
            };
            let openapi_schema = v.pointer("/schema/openAPIV3Schema").cloned();
            let schema = openapi_schema
                .as_ref()
                .and_then(|s| Schema::compile(s).ok());
            CustomResource {
                info: state.crds.intern(&definition),
                crd_name: crd_name.clone(),
                schema,
                openapi_schema,
                list_kind: text(&names, "/listKind").to_string(),
                printer_columns: v
                    .get("additionalPrinterColumns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                storage_version: storage_version.clone(),
            }
        })
        .collect()
}

/// The names a served version uses, for conflict checks.
fn definition_of(cr: &CustomResource) -> Definition {
    let i = cr.info;
    Definition {
        group: i.group.to_string(),
        version: i.version.to_string(),
        plural: i.plural.to_string(),
        singular: i.singular.to_string(),
        kind: i.kind.to_string(),
        namespaced: i.namespaced,
        short_names: i.short_names.iter().map(|s| s.to_string()).collect(),
        categories: i.categories.iter().map(|s| s.to_string()).collect(),
        status: i.status,
        scale: i.scale,
    }
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, previous: &Value) -> Value {
    let status = if ok { "True" } else { "False" };
    // Keep the transition time when the status did not change.
    let since = previous
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == kind && c["status"] == status)
        })
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now_rfc3339()));
    json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
}

/// Accept and serve a CRD (or report its name conflict) and write its status.
async fn establish(state: &AppState, crd: &Value) -> Result<(), ApiError> {
    let Some(res) = crd_resource() else {
        return Ok(());
    };
    let name = text(crd, "/metadata/name").to_string();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let builtin = registry::all()
        .iter()
        .any(|r| r.group == group && r.plural == plural);
    let served = versions(state, crd);
    let conflict = builtin
        || served
            .first()
            .is_some_and(|cr| state.crds.conflicts(&name, &definition_of(cr)));
    if !conflict {
        state.crds.set(&name, served);
        state.rebuild_discovery();
    }
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .map(|v| text(v, "/name").to_string());
    state
        .update_with(res, None, &name, Some("status"), &Query::default(), |current| {
            let mut next = current.clone();
            let mut stored = strings(current, "/status/storedVersions");
            if let Some(s) = &storage
                && !stored.contains(s)
            {
                stored.push(s.clone());
            }
            let conditions = if conflict {
                vec![
                    condition("NamesAccepted", false, "MultipleNamesConflict", &format!("{plural:?} is already in use"), current),
                    condition("Established", false, "NotAccepted", "not all names are accepted", current),
                ]
            } else {
                vec![
                    condition("NamesAccepted", true, "NoConflicts", "no conflicts found", current),
                    condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted", current),
                ]
            };
            next["status"] = json!({
                "conditions": conditions,
                "acceptedNames": if conflict { json!({"plural": "", "kind": ""}) } else { accepted_names(current) },
                "storedVersions": stored,
            });
            Ok(next)
        })
        .await
        .map(|_| ())
}

/// Delete every object of a CRD being deleted, then release the CRD.
async fn clean_up(state: &AppState, crd: &Value) -> Result<bool, ApiError> {
    let name = text(crd, "/metadata/name").to_string();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let served: Vec<Arc<CustomResource>> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| state.crds.lookup(group, text(v, "/name"), plural))
        .collect();
    let mut left = false;
    if let Some(cr) = served.first() {
        let page = state
            .store
            .list(ListOptions {
                prefix: cr.info.prefix(),
                ..Default::default()
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        for kv in page.items {
            left = true;
            let Ok(obj) = codec::decode_plain(&kv.value) else {
                continue;
            };
            if obj.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
            let obj_name = text(&obj, "/metadata/name");
            match state
                .delete(
                    cr.info,
                    ns,
                    obj_name,
                    &DeleteOptions::default(),
                    &Query::default(),
                )
                .await
            {
                Ok(_) | Err(ApiError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(crd = %name, object = obj_name, "deleting custom object: {e}")
                }
            }
        }
    }
    if left {
        return Ok(false);
    }
    state.crds.set(&name, Vec::new());
    state.rebuild_discovery();
    let Some(res) = crd_resource() else {
        return Ok(true);
    };
    let result = state
        .update_with(res, None, &name, None, &Query::default(), |current| {
            let mut next = current.clone();
            let fins: Vec<Value> = current
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter(|f| f.as_str() != Some(CLEANUP_FINALIZER))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            next["metadata"]["finalizers"] = json!(fins);
            Ok(next)
        })
        .await;
    match result {
        Ok(_) | Err(ApiError::NotFound(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

async fn reconcile(state: &AppState, crd: &Value) {
    let name = text(crd, "/metadata/name").to_string();
    if crd.pointer("/metadata/deletionTimestamp").is_none() {
        if let Err(e) = establish(state, crd).await {
            tracing::warn!(crd = %name, "establishing CRD: {e}");
        }
        return;
    }
    let mut delay = Duration::from_millis(100);
    loop {
        match clean_up(state, crd).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => tracing::warn!(crd = %name, "cleaning up CRD: {e}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        let Some(res) = crd_resource() else { return };
        if state.get_object(res, None, &name).await.is_err() {
            return;
        }
    }
}

/// Watch CRDs and keep the served custom resources in step. Runs until the store closes.
pub async fn run(state: Arc<AppState>) {
    let Some(res) = crd_resource() else { return };
    let list = match state
        .store
        .list(ListOptions {
            prefix: res.prefix(),
            ..Default::default()
        })
        .await
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("CRD controller cannot list CRDs: {e}");
            return;
        }
    };
    for kv in &list.items {
        if let Ok(crd) = codec::decode_plain(&kv.value) {
            spawn_reconcile(&state, crd);
        }
    }
    let mut watch = match state.store.watch(&res.prefix(), list.revision).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("CRD controller cannot watch CRDs: {e}");
            return;
        }
    };
    let mut cleaning: HashSet<String> = HashSet::new();
    while let Ok(events) = watch.next().await {
        for ev in events {
            let Ok(crd) = codec::decode_plain(&ev.kv.value) else {
                continue;
            };
            let name = text(&crd, "/metadata/name").to_string();
            match ev.kind {
                EventKind::Delete => {
                    cleaning.remove(&name);
                    state.crds.set(&name, Vec::new());
                    state.rebuild_discovery();
                }
                EventKind::Put if crd.pointer("/metadata/deletionTimestamp").is_some() => {
                    if cleaning.insert(name) {
                        spawn_reconcile(&state, crd);
                    }
                }
                // Status writes of our own come back as events; only spec/metadata matter.
                EventKind::Put => {
                    let changed = ev
                        .prev
                        .as_ref()
                        .and_then(|p| codec::decode_plain(&p.value).ok())
                        .is_none_or(|prev| {
                            prev.get("spec") != crd.get("spec")
                                || prev.pointer("/status/acceptedNames").is_none()
                        });
                    if changed {
                        reconcile(&state, &crd).await;
                    }
                }
            }
        }
    }
}

fn spawn_reconcile(state: &Arc<AppState>, crd: Value) {
    let state = state.clone();
    tokio::spawn(async move { reconcile(&state, &crd).await });
}
