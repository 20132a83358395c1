use super::*;

fn network() -> PodNetwork {
    PodNetwork {
        pod_cidrs: vec!["10.42.3.0/24".into()],
        ipam_dir: PathBuf::from("/var/lib/k3rs/agent/cni"),
    }
}

#[test]
fn bridge_with_host_local_on_the_pod_cidr_and_portmap() {
    let c = conflist(&network());
    assert_eq!(c["cniVersion"], "1.0.0");
    let bridge = &c["plugins"][0];
    assert_eq!(bridge["type"], "bridge");
    assert_eq!(bridge["bridge"], "cni0");
    assert_eq!(bridge["isGateway"], true);
    assert_eq!(bridge["ipMasq"], true);
    assert_eq!(bridge["ipam"]["type"], "host-local");
    assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.42.3.0/24");
    assert_eq!(bridge["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
    assert_eq!(bridge["ipam"]["dataDir"], "/var/lib/k3rs/agent/cni");
    assert_eq!(c["plugins"][1]["type"], "portmap");
    assert_eq!(c["plugins"][1]["capabilities"]["portMappings"], true);
}

#[test]
fn dual_stack_gets_one_range_and_default_route_per_family() {
    let mut net = network();
    net.pod_cidrs.push("fd00:42:3::/64".into());
    let c = conflist(&net);
    let ipam = &c["plugins"][0]["ipam"];
    assert_eq!(ipam["ranges"][1][0]["subnet"], "fd00:42:3::/64");
    assert_eq!(ipam["routes"][1]["dst"], "::/0");
}

#[test]
fn writes_only_when_changed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(write_conflist(dir.path(), &network()).unwrap());
    assert!(!write_conflist(dir.path(), &network()).unwrap());
    let mut other = network();
    other.pod_cidrs = vec!["10.42.4.0/24".into()];
    assert!(write_conflist(dir.path(), &other).unwrap());
    let written: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(CONFLIST_FILE)).unwrap()).unwrap();
    assert_eq!(written, conflist(&other));
}
