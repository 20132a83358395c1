//! The cluster join token, k3s format: `K10<sha256 of the CA certificate file>::server:<secret>`.

use std::fmt;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::files::{read_optional, write_file_atomic};
use crate::{PkiError, Result};

/// Name of the token file in the server directory.
pub const TOKEN_FILE: &str = "token";
/// Name of the node token file in the server directory (same content as [`TOKEN_FILE`]).
pub const NODE_TOKEN_FILE: &str = "node-token";

/// Prefix of full (CA-pinning) tokens.
const TOKEN_PREFIX: &str = "K10";
/// The user name of server tokens.
const SERVER_USERNAME: &str = "server";

/// A server's join token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Lower-case hex SHA-256 of the CA certificate file bytes.
    pub ca_hash: String,
    /// The shared secret.
    pub secret: String,
}

impl Token {
    /// The full token, `K10<ca_hash>::server:<secret>`.
    pub fn full(&self) -> String {
        format!(
            "{TOKEN_PREFIX}{}::{SERVER_USERNAME}:{}",
            self.ca_hash, self.secret
        )
    }
}

impl fmt::Display for Token {
    /// Writes the full token (it is a secret: do not log it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("ca_hash", &self.ca_hash)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A token as given by a user: either full (`K10<hash>::<user>:<secret>`) or just a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// The CA hash of a full token (lower-case hex), `None` for a plain secret.
    pub ca_hash: Option<String>,
    /// The user name (`server` unless the token names another one).
    pub username: String,
    /// The secret.
    pub secret: String,
}

impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("ca_hash", &self.ca_hash)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Lower-case hex SHA-256 of `ca_pem` (the bytes of the CA certificate file).
pub fn ca_hash(ca_pem: &[u8]) -> String {
    hex(&Sha256::digest(ca_pem))
}

/// Parses a token: `K10<64 hex>::<user>:<secret>`, `K10<64 hex>::<secret>`, or a plain secret.
/// Surrounding whitespace is ignored.
pub fn parse_token(token: &str) -> Result<ParsedToken> {
    let token = token.trim();
    if token.is_empty() {
        return Err(PkiError::InvalidToken("empty token".into()));
    }
    let Some(rest) = token
        .strip_prefix(TOKEN_PREFIX)
        .filter(|rest| rest.contains("::"))
    else {
        return Ok(ParsedToken {
            ca_hash: None,
            username: SERVER_USERNAME.into(),
            secret: token.into(),
        });
    };
    let (hash, credentials) = rest.split_once("::").unwrap_or((rest, ""));
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PkiError::InvalidToken(format!(
            "the CA hash after {TOKEN_PREFIX} must be 64 hex digits (sha256), got {hash:?}"
        )));
    }
    let (username, secret) = credentials
        .split_once(':')
        .unwrap_or((SERVER_USERNAME, credentials));
    if username.is_empty() || secret.is_empty() {
        return Err(PkiError::InvalidToken(format!(
            "expected {TOKEN_PREFIX}<ca-hash>::<user>:<secret>, the user or secret is empty"
        )));
    }
    Ok(ParsedToken {
        ca_hash: Some(hash.to_ascii_lowercase()),
        username: username.into(),
        secret: secret.into(),
    })
}

/// Decides the server's token and writes it to `<server_dir>/token` and
/// `<server_dir>/node-token` (both 0600, full format).
///
/// The secret comes from `secret_from_flag` (`--token`, a plain secret or a full token whose
/// CA hash must match `ca_pem`), else from an existing `<server_dir>/token`, else it is 32 new
/// random hex characters.
pub fn load_or_create_token(
    server_dir: &Path,
    ca_pem: &[u8],
    secret_from_flag: Option<&str>,
) -> Result<Token> {
    let actual_hash = ca_hash(ca_pem);
    let token_path = server_dir.join(TOKEN_FILE);
    let stored = match read_optional(&token_path)? {
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| PkiError::InvalidFile {
                path: token_path.clone(),
                reason: "is not UTF-8 text".into(),
            })?;
            let parsed = parse_token(&text).map_err(|err| PkiError::InvalidFile {
                path: token_path.clone(),
                reason: err.to_string(),
            })?;
            Some(parsed)
        }
        None => None,
    };
    let secret = match secret_from_flag {
        Some(given) => {
            let parsed = parse_token(given)?;
            check_ca_hash(&parsed, &actual_hash)?;
            if stored
                .as_ref()
                .is_some_and(|stored| stored.secret != parsed.secret)
            {
                tracing::warn!(path = %token_path.display(), "the given token differs from the stored one; replacing it");
            }
            parsed.secret
        }
        None => match stored {
            Some(stored) => {
                check_ca_hash(&stored, &actual_hash).map_err(|err| PkiError::InvalidFile {
                    path: token_path.clone(),
                    reason: err.to_string(),
                })?;
                stored.secret
            }
            None => random_secret()?,
        },
    };
    let token = Token {
        ca_hash: actual_hash,
        secret,
    };
    let contents = format!("{}\n", token.full());
    write_file_atomic(&token_path, contents.as_bytes(), 0o600)?;
    write_file_atomic(
        &server_dir.join(NODE_TOKEN_FILE),
        contents.as_bytes(),
        0o600,
    )?;
    Ok(token)
}

fn check_ca_hash(parsed: &ParsedToken, actual_hash: &str) -> Result<()> {
    match &parsed.ca_hash {
        Some(given) if given != actual_hash => Err(PkiError::TokenCaMismatch {
            given: given.clone(),
            actual: actual_hash.to_string(),
        }),
        _ => Ok(()),
    }
}

/// 32 random hex characters from the operating system's generator.
pub(crate) fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    Ok(hex(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests;
