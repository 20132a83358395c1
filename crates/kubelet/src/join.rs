//! Joining a cluster, k3s-style: the agent trusts the server only after checking its CA against
//! the hash in a `K10…` token (fetch `/cacerts` without verification, compare the SHA-256, then
//! verify TLS against that CA), proves the token with HTTP basic auth, and gets its kubelet
//! client and serving certificates signed from CSRs it makes itself — private keys never leave
//! the node. A node password kept in `<agent-dir>/node-password` (only its hash on the server)
//! stops another machine from taking over the node name.
//!
//! A token without CA hash (a bare secret) is accepted as k3s accepts it: the CA the server
//! presents is trusted on first use, with a warning; once `server-ca.crt` is saved in the agent
//! directory, later joins require the same CA.
//!
//! Certificates and keys already in the agent directory are reused while they are signed by the
//! cluster CA, match the node, and stay valid for at least 30 more days.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Request, Uri, header};
use k3rs_pki::join_api::{
    CACERTS_PATH, CLIENT_KUBELET_PATH, NODE_IP_HEADER, NODE_NAME_HEADER, NODE_PASSWORD_FILE,
    NODE_PASSWORD_HEADER, NODE_USER, NODE_USER_PREFIX, NODES_GROUP, SERVING_KUBELET_PATH,
};
use k3rs_pki::{CertSummary, ParsedToken, PkiError, ServingIdentity};
use time::OffsetDateTime;

/// The kubelet's client certificate (`CN=system:node:<name>, O=system:nodes`).
pub const CLIENT_CERT_FILE: &str = "client-kubelet.crt";
/// The key of [`CLIENT_CERT_FILE`] (mode 0600).
pub const CLIENT_KEY_FILE: &str = "client-kubelet.key";
/// The kubelet API's serving certificate.
pub const SERVING_CERT_FILE: &str = "serving-kubelet.crt";
/// The key of [`SERVING_CERT_FILE`] (mode 0600).
pub const SERVING_KEY_FILE: &str = "serving-kubelet.key";
/// The cluster CA the API server's certificate chains to.
pub const SERVER_CA_FILE: &str = "server-ca.crt";
/// The CA client certificates of the kubelet API must chain to (the same cluster CA).
pub const CLIENT_CA_FILE: &str = "client-ca.crt";
/// A kubeconfig for the API server with the kubelet's client certificate (mode 0600).
pub const KUBECONFIG_FILE: &str = "kubelet.kubeconfig";

/// Certificates closer than this to expiry are replaced at join.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);
/// Tolerated clock difference with the server when checking `notBefore`.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);
/// First and longest wait between attempts to reach the server.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to answer one request.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

const CERT_MODE: u32 = 0o644;
const KEY_MODE: u32 = 0o600;

/// Why joining failed. [`JoinError::is_retryable`] tells the transient from the permanent.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("{0}")]
    InvalidToken(PkiError),
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidServer { url: String, reason: String },
    #[error("invalid node name {name:?}: {reason}")]
    InvalidNodeName { name: String, reason: String },
    #[error(
        "the CA hash in the token does not match the server's CA (token {expected}, server's CA \
         sha256 {actual}): wrong server or wrong token"
    )]
    CaMismatch { expected: String, actual: String },
    #[error(
        "the server's CA (sha256 {actual}) differs from the one saved in {} when this node \
         joined (sha256 {saved}): wrong server, or the cluster was re-created — use the full K10 \
         token from the server's node-token file, or remove the saved file",
        .path.display()
    )]
    SavedCaMismatch {
        path: PathBuf,
        saved: String,
        actual: String,
    },
    #[error(
        "the server {server} presents a TLS certificate that its own CA does not sign: {message}"
    )]
    ServerCertUntrusted { server: String, message: String },
    #[error("the token is not accepted by the server {server}: {message}")]
    TokenRejected { server: String, message: String },
    #[error("the server {server} refused node {node}: {message}")]
    NodeRejected {
        server: String,
        node: String,
        message: String,
    },
    #[error("the server {server} refused the join request (HTTP {code}): {message}")]
    Refused {
        server: String,
        code: u16,
        message: String,
    },
    #[error("cannot reach the server {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error("the server {server} returned an unusable certificate: {reason}")]
    BadCertificate { server: String, reason: String },
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("building the API client: {0}")]
    Client(String),
}

