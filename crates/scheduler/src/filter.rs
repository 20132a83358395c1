//! The filter plugins of upstream's default profile, in its order: NodeUnschedulable,
//! NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding,
//! PodTopologySpread, InterPodAffinity. Each answers for one (pod, node) pair from the
//! per-pod state computed once ([`CycleState`]), with upstream's failure reasons.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{NodeSelector, Taint};

use crate::model::{
    Labels, NamespaceLabels, NodeInfo, PodInfo, Snapshot, match_node_selector, tolerates,
};

/// How final a filter failure is (upstream `Unschedulable` / `UnschedulableAndUnresolvable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Might fit if other pods went away: preemption may help.
    Unschedulable,
    /// Preemption cannot help on this node.
    Unresolvable,
}

/// Why a node does not fit a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// Reasons, each counted in the FailedScheduling message.
    pub reasons: Vec<String>,
}

impl Status {
    fn new(code: Code, reason: impl Into<String>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
        }
    }
}

/// Upstream reason texts.
pub mod reasons {
    /// NodeUnschedulable.
    pub const UNSCHEDULABLE: &str = "node(s) were unschedulable";
    /// NodeName.
    pub const NODE_NAME: &str = "node(s) didn't match the requested node name";
    /// NodeAffinity.
    pub const NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
    /// NodePorts.
    pub const NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
    /// NodeResourcesFit, pod count.
    pub const TOO_MANY_PODS: &str = "Too many pods";
    /// VolumeBinding, PV node affinity.
    pub const VOLUME_NODE_AFFINITY: &str = "node(s) had volume node affinity conflict";
    /// VolumeBinding, prefilter.
    pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
    /// PodTopologySpread.
    pub const SPREAD: &str = "node(s) didn't match pod topology spread constraints";
    /// PodTopologySpread, node lacks the key.
    pub const SPREAD_LABEL: &str =
        "node(s) didn't match pod topology spread constraints (missing required label)";
    /// InterPodAffinity, required affinity.
    pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
    /// InterPodAffinity, the pod's own anti-affinity.
    pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
    /// InterPodAffinity, existing pods' anti-affinity.
    pub const EXISTING_ANTI_AFFINITY: &str =
        "node(s) didn't satisfy existing pods anti-affinity rules";
}

/// A PersistentVolumeClaim as VolumeBinding sees it.
#[derive(Debug, Clone, Default)]
pub struct ClaimInfo {
    /// The bound PV (spec.volumeName).
    pub volume_name: Option<String>,
    /// The storage class.
    pub storage_class: Option<String>,
}

/// The volume objects VolumeBinding reads.
#[derive(Debug, Clone, Default)]
pub struct Volumes {
    /// Claims by `namespace/name`.
    pub claims: HashMap<String, ClaimInfo>,
    /// PV node affinity by PV name (None: no affinity).
    pub pv_affinity: HashMap<String, Option<NodeSelector>>,
    /// Storage classes with volumeBindingMode WaitForFirstConsumer.
    pub wait_for_first_consumer: HashSet<String>,
}

/// The claims of a pod after VolumeBinding's PreFilter.
#[derive(Debug, Clone, Default)]
pub struct PodVolumes {
    /// Node affinity of the bound PVs.
    pub bound_affinity: Vec<NodeSelector>,
    /// Unbound WaitForFirstConsumer claims (`namespace/name`): the chosen node is written on them.
    pub delayed_claims: Vec<String>,
}

/// The PVC names a pod mounts.
pub fn pod_claims(pod: &PodInfo) -> Vec<String> {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                // Generic ephemeral volumes make a claim named <pod>-<volume>.
                v.ephemeral
                    .as_ref()
                    .map(|_| format!("{}-{}", pod.name, v.name))
            }
        })
        .collect()
}

