//! Unit tests of the StatefulSet plan.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::json;

use super::core::*;

fn set(replicas: i32) -> SetView {
    SetView {
        replicas,
        start: 0,
        parallel: false,
        on_delete: false,
        partition: 0,
        current_revision: "r1".into(),
        update_revision: "r1".into(),
        status_current_replicas: 0,
    }
}

fn m(ordinal: i32, ready: bool, revision: &str) -> Member {
    Member {
        ordinal,
        name: pod_name("web", ordinal),
        revision: revision.into(),
        terminating: false,
        finished: false,
        ready,
        available: ready,
    }
}

fn create(ordinal: i32, revision: &str) -> Action {
    Action::Create {
        ordinal,
        revision: revision.into(),
    }
}

fn delete(ordinal: i32, condemned: bool) -> Action {
    Action::Delete {
        name: pod_name("web", ordinal),
        condemned,
    }
}

#[test]
fn ordinals_parse_strictly() {
    assert_eq!(ordinal_of("web", "web-0"), Some(0));
    assert_eq!(ordinal_of("web", "web-12"), Some(12));
    assert_eq!(ordinal_of("web", "web-01"), None);
    assert_eq!(ordinal_of("web", "web-x"), None);
    assert_eq!(ordinal_of("web", "webx-1"), None);
    assert_eq!(ordinal_of("web", "web-"), None);
    assert_eq!(claim_name("data", "web", 2), "data-web-2");
}

#[test]
fn ordered_ready_creates_one_at_a_time() {
    let s = set(3);
    assert_eq!(plan(&s, &[]), vec![create(0, "r1")]);
    // web-0 not ready yet: wait.
    assert_eq!(plan(&s, &[m(0, false, "r1")]), vec![]);
    assert_eq!(plan(&s, &[m(0, true, "r1")]), vec![create(1, "r1")]);
    let all = [m(0, true, "r1"), m(1, true, "r1"), m(2, true, "r1")];
    assert_eq!(plan(&s, &all), vec![]);
    // A deleted pod in the middle is recreated with the same name.
    assert_eq!(
        plan(&s, &[m(0, true, "r1"), m(2, true, "r1")]),
        vec![create(1, "r1")]
    );
}

#[test]
fn parallel_creates_all() {
    let mut s = set(3);
    s.parallel = true;
    assert_eq!(
        plan(&s, &[]),
        vec![create(0, "r1"), create(1, "r1"), create(2, "r1")]
    );
}

#[test]
fn scale_down_from_the_highest() {
    let s = set(1);
    let all = [m(0, true, "r1"), m(1, true, "r1"), m(2, true, "r1")];
    assert_eq!(plan(&s, &all), vec![delete(2, true)]);
    let mut term = all.clone();
    term[2].terminating = true;
    assert_eq!(plan(&s, &term), vec![]);
    let mut p = set(1);
    p.parallel = true;
    assert_eq!(plan(&p, &all), vec![delete(2, true), delete(1, true)]);
}

#[test]
fn failed_pods_are_replaced() {
    let s = set(2);
    let mut a = m(0, false, "r1");
    a.finished = true;
    assert_eq!(plan(&s, &[a]), vec![delete(0, false)]);
}

#[test]
fn rolling_update_from_the_highest_with_partition() {
    let mut s = set(3);
    s.update_revision = "r2".into();
    let all = [m(0, true, "r1"), m(1, true, "r1"), m(2, true, "r1")];
    assert_eq!(plan(&s, &all), vec![delete(2, false)]);
    // web-2 recreated at r2 but not ready: wait.
    let step = [m(0, true, "r1"), m(1, true, "r1"), m(2, false, "r2")];
    assert_eq!(plan(&s, &step), vec![]);
    let step = [m(0, true, "r1"), m(1, true, "r1"), m(2, true, "r2")];
    assert_eq!(plan(&s, &step), vec![delete(1, false)]);
    s.partition = 2;
    assert_eq!(plan(&s, &step), vec![]);
    assert_eq!(s.revision_for(1), "r1");
    assert_eq!(s.revision_for(2), "r2");
    s.partition = 0;
    s.on_delete = true;
    assert_eq!(plan(&s, &all), vec![]);
}

#[test]
fn counts_complete_the_rollout() {
    let mut s = set(2);
    s.update_revision = "r2".into();
    let c = count(&s, &[m(0, true, "r1"), m(1, true, "r2")]);
    assert_eq!((c.replicas, c.ready, c.current, c.updated), (2, 2, 1, 1));
    assert_eq!(c.current_revision, "r1");
    let c = count(&s, &[m(0, true, "r2"), m(1, true, "r2")]);
    assert_eq!((c.current, c.updated), (2, 2));
    assert_eq!(c.current_revision, "r2");
}

#[test]
fn revision_data_round_trips() {
    let t: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .expect("template");
    let d = revision_data(&t);
    assert_eq!(d["spec"]["template"]["$patch"], "replace");
    assert_eq!(template_of_revision(&d), Some(t));
}

#[test]
fn pruning_spares_live_revisions() {
    let revs = vec![
        ("a".to_string(), 1),
        ("b".to_string(), 2),
        ("c".to_string(), 3),
    ];
    let live: HashSet<String> = ["c".to_string()].into();
    assert_eq!(revisions_to_prune(&revs, &live, 1), vec!["a".to_string()]);
    assert!(revisions_to_prune(&revs, &live, 10).is_empty());
}

#[test]
fn pods_carry_identity_and_claims() {
    let t: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .expect("template");
    let claim: PersistentVolumeClaim =
        serde_json::from_value(json!({"metadata": {"name": "data"}, "spec": {}})).expect("pvc");
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    let templates = [claim];
    let id = SetIdentity {
        name: "web",
        namespace: "default",
        service_name: Some("nginx"),
        match_labels: Some(&labels),
        claim_templates: &templates,
        owner: OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    };
    let p = pod_for(&id, &t, 1, "web-abc");
    assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
    let l = p.metadata.labels.clone().unwrap_or_default();
    assert_eq!(l.get(POD_NAME_LABEL).map(String::as_str), Some("web-1"));
    assert_eq!(l.get(POD_INDEX_LABEL).map(String::as_str), Some("1"));
    assert_eq!(l.get(REVISION_LABEL).map(String::as_str), Some("web-abc"));
    let spec = p.spec.unwrap_or_default();
    assert_eq!(spec.hostname.as_deref(), Some("web-1"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let vols = spec.volumes.unwrap_or_default();
    assert_eq!(
        vols[0]
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("data-web-1")
    );
    let claims = claims_for(&id, 1, None);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data-web-1"));
    assert!(claims[0].metadata.owner_references.is_none());
}
