//! The eviction subresource (`POST pods/<name>/eviction`, a policy/v1 or v1beta1 Eviction):
//! delete a pod unless that would break its PodDisruptionBudget, as upstream's `EvictionREST`.
//!
//! Terminal, Pending and already terminating pods are deleted without looking at budgets. A
//! pod under one budget is deleted when the budget allows a disruption — decremented in the
//! budget's status (with the pod in `disruptedPods`) by a compare-and-swap, so concurrent
//! evictions cannot both spend the last disruption — or when the pod is not Ready and the
//! budget's `unhealthyPodEvictionPolicy` permits it. Otherwise 429 TooManyRequests. A pod under
//! several budgets is refused with 500, as upstream.

use k3rs_api::disruption::set_disruption_allowed;
use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::selector::LabelSelector;
use k3rs_api::status::{ApiError, success_status};
use k3rs_store::ListOptions;
use serde_json::{Value, json};

use crate::admission::{stale, writer_query};
use crate::codec;
use crate::meta::{meta_str, now_rfc3339};
use crate::ops::{DeleteOptions, store_error};
use crate::query::Query;
use crate::state::AppState;

#[cfg(test)]
mod tests;

/// Retries of an eviction that lost a race on the pod or the budget (upstream `EvictionsRetry`
/// has 5 steps).
const RETRIES: usize = 5;
/// Upstream `MaxDisruptedPodSize`.
const MAX_DISRUPTED_PODS: usize = 2000;
const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// What the eviction answers: an HTTP status and a `metav1.Status` body.
pub struct Outcome {
    pub code: u16,
    pub body: Value,
    /// Seconds for a `Retry-After` header (upstream sets it from `retryAfterSeconds`).
    pub retry_after: Option<u32>,
}

fn status_body(code: u16, message: &str, reason: Option<&str>, details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message});
    if let Some(r) = reason {
        s["reason"] = json!(r);
    }
    if let Some(d) = details {
        s["details"] = d;
    }
    s["code"] = json!(code);
    s
}

/// 429 with a `DisruptionBudget` cause (upstream `NewTooManyRequests` + cause).
fn too_many_requests(cause: String, retry_after: u32) -> Outcome {
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    Outcome {
        code: 429,
        body: status_body(429, REFUSED, Some("TooManyRequests"), Some(details)),
        retry_after: (retry_after > 0).then_some(retry_after),
    }
}

fn still_processing(pdb: &str) -> Outcome {
    too_many_requests(
        format!("The disruption budget {pdb} is still being processed by the server."),
        10,
    )
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Upstream `canIgnorePDB`: the pod is not running (yet or any more) or already going away.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending")
        || !meta_str(pod, "deletionTimestamp").is_empty()
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The outcome of spending a disruption of a budget.
enum Spend {
    Done,
    Refused(Outcome),
    Retry,
}

fn pods() -> Result<&'static ResourceInfo, ApiError> {
    registry::lookup("", "v1", "pods")
        .ok_or_else(|| ApiError::Internal("pods not registered".into()))
}

fn budgets() -> Result<&'static ResourceInfo, ApiError> {
    registry::lookup("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::Internal("poddisruptionbudgets not registered".into()))
}