impl JoinError {
    /// Whether trying again later may succeed (the server is down or busy); everything else
    /// needs someone to fix the token, the CA, the node name or the files.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// Everything a node needs to talk to the API server and to serve the kubelet API, all PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeCredentials {
    /// `https://host:port` of the API server.
    pub server_url: String,
    /// The cluster CA (trust anchor for the API server and for kubelet API clients).
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
}

impl fmt::Debug for NodeCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCredentials")
            .field("server_url", &self.server_url)
            .field("ca_pem", &self.ca_pem)
            .field("client_cert_pem", &self.client_cert_pem)
            .field("client_key_pem", &"<redacted>")
            .field("serving_cert_pem", &self.serving_cert_pem)
            .field("serving_key_pem", &"<redacted>")
            .finish()
    }
}

impl NodeCredentials {
    /// A kubeconfig for the API server authenticating with the node's client certificate.
    pub fn kubeconfig_yaml(&self) -> String {
        k3rs_pki::kubeconfig_yaml(
            &self.server_url,
            &self.ca_pem,
            &self.client_cert_pem,
            &self.client_key_pem,
        )
    }

    /// The kube-rs configuration of [`NodeCredentials::kubeconfig_yaml`].
    pub fn kube_config(&self) -> Result<kube::Config, JoinError> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())
            .map_err(|err| JoinError::Client(err.to_string()))?;
        kube::Config::try_from(kubeconfig).map_err(|err| JoinError::Client(err.to_string()))
    }

    /// A client of the API server acting as `system:node:<name>`.
    pub fn kube_client(&self) -> Result<kube::Client, JoinError> {
        kube::Client::try_from(self.kube_config()?)
            .map_err(|err| JoinError::Client(err.to_string()))
    }
}

/// Which of the node's two certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    Client,
    Serving,
}

impl CertKind {
    fn files(self) -> (&'static str, &'static str) {
        match self {
            Self::Client => (CLIENT_CERT_FILE, CLIENT_KEY_FILE),
            Self::Serving => (SERVING_CERT_FILE, SERVING_KEY_FILE),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_KUBELET_PATH,
            Self::Serving => SERVING_KUBELET_PATH,
        }
    }
}

/// What one of the node's certificates must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedCert {
    pub kind: CertKind,
    pub common_name: String,
    /// DNS names and addresses (serving certificate only; empty for the client certificate).
    pub names: ServingIdentity,
}

/// The certificate `kind` of node `node_name` reachable at `node_ips`.
pub fn wanted_cert(kind: CertKind, node_name: &str, node_ips: &[IpAddr]) -> WantedCert {
    let mut names = ServingIdentity::default();
    if kind == CertKind::Serving {
        names.add_dns(node_name);
        for ip in node_ips {
            names.add_ip(*ip);
        }
    }
    WantedCert {
        kind,
        common_name: format!("{NODE_USER_PREFIX}{node_name}"),
        names,
    }
}

/// Why an existing certificate (with its key's public key) cannot be reused at `now`, if it
/// cannot.
pub fn reissue_reason(
    existing: &CertSummary,
    key_public_key: &[u8],
    wanted: &WantedCert,
    now: OffsetDateTime,
) -> Option<String> {
    if !existing.signed_by_ca {
        return Some("not signed by the cluster CA".into());
    }
    if existing.public_key != key_public_key {
        return Some("does not match its key".into());
    }
    if existing.not_after < now + RENEW_BEFORE {
        return Some("expired or expiring within 30 days".into());
    }
    if existing.not_before > now + CLOCK_SKEW {
        return Some("not valid yet".into());
    }
    if existing.common_name.as_deref() != Some(wanted.common_name.as_str()) {
        return Some(format!(
            "issued to {:?}, not {:?}",
            existing.common_name.as_deref().unwrap_or(""),
            wanted.common_name
        ));
    }
    if existing.groups.len() != 1 || !existing.groups.contains(NODES_GROUP) {
        return Some(format!("its groups are not [{NODES_GROUP}]"));
    }
    let usable = match wanted.kind {
        CertKind::Client => existing.client_auth,
        CertKind::Serving => existing.server_auth,
    };
    if !usable {
        return Some("lacks the extended key usage it is for".into());
    }
    if wanted.kind == CertKind::Serving && !existing.names.same_names(&wanted.names) {
        return Some("the node's names or addresses changed".into());
    }
    None
}

