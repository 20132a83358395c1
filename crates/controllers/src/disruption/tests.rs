use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::core::*;

fn pod(name: &str, ready: bool, controller: Option<(&str, i32)>) -> PodView {
    PodView {
        name: name.into(),
        ready,
        terminating: false,
        controller: controller.map(|(u, s)| (u.into(), s)),
    }
}

#[test]
fn min_available_count_over_a_deployment() {
    let pods: Vec<PodView> = (0..3)
        .map(|i| pod(&format!("p{i}"), true, Some(("d", 3))))
        .collect();
    let (expected, desired) =
        expected_and_desired(&Rule::MinAvailable(Amount::Int(2)), &pods).expect("rule");
    assert_eq!((expected, desired), (3, 2));
    let c = counts(current_healthy(&pods, &BTreeMap::new()), desired, expected);
    assert_eq!(c.disruptions_allowed, 1);
}

#[test]
fn percentages_use_the_controller_scale_and_round_up() {
    // Two of five replicas exist; the Deployment wants 5.
    let pods = vec![
        pod("a", true, Some(("d", 5))),
        pod("b", false, Some(("d", 5))),
    ];
    assert_eq!(
        expected_and_desired(&Rule::MinAvailable(Amount::Percent("50%".into())), &pods),
        Ok((5, 3))
    );
    assert_eq!(
        expected_and_desired(&Rule::MaxUnavailable(Amount::Percent("30%".into())), &pods),
        Ok((5, 3))
    );
    // Bare pods count one each.
    let bare = vec![pod("x", true, None), pod("y", true, None)];
    assert_eq!(
        expected_and_desired(&Rule::MaxUnavailable(Amount::Int(1)), &bare),
        Ok((2, 1))
    );
    assert!(expected_and_desired(&Rule::MinAvailable(Amount::Percent("x".into())), &bare).is_err());
}

#[test]
fn recent_disruptions_do_not_count_and_expire() {
    let now = Timestamp::from_second(1_000_000).expect("time");
    let recent = Timestamp::from_second(1_000_000 - 30).expect("time");
    let old = Timestamp::from_second(1_000_000 - 300).expect("time");
    let pods = vec![
        pod("a", true, None),
        pod("b", true, None),
        pod("c", true, None),
    ];
    let recorded: BTreeMap<String, Timestamp> = [
        ("a".to_string(), recent),
        ("b".to_string(), old),
        ("gone".to_string(), recent),
    ]
    .into();
    let (standing, recheck) = standing_disruptions(&recorded, &pods, now);
    assert_eq!(standing.keys().collect::<Vec<_>>(), vec!["a"]);
    let recheck = recheck.expect("recheck");
    assert!(
        recheck > Duration::from_secs(89) && recheck <= Duration::from_secs(91),
        "{recheck:?}"
    );
    assert_eq!(current_healthy(&pods, &standing), 2);
    assert_eq!(counts(2, 2, 0).disruptions_allowed, 0);
}
