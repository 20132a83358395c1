//! A CRI v1 client over a unix socket.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::v1::image_service_client::ImageServiceClient;
use crate::v1::runtime_service_client::RuntimeServiceClient;
use crate::v1::{VersionRequest, VersionResponse};

/// The CRI API version this client speaks, sent in `Version` requests.
const CRI_API_VERSION: &str = "v1";
/// How long [`CriClient::connect`] waits for a runtime that is still starting.
const DEFAULT_CONNECT_WAIT: Duration = Duration::from_secs(10);
/// How long one connection attempt (connect and `Version`) may take: a runtime that accepts
/// connections but does not answer is not ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Upstream kubelet's limit: lists of many containers exceed gRPC's default of 4 MiB.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A failed CRI call: the gRPC status code and message the runtime returned (or `Unavailable`
/// when the socket could not be reached).
#[derive(Debug, Clone, thiserror::Error)]
#[error("container runtime: {code:?}: {message}")]
pub struct CriError {
    /// The gRPC status code, e.g. `NotFound` for an unknown container.
    pub code: tonic::Code,
    /// The runtime's message.
    pub message: String,
}

impl CriError {
    /// Whether the runtime said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code == tonic::Code::NotFound
    }

    fn unreachable(socket: &Path, why: impl std::fmt::Display) -> CriError {
        CriError {
            code: tonic::Code::Unavailable,
            message: format!("cannot reach the CRI socket {}: {why}", socket.display()),
        }
    }
}

impl From<tonic::Status> for CriError {
    fn from(status: tonic::Status) -> CriError {
        CriError {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// A connection to a CRI runtime. Clones share one HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct CriClient {
    channel: Channel,
    socket: PathBuf,
    version: VersionResponse,
}

impl CriClient {
    /// Connects to the CRI socket, waiting up to 10 s for a runtime that is still starting.
    pub async fn connect(socket: &Path) -> Result<CriClient, CriError> {
        CriClient::connect_within(socket, DEFAULT_CONNECT_WAIT).await
    }

    /// Connects to the CRI socket, retrying until the runtime answers `Version` or `wait` has
    /// passed (`Duration::ZERO`: a single attempt).
    pub async fn connect_within(socket: &Path, wait: Duration) -> Result<CriClient, CriError> {
        let uri = socket
            .to_str()
            .map(|s| format!("unix://{s}"))
            .ok_or_else(|| CriError::unreachable(socket, "the path is not UTF-8"))?;
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| CriError::unreachable(socket, e))?
            .connect_timeout(PROBE_TIMEOUT);
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            let attempt =
                tokio::time::timeout(PROBE_TIMEOUT, CriClient::try_connect(&endpoint, socket));
            let attempt = attempt
                .await
                .unwrap_or_else(|_| Err(CriError::unreachable(socket, "no answer to Version")));
            match attempt {
                Ok(client) => return Ok(client),
                Err(e) if Instant::now() + pause > deadline => return Err(e),
                Err(e) => tracing::debug!(error = %e, "CRI runtime not answering yet"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    async fn try_connect(endpoint: &Endpoint, socket: &Path) -> Result<CriClient, CriError> {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| CriError::unreachable(socket, error_chain(&e)))?;
        let version = RuntimeServiceClient::new(channel.clone())
            .version(VersionRequest {
                version: CRI_API_VERSION.to_owned(),
            })
            .await
            // A status with a source is the client's own transport failure, not the runtime's answer.
            .map_err(|status| match std::error::Error::source(&status) {
                Some(cause) => CriError::unreachable(socket, error_chain(cause)),
                None => CriError::from(status),
            })?
            .into_inner();
        Ok(CriClient {
            channel,
            socket: socket.to_owned(),
            version,
        })
    }

    /// The runtime service: sandboxes, containers, exec/attach/port-forward URLs, stats.
    pub fn runtime(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The image service: pull, list, inspect and remove images.
    pub fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// What the runtime answered to `Version` when connecting (name and version, e.g. for the
    /// Node's `containerRuntimeVersion` as `<runtime_name>://<runtime_version>`).
    pub fn version(&self) -> &VersionResponse {
        &self.version
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

/// The message of an error and its sources: tonic's transport errors hide the cause (e.g. "No such
/// file or directory") in the source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Layers often repeat their cause's text in their own.
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}
