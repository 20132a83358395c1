use axum::http::Method;

use super::*;
use crate::request::resolve;

fn user(name: &str, groups: &[&str]) -> Caller {
    Caller::User(User {
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    })
}

fn node() -> Caller {
    user("system:node:n1", &["system:nodes", "system:authenticated"])
}

fn may(caller: &Caller, method: Method, path: &str) -> bool {
    let watch = path.contains("watch=true");
    let path = path.split('?').next().unwrap_or(path);
    allowed(caller, path, &resolve(&method, path, watch))
}

#[test]
fn nodes_may_do_what_a_kubelet_does() {
    let node = node();
    for (method, path) in [
        (Method::GET, "/api/v1/pods?watch=true"),
        (Method::GET, "/api/v1/pods"),
        (Method::GET, "/api/v1/namespaces/default/pods/web"),
        (Method::GET, "/api/v1/services"),
        (Method::GET, "/api/v1/endpoints"),
        (Method::GET, "/api/v1/configmaps?watch=true"),
        (Method::GET, "/api/v1/secrets"),
        (Method::GET, "/api/v1/persistentvolumeclaims"),
        (Method::GET, "/api/v1/persistentvolumes"),
        (Method::GET, "/api/v1/nodes/n1"),
        (Method::POST, "/api/v1/nodes"),
        (Method::PATCH, "/api/v1/nodes/n1"),
        (Method::PATCH, "/api/v1/nodes/n1/status"),
        (Method::PUT, "/api/v1/nodes/n1/status"),
        (
            Method::POST,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        ),
        (
            Method::PATCH,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
        ),
        (Method::PATCH, "/api/v1/namespaces/default/pods/web/status"),
        (Method::DELETE, "/api/v1/namespaces/default/pods/web"),
        (Method::POST, "/api/v1/namespaces/default/pods"),
        (Method::POST, "/api/v1/namespaces/default/events"),
        (Method::PATCH, "/api/v1/namespaces/default/events/e1"),
        (
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        ),
        (Method::GET, "/api"),
        (Method::GET, "/apis"),
        (Method::GET, "/version"),
        (Method::GET, "/openapi/v3"),
    ] {
        assert!(may(&node, method.clone(), path), "{method} {path}");
    }
}

#[test]
fn nodes_may_not_administer_the_cluster() {
    let node = node();
    for (method, path) in [
        (Method::POST, "/api/v1/namespaces"),
        (Method::DELETE, "/api/v1/namespaces/default"),
        (Method::POST, "/apis/apps/v1/namespaces/default/deployments"),
        (Method::GET, "/apis/apps/v1/deployments"),
        (Method::POST, "/api/v1/namespaces/default/secrets"),
        (Method::PUT, "/api/v1/namespaces/default/configmaps/c"),
        (Method::PUT, "/api/v1/namespaces/default/pods/web"),
        (Method::PATCH, "/api/v1/namespaces/default/pods/web"),
        (Method::DELETE, "/api/v1/namespaces/default/pods"),
        (
            Method::POST,
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
        ),
        (
            Method::POST,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        ),
        (Method::DELETE, "/api/v1/nodes"),
    ] {
        assert!(!may(&node, method.clone(), path), "{method} {path}");
    }
}

#[test]
fn masters_and_other_users_are_not_limited_anonymous_only_reads_public_paths() {
    let admin = user("system:admin", &["system:masters"]);
    let node_admin = user("system:node:n1", &["system:nodes", "system:masters"]);
    let someone = user("alice", &["system:authenticated"]);
    for caller in [&admin, &node_admin, &someone] {
        assert!(may(caller, Method::POST, "/api/v1/namespaces"));
    }
    assert!(may(&Caller::Anonymous, Method::GET, "/cacerts"));
    assert!(may(&Caller::Anonymous, Method::GET, "/readyz"));
    assert!(!may(&Caller::Anonymous, Method::GET, "/api/v1/pods"));
    assert!(!may(&Caller::InvalidToken, Method::GET, "/version"));
}
