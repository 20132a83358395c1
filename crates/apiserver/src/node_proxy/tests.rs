use super::*;
use serde_json::json;

fn pod(containers: &[&str], init: &[&str]) -> Value {
    let list =
        |names: &[&str]| -> Vec<Value> { names.iter().map(|n| json!({"name": n})).collect() };
    json!({
        "metadata": {"name": "web"},
        "spec": {"containers": list(containers), "initContainers": list(init)},
    })
}

#[test]
fn the_only_container_is_the_default() {
    assert_eq!(choose_container(&pod(&["app"], &[]), None).unwrap(), "app");
    assert_eq!(
        choose_container(&pod(&["a", "b"], &["init"]), Some("init")).unwrap(),
        "init"
    );
}

#[test]
fn several_containers_need_a_name_as_upstream_says() {
    let err = choose_container(&pod(&["a", "b"], &[]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a container name must be specified for pod web, choose one of: [a b]"
    );
    let err = choose_container(&pod(&["a", "b"], &["i"]), None).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("or one of the init containers: [i]")
    );
    let err = choose_container(&pod(&["a"], &[]), Some("zzz")).unwrap_err();
    assert_eq!(err.to_string(), "container zzz is not valid for pod web");
}

#[test]
fn logs_of_a_waiting_container_are_refused() {
    let mut p = pod(&["c"], &[]);
    assert_eq!(
        check_log_status(&p, "c", false).unwrap_err().to_string(),
        "container \"c\" in pod \"web\" is waiting to start: ContainerCreating"
    );
    p["status"] = json!({"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]});
    assert!(
        check_log_status(&p, "c", false)
            .unwrap_err()
            .to_string()
            .ends_with("waiting to start: ImagePullBackOff")
    );
    assert!(check_log_status(&p, "c", true).is_err());
    p["status"] = json!({"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}]});
    assert!(check_log_status(&p, "c", false).is_ok());
    assert!(check_log_status(&p, "c", true).is_ok());
    p["status"] = json!({"containerStatuses": [{"name": "c", "state": {"running": {}}}]});
    assert!(check_log_status(&p, "c", false).is_ok());
    assert_eq!(
        check_log_status(&p, "c", true).unwrap_err().to_string(),
        "previous terminated container \"c\" in pod \"web\" not found"
    );
}

#[test]
fn log_options_are_validated() {
    let q = |s: &str| query_pairs(Some(s)).unwrap();
    assert!(validate_log_options(&q("tailLines=3&limitBytes=10&sinceSeconds=5")).is_ok());
    assert!(validate_log_options(&q("tailLines=-1")).is_err());
    assert!(validate_log_options(&q("limitBytes=0")).is_err());
    assert!(validate_log_options(&q("sinceSeconds=0")).is_err());
    assert!(validate_log_options(&q("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")).is_err());
    assert!(validate_log_options(&q("tailLines=x")).is_err());
}

#[test]
fn kubelet_address_prefers_internal_ip_and_the_advertised_port() {
    let node = json!({
        "metadata": {"name": "n1"},
        "status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "ExternalIP", "address": "1.2.3.4"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 12345}},
        }
    });
    assert_eq!(
        kubelet_address(&node).unwrap(),
        ("10.0.0.5".parse().unwrap(), 12345)
    );
    let bare = json!({"metadata": {"name": "n2"}, "status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]}});
    assert_eq!(
        kubelet_address(&bare).unwrap(),
        ("1.2.3.4".parse().unwrap(), 10250)
    );
    assert!(kubelet_address(&json!({"metadata": {"name": "n3"}})).is_err());
}

#[test]
fn kubelet_paths() {
    let pairs = query_pairs(Some(
        "container=c&command=sh&command=-c&command=echo+hi&stdout=true",
    ))
    .unwrap();
    assert_eq!(
        kubelet_path("exec", "ns", "p", "c", &pairs),
        "/exec/ns/p/c?command=sh&command=-c&command=echo+hi&stdout=true"
    );
    assert_eq!(
        kubelet_path("log", "ns", "p", "c", &[]),
        "/containerLogs/ns/p/c"
    );
    assert_eq!(
        kubelet_path(
            "portforward",
            "ns",
            "p",
            "",
            &query_pairs(Some("ports=80")).unwrap()
        ),
        "/portForward/ns/p?ports=80"
    );
}

#[test]
fn node_proxy_paths() {
    assert_eq!(
        node_proxy_target("/api/v1/nodes/n1/proxy/stats/summary"),
        Some(("n1", "/stats/summary".to_string()))
    );
    assert_eq!(
        node_proxy_target("/api/v1/nodes/n1/proxy"),
        Some(("n1", "/".to_string()))
    );
    assert_eq!(node_proxy_target("/api/v1/nodes/n1/status"), None);
    assert_eq!(node_proxy_target("/api/v1/nodes/n1/proxyx"), None);
}
