//! The built-in resources served by k3rs: one static table, as upstream Kubernetes 1.33 shows
//! them in discovery (`kubectl api-resources`).
//!
//! Table order matters: groups come in upstream `/apis` order (core first), versions of one
//! group preferred first, and resources of one group-version sorted by plural name, as in an
//! upstream `APIResourceList`.

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
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
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
    /// Whether discovery lists `verb` for this resource.
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
    /// Whether this resource belongs to `category` (e.g. `all`, as in `kubectl get all`).
    pub fn in_category(&self, category: &str) -> bool {
        self.categories.contains(&category)
    }
    /// `<plural>.<group>` (`deployments.apps`), or just `<plural>` for the core group: the
    /// form upstream uses in messages such as `pods "x" not found` / `deployments.apps "x" ...`.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// A row of the table with the usual verbs and no subresources.
    #[allow(clippy::too_many_arguments)]
    const fn new(
        group: &'static str,
        version: &'static str,
        plural: &'static str,
        singular: &'static str,
        kind: &'static str,
        namespaced: bool,
        short_names: &'static [&'static str],
        categories: &'static [&'static str],
        storage: &'static str,
    ) -> Self {
        ResourceInfo {
            group,
            version,
            plural,
            singular,
            kind,
            namespaced,
            short_names,
            categories,
            verbs: VERBS,
            status: false,
            scale: false,
            generation: false,
            storage,
        }
    }
    const fn with_status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn with_scale(mut self) -> Self {
        self.scale = true;
        self
    }
    const fn with_generation(mut self) -> Self {
        self.generation = true;
        self
    }
    const fn with_verbs(mut self, verbs: &'static [&'static str]) -> Self {
        self.verbs = verbs;
        self
    }
}

/// The verbs of an ordinary collection.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces cannot be deleted as a collection.
const VERBS_NO_DELETECOLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// Review resources are only created (evaluated), never stored.
const CREATE_ONLY: &[&str] = &["create"];

const NONE: &[&str] = &[];
const ALL: &[&str] = &["all"];
const API_EXTENSIONS: &[&str] = &["api-extensions"];

const CORE: &str = "";
const APPS: &str = "apps";
const EVENTS: &str = "events.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const NETWORKING: &str = "networking.k8s.io";
const POLICY: &str = "policy";
const RBAC: &str = "rbac.authorization.k8s.io";
const STORAGE: &str = "storage.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const APIEXTENSIONS: &str = "apiextensions.k8s.io";
const SCHEDULING: &str = "scheduling.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";

type R = ResourceInfo;