/// VolumeBinding PreFilter: resolve the pod's claims, or fail for every node.
pub fn volume_prefilter(pod: &PodInfo, volumes: &Volumes) -> Result<PodVolumes, Status> {
    let mut out = PodVolumes::default();
    for claim in pod_claims(pod) {
        let key = format!("{}/{}", pod.namespace, claim);
        let Some(c) = volumes.claims.get(&key) else {
            return Err(Status::new(
                Code::Unresolvable,
                format!("persistentvolumeclaim \"{claim}\" not found"),
            ));
        };
        match c.volume_name.as_deref().filter(|v| !v.is_empty()) {
            Some(pv) => {
                if let Some(Some(aff)) = volumes.pv_affinity.get(pv) {
                    out.bound_affinity.push(aff.clone());
                }
            }
            None => {
                let wffc = c
                    .storage_class
                    .as_ref()
                    .is_some_and(|sc| volumes.wait_for_first_consumer.contains(sc));
                if !wffc {
                    return Err(Status::new(Code::Unresolvable, reasons::UNBOUND_IMMEDIATE));
                }
                out.delayed_claims.push(key);
            }
        }
    }
    Ok(out)
}

/// Per topology spread constraint: matching pods per domain over eligible nodes.
#[derive(Debug, Clone, Default)]
pub struct SpreadState {
    /// Pods matching per domain value (index = constraint index among the pod's constraints).
    pub counts: Vec<HashMap<String, i64>>,
    /// Minimum over domains (0 when fewer domains than minDomains).
    pub min: Vec<i64>,
}

/// Everything computed once per pod before filtering nodes (upstream PreFilter state).
#[derive(Debug, Clone, Default)]
pub struct CycleState {
    /// Topology pairs where existing pods' required anti-affinity forbids the pod.
    pub existing_anti: HashMap<(String, String), i64>,
    /// Pods matching all of the pod's required affinity terms, per topology pair.
    pub affinity_counts: HashMap<(String, String), i64>,
    /// Pods matching the pod's required anti-affinity terms, per topology pair.
    pub anti_counts: HashMap<(String, String), i64>,
    /// Hard spread constraints' state.
    pub spread: SpreadState,
    /// The pod's resolved claims.
    pub volumes: PodVolumes,
}

fn term_pairs(
    terms: &[crate::model::AffinityTerm],
    node: &NodeInfo,
    out: &mut HashMap<(String, String), i64>,
) {
    for t in terms {
        if let Some(v) = node.labels.get(&t.topology_key) {
            *out.entry((t.topology_key.clone(), v.clone())).or_default() += 1;
        }
    }
}

/// InterPodAffinity PreFilter.
pub fn interpod_prefilter(pod: &PodInfo, snap: &Snapshot, state: &mut CycleState) {
    let ns_labels = &snap.namespace_labels;
    let own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
    for node in snap.nodes.iter().filter(|n| n.present) {
        if node.pods_with_required_anti_affinity > 0 {
            for ep in &node.pods {
                for t in &ep.required_anti_affinity {
                    if t.matches(&pod.namespace, &pod.labels, ns_labels)
                        && let Some(v) = node.labels.get(&t.topology_key)
                    {
                        *state
                            .existing_anti
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_default() += 1;
                    }
                }
            }
        }
        if !own {
            continue;
        }
        for ep in &node.pods {
            if !pod.required_affinity.is_empty()
                && pod
                    .required_affinity
                    .iter()
                    .all(|t| t.matches(&ep.namespace, &ep.labels, ns_labels))
            {
                term_pairs(&pod.required_affinity, node, &mut state.affinity_counts);
            }
            for t in &pod.required_anti_affinity {
                if t.matches(&ep.namespace, &ep.labels, ns_labels)
                    && let Some(v) = node.labels.get(&t.topology_key)
                {
                    *state
                        .anti_counts
                        .entry((t.topology_key.clone(), v.clone()))
                        .or_default() += 1;
                }
            }
        }
    }
}

/// Whether the node passes the pod's node selector and required node affinity.
pub fn node_affinity_ok(pod: &PodInfo, name: &str, labels: &Labels) -> bool {
    if let Some(sel) = pod.node_selector()
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    match pod.required_node_affinity() {
        Some(ns) => match_node_selector(ns, name, labels),
        None => true,
    }
}

