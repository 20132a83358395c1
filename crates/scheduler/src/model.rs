//! The scheduler's view of the cluster: pods and nodes digested once into what the plugins
//! need, and the snapshot of all nodes with the pods on them, updated incrementally.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, Pod, PodAffinityTerm, Taint, Toleration,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::resources::{Resources, parse_value, pod_requests};

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// The scheduler name pods get by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";
/// The hostname topology label.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// key in values.
    In(String, Vec<String>),
    /// key not in values (or absent).
    NotIn(String, Vec<String>),
    /// key present.
    Exists(String),
    /// key absent.
    DoesNotExist(String),
}

/// A compiled `metav1.LabelSelector`; `None` inside means "matches nothing" (a nil selector).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    /// All must hold. Empty matches everything.
    pub reqs: Vec<Requirement>,
    /// A nil selector matches nothing.
    pub nothing: bool,
}

impl Selector {
    /// Compile a label selector; `None` (nil) matches nothing, `{}` everything.
    pub fn compile(sel: Option<&LabelSelector>) -> Selector {
        let Some(sel) = sel else {
            return Selector {
                reqs: Vec::new(),
                nothing: true,
            };
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::In(k.clone(), vec![v.clone()]));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            reqs.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                // An invalid operator matches nothing, as upstream's conversion error does.
                _ => {
                    return Selector {
                        reqs: Vec::new(),
                        nothing: true,
                    };
                }
            });
        }
        Selector {
            reqs,
            nothing: false,
        }
    }

    /// Whether `labels` satisfy the selector.
    pub fn matches(&self, labels: &Labels) -> bool {
        if self.nothing {
            return false;
        }
        self.reqs.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// Which namespaces an affinity term's pods may live in.
#[derive(Debug, Clone, PartialEq)]
pub enum Namespaces {
    /// Listed names (the pod's own when neither list nor selector is given).
    Names(Vec<String>),
    /// Listed names, or namespaces whose labels match the selector (`{}` → all).
    NamesOrSelector(Vec<String>, Selector),
}

/// A compiled pod (anti-)affinity term.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityTerm {
    /// Namespaces of the pods the term selects.
    pub namespaces: Namespaces,
    /// Labels of the pods the term selects.
    pub selector: Selector,
    /// The topology domain key.
    pub topology_key: String,
}

impl AffinityTerm {
    fn compile(owner: &Pod, t: &PodAffinityTerm) -> AffinityTerm {
        let ns = owner.metadata.namespace.clone().unwrap_or_default();
        let names = t.namespaces.clone().unwrap_or_default();
        let namespaces = match &t.namespace_selector {
            None if names.is_empty() => Namespaces::Names(vec![ns]),
            None => Namespaces::Names(names),
            Some(sel) => Namespaces::NamesOrSelector(names, Selector::compile(Some(sel))),
        };
        let mut selector = Selector::compile(t.label_selector.as_ref());
        // matchLabelKeys / mismatchLabelKeys merge the owner's label values into the selector.
        if t.label_selector.is_some() {
            let labels = owner.metadata.labels.clone().unwrap_or_default();
            for k in t.match_label_keys.iter().flatten() {
                if let Some(v) = labels.get(k) {
                    selector
                        .reqs
                        .push(Requirement::In(k.clone(), vec![v.clone()]));
                }
            }
            for k in t.mismatch_label_keys.iter().flatten() {
                if let Some(v) = labels.get(k) {
                    selector
                        .reqs
                        .push(Requirement::NotIn(k.clone(), vec![v.clone()]));
                }
            }
        }
        AffinityTerm {
            namespaces,
            selector,
            topology_key: t.topology_key.clone(),
        }
    }

    /// Whether `pod` (in namespace `ns` with `labels`) is selected by this term.
    pub fn matches(&self, ns: &str, labels: &Labels, ns_labels: &NamespaceLabels) -> bool {
        let ns_ok = match &self.namespaces {
            Namespaces::Names(names) => names.iter().any(|n| n == ns),
            Namespaces::NamesOrSelector(names, sel) => {
                names.iter().any(|n| n == ns)
                    || (sel.reqs.is_empty() && !sel.nothing)
                    || ns_labels.get(ns).is_some_and(|l| sel.matches(l))
            }
        };
        ns_ok && self.selector.matches(labels)
    }
}

/// Labels of each namespace, for affinity terms with a namespaceSelector.
pub type NamespaceLabels = HashMap<String, Labels>;

