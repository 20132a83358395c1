//! Requests the API server hands to a kubelet: `pods/log`, `pods/exec`, `pods/attach`,
//! `pods/portforward` and `nodes/<name>/proxy/<path>`.
//!
//! Architecture: the API server resolves the pod (container defaulting, "waiting to start"
//! errors, the node's address) and then *relays* — it does not speak the streaming protocols.
//! A log request becomes a kubelet `containerLogs` GET whose body is streamed back; an upgrade
//! request (WebSocket or SPDY) is replayed to the kubelet with its upgrade headers, the
//! kubelet's `101` is returned to the caller, and from then on bytes are copied both ways. The
//! kubelet (`k3rs_kubelet::server`) negotiates the protocol and bridges to containerd, so
//! every dialect kubectl or a library speaks is handled in one place.
//!
//! The kubelet is reached at the Node's InternalIP and `daemonEndpoints.kubeletEndpoint.Port`
//! over TLS: its serving certificate is verified against the cluster CA, and the API server
//! presents its kubelet client certificate (`kube-apiserver-kubelet-client`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::ApiError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio_rustls::TlsConnector;

use crate::state::AppState;

/// The kubelet port when the Node does not say.
const DEFAULT_KUBELET_PORT: u16 = 10250;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pod subresources served by the kubelet.
pub const POD_SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

#[derive(Debug, thiserror::Error)]
pub enum KubeletTlsError {
    #[error("kubelet client TLS: {0}")]
    Setup(String),
}

/// The TLS client configuration for kubelets: trust the cluster CA, present the API server's
/// kubelet client certificate (PEM).
pub fn kubelet_client_tls(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, KubeletTlsError> {
    let err =
        |what: &str, e: &dyn std::fmt::Display| KubeletTlsError::Setup(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| err("cluster CA", &e))?)
            .map_err(|e| err("cluster CA", &e))?;
    }
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("client certificate", &e))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| err("client key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("protocol versions", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err("client certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The query pairs of a request, decoded.
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The container a request is about: the `container` parameter, or the only container.
pub fn choose_container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let containers = names(pod.pointer("/spec/containers"));
    let init = names(pod.pointer("/spec/initContainers"));
    let ephemeral = names(pod.pointer("/spec/ephemeralContainers"));
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            if containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::BadRequest(format!(
                    "container {c} is not valid for pod {pod_name}"
                )))
            }
        }
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(ApiError::BadRequest(msg))
        }
    }
}

/// Logs of a container that has not started yet are an error, as upstream's kubelet says it.
pub fn check_log_status(pod: &Value, container: &str, previous: bool) -> Result<(), ApiError> {
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| {
        pod.pointer(&format!("/status/{k}"))
            .and_then(Value::as_array)
    })
    .flatten()
    .find(|s| s.get("name").and_then(Value::as_str) == Some(container));
    if previous {
        let terminated = status
            .and_then(|s| s.pointer("/lastState/terminated"))
            .is_some();
        if !terminated {
            return Err(ApiError::BadRequest(format!(
                "previous terminated container {container:?} in pod {pod_name:?} not found"
            )));
        }
        return Ok(());
    }
    let state = status.and_then(|s| s.get("state"));
    let running_or_done =
        state.is_some_and(|s| s.get("running").is_some() || s.get("terminated").is_some());
    // A restarting container (waiting, but with a previous run) still has logs to show.
    let ran_before = status
        .and_then(|s| s.pointer("/lastState/terminated"))
        .is_some();
    if running_or_done || ran_before {
        return Ok(());
    }
    let reason = state
        .and_then(|s| s.pointer("/waiting/reason"))
        .and_then(Value::as_str)
        .unwrap_or("ContainerCreating");
    Err(ApiError::BadRequest(format!(
        "container {container:?} in pod {pod_name:?} is waiting to start: {reason}"
    )))
}

/// Upstream's pods/log option validation (the kubelet repeats it; failing early gives the
/// API's error form).
pub fn validate_log_options(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        query_value(pairs, k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid value for {k}: {v:?}")))
            })
            .transpose()
    };
    if int("tailLines")?.is_some_and(|n| n < 0) {
        return Err(ApiError::BadRequest(
            "PodLogOptions \"\" is invalid: tailLines: Invalid value: must be greater than or equal to 0".into(),
        ));
    }
    if int("limitBytes")?.is_some_and(|n| n < 1) {
        return Err(ApiError::BadRequest(
            "PodLogOptions \"\" is invalid: limitBytes: Invalid value: must be greater than 0"
                .into(),
        ));
    }
    let since_seconds = int("sinceSeconds")?;
    if since_seconds.is_some_and(|n| n < 1) {
        return Err(ApiError::BadRequest(
            "PodLogOptions \"\" is invalid: sinceSeconds: Invalid value: must be greater than 0"
                .into(),
        ));
    }
    if since_seconds.is_some() && query_value(pairs, "sinceTime").is_some() {
        return Err(ApiError::BadRequest(
            "PodLogOptions \"\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
        ));
    }
    Ok(())
}

