use super::*;

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().expect("cidr")
}

fn node(name: &str, pod_cidr: Option<&str>) -> Node {
    Node {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::core::v1::NodeSpec {
            pod_cidr: pod_cidr.map(String::from),
            pod_cidrs: pod_cidr.map(|c| vec![c.to_string()]),
            ..Default::default()
        }),
        status: None,
    }
}

#[test]
fn hands_out_consecutive_24s() {
    let mut set = CidrSet::new(cidr("10.42.0.0/16"), 24);
    assert_eq!(set.allocate_next(), Some(cidr("10.42.0.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.1.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.2.0/24")));
    assert_eq!(set.used(), 3);
}

#[test]
fn skips_occupied_and_reuses_released_after_wrapping() {
    let mut set = CidrSet::new(cidr("10.42.0.0/22"), 24);
    assert!(set.occupy(cidr("10.42.1.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.0.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.2.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.3.0/24")));
    assert_eq!(set.allocate_next(), None, "all four taken");
    set.release(cidr("10.42.2.0/24"));
    assert!(!set.is_used(cidr("10.42.2.0/24")));
    assert_eq!(set.allocate_next(), Some(cidr("10.42.2.0/24")));
}

#[test]
fn foreign_subnets_are_not_tracked() {
    let mut set = CidrSet::new(cidr("10.42.0.0/16"), 24);
    assert!(
        !set.occupy(cidr("10.99.0.0/24")),
        "outside the cluster CIDR"
    );
    assert!(!set.occupy(cidr("10.42.0.0/25")), "another mask size");
    let unaligned = Ipv4Cidr {
        network: "10.42.0.128".parse().expect("ip"),
        prefix: 24,
    };
    assert!(!set.occupy(unaligned), "not aligned");
    assert_eq!(set.used(), 0);
}

#[test]
fn small_cluster_cidr_is_one_subnet() {
    let mut set = CidrSet::new(cidr("10.42.0.0/26"), 24);
    assert_eq!(set.subnet_prefix(), 26);
    assert_eq!(set.allocate_next(), Some(cidr("10.42.0.0/26")));
    assert_eq!(set.allocate_next(), None);
}

#[test]
fn state_rebuilds_from_nodes_and_releases_on_delete() {
    let mut state = State::new(cidr("10.42.0.0/16"));
    assert!(!state.observe(&node("a", Some("10.42.0.0/24"))));
    assert!(state.observe(&node("b", None)), "b needs a subnet");
    assert_eq!(state.set.allocate_next(), Some(cidr("10.42.1.0/24")));
    state.forget("a");
    assert!(!state.set.is_used(cidr("10.42.0.0/24")));
    assert_eq!(
        node_pod_cidr(&node("c", Some("10.42.7.0/24"))),
        Some(cidr("10.42.7.0/24"))
    );
    assert_eq!(node_pod_cidr(&node("d", None)), None);
}
