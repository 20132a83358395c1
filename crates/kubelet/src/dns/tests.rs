use super::*;
use serde_json::{Value, json};

fn pod(spec: Value) -> Pod {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c"}]);
    serde_json::from_value(json!({
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1"},
        "spec": spec
    }))
    .expect("pod")
}

fn cluster() -> ClusterDns {
    ClusterDns {
        servers: vec!["10.43.0.10".into()],
        domain: "cluster.local".into(),
        node_ips: vec!["10.0.0.5".into()],
    }
}

fn host() -> DnsConfig {
    DnsConfig {
        servers: vec!["192.168.1.1".into(), "192.168.1.2".into()],
        searches: vec!["corp.example".into(), "svc.cluster.local".into()],
        options: vec!["timeout:2".into(), "rotate".into()],
    }
}

#[test]
fn parses_resolv_conf_as_upstream() {
    let (config, errors) = parse_resolv_conf(
        "# comment\nnameserver 1.1.1.1\nsearch old.example\n  nameserver   8.8.8.8  # trailing\n\
         search a.example. b.example .\noptions ndots:2 timeout:1\noptions ndots:3 edns0\nnameserver\ndomain x\n",
    );
    assert_eq!(config.servers, vec!["1.1.1.1", "8.8.8.8"]);
    assert_eq!(config.searches, vec!["a.example", "b.example"]);
    assert_eq!(config.options, vec!["ndots:3", "timeout:1", "edns0"]);
    assert_eq!(errors, vec!["nameserver list is empty"]);
    assert_eq!(parse_resolv_conf(""), (DnsConfig::default(), vec![]));
}

#[test]
fn cluster_first_uses_cluster_dns_and_search_path() {
    let dns = pod_dns(&pod(json!({})), &cluster(), Some(&host())).expect("dns");
    assert_eq!(dns.config.servers, vec!["10.43.0.10"]);
    assert_eq!(
        dns.config.searches,
        vec![
            "shop.svc.cluster.local",
            "svc.cluster.local",
            "cluster.local",
            "corp.example"
        ]
    );
    assert_eq!(dns.config.options, vec!["ndots:5"]);
    assert!(dns.warnings.is_empty());
    let explicit = pod_dns(
        &pod(json!({"dnsPolicy": "ClusterFirst"})),
        &cluster(),
        Some(&host()),
    )
    .expect("dns");
    assert_eq!(explicit, dns);
}

#[test]
fn host_network_cluster_first_falls_back_to_default() {
    let dns = pod_dns(
        &pod(json!({"hostNetwork": true})),
        &cluster(),
        Some(&host()),
    )
    .expect("dns");
    assert_eq!(dns.config, host());
    let with_host_net = pod_dns(
        &pod(json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})),
        &cluster(),
        Some(&host()),
    )
    .expect("dns");
    assert_eq!(with_host_net.config.servers, vec!["10.43.0.10"]);
}

#[test]
fn default_uses_the_host_or_localhost() {
    let dns = pod_dns(
        &pod(json!({"dnsPolicy": "Default"})),
        &cluster(),
        Some(&host()),
    )
    .expect("dns");
    assert_eq!(dns.config, host());
    let none = pod_dns(&pod(json!({"dnsPolicy": "Default"})), &cluster(), None).expect("dns");
    assert_eq!(none.config.servers, vec!["127.0.0.1"]);
    assert_eq!(none.config.searches, vec!["."]);
    let v6 = ClusterDns {
        node_ips: vec!["fd00::1".into(), "10.0.0.1".into()],
        ..cluster()
    };
    let none6 = pod_dns(&pod(json!({"dnsPolicy": "Default"})), &v6, None).expect("dns");
    assert_eq!(none6.config.servers, vec!["::1", "127.0.0.1"]);
}

#[test]
fn cluster_first_without_cluster_dns_warns_and_uses_default() {
    let no_dns = ClusterDns {
        servers: vec![],
        ..cluster()
    };
    let dns = pod_dns(&pod(json!({})), &no_dns, Some(&host())).expect("dns");
    assert_eq!(dns.config, host());
    assert_eq!(dns.warnings.len(), 1);
    assert_eq!(dns.warnings[0].reason, MISSING_CLUSTER_DNS);
    assert!(
        dns.warnings[0]
            .message
            .contains("Falling back to \"Default\" policy")
    );
}

#[test]
fn none_uses_only_dns_config() {
    let dns = pod_dns(
        &pod(json!({"dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["1.2.3.4"], "searches": ["my.dns.search.suffix"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]
        }})),
        &cluster(),
        Some(&host()),
    )
    .expect("dns");
    assert_eq!(
        dns.config,
        DnsConfig {
            servers: vec!["1.2.3.4".into()],
            searches: vec!["my.dns.search.suffix".into()],
            options: vec!["ndots:2".into(), "edns0".into()],
        }
    );
}

#[test]
fn dns_config_merges_into_the_policy_settings() {
    let dns = pod_dns(
        &pod(json!({"dnsConfig": {
            "nameservers": ["10.43.0.10", "9.9.9.9"],
            "searches": ["cluster.local", "extra.example"],
            "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]
        }})),
        &cluster(),
        None,
    )
    .expect("dns");
    assert_eq!(dns.config.servers, vec!["10.43.0.10", "9.9.9.9"]);
    assert_eq!(
        dns.config.searches,
        vec![
            "shop.svc.cluster.local",
            "svc.cluster.local",
            "cluster.local",
            "extra.example"
        ]
    );
    assert_eq!(dns.config.options, vec!["ndots:1", "single-request"]);
}

