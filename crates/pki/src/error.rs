//! Errors of the PKI crate.

use std::path::PathBuf;

/// Everything that can go wrong while creating, loading or using the cluster PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file system operation failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done ("read", "write", "rename", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A PKI file exists but its content is unusable, or files that belong together are
    /// inconsistent (e.g. a CA key without its certificate).
    #[error("{}: {reason}", .path.display())]
    InvalidFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate signing request could not be used.
    #[error("invalid certificate signing request: {0}")]
    InvalidCsr(String),
    /// The subject or names requested for a certificate cannot be encoded.
    #[error("invalid certificate subject: {0}")]
    InvalidSubject(String),
    /// A token string is malformed.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// A full `K10…` token names a different cluster CA than this server's.
    #[error("token CA hash {given} does not match this server's CA certificate (sha256 {actual})")]
    TokenCaMismatch {
        /// The hash found in the token.
        given: String,
        /// The hash of this server's CA certificate file.
        actual: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}
