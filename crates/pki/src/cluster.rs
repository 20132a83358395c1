//! The cluster CA and the certificates it issues: the API server's serving certificate, the
//! admin client certificate, and later node certificates.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::files::{read_optional, write_file_atomic};
use crate::{PkiError, Result, ServingIdentity};

/// The cluster CA certificate (PEM), k3s name.
pub const CA_CERT_FILE: &str = "server-ca.crt";
/// The cluster CA private key (PEM, mode 0600).
pub const CA_KEY_FILE: &str = "server-ca.key";
/// The API server's serving certificate (PEM).
pub const SERVING_CERT_FILE: &str = "serving-kube-apiserver.crt";
/// The API server's serving key (PEM, mode 0600).
pub const SERVING_KEY_FILE: &str = "serving-kube-apiserver.key";
/// The admin client certificate (`CN=system:admin, O=system:masters`).
pub const ADMIN_CLIENT_CERT_FILE: &str = "client-admin.crt";
/// The admin client key (PEM, mode 0600).
pub const ADMIN_CLIENT_KEY_FILE: &str = "client-admin.key";
/// The API server's client certificate for calling kubelets
/// (`CN=kube-apiserver-kubelet-client, O=system:masters`), k3s name.
pub const KUBELET_CLIENT_CERT_FILE: &str = "client-kube-apiserver.crt";
/// The key of [`KUBELET_CLIENT_CERT_FILE`] (PEM, mode 0600).
pub const KUBELET_CLIENT_KEY_FILE: &str = "client-kube-apiserver.key";

/// Mode of certificate files.
const CERT_MODE: u32 = 0o644;
/// Mode of private key files.
const KEY_MODE: u32 = 0o600;
/// Validity of the cluster CA.
const CA_VALIDITY: Duration = Duration::days(3650);
/// Validity of leaf certificates.
const LEAF_VALIDITY: Duration = Duration::days(365);
/// Leaf certificates closer than this to expiry are re-issued at start (as k3s does).
const LEAF_RENEW_BEFORE: Duration = Duration::days(90);
/// Backdating of `notBefore`, tolerating clocks of other nodes that are slightly behind.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Common name of the admin client certificate.
const ADMIN_COMMON_NAME: &str = "system:admin";
/// Group (organization) of the admin client certificate.
const ADMIN_GROUP: &str = "system:masters";
/// Common name of the API server's serving certificate.
const SERVING_COMMON_NAME: &str = "kube-apiserver";
/// Common name of the API server's client certificate towards kubelets; kubelets accept only it.
pub const KUBELET_CLIENT_COMMON_NAME: &str = "kube-apiserver-kubelet-client";

/// Which extended key usage a leaf certificate gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertUsage {
    /// TLS client authentication (users, kubelets talking to the API server).
    Client,
    /// TLS server authentication (API server, kubelet API).
    Server,
    /// Both.
    ClientAndServer,
}

impl CertUsage {
    fn extended_key_usages(self) -> Vec<ExtendedKeyUsagePurpose> {
        match self {
            Self::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Self::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Self::ClientAndServer => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        }
    }
}

/// A certificate issued by the cluster CA together with its new private key, both PEM.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The cluster CA with the certificates the server needs, loaded from (or just written to)
/// the TLS directory.
pub struct ClusterPki {
    tls_dir: PathBuf,
    ca_cert_pem: String,
    ca_cert_der: CertificateDer<'static>,
    ca_issuer: Issuer<'static, KeyPair>,
    serving_cert_pem: String,
    serving_cert_der: CertificateDer<'static>,
    serving_key_pkcs8: Vec<u8>,
    admin: IssuedCert,
    kubelet_client: IssuedCert,
}

impl fmt::Debug for ClusterPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterPki")
            .field("tls_dir", &self.tls_dir)
            .finish_non_exhaustive()
    }
}

