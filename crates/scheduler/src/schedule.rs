//! One scheduling cycle (upstream `schedulePod` + `DefaultPreemption`): PreFilter, filter
//! nodes round-robin until enough are feasible (percentageOfNodesToScore), score them, pick
//! the best (random among ties); when none fits, the FitError in upstream's wording and, if
//! evicting lower-priority pods would make room, a preemption plan.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::filter::{
    Code, CycleState, Status, Volumes, interpod_prefilter, run_filters, spread_prefilter,
    volume_prefilter,
};
use crate::model::{NodeInfo, PodInfo, Snapshot};
use crate::score::score_nodes;

/// Upstream `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// The message of a cycle with no nodes at all (upstream `ErrNoNodesAvailable`).
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// Why no node fits (upstream `framework.FitError`).
#[derive(Debug, Clone, Default)]
pub struct FitError {
    /// Nodes in the cluster.
    pub num_all_nodes: usize,
    /// A PreFilter rejection (for all nodes at once).
    pub prefilter: Option<String>,
    /// Status of each node that was filtered out, by node name.
    pub statuses: Vec<(String, Status)>,
    /// What PostFilter (preemption) said.
    pub post_filter: Option<String>,
}

impl FitError {
    /// The message in upstream's wording: `0/3 nodes are available: 1 Insufficient cpu, 2
    /// node(s) had untolerated taint {…}. preemption: …`.
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(p) = &self.prefilter {
            msg.push_str(&format!(" {p}."));
        } else {
            let mut hist: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, s) in &self.statuses {
                for r in &s.reasons {
                    *hist.entry(r.as_str()).or_default() += 1;
                }
            }
            let mut parts: Vec<String> = hist.iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if let Some(p) = &self.post_filter {
            msg.push_str(&format!(" {p}."));
        }
        msg
    }
}

/// Pods to evict on a node so that the pod fits there.
#[derive(Debug, Clone)]
pub struct Preemption {
    /// The nominated node.
    pub node: String,
    /// The victims.
    pub victims: Vec<Arc<PodInfo>>,
}

/// The outcome of a cycle.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Bind the pod to `node` (already assumed in the snapshot).
    Scheduled {
        /// The chosen node.
        node: String,
        /// Unbound WaitForFirstConsumer claims to annotate with the node.
        delayed_claims: Vec<String>,
    },
    /// No node fits now.
    Unschedulable {
        /// The diagnosis.
        error: FitError,
        /// Evicting these would make room (the pod stays pending until they are gone).
        preemption: Option<Preemption>,
    },
    /// The cluster has no nodes.
    NoNodes,
}

