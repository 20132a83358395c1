use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use super::*;
use crate::{ServingIdentityInputs, identity_from_cert};

fn identity(tls_sans: &[&str]) -> ServingIdentity {
    let tls_sans: Vec<String> = tls_sans.iter().map(|s| s.to_string()).collect();
    ServingIdentity::cluster_default(&ServingIdentityInputs {
        host_name: "node-1",
        node_ips: &["10.0.0.5".parse().unwrap()],
        tls_sans: &tls_sans,
        cluster_domain: "cluster.local",
        api_service_ip: "10.43.0.1".parse().unwrap(),
    })
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

fn mode(dir: &Path, file: &str) -> u32 {
    fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o7777
}

/// Runs an in-memory TLS handshake between a client trusting the cluster CA and the API
/// server's configuration; optionally the server requires a client certificate.
fn handshake(
    pki: &ClusterPki,
    server_name: &str,
    client_identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(pki.ca_root_store()?);
    let server_builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let (client_config, server_config) = match client_identity {
        Some((chain, key)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(pki.ca_root_store()?),
                provider,
            )
            .build()?;
            (
                client_builder.with_client_auth_cert(chain, key)?,
                server_builder
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(pki.serving_cert_chain(), pki.serving_key())?,
            )
        }
        None => (
            client_builder.with_no_client_auth(),
            server_builder
                .with_no_client_auth()
                .with_single_cert(pki.serving_cert_chain(), pki.serving_key())?,
        ),
    };
    let mut client = ClientConnection::new(
        Arc::new(client_config),
        ServerName::try_from(server_name.to_string())?,
    )?;
    let mut server = ServerConnection::new(Arc::new(server_config))?;
    for _ in 0..16 {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server)?;
        }
        let mut input = to_server.as_slice();
        while !input.is_empty() {
            server.read_tls(&mut input)?;
            server.process_new_packets()?;
        }
        let mut to_client = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut to_client)?;
        }
        let mut input = to_client.as_slice();
        while !input.is_empty() {
            client.read_tls(&mut input)?;
            client.process_new_packets()?;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            // Prove application data flows.
            std::io::Write::write_all(&mut client.writer(), b"ping")?;
            let mut to_server = Vec::new();
            client.write_tls(&mut to_server)?;
            server.read_tls(&mut to_server.as_slice())?;
            server.process_new_packets()?;
            let mut received = [0u8; 4];
            server.reader().read_exact(&mut received)?;
            assert_eq!(&received, b"ping");
            return Ok(());
        }
    }
    Err("handshake did not complete".into())
}

fn pem_to_chain_and_key(
    cert_pem: &str,
    key_pem: &str,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    (
        vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()],
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(),
    )
}

#[test]
fn first_start_writes_k3s_files_with_private_keys_0600() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    for file in [CA_CERT_FILE, SERVING_CERT_FILE, ADMIN_CLIENT_CERT_FILE] {
        assert!(
            read(dir.path(), file).starts_with("-----BEGIN CERTIFICATE-----"),
            "{file}"
        );
    }
    for file in [CA_KEY_FILE, SERVING_KEY_FILE, ADMIN_CLIENT_KEY_FILE] {
        assert!(
            read(dir.path(), file).contains("PRIVATE KEY-----"),
            "{file}"
        );
        assert_eq!(mode(dir.path(), file), 0o600, "{file}");
    }
    assert_eq!(pki.ca_cert_pem(), read(dir.path(), CA_CERT_FILE));
    let (_, ca) = x509_parser::parse_x509_certificate(pki.ca_cert_der()).unwrap();
    assert!(ca.is_ca());
    let cn = ca
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(cn.starts_with("k3rs-server-ca@"), "{cn}");
    let years = (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp())
        / (365 * 86400);
    assert!(years >= 9, "CA valid for {years} years");
    let no_temp_files = fs::read_dir(dir.path())
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.'));
    assert!(no_temp_files);
}

#[test]
fn restart_reuses_ca_keys_and_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_create(dir.path(), &identity(&["k3rs.example.com"])).unwrap();
    let files: Vec<String> = [
        CA_CERT_FILE,
        CA_KEY_FILE,
        SERVING_CERT_FILE,
        SERVING_KEY_FILE,
        ADMIN_CLIENT_CERT_FILE,
        ADMIN_CLIENT_KEY_FILE,
    ]
    .iter()
    .map(|f| read(dir.path(), f))
    .collect();
    let second = load_or_create(dir.path(), &identity(&["k3rs.example.com"])).unwrap();
    let files_after: Vec<String> = [
        CA_CERT_FILE,
        CA_KEY_FILE,
        SERVING_CERT_FILE,
        SERVING_KEY_FILE,
        ADMIN_CLIENT_CERT_FILE,
        ADMIN_CLIENT_KEY_FILE,
    ]
    .iter()
    .map(|f| read(dir.path(), f))
    .collect();
    assert_eq!(files, files_after);
    assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
    assert_eq!(first.serving_cert_chain(), second.serving_cert_chain());
    assert_eq!(first.admin_key_pem(), second.admin_key_pem());
}

