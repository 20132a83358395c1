//! exec, attach and portForward: ask CRI for a URL on containerd's streaming server, upgrade a
//! connection to it (SPDY), then answer the caller's upgrade and bridge the two:
//!
//! | caller speaks                          | bridge                                  |
//! |----------------------------------------|-----------------------------------------|
//! | SPDY/3.1 (kubectl ≤ 1.29, fallbacks)   | bytes relayed both ways                 |
//! | WebSocket `v5`/`v4.channel.k8s.io`     | [`translate::remote_command`]           |
//! | WebSocket `SPDY/3.1+portforward.k8s.io`| [`translate::tunnel`] (SPDY inside WS)   |
//! | WebSocket `portforward.k8s.io` channels| [`translate::port_forward_channels`]    |

use std::collections::HashMap;

use http_body_util::BodyExt;
use http_body_util::Empty;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use k3rs_cri::v1::{
    AttachRequest, ExecRequest, ListPodSandboxRequest, PodSandboxFilter, PodSandboxState,
    PodSandboxStateValue, PortForwardRequest,
};
use k3rs_stream::remotecommand::{
    self, PORT_FORWARD, SPDY_TUNNEL, SPDY_UPGRADE, STREAM_PROTOCOL_HEADER, StreamOptions,
    V4_CHANNEL,
};
use k3rs_stream::websocket;

use super::log_stream::{LABEL_POD_NAME, LABEL_POD_NAMESPACE, find_container};
use super::logs::percent_decode;
use super::{ApiFailure, Body, KubeletApi, full, translate};

/// A container addressed by pod and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
}

/// The query of exec and attach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RemoteCommandQuery {
    pub command: Vec<String>,
    pub streams: StreamOptions,
    /// Every `ports` value (port-forward over WebSocket channels).
    pub ports: Vec<String>,
}

impl RemoteCommandQuery {
    pub fn parse(query: &str) -> Self {
        let mut q = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            let flag = matches!(value.as_str(), "" | "true" | "1" | "True" | "TRUE");
            match key {
                "command" => q.command.push(value),
                "input" | "stdin" => q.streams.stdin = flag,
                "output" | "stdout" => q.streams.stdout = flag,
                "error" | "stderr" => q.streams.stderr = flag,
                "tty" => q.streams.tty = flag,
                "ports" | "port" => q.ports.push(value),
                _ => {}
            }
        }
        q
    }

    fn validate(&self) -> Result<(), ApiFailure> {
        let s = self.streams;
        if !(s.stdin || s.stdout || s.stderr) {
            return Err(ApiFailure::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(())
    }
}

/// How the caller wants to talk, from its upgrade headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallerProtocol {
    /// SPDY: relayed as is, the protocol negotiated with containerd.
    Spdy,
    /// WebSocket with this sub-protocol.
    WebSocket { protocol: &'static str, key: String },
}

pub(crate) fn caller_protocol<B>(
    req: &Request<B>,
    choose: fn(&str) -> Option<&'static str>,
) -> Result<CallerProtocol, ApiFailure> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if upgrade.eq_ignore_ascii_case("websocket") {
        let offered = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let protocol = choose(&offered).ok_or_else(|| {
            ApiFailure::bad_request(format!(
                "none of the offered WebSocket sub-protocols ({offered:?}) is supported"
            ))
        })?;
        let key = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiFailure::bad_request("missing Sec-WebSocket-Key"))?
            .to_string();
        return Ok(CallerProtocol::WebSocket { protocol, key });
    }
    if upgrade.eq_ignore_ascii_case(SPDY_UPGRADE) {
        return Ok(CallerProtocol::Spdy);
    }
    Err(ApiFailure::bad_request("Upgrade request required"))
}