/// Evict pod `name` in `ns` as the Eviction `body` asks.
pub async fn evict(
    state: &AppState,
    ns: &str,
    name: &str,
    body: &Value,
    q: &Query,
) -> Result<Outcome, ApiError> {
    let body_name = meta_str(body, "name");
    if body_name != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let delete_body = body.get("deleteOptions").filter(|d| d.is_object());
    let opts = DeleteOptions::from_request(q, delete_body);
    let dry_run = q.dry_run
        || delete_body
            .and_then(|d| d.get("dryRun"))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("All")));
    let q = Query {
        dry_run,
        ..q.clone()
    };
    let pod_res = pods()?;
    let caller_rv = opts.precondition_rv.is_some();
    for _ in 0..RETRIES {
        let pod = state.get_object(pod_res, Some(ns), name).await?;
        if can_ignore_budget(&pod) {
            let mut o = opts.clone();
            // A pod that may still become Ready is deleted only as we saw it (upstream
            // `shouldEnforceResourceVersion`).
            let settled = matches!(phase(&pod), "Succeeded" | "Failed")
                || !meta_str(&pod, "deletionTimestamp").is_empty();
            if !settled && o.precondition_rv.is_none() {
                o.precondition_rv = Some(meta_str(&pod, "resourceVersion").to_string());
            }
            match delete_pod(state, ns, name, o, &q).await {
                Err(ApiError::Conflict { .. }) if !caller_rv => continue,
                other => return other,
            }
        }
        let covering = covering_budgets(state, ns, &pod).await?;
        let budget = match covering.as_slice() {
            [] => return delete_pod(state, ns, name, opts, &q).await,
            [one] => one.clone(),
            _ => {
                return Ok(Outcome {
                    code: 500,
                    body: status_body(
                        500,
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                        None,
                        None,
                    ),
                    retry_after: None,
                });
            }
        };
        let pdb_name = meta_str(&budget.1, "name").to_string();
        if !is_ready(&pod) {
            let policy = budget
                .1
                .pointer("/spec/unhealthyPodEvictionPolicy")
                .and_then(Value::as_str);
            let healthy_enough = int_at(&budget.1, "/status/currentHealthy")
                >= int_at(&budget.1, "/status/desiredHealthy")
                && int_at(&budget.1, "/status/desiredHealthy") > 0;
            if policy == Some("AlwaysAllow") || healthy_enough {
                // An unready pod does not count as healthy: deleting it spends nothing, as
                // long as it is still the pod we judged.
                let mut o = opts.clone();
                if o.precondition_rv.is_none() {
                    o.precondition_rv = Some(meta_str(&pod, "resourceVersion").to_string());
                }
                return match delete_pod(state, ns, name, o, &q).await {
                    Err(ApiError::Conflict { .. }) if !caller_rv => Ok(still_processing(&pdb_name)),
                    other => other,
                };
            }
        }
        let mut current = budget;
        let mut spent = false;
        for attempt in 0..RETRIES {
            if attempt > 0 {
                let res = budgets()?;
                let kv = state.get_kv(res, Some(ns), &pdb_name).await?;
                let obj = codec::decode(&kv.value, kv.mod_revision)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                current = (kv.mod_revision, obj);
            }
            match spend(state, &current, name, dry_run).await? {
                Spend::Done => {
                    spent = true;
                    break;
                }
                Spend::Refused(o) => return Ok(o),
                Spend::Retry => {}
            }
        }
        if !spent {
            return Err(ApiError::Timeout(format!(
                "couldn't update PodDisruptionBudget {pdb_name:?} due to conflicts"
            )));
        }
        return delete_pod(state, ns, name, opts, &q).await;
    }
    Err(ApiError::Conflict {
        target: crate::ops::target(pod_res, name),
        message: "too many concurrent updates, please retry".into(),
    })
}

/// The budgets of the pod's namespace whose selector matches it (a budget's empty selector
/// matches every pod in policy/v1; a missing one none).
async fn covering_budgets(
    state: &AppState,
    ns: &str,
    pod: &Value,
) -> Result<Vec<(i64, Value)>, ApiError> {
    let res = budgets()?;
    let page = state
        .store
        .list(ListOptions {
            prefix: res.namespace_prefix(ns),
            start_after: None,
            limit: None,
            revision: None,
        })
        .await
        .map_err(|e| store_error(res, "", e))?;
    let mut out = Vec::new();
    for kv in page.items {
        let pdb = codec::decode(&kv.value, kv.mod_revision)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let selector = pdb
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or(Value::Null);
        let Ok(selector) = LabelSelector::from_object(&selector) else {
            continue;
        };
        if selector.matches_object(pod) {
            out.push((kv.mod_revision, pdb));
        }
    }
    Ok(out)
}