#[test]
fn limits_cut_servers_and_searches_with_warnings() {
    let many_servers: Vec<String> = (1..=5).map(|i| format!("10.0.0.{i}")).collect();
    let dns = pod_dns(
        &pod(json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": many_servers}})),
        &cluster(),
        None,
    )
    .expect("dns");
    assert_eq!(dns.config.servers, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert_eq!(dns.warnings[0].reason, DNS_CONFIG_FORMING);
    assert_eq!(
        dns.warnings[0].message,
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.0.0.1 10.0.0.2 10.0.0.3"
    );

    let searches: Vec<String> = (0..40).map(|i| format!("d{i}.example")).collect();
    let dns = pod_dns(
        &pod(json!({"dnsPolicy": "None", "dnsConfig": {"searches": searches}})),
        &cluster(),
        None,
    )
    .expect("dns");
    assert_eq!(dns.config.searches.len(), 32);
    assert!(
        dns.warnings[0]
            .message
            .starts_with("Search Line limits were exceeded")
    );

    // Too long in total: trailing domains go until the line fits 2048 characters.
    let long: Vec<String> = (0..20)
        .map(|i| format!("{}.d{i}", "x".repeat(200)))
        .collect();
    let too_long_one = "y".repeat(254);
    let mut all = vec![too_long_one.clone()];
    all.extend(long);
    let dns = pod_dns(
        &pod(json!({"dnsPolicy": "None", "dnsConfig": {"searches": all}})),
        &cluster(),
        None,
    )
    .expect("dns");
    assert!(!dns.config.searches.contains(&too_long_one));
    assert!(dns.config.searches.join(" ").len() <= 2048);
    assert_eq!(dns.config.searches.len(), 10);
    assert_eq!(dns.warnings.len(), 1);
}

#[test]
fn invalid_policy_is_an_error() {
    assert_eq!(
        pod_dns(&pod(json!({"dnsPolicy": "Bogus"})), &cluster(), None),
        Err(DnsError::InvalidPolicy("Bogus".into()))
    );
}

#[test]
fn hostnames() {
    assert_eq!(
        pod_hostname(&pod(json!({})), "cluster.local"),
        Ok(("web-0".to_string(), None))
    );
    assert_eq!(
        pod_hostname(
            &pod(json!({"hostname": "db", "subdomain": "dbs"})),
            "cluster.local"
        ),
        Ok((
            "db".to_string(),
            Some("dbs.shop.svc.cluster.local".to_string())
        ))
    );
    let long = format!("{}-.{}", "a".repeat(61), "b".repeat(10));
    assert_eq!(
        pod_hostname(&pod(json!({"hostname": long})), "cluster.local").map(|h| h.0),
        Ok("a".repeat(61))
    );
    assert_eq!(
        sandbox_hostname(&pod(json!({"hostNetwork": true})), "cluster.local"),
        Ok(None)
    );
    assert_eq!(
        sandbox_hostname(
            &pod(json!({"hostname": "db", "subdomain": "dbs", "setHostnameAsFQDN": true})),
            "cluster.local"
        ),
        Ok(Some("db.dbs.shop.svc.cluster.local".to_string()))
    );
    assert_eq!(
        sandbox_hostname(
            &pod(json!({"hostname": "db", "subdomain": "dbs"})),
            "cluster.local"
        ),
        Ok(Some("db".to_string()))
    );
    let err = sandbox_hostname(
        &pod(json!({"hostname": "h".repeat(40), "subdomain": "dbs", "setHostnameAsFQDN": true})),
        "cluster.local",
    )
    .expect_err("too long");
    assert!(
        err.to_string()
            .contains("is too long (64 characters is the max, 67 characters requested)")
    );
}

#[test]
fn managed_etc_hosts() {
    let hosts = etc_hosts(
        &pod(json!({"hostAliases": [
            {"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]},
            {"ip": "10.1.2.4", "hostnames": ["baz"]}
        ]})),
        &["10.42.0.7".to_string(), "fd42::7".to_string()],
        "cluster.local",
        "ignored",
    )
    .expect("hosts");
    assert_eq!(
        hosts,
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n\
         10.42.0.7\tweb-0\n\
         fd42::7\tweb-0\n\
         \n\
         # Entries added by HostAliases.\n\
         10.1.2.3\tfoo.local\tbar.local\n\
         10.1.2.4\tbaz\n"
    );
}

#[test]
fn etc_hosts_with_subdomain_and_host_network() {
    let hosts = etc_hosts(
        &pod(json!({"hostname": "db", "subdomain": "dbs"})),
        &["10.42.0.8".to_string()],
        "cluster.local",
        "",
    )
    .expect("hosts");
    assert!(
        hosts.ends_with("10.42.0.8\tdb.dbs.shop.svc.cluster.local\tdb\n"),
        "{hosts}"
    );

    let hosts = etc_hosts(
        &pod(
            json!({"hostNetwork": true, "hostAliases": [{"ip": "1.1.1.1", "hostnames": ["one"]}]}),
        ),
        &[],
        "cluster.local",
        "127.0.0.1 localhost\n10.0.0.5 node-1\n",
    )
    .expect("hosts");
    assert_eq!(
        hosts,
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n10.0.0.5 node-1\n\n# Entries added by HostAliases.\n1.1.1.1\tone\n"
    );
}