#[rustfmt::skip]
static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    R::new(CORE, "v1", "configmaps", "configmap", "ConfigMap", true, &["cm"], NONE, "core/configmaps"),
    R::new(CORE, "v1", "endpoints", "endpoints", "Endpoints", true, &["ep"], NONE, "core/endpoints"),
    R::new(CORE, "v1", "events", "event", "Event", true, &["ev"], NONE, "core/events"),
    R::new(CORE, "v1", "limitranges", "limitrange", "LimitRange", true, &["limits"], NONE, "core/limitranges"),
    R::new(CORE, "v1", "namespaces", "namespace", "Namespace", false, &["ns"], NONE, "core/namespaces")
        .with_verbs(VERBS_NO_DELETECOLLECTION).with_status(),
    R::new(CORE, "v1", "nodes", "node", "Node", false, &["no"], NONE, "core/nodes").with_status(),
    R::new(CORE, "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, &["pvc"], NONE, "core/persistentvolumeclaims")
        .with_status(),
    R::new(CORE, "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, &["pv"], NONE, "core/persistentvolumes")
        .with_status(),
    // Pods carry metadata.generation since 1.33 (KEP-5067).
    R::new(CORE, "v1", "pods", "pod", "Pod", true, &["po"], ALL, "core/pods").with_status().with_generation(),
    R::new(CORE, "v1", "podtemplates", "podtemplate", "PodTemplate", true, NONE, NONE, "core/podtemplates"),
    R::new(CORE, "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true, &["rc"], ALL, "core/replicationcontrollers")
        .with_status().with_scale().with_generation(),
    R::new(CORE, "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, &["quota"], NONE, "core/resourcequotas")
        .with_status(),
    R::new(CORE, "v1", "secrets", "secret", "Secret", true, NONE, NONE, "core/secrets"),
    R::new(CORE, "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], NONE, "core/serviceaccounts"),
    R::new(CORE, "v1", "services", "service", "Service", true, &["svc"], ALL, "core/services").with_status(),
    // apps/v1
    R::new(APPS, "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, NONE, NONE, "apps/controllerrevisions"),
    R::new(APPS, "v1", "daemonsets", "daemonset", "DaemonSet", true, &["ds"], ALL, "apps/daemonsets")
        .with_status().with_generation(),
    R::new(APPS, "v1", "deployments", "deployment", "Deployment", true, &["deploy"], ALL, "apps/deployments")
        .with_status().with_scale().with_generation(),
    R::new(APPS, "v1", "replicasets", "replicaset", "ReplicaSet", true, &["rs"], ALL, "apps/replicasets")
        .with_status().with_scale().with_generation(),
    R::new(APPS, "v1", "statefulsets", "statefulset", "StatefulSet", true, &["sts"], ALL, "apps/statefulsets")
        .with_status().with_scale().with_generation(),
    // events.k8s.io/v1
    R::new(EVENTS, "v1", "events", "event", "Event", true, &["ev"], NONE, "events.k8s.io/events"),
    // authentication.k8s.io/v1
    R::new(AUTHENTICATION, "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, NONE, NONE, "authentication.k8s.io/selfsubjectreviews")
        .with_verbs(CREATE_ONLY),
    R::new(AUTHENTICATION, "v1", "tokenreviews", "tokenreview", "TokenReview", false, NONE, NONE, "authentication.k8s.io/tokenreviews")
        .with_verbs(CREATE_ONLY),
    // authorization.k8s.io/v1
    R::new(AUTHORIZATION, "v1", "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true, NONE, NONE, "authorization.k8s.io/localsubjectaccessreviews")
        .with_verbs(CREATE_ONLY),
    R::new(AUTHORIZATION, "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false, NONE, NONE, "authorization.k8s.io/selfsubjectaccessreviews")
        .with_verbs(CREATE_ONLY),
    R::new(AUTHORIZATION, "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false, NONE, NONE, "authorization.k8s.io/selfsubjectrulesreviews")
        .with_verbs(CREATE_ONLY),
    R::new(AUTHORIZATION, "v1", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false, NONE, NONE, "authorization.k8s.io/subjectaccessreviews")
        .with_verbs(CREATE_ONLY),
    // autoscaling/v2 (preferred), autoscaling/v1
    R::new(AUTOSCALING, "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, &["hpa"], ALL, "autoscaling/horizontalpodautoscalers")
        .with_status().with_generation(),
    R::new(AUTOSCALING, "v1", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, &["hpa"], ALL, "autoscaling/horizontalpodautoscalers")
        .with_status().with_generation(),
    // batch/v1
    R::new(BATCH, "v1", "cronjobs", "cronjob", "CronJob", true, &["cj"], ALL, "batch/cronjobs").with_status().with_generation(),
    R::new(BATCH, "v1", "jobs", "job", "Job", true, NONE, ALL, "batch/jobs").with_status().with_generation(),
    // certificates.k8s.io/v1
    R::new(CERTIFICATES, "v1", "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", false, &["csr"], NONE, "certificates.k8s.io/certificatesigningrequests")
        .with_status(),
    // networking.k8s.io/v1
    R::new(NETWORKING, "v1", "ingressclasses", "ingressclass", "IngressClass", false, NONE, NONE, "networking.k8s.io/ingressclasses")
        .with_generation(),
    R::new(NETWORKING, "v1", "ingresses", "ingress", "Ingress", true, &["ing"], NONE, "networking.k8s.io/ingresses")
        .with_status().with_generation(),
    R::new(NETWORKING, "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, &["netpol"], NONE, "networking.k8s.io/networkpolicies")
        .with_generation(),
    // policy/v1
    R::new(POLICY, "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, &["pdb"], NONE, "policy/poddisruptionbudgets")
        .with_status().with_generation(),
    // rbac.authorization.k8s.io/v1
    R::new(RBAC, "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, NONE, NONE, "rbac.authorization.k8s.io/clusterrolebindings"),
    R::new(RBAC, "v1", "clusterroles", "clusterrole", "ClusterRole", false, NONE, NONE, "rbac.authorization.k8s.io/clusterroles"),
    R::new(RBAC, "v1", "rolebindings", "rolebinding", "RoleBinding", true, NONE, NONE, "rbac.authorization.k8s.io/rolebindings"),
    R::new(RBAC, "v1", "roles", "role", "Role", true, NONE, NONE, "rbac.authorization.k8s.io/roles"),
    // storage.k8s.io/v1
    R::new(STORAGE, "v1", "csidrivers", "csidriver", "CSIDriver", false, NONE, NONE, "storage.k8s.io/csidrivers"),
    R::new(STORAGE, "v1", "csinodes", "csinode", "CSINode", false, NONE, NONE, "storage.k8s.io/csinodes"),
    R::new(STORAGE, "v1", "storageclasses", "storageclass", "StorageClass", false, &["sc"], NONE, "storage.k8s.io/storageclasses"),
    R::new(STORAGE, "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", false, NONE, NONE, "storage.k8s.io/volumeattachments")
        .with_status(),
    // admissionregistration.k8s.io/v1
    R::new(ADMISSION, "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false, NONE, API_EXTENSIONS, "admissionregistration.k8s.io/mutatingwebhookconfigurations")
        .with_generation(),
    R::new(ADMISSION, "v1", "validatingadmissionpolicies", "validatingadmissionpolicy", "ValidatingAdmissionPolicy", false, NONE, API_EXTENSIONS, "admissionregistration.k8s.io/validatingadmissionpolicies")
        .with_status().with_generation(),
    R::new(ADMISSION, "v1", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", "ValidatingAdmissionPolicyBinding", false, NONE, API_EXTENSIONS, "admissionregistration.k8s.io/validatingadmissionpolicybindings")
        .with_generation(),
    R::new(ADMISSION, "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false, NONE, API_EXTENSIONS, "admissionregistration.k8s.io/validatingwebhookconfigurations")
        .with_generation(),
    // apiextensions.k8s.io/v1
    R::new(APIEXTENSIONS, "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", false, &["crd", "crds"], API_EXTENSIONS, "apiextensions.k8s.io/customresourcedefinitions")
        .with_status().with_generation(),
    // scheduling.k8s.io/v1
    R::new(SCHEDULING, "v1", "priorityclasses", "priorityclass", "PriorityClass", false, &["pc"], NONE, "scheduling.k8s.io/priorityclasses"),
    // coordination.k8s.io/v1
    R::new(COORDINATION, "v1", "leases", "lease", "Lease", true, NONE, NONE, "coordination.k8s.io/leases"),
    // discovery.k8s.io/v1
    R::new(DISCOVERY, "v1", "endpointslices", "endpointslice", "EndpointSlice", true, NONE, NONE, "discovery.k8s.io/endpointslices")
        .with_generation(),
];

/// Non-core groups in upstream `/apis` order, each with its versions, preferred first.
static GROUPS: &[(&str, &[&str])] = &[
    (APPS, &["v1"]),
    (EVENTS, &["v1"]),
    (AUTHENTICATION, &["v1"]),
    (AUTHORIZATION, &["v1"]),
    (AUTOSCALING, &["v2", "v1"]),
    (BATCH, &["v1"]),
    (CERTIFICATES, &["v1"]),
    (NETWORKING, &["v1"]),
    (POLICY, &["v1"]),
    (RBAC, &["v1"]),
    (STORAGE, &["v1"]),
    (ADMISSION, &["v1"]),
    (APIEXTENSIONS, &["v1"]),
    (SCHEDULING, &["v1"]),
    (COORDINATION, &["v1"]),
    (DISCOVERY, &["v1"]),
];

/// Every served resource.
pub fn all() -> &'static [ResourceInfo] {
    RESOURCES
}

/// The resource at group/version/plural.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of a kind in a group-version.
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The resources of the core group (`/api/v1`), in discovery order.
pub fn core_resources() -> impl Iterator<Item = &'static ResourceInfo> {
    resources_of("", "v1")
}

/// The resources of one group-version, in discovery order (sorted by plural).
pub fn resources_of<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    all()
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The resource `plural` of `group` in the group's preferred version.
pub fn lookup_preferred(group: &str, plural: &str) -> Option<&'static ResourceInfo> {
    let version = preferred_version(group)?;
    lookup(group, version, plural)
}

/// The preferred version of a group (`v1` for the core group `""`), if served.
pub fn preferred_version(group: &str) -> Option<&'static str> {
    if group.is_empty() {
        return Some("v1");
    }
    GROUPS
        .iter()
        .find(|(name, _)| *name == group)
        .and_then(|(_, versions)| versions.first().copied())
}

/// Every version of every group in which `plural` of `group` is served, preferred first.
pub fn versions_of<'a>(
    group: &'a str,
    plural: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    all()
        .iter()
        .filter(move |r| r.group == group && r.plural == plural)
}

/// The resources of `category` (e.g. `all`) in their preferred versions only.
pub fn in_category<'a>(category: &'a str) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    all()
        .iter()
        .filter(move |r| r.in_category(category) && preferred_version(r.group) == Some(r.version))
}

/// One API group with its versions, preferred version first.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub name: &'static str,
    pub versions: Vec<&'static str>,
}

impl GroupInfo {
    /// The preferred version (the first one).
    pub fn preferred(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }
    /// `<group>/<version>` of the preferred version.
    pub fn preferred_group_version(&self) -> String {
        format!("{}/{}", self.name, self.preferred())
    }
}

/// All non-core groups in discovery order, each with its versions (preferred first).
pub fn groups() -> Vec<GroupInfo> {
    GROUPS
        .iter()
        .map(|(name, versions)| GroupInfo {
            name,
            versions: versions.to_vec(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
