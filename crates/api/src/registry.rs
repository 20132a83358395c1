//! The built-in resources served by k3rs: one static table (helper fills it).

/// One resource (a REST collection) of one group-version.
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    /// API group; "" for the core (legacy) group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural resource name (`deployments`).
    pub plural: &'static str,
    /// Singular (`deployment`).
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Verbs for discovery, e.g. create, delete, deletecollection, get, list, patch, update, watch.
    pub verbs: &'static [&'static str],
    /// Has a `/status` subresource.
    pub status: bool,
    /// Has a `/scale` subresource.
    pub scale: bool,
    /// metadata.generation is maintained (bumped on spec changes).
    pub generation: bool,
    /// Storage key segment: objects live under `/registry/<storage>/[<ns>/]<name>`.
    /// Two versions of one resource share it (e.g. autoscaling v1 and v2).
    pub storage: &'static str,
}

impl ResourceInfo {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }
    /// The storage prefix of the whole collection, ending in `/`.
    pub fn prefix(&self) -> String {
        format!("/registry/{}/", self.storage)
    }
    /// The storage prefix of one namespace's objects (namespaced resources), ending in `/`.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("/registry/{}/{}/", self.storage, namespace)
    }
    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/{}", self.storage, ns, name),
            _ => format!("/registry/{}/{}", self.storage, name),
        }
    }
}

/// Every served resource.
pub fn all() -> &'static [ResourceInfo] {
    todo!()
}

/// The resource at group/version/plural.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    all().iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of a kind in a group-version.
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    all().iter().find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// One API group with its versions, preferred version first.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub name: &'static str,
    pub versions: Vec<&'static str>,
}

/// All non-core groups in discovery order, each with its versions (preferred first).
pub fn groups() -> Vec<GroupInfo> {
    todo!()
}
