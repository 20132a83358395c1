use super::*;

fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_upstreams() {
    let s = KubeletSettings::from_args(&[]).unwrap();
    assert_eq!(s.port, 10250);
    assert_eq!(s.max_pods, 110);
    assert_eq!(
        s.eviction_hard.memory_available,
        Threshold::Bytes(100 << 20)
    );
    assert_eq!(s.cluster_domain, "cluster.local");
}

#[test]
fn parses_reservations_and_thresholds() {
    let s = KubeletSettings::from_args(&args(&[
        ("port", "10251"),
        ("max-pods", "50"),
        ("system-reserved", "cpu=250m,memory=256Mi"),
        ("kube-reserved", "cpu=1,ephemeral-storage=1Gi"),
        (
            "eviction-hard",
            "memory.available<200Mi,nodefs.available<5%",
        ),
        ("cluster-dns", "10.43.0.10"),
    ]))
    .unwrap();
    assert_eq!(s.port, 10251);
    assert_eq!(s.max_pods, 50);
    assert_eq!(s.system_reserved.cpu_millis, 250);
    assert_eq!(s.system_reserved.memory_bytes, 256 << 20);
    assert_eq!(s.kube_reserved.cpu_millis, 1000);
    assert_eq!(s.kube_reserved.ephemeral_storage_bytes, 1 << 30);
    assert_eq!(
        s.eviction_hard.memory_available,
        Threshold::Bytes(200 << 20)
    );
    assert_eq!(s.eviction_hard.nodefs_available, Threshold::Percent(5.0));
    assert_eq!(s.cluster_dns, vec!["10.43.0.10".parse::<IpAddr>().unwrap()]);
}

#[test]
fn rejects_unknown_and_bad_values_with_the_reason() {
    let err = KubeletSettings::from_args(&args(&[("feature-gates", "X=true")])).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown kubelet argument \"feature-gates\"")
    );
    assert!(err.to_string().contains("max-pods"));
    let err = KubeletSettings::from_args(&args(&[("max-pods", "many")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid kubelet argument max-pods=\"many\": not a whole number"
    );
    let err = KubeletSettings::from_args(&args(&[("system-reserved", "gpu=1")])).unwrap_err();
    assert!(err.to_string().contains("unknown resource \"gpu\""));
    assert!(KubeletSettings::from_args(&args(&[("eviction-hard", "memory.available>1")])).is_err());
    assert!(
        KubeletSettings::from_args(&args(&[
            ("image-gc-high-threshold", "50"),
            ("image-gc-low-threshold", "60")
        ]))
        .is_err()
    );
}

#[test]
fn allocatable_is_capacity_less_reservations_and_eviction() {
    let s = KubeletSettings::from_args(&args(&[
        ("system-reserved", "cpu=500m,memory=1Gi"),
        (
            "eviction-hard",
            "memory.available<100Mi,nodefs.available<10%",
        ),
    ]))
    .unwrap();
    let host = HostResources {
        cpu_millis: 2000,
        memory_bytes: 8 << 30,
        ephemeral_storage_bytes: 100 << 30,
    };
    let (cap, alloc) = capacity_and_allocatable(&host, &s);
    assert_eq!(cap["cpu"], "2");
    assert_eq!(cap["memory"], format!("{}Ki", (8u64 << 30) / 1024));
    assert_eq!(cap["pods"], "110");
    assert_eq!(alloc["cpu"], "1500m");
    let mem = (8u64 << 30) - (1 << 30) - (100 << 20);
    assert_eq!(alloc["memory"], format!("{}Ki", mem / 1024));
    let storage = (100u64 << 30) - (10u64 << 30);
    assert_eq!(alloc["ephemeral-storage"], format!("{}Ki", storage / 1024));
}

#[test]
fn reservations_never_go_below_zero() {
    let s = KubeletSettings::from_args(&args(&[("system-reserved", "cpu=8,memory=64Gi")])).unwrap();
    let host = HostResources {
        cpu_millis: 2000,
        memory_bytes: 1 << 30,
        ephemeral_storage_bytes: 0,
    };
    let (_, alloc) = capacity_and_allocatable(&host, &s);
    assert_eq!(alloc["cpu"], "0");
    assert_eq!(alloc["memory"], "0Ki");
}