/// The scheduling algorithm with its small amount of state (tie-break randomness).
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// percentageOfNodesToScore; 0 = adaptive (upstream default).
    pub percentage_of_nodes_to_score: usize,
    rng: u64,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            percentage_of_nodes_to_score: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Scheduler {
    /// A scheduler with upstream's defaults.
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Upstream `numFeasibleNodesToFind`.
    pub fn num_feasible_nodes_to_find(&self, all: usize) -> usize {
        if all < MIN_FEASIBLE_NODES_TO_FIND {
            return all;
        }
        let mut pct = self.percentage_of_nodes_to_score;
        if pct == 0 {
            pct = 50usize
                .saturating_sub(all / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE);
        }
        (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    /// Schedule one pod against the snapshot; on success the pod is assumed on the node.
    pub fn schedule(
        &mut self,
        pod: &Arc<PodInfo>,
        snap: &mut Snapshot,
        volumes: &Volumes,
    ) -> Outcome {
        let num_all = snap.num_nodes();
        if num_all == 0 {
            return Outcome::NoNodes;
        }
        let mut state = CycleState::default();
        match volume_prefilter(pod, volumes) {
            Ok(v) => state.volumes = v,
            Err(s) => {
                return Outcome::Unschedulable {
                    error: FitError {
                        num_all_nodes: num_all,
                        prefilter: s.reasons.first().cloned(),
                        statuses: Vec::new(),
                        // Upstream runs preemption, which finds nothing for a PreFilter failure.
                        post_filter: Some(format!(
                            "preemption: 0/{num_all} nodes are available: {num_all} Preemption is not helpful for scheduling."
                        )),
                    },
                    preemption: None,
                };
            }
        }
        if !pod.required_affinity.is_empty()
            || !pod.required_anti_affinity.is_empty()
            || snap.any_required_anti_affinity()
        {
            interpod_prefilter(pod, snap, &mut state);
        }
        spread_prefilter(pod, snap, &mut state);

        let to_find = self.num_feasible_nodes_to_find(num_all);
        let total = snap.nodes.len();
        let start = snap.next_start % total.max(1);
        let mut feasible: Vec<usize> = Vec::with_capacity(to_find.min(total));
        let mut statuses: Vec<(usize, Status)> = Vec::new();
        let mut processed = 0;
        for k in 0..total {
            let i = (start + k) % total;
            let node = &snap.nodes[i];
            if !node.present {
                continue;
            }
            processed = k + 1;
            match run_filters(pod, &state, node, &snap.namespace_labels) {
                Ok(()) => {
                    feasible.push(i);
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Err(s) => statuses.push((i, s)),
            }
        }
        snap.next_start = (start + processed) % total.max(1);

        if feasible.is_empty() {
            let preemption = self.preempt(pod, snap, &state, &statuses);
            let (preemption, post_filter) = match preemption {
                Ok(p) => (Some(p), None),
                Err(msg) => (None, Some(msg)),
            };
            let error = FitError {
                num_all_nodes: num_all,
                prefilter: None,
                statuses: statuses
                    .into_iter()
                    .map(|(i, s)| (snap.nodes[i].name.clone(), s))
                    .collect(),
                post_filter,
            };
            return Outcome::Unschedulable { error, preemption };
        }

        let chosen = if feasible.len() == 1 {
            feasible[0]
        } else {
            let scores = score_nodes(pod, snap, &feasible);
            let mut best = feasible[0];
            let mut best_score = i64::MIN;
            let mut ties = 0u64;
            for (k, &i) in feasible.iter().enumerate() {
                let s = scores[k];
                if s > best_score {
                    best_score = s;
                    best = i;
                    ties = 1;
                } else if s == best_score {
                    ties += 1;
                    if self.next_rand().is_multiple_of(ties) {
                        best = i;
                    }
                }
            }
            best
        };
        let node = snap.nodes[chosen].name.clone();
        snap.nodes[chosen].add_pod(pod.clone());
        Outcome::Scheduled {
            node,
            delayed_claims: state.volumes.delayed_claims,
        }
    }

    /// DefaultPreemption: find a node where evicting lower-priority pods makes the pod fit,
    /// with the fewest/least important victims; or the "preemption: …" message.
    fn preempt(
        &mut self,
        pod: &PodInfo,
        snap: &Snapshot,
        state: &CycleState,
        statuses: &[(usize, Status)],
    ) -> Result<Preemption, String> {
        if !pod.can_preempt {
            return Err("preemption: not eligible due to preemptionPolicy=Never.".into());
        }
        // Victims of an earlier preemption are still terminating: wait for them.
        if let Some(nominated) = pod.nominated_node.as_deref().and_then(|n| snap.node(n))
            && nominated
                .pods
                .iter()
                .any(|p| p.terminating && p.priority < pod.priority)
        {
            return Err(
                "preemption: not eligible due to a terminating pod on the nominated node.".into(),
            );
        }
        let num_all = snap.num_nodes();
        let mut why: Vec<Status> = Vec::new();
        let mut best: Option<((i32, i64, usize), Preemption)> = None;
        for (i, s) in statuses {
            if s.code == Code::Unresolvable {
                continue;
            }
            let node = &snap.nodes[*i];
            match victims_on(pod, node, state, &snap.namespace_labels) {
                Ok(victims) => {
                    let key = (
                        victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN),
                        victims.iter().map(|v| i64::from(v.priority)).sum::<i64>(),
                        victims.len(),
                    );
                    if best.as_ref().is_none_or(|(k, _)| key < *k) {
                        best = Some((
                            key,
                            Preemption {
                                node: node.name.clone(),
                                victims,
                            },
                        ));
                    }
                }
                Err(s) => why.push(s),
            }
        }
        if let Some((_, p)) = best {
            return Ok(p);
        }
        let not_helpful = num_all - why.len();
        let mut fe = FitError {
            num_all_nodes: num_all,
            ..Default::default()
        };
        fe.statuses = why.into_iter().map(|s| (String::new(), s)).collect();
        if not_helpful > 0 {
            for _ in 0..not_helpful {
                fe.statuses.push((
                    String::new(),
                    Status {
                        code: Code::Unresolvable,
                        reasons: vec!["Preemption is not helpful for scheduling".into()],
                    },
                ));
            }
        }
        Err(format!("preemption: {}", fe.message()))
    }
}

/// Upstream `SelectVictimsOnNode`: remove every lower-priority pod; if the pod then fits,
/// reprieve as many as possible, most important first.
fn victims_on(
    pod: &PodInfo,
    node: &NodeInfo,
    state: &CycleState,
    ns_labels: &crate::model::NamespaceLabels,
) -> Result<Vec<Arc<PodInfo>>, Status> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status {
            code: Code::Unresolvable,
            reasons: vec!["No preemption victims found for incoming pod".into()],
        });
    }
    let mut trial = node.clone();
    for p in &potential {
        trial.remove_pod(&p.namespace, &p.name);
    }
    run_filters(pod, state, &trial, ns_labels)?;
    potential.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.created.cmp(&b.created)));
    let mut victims = Vec::new();
    for p in potential {
        trial.add_pod(p.clone());
        if run_filters(pod, state, &trial, ns_labels).is_err() {
            trial.remove_pod(&p.namespace, &p.name);
            victims.push(p);
        }
    }
    Ok(victims)
}

#[cfg(test)]
mod tests;
