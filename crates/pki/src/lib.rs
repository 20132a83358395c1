//! Cluster PKI for k3rs: the cluster CA, the API server's serving certificate, client
//! certificates (admin, nodes), the join token (`K10<ca-sha256>::server:<secret>`) and the
//! admin kubeconfig.
//!
//! File names and layout follow k3s: `<data-dir>/server/tls/server-ca.crt` and friends,
//! `<data-dir>/server/token` and `<data-dir>/server/node-token`.

mod cluster;
mod error;
mod files;
mod identity;
pub mod join_api;
mod kubeconfig;
mod node_cert;
mod node_password;
mod sans;
mod token;

pub use cluster::{
    ADMIN_CLIENT_CERT_FILE, ADMIN_CLIENT_KEY_FILE, CA_CERT_FILE, CA_KEY_FILE, CertUsage,
    ClusterPki, IssuedCert, KUBELET_CLIENT_CERT_FILE, KUBELET_CLIENT_COMMON_NAME,
    KUBELET_CLIENT_KEY_FILE, SERVING_CERT_FILE, SERVING_KEY_FILE, load_or_create,
};
pub use error::PkiError;
pub use files::write_file_atomic;
pub use identity::{UserInfo, identity_from_cert};
pub use kubeconfig::{kubeconfig_yaml, write_kubeconfig};
pub use node_cert::{
    CertSummary, KeyAndCsr, cert_der, inspect_cert, new_key_and_csr, public_key_of,
};
pub use node_password::{hash_node_password, new_node_password, node_password_matches};
pub use sans::{ServingIdentity, ServingIdentityInputs};
pub use token::{
    NODE_TOKEN_FILE, ParsedToken, TOKEN_FILE, Token, ca_hash, load_or_create_token, parse_token,
};

/// Result type of this crate.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