pub(crate) async fn exec(
    api: &KubeletApi,
    target: Target<'_>,
    query: &str,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiFailure> {
    let q = RemoteCommandQuery::parse(query);
    q.validate()?;
    if q.command.is_empty() {
        return Err(ApiFailure::bad_request(
            "you must specify at least 1 command",
        ));
    }
    let caller = caller_protocol(&req, remotecommand::choose_remote_command_protocol)?;
    let id = running_container(api, target).await?;
    let s = q.streams;
    let url = api
        .cri
        .runtime()
        .exec(ExecRequest {
            container_id: id,
            cmd: q.command.clone(),
            tty: s.tty,
            stdin: s.stdin,
            stdout: s.stdout,
            stderr: s.stderr && !s.tty,
        })
        .await?
        .into_inner()
        .url;
    bridge(req, caller, &url, Backend::RemoteCommand(s)).await
}

pub(crate) async fn attach(
    api: &KubeletApi,
    target: Target<'_>,
    query: &str,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiFailure> {
    let q = RemoteCommandQuery::parse(query);
    q.validate()?;
    let caller = caller_protocol(&req, remotecommand::choose_remote_command_protocol)?;
    let id = running_container(api, target).await?;
    let s = q.streams;
    let url = api
        .cri
        .runtime()
        .attach(AttachRequest {
            container_id: id,
            stdin: s.stdin,
            tty: s.tty,
            stdout: s.stdout,
            stderr: s.stderr && !s.tty,
        })
        .await?
        .into_inner()
        .url;
    bridge(req, caller, &url, Backend::RemoteCommand(s)).await
}

pub(crate) async fn port_forward(
    api: &KubeletApi,
    namespace: &str,
    pod: &str,
    query: &str,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiFailure> {
    let caller = caller_protocol(&req, remotecommand::choose_port_forward_protocol)?;
    let ports = match &caller {
        CallerProtocol::WebSocket { protocol, .. } if *protocol != SPDY_TUNNEL => {
            let q = RemoteCommandQuery::parse(query);
            let values: Vec<&str> = q.ports.iter().map(String::as_str).collect();
            remotecommand::parse_ports(&values).map_err(ApiFailure::bad_request)?
        }
        _ => Vec::new(),
    };
    let sandbox = ready_sandbox(api, namespace, pod).await?;
    let url = api
        .cri
        .runtime()
        .port_forward(PortForwardRequest {
            pod_sandbox_id: sandbox,
            port: Vec::new(),
        })
        .await?
        .into_inner()
        .url;
    bridge(req, caller, &url, Backend::PortForward(ports)).await
}

async fn running_container(api: &KubeletApi, target: Target<'_>) -> Result<String, ApiFailure> {
    let found = find_container(&api.cri, target.namespace, target.pod, target.container).await?;
    if !found.running {
        return Err(ApiFailure::bad_request(format!(
            "container {:?} in pod {:?} is not running",
            target.container, target.pod
        )));
    }
    Ok(found.id)
}

async fn ready_sandbox(api: &KubeletApi, namespace: &str, pod: &str) -> Result<String, ApiFailure> {
    let labels = HashMap::from([
        (LABEL_POD_NAMESPACE.to_string(), namespace.to_string()),
        (LABEL_POD_NAME.to_string(), pod.to_string()),
    ]);
    let list = api
        .cri
        .runtime()
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                state: Some(PodSandboxStateValue {
                    state: PodSandboxState::SandboxReady as i32,
                }),
                label_selector: labels,
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    list.items
        .into_iter()
        .max_by_key(|s| s.created_at)
        .map(|s| s.id)
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                format!("pod {namespace}/{pod} has no running sandbox on this node"),
            )
        })
}

/// What containerd's side of the bridge carries.
enum Backend {
    RemoteCommand(StreamOptions),
    /// Port-forward; the ports matter only to WebSocket channel callers.
    PortForward(Vec<u16>),
}

