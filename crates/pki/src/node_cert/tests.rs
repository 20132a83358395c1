use std::path::Path;

use time::Duration;

use super::*;
use crate::{CertUsage, load_or_create};

fn node_identity() -> ServingIdentity {
    let mut names = ServingIdentity::default();
    names.add_dns("worker-1");
    names.add_ip("10.0.0.7".parse().unwrap());
    names
}

#[test]
fn csr_signed_by_the_cluster_keeps_the_node_key_and_the_server_subject() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &ServingIdentity::default()).unwrap();
    let request = new_key_and_csr("whatever-the-node-asks").unwrap();
    assert!(
        request
            .csr_pem
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    assert!(!format!("{request:?}").contains("PRIVATE KEY"));
    let cert = pki
        .sign_csr(
            &request.csr_pem,
            "system:node:worker-1",
            &["system:nodes"],
            CertUsage::Server,
            &node_identity(),
        )
        .unwrap();
    let path = Path::new("serving-kubelet.crt");
    let summary = inspect_cert(path, &cert, pki.ca_cert_pem()).unwrap();
    assert_eq!(summary.common_name.as_deref(), Some("system:node:worker-1"));
    assert_eq!(
        summary.groups.iter().collect::<Vec<_>>(),
        vec!["system:nodes"]
    );
    assert!(summary.server_auth && !summary.client_auth);
    assert!(summary.signed_by_ca);
    assert!(summary.names.same_names(&node_identity()));
    let now = OffsetDateTime::now_utc();
    assert!(summary.not_before < now && summary.not_after > now + Duration::days(360));
    assert_eq!(
        summary.public_key,
        public_key_of(Path::new("serving-kubelet.key"), &request.key_pem).unwrap()
    );
}

#[test]
fn a_certificate_of_another_ca_is_reported_as_such() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let pki = load_or_create(ours.path(), &ServingIdentity::default()).unwrap();
    let other = load_or_create(theirs.path(), &ServingIdentity::default()).unwrap();
    let cert = other
        .issue_client_cert("system:node:worker-1", &["system:nodes"])
        .unwrap();
    let summary = inspect_cert(Path::new("c.crt"), &cert.cert_pem, pki.ca_cert_pem()).unwrap();
    assert!(!summary.signed_by_ca);
    assert!(summary.client_auth && !summary.server_auth);
    assert_ne!(
        summary.public_key,
        public_key_of(Path::new("k"), &new_key_and_csr("x").unwrap().key_pem).unwrap()
    );
}

#[test]
fn garbage_names_the_file() {
    let err = inspect_cert(Path::new("/agent/client-kubelet.crt"), "nope", "nope").unwrap_err();
    assert!(
        err.to_string().contains("/agent/client-kubelet.crt"),
        "{err}"
    );
    let err = public_key_of(Path::new("/agent/client-kubelet.key"), "nope").unwrap_err();
    assert!(
        err.to_string().contains("/agent/client-kubelet.key"),
        "{err}"
    );
}
