//! Authorization: may this user do this? Every authenticated user may do everything until
//! RBAC arrives; anonymous callers reach only the health and version endpoints.

use crate::authn::Caller;

/// Paths anonymous callers may read.
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/cacerts"];

/// Whether the caller may make a request on `path`.
pub fn allowed(caller: &Caller, path: &str) -> bool {
    match caller {
        Caller::User(_) => true,
        Caller::Anonymous => PUBLIC_PATHS
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'))),
        Caller::InvalidToken => false,
    }
}
