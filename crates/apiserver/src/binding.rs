//! `pods/binding`: the scheduler's way to assign a pod to a node.

use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::{ApiError, Target};
use serde_json::{Value, json};

use crate::meta::now_rfc3339;
use crate::query::Query;
use crate::state::AppState;

pub async fn bind(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    binding: &Value,
    q: &Query,
) -> Result<(), ApiError> {
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("a Binding needs target.name"))?
        .to_string();
    state
        .update_with(res, ns, name, None, q, |pod| {
            if let Some(current) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(ApiError::Conflict {
                    target: Target::new("", "pods", name),
                    message: format!("pod {name} is already assigned to node {current:?}"),
                });
            }
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                return Err(ApiError::Conflict {
                    target: Target::new("", "pods", name),
                    message: format!("pod {name} is being deleted, cannot be assigned to a host"),
                });
            }
            let mut pod = pod.clone();
            pod["spec"]["nodeName"] = json!(node);
            Ok(pod)
        })
        .await?;
    // The PodScheduled condition lives in status, written through the status path.
    state
        .update_with(res, ns, name, Some("status"), q, |pod| {
            let mut pod = pod.clone();
            let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let mut conditions: Vec<Value> = conditions.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
            conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()}));
            pod["status"]["conditions"] = json!(conditions);
            Ok(pod)
        })
        .await?;
    Ok(())
}
