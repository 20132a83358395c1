use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodIP, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::core::*;

pub(crate) fn service(name: &str, selector: &[(&str, &str)], target: IntOrString) -> Service {
    let mut s = Service::default();
    s.metadata.name = Some(name.into());
    s.metadata.namespace = Some("default".into());
    s.metadata.uid = Some(format!("uid-{name}"));
    s.spec = Some(ServiceSpec {
        selector: Some(
            selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ports: Some(vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            target_port: Some(target),
            ..Default::default()
        }]),
        cluster_ip: Some("10.43.0.10".into()),
        ..Default::default()
    });
    s
}

pub(crate) fn pod(name: &str, ip: Option<&str>, ready: bool, port: i32) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = Some(name.into());
    p.metadata.namespace = Some("default".into());
    p.metadata.uid = Some(format!("uid-{name}"));
    p.metadata.labels = Some(BTreeMap::from([("app".to_string(), "web".to_string())]));
    p.spec = Some(PodSpec {
        node_name: Some("n1".into()),
        containers: vec![Container {
            name: "c".into(),
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: port,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    });
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        pod_ip: ip.map(String::from),
        pod_ips: ip.map(|i| vec![PodIP { ip: i.into() }]),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    p
}

#[test]
fn ready_and_not_ready_addresses_with_named_ports() {
    let svc = service("web", &[("app", "web")], IntOrString::String("web".into()));
    let a = pod("a", Some("10.42.0.2"), true, 8080);
    let b = pod("b", Some("10.42.0.3"), false, 8080);
    let c = pod("c", None, true, 8080);
    let d = pod("d", Some("10.42.0.5"), true, 9090);
    let subsets = desired_subsets(&svc, &[&a, &b, &c, &d]);
    assert_eq!(subsets.len(), 2, "{subsets:?}");
    let s8080 = subsets
        .iter()
        .find(|s| s.ports.as_ref().is_some_and(|p| p[0].port == 8080))
        .expect("8080 subset");
    let ips = |v: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| -> Vec<String> {
        v.iter().flatten().map(|a| a.ip.clone()).collect()
    };
    assert_eq!(ips(&s8080.addresses), ["10.42.0.2"]);
    assert_eq!(ips(&s8080.not_ready_addresses), ["10.42.0.3"]);
    assert_eq!(
        s8080.ports.as_ref().map(|p| p[0].name.clone()),
        Some(Some("http".into()))
    );
}

#[test]
fn publish_not_ready_and_terminating() {
    let mut svc = service("web", &[("app", "web")], IntOrString::Int(8080));
    let b = pod("b", Some("10.42.0.3"), false, 8080);
    let mut t = pod("t", Some("10.42.0.4"), true, 8080);
    t.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    let subsets = desired_subsets(&svc, &[&b, &t]);
    assert_eq!(subsets.len(), 1);
    assert!(subsets[0].addresses.is_none());
    assert_eq!(
        subsets[0].not_ready_addresses.as_ref().map(Vec::len),
        Some(1)
    );
    if let Some(spec) = svc.spec.as_mut() {
        spec.publish_not_ready_addresses = Some(true);
    }
    let subsets = desired_subsets(&svc, &[&b, &t]);
    assert_eq!(subsets[0].addresses.as_ref().map(Vec::len), Some(2));
}

#[test]
fn plan_creates_then_is_stable() {
    let svc = service("web", &[("app", "web")], IntOrString::Int(8080));
    let a = pod("a", Some("10.42.0.2"), true, 8080);
    let Plan::Create(ep) = plan(&svc, &[&a], None) else {
        panic!("expected create")
    };
    assert_eq!(ep.metadata.name.as_deref(), Some("web"));
    assert_eq!(plan(&svc, &[&a], Some(&ep)), Plan::Nothing);
    let b = pod("b", Some("10.42.0.3"), true, 8080);
    assert!(matches!(plan(&svc, &[&a, &b], Some(&ep)), Plan::Update(_)));
}

#[test]
fn headless_service_without_ports_and_hostnames() {
    let mut svc = service("db", &[("app", "web")], IntOrString::Int(1));
    if let Some(spec) = svc.spec.as_mut() {
        spec.ports = None;
        spec.cluster_ip = Some("None".into());
    }
    let mut a = pod("a", Some("10.42.0.2"), true, 1);
    if let Some(spec) = a.spec.as_mut() {
        spec.hostname = Some("a".into());
        spec.subdomain = Some("db".into());
    }
    let subsets = desired_subsets(&svc, &[&a]);
    assert_eq!(subsets.len(), 1);
    assert!(subsets[0].ports.is_none());
    let addr = &subsets[0].addresses.as_ref().expect("addresses")[0];
    assert_eq!(addr.hostname.as_deref(), Some("a"));
    assert_eq!(
        endpoints_labels(&svc)
            .get(HEADLESS_LABEL)
            .map(String::as_str),
        Some("")
    );
}

#[test]
fn selectorless_services_are_not_managed() {
    let mut svc = service("kubernetes", &[], IntOrString::Int(6443));
    assert!(!is_managed(&svc));
    if let Some(spec) = svc.spec.as_mut() {
        spec.selector = None;
    }
    assert!(!is_managed(&svc));
}

#[test]
fn expectations_wait_for_own_writes_then_expire() {
    use super::{Expectations, Expected};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let key = ("default".to_string(), "web".to_string());
    let ex = Expectations::default();
    assert!(ex.satisfied(&key, &[], None));
    let mut e = Expected::default();
    e.slices.insert("web-abc".into(), 7);
    ex.record(key.clone(), e);
    let mut slice = EndpointSlice::default();
    slice.metadata.name = Some("web-abc".into());
    slice.metadata.resource_version = Some("6".into());
    assert!(!ex.satisfied(&key, std::slice::from_ref(&slice), None));
    slice.metadata.resource_version = Some("7".into());
    assert!(ex.satisfied(&key, &[slice], None));
    // Forgotten once met.
    assert!(ex.satisfied(&key, &[], None));
    // Never met: dropped after the TTL.
    let mut e = Expected::default();
    e.deleted.push("gone".into());
    e.at -= super::EXPECTATIONS_TTL + std::time::Duration::from_secs(1);
    ex.record(key.clone(), e);
    let mut stuck = EndpointSlice::default();
    stuck.metadata.name = Some("gone".into());
    assert!(ex.satisfied(&key, &[stuck], None));
}
