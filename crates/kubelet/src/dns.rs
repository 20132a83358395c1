//! A pod's name resolution as upstream's kubelet sets it up: the DNS settings of its sandbox
//! by `dnsPolicy` and `dnsConfig` (`pkg/kubelet/network/dns`), its hostname, and the content
//! of its managed `/etc/hosts`. Pure functions; the caller reads the host's files.

use k8s_openapi::api::core::v1::Pod;

/// Nameservers, search domains and options: a resolv.conf's content, and the sandbox's
/// DNS settings (CRI `DNSConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsConfig {
    /// `nameserver` lines, in order.
    pub servers: Vec<String>,
    /// The `search` domains.
    pub searches: Vec<String>,
    /// The `options`, as `name` or `name:value`.
    pub options: Vec<String>,
}

/// Parse a resolv.conf as upstream does: `nameserver` lines add up, the last `search` line
/// wins (trailing dots dropped, `.` ignored), `options` merge with later values winning.
/// Returns the settings and a message per malformed line.
pub fn parse_resolv_conf(content: &str) -> (DnsConfig, Vec<String>) {
    let mut config = DnsConfig::default();
    let mut errors = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => match fields.next() {
                Some(server) => config.servers.push(server.to_string()),
                None => errors.push("nameserver list is empty".to_string()),
            },
            Some("search") => {
                config.searches = fields
                    .filter(|s| *s != ".")
                    .map(|s| s.trim_end_matches('.').to_string())
                    .collect();
            }
            Some("options") => {
                config.options = merge_options(
                    &config.options,
                    fields.map(|f| match f.split_once(':') {
                        Some((n, v)) => (n.to_string(), v.to_string()),
                        None => (f.to_string(), String::new()),
                    }),
                );
            }
            _ => {}
        }
    }
    (config, errors)
}

/// Options merged by name, later ones replacing the value of earlier ones in place.
fn merge_options(
    existing: &[String],
    added: impl Iterator<Item = (String, String)>,
) -> Vec<String> {
    let mut merged: Vec<(String, String)> = existing
        .iter()
        .map(|o| match o.split_once(':') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect();
    for (name, value) in added {
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => merged.push((name, value)),
        }
    }
    merged
        .into_iter()
        .map(|(n, v)| if v.is_empty() { n } else { format!("{n}:{v}") })
        .collect()
}

/// The node's DNS facts: `--cluster-dns`, `--cluster-domain` and its IPs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterDns {
    /// The cluster DNS servers (`--cluster-dns`); empty when not configured.
    pub servers: Vec<String>,
    /// The cluster domain (`--cluster-domain`, default `cluster.local`).
    pub domain: String,
    /// The node's IPs (for the localhost nameserver when the host has no resolv.conf).
    pub node_ips: Vec<String>,
}

/// A message for a Warning Event on the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsWarning {
    /// The Event reason (`DNSConfigForming`, `MissingClusterDNS`).
    pub reason: &'static str,
    /// The Event message.
    pub message: String,
}

/// A pod's sandbox DNS settings and the warnings to report about them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodDns {
    /// The settings.
    pub config: DnsConfig,
    /// Warning Events for the pod.
    pub warnings: Vec<DnsWarning>,
}

/// Why a pod's DNS or hostname cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// A dnsPolicy the API does not define.
    #[error("invalid DNSPolicy={0}")]
    InvalidPolicy(String),
    /// setHostnameAsFQDN with a name longer than the kernel allows.
    #[error(
        "failed to construct FQDN from pod hostname and cluster domain, FQDN {0} is too long (64 characters is the max, {1} characters requested)"
    )]
    FqdnTooLong(String, usize),
    /// A hostname that is empty after truncation.
    #[error("hostname for pod {0:?} was invalid: {1:?}")]
    InvalidHostname(String, String),
}

/// The API's limits on the applied settings.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH_PATHS: usize = 32;
const MAX_SEARCH_CHARS: usize = 2048;
/// Longer search domains make some resolvers (glibc 2.28) abort.
const MAX_SEARCH_DOMAIN_LEN: usize = 253;

/// The Event reason for settings cut to the limits.
pub const DNS_CONFIG_FORMING: &str = "DNSConfigForming";
/// The Event reason for ClusterFirst without cluster DNS servers.
pub const MISSING_CLUSTER_DNS: &str = "MissingClusterDNS";

