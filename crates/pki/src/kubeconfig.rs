//! The admin kubeconfig, in the layout k3s writes (cluster, context and user all `default`).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Result;
use crate::files::write_file_atomic;

/// A kubeconfig for `server_url` that trusts `ca_pem` and authenticates with the client
/// certificate and key (all PEM, embedded base64 as `*-data`).
pub fn kubeconfig_yaml(
    server_url: &str,
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> String {
    format!(
        "apiVersion: v1\n\
         clusters:\n\
         - cluster:\n    \
             certificate-authority-data: {ca}\n    \
             server: {server}\n  \
           name: default\n\
         contexts:\n\
         - context:\n    \
             cluster: default\n    \
             user: default\n  \
           name: default\n\
         current-context: default\n\
         kind: Config\n\
         preferences: {{}}\n\
         users:\n\
         - name: default\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n",
        ca = STANDARD.encode(ca_pem),
        server = yaml_string(server_url),
        cert = STANDARD.encode(client_cert_pem),
        key = STANDARD.encode(client_key_pem),
    )
}

/// Writes a kubeconfig atomically with exactly `mode` (e.g. `0o600`), creating parent
/// directories.
pub fn write_kubeconfig(path: &Path, contents: &str, mode: u32) -> Result<()> {
    write_file_atomic(path, contents.as_bytes(), mode)
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