/// Loads the cluster PKI from `tls_dir`, creating what is missing.
///
/// * First start (no CA files): generates the cluster CA (ECDSA P-256, 10 years), the API
///   server's serving certificate for `sans`, the admin client certificate and the API
///   server's client certificate for kubelets.
/// * Later starts: reuses the CA and all keys. The serving certificate is re-issued (same key,
///   same CA) when its names differ from `sans`; leaf certificates are also re-issued when
///   missing, not signed by the CA, or within 90 days of expiry.
/// * A CA certificate without its key (or the reverse), an unreadable or corrupt file, or leaf
///   files without any CA are errors: the CA is never replaced silently.
pub fn load_or_create(tls_dir: &Path, sans: &ServingIdentity) -> Result<ClusterPki> {
    std::fs::create_dir_all(tls_dir).map_err(|source| PkiError::Io {
        op: "create directory",
        path: tls_dir.to_path_buf(),
        source,
    })?;
    let ca = load_or_create_ca(tls_dir)?;
    let serving = load_or_issue_leaf(
        tls_dir,
        &ca,
        &LeafSpec {
            cert_file: SERVING_CERT_FILE,
            key_file: SERVING_KEY_FILE,
            common_name: SERVING_COMMON_NAME,
            groups: &[],
            usage: CertUsage::Server,
            sans: Some(sans),
        },
    )?;
    let admin = load_or_issue_leaf(
        tls_dir,
        &ca,
        &LeafSpec {
            cert_file: ADMIN_CLIENT_CERT_FILE,
            key_file: ADMIN_CLIENT_KEY_FILE,
            common_name: ADMIN_COMMON_NAME,
            groups: &[ADMIN_GROUP],
            usage: CertUsage::Client,
            sans: None,
        },
    )?;
    let kubelet_client = load_or_issue_leaf(
        tls_dir,
        &ca,
        &LeafSpec {
            cert_file: KUBELET_CLIENT_CERT_FILE,
            key_file: KUBELET_CLIENT_KEY_FILE,
            common_name: KUBELET_CLIENT_COMMON_NAME,
            groups: &[ADMIN_GROUP],
            usage: CertUsage::Client,
            sans: None,
        },
    )?;
    Ok(ClusterPki {
        tls_dir: tls_dir.to_path_buf(),
        ca_cert_pem: ca.cert_pem,
        ca_cert_der: ca.cert_der,
        ca_issuer: ca.issuer,
        serving_cert_pem: serving.cert_pem,
        serving_cert_der: serving.cert_der,
        serving_key_pkcs8: serving.key.serialize_der(),
        admin: IssuedCert {
            cert_pem: admin.cert_pem,
            key_pem: admin.key.serialize_pem(),
        },
        kubelet_client: IssuedCert {
            cert_pem: kubelet_client.cert_pem,
            key_pem: kubelet_client.key.serialize_pem(),
        },
    })
}

impl ClusterPki {
    /// The directory the PKI files live in.
    pub fn tls_dir(&self) -> &Path {
        &self.tls_dir
    }

    /// The CA certificate exactly as stored in `server-ca.crt` (the token's hash covers these bytes).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The CA certificate, DER.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert_der
    }

    /// A root store holding only the cluster CA, for verifying clients or servers of this cluster.
    pub fn ca_root_store(&self) -> Result<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_cert_der.clone())
            .map_err(|err| PkiError::InvalidFile {
                path: self.tls_dir.join(CA_CERT_FILE),
                reason: format!("not usable as a trust anchor: {err}"),
            })?;
        Ok(roots)
    }

    /// The API server's certificate chain for rustls (the serving certificate).
    pub fn serving_cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.serving_cert_der.clone()]
    }

    /// The API server's serving certificate, PEM.
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving_cert_pem
    }

    /// The API server's private key for rustls.
    pub fn serving_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.serving_key_pkcs8.clone()))
    }

    /// The admin client certificate (`CN=system:admin, O=system:masters`), PEM.
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin.cert_pem
    }

    /// The admin client key, PEM.
    pub fn admin_key_pem(&self) -> &str {
        &self.admin.key_pem
    }

    /// The API server's client certificate for the kubelet API
    /// (`CN=kube-apiserver-kubelet-client, O=system:masters`, files
    /// [`KUBELET_CLIENT_CERT_FILE`]/[`KUBELET_CLIENT_KEY_FILE`]).
    pub fn kubelet_client(&self) -> &IssuedCert {
        &self.kubelet_client
    }

    /// Issues a client certificate (1 year, clientAuth) for user `common_name` in `groups`,
    /// with a new ECDSA P-256 key. At most one group is supported (see [`ClusterPki::issue_cert`]).
    pub fn issue_client_cert(&self, common_name: &str, groups: &[&str]) -> Result<IssuedCert> {
        self.issue_cert(
            common_name,
            groups,
            CertUsage::Client,
            &ServingIdentity::default(),
        )
    }

    /// Issues a certificate (1 year) with a new ECDSA P-256 key.
    ///
    /// `groups` become the subject's organization; rcgen 0.14 can encode only one
    /// organization attribute, so more than one group is rejected.
    pub fn issue_cert(
        &self,
        common_name: &str,
        groups: &[&str],
        usage: CertUsage,
        sans: &ServingIdentity,
    ) -> Result<IssuedCert> {
        let key = new_key()?;
        let params = leaf_params(common_name, groups, usage, Some(sans))?;
        let cert = params.signed_by(&key, &self.ca_issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs a PEM certificate signing request (1 year). The subject, usage and names are
    /// decided by the caller; only the public key is taken from the request, whose signature
    /// is verified. Returns the certificate, PEM.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        common_name: &str,
        groups: &[&str],
        usage: CertUsage,
        sans: &ServingIdentity,
    ) -> Result<String> {
        let mut request = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|err| PkiError::InvalidCsr(err.to_string()))?;
        request.params = leaf_params(common_name, groups, usage, Some(sans))?;
        Ok(request.signed_by(&self.ca_issuer)?.pem())
    }
}