/// The sandbox DNS settings of `pod` (upstream `GetPodDNS`). `host` is the node's parsed
/// resolv.conf, or `None` when the node has none configured (then the pod resolves through
/// localhost). ClusterFirst on a hostNetwork pod means Default, as upstream;
/// ClusterFirst without cluster DNS servers falls back to Default with a warning.
pub fn pod_dns(
    pod: &Pod,
    cluster: &ClusterDns,
    host: Option<&DnsConfig>,
) -> Result<PodDns, DnsError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = spec.host_network == Some(true);
    let mut warnings = Vec::new();
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let cluster_first = match policy {
        "None" => None,
        "ClusterFirstWithHostNet" => Some(true),
        "ClusterFirst" => Some(!host_network),
        "Default" => Some(false),
        other => return Err(DnsError::InvalidPolicy(other.to_string())),
    };
    let mut config = match cluster_first {
        None => DnsConfig::default(),
        Some(true) if !cluster.servers.is_empty() => {
            let host_searches = host.map(|h| h.searches.clone()).unwrap_or_default();
            DnsConfig {
                servers: cluster.servers.clone(),
                searches: cluster_searches(pod, &cluster.domain, host_searches),
                options: vec!["ndots:5".to_string()],
            }
        }
        Some(wanted_cluster) => {
            if wanted_cluster {
                warnings.push(DnsWarning {
                    reason: MISSING_CLUSTER_DNS,
                    message: format!(
                        "pod: {:?}. kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.",
                        pod_key(pod)
                    ),
                });
            }
            host_config(host, &cluster.node_ips)
        }
    };
    if let Some(extra) = &spec.dns_config {
        config.servers = dedup(
            config
                .servers
                .into_iter()
                .chain(extra.nameservers.clone().into_iter().flatten()),
        );
        config.searches = dedup(
            config
                .searches
                .into_iter()
                .chain(extra.searches.clone().into_iter().flatten()),
        );
        let added = extra.options.iter().flatten().map(|o| {
            (
                o.name.clone().unwrap_or_default(),
                o.value.clone().unwrap_or_default(),
            )
        });
        config.options = merge_options(&config.options, added);
    }
    fit_limits(&mut config, &mut warnings);
    Ok(PodDns { config, warnings })
}

/// `namespace/name (uid)`, as upstream's `format.Pod`.
fn pod_key(pod: &Pod) -> String {
    let m = &pod.metadata;
    format!(
        "{}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

/// The host's settings, or localhost with search `.` when the node has no resolv.conf.
fn host_config(host: Option<&DnsConfig>, node_ips: &[String]) -> DnsConfig {
    if let Some(host) = host {
        return host.clone();
    }
    let mut servers: Vec<String> = node_ips
        .iter()
        .map(|ip| if ip.contains(':') { "::1" } else { "127.0.0.1" }.to_string())
        .collect();
    if servers.is_empty() {
        servers.push("127.0.0.1".to_string());
    }
    DnsConfig {
        servers,
        searches: vec![".".to_string()],
        options: Vec::new(),
    }
}

/// `<ns>.svc.<domain> svc.<domain> <domain>` then the host's search domains, without
/// repeats; only the host's when no cluster domain is set.
fn cluster_searches(pod: &Pod, domain: &str, host: Vec<String>) -> Vec<String> {
    if domain.is_empty() {
        return host;
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let cluster = [
        format!("{ns}.svc.{domain}"),
        format!("svc.{domain}"),
        domain.to_string(),
    ];
    dedup(cluster.into_iter().chain(host))
}

/// The items in order, each once.
fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Cut servers and search domains to the API's limits, as upstream
/// `formDNSConfigFitsLimits`, with a warning when something was cut.
fn fit_limits(config: &mut DnsConfig, warnings: &mut Vec<DnsWarning>) {
    if config.servers.len() > MAX_NAMESERVERS {
        config.servers.truncate(MAX_NAMESERVERS);
        warnings.push(DnsWarning {
            reason: DNS_CONFIG_FORMING,
            message: format!(
                "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
                config.servers.join(" ")
            ),
        });
    }
    let mut exceeded = config.searches.len() > MAX_SEARCH_PATHS;
    config.searches.truncate(MAX_SEARCH_PATHS);
    let before = config.searches.len();
    config.searches.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_LEN);
    exceeded |= config.searches.len() != before;
    // Drop trailing domains until the search line fits.
    while config.searches.join(" ").len() > MAX_SEARCH_CHARS {
        config.searches.pop();
        exceeded = true;
    }
    if exceeded {
        warnings.push(DnsWarning {
            reason: DNS_CONFIG_FORMING,
            message: format!(
                "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
                config.searches.join(" ")
            ),
        });
    }
}

/// The hostname limit of a pod (a DNS label).
const MAX_HOSTNAME_LEN: usize = 63;
/// The kernel's nodename field holds 64 characters.
const MAX_FQDN_LEN: usize = 64;

/// A pod's hostname and, with a subdomain, its domain
/// (`<subdomain>.<namespace>.svc.<cluster-domain>`), as upstream
/// `GeneratePodHostNameAndDomain`: `spec.hostname` or else the pod name, cut to 63
/// characters without a trailing `-` or `.`.
pub fn pod_hostname(pod: &Pod, cluster_domain: &str) -> Result<(String, Option<String>), DnsError> {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let hostname = spec
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| name.clone());
    let hostname = if hostname.len() > MAX_HOSTNAME_LEN {
        let cut: String = hostname.chars().take(MAX_HOSTNAME_LEN).collect();
        let cut = cut.trim_end_matches(['-', '.']).to_string();
        if cut.is_empty() {
            return Err(DnsError::InvalidHostname(name, hostname));
        }
        cut
    } else {
        hostname
    };
    let domain = spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())
        .map(|sub| {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            format!("{sub}.{ns}.svc.{cluster_domain}")
        });
    Ok((hostname, domain))
}

