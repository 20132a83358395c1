use super::*;

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().expect("cidr")
}
fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}

#[test]
fn cidr_parse_and_display() {
    for (input, expected) in [
        ("10.43.0.0/16", "10.43.0.0/16"),
        ("10.43.7.9/16", "10.43.0.0/16"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ] {
        assert_eq!(cidr(input).to_string(), expected);
    }
    assert!("10.43.0.0".parse::<Ipv4Cidr>().is_err());
    assert!("10.43.0.0/33".parse::<Ipv4Cidr>().is_err());
}

#[test]
fn ip_allocator_skips_network_and_broadcast() {
    let mut a = IpAllocator::new(cidr("10.43.0.0/30"));
    assert_eq!(a.capacity(), 2);
    assert_eq!(a.first_host(), Some(ip("10.43.0.1")));
    assert_eq!(a.allocate_next(), Some(ip("10.43.0.1")));
    assert_eq!(a.allocate_next(), Some(ip("10.43.0.2")));
    assert_eq!(a.allocate_next(), None);
    a.release(ip("10.43.0.1"));
    assert_eq!(a.allocate_next(), Some(ip("10.43.0.1")));
}

#[test]
fn ip_allocator_errors() {
    let mut a = IpAllocator::new(cidr("10.43.0.0/16"));
    assert_eq!(a.first_host(), Some(ip("10.43.0.1")));
    let check = |r: Result<(), AllocError>, expected: &str| {
        assert_eq!(
            r.map_err(|e| e.to_string()),
            if expected.is_empty() {
                Ok(())
            } else {
                Err(expected.to_string())
            }
        )
    };
    check(a.allocate(ip("10.43.0.10")), "");
    check(
        a.allocate(ip("10.43.0.10")),
        "provided IP is already allocated",
    );
    check(
        a.allocate(ip("1.1.1.1")),
        "the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 10.43.0.0/16",
    );
    check(
        a.allocate(ip("10.43.0.0")),
        "the provided IP (10.43.0.0) is not in the valid range. The range of valid IPs is 10.43.0.0/16",
    );
    check(
        a.allocate(ip("10.43.255.255")),
        "the provided IP (10.43.255.255) is not in the valid range. The range of valid IPs is 10.43.0.0/16",
    );
    assert!(a.is_allocated(ip("10.43.0.10")));
    assert_eq!(a.used(), 1);
}

#[test]
fn ip_allocator_round_robin_skips_taken() {
    let mut a = IpAllocator::new(cidr("10.43.0.0/24"));
    a.allocate(ip("10.43.0.1")).expect("first");
    a.allocate(ip("10.43.0.2")).expect("second");
    assert_eq!(a.allocate_next(), Some(ip("10.43.0.3")));
    a.release(ip("10.43.0.1"));
    // The cursor moves on instead of immediately reusing a released address.
    assert_eq!(a.allocate_next(), Some(ip("10.43.0.4")));
    let mut n = 2;
    while a.allocate_next().is_some() {
        n += 1;
    }
    assert_eq!(n + 1, 254);
    assert_eq!(a.used(), 254);
}

#[test]
fn port_allocator() {
    let mut p = PortAllocator::new(30000, 32767);
    assert_eq!(p.allocate(30080), Ok(()));
    assert_eq!(
        p.allocate(30080).map_err(|e| e.to_string()),
        Err("provided port is already allocated".to_string())
    );
    assert_eq!(
        p.allocate(80).map_err(|e| e.to_string()),
        Err(
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
                .to_string()
        )
    );
    assert_eq!(p.allocate_next(), Some(30000));
    assert_eq!(p.allocate_next(), Some(30001));
    p.release(30080);
    assert!(!p.is_allocated(30080));
    let mut small = PortAllocator::new(10, 11);
    assert_eq!(
        (
            small.allocate_next(),
            small.allocate_next(),
            small.allocate_next()
        ),
        (Some(10), Some(11), None)
    );
}