#[test]
fn san_change_reissues_only_the_serving_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_create(dir.path(), &identity(&[])).unwrap();
    assert!(
        handshake(&first, "new.example.com", None).is_err(),
        "name not yet in the certificate"
    );
    let unchanged = [
        CA_CERT_FILE,
        CA_KEY_FILE,
        SERVING_KEY_FILE,
        ADMIN_CLIENT_CERT_FILE,
        ADMIN_CLIENT_KEY_FILE,
    ]
    .map(|f| read(dir.path(), f));
    let serving_before = read(dir.path(), SERVING_CERT_FILE);

    let second = load_or_create(dir.path(), &identity(&["new.example.com", "192.0.2.10"])).unwrap();
    assert_eq!(
        unchanged,
        [
            CA_CERT_FILE,
            CA_KEY_FILE,
            SERVING_KEY_FILE,
            ADMIN_CLIENT_CERT_FILE,
            ADMIN_CLIENT_KEY_FILE
        ]
        .map(|f| read(dir.path(), f))
    );
    assert_ne!(serving_before, read(dir.path(), SERVING_CERT_FILE));
    assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
    handshake(&second, "new.example.com", None).unwrap();
    handshake(&second, "192.0.2.10", None).unwrap();
    // The old serving certificate's serial is not reused.
    let (old_chain, new_chain) = (first.serving_cert_chain(), second.serving_cert_chain());
    let (_, old) = x509_parser::parse_x509_certificate(&old_chain[0]).unwrap();
    let (_, new) = x509_parser::parse_x509_certificate(&new_chain[0]).unwrap();
    assert_ne!(old.serial, new.serial);
}

#[test]
fn serving_certificate_verifies_against_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    for name in [
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        "10.43.0.1",
        "node-1",
    ] {
        handshake(&pki, name, None).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    assert!(handshake(&pki, "evil.example.com", None).is_err());
    // Another CA's client does not trust this server.
    let other_dir = tempfile::tempdir().unwrap();
    let other = load_or_create(other_dir.path(), &identity(&[])).unwrap();
    let mixed = ClusterPki {
        ca_cert_der: other.ca_cert_der.clone(),
        ..load_or_create(dir.path(), &identity(&[])).unwrap()
    };
    assert!(handshake(&mixed, "localhost", None).is_err());
}

#[test]
fn admin_certificate_authenticates_as_system_admin() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    let (chain, key) = pem_to_chain_and_key(pki.admin_cert_pem(), pki.admin_key_pem());
    let user = identity_from_cert(&chain[0]).unwrap();
    assert_eq!(
        user,
        crate::UserInfo {
            name: "system:admin".into(),
            groups: vec!["system:masters".into()]
        }
    );
    handshake(&pki, "kubernetes", Some((chain, key))).unwrap();
}

#[test]
fn issued_client_certificates_and_csrs() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    let node = pki
        .issue_client_cert("system:node:worker-1", &["system:nodes"])
        .unwrap();
    let (chain, key) = pem_to_chain_and_key(&node.cert_pem, &node.key_pem);
    let user = identity_from_cert(&chain[0]).unwrap();
    assert_eq!(user.name, "system:node:worker-1");
    assert_eq!(user.groups, vec!["system:nodes".to_string()]);
    handshake(&pki, "kubernetes", Some((chain, key))).unwrap();
    assert!(matches!(
        pki.issue_client_cert("x", &["a", "b"]),
        Err(PkiError::InvalidSubject(_))
    ));

    // CSR from a kubelet: the server decides subject and usage, the key comes from the request.
    let kubelet_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut request = CertificateParams::new(vec!["worker-1".to_string()]).unwrap();
    request
        .distinguished_name
        .push(DnType::CommonName, "whatever-the-client-asks");
    let csr_pem = request
        .serialize_request(&kubelet_key)
        .unwrap()
        .pem()
        .unwrap();
    let mut sans = ServingIdentity::default();
    sans.add_name_or_ip("worker-1");
    sans.add_name_or_ip("10.0.0.9");
    let cert_pem = pki
        .sign_csr(
            &csr_pem,
            "system:node:worker-1",
            &["system:nodes"],
            CertUsage::ClientAndServer,
            &sans,
        )
        .unwrap();
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    assert_eq!(
        identity_from_cert(&der).unwrap().name,
        "system:node:worker-1"
    );
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        cert.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&kubelet_key).as_slice()
    );
    assert!(matches!(
        pki.sign_csr("garbage", "a", &[], CertUsage::Client, &sans),
        Err(PkiError::InvalidCsr(_))
    ));
}