fn untolerated<'a>(pod: &PodInfo, taints: &'a [Taint], effects: &[&str]) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        effects.contains(&t.effect.as_str())
            && !pod.tolerations().iter().any(|tol| tolerates(tol, t))
    })
}

/// PodTopologySpread PreFilter for the hard constraints.
pub fn spread_prefilter(pod: &PodInfo, snap: &Snapshot, state: &mut CycleState) {
    let hard: Vec<_> = pod.spread.iter().filter(|c| c.hard).collect();
    if hard.is_empty() {
        return;
    }
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); hard.len()];
    for node in snap.nodes.iter().filter(|n| n.present) {
        if !hard
            .iter()
            .all(|c| node.labels.contains_key(&c.topology_key))
        {
            continue;
        }
        for (i, c) in hard.iter().enumerate() {
            if c.honor_node_affinity && !node_affinity_ok(pod, &node.name, &node.labels) {
                continue;
            }
            if c.honor_taints
                && untolerated(pod, &node.taints, &["NoSchedule", "NoExecute"]).is_some()
            {
                continue;
            }
            let Some(v) = node.labels.get(&c.topology_key) else {
                continue;
            };
            let n = node
                .pods
                .iter()
                .filter(|p| {
                    !p.terminating && p.namespace == pod.namespace && c.selector.matches(&p.labels)
                })
                .count() as i64;
            *counts[i].entry(v.clone()).or_default() += n;
        }
    }
    state.spread.min = hard
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if (counts[i].len() as i64) < i64::from(c.min_domains) {
                0
            } else {
                counts[i].values().copied().min().unwrap_or(0)
            }
        })
        .collect();
    state.spread.counts = counts;
}

/// NodeUnschedulable.
pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        effect: "NoSchedule".into(),
        value: None,
        time_added: None,
    };
    if pod.tolerations().iter().any(|t| tolerates(t, &taint)) {
        Ok(())
    } else {
        Err(Status::new(Code::Unresolvable, reasons::UNSCHEDULABLE))
    }
}

/// NodeName.
pub fn node_name(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    match pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
    {
        Some(n) if n != node.name => Err(Status::new(Code::Unresolvable, reasons::NODE_NAME)),
        _ => Ok(()),
    }
}

/// TaintToleration: NoSchedule and NoExecute taints must be tolerated.
pub fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    match untolerated(pod, &node.taints, &["NoSchedule", "NoExecute"]) {
        None => Ok(()),
        Some(t) => Err(Status::new(
            Code::Unresolvable,
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ),
        )),
    }
}

/// NodeAffinity: nodeSelector and required node affinity.
pub fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if node_affinity_ok(pod, &node.name, &node.labels) {
        Ok(())
    } else {
        Err(Status::new(Code::Unresolvable, reasons::NODE_AFFINITY))
    }
}

/// NodePorts.
pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let conflict = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|u| u.conflicts(want)));
    if conflict {
        Err(Status::new(Code::Unschedulable, reasons::NODE_PORTS))
    } else {
        Ok(())
    }
}

/// NodeResourcesFit: pod count, then each requested resource against what is left.
pub fn node_resources_fit(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let mut reasons = Vec::new();
    let mut code = Code::Unschedulable;
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        reasons.push(reasons::TOO_MANY_PODS.to_string());
    }
    let r = &pod.requests;
    let a = &node.allocatable;
    let u = &node.requested;
    let mut check = |name: &str, want: i64, alloc: i64, used: i64| {
        if want > 0 && want > alloc - used {
            reasons.push(format!("Insufficient {name}"));
            if want > alloc {
                code = Code::Unresolvable;
            }
        }
    };
    check("cpu", r.milli_cpu, a.milli_cpu, u.milli_cpu);
    check("memory", r.memory, a.memory, u.memory);
    check(
        "ephemeral-storage",
        r.ephemeral_storage,
        a.ephemeral_storage,
        u.ephemeral_storage,
    );
    for (name, want) in &r.scalar {
        check(
            name,
            *want,
            a.scalar.get(name).copied().unwrap_or(0),
            u.scalar.get(name).copied().unwrap_or(0),
        );
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Status { code, reasons })
    }
}

