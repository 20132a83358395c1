//! Node certificates from the node's side: the key and certificate signing request a node
//! makes (its private key never leaves it), and what it reads back from a certificate to
//! decide whether it can keep using it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

use crate::cluster::{
    cert_sans, invalid, new_key, parse_cert_pem, parse_key_pem, parse_x509, subject_names,
};
use crate::{Result, ServingIdentity};

/// A new private key and a certificate signing request for it, both PEM.
#[derive(Clone)]
pub struct KeyAndCsr {
    /// The private key (PKCS#8), PEM; stays on the node.
    pub key_pem: String,
    /// The certificate signing request, PEM; goes to the server.
    pub csr_pem: String,
}

impl fmt::Debug for KeyAndCsr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyAndCsr")
            .field("key_pem", &"<redacted>")
            .field("csr_pem", &self.csr_pem)
            .finish()
    }
}

/// A new ECDSA P-256 key and a CSR naming `common_name`. The server decides the subject,
/// names and usage of the certificate; the request only carries the public key.
pub fn new_key_and_csr(common_name: &str) -> Result<KeyAndCsr> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    let csr = params.serialize_request(&key)?;
    Ok(KeyAndCsr {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem()?,
    })
}

/// What a node needs to know about one of its certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject's common name (the Kubernetes user name).
    pub common_name: Option<String>,
    /// The subject's organizations (the Kubernetes groups).
    pub groups: BTreeSet<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// DNS names and IP addresses (subject alternative names).
    pub names: ServingIdentity,
    /// Whether the certificate carries the clientAuth extended key usage.
    pub client_auth: bool,
    /// Whether the certificate carries the serverAuth extended key usage.
    pub server_auth: bool,
    /// Whether `ca_pem` signed it.
    pub signed_by_ca: bool,
    /// The certificate's SubjectPublicKeyInfo, DER.
    pub public_key: Vec<u8>,
}

/// Reads the certificate in `cert_pem` (first PEM block; `path` names it in errors) and checks
/// its signature against the CA in `ca_pem`.
pub fn inspect_cert(path: &Path, cert_pem: &str, ca_pem: &str) -> Result<CertSummary> {
    let cert_der = parse_cert_pem(path, cert_pem.as_bytes())?;
    let ca_der = parse_cert_pem(path, ca_pem.as_bytes())?;
    let cert = parse_x509(path, &cert_der)?;
    let ca = parse_x509(path, &ca_der)?;
    let signed_by_ca = cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok();
    let (common_name, groups) = subject_names(&cert);
    let (mut client_auth, mut server_auth) = (false, false);
    for extension in cert.extensions() {
        if let ParsedExtension::ExtendedKeyUsage(usage) = extension.parsed_extension() {
            client_auth |= usage.client_auth;
            server_auth |= usage.server_auth;
        }
    }
    let validity = cert.validity();
    let timestamp = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map_err(|err| invalid(path, &format!("validity out of range: {err}")))
    };
    Ok(CertSummary {
        common_name,
        groups,
        not_before: timestamp(validity.not_before.timestamp())?,
        not_after: timestamp(validity.not_after.timestamp())?,
        names: cert_sans(path, &cert)?,
        client_auth,
        server_auth,
        signed_by_ca,
        public_key: cert.public_key().raw.to_vec(),
    })
}

/// The DER bytes of the first certificate in `cert_pem` (`path` names it in errors).
pub fn cert_der(path: &Path, cert_pem: &str) -> Result<Vec<u8>> {
    Ok(parse_cert_pem(path, cert_pem.as_bytes())?.to_vec())
}

/// The SubjectPublicKeyInfo (DER) of the PEM private key in `key_pem` (`path` names it in
/// errors), to compare with [`CertSummary::public_key`].
pub fn public_key_of(path: &Path, key_pem: &str) -> Result<Vec<u8>> {
    let key = parse_key_pem(path, key_pem.as_bytes())?;
    Ok(rcgen::PublicKeyData::subject_public_key_info(&key))
}

#[cfg(test)]
mod tests;