/// The loaded or new CA.
struct LoadedCa {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn load_or_create_ca(tls_dir: &Path) -> Result<LoadedCa> {
    let cert_path = tls_dir.join(CA_CERT_FILE);
    let key_path = tls_dir.join(CA_KEY_FILE);
    match (read_optional(&cert_path)?, read_optional(&key_path)?) {
        (Some(cert_bytes), Some(key_bytes)) => {
            load_ca(&cert_path, &cert_bytes, &key_path, &key_bytes)
        }
        (None, None) => {
            for leaf in [
                SERVING_CERT_FILE,
                SERVING_KEY_FILE,
                ADMIN_CLIENT_CERT_FILE,
                ADMIN_CLIENT_KEY_FILE,
                KUBELET_CLIENT_CERT_FILE,
                KUBELET_CLIENT_KEY_FILE,
            ] {
                let leaf_path = tls_dir.join(leaf);
                if leaf_path.exists() {
                    return Err(PkiError::InvalidFile {
                        path: leaf_path,
                        reason: format!(
                            "exists but the cluster CA ({CA_CERT_FILE}, {CA_KEY_FILE}) is missing; restore the CA \
                             files, or remove {} to create a new cluster CA",
                            tls_dir.display()
                        ),
                    });
                }
            }
            create_ca(&cert_path, &key_path)
        }
        (Some(_), None) => Err(PkiError::InvalidFile {
            path: key_path,
            reason: format!(
                "missing, but {CA_CERT_FILE} exists; restore the CA key (the CA is never replaced silently)"
            ),
        }),
        (None, Some(_)) => Err(PkiError::InvalidFile {
            path: cert_path,
            reason: format!(
                "missing, but {CA_KEY_FILE} exists; restore the CA certificate (the CA is never replaced silently)"
            ),
        }),
    }
}

fn create_ca(cert_path: &Path, key_path: &Path) -> Result<LoadedCa> {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        format!("k3rs-server-ca@{}", now.unix_timestamp()),
    );
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial()?);
    let key = new_key()?;
    let cert = params.self_signed(&key)?;
    let cert_pem = cert.pem();
    // Key first: a crash between the two writes leaves a key without certificate, which the
    // next start reports instead of silently creating another CA.
    write_file_atomic(key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
    write_file_atomic(cert_path, cert_pem.as_bytes(), CERT_MODE)?;
    tracing::info!(path = %cert_path.display(), "created cluster CA");
    let cert_der = cert.der().clone();
    Ok(LoadedCa {
        cert_pem,
        cert_der,
        issuer: Issuer::new(params, key),
    })
}