async fn bridge(
    mut req: Request<hyper::body::Incoming>,
    caller: CallerProtocol,
    url: &str,
    backend: Backend,
) -> Result<Response<Body>, ApiFailure> {
    // The sub-protocols to offer containerd: what a SPDY caller offered, else the one our
    // translation speaks.
    let offered: Vec<String> = match (&caller, &backend) {
        (CallerProtocol::Spdy, _) => req
            .headers()
            .get_all(STREAM_PROTOCOL_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        (_, Backend::RemoteCommand(_)) => vec![V4_CHANNEL.to_string()],
        (_, Backend::PortForward(_)) => vec![PORT_FORWARD.to_string()],
    };
    let (upstream, chosen) = upgrade_to_containerd(url, &offered).await?;
    let on_client_upgrade = hyper::upgrade::on(&mut req);
    let mut resp = Response::new(full(""));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    match &caller {
        CallerProtocol::Spdy => {
            headers.insert(
                header::UPGRADE,
                header::HeaderValue::from_static(SPDY_UPGRADE),
            );
            if let Some(v) = chosen.and_then(|c| header::HeaderValue::from_str(&c).ok()) {
                headers.insert(STREAM_PROTOCOL_HEADER, v);
            }
        }
        CallerProtocol::WebSocket { protocol, key } => {
            headers.insert(
                header::UPGRADE,
                header::HeaderValue::from_static("websocket"),
            );
            let accept = header::HeaderValue::from_str(&websocket::accept_key(key))
                .map_err(|e| ApiFailure::bad_request(format!("bad Sec-WebSocket-Key: {e}")))?;
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
            headers.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                header::HeaderValue::from_static(protocol),
            );
        }
    }
    tokio::spawn(async move {
        let client = match on_client_upgrade.await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                tracing::debug!("kubelet API: caller upgrade failed: {e}");
                return;
            }
        };
        let upstream = TokioIo::new(upstream);
        let result = match (caller, backend) {
            (CallerProtocol::Spdy, _) => {
                let (mut client, mut upstream) = (client, upstream);
                tokio::io::copy_bidirectional(&mut client, &mut upstream)
                    .await
                    .map(|_| ())
                    .map_err(translate::BridgeError::from)
            }
            (CallerProtocol::WebSocket { protocol, .. }, Backend::RemoteCommand(streams)) => {
                translate::remote_command(client, upstream, streams, protocol).await
            }
            (CallerProtocol::WebSocket { protocol, .. }, Backend::PortForward(_))
                if protocol == SPDY_TUNNEL =>
            {
                translate::tunnel(client, upstream).await
            }
            (CallerProtocol::WebSocket { .. }, Backend::PortForward(ports)) => {
                translate::port_forward_channels(client, upstream, &ports).await
            }
        };
        if let Err(e) = result {
            tracing::debug!("kubelet API: stream bridge ended: {e}");
        }
    });
    Ok(resp)
}

/// Open an HTTP/1.1 connection to containerd's streaming server at `url` and upgrade it to
/// SPDY, offering `protocols`. Returns the connection and the protocol containerd chose.
async fn upgrade_to_containerd(
    url: &str,
    protocols: &[String],
) -> Result<(hyper::upgrade::Upgraded, Option<String>), ApiFailure> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| ApiFailure::internal(format!("runtime stream URL {url:?}: {e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| ApiFailure::internal(format!("runtime stream URL {url:?} has no host")))?
        .clone();
    let tcp = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| {
            ApiFailure::internal(format!("connecting to the runtime's stream server: {e}"))
        })?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| ApiFailure::internal(format!("runtime stream server: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("runtime stream connection: {e}");
        }
    });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut builder = Request::post(path)
        .header(header::HOST, authority.as_str())
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, SPDY_UPGRADE);
    for p in protocols {
        builder = builder.header(STREAM_PROTOCOL_HEADER, p.as_str());
    }
    let request = builder
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| ApiFailure::internal(e.to_string()))?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| ApiFailure::internal(format!("runtime stream server: {e}")))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(ApiFailure::new(
            if status.is_client_error() {
                status
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            },
            format!(
                "runtime stream server refused the upgrade ({status}): {}",
                body.trim()
            ),
        ));
    }
    let chosen = resp
        .headers()
        .get(STREAM_PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let upgraded = hyper::upgrade::on(resp)
        .await
        .map_err(|e| ApiFailure::internal(format!("runtime stream upgrade: {e}")))?;
    Ok((upgraded, chosen))
}

#[cfg(test)]
mod tests;
