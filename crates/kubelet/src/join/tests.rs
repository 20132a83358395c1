use std::collections::BTreeSet;

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn ips() -> Vec<IpAddr> {
    vec!["10.0.0.7".parse().unwrap()]
}

/// A certificate summary that is good for `wanted` at [`NOW`].
fn good(wanted: &WantedCert) -> CertSummary {
    CertSummary {
        common_name: Some(wanted.common_name.clone()),
        groups: BTreeSet::from([NODES_GROUP.to_string()]),
        not_before: NOW - time::Duration::days(1),
        not_after: NOW + time::Duration::days(364),
        names: wanted.names.clone(),
        client_auth: wanted.kind == CertKind::Client,
        server_auth: wanted.kind == CertKind::Serving,
        signed_by_ca: true,
        public_key: vec![1, 2, 3],
    }
}

#[test]
fn wanted_certificates_name_the_node() {
    let client = wanted_cert(CertKind::Client, "worker-1", &ips());
    assert_eq!(client.common_name, "system:node:worker-1");
    assert!(client.names.dns_names.is_empty() && client.names.ips.is_empty());
    let serving = wanted_cert(CertKind::Serving, "worker-1", &ips());
    assert_eq!(serving.common_name, "system:node:worker-1");
    assert_eq!(serving.names.dns_names, vec!["worker-1".to_string()]);
    assert_eq!(serving.names.ips, ips());
}

#[test]
fn a_good_certificate_is_reused() {
    for kind in [CertKind::Client, CertKind::Serving] {
        let wanted = wanted_cert(kind, "worker-1", &ips());
        assert_eq!(
            reissue_reason(&good(&wanted), &[1, 2, 3], &wanted, NOW),
            None
        );
    }
}

#[test]
fn every_defect_forces_a_new_certificate() {
    let serving = wanted_cert(CertKind::Serving, "worker-1", &ips());
    let client = wanted_cert(CertKind::Client, "worker-1", &ips());
    type Change = fn(&mut CertSummary);
    let cases: [(&WantedCert, Change, &str); 9] = [
        (
            &serving,
            |c| c.signed_by_ca = false,
            "not signed by the cluster CA",
        ),
        (
            &serving,
            |c| c.public_key = vec![9],
            "does not match its key",
        ),
        (
            &serving,
            |c| c.not_after = NOW + time::Duration::days(29),
            "expiring within 30 days",
        ),
        (
            &serving,
            |c| c.not_before = NOW + time::Duration::hours(1),
            "not valid yet",
        ),
        (
            &serving,
            |c| c.common_name = Some("system:node:worker-2".into()),
            "issued to \"system:node:worker-2\"",
        ),
        (
            &client,
            |c| c.groups = BTreeSet::from(["system:masters".to_string()]),
            "groups are not [system:nodes]",
        ),
        (&client, |c| c.client_auth = false, "extended key usage"),
        (&serving, |c| c.server_auth = false, "extended key usage"),
        (
            &serving,
            |c| c.names.add_ip("10.0.0.8".parse().unwrap()),
            "names or addresses changed",
        ),
    ];
    for (wanted, change, expected) in cases {
        let mut summary = good(wanted);
        change(&mut summary);
        let reason = reissue_reason(&summary, &[1, 2, 3], wanted, NOW)
            .unwrap_or_else(|| panic!("expected {expected:?}"));
        assert!(reason.contains(expected), "{reason} vs {expected}");
    }
    // 30 days and a minute left is still fine; a client certificate has no names to check.
    let mut summary = good(&client);
    summary.not_after = NOW + time::Duration::days(30) + time::Duration::minutes(1);
    summary.names.add_dns("anything");
    assert_eq!(reissue_reason(&summary, &[1, 2, 3], &client, NOW), None);
}

