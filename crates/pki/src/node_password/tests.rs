use super::*;

#[test]
fn a_password_matches_its_own_hash_only() {
    let password = new_node_password().unwrap();
    let stored = hash_node_password(&password).unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$100000$"), "{stored}");
    assert!(!stored.contains(&password));
    assert!(node_password_matches(&stored, &password));
    assert!(!node_password_matches(&stored, "another-password"));
    assert!(!node_password_matches(&stored, ""));
}

#[test]
fn hashes_are_salted() {
    let first = hash_node_password("same").unwrap();
    let second = hash_node_password("same").unwrap();
    assert_ne!(first, second);
    assert!(node_password_matches(&first, "same") && node_password_matches(&second, "same"));
}

#[test]
fn known_vector_and_malformed_stored_values() {
    let stored = hash_with("secret", 1000, b"0123456789abcdef");
    assert!(node_password_matches(&stored, "secret"));
    for broken in [
        "",
        "secret",
        "pbkdf2-sha256$1000$zz$00",
        "pbkdf2-sha256$0$00$00",
        "md5$1000$00$00",
        &format!("{stored}$extra"),
        &stored.replace("pbkdf2-sha256$1000$", "pbkdf2-sha256$1001$"),
    ] {
        assert!(!node_password_matches(broken, "secret"), "{broken}");
    }
}

#[test]
fn new_passwords_are_random_hex() {
    let a = new_node_password().unwrap();
    let b = new_node_password().unwrap();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}