/// How the server's CA came to be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaTrust {
    /// Its hash is the one in the token.
    Pinned,
    /// It is the CA saved when this node first joined.
    Saved,
    /// Nothing to check it against (bare secret, first join): trusted on first use, as k3s does.
    FirstUse,
}

/// Decides whether `fetched_pem` (the server's `/cacerts`) can be trusted: it must hash to the
/// token's CA hash when there is one, else equal the CA saved at `saved_path` when there is one.
pub fn trust_ca(
    token_hash: Option<&str>,
    fetched_pem: &str,
    saved_pem: Option<&str>,
    saved_path: &Path,
) -> Result<CaTrust, JoinError> {
    let actual = k3rs_pki::ca_hash(fetched_pem.as_bytes());
    match (token_hash, saved_pem) {
        (Some(expected), _) if expected.eq_ignore_ascii_case(&actual) => Ok(CaTrust::Pinned),
        (Some(expected), _) => Err(JoinError::CaMismatch {
            expected: expected.to_string(),
            actual,
        }),
        (None, Some(saved)) if saved == fetched_pem => Ok(CaTrust::Saved),
        (None, Some(saved)) => Err(JoinError::SavedCaMismatch {
            path: saved_path.to_path_buf(),
            saved: k3rs_pki::ca_hash(saved.as_bytes()),
            actual,
        }),
        (None, None) => Ok(CaTrust::FirstUse),
    }
}

/// The error of a request the server answered with HTTP `code`.
pub fn refusal(code: u16, message: String, server: &str, node: &str) -> JoinError {
    let server = server.to_string();
    match code {
        401 => JoinError::TokenRejected { server, message },
        403 => JoinError::NodeRejected {
            server,
            node: node.to_string(),
            message,
        },
        404 => JoinError::Refused {
            server,
            code,
            message: format!(
                "the server does not serve the k3rs join API (is it a k3rs server?): {message}"
            ),
        },
        429 | 500..=599 => JoinError::Unreachable {
            server,
            message: format!("HTTP {code}: {message}"),
        },
        _ => JoinError::Refused {
            server,
            code,
            message,
        },
    }
}