#[test]
fn the_ca_is_trusted_by_token_hash_then_by_the_saved_copy() {
    let ca = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let other = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
    let hash = k3rs_pki::ca_hash(ca.as_bytes());
    let saved_path = Path::new("/agent/server-ca.crt");

    assert_eq!(
        trust_ca(Some(&hash), ca, None, saved_path).unwrap(),
        CaTrust::Pinned
    );
    assert_eq!(
        trust_ca(Some(&hash.to_uppercase()), ca, Some(other), saved_path).unwrap(),
        CaTrust::Pinned,
        "a full token decides even when another CA was saved (re-created cluster)"
    );
    let err = trust_ca(Some(&hash), other, None, saved_path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, JoinError::CaMismatch { .. }));
    assert!(!err.is_retryable());
    assert!(
        message.contains("the CA hash in the token does not match"),
        "{message}"
    );
    assert!(message.contains("wrong server or wrong token"), "{message}");
    assert!(message.contains(&hash), "{message}");

    assert_eq!(
        trust_ca(None, ca, None, saved_path).unwrap(),
        CaTrust::FirstUse
    );
    assert_eq!(
        trust_ca(None, ca, Some(ca), saved_path).unwrap(),
        CaTrust::Saved
    );
    let err = trust_ca(None, other, Some(ca), saved_path).unwrap_err();
    assert!(matches!(err, JoinError::SavedCaMismatch { .. }));
    assert!(err.to_string().contains("/agent/server-ca.crt"), "{err}");
}

#[test]
fn refusals_say_which_credential_is_wrong() {
    let token = refusal(401, "Unauthorized".into(), "https://s:6443", "n1");
    assert!(
        token
            .to_string()
            .starts_with("the token is not accepted by the server https://s:6443"),
        "{token}"
    );
    let node = refusal(403, "Node password rejected".into(), "https://s:6443", "n1");
    assert!(
        node.to_string()
            .contains("refused node n1: Node password rejected"),
        "{node}"
    );
    let missing = refusal(404, "not found".into(), "https://s:6443", "n1");
    assert!(
        missing.to_string().contains("is it a k3rs server?"),
        "{missing}"
    );
    for permanent in [&token, &node, &missing] {
        assert!(!permanent.is_retryable(), "{permanent}");
    }
    for busy in [429, 500, 503] {
        assert!(refusal(busy, "busy".into(), "https://s:6443", "n1").is_retryable());
    }
    assert!(!refusal(400, "bad".into(), "https://s:6443", "n1").is_retryable());
}

#[test]
fn server_urls_must_be_https_without_path() {
    assert_eq!(
        server_url("https://10.0.0.1:6443").unwrap(),
        "https://10.0.0.1:6443"
    );
    assert_eq!(
        server_url(" https://k3rs.example/ ").unwrap(),
        "https://k3rs.example"
    );
    for (bad, expected) in [
        ("http://10.0.0.1:6443", "the scheme must be https"),
        ("10.0.0.1:6443", "the scheme must be https"),
        ("https://10.0.0.1:6443/api", "must not have a path"),
        ("not a url", "expected https://<host>:<port>"),
    ] {
        let err = server_url(bad).unwrap_err();
        assert!(err.to_string().contains(expected), "{bad}: {err}");
    }
}

#[test]
fn the_node_password_is_created_once_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let files = AgentFiles {
        dir: dir.path().to_path_buf(),
    };
    let first = files.node_password().unwrap();
    assert_eq!(first.len(), 32);
    let path = dir.path().join(NODE_PASSWORD_FILE);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(files.node_password().unwrap(), first);
    std::fs::write(&path, "chosen-by-the-admin\n").unwrap();
    assert_eq!(files.node_password().unwrap(), "chosen-by-the-admin");
}

#[test]
fn credentials_debug_hides_keys() {
    let credentials = NodeCredentials {
        server_url: "https://s:6443".into(),
        ca_pem: "CA".into(),
        client_cert_pem: "CERT".into(),
        client_key_pem: "CLIENT-KEY".into(),
        serving_cert_pem: "CERT".into(),
        serving_key_pem: "SERVING-KEY".into(),
    };
    let debug = format!("{credentials:?}");
    assert!(
        !debug.contains("CLIENT-KEY") && !debug.contains("SERVING-KEY"),
        "{debug}"
    );
}