/// A host port a pod asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host IP; "0.0.0.0" when unset.
    pub ip: String,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// Upstream `HostPortInfo.CheckConflict`: same protocol and port, and either IP is the
    /// wildcard or they are equal.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == "0.0.0.0" || other.ip == "0.0.0.0" || self.ip == other.ip)
    }
}

/// A topology spread constraint, compiled.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    /// Maximum skew.
    pub max_skew: i32,
    /// The domain key.
    pub topology_key: String,
    /// DoNotSchedule (hard) or ScheduleAnyway.
    pub hard: bool,
    /// Pods counted (same namespace).
    pub selector: Selector,
    /// minDomains (hard constraints only).
    pub min_domains: i32,
    /// Only nodes matching the pod's node affinity count (nodeAffinityPolicy Honor, default).
    pub honor_node_affinity: bool,
    /// Only nodes whose taints the pod tolerates count (nodeTaintsPolicy Honor; default Ignore).
    pub honor_taints: bool,
}

impl SpreadConstraint {
    fn compile(pod: &Pod, c: &TopologySpreadConstraint) -> SpreadConstraint {
        let mut selector = Selector::compile(c.label_selector.as_ref());
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if c.label_selector.is_some() {
            for k in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.get(k) {
                    selector
                        .reqs
                        .push(Requirement::In(k.clone(), vec![v.clone()]));
                }
            }
        }
        let hard = c.when_unsatisfiable == "DoNotSchedule";
        SpreadConstraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            hard,
            selector,
            min_domains: if hard { c.min_domains.unwrap_or(1) } else { 1 },
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }
}

/// A pod digested for scheduling: everything the plugins read, computed once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Labels.
    pub labels: Labels,
    /// Priority (from spec.priority, or resolved from the PriorityClass by the caller).
    pub priority: i32,
    /// Whether the pod may preempt others (preemptionPolicy ≠ Never).
    pub can_preempt: bool,
    /// Requests for fitting.
    pub requests: Resources,
    /// CPU for scoring (containers without requests count the defaults).
    pub non_zero_milli_cpu: i64,
    /// Memory for scoring.
    pub non_zero_memory: i64,
    /// Host ports the pod asks for.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms with weights.
    pub preferred_affinity: Vec<(i32, AffinityTerm)>,
    /// Preferred pod anti-affinity terms with weights.
    pub preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    /// Topology spread constraints.
    pub spread: Vec<SpreadConstraint>,
    /// Being deleted.
    pub terminating: bool,
    /// When the pod was created (for tie-breaks), seconds since the epoch.
    pub created: i64,
    /// status.nominatedNodeName (set by an earlier preemption).
    pub nominated_node: Option<String>,
    /// The pod itself.
    pub pod: Arc<Pod>,
}

impl PodInfo {
    /// Digest a pod; `priority` overrides spec.priority when the caller resolved a class.
    pub fn new(pod: Arc<Pod>, priority: Option<i32>) -> PodInfo {
        let spec = pod.spec.as_ref();
        let requests = pod_requests(&pod, false);
        let nz = pod_requests(&pod, true);
        let mut host_ports = Vec::new();
        for c in spec.map(|s| s.containers.as_slice()).unwrap_or_default() {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port: hp,
                    });
                }
            }
        }
        let aff = spec.and_then(|s| s.affinity.as_ref());
        let pa = aff.and_then(|a| a.pod_affinity.as_ref());
        let paa = aff.and_then(|a| a.pod_anti_affinity.as_ref());
        let req = |ts: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            ts.into_iter()
                .flatten()
                .map(|t| AffinityTerm::compile(&pod, t))
                .collect()
        };
        let required_affinity = req(pa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let required_anti_affinity = req(paa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let preferred_affinity = pa
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|w| (w.weight, AffinityTerm::compile(&pod, &w.pod_affinity_term)))
            .collect();
        let preferred_anti_affinity = paa
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|w| (w.weight, AffinityTerm::compile(&pod, &w.pod_affinity_term)))
            .collect();
        let spread = spec
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .into_iter()
            .flatten()
            .map(|c| SpreadConstraint::compile(&pod, c))
            .collect();
        PodInfo {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            priority: priority
                .or_else(|| spec.and_then(|s| s.priority))
                .unwrap_or(0),
            can_preempt: spec.and_then(|s| s.preemption_policy.as_deref()) != Some("Never"),
            requests,
            non_zero_milli_cpu: nz.milli_cpu,
            non_zero_memory: nz.memory,
            host_ports,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            spread,
            terminating: pod.metadata.deletion_timestamp.is_some(),
            created: pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second())
                .unwrap_or(0),
            nominated_node: pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty()),
            pod,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The pod spec's node selector.
    pub fn node_selector(&self) -> Option<&BTreeMap<String, String>> {
        self.pod.spec.as_ref()?.node_selector.as_ref()
    }

    /// The required node affinity.
    pub fn required_node_affinity(&self) -> Option<&NodeSelector> {
        self.pod
            .spec
            .as_ref()?
            .affinity
            .as_ref()?
            .node_affinity
            .as_ref()?
            .required_during_scheduling_ignored_during_execution
            .as_ref()
    }

    /// The tolerations.
    pub fn tolerations(&self) -> &[Toleration] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default()
    }

    /// Whether any (anti-)affinity term is present (upstream `podWithAffinity`).
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}

