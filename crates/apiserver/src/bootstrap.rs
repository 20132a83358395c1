//! What exists from the start: the system namespaces and the `kubernetes` Service with
//! endpoints pointing at this API server. Written through the same operations clients use.

use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::status::ApiError;
use k3rs_store::ListOptions;
use serde_json::{Value, json};

use crate::codec;
use crate::query::Query;
use crate::state::AppState;

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

fn resource(group: &str, plural: &str) -> Result<&'static ResourceInfo, ApiError> {
    registry::lookup(group, "v1", plural)
        .ok_or_else(|| ApiError::Internal(format!("{plural} not registered")))
}

async fn ensure(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    obj: Value,
) -> Result<(), ApiError> {
    // Existing objects are left alone (creating again could trip admission, e.g. a taken IP).
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match state.get_kv(res, ns, name).await {
        Ok(_) => return Ok(()),
        Err(ApiError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    match state.create(res, ns, obj, &Query::default()).await {
        Ok(_) | Err(ApiError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create or replace an object's spec-like content (used for endpoints that track this server).
async fn upsert(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    obj: Value,
) -> Result<(), ApiError> {
    match state.get_object(res, ns, name).await {
        Err(ApiError::NotFound(_)) => ensure(state, res, ns, obj).await,
        Err(e) => Err(e),
        Ok(_) => state
            .update_with(res, ns, name, None, &Query::default(), |_| Ok(obj.clone()))
            .await
            .map(|_| ()),
    }
}

/// Rebuild in-memory state from the store and create the built-in objects.
pub async fn run(state: &AppState) -> Result<(), ApiError> {
    let services = resource("", "services")?;
    let stored = state
        .store
        .list(ListOptions {
            prefix: services.prefix(),
            ..Default::default()
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    {
        let mut alloc = state
            .services
            .lock()
            .map_err(|_| ApiError::Internal("allocator lock poisoned".into()))?;
        for kv in &stored.items {
            if let Ok(svc) = codec::decode_plain(&kv.value) {
                alloc.adopt(&svc);
            }
        }
    }
    let namespaces = resource("", "namespaces")?;
    for ns in SYSTEM_NAMESPACES {
        ensure(state, namespaces, None, json!({"metadata": {"name": ns}})).await?;
    }
    let ip = state
        .services
        .lock()
        .map_err(|_| ApiError::Internal("allocator lock poisoned".into()))?
        .kubernetes_ip()
        .ok_or_else(|| ApiError::Internal("service CIDR has no host addresses".into()))?;
    let port = state.config.https_port;
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    ensure(
        state,
        services,
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": labels},
            "spec": {"clusterIP": ip.to_string(), "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
        }),
    )
    .await?;
    let address = state.config.advertise_address.to_string();
    upsert(
        state,
        resource("", "endpoints")?,
        Some("default"),
        "kubernetes",
        json!({
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
    )
    .await?;
    upsert(
        state,
        resource("discovery.k8s.io", "endpointslices")?,
        Some("default"),
        "kubernetes",
        json!({
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": if state.config.advertise_address.is_ipv4() { "IPv4" } else { "IPv6" },
            "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
    )
    .await?;
    Ok(())
}