#[test]
fn missing_ca_key_is_an_error_and_the_ca_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    load_or_create(dir.path(), &identity(&[])).unwrap();
    let ca_before = read(dir.path(), CA_CERT_FILE);
    fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
    let err = load_or_create(dir.path(), &identity(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("server-ca.key") && err.contains("missing"),
        "{err}"
    );
    assert_eq!(ca_before, read(dir.path(), CA_CERT_FILE));
    assert!(!dir.path().join(CA_KEY_FILE).exists());
}

#[test]
fn missing_ca_with_leaf_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    load_or_create(dir.path(), &identity(&[])).unwrap();
    fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
    fs::remove_file(dir.path().join(CA_CERT_FILE)).unwrap();
    let err = load_or_create(dir.path(), &identity(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("CA") && err.contains("missing"), "{err}");
    assert!(!dir.path().join(CA_CERT_FILE).exists());
}

#[test]
fn corrupt_ca_certificate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    load_or_create(dir.path(), &identity(&[])).unwrap();
    fs::write(dir.path().join(CA_CERT_FILE), "not a certificate").unwrap();
    let err = load_or_create(dir.path(), &identity(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("server-ca.crt"), "{err}");
    assert_eq!(read(dir.path(), CA_CERT_FILE), "not a certificate");
}

#[test]
fn mismatched_ca_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    load_or_create(dir.path(), &identity(&[])).unwrap();
    load_or_create(other.path(), &identity(&[])).unwrap();
    fs::copy(other.path().join(CA_KEY_FILE), dir.path().join(CA_KEY_FILE)).unwrap();
    let err = load_or_create(dir.path(), &identity(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn missing_leaf_files_are_issued_from_the_existing_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_create(dir.path(), &identity(&[])).unwrap();
    let admin_key = read(dir.path(), ADMIN_CLIENT_KEY_FILE);
    fs::remove_file(dir.path().join(SERVING_CERT_FILE)).unwrap();
    fs::remove_file(dir.path().join(SERVING_KEY_FILE)).unwrap();
    fs::remove_file(dir.path().join(ADMIN_CLIENT_CERT_FILE)).unwrap();
    let second = load_or_create(dir.path(), &identity(&[])).unwrap();
    assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
    assert_eq!(
        admin_key,
        read(dir.path(), ADMIN_CLIENT_KEY_FILE),
        "admin key reused"
    );
    assert_eq!(mode(dir.path(), SERVING_KEY_FILE), 0o600);
    handshake(&second, "kubernetes.default.svc", None).unwrap();
}

#[test]
fn leaf_signed_by_another_ca_is_reissued() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    load_or_create(dir.path(), &identity(&[])).unwrap();
    load_or_create(other.path(), &identity(&[])).unwrap();
    for file in [SERVING_CERT_FILE, SERVING_KEY_FILE] {
        fs::copy(other.path().join(file), dir.path().join(file)).unwrap();
    }
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    handshake(&pki, "localhost", None).unwrap();
}

#[test]
fn cluster_pki_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClusterPki>();
}

#[test]
fn kubelet_client_certificate_is_issued_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let pki = load_or_create(dir.path(), &identity(&[])).unwrap();
    assert_eq!(
        read(dir.path(), KUBELET_CLIENT_CERT_FILE),
        pki.kubelet_client().cert_pem
    );
    assert_eq!(mode(dir.path(), KUBELET_CLIENT_KEY_FILE), 0o600);
    let (chain, key) = pem_to_chain_and_key(
        &pki.kubelet_client().cert_pem,
        &pki.kubelet_client().key_pem,
    );
    let user = identity_from_cert(&chain[0]).unwrap();
    assert_eq!(user.name, KUBELET_CLIENT_COMMON_NAME);
    assert_eq!(user.groups, vec!["system:masters".to_string()]);
    handshake(&pki, "kubernetes", Some((chain, key))).unwrap();
    let again = load_or_create(dir.path(), &identity(&[])).unwrap();
    assert_eq!(
        again.kubelet_client().cert_pem,
        pki.kubelet_client().cert_pem
    );
}
