use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::core::*;
use crate::endpoints::tests::{pod, service};

#[test]
fn slices_carry_labels_owner_and_conditions() {
    let svc = service("web", &[("app", "web")], IntOrString::String("web".into()));
    let a = pod("a", Some("10.42.0.2"), true, 8080);
    let b = pod("b", Some("10.42.0.3"), false, 8080);
    let plan = plan(&svc, &[&a, &b], &[]);
    assert_eq!(plan.create.len(), 1);
    let s = &plan.create[0];
    let labels = s.metadata.labels.as_ref().expect("labels");
    assert_eq!(
        labels.get(SERVICE_NAME_LABEL).map(String::as_str),
        Some("web")
    );
    assert_eq!(
        labels.get(MANAGED_BY_LABEL).map(String::as_str),
        Some(MANAGED_BY)
    );
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    let owner = &s.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Service", Some(true))
    );
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(s.ports.as_ref().and_then(|p| p[0].port), Some(8080));
    let ready: Vec<Option<bool>> = s
        .endpoints
        .iter()
        .map(|e| e.conditions.as_ref().and_then(|c| c.ready))
        .collect();
    assert_eq!(ready, [Some(true), Some(false)]);
}

#[test]
fn terminating_pods_are_kept_not_ready_but_serving() {
    let svc = service("web", &[("app", "web")], IntOrString::Int(8080));
    let mut t = pod("t", Some("10.42.0.4"), true, 8080);
    t.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    let plan = plan(&svc, &[&t], &[]);
    let c = plan.create[0].endpoints[0]
        .conditions
        .clone()
        .expect("conditions");
    assert_eq!(
        (c.ready, c.serving, c.terminating),
        (Some(false), Some(true), Some(true))
    );
}

#[test]
fn at_most_100_per_slice_and_stable_updates() {
    let svc = service("web", &[("app", "web")], IntOrString::Int(8080));
    let pods: Vec<_> = (0..250)
        .map(|i| {
            pod(
                &format!("p{i:03}"),
                Some(&format!("10.42.{}.{}", i / 200, i % 200 + 1)),
                true,
                8080,
            )
        })
        .collect();
    let refs: Vec<_> = pods.iter().collect();
    let first = plan(&svc, &refs, &[]);
    assert_eq!(first.create.len(), 3);
    assert!(
        first
            .create
            .iter()
            .all(|s| s.endpoints.len() <= MAX_ENDPOINTS_PER_SLICE)
    );
    // Pretend they were created; planning again changes nothing.
    let current: Vec<_> = first
        .create
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.metadata.name = Some(format!("web-{i}"));
            s
        })
        .collect();
    assert!(plan(&svc, &refs, &current).is_empty());
    // One pod leaves: one slice is updated in place.
    let fewer: Vec<_> = refs[1..].to_vec();
    let p = plan(&svc, &fewer, &current);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
}

#[test]
fn placeholder_slice_without_endpoints() {
    let svc = service("web", &[("app", "web")], IntOrString::Int(8080));
    let p = plan(&svc, &[], &[]);
    assert_eq!(p.create.len(), 1);
    assert!(p.create[0].endpoints.is_empty());
    assert!(p.create[0].ports.is_none());
    let mut cur = p.create[0].clone();
    cur.metadata.name = Some("web-x".into());
    assert!(plan(&svc, &[], &[cur.clone()]).is_empty());
    // Pods arrive: the placeholder goes, a real slice comes.
    let a = pod("a", Some("10.42.0.2"), true, 8080);
    let p = plan(&svc, &[&a], &[cur]);
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
}