fn load_ca(
    cert_path: &Path,
    cert_bytes: &[u8],
    key_path: &Path,
    key_bytes: &[u8],
) -> Result<LoadedCa> {
    let cert_der = parse_cert_pem(cert_path, cert_bytes)?;
    let key = parse_key_pem(key_path, key_bytes)?;
    let cert = parse_x509(cert_path, &cert_der)?;
    if !cert.is_ca() {
        return Err(invalid(
            cert_path,
            "is not a CA certificate (basicConstraints CA:TRUE missing)",
        ));
    }
    if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice() {
        return Err(invalid(
            key_path,
            &format!("does not match the certificate in {CA_CERT_FILE}"),
        ));
    }
    if cert.validity().not_after.timestamp() < OffsetDateTime::now_utc().unix_timestamp() {
        tracing::warn!(path = %cert_path.display(), "the cluster CA certificate has expired");
    }
    let issuer = Issuer::from_ca_cert_der(&cert_der, key)
        .map_err(|err| invalid(cert_path, &format!("cannot be used as issuer: {err}")))?;
    let cert_pem = String::from_utf8(cert_bytes.to_vec())
        .map_err(|_| invalid(cert_path, "is not UTF-8 PEM"))?;
    Ok(LoadedCa {
        cert_pem,
        cert_der,
        issuer,
    })
}

/// What a leaf certificate in the TLS directory must look like.
struct LeafSpec<'a> {
    cert_file: &'a str,
    key_file: &'a str,
    common_name: &'a str,
    groups: &'a [&'a str],
    usage: CertUsage,
    /// Names to check and issue; `None` for client certificates.
    sans: Option<&'a ServingIdentity>,
}

/// A leaf certificate loaded from or written to the TLS directory.
struct LoadedLeaf {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
}

fn load_or_issue_leaf(tls_dir: &Path, ca: &LoadedCa, spec: &LeafSpec<'_>) -> Result<LoadedLeaf> {
    let cert_path = tls_dir.join(spec.cert_file);
    let key_path = tls_dir.join(spec.key_file);
    let (key, key_is_new) = match read_optional(&key_path)? {
        Some(bytes) => (parse_key_pem(&key_path, &bytes)?, false),
        None => (new_key()?, true),
    };
    let existing = match read_optional(&cert_path)? {
        Some(bytes) => {
            let der = parse_cert_pem(&cert_path, &bytes)?;
            let pem =
                String::from_utf8(bytes).map_err(|_| invalid(&cert_path, "is not UTF-8 PEM"))?;
            Some((pem, der))
        }
        None => None,
    };
    let reissue_reason = match &existing {
        None => Some("missing".to_string()),
        Some(_) if key_is_new => Some("its key was missing".to_string()),
        Some((_, der)) => leaf_problem(&cert_path, der, &ca.cert_der, &key, spec)?,
    };
    let Some(reason) = reissue_reason else {
        if let Some((cert_pem, cert_der)) = existing {
            return Ok(LoadedLeaf {
                cert_pem,
                cert_der,
                key,
            });
        }
        return Err(invalid(
            &cert_path,
            "internal error: no certificate and no reason to issue one",
        ));
    };
    tracing::info!(path = %cert_path.display(), %reason, "issuing certificate");
    let params = leaf_params(spec.common_name, spec.groups, spec.usage, spec.sans)?;
    let cert = params.signed_by(&key, &ca.issuer)?;
    if key_is_new {
        write_file_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
    }
    let cert_pem = cert.pem();
    write_file_atomic(&cert_path, cert_pem.as_bytes(), CERT_MODE)?;
    Ok(LoadedLeaf {
        cert_pem,
        cert_der: cert.der().clone(),
        key,
    })
}

