//! Unit tests of the Deployment controller's pure core.

use super::*;
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetCondition, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).expect("timestamp")
}

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn deployment(replicas: i32, image: &str) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            template: template(image),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::String("25%".into())),
                }),
            }),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: None,
    }
}

/// The ReplicaSet a first sync would create, as the server returns it, with a status.
fn existing_rs(d: &Deployment, spec: i32, available: i32, created: i64) -> Arc<ReplicaSet> {
    let plan = plan(d, &[], &HashMap::new(), ts(created));
    let mut rs = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::CreateReplicaSet(rs) => Some((**rs).clone()),
            _ => None,
        })
        .expect("a created ReplicaSet");
    rs.metadata.uid = Some(format!("uid-{created}"));
    rs.metadata.creation_timestamp = Some(Time(ts(created)));
    rs.metadata.generation = Some(1);
    rs.spec.as_mut().expect("spec").replicas = Some(spec);
    rs.status = Some(ReplicaSetStatus {
        replicas: spec,
        ready_replicas: Some(available),
        available_replicas: Some(available),
        observed_generation: Some(1),
        ..Default::default()
    });
    Arc::new(rs)
}

fn with_rev(rs: Arc<ReplicaSet>, rev: &str) -> Arc<ReplicaSet> {
    let mut rs = (*rs).clone();
    rs.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION.into(), rev.into());
    Arc::new(rs)
}

fn updates(p: &Plan) -> Vec<(String, i32)> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::UpdateReplicaSet(rs) | Action::CreateReplicaSet(rs) => Some((
                rs.metadata.name.clone().unwrap_or_default(),
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1),
            )),
            _ => None,
        })
        .collect()
}

fn status_of(p: &Plan) -> Option<DeploymentStatus> {
    p.actions.iter().find_map(|a| match a {
        Action::PatchDeployment { status, .. } => status.as_deref().cloned(),
        _ => None,
    })
}