/// VolumeBinding: bound PVs' node affinity must admit the node.
pub fn volume_binding(state: &CycleState, node: &NodeInfo) -> Result<(), Status> {
    if state
        .volumes
        .bound_affinity
        .iter()
        .all(|aff| match_node_selector(aff, &node.name, &node.labels))
    {
        Ok(())
    } else {
        Err(Status::new(
            Code::Unresolvable,
            reasons::VOLUME_NODE_AFFINITY,
        ))
    }
}

/// PodTopologySpread (DoNotSchedule constraints).
pub fn topology_spread(pod: &PodInfo, state: &CycleState, node: &NodeInfo) -> Result<(), Status> {
    for (i, c) in pod.spread.iter().filter(|c| c.hard).enumerate() {
        let Some(v) = node.labels.get(&c.topology_key) else {
            return Err(Status::new(Code::Unresolvable, reasons::SPREAD_LABEL));
        };
        let self_match = i64::from(c.selector.matches(&pod.labels));
        let count = state
            .spread
            .counts
            .get(i)
            .and_then(|m| m.get(v))
            .copied()
            .unwrap_or(0);
        let min = state.spread.min.get(i).copied().unwrap_or(0);
        if count + self_match - min > i64::from(c.max_skew) {
            return Err(Status::new(Code::Unschedulable, reasons::SPREAD));
        }
    }
    Ok(())
}

/// InterPodAffinity (required terms, and existing pods' required anti-affinity).
pub fn inter_pod_affinity(
    pod: &PodInfo,
    state: &CycleState,
    node: &NodeInfo,
    ns_labels: &NamespaceLabels,
) -> Result<(), Status> {
    if !pod.required_affinity.is_empty() {
        let mut exist = true;
        for t in &pod.required_affinity {
            let Some(v) = node.labels.get(&t.topology_key) else {
                return Err(Status::new(Code::Unresolvable, reasons::AFFINITY));
            };
            let pair = (t.topology_key.clone(), v.clone());
            if state.affinity_counts.get(&pair).copied().unwrap_or(0) <= 0 {
                exist = false;
            }
        }
        // The first pod of a group whose terms select itself may go anywhere with the keys.
        let first = state.affinity_counts.is_empty()
            && pod
                .required_affinity
                .iter()
                .all(|t| t.matches(&pod.namespace, &pod.labels, ns_labels));
        if !exist && !first {
            return Err(Status::new(Code::Unresolvable, reasons::AFFINITY));
        }
    }
    if !state.anti_counts.is_empty() {
        for t in &pod.required_anti_affinity {
            if let Some(v) = node.labels.get(&t.topology_key)
                && state
                    .anti_counts
                    .get(&(t.topology_key.clone(), v.clone()))
                    .copied()
                    .unwrap_or(0)
                    > 0
            {
                return Err(Status::new(Code::Unschedulable, reasons::ANTI_AFFINITY));
            }
        }
    }
    if !state.existing_anti.is_empty() {
        for (k, v) in &node.labels {
            if state
                .existing_anti
                .get(&(k.clone(), v.clone()))
                .copied()
                .unwrap_or(0)
                > 0
            {
                return Err(Status::new(
                    Code::Unschedulable,
                    reasons::EXISTING_ANTI_AFFINITY,
                ));
            }
        }
    }
    Ok(())
}

/// Run every filter in upstream's order; the first failure decides.
pub fn run_filters(
    pod: &PodInfo,
    state: &CycleState,
    node: &NodeInfo,
    ns_labels: &NamespaceLabels,
) -> Result<(), Status> {
    node_unschedulable(pod, node)?;
    node_name(pod, node)?;
    taint_toleration(pod, node)?;
    node_affinity(pod, node)?;
    node_ports(pod, node)?;
    node_resources_fit(pod, node)?;
    volume_binding(state, node)?;
    topology_spread(pod, state, node)?;
    inter_pod_affinity(pod, state, node, ns_labels)
}

#[cfg(test)]
mod tests;