/// Why an existing leaf certificate must be re-issued, if it must.
fn leaf_problem(
    cert_path: &Path,
    cert_der: &CertificateDer<'_>,
    ca_der: &CertificateDer<'_>,
    key: &KeyPair,
    spec: &LeafSpec<'_>,
) -> Result<Option<String>> {
    let cert = parse_x509(cert_path, cert_der)?;
    let ca = parse_x509(cert_path, ca_der)?;
    if cert.verify_signature(Some(ca.public_key())).is_err()
        || cert.issuer().as_raw() != ca.subject().as_raw()
    {
        return Ok(Some("not signed by the cluster CA".into()));
    }
    if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(key).as_slice() {
        return Ok(Some("does not match its key".into()));
    }
    let now = OffsetDateTime::now_utc();
    if cert.validity().not_before.timestamp() > now.unix_timestamp()
        || cert.validity().not_after.timestamp() < (now + LEAF_RENEW_BEFORE).unix_timestamp()
    {
        return Ok(Some(
            "expired, expiring within 90 days, or not yet valid".into(),
        ));
    }
    let names = subject_names(&cert);
    let wanted: (Option<String>, BTreeSet<String>) = (
        Some(spec.common_name.to_string()),
        spec.groups.iter().map(|g| g.to_string()).collect(),
    );
    if names != wanted {
        return Ok(Some("subject differs".into()));
    }
    if let Some(sans) = spec.sans
        && !sans.same_names(&cert_sans(cert_path, &cert)?)
    {
        return Ok(Some("subject alternative names changed".into()));
    }
    Ok(None)
}

/// Common name and organizations of a certificate's subject.
pub(crate) fn subject_names(cert: &X509Certificate<'_>) -> (Option<String>, BTreeSet<String>) {
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let orgs = cert
        .subject()
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_string)
        .collect();
    (common_name, orgs)
}

/// The DNS names and IP addresses of a certificate.
pub(crate) fn cert_sans(cert_path: &Path, cert: &X509Certificate<'_>) -> Result<ServingIdentity> {
    let mut identity = ServingIdentity::default();
    let extension = cert
        .subject_alternative_name()
        .map_err(|err| invalid(cert_path, &format!("bad subjectAltName extension: {err}")))?;
    for name in extension
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
    {
        match name {
            GeneralName::DNSName(dns) => identity.add_dns(dns),
            GeneralName::IPAddress(bytes) => {
                if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                    identity.add_ip(IpAddr::from(octets));
                } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                    identity.add_ip(IpAddr::from(octets));
                }
            }
            _ => {}
        }
    }
    Ok(identity)
}

/// Parameters of a leaf certificate valid from now for [`LEAF_VALIDITY`].
fn leaf_params(
    common_name: &str,
    groups: &[&str],
    usage: CertUsage,
    sans: Option<&ServingIdentity>,
) -> Result<CertificateParams> {
    if groups.len() > 1 {
        return Err(PkiError::InvalidSubject(format!(
            "at most one group (organization) per certificate is supported, got {groups:?}"
        )));
    }
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    for group in groups {
        name.push(DnType::OrganizationName, *group);
    }
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = usage.extended_key_usages();
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + LEAF_VALIDITY;
    params.serial_number = Some(random_serial()?);
    if let Some(sans) = sans {
        for dns in &sans.dns_names {
            let ia5 = dns.clone().try_into().map_err(|err| {
                PkiError::InvalidSubject(format!(
                    "subject alternative name {dns:?} is not a valid DNS name: {err}"
                ))
            })?;
            params.subject_alt_names.push(SanType::DnsName(ia5));
        }
        params
            .subject_alt_names
            .extend(sans.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    }
    Ok(params)
}

/// A new ECDSA P-256 key.
pub(crate) fn new_key() -> Result<KeyPair> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// A random positive 16-byte serial number.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

pub(crate) fn invalid(path: &Path, reason: &str) -> PkiError {
    PkiError::InvalidFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

pub(crate) fn parse_cert_pem(path: &Path, bytes: &[u8]) -> Result<CertificateDer<'static>> {
    CertificateDer::from_pem_slice(bytes)
        .map_err(|err| invalid(path, &format!("not a PEM certificate: {err}")))
}

pub(crate) fn parse_key_pem(path: &Path, bytes: &[u8]) -> Result<KeyPair> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid(path, "is not UTF-8 PEM"))?;
    KeyPair::from_pem(text)
        .map_err(|err| invalid(path, &format!("not a usable PEM private key: {err}")))
}

pub(crate) fn parse_x509<'a>(
    path: &Path,
    der: &'a CertificateDer<'_>,
) -> Result<X509Certificate<'a>> {
    x509_parser::parse_x509_certificate(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|err| invalid(path, &format!("not a valid X.509 certificate: {err}")))
}

#[cfg(test)]
mod tests;
