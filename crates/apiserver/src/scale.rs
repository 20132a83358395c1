//! The `scale` subresource (autoscaling/v1 Scale) of workloads.

use k3rs_api::registry::ResourceInfo;
use k3rs_api::selector::LabelSelector;
use k3rs_api::status::ApiError;
use serde_json::{Value, json};

use crate::query::Query;
use crate::state::AppState;

/// The Scale view of a workload object.
pub fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let pick = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
    let selector = match obj.pointer("/spec/selector") {
        Some(sel) if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() => {
            LabelSelector::from_object(sel)
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
        // ReplicationControllers have a plain map selector.
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"), "namespace": pick("namespace"), "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"), "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

pub async fn get(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    Ok(scale_of(&state.get_object(res, ns, name).await?))
}

/// Change the scale: `change` maps the current Scale to the desired one.
pub async fn update<F>(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    q: &Query,
    mut change: F,
) -> Result<Value, ApiError>
where
    F: FnMut(&Value) -> Result<Value, ApiError>,
{
    let written = state
        .update_with(res, ns, name, None, q, |current| {
            let desired = change(&scale_of(current))?;
            let replicas = desired
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::bad_request("spec.replicas is required in a Scale"))?;
            let mut obj = current.clone();
            if let Some(rv) = desired
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                obj["metadata"]["resourceVersion"] = json!(rv);
            }
            obj["spec"]["replicas"] = json!(replicas);
            Ok(obj)
        })
        .await?;
    Ok(scale_of(&written.object))
}
