//! Node join endpoints: an agent that holds the cluster token gets its kubelet client and
//! serving certificates, signed from certificate signing requests it made itself (its private
//! keys never leave the node) — k3s's `/v1-k3s/client-kubelet.crt` and `serving-kubelet.crt`.
//!
//! A node password ties a node name to the machine that first joined with it: the first join
//! stores a salted hash in the Secret `kube-system/<node>.node-password.k3rs`; a later join of
//! that name with another password is refused (403), as k3s does.
//!
//! These routes sit beside [`crate::handler::handle`] (they authenticate with the token, not
//! with a user), but write the Secret through the same `ops` path as every client.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::status::ApiError;
use k3rs_pki::join_api::{
    CLIENT_KUBELET_PATH, NODE_IP_HEADER, NODE_NAME_HEADER, NODE_PASSWORD_FILE,
    NODE_PASSWORD_HEADER, NODE_USER, NODE_USER_PREFIX, NODES_GROUP, SERVING_KUBELET_PATH,
};
use k3rs_pki::{CertUsage, ClusterPki, PkiError, ServingIdentity, Token};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::handler::error_response;
use crate::query::Query;
use crate::state::AppState;

/// Namespace of the node password Secrets.
const PASSWORD_SECRET_NAMESPACE: &str = "kube-system";
use k3rs_pki::join_api::NODE_PASSWORD_SECRET_SUFFIX as PASSWORD_SECRET_SUFFIX;
/// Type of node password Secrets.
const PASSWORD_SECRET_TYPE: &str = "k3rs.io/node-password";
/// The data key holding the hash.
const PASSWORD_SECRET_KEY: &str = "hash";
/// A CSR is well under a kilobyte; anything near this is not one.
const MAX_CSR_BYTES: usize = 64 * 1024;
/// Server tokens may also be presented with k3s's server user name.
const SERVER_USER: &str = "server";

/// Which certificate a node asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeCertKind {
    /// The kubelet's client certificate for the API server.
    Client,
    /// The kubelet API's serving certificate.
    Serving,
}

/// The node's side of a join request, from its headers.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub node_name: String,
    pub password: String,
    pub node_ips: Vec<IpAddr>,
}

impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest")
            .field("node_name", &self.node_name)
            .field("password", &"<redacted>")
            .field("node_ips", &self.node_ips)
            .finish()
    }
}

/// What the server puts in a node certificate, whatever the CSR asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCertSpec {
    pub common_name: String,
    pub usage: CertUsage,
    pub names: ServingIdentity,
}

/// What the join handlers share.
struct Joiner {
    state: Arc<AppState>,
    pki: Arc<ClusterPki>,
    token: Token,
}

/// The join routes, to merge into the API server's router.
pub fn routes(state: Arc<AppState>, pki: Arc<ClusterPki>, token: Token) -> Router {
    Router::new()
        .route(CLIENT_KUBELET_PATH, post(client_kubelet))
        .route(SERVING_KUBELET_PATH, post(serving_kubelet))
        .layer(DefaultBodyLimit::max(MAX_CSR_BYTES))
        .with_state(Arc::new(Joiner { state, pki, token }))
}

async fn client_kubelet(
    State(joiner): State<Arc<Joiner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(joiner.issue(NodeCertKind::Client, &headers, &body).await)
}

async fn serving_kubelet(
    State(joiner): State<Arc<Joiner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(joiner.issue(NodeCertKind::Serving, &headers, &body).await)
}

fn respond(result: Result<String, ApiError>) -> Response {
    match result {
        Ok(cert_pem) => {
            let mut response = Response::new(Body::from(cert_pem));
            *response.status_mut() = StatusCode::OK;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pem-certificate-chain"),
            );
            response
        }
        Err(err) => error_response(&err),
    }
}

impl Joiner {
    /// Token, then request headers, then the CSR, then the node password: a request is refused
    /// for the first thing wrong with it, and nothing is stored for a malformed request.
    async fn issue(
        &self,
        kind: NodeCertKind,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, ApiError> {
        check_credentials(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok()),
            &self.token,
        )?;
        let request = join_request(headers)?;
        let spec = node_cert_spec(kind, &request);
        let csr = std::str::from_utf8(body).map_err(|_| {
            ApiError::bad_request("the request body must be a PEM certificate signing request")
        })?;
        let cert_pem = self
            .pki
            .sign_csr(
                csr,
                &spec.common_name,
                &[NODES_GROUP],
                spec.usage,
                &spec.names,
            )
            .map_err(|err| match err {
                PkiError::InvalidCsr(_) | PkiError::InvalidSubject(_) => {
                    ApiError::bad_request(err.to_string())
                }
                other => ApiError::Internal(other.to_string()),
            })?;
        self.check_node_password(&request).await?;
        tracing::info!(node = %request.node_name, ?kind, "issued node certificate");
        Ok(cert_pem)
    }

