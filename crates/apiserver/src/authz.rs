//! Authorization: may this user do this? Until RBAC arrives every authenticated user may do
//! everything, except nodes (group `system:nodes`, the identity of kubelet client
//! certificates), which get what a kubelet needs — upstream's `system:node` role. Anonymous
//! callers reach only the health and version endpoints and `/cacerts`.
//!
//! Gap: upstream's Node authorizer also limits each node to its own Node and Lease, the pods
//! bound to it and the secrets, configmaps and volumes those pods use; here every node may
//! read all of them and write any Node.

use crate::authn::{Caller, User};
use crate::request::{Target, Verb};

/// Paths anonymous callers may read.
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/cacerts"];

/// The group of node client certificates.
const NODES_GROUP: &str = "system:nodes";
/// The group that may do everything, whatever other groups it is in.
const MASTERS_GROUP: &str = "system:masters";

/// One permission: `verbs` on `resources` (`plural` or `plural/subresource`) of API `group`,
/// in `namespace` only when given.
struct Rule {
    group: &'static str,
    resources: &'static [&'static str],
    verbs: &'static [Verb],
    namespace: Option<&'static str>,
}

const READ: &[Verb] = &[Verb::Get, Verb::List, Verb::Watch];
const CREATE: &[Verb] = &[Verb::Create];
const WRITE: &[Verb] = &[Verb::Create, Verb::Update, Verb::Patch];
const STATUS: &[Verb] = &[Verb::Get, Verb::Update, Verb::Patch];
const OWN: &[Verb] = &[
    Verb::Get,
    Verb::List,
    Verb::Watch,
    Verb::Create,
    Verb::Update,
    Verb::Patch,
    Verb::Delete,
];

const fn rule(
    group: &'static str,
    resources: &'static [&'static str],
    verbs: &'static [Verb],
) -> Rule {
    Rule {
        group,
        resources,
        verbs,
        namespace: None,
    }
}

/// What a node may do: upstream's `system:node` ClusterRole (plus the self reviews every
/// authenticated user gets from `system:basic-user`).
const NODE_RULES: &[Rule] = &[
    rule(
        "",
        &[
            "pods",
            "services",
            "endpoints",
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "persistentvolumes",
        ],
        READ,
    ),
    rule("", &["nodes"], OWN),
    rule("", &["nodes/status"], STATUS),
    // Mirror pods of static pods, and the final deletion of terminated pods.
    rule("", &["pods"], &[Verb::Create, Verb::Delete]),
    rule(
        "",
        &["pods/status", "persistentvolumeclaims/status"],
        STATUS,
    ),
    rule("", &["pods/eviction", "serviceaccounts/token"], CREATE),
    rule("", &["events"], WRITE),
    rule("events.k8s.io", &["events"], WRITE),
    Rule {
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: OWN,
        namespace: Some("kube-node-lease"),
    },
    rule("discovery.k8s.io", &["endpointslices"], READ),
    rule("node.k8s.io", &["runtimeclasses"], READ),
    rule("storage.k8s.io", &["csidrivers", "volumeattachments"], READ),
    rule("storage.k8s.io", &["csinodes"], OWN),
    rule(
        "certificates.k8s.io",
        &["certificatesigningrequests"],
        &[Verb::Get, Verb::List, Verb::Watch, Verb::Create],
    ),
    rule(
        "authentication.k8s.io",
        &["tokenreviews", "selfsubjectreviews"],
        CREATE,
    ),
    rule(
        "authorization.k8s.io",
        &[
            "subjectaccessreviews",
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
        ],
        CREATE,
    ),
];

/// Whether the caller may make the request for `target` on `path`.
pub fn allowed(caller: &Caller, path: &str, target: &Target) -> bool {
    match caller {
        Caller::User(user) if is_node(user) => node_allowed(target),
        Caller::User(_) => true,
        Caller::Anonymous => PUBLIC_PATHS
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'))),
        Caller::InvalidToken => false,
    }
}

/// Nodes are limited to [`NODE_RULES`] unless they are also masters.
fn is_node(user: &User) -> bool {
    user.groups.iter().any(|g| g == NODES_GROUP) && !user.groups.iter().any(|g| g == MASTERS_GROUP)
}

/// Whether a node may make the request: every non-resource read (discovery, OpenAPI, version,
/// health), and the resource requests [`NODE_RULES`] allow.
pub fn node_allowed(target: &Target) -> bool {
    let Target::Resource(request) = target else {
        return true;
    };
    let resource = match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    };
    NODE_RULES.iter().any(|rule| {
        rule.group == request.group
            && rule.resources.contains(&resource.as_str())
            && rule.verbs.contains(&request.verb)
            && rule
                .namespace
                .is_none_or(|ns| request.namespace.as_deref() == Some(ns))
    })
}

#[cfg(test)]
mod tests;
