use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn generated_token_has_k3s_format_and_is_stored_0600() {
    let dir = tempfile::tempdir().unwrap();
    let token = load_or_create_token(dir.path(), CA, None).unwrap();
    let full = token.full();
    let expected_hash = ca_hash(CA);
    assert_eq!(expected_hash.len(), 64);
    assert!(
        full.starts_with(&format!("K10{expected_hash}::server:")),
        "{full}"
    );
    assert_eq!(token.secret.len(), 32);
    assert!(is_hex(&token.secret));
    for file in [TOKEN_FILE, NODE_TOKEN_FILE] {
        let path = dir.path().join(file);
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), full);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
    }
}

#[test]
fn ca_hash_is_sha256_of_the_file_bytes() {
    // sha256("abc")
    assert_eq!(
        ca_hash(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn stored_secret_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_create_token(dir.path(), CA, None).unwrap();
    let second = load_or_create_token(dir.path(), CA, None).unwrap();
    assert_eq!(first, second);
}

#[test]
fn flag_secret_plain_or_full() {
    let dir = tempfile::tempdir().unwrap();
    let plain = load_or_create_token(dir.path(), CA, Some("mysecret")).unwrap();
    assert_eq!(plain.secret, "mysecret");
    assert_eq!(plain.full(), format!("K10{}::server:mysecret", ca_hash(CA)));
    let full = format!("K10{}::server:other", ca_hash(CA).to_uppercase());
    let from_full = load_or_create_token(dir.path(), CA, Some(&full)).unwrap();
    assert_eq!(from_full.secret, "other");
    // Reused afterwards without the flag.
    assert_eq!(
        load_or_create_token(dir.path(), CA, None).unwrap().secret,
        "other"
    );
}

#[test]
fn full_token_for_another_ca_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = format!("K10{}::server:s", ca_hash(b"another CA"));
    let err = load_or_create_token(dir.path(), CA, Some(&wrong)).unwrap_err();
    assert!(matches!(err, PkiError::TokenCaMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not match"));
    assert!(!dir.path().join(TOKEN_FILE).exists());
}

#[test]
fn stored_token_for_another_ca_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    load_or_create_token(dir.path(), b"old CA", None).unwrap();
    let err = load_or_create_token(dir.path(), CA, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token") && err.contains("does not match"),
        "{err}"
    );
}

#[test]
fn parse_token_forms() {
    let hash = ca_hash(CA);
    let full = parse_token(&format!(" K10{hash}::node:abc\n")).unwrap();
    assert_eq!(full.ca_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(full.username, "node");
    assert_eq!(full.secret, "abc");
    let no_user = parse_token(&format!("K10{hash}::abc")).unwrap();
    assert_eq!(
        (no_user.username.as_str(), no_user.secret.as_str()),
        ("server", "abc")
    );
    let plain = parse_token("justasecret").unwrap();
    assert_eq!(plain.ca_hash, None);
    assert_eq!(plain.secret, "justasecret");
    assert!(parse_token("K10abc::server:x").is_err());
    assert!(parse_token(&format!("K10{hash}::server:")).is_err());
    assert!(parse_token("  ").is_err());
    assert!(
        !format!("{full:?}").contains("abc"),
        "Debug must not show the secret"
    );
}
