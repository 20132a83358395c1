//! Discovery documents, legacy and aggregated (apidiscovery.k8s.io v2 and v2beta1).
//! Built once at start-up from the registry; requests only pick the right bytes.

use std::collections::HashMap;

use bytes::Bytes;
use k3rs_api::registry::{self, ResourceInfo};
use serde_json::{Value, json};

/// A subresource served beyond status/scale.
struct ExtraSubresource {
    resource: &'static str,
    name: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
}

/// Core-group subresources beyond status/scale (their kinds are core/v1).
const EXTRA_SUBRESOURCES: &[ExtraSubresource] = &[
    ExtraSubresource {
        resource: "pods",
        name: "binding",
        kind: "Binding",
        verbs: &["create"],
    },
    ExtraSubresource {
        resource: "namespaces",
        name: "finalize",
        kind: "Namespace",
        verbs: &["update"],
    },
];

const SUB_VERBS: &[&str] = &["get", "patch", "update"];

/// The discovery document variants a client can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    Legacy,
    AggregatedV2,
    AggregatedV2Beta1,
}

impl Flavor {
    /// Choose from an Accept header, honouring the client's order of preference.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Flavor::Legacy;
        };
        for range in accept.split(',') {
            let params: Vec<&str> = range.split(';').map(str::trim).collect();
            let media = params.first().copied().unwrap_or("");
            if !matches!(media, "application/json" | "*/*" | "application/*") {
                continue;
            }
            let has = |p: &str| params.contains(&p);
            if has("as=APIGroupDiscoveryList") && has("g=apidiscovery.k8s.io") {
                if has("v=v2") {
                    return Flavor::AggregatedV2;
                }
                if has("v=v2beta1") {
                    return Flavor::AggregatedV2Beta1;
                }
                continue;
            }
            return Flavor::Legacy;
        }
        Flavor::Legacy
    }

    /// The Content-Type of a response in this flavor.
    pub fn content_type(self) -> &'static str {
        match self {
            Flavor::Legacy => "application/json",
            Flavor::AggregatedV2 => {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            }
            Flavor::AggregatedV2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }
}

/// All discovery documents, serialized.
pub struct Discovery {
    legacy: HashMap<String, Bytes>,
    aggregated: HashMap<(&'static str, Flavor), Bytes>,
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Every served resource: the built-in registry plus custom resources, in discovery order.
type Catalog<'a> = &'a [&'static ResourceInfo];

fn resources_of(all: Catalog, group: &str, version: &str) -> Vec<&'static ResourceInfo> {
    all.iter()
        .filter(|r| r.group == group && r.version == version)
        .copied()
        .collect()
}

fn versions_of(all: Catalog, group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in all.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out
}

/// (subresource, group, version, kind, verbs) of one resource.
fn subresources(
    r: &ResourceInfo,
) -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
)> {
    let mut subs = Vec::new();
    if r.status {
        subs.push(("status", r.group, r.version, r.kind, SUB_VERBS));
    }
    if r.scale {
        subs.push(("scale", "autoscaling", "v1", "Scale", SUB_VERBS));
    }
    for extra in EXTRA_SUBRESOURCES {
        if extra.resource == r.plural && r.group.is_empty() {
            subs.push((extra.name, "", "v1", extra.kind, extra.verbs));
        }
    }
    if r.group.is_empty() && r.plural == "pods" {
        // kubectl drain looks for pods/eviction and evicts in its group-version.
        subs.push(("eviction", "policy", "v1", "Eviction", &["create"]));
    }
    subs
}

fn legacy_resource_list(all: Catalog, group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for r in resources_of(all, group, version) {
        let mut entry = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for (sub, g, v, k, verbs) in subresources(r) {
            let mut s = json!({"name": format!("{}/{}", r.plural, sub), "singularName": "", "namespaced": r.namespaced, "kind": k, "verbs": verbs});
            if g != r.group || v != r.version {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn api_group(all: Catalog, name: &str) -> Value {
    let versions: Vec<Value> = versions_of(all, name)
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": versions, "preferredVersion": preferred})
}

fn aggregated_group(all: Catalog, name: &str) -> Value {
    let versions: Vec<Value> = versions_of(all, name)
        .into_iter()
        .map(|v| {
            let resources: Vec<Value> = resources_of(all, name, v)
                .into_iter()
                .map(|r| {
                    let mut e = json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                    });
                    if !r.short_names.is_empty() {
                        e["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        e["categories"] = json!(r.categories);
                    }
                    let subs: Vec<Value> = subresources(r)
                        .into_iter()
                        .map(|(sub, g, v, k, verbs)| {
                            json!({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
                        })
                        .collect();
                    if !subs.is_empty() {
                        e["subresources"] = json!(subs);
                    }
                    e
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": name, "creationTimestamp": null}, "versions": versions})
}

fn aggregated_list(items: Vec<Value>, version: &str) -> Value {
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

impl Discovery {
    /// Build every document. `server_address` is `host:port` clients should use; `custom`
    /// are the served custom resources (their versions in priority order).
    pub fn build(server_address: &str, custom: &[&'static ResourceInfo]) -> Self {
        let mut legacy = HashMap::new();
        let all: Vec<&'static ResourceInfo> = registry::all()
            .iter()
            .chain(custom.iter().copied())
            .collect();
        let all = all.as_slice();
        let mut group_names: Vec<&'static str> =
            registry::groups().iter().map(|g| g.name).collect();
        for r in custom {
            if !group_names.contains(&r.group) {
                group_names.push(r.group);
            }
        }
        legacy.insert(
            "/api".to_string(),
            to_bytes(&json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
            })),
        );
        legacy.insert(
            "/api/v1".to_string(),
            to_bytes(&legacy_resource_list(all, "", "v1")),
        );
        let groups: Vec<Value> = group_names.iter().map(|g| api_group(all, g)).collect();
        legacy.insert(
            "/apis".to_string(),
            to_bytes(&json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})),
        );
        for g in &group_names {
            let mut doc = api_group(all, g);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            legacy.insert(format!("/apis/{g}"), to_bytes(&doc));
            for v in versions_of(all, g) {
                legacy.insert(
                    format!("/apis/{g}/{v}"),
                    to_bytes(&legacy_resource_list(all, g, v)),
                );
            }
        }
        let mut aggregated = HashMap::new();
        for (flavor, version) in [
            (Flavor::AggregatedV2, "v2"),
            (Flavor::AggregatedV2Beta1, "v2beta1"),
        ] {
            aggregated.insert(
                ("/api", flavor),
                to_bytes(&aggregated_list(vec![aggregated_group(all, "")], version)),
            );
            let items = group_names
                .iter()
                .map(|g| aggregated_group(all, g))
                .collect();
            aggregated.insert(
                ("/apis", flavor),
                to_bytes(&aggregated_list(items, version)),
            );
        }
        Self { legacy, aggregated }
    }

    /// The document at `path` in the asked flavor (aggregated only exists for /api and /apis;
    /// other paths answer legacy). Returns (content type, body).
    pub fn get(&self, path: &str, flavor: Flavor) -> Option<(&'static str, Bytes)> {
        let path = path.trim_end_matches('/');
        if flavor != Flavor::Legacy
            && let Some(key) = ["/api", "/apis"].into_iter().find(|p| *p == path)
            && let Some(b) = self.aggregated.get(&(key, flavor))
        {
            return Some((flavor.content_type(), b.clone()));
        }
        self.legacy
            .get(path)
            .map(|b| ("application/json", b.clone()))
    }
}

#[cfg(test)]
mod tests;
