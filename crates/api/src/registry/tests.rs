use std::collections::HashSet;

use super::*;

#[test]
fn every_resource_is_unique_per_group_version() {
    let mut seen = HashSet::new();
    for r in all() {
        assert!(
            seen.insert((r.group, r.version, r.plural)),
            "duplicate {}/{} {}",
            r.group,
            r.version,
            r.plural
        );
    }
    let mut kinds = HashSet::new();
    for r in all() {
        assert!(
            kinds.insert((r.group, r.version, r.kind)),
            "duplicate kind {}",
            r.kind
        );
    }
}

#[test]
fn table_is_well_formed() {
    for r in all() {
        let expected_storage = format!(
            "{}/{}",
            if r.group.is_empty() { "core" } else { r.group },
            r.plural
        );
        assert_eq!(r.storage, expected_storage, "{}", r.plural);
        let readable =
            r.verbs.contains(&"get") && r.verbs.contains(&"list") && r.verbs.contains(&"watch");
        // Reviews are the exception: evaluated on create, never stored.
        assert!(readable || r.verbs == ["create"], "{}", r.plural);
        assert!(!r.singular.is_empty() && !r.kind.is_empty());
        assert!(r.plural.chars().all(|c| c.is_ascii_lowercase()));
        assert_eq!(r.singular, r.singular.to_ascii_lowercase());
        if r.scale {
            assert!(r.status, "{} has scale but no status", r.plural);
        }
        // every group of the table is announced, every announced version has resources
        if !r.group.is_empty() {
            let g = groups().into_iter().find(|g| g.name == r.group);
            assert!(
                g.is_some_and(|g| g.versions.contains(&r.version)),
                "{}",
                r.group
            );
        }
    }
    for g in groups() {
        for v in &g.versions {
            assert!(
                resources_of(g.name, v).next().is_some(),
                "{}/{v} is empty",
                g.name
            );
        }
    }
}

#[test]
fn resources_of_a_group_version_are_sorted_like_discovery() {
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    for g in groups() {
        for v in g.versions {
            gvs.push((g.name, v));
        }
    }
    for (g, v) in gvs {
        let plurals: Vec<&str> = resources_of(g, v).map(|r| r.plural).collect();
        let mut sorted = plurals.clone();
        sorted.sort_unstable();
        assert_eq!(plurals, sorted, "{g}/{v}");
    }
}

#[test]
fn short_names_match_upstream() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("", "pods", &["po"]),
        ("", "services", &["svc"]),
        ("", "namespaces", &["ns"]),
        ("", "nodes", &["no"]),
        ("", "resourcequotas", &["quota"]),
        ("", "limitranges", &["limits"]),
        ("", "secrets", &[]),
        ("", "podtemplates", &[]),
        ("apps", "deployments", &["deploy"]),
        ("apps", "statefulsets", &["sts"]),
        ("apps", "controllerrevisions", &[]),
        ("batch", "cronjobs", &["cj"]),
        ("batch", "jobs", &[]),
        ("networking.k8s.io", "networkpolicies", &["netpol"]),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &["crd", "crds"],
        ),
        ("scheduling.k8s.io", "priorityclasses", &["pc"]),
        ("policy", "poddisruptionbudgets", &["pdb"]),
        ("events.k8s.io", "events", &["ev"]),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            &["csr"],
        ),
    ];
    for (group, plural, short) in cases {
        let r = lookup_preferred(group, plural).expect(plural);
        assert_eq!(r.short_names, *short, "{plural}");
    }
}

#[test]
fn lookup_and_by_kind() {
    let d = lookup("apps", "v1", "deployments").expect("deployments");
    assert_eq!(d.kind, "Deployment");
    assert!(d.namespaced && d.status && d.scale && d.generation);
    assert_eq!(d.api_version(), "apps/v1");
    assert_eq!(
        d.key(Some("default"), "web"),
        "/registry/apps/deployments/default/web"
    );
    assert_eq!(
        d.namespace_prefix("default"),
        "/registry/apps/deployments/default/"
    );
    assert_eq!(d.group_resource(), "deployments.apps");

    let ns = by_kind("", "v1", "Namespace").expect("Namespace");
    assert_eq!(ns.plural, "namespaces");
    assert!(!ns.namespaced);
    assert!(!ns.has_verb("deletecollection"));
    assert!(ns.has_verb("delete"));
    assert_eq!(
        ns.key(Some("ignored"), "kube-system"),
        "/registry/core/namespaces/kube-system"
    );
    assert_eq!(ns.api_version(), "v1");

    assert!(lookup("apps", "v1", "pods").is_none());
    assert!(lookup("", "v1", "deployments").is_none());
    assert!(by_kind("apps", "v2", "Deployment").is_none());

    let core_ev = lookup("", "v1", "events").expect("core events");
    let new_ev = lookup("events.k8s.io", "v1", "events").expect("events.k8s.io events");
    assert_ne!(core_ev.storage, new_ev.storage);
}

