//! Subject alternative names of the API server's serving certificate.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The names and addresses a serving certificate is valid for.
///
/// Order does not matter and duplicates are ignored: two identities with the same sets of
/// names and addresses are [`ServingIdentity::same_names`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServingIdentity {
    /// DNS names (lower-cased), e.g. `kubernetes.default.svc`.
    pub dns_names: Vec<String>,
    /// IP addresses, e.g. `10.43.0.1`.
    pub ips: Vec<IpAddr>,
}

/// What the default serving identity of a k3rs server is built from.
#[derive(Clone, Debug)]
pub struct ServingIdentityInputs<'a> {
    /// The machine's host name (or `--node-name`); skipped when empty.
    pub host_name: &'a str,
    /// `--advertise-address`, `--node-ip` and any other addresses the server is reached at.
    pub node_ips: &'a [IpAddr],
    /// Every `--tls-san` entry, each an IP address or a DNS name.
    pub tls_sans: &'a [String],
    /// `--cluster-domain`, e.g. `cluster.local`.
    pub cluster_domain: &'a str,
    /// The first address of the service CIDR (the `kubernetes` service), e.g. `10.43.0.1`.
    pub api_service_ip: IpAddr,
}

impl ServingIdentity {
    /// The default SAN set of a k3rs API server, as k3s builds it: `localhost`, `127.0.0.1`,
    /// `::1`, the host name, `kubernetes`, `kubernetes.default`, `kubernetes.default.svc`,
    /// `kubernetes.default.svc.<cluster-domain>`, the `kubernetes` service IP, the node
    /// addresses and every `--tls-san`.
    pub fn cluster_default(inputs: &ServingIdentityInputs<'_>) -> Self {
        let mut identity = Self::default();
        identity.add_dns("localhost");
        identity.add_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        identity.add_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        identity.add_name_or_ip(inputs.host_name);
        for name in ["kubernetes", "kubernetes.default", "kubernetes.default.svc"] {
            identity.add_dns(name);
        }
        let domain = inputs.cluster_domain.trim().trim_matches('.');
        if !domain.is_empty() {
            identity.add_dns(&format!("kubernetes.default.svc.{domain}"));
        }
        identity.add_ip(inputs.api_service_ip);
        for ip in inputs.node_ips {
            identity.add_ip(*ip);
        }
        for san in inputs.tls_sans {
            identity.add_name_or_ip(san);
        }
        identity
    }

    /// Adds `value` as an IP address if it parses as one (brackets around IPv6 allowed),
    /// else as a DNS name. Empty values are ignored.
    pub fn add_name_or_ip(&mut self, value: &str) {
        let value = value.trim();
        let unbracketed = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        match unbracketed.parse::<IpAddr>() {
            Ok(ip) => self.add_ip(ip),
            Err(_) => self.add_dns(value),
        }
    }

    /// Adds a DNS name (lower-cased, trailing dot removed) unless empty or already present.
    pub fn add_dns(&mut self, name: &str) {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !name.is_empty() && !self.dns_names.contains(&name) {
            self.dns_names.push(name);
        }
    }

    /// Adds an IP address unless already present.
    pub fn add_ip(&mut self, ip: IpAddr) {
        if !self.ips.contains(&ip) {
            self.ips.push(ip);
        }
    }

    /// Whether both identities name exactly the same DNS names and addresses.
    pub fn same_names(&self, other: &Self) -> bool {
        self.name_sets() == other.name_sets()
    }

    fn name_sets(&self) -> (BTreeSet<String>, BTreeSet<IpAddr>) {
        (
            self.dns_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            self.ips.iter().copied().collect(),
        )
    }
}

#[cfg(test)]
mod tests;
