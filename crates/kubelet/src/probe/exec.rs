//! Running one probe or lifecycle handler: exec through CRI `ExecSync`, httpGet (HTTP, or HTTPS
//! without certificate verification, as upstream), tcpSocket and grpc (`grpc.health.v1.Health/Check`).

use std::sync::Arc;
use std::time::Duration;

use k3rs_cri::CriClient;
use k3rs_cri::v1::ExecSyncRequest;
use k8s_openapi::api::core::v1::{Container, GRPCAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Outcome;

/// Where a probe runs: the container (for exec and named ports) and the pod's IP.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub cri: &'a CriClient,
    pub container_id: &'a str,
    pub container: &'a Container,
    pub pod_ip: &'a str,
}

/// At most this much of a probe's output goes into its failure message.
const MAX_OUTPUT: usize = 1024;

/// Runs a probe once, giving up after `timeout`.
pub async fn run_probe(probe: &Probe, target: &Target<'_>, timeout: Duration) -> Outcome {
    if let Some(exec) = &probe.exec {
        exec_command(target, exec.command.as_deref().unwrap_or(&[]), timeout).await
    } else if let Some(http) = &probe.http_get {
        http_get(http, target.container, target.pod_ip, timeout).await
    } else if let Some(tcp) = &probe.tcp_socket {
        tcp_socket(tcp, target.container, target.pod_ip, timeout).await
    } else if let Some(grpc) = &probe.grpc {
        grpc_check(grpc, target.pod_ip, timeout).await
    } else {
        Outcome::Failure("the probe has no handler".into())
    }
}

/// Runs a command in the container; exit code 0 is success.
pub async fn exec_command(target: &Target<'_>, cmd: &[String], timeout: Duration) -> Outcome {
    let request = ExecSyncRequest {
        container_id: target.container_id.to_string(),
        cmd: cmd.to_vec(),
        timeout: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
    };
    let mut runtime = target.cri.runtime();
    let call = runtime.exec_sync(request);
    // The runtime enforces the timeout; ours is a safety net for a runtime that hangs.
    match tokio::time::timeout(timeout + Duration::from_secs(2), call).await {
        Err(_) => Outcome::Failure(format!("command timed out after {}s", timeout.as_secs())),
        Ok(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => {
            Outcome::Failure(format!("command timed out after {}s", timeout.as_secs()))
        }
        Ok(Err(status)) => Outcome::Failure(status.message().to_string()),
        Ok(Ok(response)) => {
            let r = response.into_inner();
            if r.exit_code == 0 {
                Outcome::Success
            } else {
                let mut output = r.stdout;
                output.extend_from_slice(&r.stderr);
                output.truncate(MAX_OUTPUT);
                let output = String::from_utf8_lossy(&output);
                // Upstream reports the command's output; say more when it printed nothing.
                let message = if output.trim().is_empty() {
                    format!("command {cmd:?} exited with {}", r.exit_code)
                } else {
                    output.trim_end().to_string()
                };
                Outcome::Failure(message)
            }
        }
    }
}

/// The port of a probe: a number, or the name of one of the container's ports.
fn port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("the container has no port named {name:?}")),
    }
}

fn host<'a>(explicit: Option<&'a str>, pod_ip: &'a str) -> &'a str {
    explicit.filter(|h| !h.is_empty()).unwrap_or(pod_ip)
}

fn addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let address = addr(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
        Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
        Ok(Err(e)) => Err(format!("dial tcp {address}: {e}")),
        Ok(Ok(s)) => Ok(s),
    }
}

/// Opens a TCP connection; success when it connects.
pub async fn tcp_socket(
    action: &TCPSocketAction,
    container: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    match connect(host(action.host.as_deref(), pod_ip), port, timeout).await {
        Ok(_) => Outcome::Success,
        Err(e) => Outcome::Failure(e),
    }
}

/// Sends `GET path`; a status from 200 to 399 is success.
pub async fn http_get(
    action: &HTTPGetAction,
    container: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host = host(action.host.as_deref(), pod_ip);
    let https = action
        .scheme
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"));
    let path = action
        .path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    let headers = action.http_headers.as_deref().unwrap_or(&[]);
    let has = |name: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    if !has("Host") {
        request.push_str(&format!("Host: {}\r\n", addr(host, port)));
    }
    if !has("User-Agent") {
        request.push_str("User-Agent: kube-probe/1.33\r\n");
    }
    if !has("Accept") {
        request.push_str("Accept: */*\r\n");
    }
    for h in headers {
        request.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    request.push_str("Connection: close\r\n\r\n");
    let url = format!(
        "{}://{}{path}",
        if https { "https" } else { "http" },
        addr(host, port)
    );
    let exchange = async {
        let stream = connect(host, port, timeout).await?;
        if https {
            let tls = tls_connector();
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("invalid host {host}: {e}"))?;
            let stream = tls.connect(name, stream).await.map_err(|e| e.to_string())?;
            status_code(stream, &request).await
        } else {
            status_code(stream, &request).await
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(e)) => Outcome::Failure(format!("Get \"{url}\": {e}")),
        Ok(Ok(code)) if (200..400).contains(&code) => Outcome::Success,
        Ok(Ok(code)) => Outcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
    }
}

/// Writes the request and reads the status code of the response's status line.
async fn status_code<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "malformed HTTP response".to_string())
}

/// Upstream probes HTTPS without verifying the certificate.
fn tls_connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        });
    match config {
        Ok(c) => tokio_rustls::TlsConnector::from(Arc::new(c)),
        // The ring provider supports the default versions; this cannot happen.
        Err(_) => tokio_rustls::TlsConnector::from(Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        )),
    }
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse` (status 1 = SERVING).
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

const SERVING: i32 = 1;

/// Calls `grpc.health.v1.Health/Check` over plaintext HTTP/2; SERVING is success.
pub async fn grpc_check(action: &GRPCAction, pod_ip: &str, timeout: Duration) -> Outcome {
    let Ok(port) = u16::try_from(action.port) else {
        return Outcome::Failure(format!("invalid port {}", action.port));
    };
    let url = format!("http://{}", addr(pod_ip, port));
    let call = async {
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
            .map_err(|e| e.to_string())?
            .connect_timeout(timeout);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("failed to connect service {url:?}: {e}"))?;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.map_err(|e| e.to_string())?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let request = tonic::Request::new(HealthCheckRequest {
            service: action.service.clone().unwrap_or_default(),
        });
        let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
        grpc.unary(request, path, codec)
            .await
            .map(|r| r.into_inner().status)
            .map_err(|s| format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))
    };
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}s",
            timeout.as_secs()
        )),
        Ok(Err(e)) => Outcome::Failure(e),
        Ok(Ok(SERVING)) => Outcome::Success,
        Ok(Ok(status)) => Outcome::Failure(format!(
            "service unhealthy (responded with {})",
            serving_name(status)
        )),
    }
}

fn serving_name(status: i32) -> &'static str {
    match status {
        0 => "UNKNOWN",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "an unknown status",
    }
}

#[cfg(test)]
mod tests;
