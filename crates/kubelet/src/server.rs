//! The kubelet API: HTTPS on the node, reached only by the API server (its client certificate
//! `kube-apiserver-kubelet-client`, or any `system:masters` certificate of the cluster CA).
//!
//! - `/healthz`
//! - `/containerLogs/<ns>/<pod>/<container>`: read straight from the CRI log files (`logs`).
//! - `/exec|attach/<ns>/<pod>/<container>`, `/portForward/<ns>/<pod>`: ask CRI for a stream URL
//!   on containerd's streaming server, then bridge the caller to it (`streaming`). SPDY callers
//!   are relayed byte for byte (containerd speaks SPDY); WebSocket callers are translated
//!   (`translate`), since containerd 1.6 knows neither `v5.channel.k8s.io` nor the
//!   port-forward tunnel.
//! - `/stats/summary`: node and container CPU and memory (`stats`).

mod log_stream;
mod logs;
mod stats;
mod streaming;
mod translate;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use k3rs_cri::CriClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The common name of the API server's kubelet client certificate.
pub const APISERVER_CLIENT_CN: &str = "kube-apiserver-kubelet-client";
const MASTERS_GROUP: &str = "system:masters";

/// Response bodies of the kubelet API: whole or streamed.
pub type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("kubelet TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr} for the kubelet API (is another kubelet running?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the kubelet API serves from.
#[derive(Clone)]
pub struct KubeletApi {
    pub cri: CriClient,
    /// The Node's name (in `/stats/summary`).
    pub node_name: String,
}

/// TLS for the kubelet API from PEM: the kubelet's serving certificate (chain) and key, and the
/// cluster CA that client certificates must chain to. Clients without a certificate get
/// through the handshake and are answered 401, as upstream.
pub fn tls_config(
    serving_cert_pem: &str,
    serving_key_pem: &str,
    client_ca_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let tls = |what: &str, e: &dyn std::fmt::Display| ServerError::Tls(format!("{what}: {e}"));
    let chain = CertificateDer::pem_slice_iter(serving_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls("serving certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(serving_key_pem.as_bytes())
        .map_err(|e| tls("serving key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| tls("client CA", &e))?)
            .map_err(|e| tls("client CA", &e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls("client verifier", &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls("protocol versions", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls("serving certificate", &e))?;
    // HTTP/1.1 only: exec, attach and port-forward are HTTP/1.1 upgrades.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The agent's entry point: listen on `addr` with the node's serving certificate (PEM) and the
/// cluster CA, and serve in the background until `shutdown` turns true. Returns the bound
/// address (port 0 picks a free one) and the task.
pub async fn start(
    addr: SocketAddr,
    serving_cert_pem: &str,
    serving_key_pem: &str,
    ca_pem: &str,
    api: KubeletApi,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), ServerError> {
    let tls = tls_config(serving_cert_pem, serving_key_pem, ca_pem)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    tracing::info!(address = %bound, "kubelet API listening");
    let task = tokio::spawn(serve(listener, tls, api, async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    }));
    Ok((bound, task))
}

/// Serve the kubelet API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    api: KubeletApi,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let api = Arc::new(api);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("kubelet API: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let api = api.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "kubelet API: TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let caller = authorize(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref()),
            );
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move {
                    Ok::<_, Infallible>(match caller {
                        Caller::Allowed => route(&api, req).await,
                        Caller::Anonymous => text(StatusCode::UNAUTHORIZED, "Unauthorized"),
                        Caller::Forbidden => text(
                            StatusCode::FORBIDDEN,
                            "Forbidden: only the API server may use the kubelet API",
                        ),
                    })
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await
            {
                tracing::debug!(%peer, "kubelet API connection ended: {e}");
            }
        });
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Allowed,
    Anonymous,
    Forbidden,
}

/// Who may call: the API server's client certificate or a cluster admin's (the chain was
/// verified against the cluster CA during the handshake).
fn authorize(cert: Option<&[u8]>) -> Caller {
    let Some(der) = cert else {
        return Caller::Anonymous;
    };
    match k3rs_pki::identity_from_cert(der) {
        Some(u) if u.name == APISERVER_CLIENT_CN || u.groups.iter().any(|g| g == MASTERS_GROUP) => {
            Caller::Allowed
        }
        _ => Caller::Forbidden,
    }
}

/// A path of the kubelet API.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Healthz,
    ContainerLogs {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    },
    Exec(streaming::Target<'a>),
    Attach(streaming::Target<'a>),
    PortForward {
        namespace: &'a str,
        pod: &'a str,
    },
    StatsSummary,
}

pub(crate) fn parse_route(path: &str) -> Option<Route<'_>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match parts.as_slice() {
        ["healthz"] => Route::Healthz,
        ["containerLogs", namespace, pod, container] => Route::ContainerLogs {
            namespace,
            pod,
            container,
        },
        ["exec", namespace, pod, container] => Route::Exec(streaming::Target {
            namespace,
            pod,
            container,
        }),
        ["attach", namespace, pod, container] => Route::Attach(streaming::Target {
            namespace,
            pod,
            container,
        }),
        ["portForward", namespace, pod] => Route::PortForward { namespace, pod },
        ["stats", "summary"] => Route::StatsSummary,
        _ => return None,
    })
}

async fn route(api: &KubeletApi, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let result = match parse_route(&path) {
        Some(Route::Healthz) => Ok(text(StatusCode::OK, "ok")),
        Some(Route::ContainerLogs {
            namespace,
            pod,
            container,
        }) => log_stream::container_logs(api, namespace, pod, container, &query).await,
        Some(Route::Exec(target)) => streaming::exec(api, target, &query, req).await,
        Some(Route::Attach(target)) => streaming::attach(api, target, &query, req).await,
        Some(Route::PortForward { namespace, pod }) => {
            streaming::port_forward(api, namespace, pod, &query, req).await
        }
        Some(Route::StatsSummary) => stats::summary(api).await,
        None => Err(ApiFailure::new(StatusCode::NOT_FOUND, "404 page not found")),
    };
    result.unwrap_or_else(|f| text(f.status, f.message))
}

/// An error answered as plain text with its status, as the upstream kubelet does.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl ApiFailure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<k3rs_cri::CriError> for ApiFailure {
    fn from(e: k3rs_cri::CriError) -> Self {
        let status = if e.is_not_found() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self::new(status, e.to_string())
    }
}

impl From<tonic::Status> for ApiFailure {
    fn from(s: tonic::Status) -> Self {
        k3rs_cri::CriError::from(s).into()
    }
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(full(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests;