/// The kubelet's address: the Node's InternalIP (else its first address) and kubelet port.
pub fn kubelet_address(node: &Value) -> Result<(IpAddr, u16), ApiError> {
    let name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let addresses: Vec<&Value> = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let pick = |kind: Option<&str>| {
        addresses
            .iter()
            .filter(|a| kind.is_none_or(|k| a.get("type").and_then(Value::as_str) == Some(k)))
            .filter_map(|a| a.get("address").and_then(Value::as_str))
            .find_map(|a| a.parse::<IpAddr>().ok())
    };
    let ip = pick(Some("InternalIP"))
        .or_else(|| pick(None))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "node {name:?} has no address to reach its kubelet at"
            ))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok((ip, port))
}

/// The kubelet path (with query) for a pod subresource.
pub fn kubelet_path(
    sub: &str,
    ns: &str,
    pod: &str,
    container: &str,
    pairs: &[(String, String)],
) -> String {
    let kept: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "container").collect();
    let query = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let base = match sub {
        "log" => format!("/containerLogs/{ns}/{pod}/{container}"),
        "exec" => format!("/exec/{ns}/{pod}/{container}"),
        "attach" => format!("/attach/{ns}/{pod}/{container}"),
        _ => format!("/portForward/{ns}/{pod}"),
    };
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

/// The path under `/api/v1/nodes/<name>/proxy`, when the request is a node proxy request.
pub fn node_proxy_target(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix("/api/v1/nodes/")?;
    let (name, rest) = rest.split_once('/')?;
    let tail = rest.strip_prefix("proxy")?;
    if !(tail.is_empty() || tail.starts_with('/')) || name.is_empty() {
        return None;
    }
    let tail = if tail.is_empty() { "/" } else { tail };
    Some((name, tail.to_string()))
}

async fn load(
    state: &AppState,
    res: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let kv = state.get_kv(res, ns, name).await?;
    crate::codec::decode(&kv.value, kv.mod_revision).map_err(|e| ApiError::Internal(e.to_string()))
}

async fn node_of(state: &AppState, name: &str) -> Result<Value, ApiError> {
    let res = state
        .resource("", "v1", "nodes")
        .ok_or_else(|| ApiError::Internal("nodes are not registered".into()))?;
    load(state, res, None, name).await
}