/// Whether `tol` tolerates `taint` (upstream `Toleration.ToleratesTaint`).
pub fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = tol.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    let key = tol.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match tol.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => tol.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// Whether a node (labels and name) matches a node selector requirement.
pub fn match_node_requirement(
    r: &NodeSelectorRequirement,
    labels: &Labels,
    field: Option<&str>,
) -> bool {
    let value = match field {
        Some(f) => Some(f),
        None => labels.get(&r.key).map(String::as_str),
    };
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether a node matches a NodeSelector (terms ORed, requirements ANDed; an empty term
/// matches nothing).
pub fn match_node_selector(sel: &NodeSelector, name: &str, labels: &Labels) -> bool {
    sel.node_selector_terms.iter().any(|t| {
        let exprs = t.match_expressions.as_deref().unwrap_or_default();
        let fields = t.match_fields.as_deref().unwrap_or_default();
        if exprs.is_empty() && fields.is_empty() {
            return false;
        }
        exprs
            .iter()
            .all(|r| match_node_requirement(r, labels, None))
            && fields
                .iter()
                .all(|r| r.key == "metadata.name" && match_node_requirement(r, labels, Some(name)))
    })
}

/// A node with the pods assigned (or assumed) to it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Whether the Node object exists (pods can outlive their node for a while).
    pub present: bool,
    /// Labels.
    pub labels: Labels,
    /// Taints.
    pub taints: Vec<Taint>,
    /// spec.unschedulable.
    pub unschedulable: bool,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// Allocatable pod count.
    pub allowed_pods: i64,
    /// Sum of the requests of the pods here.
    pub requested: Resources,
    /// Sum of the scoring (non-zero) CPU requests.
    pub non_zero_milli_cpu: i64,
    /// Sum of the scoring (non-zero) memory requests.
    pub non_zero_memory: i64,
    /// Pods here.
    pub pods: Vec<Arc<PodInfo>>,
    /// Pods here with any (anti-)affinity.
    pub pods_with_affinity: usize,
    /// Pods here with required anti-affinity.
    pub pods_with_required_anti_affinity: usize,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Images present (normalized name → size in bytes).
    pub images: HashMap<String, i64>,
}

impl NodeInfo {
    /// A NodeInfo from a Node object, without pods.
    pub fn from_node(node: &Node) -> NodeInfo {
        let mut n = NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            ..Default::default()
        };
        n.set_node(node);
        n
    }

    /// Replace the node part (labels, taints, allocatable, images), keeping the pods.
    pub fn set_node(&mut self, node: &Node) {
        self.present = true;
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let status = node.status.as_ref();
        let alloc = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .cloned()
            .unwrap_or_default();
        self.allocatable = Resources::from_list(&alloc);
        self.allowed_pods = alloc
            .get("pods")
            .and_then(|q| parse_value(&q.0))
            .unwrap_or(0);
        self.images.clear();
        for img in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for name in img.names.iter().flatten() {
                self.images
                    .insert(normalize_image(name), img.size_bytes.unwrap_or(0));
            }
        }
    }

    /// Account a pod here.
    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.non_zero_milli_cpu += p.non_zero_milli_cpu;
        self.non_zero_memory += p.non_zero_memory;
        self.used_ports.extend(p.host_ports.iter().cloned());
        if p.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !p.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(p);
    }

    /// Remove a pod by namespace and name; returns it when it was here.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> Option<Arc<PodInfo>> {
        let i = self
            .pods
            .iter()
            .position(|p| p.name == name && p.namespace == namespace)?;
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.non_zero_milli_cpu -= p.non_zero_milli_cpu;
        self.non_zero_memory -= p.non_zero_memory;
        for hp in &p.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        if p.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !p.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        Some(p)
    }
}

