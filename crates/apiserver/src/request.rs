//! Turning a method + path + query into a [`RequestInfo`]: which resource, which verb.
//! Pure; mirrors upstream's RequestInfoResolver.

use axum::http;

/// What an API request is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A path outside the resource tree (`/healthz`, `/version`, `/api`, `/apis/apps`, …).
    NonResource,
    /// A resource request.
    Resource(ResourceRequest),
}

/// A request on a resource collection or object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

/// The Kubernetes verb of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Subresources of `namespaces/<name>/…` (everything else after a namespace name is a resource).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Classify a request. `watch_param` is the value of `?watch=`.
pub fn resolve(method: &http::Method, path: &str, watch_param: bool) -> Target {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Target::NonResource,
    };
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        watch_path = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        } else {
            // `namespaces/<name>[/status]`: the namespace object itself.
            namespace = None;
        }
    }
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => return Target::NonResource,
    };
    let verb = match *method {
        http::Method::GET | http::Method::HEAD => {
            if watch_path || (watch_param && subresource.is_none()) {
                Verb::Watch
            } else if name.is_some() {
                Verb::Get
            } else {
                Verb::List
            }
        }
        http::Method::POST => Verb::Create,
        http::Method::PUT => Verb::Update,
        http::Method::PATCH => Verb::Patch,
        http::Method::DELETE => {
            if name.is_some() {
                Verb::Delete
            } else {
                Verb::DeleteCollection
            }
        }
        _ => return Target::NonResource,
    };
    Target::Resource(ResourceRequest {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource: resource.to_string(),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
        verb,
    })
}

#[cfg(test)]
mod tests;