/// The hostname the sandbox's kernel gets: the pod hostname, or its FQDN with
/// `setHostnameAsFQDN` (at most 64 characters). `None` for hostNetwork pods, which keep
/// the node's.
pub fn sandbox_hostname(pod: &Pod, cluster_domain: &str) -> Result<Option<String>, DnsError> {
    let spec = pod.spec.as_ref();
    if spec.and_then(|s| s.host_network) == Some(true) {
        return Ok(None);
    }
    let (hostname, domain) = pod_hostname(pod, cluster_domain)?;
    let as_fqdn = spec.and_then(|s| s.set_hostname_as_fqdn) == Some(true);
    match domain {
        Some(domain) if as_fqdn => {
            let fqdn = format!("{hostname}.{domain}");
            if fqdn.len() > MAX_FQDN_LEN {
                let len = fqdn.len();
                return Err(DnsError::FqdnTooLong(fqdn, len));
            }
            Ok(Some(fqdn))
        }
        _ => Ok(Some(hostname)),
    }
}

/// The content of the pod's `/etc/hosts`: for a hostNetwork pod the node's `/etc/hosts`
/// (`node_hosts`) under a header; otherwise upstream's managed file with the localhost and
/// IPv6 lines and one line per pod IP (`<ip>\t<hostname>.<domain>\t<hostname>` with a
/// subdomain, `<ip>\t<hostname>` without); then the pod's hostAliases.
pub fn etc_hosts(
    pod: &Pod,
    pod_ips: &[String],
    cluster_domain: &str,
    node_hosts: &str,
) -> Result<String, DnsError> {
    let spec = pod.spec.as_ref();
    let mut out = String::new();
    if spec.and_then(|s| s.host_network) == Some(true) {
        out.push_str("# Kubernetes-managed hosts file (host network).\n");
        out.push_str(node_hosts);
    } else {
        let (hostname, domain) = pod_hostname(pod, cluster_domain)?;
        out.push_str("# Kubernetes-managed hosts file.\n");
        out.push_str("127.0.0.1\tlocalhost\n");
        out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
        out.push_str("fe00::0\tip6-localnet\n");
        out.push_str("fe00::0\tip6-mcastprefix\n");
        out.push_str("fe00::1\tip6-allnodes\n");
        out.push_str("fe00::2\tip6-allrouters\n");
        for ip in pod_ips {
            match &domain {
                Some(domain) => out.push_str(&format!("{ip}\t{hostname}.{domain}\t{hostname}\n")),
                None => out.push_str(&format!("{ip}\t{hostname}\n")),
            }
        }
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_ref());
    if let Some(aliases) = aliases.filter(|a| !a.is_empty()) {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.clone().unwrap_or_default().join("\t");
            out.push_str(&format!("{}\t{names}\n", alias.ip));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
