use super::*;

fn token() -> Token {
    Token {
        ca_hash: "ab".repeat(32),
        secret: "s3cret".into(),
    }
}

fn basic(credentials: &str) -> String {
    format!("Basic {}", STANDARD.encode(credentials))
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn request(password: &str) -> JoinRequest {
    JoinRequest {
        node_name: "worker-1".into(),
        password: password.into(),
        node_ips: vec!["10.0.0.7".parse().unwrap(), "fd00::7".parse().unwrap()],
    }
}

#[test]
fn the_token_secret_or_full_token_is_accepted_as_basic_auth() {
    let token = token();
    for accepted in [
        basic("node:s3cret"),
        basic("server:s3cret"),
        basic(&format!("node:{}", token.full())),
    ] {
        check_credentials(Some(&accepted), &token).unwrap();
    }
    for refused in [
        basic("node:wrong"),
        basic("node:"),
        basic("admin:s3cret"),
        basic("nodes3cret"),
        "Basic !!!".to_string(),
        "Bearer s3cret".to_string(),
    ] {
        let err = check_credentials(Some(&refused), &token).unwrap_err();
        assert_eq!(err.code(), 401, "{refused}");
        assert!(
            err.to_string().contains("not this cluster's token"),
            "{err}"
        );
    }
    let missing = check_credentials(None, &token).unwrap_err();
    assert_eq!(missing.code(), 401);
    assert!(missing.to_string().contains("basic auth node:<token>"));
}

#[test]
fn join_request_reads_and_validates_headers() {
    let parsed = join_request(&headers(&[
        (NODE_NAME_HEADER, "worker-1"),
        (NODE_PASSWORD_HEADER, "pw"),
        (NODE_IP_HEADER, "10.0.0.7, fd00::7"),
    ]))
    .unwrap();
    assert_eq!(parsed, request("pw"));
    assert!(!format!("{parsed:?}").contains("pw\""));

    let without_ips = join_request(&headers(&[
        (NODE_NAME_HEADER, "worker-1"),
        (NODE_PASSWORD_HEADER, "pw"),
    ]))
    .unwrap();
    assert!(without_ips.node_ips.is_empty());

    let long_name = "a".repeat(240);
    for (pairs, expected) in [
        (
            vec![(NODE_PASSWORD_HEADER, "pw")],
            "header k3rs-node-name is required",
        ),
        (
            vec![(NODE_NAME_HEADER, "Worker_1"), (NODE_PASSWORD_HEADER, "pw")],
            "invalid node name \"Worker_1\"",
        ),
        (
            vec![
                (NODE_NAME_HEADER, long_name.as_str()),
                (NODE_PASSWORD_HEADER, "pw"),
            ],
            "must be no more than 234 characters",
        ),
        (
            vec![(NODE_NAME_HEADER, "worker-1")],
            "header k3rs-node-password is required",
        ),
        (
            vec![
                (NODE_NAME_HEADER, "worker-1"),
                (NODE_PASSWORD_HEADER, "pw"),
                (NODE_IP_HEADER, "10.0.0.7,10.0.0.300"),
            ],
            "invalid IP address \"10.0.0.300\"",
        ),
    ] {
        let err = join_request(&headers(&pairs)).unwrap_err();
        assert_eq!(err.code(), 400, "{pairs:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn certificates_name_the_node_whatever_the_csr_says() {
    let client = node_cert_spec(NodeCertKind::Client, &request("pw"));
    assert_eq!(client.common_name, "system:node:worker-1");
    assert_eq!(client.usage, CertUsage::Client);
    assert_eq!(client.names, ServingIdentity::default());

    let serving = node_cert_spec(NodeCertKind::Serving, &request("pw"));
    assert_eq!(serving.common_name, "system:node:worker-1");
    assert_eq!(serving.usage, CertUsage::Server);
    assert_eq!(serving.names.dns_names, vec!["worker-1".to_string()]);
    assert_eq!(serving.names.ips, request("pw").node_ips);
}

#[test]
fn stored_password_hash_decides() {
    let hash = k3rs_pki::hash_node_password("first-machine").unwrap();
    let secret = password_secret(&password_secret_name("worker-1"), &hash);
    assert_eq!(
        secret.pointer("/metadata/name").and_then(Value::as_str),
        Some("worker-1.node-password.k3rs")
    );
    assert_eq!(secret["type"], "k3rs.io/node-password");
    password_verdict(&secret, &request("first-machine")).unwrap();

    let err = password_verdict(&secret, &request("second-machine")).unwrap_err();
    assert_eq!(err.code(), 403);
    let message = err.to_string();
    assert!(message.starts_with("Node password rejected"), "{message}");
    assert!(
        message.contains("<data-dir>/agent/node-password"),
        "{message}"
    );
    assert!(
        message.contains("kube-system/worker-1.node-password.k3rs"),
        "{message}"
    );

    let emptied = json!({"data": {}});
    assert_eq!(
        password_verdict(&emptied, &request("first-machine"))
            .unwrap_err()
            .code(),
        403
    );
}
