//! Unit tests of the ReplicaSet controller's pure core.

use super::*;
use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, Time};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).expect("timestamp")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(name: &str, node: &str, phase: &str, ready: Option<i64>, created: i64) -> Arc<Pod> {
    Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            labels: Some(labels(&[("app", "web")])),
            creation_timestamp: Some(Time(ts(created))),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(ts(t))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    })
}

#[test]
fn selectors_match_labels_and_expressions() {
    let s = Selector::from_label_selector(&LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![
            LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            },
            LabelSelectorRequirement {
                key: "canary".into(),
                operator: "DoesNotExist".into(),
                values: None,
            },
        ]),
    })
    .expect("selector");
    assert!(s.matches(Some(&labels(&[("app", "web"), ("tier", "b")]))));
    assert!(!s.matches(Some(&labels(&[("app", "web"), ("tier", "c")]))));
    assert!(!s.matches(Some(&labels(&[
        ("app", "web"),
        ("tier", "a"),
        ("canary", "1")
    ]))));
    assert!(!s.matches(None));
    assert!(Selector::default().matches(None));
    let bad = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "k".into(),
            operator: "Bogus".into(),
            values: None,
        }]),
        ..Default::default()
    };
    assert!(Selector::from_label_selector(&bad).is_err());
}

#[test]
fn claim_adopts_orphans_releases_strays_ignores_others() {
    let sel = Selector::from_map(&labels(&[("app", "web")]));
    let mut owned = (*pod("owned", "", "Running", None, 0)).clone();
    owned.metadata.owner_references =
        Some(vec![controller_ref("apps/v1", "ReplicaSet", "rs", "me")]);
    let mut stray = owned.clone();
    stray.metadata.name = Some("stray".into());
    stray.metadata.labels = Some(labels(&[("app", "other")]));
    let mut foreign = owned.clone();
    foreign.metadata.name = Some("foreign".into());
    foreign.metadata.owner_references =
        Some(vec![controller_ref("apps/v1", "ReplicaSet", "x", "other")]);
    let orphan = (*pod("orphan", "", "Running", None, 0)).clone();
    let mut dying = orphan.clone();
    dying.metadata.name = Some("dying".into());
    dying.metadata.deletion_timestamp = Some(Time(ts(5)));
    let all = vec![owned, stray, foreign, orphan, dying];
    let names = |v: &[Pod]| {
        v.iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let c = claim("me", false, &sel, all.clone(), |p| &p.metadata);
    assert_eq!(names(&c.owned), ["owned"]);
    assert_eq!(names(&c.adopt), ["orphan"]);
    assert_eq!(names(&c.release), ["stray"]);
    // A deleting owner neither adopts nor releases.
    let c = claim("me", true, &sel, all, |p| &p.metadata);
    assert_eq!(names(&c.owned), ["owned"]);
    assert!(c.adopt.is_empty() && c.release.is_empty());
}

#[test]
fn counts_and_availability_honour_min_ready_seconds() {
    let pods = vec![
        pod("a", "n", "Running", Some(100), 0),
        pod("b", "n", "Running", Some(95), 0),
        pod("c", "n", "Pending", None, 0),
    ];
    let tl = labels(&[("app", "web")]);
    let c = count(&pods, Some(&tl), 0, ts(101));
    assert_eq!(
        c,
        Counts {
            replicas: 3,
            fully_labeled: 3,
            ready: 2,
            available: 2
        }
    );
    let c = count(&pods, Some(&tl), 3, ts(101));
    assert_eq!(c.available, 1);
    assert_eq!(
        becomes_available_in(&pods[0], 3, ts(101)),
        Some(Duration::from_secs(3))
    );
    let more = labels(&[("app", "web"), ("x", "y")]);
    assert_eq!(count(&pods, Some(&more), 0, ts(101)).fully_labeled, 0);
    assert!(!is_active(&Pod {
        status: Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        }),
        ..Default::default()
    }));
}

#[test]
fn slow_start_doubles() {
    assert_eq!(slow_start_batches(10, 1), [1, 2, 4, 3]);
    assert_eq!(slow_start_batches(1, 1), [1]);
    assert!(slow_start_batches(0, 1).is_empty());
    assert_eq!(slow_start_batches(500, 1).iter().sum::<usize>(), 500);
}

#[test]
fn deletion_prefers_unassigned_pending_unready_young() {
    let now = ts(10_000);
    let pods = vec![
        pod("running-old", "n1", "Running", Some(100), 50),
        pod("unassigned", "", "Pending", None, 9_000),
        pod("pending", "n1", "Pending", None, 9_000),
        pod("not-ready", "n1", "Running", None, 60),
        pod("running-young", "n1", "Running", Some(9_990), 9_980),
    ];
    let order: Vec<String> = pods_to_delete(pods.clone(), &[], 5, now)
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    // diff == len: no sorting needed, every pod goes.
    assert_eq!(order.len(), 5);
    let order: Vec<String> = pods_to_delete(pods, &[], 4, now)
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        order,
        ["unassigned", "pending", "not-ready", "running-young"]
    );
}

#[test]
fn deletion_prefers_doubled_up_nodes() {
    let now = ts(10_000);
    let a = pod("a", "busy", "Running", Some(100), 50);
    let b = pod("b", "quiet", "Running", Some(100), 50);
    let related = vec![
        a.clone(),
        pod("a2", "busy", "Running", Some(100), 50),
        b.clone(),
    ];
    let out = pods_to_delete(vec![b, a], &related, 1, now);
    assert_eq!(out[0].metadata.name.as_deref(), Some("a"));
}

#[test]
fn expectations_wait_for_the_watch() {
    let mut e = Expectations::default();
    let t0 = Instant::now();
    assert!(e.satisfied("ns/rs", |_| Seen::Absent, t0));
    e.expect_creations("ns/rs", ["p1".to_string(), "p2".to_string()], t0);
    assert!(!e.satisfied(
        "ns/rs",
        |n| if n == "p1" {
            Seen::Present
        } else {
            Seen::Absent
        },
        t0
    ));
    assert!(e.satisfied("ns/rs", |_| Seen::Present, t0));
    e.expect_deletions("ns/rs", ["p1".to_string()], t0);
    assert!(!e.satisfied("ns/rs", |_| Seen::Present, t0));
    assert!(e.satisfied("ns/rs", |_| Seen::Deleting, t0));
    // A created pod deleted before it was seen, and the timeout.
    e.expect_creations("ns/rs", ["p3".to_string()], t0);
    e.observe_deleted("ns/rs", "p3");
    assert!(e.satisfied("ns/rs", |_| Seen::Absent, t0));
    e.expect_creations("ns/rs", ["p4".to_string()], t0);
    assert!(e.satisfied(
        "ns/rs",
        |_| Seen::Absent,
        t0 + EXPECTATIONS_TIMEOUT + Duration::from_secs(1)
    ));
}

#[test]
fn replica_failure_condition_set_and_cleared() {
    let set = failure_conditions(&[], Some("quota exceeded"), 1, 3, ts(5));
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].reason.as_deref(), Some("FailedCreate"));
    assert_eq!(set[0].message.as_deref(), Some("quota exceeded"));
    // Kept as is while failing, removed after a successful sync.
    assert_eq!(failure_conditions(&set, Some("other"), 1, 3, ts(9)), set);
    assert!(failure_conditions(&set, None, 3, 3, ts(9)).is_empty());
    assert_eq!(
        failure_conditions(&[], Some("x"), 5, 3, ts(5))[0]
            .reason
            .as_deref(),
        Some("FailedDelete")
    );
}
