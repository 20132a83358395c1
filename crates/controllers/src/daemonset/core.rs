//! The pure decisions of the DaemonSet controller (upstream pkg/controller/daemon and
//! pkg/controller/daemon/util): which nodes should run a daemon pod, the default tolerations
//! and node affinity of daemon pods, the per-sync plan (create missing pods, delete surplus,
//! failed and misscheduled ones, RollingUpdate with maxUnavailable or maxSurge) and the status
//! counts.

use std::collections::BTreeMap;

use k3rs_scheduler::model::{match_node_selector, tolerates};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Toleration,
};
use k8s_openapi::jiff::Timestamp;

/// The taint keys daemon pods tolerate by default, with their effects (upstream
/// `AddOrUpdateDaemonPodTolerations`).
const DEFAULT_TOLERATIONS: [(&str, &str); 6] = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
/// Tolerated by daemon pods on the host network.
const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

fn exists(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    }
}

/// Add the default daemon tolerations to `spec` (replacing one with the same key and effect).
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let mut wanted: Vec<Toleration> = DEFAULT_TOLERATIONS
        .iter()
        .map(|(k, e)| exists(k, e))
        .collect();
    if spec.host_network == Some(true) {
        wanted.push(exists(NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    let tols = spec.tolerations.get_or_insert_with(Vec::new);
    for w in wanted {
        match tols
            .iter_mut()
            .find(|t| t.key == w.key && t.effect == w.effect)
        {
            Some(t) => *t = w,
            None => tols.push(w),
        }
    }
}

/// Bind a daemon pod to `node` through required node affinity on `metadata.name` (upstream
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`); the scheduler then binds it.
pub fn set_node_affinity(spec: &mut PodSpec, node: &str) {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(selector);
}

/// The node a daemon pod is for: its `spec.nodeName`, else its `metadata.name` node affinity.
pub fn node_of(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.clone().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.iter().flatten().find_map(|r| {
            let v = r.values.as_deref().unwrap_or_default();
            (r.key == "metadata.name" && r.operator == "In" && v.len() == 1).then(|| v[0].clone())
        })
    })
}

/// Whether a daemon pod (`spec`, with the default tolerations) should be started on `node`
/// and whether an existing one should keep running there (upstream `NodeShouldRunDaemonPod`).
pub fn should_run(spec: &PodSpec, node: &Node) -> (bool, bool) {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return (false, false);
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    if let Some(sel) = &spec.node_selector
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return (false, false);
    }
    if let Some(req) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        && !match_node_selector(req, name, labels)
    {
        return (false, false);
    }
    let tols = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated = |effect: &str| {
        node.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.effect == effect)
            .any(|t| !tols.iter().any(|tol| tolerates(tol, t)))
    };
    let no_execute = untolerated("NoExecute");
    if no_execute || untolerated("NoSchedule") {
        return (false, !no_execute);
    }
    (true, true)
}

/// What the plan needs of one daemon pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonPod {
    /// Its name.
    pub name: String,
    /// It carries the current template's hash.
    pub updated: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Phase Failed.
    pub failed: bool,
    /// Ready.
    pub ready: bool,
    /// Ready for minReadySeconds.
    pub available: bool,
    /// Its creation time (the oldest survives duplicates).
    pub created: Option<Timestamp>,
}

/// One node as the plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// The node's name.
    pub name: String,
    /// A new daemon pod should run there.
    pub should_run: bool,
    /// An existing daemon pod may keep running there.
    pub should_continue: bool,
    /// The daemon pods for it.
    pub pods: Vec<DaemonPod>,
}

/// The update strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// `RollingUpdate` (else OnDelete).
    pub rolling: bool,
    /// maxUnavailable, scaled to the desired count.
    pub max_unavailable: i32,
    /// maxSurge, scaled to the desired count.
    pub max_surge: i32,
}

/// One step of a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create a pod for a node.
    Create(String),
    /// Delete a pod.
    Delete(String),
}

fn oldest(pods: &[&DaemonPod]) -> Option<usize> {
    (0..pods.len()).min_by(|&a, &b| {
        pods[a]
            .created
            .cmp(&pods[b].created)
            .then_with(|| pods[a].name.cmp(&pods[b].name))
    })
}

/// The actions of one sync: upstream `manage` (`podsShouldBeOnNode`) then `rollingUpdate`.
pub fn plan(nodes: &[NodeState], rollout: Rollout) -> Vec<Action> {
    let mut actions = Vec::new();
    let surge = rollout.rolling && rollout.max_surge > 0;
    for n in nodes {
        let live: Vec<&DaemonPod> = n.pods.iter().filter(|p| !p.terminating).collect();
        if n.should_run && n.pods.is_empty() {
            actions.push(Action::Create(n.name.clone()));
        } else if n.should_continue {
            let mut running = Vec::new();
            for p in live {
                if p.failed {
                    actions.push(Action::Delete(p.name.clone()));
                } else {
                    running.push(p);
                }
            }
            if running.len() > 1 {
                // Keep the oldest (with surge: the oldest updated and the oldest old one).
                let keep: Vec<&str> = if surge {
                    let new: Vec<&DaemonPod> =
                        running.iter().copied().filter(|p| p.updated).collect();
                    let old: Vec<&DaemonPod> =
                        running.iter().copied().filter(|p| !p.updated).collect();
                    oldest(&new)
                        .map(|i| new[i].name.as_str())
                        .into_iter()
                        .chain(oldest(&old).map(|i| old[i].name.as_str()))
                        .collect()
                } else {
                    oldest(&running)
                        .map(|i| running[i].name.as_str())
                        .into_iter()
                        .collect()
                };
                for p in &running {
                    if !keep.contains(&p.name.as_str()) {
                        actions.push(Action::Delete(p.name.clone()));
                    }
                }
            }
        } else {
            for p in live {
                actions.push(Action::Delete(p.name.clone()));
            }
        }
    }
    if !rollout.rolling {
        return actions;
    }
    let touched = |a: &[Action], n: &NodeState| {
        a.iter().any(|x| match x {
            Action::Create(node) => *node == n.name,
            Action::Delete(p) => n.pods.iter().any(|q| q.name == *p),
        })
    };
    let mut rolling = Vec::new();
    let mut candidates = Vec::new();
    let mut unavailable = 0;
    let mut surging = 0;
    for n in nodes.iter().filter(|n| n.should_run) {
        let live: Vec<&DaemonPod> = n.pods.iter().filter(|p| !p.terminating).collect();
        let new: Vec<&DaemonPod> = live.iter().copied().filter(|p| p.updated).collect();
        let old: Vec<&DaemonPod> = live.iter().copied().filter(|p| !p.updated).collect();
        if new.len() > 1 || old.len() > 1 || touched(&actions, n) {
            continue;
        }
        match (new.first(), old.first()) {
            (None, None) => unavailable += 1,
            (Some(p), None) => {
                if !p.available {
                    unavailable += 1;
                }
            }
            (None, Some(o)) if !o.available => {
                unavailable += 1;
                if surge {
                    rolling.push(Action::Create(n.name.clone()));
                } else {
                    rolling.push(Action::Delete(o.name.clone()));
                }
            }
            (None, Some(o)) => candidates.push((n.name.clone(), o.name.clone())),
            (Some(p), Some(o)) => {
                if p.available {
                    rolling.push(Action::Delete(o.name.clone()));
                } else {
                    surging += 1;
                }
            }
        }
    }
    for (node, old) in candidates {
        if surge {
            if surging >= rollout.max_surge {
                break;
            }
            surging += 1;
            rolling.push(Action::Create(node));
        } else {
            if unavailable >= rollout.max_unavailable {
                break;
            }
            unavailable += 1;
            rolling.push(Action::Delete(old));
        }
    }
    actions.extend(rolling);
    actions
}

/// The counts of a DaemonSet's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `desiredNumberScheduled`.
    pub desired: i32,
    /// `currentNumberScheduled`.
    pub current: i32,
    /// `numberMisscheduled`.
    pub misscheduled: i32,
    /// `numberReady`.
    pub ready: i32,
    /// `numberAvailable`.
    pub available: i32,
    /// `updatedNumberScheduled`.
    pub updated: i32,
}

/// Status counts (upstream `updateDaemonSetStatus`).
pub fn count(nodes: &[NodeState]) -> Counts {
    let mut c = Counts::default();
    for n in nodes {
        let scheduled = !n.pods.is_empty();
        if n.should_run {
            c.desired += 1;
            if scheduled {
                c.current += 1;
                let refs: Vec<&DaemonPod> = n.pods.iter().collect();
                if let Some(p) = oldest(&refs).map(|i| refs[i]) {
                    if p.ready {
                        c.ready += 1;
                    }
                    if p.available {
                        c.available += 1;
                    }
                }
                if n.pods.iter().any(|p| p.updated) {
                    c.updated += 1;
                }
            }
        } else if scheduled {
            c.misscheduled += 1;
        }
    }
    c
}
