//! The Kubernetes user a client certificate authenticates as.

/// A user as Kubernetes' x509 authenticator sees it: the subject's common name is the user
/// name, every organization is a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (subject CN), e.g. `system:admin` or `system:node:worker-1`.
    pub name: String,
    /// The groups (every subject O), e.g. `system:masters`.
    pub groups: Vec<String>,
}

/// The user a DER client certificate names, or `None` when it cannot be parsed or has no
/// (or an empty) common name. The certificate's chain must already have been verified (by
/// the TLS layer); this only reads the subject.
pub fn identity_from_cert(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    if name.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|org| org.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(UserInfo { name, groups })
}
