//! Node passwords: a secret kept on the node; the server keeps only a salted PBKDF2 hash, so a
//! second machine cannot take over a node name that already joined.

use std::num::NonZeroU32;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::token::{hex, random_secret};
use crate::{PkiError, Result};

/// Scheme tag of stored hashes.
const SCHEME: &str = "pbkdf2-sha256";
/// PBKDF2 iterations: a join is rare, so a hash may take tens of milliseconds.
const ITERATIONS: u32 = 100_000;
/// Salt and hash lengths in bytes.
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// A new random node password (32 hex characters).
pub fn new_node_password() -> Result<String> {
    random_secret()
}

/// The stored form of `password`: `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
pub fn hash_node_password(password: &str) -> Result<String> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PkiError::Random)?;
    Ok(hash_with(password, ITERATIONS, &salt))
}

/// Whether `password` is the one `stored` (from [`hash_node_password`]) was made from. A stored
/// value that is not in that form matches nothing.
pub fn node_password_matches(stored: &str, password: &str) -> bool {
    let mut parts = stored.trim().split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Some(salt), Some(hash)) = (
        iterations.parse::<u32>().ok().and_then(NonZeroU32::new),
        unhex(salt),
        unhex(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

fn hash_with(password: &str, iterations: u32, salt: &[u8]) -> String {
    let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut hash,
    );
    format!("{SCHEME}${iterations}${}${}", hex(salt), hex(&hash))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