/// Joins the cluster at `server` (`https://host:port`) with `token` (full `K10…` token or bare
/// secret) as node `node_name` reachable at `node_ips`, keeping its files in `agent_dir`.
///
/// Retries with exponential back-off (1 s up to 30 s, a log line each time) while the server is
/// unreachable or unavailable; a wrong token, CA hash or node password, or a malformed request,
/// fails at once.
pub async fn join(
    server: &str,
    token: &str,
    node_name: &str,
    node_ips: &[IpAddr],
    agent_dir: &Path,
) -> Result<NodeCredentials, JoinError> {
    let token = k3rs_pki::parse_token(token).map_err(JoinError::InvalidToken)?;
    let server_url = server_url(server)?;
    let problems = k3rs_api::names::is_dns1123_subdomain(node_name);
    if !problems.is_empty() {
        return Err(JoinError::InvalidNodeName {
            name: node_name.to_string(),
            reason: problems.join("; "),
        });
    }
    let files = AgentFiles {
        dir: agent_dir.to_path_buf(),
    };
    let password = files.node_password()?;
    let joiner = Joiner {
        server_url,
        token,
        node_name: node_name.to_string(),
        node_ips: node_ips.to_vec(),
        password,
        files,
    };
    let mut delay = FIRST_RETRY;
    loop {
        match joiner.attempt().await {
            Err(err) if err.is_retryable() => {
                tracing::warn!(error = %err, retry_in = ?delay, "cannot join the cluster yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY);
            }
            result => return result,
        }
    }
}

/// `https://host[:port]` from the `--server` value.
fn server_url(server: &str) -> Result<String, JoinError> {
    let invalid = |reason: &str| JoinError::InvalidServer {
        url: server.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = server
        .trim()
        .parse()
        .map_err(|_| invalid("expected https://<host>:<port>"))?;
    if uri.scheme_str() != Some("https") {
        return Err(invalid("the scheme must be https"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("expected https://<host>:<port>"))?;
    if !matches!(uri.path(), "" | "/") {
        return Err(invalid("must not have a path"));
    }
    Ok(format!("https://{authority}"))
}

/// One join, from fetching the CA to writing the files.
struct Joiner {
    server_url: String,
    token: ParsedToken,
    node_name: String,
    node_ips: Vec<IpAddr>,
    password: String,
    files: AgentFiles,
}

impl Joiner {
    async fn attempt(&self) -> Result<NodeCredentials, JoinError> {
        let ca_pem = self.fetch_cacerts().await?;
        let saved_ca = self.files.read(SERVER_CA_FILE)?;
        let trust = trust_ca(
            self.token.ca_hash.as_deref(),
            &ca_pem,
            saved_ca.as_deref(),
            &self.files.path(SERVER_CA_FILE),
        )?;
        if trust == CaTrust::FirstUse {
            tracing::warn!(
                server = %self.server_url,
                ca_sha256 = %k3rs_pki::ca_hash(ca_pem.as_bytes()),
                "the token has no CA hash: trusting the CA the server presents (as k3s does); use the \
                 full K10 token from the server's node-token file to verify the server"
            );
        }
        let client = self.verified_client(&ca_pem)?;
        let (client_cert_pem, client_key_pem) =
            self.certificate(CertKind::Client, &ca_pem, &client).await?;
        let (serving_cert_pem, serving_key_pem) = self
            .certificate(CertKind::Serving, &ca_pem, &client)
            .await?;
        for ca_file in [SERVER_CA_FILE, CLIENT_CA_FILE] {
            self.files.write(ca_file, &ca_pem, CERT_MODE)?;
        }
        let credentials = NodeCredentials {
            server_url: self.server_url.clone(),
            ca_pem,
            client_cert_pem,
            client_key_pem,
            serving_cert_pem,
            serving_key_pem,
        };
        self.files
            .write(KUBECONFIG_FILE, &credentials.kubeconfig_yaml(), KEY_MODE)?;
        tracing::info!(server = %self.server_url, node = %self.node_name, "joined the cluster");
        Ok(credentials)
    }

    /// The server's CA bundle, fetched without verifying the server (nothing secret is sent).
    async fn fetch_cacerts(&self) -> Result<String, JoinError> {
        let mut config = self.base_config()?;
        config.root_cert = Some(Vec::new());
        config.accept_invalid_certs = true;
        let client =
            kube::Client::try_from(config).map_err(|err| JoinError::Client(err.to_string()))?;
        let request = Request::get(CACERTS_PATH)
            .body(Vec::new())
            .map_err(|err| JoinError::Client(err.to_string()))?;
        client
            .request_text(request)
            .await
            .map_err(|err| self.request_error(err))
    }

    /// A client that trusts only `ca_pem` and sends no credentials of its own.
    fn verified_client(&self, ca_pem: &str) -> Result<kube::Client, JoinError> {
        let mut config = self.base_config()?;
        config.root_cert = Some(vec![k3rs_pki::cert_der(
            &self.files.path(SERVER_CA_FILE),
            ca_pem,
        )?]);
        kube::Client::try_from(config).map_err(|err| JoinError::Client(err.to_string()))
    }

    fn base_config(&self) -> Result<kube::Config, JoinError> {
        let uri = self
            .server_url
            .parse()
            .map_err(|_| JoinError::InvalidServer {
                url: self.server_url.clone(),
                reason: "not a URL".into(),
            })?;
        let mut config = kube::Config::new(uri);
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(READ_TIMEOUT);
        // Retries are ours (with back-off and a log line), not the client's.
        config.default_retry = false;
        Ok(config)
    }

    /// The certificate and key of `kind`: the ones in the agent directory while still good,
    /// else new ones from a CSR.
    async fn certificate(
        &self,
        kind: CertKind,
        ca_pem: &str,
        client: &kube::Client,
    ) -> Result<(String, String), JoinError> {
        let wanted = wanted_cert(kind, &self.node_name, &self.node_ips);
        let (cert_file, key_file) = kind.files();
        if let (Some(cert_pem), Some(key_pem)) =
            (self.files.read(cert_file)?, self.files.read(key_file)?)
        {
            let reason = self.check(cert_file, &cert_pem, key_file, &key_pem, ca_pem, &wanted);
            match reason {
                None => {
                    tracing::debug!(file = cert_file, "reusing the node certificate");
                    return Ok((cert_pem, key_pem));
                }
                Some(reason) => {
                    tracing::info!(file = cert_file, %reason, "requesting a new node certificate")
                }
            }
        }
        let request = k3rs_pki::new_key_and_csr(&wanted.common_name)?;
        let cert_pem = self.post_csr(client, kind, &request.csr_pem).await?;
        if let Some(reason) = self.check(
            cert_file,
            &cert_pem,
            key_file,
            &request.key_pem,
            ca_pem,
            &wanted,
        ) {
            return Err(JoinError::BadCertificate {
                server: self.server_url.clone(),
                reason,
            });
        }
        // Key first: a certificate without its key is never left behind.
        self.files.write(key_file, &request.key_pem, KEY_MODE)?;
        self.files.write(cert_file, &cert_pem, CERT_MODE)?;
        Ok((cert_pem, request.key_pem))
    }

    /// Why the certificate and key cannot serve as `wanted`, if they cannot.
    fn check(
        &self,
        cert_file: &str,
        cert_pem: &str,
        key_file: &str,
        key_pem: &str,
        ca_pem: &str,
        wanted: &WantedCert,
    ) -> Option<String> {
        let summary = k3rs_pki::inspect_cert(&self.files.path(cert_file), cert_pem, ca_pem);
        let public_key = k3rs_pki::public_key_of(&self.files.path(key_file), key_pem);
        match (summary, public_key) {
            (Ok(summary), Ok(public_key)) => {
                reissue_reason(&summary, &public_key, wanted, OffsetDateTime::now_utc())
            }
            (Err(err), _) | (_, Err(err)) => Some(err.to_string()),
        }
    }

    async fn post_csr(
        &self,
        client: &kube::Client,
        kind: CertKind,
        csr_pem: &str,
    ) -> Result<String, JoinError> {
        let basic = STANDARD.encode(format!("{NODE_USER}:{}", self.token.secret));
        let ips = self
            .node_ips
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let request = Request::post(kind.path())
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/pkcs10")
            .header(NODE_NAME_HEADER, &self.node_name)
            .header(NODE_PASSWORD_HEADER, &self.password)
            .header(NODE_IP_HEADER, ips)
            .body(csr_pem.as_bytes().to_vec())
            .map_err(|err| JoinError::Client(err.to_string()))?;
        client
            .request_text(request)
            .await
            .map_err(|err| self.request_error(err))
    }

    fn request_error(&self, err: kube::Error) -> JoinError {
        match err {
            kube::Error::Api(status) => refusal(
                status.code,
                status.message,
                &self.server_url,
                &self.node_name,
            ),
            other => {
                let message = error_chain(&other);
                if message.contains("invalid peer certificate") {
                    JoinError::ServerCertUntrusted {
                        server: self.server_url.clone(),
                        message,
                    }
                } else {
                    JoinError::Unreachable {
                        server: self.server_url.clone(),
                        message,
                    }
                }
            }
        }
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The agent directory's join files.
struct AgentFiles {
    dir: PathBuf,
}

impl AgentFiles {
    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn read(&self, file: &str) -> Result<Option<String>, JoinError> {
        let path = self.path(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(JoinError::Io {
                op: "read",
                path,
                source,
            }),
        }
    }

    fn write(&self, file: &str, contents: &str, mode: u32) -> Result<(), JoinError> {
        Ok(k3rs_pki::write_file_atomic(
            &self.path(file),
            contents.as_bytes(),
            mode,
        )?)
    }

    /// The node password, created (random, 0600) on first use.
    fn node_password(&self) -> Result<String, JoinError> {
        if let Some(text) = self.read(NODE_PASSWORD_FILE)? {
            let password = text.trim();
            if !password.is_empty() {
                return Ok(password.to_string());
            }
        }
        let password = k3rs_pki::new_node_password()?;
        self.write(NODE_PASSWORD_FILE, &format!("{password}\n"), KEY_MODE)?;
        tracing::info!(path = %self.path(NODE_PASSWORD_FILE).display(), "created the node password");
        Ok(password)
    }
}

#[cfg(test)]
mod tests;