fn events(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Event { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn hash_is_stable_safe_and_collision_sensitive() {
    let t = template("nginx:1.25");
    let h = compute_hash(&t, None);
    assert_eq!(h, compute_hash(&t, None));
    assert!(
        h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{h}"
    );
    assert_ne!(h, compute_hash(&t, Some(1)));
    assert_ne!(h, compute_hash(&template("nginx:1.26"), None));
    let mut labeled = t.clone();
    labeled
        .metadata
        .as_mut()
        .and_then(|m| m.labels.as_mut())
        .expect("labels")
        .insert(HASH_LABEL.into(), h);
    assert!(equal_ignore_hash(&t, &labeled));
    assert!(!equal_ignore_hash(&t, &template("x")));
}

#[test]
fn fenceposts_round_surge_up_and_unavailable_down() {
    assert_eq!(
        scaled_value(&IntOrString::String("25%".into()), 10, true),
        3
    );
    assert_eq!(
        scaled_value(&IntOrString::String("25%".into()), 10, false),
        2
    );
    assert_eq!(scaled_value(&IntOrString::Int(4), 10, false), 4);
    let d = deployment(10, "a");
    assert_eq!(fenceposts(&d), (3, 2));
    assert_eq!(max_unavailable(&d), 2);
    // Both resolving to zero: maxUnavailable becomes 1.
    let d = deployment(1, "a");
    assert_eq!(fenceposts(&d), (1, 0));
    let mut d = deployment(2, "a");
    if let Some(ru) = d
        .spec
        .as_mut()
        .and_then(|s| s.strategy.as_mut())
        .and_then(|s| s.rolling_update.as_mut())
    {
        ru.max_surge = Some(IntOrString::Int(0));
        ru.max_unavailable = Some(IntOrString::String("10%".into()));
    }
    assert_eq!(fenceposts(&d), (0, 1));
}

#[test]
fn first_sync_creates_the_replicaset_with_revision_1() {
    let d = deployment(10, "nginx:1.25");
    let p = plan(&d, &[], &HashMap::new(), ts(100));
    let Some(Action::CreateReplicaSet(rs)) = p.actions.first() else {
        panic!("{:?}", p.actions)
    };
    let hash = compute_hash(&d.spec.as_ref().expect("spec").template, None);
    assert_eq!(
        rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    let ann = rs.metadata.annotations.as_ref().expect("annotations");
    assert_eq!(ann[REVISION], "1");
    assert_eq!(ann[DESIRED_REPLICAS], "10");
    assert_eq!(ann[MAX_REPLICAS], "13");
    assert_eq!(rs.spec.as_ref().and_then(|s| s.replicas), Some(10));
    let sel = &rs.spec.as_ref().expect("spec").selector;
    assert_eq!(sel.match_labels.as_ref().expect("labels")[HASH_LABEL], hash);
    let owner = &rs.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    assert_eq!(
        events(&p),
        [format!("Scaled up replica set web-{hash} from 0 to 10")]
    );
    let Some(Action::PatchDeployment { revision, status }) = p.actions.last() else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(revision.as_deref(), Some("1"));
    let status = status.as_ref().expect("status");
    let prog = get_condition(status, "Progressing").expect("Progressing");
    assert_eq!(prog.reason.as_deref(), Some("NewReplicaSetCreated"));
    let avail = get_condition(status, "Available").expect("Available");
    assert_eq!(
        (avail.status.as_str(), avail.reason.as_deref()),
        ("False", Some("MinimumReplicasUnavailable"))
    );
}

#[test]
fn rolling_update_surges_then_scales_down_within_max_unavailable() {
    let old_d = deployment(10, "v1");
    let old = existing_rs(&old_d, 10, 10, 100);
    let mut d = deployment(10, "v2");
    d.metadata.generation = Some(2);
    // Step 1: the new ReplicaSet gets maxSurge (3) pods; old ones may drop by maxUnavailable (2).
    let p = plan(&d, std::slice::from_ref(&old), &HashMap::new(), ts(200));
    let up = updates(&p);
    let new_name = up[0].0.clone();
    assert_eq!(up[0].1, 3);
    assert_eq!(
        p.actions
            .iter()
            .find_map(|a| match a {
                Action::CreateReplicaSet(rs) => rs
                    .metadata
                    .annotations
                    .as_ref()
                    .map(|a| a[REVISION].clone()),
                _ => None,
            })
            .as_deref(),
        Some("2")
    );
    // Step 2: new ReplicaSet exists with 3 unavailable pods: old scaled 10 → 8 (13 − 8 − 3 = 2).
    let new = with_rev(existing_rs(&d, 3, 0, 200), "2");
    let p = plan(&d, &[old.clone(), new.clone()], &HashMap::new(), ts(201));
    assert_eq!(
        updates(&p),
        [(old.metadata.name.clone().unwrap_or_default(), 8)]
    );
    assert!(
        events(&p)[0].starts_with("Scaled down replica set web-"),
        "{:?}",
        events(&p)
    );
    // A stale old status (10 available while scaled to 8) must not allow more scale-down.
    let mut stale = (*old).clone();
    stale.spec.as_mut().expect("spec").replicas = Some(8);
    let stale = Arc::new(stale);
    let new_ready = with_rev(existing_rs(&d, 3, 0, 200), "2");
    let p = plan(&d, &[stale.clone(), new_ready], &HashMap::new(), ts(202));
    // New RS may grow to 13 − 8 − 3 = +2 → 5; nothing scaled down.
    assert_eq!(updates(&p), [(new_name.clone(), 5)]);
    // Step 3: new ReplicaSet at 5 all available: old at 8 (10 available stale) → 8+5 = 13 total,
    // min available 8, available counted 8 + 5 = 13 → scale down by 5 to 3.
    let new5 = with_rev(existing_rs(&d, 5, 5, 200), "2");
    let p = plan(&d, &[stale, new5], &HashMap::new(), ts(203));
    assert_eq!(
        updates(&p),
        [(old.metadata.name.clone().unwrap_or_default(), 3)]
    );
}

#[test]
fn complete_rollout_sets_conditions_and_cleans_history() {
    let mut d = deployment(3, "v3");
    d.spec.as_mut().expect("spec").revision_history_limit = Some(1);
    let mut old1 = (*existing_rs(&deployment(3, "v1"), 0, 0, 100)).clone();
    old1.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION.into(), "1".into());
    old1.status = Some(ReplicaSetStatus {
        observed_generation: Some(1),
        ..Default::default()
    });
    let mut old2 = (*existing_rs(&deployment(3, "v2"), 0, 0, 200)).clone();
    old2.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION.into(), "2".into());
    old2.status = Some(ReplicaSetStatus {
        observed_generation: Some(1),
        ..Default::default()
    });
    let mut cur = (*existing_rs(&d, 3, 3, 300)).clone();
    cur.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION.into(), "3".into());
    let rss = [
        Arc::new(old1.clone()),
        Arc::new(old2),
        Arc::new(cur.clone()),
    ];
    let p = plan(&d, &rss, &HashMap::new(), ts(400));
    let status = status_of(&p).expect("status");
    assert!(deployment_complete(&d, &status));
    let prog = get_condition(&status, "Progressing").expect("Progressing");
    assert_eq!(prog.reason.as_deref(), Some("NewReplicaSetAvailable"));
    assert_eq!(
        prog.message.as_deref(),
        Some(
            format!(
                "ReplicaSet {:?} has successfully progressed.",
                cur.metadata.name.clone().unwrap_or_default()
            )
            .as_str()
        )
    );
    // The status was not complete before this sync: cleanup waits for the next one.
    assert!(
        !p.actions
            .iter()
            .any(|a| matches!(a, Action::DeleteReplicaSet { .. }))
    );
    d.status = Some(status);
    d.metadata.annotations = Some([(REVISION.to_string(), "3".to_string())].into());
    let p = plan(&d, &rss, &HashMap::new(), ts(401));
    assert_eq!(
        p.actions,
        [Action::DeleteReplicaSet {
            name: old1.metadata.name.clone().unwrap_or_default(),
            uid: "uid-100".into()
        }]
    );
}

