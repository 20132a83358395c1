//! The node join protocol shared by the server and the agent (k3s's `/v1-k3s/*.crt`
//! endpoints, reshaped so the node sends a CSR and keeps its private keys).
//!
//! The agent proves the cluster token with HTTP basic auth (user [`NODE_USER`], password the
//! token's secret), names itself in [`NODE_NAME_HEADER`] and proves it owns that name with
//! [`NODE_PASSWORD_HEADER`]; the body is a PEM certificate signing request, the answer the PEM
//! certificate.

/// `POST`: client certificate of the kubelet (`CN=system:node:<name>, O=system:nodes`).
pub const CLIENT_KUBELET_PATH: &str = "/v1-k3rs/client-kubelet";
/// `POST`: serving certificate of the kubelet API (names: the node name and its addresses).
pub const SERVING_KUBELET_PATH: &str = "/v1-k3rs/serving-kubelet";
/// The cluster CA, PEM, served without authentication.
pub const CACERTS_PATH: &str = "/cacerts";
/// The node's name.
pub const NODE_NAME_HEADER: &str = "k3rs-node-name";
/// The node's password (see [`crate::hash_node_password`]).
pub const NODE_PASSWORD_HEADER: &str = "k3rs-node-password";
/// The node's IP addresses, comma-separated (serving certificate only).
pub const NODE_IP_HEADER: &str = "k3rs-node-ip";
/// The basic-auth user name of joining agents.
pub const NODE_USER: &str = "node";
/// Where an agent keeps its node password, relative to its agent directory.
pub const NODE_PASSWORD_FILE: &str = "node-password";
/// Prefix of the user names of node client certificates.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The group of node client certificates.
pub const NODES_GROUP: &str = "system:nodes";
/// The namespace of node password Secrets.
pub const NODE_PASSWORD_SECRET_NAMESPACE: &str = "kube-system";
/// Suffix of a node password Secret's name (`<node>.node-password.k3rs`).
pub const NODE_PASSWORD_SECRET_SUFFIX: &str = ".node-password.k3rs";

/// The name of the Secret holding a node's password hash (removed with its Node, as k3s does,
/// so that a wiped machine can join again under its name).
pub fn node_password_secret_name(node_name: &str) -> String {
    format!("{node_name}{NODE_PASSWORD_SECRET_SUFFIX}")
}