    /// Accept the password the node's name is bound to, or bind the name to it on first join.
    async fn check_node_password(&self, request: &JoinRequest) -> Result<(), ApiError> {
        let secrets = secrets_resource()?;
        let name = password_secret_name(&request.node_name);
        let ns = Some(PASSWORD_SECRET_NAMESPACE);
        match self.state.get_object(secrets, ns, &name).await {
            Ok(secret) => return password_verdict(&secret, request),
            Err(ApiError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        let hash = k3rs_pki::hash_node_password(&request.password)
            .map_err(|err| ApiError::Internal(err.to_string()))?;
        let secret = password_secret(&name, &hash);
        match self
            .state
            .create(secrets, ns, secret, &Query::default())
            .await
        {
            Ok(_) => {
                tracing::info!(node = %request.node_name, "stored the node password hash");
                Ok(())
            }
            // Another join of the same name won the race: its password decides.
            Err(ApiError::AlreadyExists(_)) => {
                password_verdict(&self.state.get_object(secrets, ns, &name).await?, request)
            }
            Err(err) => Err(err),
        }
    }
}

fn secrets_resource() -> Result<&'static ResourceInfo, ApiError> {
    registry::lookup("", "v1", "secrets")
        .ok_or_else(|| ApiError::Internal("secrets are not registered".into()))
}

/// Checks HTTP basic auth `node:<secret>` (or k3s's `server:<secret>`) against the cluster
/// token; the password may also be the full `K10…` token.
pub fn check_credentials(authorization: Option<&str>, token: &Token) -> Result<(), ApiError> {
    let Some(header) = authorization else {
        return Err(ApiError::Unauthorized(format!(
            "Unauthorized: joining needs the cluster token as HTTP basic auth {NODE_USER}:<token>"
        )));
    };
    let credentials = header
        .strip_prefix("Basic ")
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let accepted = credentials
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(user, password)| {
            (user == NODE_USER || user == SERVER_USER)
                && (same_secret(password, &token.secret) || same_secret(password, &token.full()))
        });
    if accepted {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "Unauthorized: not this cluster's token (the server's token is in <data-dir>/server/node-token)"
                .into(),
        ))
    }
}

/// Compares digests, so the time taken says nothing about how much of the secret matched.
fn same_secret(presented: &str, secret: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(secret.as_bytes())
}

/// The node name, password and addresses from the request headers, validated.
pub fn join_request(headers: &HeaderMap) -> Result<JoinRequest, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        headers
            .get(name)
            .map(|value| {
                value
                    .to_str()
                    .map(|s| s.trim().to_string())
                    .map_err(|_| ApiError::bad_request(format!("header {name} is not ASCII text")))
            })
            .transpose()
    };
    let node_name = text(NODE_NAME_HEADER)?
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("header {NODE_NAME_HEADER} is required")))?;
    let mut problems = k3rs_api::names::is_dns1123_subdomain(&node_name);
    let longest = 253 - PASSWORD_SECRET_SUFFIX.len();
    if node_name.len() > longest {
        problems.push(format!("must be no more than {longest} characters"));
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "invalid node name {node_name:?} in header {NODE_NAME_HEADER}: {}",
            problems.join("; ")
        )));
    }
    let password = text(NODE_PASSWORD_HEADER)?
        .filter(|password| !password.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("header {NODE_PASSWORD_HEADER} is required"))
        })?;
    let node_ips = text(NODE_IP_HEADER)?
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(|ip| {
            ip.parse::<IpAddr>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid IP address {ip:?} in header {NODE_IP_HEADER}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JoinRequest {
        node_name,
        password,
        node_ips,
    })
}

/// Subject, usage and names of a node certificate: decided here, never by the CSR.
pub fn node_cert_spec(kind: NodeCertKind, request: &JoinRequest) -> NodeCertSpec {
    let mut names = ServingIdentity::default();
    let usage = match kind {
        NodeCertKind::Client => CertUsage::Client,
        NodeCertKind::Serving => {
            names.add_dns(&request.node_name);
            for ip in &request.node_ips {
                names.add_ip(*ip);
            }
            CertUsage::Server
        }
    };
    NodeCertSpec {
        common_name: format!("{NODE_USER_PREFIX}{}", request.node_name),
        usage,
        names,
    }
}

pub use k3rs_pki::join_api::node_password_secret_name as password_secret_name;

fn password_secret(name: &str, hash: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": PASSWORD_SECRET_NAMESPACE},
        "type": PASSWORD_SECRET_TYPE,
        "immutable": true,
        "data": {PASSWORD_SECRET_KEY: STANDARD.encode(hash)},
    })
}

/// Whether the stored password Secret accepts the request's password (403 if not).
pub fn password_verdict(secret: &Value, request: &JoinRequest) -> Result<(), ApiError> {
    let stored = secret
        .pointer(&format!("/data/{PASSWORD_SECRET_KEY}"))
        .and_then(Value::as_str)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .unwrap_or_default();
    if k3rs_pki::node_password_matches(&stored, &request.password) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "Node password rejected, duplicate hostname or contents of '<data-dir>/agent/{NODE_PASSWORD_FILE}' \
         may not match server node-passwd entry (Secret {PASSWORD_SECRET_NAMESPACE}/{}), try a unique \
         node name with --node-name",
        password_secret_name(&request.node_name)
    )))
}

#[cfg(test)]
mod tests;