/// Upstream `checkAndDecrement`: spend one disruption of the budget for `pod`, recording the
/// pod in `disruptedPods`, with a compare-and-swap on the budget's revision.
async fn spend(
    state: &AppState,
    (revision, pdb): &(i64, Value),
    pod: &str,
    dry_run: bool,
) -> Result<Spend, ApiError> {
    let name = meta_str(pdb, "name");
    if int_at(pdb, "/status/observedGeneration") < int_at(pdb, "/metadata/generation") {
        return Ok(Spend::Refused(still_processing(name)));
    }
    let allowed = int_at(pdb, "/status/disruptionsAllowed");
    let forbidden = |why: &str| {
        Spend::Refused(Outcome {
            code: 403,
            body: serde_json::to_value(
                ApiError::Forbidden(format!(
                    "poddisruptionbudgets.policy {name:?} is forbidden: {why}"
                ))
                .to_status(),
            )
            .unwrap_or_default(),
            retry_after: None,
        })
    };
    if allowed < 0 {
        return Ok(forbidden("pdb disruptions allowed is negative"));
    }
    let disrupted = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Ok(forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Ok(Spend::Refused(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int_at(pdb, "/status/desiredHealthy"),
                int_at(pdb, "/status/currentHealthy")
            ),
            0,
        )));
    }
    if dry_run {
        return Ok(Spend::Done);
    }
    let now = now_rfc3339();
    let res = budgets()?;
    let ns = meta_str(pdb, "namespace");
    let written = state
        .update_with(
            res,
            Some(ns),
            name,
            Some("status"),
            &writer_query(),
            |current| {
                if meta_str(current, "resourceVersion") != revision.to_string() {
                    return Err(stale(res, name));
                }
                let mut updated = current.clone();
                if let Some(status) = updated.get_mut("status").and_then(Value::as_object_mut) {
                    status.insert("disruptionsAllowed".into(), json!(allowed - 1));
                    if allowed - 1 == 0 {
                        set_disruption_allowed(status, &now);
                    }
                    let disrupted = status.entry("disruptedPods").or_insert_with(|| json!({}));
                    if !disrupted.is_object() {
                        *disrupted = json!({});
                    }
                    if let Some(m) = disrupted.as_object_mut() {
                        m.insert(pod.to_string(), json!(now));
                    }
                }
                Ok(updated)
            },
        )
        .await;
    match written {
        Ok(_) => Ok(Spend::Done),
        Err(ApiError::Conflict { .. }) => Ok(Spend::Retry),
        Err(e) => Err(e),
    }
}

/// Upstream `addConditionAndDeletePod`: mark the pod with the DisruptionTarget condition
/// (checking the delete preconditions against the latest pod), then delete it.
async fn delete_pod(
    state: &AppState,
    ns: &str,
    name: &str,
    mut opts: DeleteOptions,
    q: &Query,
) -> Result<Outcome, ApiError> {
    let res = pods()?;
    if !q.dry_run {
        let now = now_rfc3339();
        let marked = state
            .update_with(res, Some(ns), name, Some("status"), q, |current| {
                let target = || crate::ops::target(res, name);
                if let Some(uid) = &opts.precondition_uid
                    && uid != meta_str(current, "uid")
                {
                    return Err(ApiError::Conflict {
                        target: target(),
                        message: format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            meta_str(current, "uid")
                        ),
                    });
                }
                if let Some(rv) = &opts.precondition_rv
                    && rv != meta_str(current, "resourceVersion")
                {
                    return Err(ApiError::Conflict {
                        target: target(),
                        message: format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            meta_str(current, "resourceVersion")
                        ),
                    });
                }
                let mut pod = current.clone();
                add_disruption_target(&mut pod, &now);
                Ok(pod)
            })
            .await?;
        if opts.precondition_rv.is_some() {
            // We changed the pod: the precondition moves to our own write.
            opts.precondition_rv = Some(meta_str(&marked.object, "resourceVersion").to_string());
        }
    }
    state.delete(res, Some(ns), name, &opts, q).await?;
    let mut body = success_status(None);
    body["code"] = json!(201);
    Ok(Outcome {
        code: 201,
        body,
        retry_after: None,
    })
}

/// Set `DisruptionTarget=True` (reason EvictionByEvictionAPI) on a pod's status.
fn add_disruption_target(pod: &mut Value, now: &str) {
    let Some(obj) = pod.as_object_mut() else {
        return;
    };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let fresh = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionTarget"))
    {
        Some(c) => *c = fresh,
        None => list.push(fresh),
    }
}