/// Normalize an image reference the way the kubelet reports it: a missing tag is `:latest`.
pub fn normalize_image(name: &str) -> String {
    if name.contains('@') {
        return name.to_string();
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// All nodes and their pods.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Nodes (including placeholders for nodes gone while pods remain).
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// How many present nodes have each image (for image locality spreading).
    pub image_nodes: HashMap<String, usize>,
    /// Namespace labels, for affinity namespaceSelectors.
    pub namespace_labels: NamespaceLabels,
    /// Where the next search starts (round robin over the nodes, as upstream).
    pub next_start: usize,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Number of nodes that exist.
    pub fn num_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| n.present).count()
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.nodes.push(NodeInfo {
            name: name.to_string(),
            ..Default::default()
        });
        let i = self.nodes.len() - 1;
        self.index.insert(name.to_string(), i);
        i
    }

    fn count_images(&mut self, i: usize, delta: isize) {
        if !self.nodes[i].present {
            return;
        }
        for img in self.nodes[i].images.keys() {
            let e = self.image_nodes.entry(img.clone()).or_default();
            *e = e.saturating_add_signed(delta);
        }
    }

    /// Add or update a node.
    pub fn upsert_node(&mut self, node: &Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let i = self.slot(&name);
        self.count_images(i, -1);
        self.nodes[i].set_node(node);
        self.count_images(i, 1);
    }

    /// Remove a node; its slot stays while pods remain on it.
    pub fn remove_node(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        self.count_images(i, -1);
        self.nodes[i].present = false;
        if self.nodes[i].pods.is_empty() {
            self.drop_slot(i);
        }
    }

    fn drop_slot(&mut self, i: usize) {
        let name = self.nodes[i].name.clone();
        self.index.remove(&name);
        self.nodes.swap_remove(i);
        if i < self.nodes.len() {
            let moved = self.nodes[i].name.clone();
            self.index.insert(moved, i);
        }
    }

    /// Account a pod on `node` (bound or assumed).
    pub fn add_pod(&mut self, node: &str, p: Arc<PodInfo>) {
        let i = self.slot(node);
        self.nodes[i].add_pod(p);
    }

    /// Remove a pod from `node`.
    pub fn remove_pod(&mut self, node: &str, namespace: &str, name: &str) -> Option<Arc<PodInfo>> {
        let &i = self.index.get(node)?;
        let p = self.nodes[i].remove_pod(namespace, name);
        if !self.nodes[i].present && self.nodes[i].pods.is_empty() {
            self.drop_slot(i);
        }
        p
    }

    /// Whether any pod anywhere has required anti-affinity.
    pub fn any_required_anti_affinity(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.pods_with_required_anti_affinity > 0)
    }

    /// Whether any pod anywhere has (anti-)affinity.
    pub fn any_affinity(&self) -> bool {
        self.nodes.iter().any(|n| n.pods_with_affinity > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let s = Selector::compile(Some(&sel));
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!Selector::compile(None).matches(&labels(&[])));
        assert!(Selector::compile(Some(&LabelSelector::default())).matches(&labels(&[])));
    }

    #[test]
    fn tolerations_match_taints() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        };
        let eq = Toleration {
            key: Some("k".into()),
            value: Some("v".into()),
            operator: Some("Equal".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        };
        assert!(tolerates(&eq, &taint));
        let exists_all = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert!(tolerates(&exists_all, &taint));
        let wrong_effect = Toleration {
            effect: Some("NoExecute".into()),
            ..eq.clone()
        };
        assert!(!tolerates(&wrong_effect, &taint));
        let wrong_value = Toleration {
            value: Some("x".into()),
            ..eq
        };
        assert!(!tolerates(&wrong_value, &taint));
    }

    #[test]
    fn node_selector_operators() {
        let l = labels(&[("zone", "a"), ("cores", "8")]);
        let req = |k: &str, op: &str, v: &[&str]| NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        };
        assert!(match_node_requirement(
            &req("zone", "In", &["a", "b"]),
            &l,
            None
        ));
        assert!(!match_node_requirement(
            &req("zone", "NotIn", &["a"]),
            &l,
            None
        ));
        assert!(match_node_requirement(
            &req("cores", "Gt", &["4"]),
            &l,
            None
        ));
        assert!(!match_node_requirement(
            &req("cores", "Lt", &["4"]),
            &l,
            None
        ));
        assert!(match_node_requirement(
            &req("gpu", "DoesNotExist", &[]),
            &l,
            None
        ));
    }

    #[test]
    fn image_names() {
        assert_eq!(normalize_image("nginx"), "nginx:latest");
        assert_eq!(normalize_image("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalize_image("reg:5000/nginx"), "reg:5000/nginx:latest");
        assert_eq!(normalize_image("a@sha256:x"), "a@sha256:x");
    }
}
