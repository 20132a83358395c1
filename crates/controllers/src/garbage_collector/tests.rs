use super::graph::*;

fn owner_ref(uid: &str, block: bool) -> OwnerRef {
    OwnerRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: format!("n-{uid}"),
        uid: uid.into(),
        block_owner_deletion: block,
    }
}

fn node(uid: &str, owners: Vec<OwnerRef>) -> Node {
    Node {
        resource: 0,
        namespace: Some("default".into()),
        name: format!("n-{uid}"),
        uid: uid.into(),
        owners,
        deleting: false,
        foreground: false,
        orphan: false,
    }
}

#[test]
fn owner_deletion_queues_dependents() {
    let mut g = Graph::new();
    assert!(g.upsert(node("o", vec![])).is_empty());
    assert!(g.upsert(node("d", vec![owner_ref("o", false)])).is_empty());
    assert!(g.has_dependents("o"));
    assert_eq!(g.remove("o"), vec![Work::AttemptToDelete("d".into())]);
    assert!(g.is_absent("o"));
    // The dependent goes: the tombstone too.
    assert!(g.remove("d").is_empty());
    assert!(!g.is_absent("o"));
}

#[test]
fn dependent_of_unknown_owner_is_checked() {
    let mut g = Graph::new();
    assert_eq!(
        g.upsert(node("d", vec![owner_ref("o", false)])),
        vec![Work::AttemptToDelete("d".into())]
    );
    // Unchanged owners: no new work.
    assert!(g.upsert(node("d", vec![owner_ref("o", false)])).is_empty());
}

#[test]
fn foreground_and_orphan_transitions() {
    let mut g = Graph::new();
    g.upsert(node("o", vec![]));
    g.upsert(node("d", vec![owner_ref("o", true)]));
    let mut o = node("o", vec![]);
    o.deleting = true;
    o.foreground = true;
    let work = g.upsert(o.clone());
    assert!(work.contains(&Work::AttemptToDelete("o".into())));
    assert!(work.contains(&Work::AttemptToDelete("d".into())));
    assert_eq!(g.blocking_dependents("o").len(), 1);
    // The blocking dependent goes: the owner is looked at again.
    assert_eq!(g.remove("d"), vec![Work::AttemptToDelete("o".into())]);
    assert!(g.blocking_dependents("o").is_empty());

    let mut g = Graph::new();
    g.upsert(node("o", vec![]));
    let mut o = node("o", vec![]);
    o.deleting = true;
    o.orphan = true;
    assert_eq!(g.upsert(o.clone()), vec![Work::AttemptToOrphan("o".into())]);
    assert!(g.upsert(o).is_empty());
}

#[test]
fn decisions() {
    use OwnerState::*;
    let s = |v: &[(&str, OwnerState)]| -> Vec<(String, OwnerState)> {
        v.iter().map(|(u, s)| (u.to_string(), *s)).collect()
    };
    assert_eq!(decide(&[], false, &[]), Decision::Nothing);
    assert_eq!(decide(&s(&[("a", Solid)]), false, &[]), Decision::Nothing);
    assert_eq!(
        decide(&s(&[("a", Solid), ("b", Dangling)]), false, &[]),
        Decision::RemoveOwnerRefs(vec!["b".into()])
    );
    assert_eq!(
        decide(&s(&[("a", Dangling)]), false, &[]),
        Decision::Delete(Propagation::Background)
    );
    assert_eq!(
        decide(&s(&[("a", Dangling)]), false, &["orphan".into()]),
        Decision::Delete(Propagation::Orphan)
    );
    assert_eq!(
        decide(&s(&[("a", Waiting)]), true, &[]),
        Decision::Delete(Propagation::Foreground)
    );
    assert_eq!(
        decide(&s(&[("a", Waiting)]), false, &[]),
        Decision::Delete(Propagation::Background)
    );
}

#[test]
fn watched_resources_cover_owners_and_skip_events() {
    let r = super::watched_resources();
    let has = |g: &str, p: &str| {
        r.iter()
            .any(|w| w.resource.group == g && w.resource.plural == p)
    };
    for (g, p) in [
        ("", "pods"),
        ("", "configmaps"),
        ("", "secrets"),
        ("apps", "replicasets"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "controllerrevisions"),
        ("batch", "jobs"),
        ("discovery.k8s.io", "endpointslices"),
    ] {
        assert!(has(g, p), "{g}/{p} is watched");
    }
    assert!(!has("", "events"));
}
