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
mod kubeconfig;
mod sans;
mod token;

pub use cluster::{
    ADMIN_CLIENT_CERT_FILE, ADMIN_CLIENT_KEY_FILE, CA_CERT_FILE, CA_KEY_FILE, CertUsage,
    ClusterPki, IssuedCert, SERVING_CERT_FILE, SERVING_KEY_FILE, load_or_create,
};
pub use error::PkiError;
pub use files::write_file_atomic;
pub use identity::{UserInfo, identity_from_cert};
pub use kubeconfig::{kubeconfig_yaml, write_kubeconfig};
pub use sans::{ServingIdentity, ServingIdentityInputs};
pub use token::{
    NODE_TOKEN_FILE, ParsedToken, TOKEN_FILE, Token, ca_hash, load_or_create_token, parse_token,
};

/// Result type of this crate.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
