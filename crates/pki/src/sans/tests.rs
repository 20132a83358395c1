use super::*;

#[test]
fn cluster_default_contains_the_k3s_names() {
    let tls_sans = vec![
        "k3rs.example.com".to_string(),
        "192.0.2.7".to_string(),
        "[2001:db8::1]".to_string(),
    ];
    let identity = ServingIdentity::cluster_default(&ServingIdentityInputs {
        host_name: "Node-1",
        node_ips: &["10.0.0.5".parse().unwrap()],
        tls_sans: &tls_sans,
        cluster_domain: "cluster.local",
        api_service_ip: "10.43.0.1".parse().unwrap(),
    });
    for name in [
        "localhost",
        "node-1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "k3rs.example.com",
    ] {
        assert!(
            identity.dns_names.iter().any(|n| n == name),
            "missing {name}: {identity:?}"
        );
    }
    for ip in [
        "127.0.0.1",
        "::1",
        "10.43.0.1",
        "10.0.0.5",
        "192.0.2.7",
        "2001:db8::1",
    ] {
        assert!(
            identity.ips.contains(&ip.parse().unwrap()),
            "missing {ip}: {identity:?}"
        );
    }
    assert!(!identity.dns_names.iter().any(|n| n.contains("192.0.2.7")));
}

#[test]
fn same_names_ignores_order_and_duplicates() {
    let mut a = ServingIdentity::default();
    a.add_name_or_ip("a.example");
    a.add_name_or_ip("10.0.0.1");
    let mut b = ServingIdentity::default();
    b.add_name_or_ip("10.0.0.1");
    b.add_name_or_ip("A.example.");
    b.add_name_or_ip("a.example");
    assert!(a.same_names(&b));
    b.add_name_or_ip("b.example");
    assert!(!a.same_names(&b));
}