#[test]
fn autoscaling_versions_share_storage_and_prefer_v2() {
    let v2 = lookup("autoscaling", "v2", "horizontalpodautoscalers").expect("v2");
    let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").expect("v1");
    assert_eq!(v1.storage, v2.storage);
    assert_eq!(
        v1.prefix(),
        "/registry/autoscaling/horizontalpodautoscalers/"
    );
    assert_eq!(preferred_version("autoscaling"), Some("v2"));
    assert_eq!(
        versions_of("autoscaling", "horizontalpodautoscalers")
            .map(|r| r.version)
            .collect::<Vec<_>>(),
        ["v2", "v1"]
    );
    assert_eq!(
        lookup_preferred("autoscaling", "horizontalpodautoscalers").map(|r| r.version),
        Some("v2")
    );
    let g = groups()
        .into_iter()
        .find(|g| g.name == "autoscaling")
        .expect("autoscaling");
    assert_eq!(g.versions, ["v2", "v1"]);
    assert_eq!(g.preferred_group_version(), "autoscaling/v2");
}

#[test]
fn groups_in_discovery_order() {
    let names: Vec<&str> = groups().iter().map(|g| g.name).collect();
    assert_eq!(
        names,
        [
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "certificates.k8s.io",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "admissionregistration.k8s.io",
            "apiextensions.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "discovery.k8s.io",
        ]
    );
    assert_eq!(preferred_version(""), Some("v1"));
    assert_eq!(preferred_version("nope.example.com"), None);
}

#[test]
fn category_all_matches_kubectl_get_all() {
    let mut all_cat: Vec<String> = in_category("all").map(|r| r.group_resource()).collect();
    all_cat.sort();
    assert_eq!(
        all_cat,
        [
            "cronjobs.batch",
            "daemonsets.apps",
            "deployments.apps",
            "horizontalpodautoscalers.autoscaling",
            "jobs.batch",
            "pods",
            "replicasets.apps",
            "replicationcontrollers",
            "services",
            "statefulsets.apps",
        ]
    );
    assert!(
        lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .is_some_and(|r| r.in_category("api-extensions"))
    );
}

#[test]
fn core_resources_are_the_v1_list() {
    let core: Vec<&str> = core_resources().map(|r| r.plural).collect();
    assert_eq!(core.len(), 15);
    assert!(core.contains(&"pods") && core.contains(&"replicationcontrollers"));
    assert!(core_resources().all(|r| r.group.is_empty() && r.version == "v1"));
}

#[test]
fn subresource_flags() {
    let scaled: HashSet<&str> = all().iter().filter(|r| r.scale).map(|r| r.plural).collect();
    assert_eq!(
        scaled,
        HashSet::from([
            "deployments",
            "replicasets",
            "statefulsets",
            "replicationcontrollers"
        ])
    );
    for (g, p) in [
        ("", "pods"),
        ("", "services"),
        ("", "namespaces"),
        ("batch", "cronjobs"),
        ("storage.k8s.io", "volumeattachments"),
        (
            "admissionregistration.k8s.io",
            "validatingadmissionpolicies",
        ),
        ("certificates.k8s.io", "certificatesigningrequests"),
    ] {
        assert!(lookup_preferred(g, p).is_some_and(|r| r.status), "{p}");
    }
    for (g, p) in [
        ("", "configmaps"),
        ("", "secrets"),
        ("coordination.k8s.io", "leases"),
        ("networking.k8s.io", "networkpolicies"),
    ] {
        assert!(lookup_preferred(g, p).is_some_and(|r| !r.status), "{p}");
    }
}