/// `pods/{log,exec,attach,portforward}`.
pub async fn pod_subresource(
    state: Arc<AppState>,
    req: Request,
    res: &'static ResourceInfo,
    ns: &str,
    name: &str,
    sub: &str,
) -> Result<Response, ApiError> {
    let method_ok = match sub {
        "log" => matches!(*req.method(), Method::GET | Method::HEAD),
        _ => matches!(*req.method(), Method::GET | Method::POST),
    };
    if !method_ok {
        return Err(ApiError::MethodNotAllowed(
            "the server does not allow this method on the requested resource".into(),
        ));
    }
    let pod = load(&state, res, Some(ns), name).await?;
    let pairs = query_pairs(req.uri().query())?;
    let container = match sub {
        "portforward" => String::new(),
        _ => choose_container(&pod, query_value(&pairs, "container"))?,
    };
    if sub == "log" {
        validate_log_options(&pairs)?;
        let previous = query_value(&pairs, "previous").is_some_and(|v| v == "true" || v == "1");
        check_log_status(&pod, &container, previous)?;
    } else {
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        if let Some(phase @ ("Succeeded" | "Failed")) = phase {
            return Err(ApiError::BadRequest(format!(
                "cannot {} a container in a completed pod; current phase is {phase}",
                if sub == "portforward" {
                    "port-forward to"
                } else {
                    "exec into"
                }
            )));
        }
    }
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node_name.is_empty() {
        if sub == "log" {
            // Not scheduled yet: nothing to show, as upstream.
            return Ok(Response::new(Body::empty()));
        }
        return Err(ApiError::BadRequest(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let node = node_of(&state, node_name).await?;
    let path = kubelet_path(sub, ns, name, &container, &pairs);
    forward(&state, req, &node, &path, sub == "log").await
}

/// `nodes/<name>/proxy/<path>`: any request, relayed to the kubelet.
pub async fn node_proxy(
    state: Arc<AppState>,
    req: Request,
    node_name: &str,
    tail: &str,
) -> Result<Response, ApiError> {
    let node = node_of(&state, node_name).await?;
    let path = match req.uri().query() {
        Some(q) => format!("{tail}?{q}"),
        None => tail.to_string(),
    };
    forward(&state, req, &node, &path, false).await
}

/// A connection to the Node's kubelet, and the `host:port` it was reached at.
async fn connect(
    state: &AppState,
    node: &Value,
) -> Result<(hyper::client::conn::http1::SendRequest<Body>, String), ApiError> {
    let tls = state.config.kubelet_client_tls.clone().ok_or_else(|| {
        ApiError::ServiceUnavailable(
            "this API server has no kubelet client certificate configured".into(),
        )
    })?;
    let (ip, port) = kubelet_address(node)?;
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::ServiceUnavailable(format!("error dialing the kubelet at {ip}:{port}: {e}"))
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((ip, port)))
        .await
        .map_err(|e| unreachable(&e))?
        .map_err(|e| unreachable(&e))?;
    let _ = tcp.set_nodelay(true);
    let stream = TlsConnector::from(tls)
        .connect(ServerName::IpAddress(ip.into()), tcp)
        .await
        .map_err(|e| unreachable(&e))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("kubelet connection: {e}");
        }
    });
    Ok((sender, SocketAddr::new(ip, port).to_string()))
}

/// Headers that belong to this hop or to the caller's credentials, not to the kubelet request.
fn forwarded_headers(from: &HeaderMap, upgrade: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in from {
        let skip = matches!(
            k.as_str(),
            "host" | "authorization" | "content-length" | "transfer-encoding" | "te" | "keep-alive"
        ) || (!upgrade && matches!(k.as_str(), "connection" | "upgrade"));
        if !skip {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
}

async fn forward(
    state: &AppState,
    mut req: Request,
    node: &Value,
    path: &str,
    errors_as_status: bool,
) -> Result<Response, ApiError> {
    let upgrade = is_upgrade(req.headers());
    let (mut sender, authority) = connect(state, node).await?;
    let mut builder = hyper::Request::builder()
        .method(req.method().clone())
        .uri(path);
    if let Some(h) = builder.headers_mut() {
        *h = forwarded_headers(req.headers(), upgrade);
        h.insert(
            header::HOST,
            HeaderValue::from_str(&authority).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    let on_caller_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = if upgrade {
        Body::new(Empty::<bytes::Bytes>::new())
    } else {
        req.into_body()
    };
    let outbound = builder
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut kubelet_resp = sender
        .send_request(outbound)
        .await
        .map_err(|e| ApiError::ServiceUnavailable(format!("error talking to the kubelet: {e}")))?;
    let status = kubelet_resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(on_caller_upgrade) = on_caller_upgrade
    {
        let on_kubelet_upgrade = hyper::upgrade::on(&mut kubelet_resp);
        tokio::spawn(async move {
            let (caller, kubelet) = match (on_caller_upgrade.await, on_kubelet_upgrade.await) {
                (Ok(c), Ok(k)) => (c, k),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::debug!("stream upgrade failed: {e}");
                    return;
                }
            };
            let (mut caller, mut kubelet) = (TokioIo::new(caller), TokioIo::new(kubelet));
            if let Err(e) = tokio::io::copy_bidirectional(&mut caller, &mut kubelet).await {
                tracing::debug!("stream relay ended: {e}");
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = status;
        *resp.headers_mut() = kubelet_resp.headers().clone();
        return Ok(resp);
    }
    if errors_as_status && !status.is_success() {
        let text = kubelet_resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
            .unwrap_or_default();
        return Err(match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(text),
            StatusCode::NOT_FOUND => ApiError::NotServed(text),
            StatusCode::FORBIDDEN => ApiError::Forbidden(text),
            _ => ApiError::Internal(text),
        });
    }
    let (parts, incoming) = kubelet_resp.into_parts();
    let mut resp = Response::new(Body::new(incoming));
    *resp.status_mut() = parts.status;
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
        if let Some(v) = parts.headers.get(&name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests;