#[test]
fn scaling_event_is_proportional() {
    let old_d = deployment(10, "v1");
    let d10 = deployment(10, "v2");
    // Mid-rollout: old 8, new 5 (max 13); scale the Deployment to 20 (max 25).
    let old = existing_rs(&old_d, 8, 8, 100);
    let mut new = (*existing_rs(&d10, 5, 5, 200)).clone();
    new.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION.into(), "2".into());
    let mut d = deployment(20, "v2");
    d.metadata.annotations = Some([(REVISION.to_string(), "2".to_string())].into());
    let p = plan(
        &d,
        &[old.clone(), Arc::new(new.clone())],
        &HashMap::new(),
        ts(300),
    );
    let mut up = updates(&p);
    up.sort();
    let mut want = vec![
        (old.metadata.name.clone().unwrap_or_default(), 15),
        (new.metadata.name.clone().unwrap_or_default(), 10),
    ];
    want.sort();
    // 12 to add: 8·25/13 ≈ 15 (+7), 5·25/13 ≈ 10 (+5).
    assert_eq!(up, want);
}

#[test]
fn recreate_scales_down_waits_for_pods_then_creates() {
    let mut old_d = deployment(3, "v1");
    old_d.spec.as_mut().expect("spec").strategy = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    let mut d = old_d.clone();
    d.spec.as_mut().expect("spec").template = template("v2");
    let old = existing_rs(&old_d, 3, 3, 100);
    let p = plan(&d, std::slice::from_ref(&old), &HashMap::new(), ts(200));
    assert_eq!(
        updates(&p),
        [(old.metadata.name.clone().unwrap_or_default(), 0)]
    );
    // Scaled to 0 but a pod still runs: nothing created.
    let mut zero = (*old).clone();
    zero.spec.as_mut().expect("spec").replicas = Some(0);
    zero.status = Some(ReplicaSetStatus::default());
    let zero = Arc::new(zero);
    let running = Arc::new(Pod::default());
    let pods: HashMap<String, Vec<Arc<Pod>>> = [("uid-100".to_string(), vec![running])].into();
    let p = plan(&d, std::slice::from_ref(&zero), &pods, ts(201));
    assert!(updates(&p).is_empty(), "{:?}", p.actions);
    // No old pods: the new ReplicaSet is created at full size.
    let p = plan(&d, std::slice::from_ref(&zero), &HashMap::new(), ts(202));
    let up = updates(&p);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 3);
}

#[test]
fn paused_deployment_makes_no_replicaset_and_says_so() {
    let old = existing_rs(&deployment(3, "v1"), 3, 3, 100);
    let mut d = deployment(3, "v2");
    d.spec.as_mut().expect("spec").paused = Some(true);
    let p = plan(&d, std::slice::from_ref(&old), &HashMap::new(), ts(200));
    assert!(updates(&p).is_empty(), "{:?}", p.actions);
    let status = status_of(&p).expect("status");
    let prog = get_condition(&status, "Progressing").expect("Progressing");
    assert_eq!(
        (prog.status.as_str(), prog.reason.as_deref()),
        ("Unknown", Some("DeploymentPaused"))
    );
}

#[test]
fn progress_deadline_times_out_and_requeues() {
    let d0 = deployment(3, "v1");
    let rs = existing_rs(&d0, 3, 0, 100);
    let mut d = d0.clone();
    d.spec.as_mut().expect("spec").progress_deadline_seconds = Some(60);
    let mut status = DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(3),
        updated_replicas: Some(3),
        unavailable_replicas: Some(3),
        ..Default::default()
    };
    set_condition(
        &mut status,
        new_condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            "x".into(),
            ts(100),
        ),
    );
    d.status = Some(status);
    let p = plan(&d, std::slice::from_ref(&rs), &HashMap::new(), ts(130));
    assert_eq!(p.requeue_after, Some(Duration::from_secs(31)));
    let p = plan(&d, std::slice::from_ref(&rs), &HashMap::new(), ts(200));
    let status = status_of(&p).expect("status");
    let prog = get_condition(&status, "Progressing").expect("Progressing");
    assert_eq!(
        (prog.status.as_str(), prog.reason.as_deref()),
        ("False", Some("ProgressDeadlineExceeded"))
    );
}

#[test]
fn replica_failure_is_copied_from_the_replicaset() {
    let d = deployment(3, "v1");
    let mut rs = (*existing_rs(&d, 3, 0, 100)).clone();
    if let Some(s) = rs.status.as_mut() {
        s.conditions = Some(vec![ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some("quota".into()),
            last_transition_time: Some(Time(ts(100))),
        }]);
    }
    let p = plan(&d, &[Arc::new(rs)], &HashMap::new(), ts(200));
    let status = status_of(&p).expect("status");
    let c = get_condition(&status, "ReplicaFailure").expect("ReplicaFailure");
    assert_eq!(c.reason.as_deref(), Some("FailedCreate"));
}
