//! The score plugins of upstream's default profile, each normalized to 0–100 and weighted as
//! upstream's defaults: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
//! InterPodAffinity 2, NodeResourcesFit (LeastAllocated) 1, BalancedAllocation 1,
//! ImageLocality 1.

use std::collections::HashMap;

use crate::filter::node_affinity_ok;
use crate::model::{NodeInfo, PodInfo, Snapshot, match_node_selector, normalize_image, tolerates};

/// The highest score a plugin gives.
pub const MAX_NODE_SCORE: i64 = 100;

const MB: i64 = 1024 * 1024;
const MIN_IMAGE_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_IMAGE_THRESHOLD: i64 = 1000 * MB;

/// (allocatable, requested-after-placing-the-pod) for cpu and memory, as scoring sees them
/// (non-zero requests).
fn usage(pod: &PodInfo, node: &NodeInfo) -> [(i64, i64); 2] {
    [
        (
            node.allocatable.milli_cpu,
            node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
        ),
        (
            node.allocatable.memory,
            node.non_zero_memory + pod.non_zero_memory,
        ),
    ]
}

/// NodeResourcesFit with the LeastAllocated strategy (cpu and memory, weight 1 each).
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let mut sum = 0;
    let mut weights = 0;
    for (alloc, req) in usage(pod, node) {
        if alloc == 0 {
            continue;
        }
        sum += if req > alloc {
            0
        } else {
            (alloc - req) * MAX_NODE_SCORE / alloc
        };
        weights += 1;
    }
    if weights == 0 { 0 } else { sum / weights }
}

/// NodeResourcesBalancedAllocation: 100 × (1 − standard deviation of the usage fractions).
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let fractions: Vec<f64> = usage(pod, node)
        .iter()
        .filter(|(alloc, _)| *alloc != 0)
        .map(|&(alloc, req)| (req as f64 / alloc as f64).min(1.0))
        .collect();
    let std = match fractions.len() {
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// ImageLocality: sizes of the pod's images already on the node, scaled by how widely each
/// image is spread over the cluster.
pub fn image_locality(pod: &PodInfo, node: &NodeInfo, snap: &Snapshot, total_nodes: usize) -> i64 {
    let Some(spec) = pod.pod.spec.as_ref() else {
        return 0;
    };
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    let mut n = 0i64;
    let mut sum = 0i64;
    for c in containers {
        n += 1;
        let Some(image) = c.image.as_deref() else {
            continue;
        };
        let name = normalize_image(image);
        if let Some(size) = node.images.get(&name) {
            let spread = snap.image_nodes.get(&name).copied().unwrap_or(1) as f64;
            sum += (*size as f64 * spread / total_nodes.max(1) as f64) as i64;
        }
    }
    let max = MAX_CONTAINER_IMAGE_THRESHOLD * n.max(1);
    let sum = sum.clamp(MIN_IMAGE_THRESHOLD, max);
    MAX_NODE_SCORE * (sum - MIN_IMAGE_THRESHOLD) / (max - MIN_IMAGE_THRESHOLD)
}

/// TaintToleration raw score: PreferNoSchedule taints the pod does not tolerate.
pub fn intolerable_prefer_no_schedule(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let tols: Vec<_> = pod
        .tolerations()
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .collect();
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tols.iter().any(|tol| tolerates(tol, t)))
        .count() as i64
}

/// NodeAffinity raw score: the weights of the preferred terms the node matches.
pub fn preferred_node_affinity(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(prefs) = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
    else {
        return 0;
    };
    prefs
        .iter()
        .filter(|p| {
            let sel = k8s_openapi::api::core::v1::NodeSelector {
                node_selector_terms: vec![p.preference.clone()],
            };
            match_node_selector(&sel, &node.name, &node.labels)
        })
        .map(|p| i64::from(p.weight))
        .sum()
}

/// upstream `DefaultNormalizeScore`: scale to 0–100 by the maximum, optionally reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = MAX_NODE_SCORE * *s / max;
        if reverse {
            *s = MAX_NODE_SCORE - *s;
        }
    }
}

/// InterPodAffinity PreScore: a score per topology pair from the pod's preferred terms and
/// the existing pods' terms about the pod. Empty when nothing applies.
pub fn inter_pod_topology_scores(pod: &PodInfo, snap: &Snapshot) -> HashMap<(String, String), i64> {
    let mut out: HashMap<(String, String), i64> = HashMap::new();
    let own = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    if !own && !snap.any_affinity() {
        return out;
    }
    let nsl = &snap.namespace_labels;
    for node in snap.nodes.iter().filter(|n| n.present) {
        if !own && node.pods_with_affinity == 0 {
            continue;
        }
        let mut add = |key: &str, w: i64| {
            if let Some(v) = node.labels.get(key) {
                *out.entry((key.to_string(), v.clone())).or_default() += w;
            }
        };
        for ep in &node.pods {
            for (w, t) in &pod.preferred_affinity {
                if t.matches(&ep.namespace, &ep.labels, nsl) {
                    add(&t.topology_key, i64::from(*w));
                }
            }
            for (w, t) in &pod.preferred_anti_affinity {
                if t.matches(&ep.namespace, &ep.labels, nsl) {
                    add(&t.topology_key, -i64::from(*w));
                }
            }
            if !ep.has_affinity() {
                continue;
            }
            // hardPodAffinityWeight defaults to 1.
            for t in &ep.required_affinity {
                if t.matches(&pod.namespace, &pod.labels, nsl) {
                    add(&t.topology_key, 1);
                }
            }
            for (w, t) in &ep.preferred_affinity {
                if t.matches(&pod.namespace, &pod.labels, nsl) {
                    add(&t.topology_key, i64::from(*w));
                }
            }
            for (w, t) in &ep.preferred_anti_affinity {
                if t.matches(&pod.namespace, &pod.labels, nsl) {
                    add(&t.topology_key, -i64::from(*w));
                }
            }
        }
    }
    out
}

/// InterPodAffinity raw score of a node: the sum of its topology pairs' scores.
pub fn inter_pod_score(topo: &HashMap<(String, String), i64>, node: &NodeInfo) -> i64 {
    if topo.is_empty() {
        return 0;
    }
    node.labels
        .iter()
        .filter_map(|(k, v)| topo.get(&(k.clone(), v.clone())))
        .sum()
}

/// InterPodAffinity normalize: min-max to 0–100.
pub fn min_max_normalize(scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    let min = scores.iter().copied().min().unwrap_or(0);
    let diff = max - min;
    for s in scores.iter_mut() {
        *s = if diff > 0 {
            MAX_NODE_SCORE * (*s - min) / diff
        } else {
            0
        };
    }
}

/// PodTopologySpread PreScore for ScheduleAnyway constraints: matching pods per domain and
/// each constraint's weight (ln of the domain count + 2).
#[derive(Debug, Default)]
pub struct SoftSpread {
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

/// Build the soft-spread state (empty when the pod has no ScheduleAnyway constraints).
pub fn soft_spread(pod: &PodInfo, snap: &Snapshot) -> SoftSpread {
    let soft: Vec<_> = pod.spread.iter().filter(|c| !c.hard).collect();
    if soft.is_empty() {
        return SoftSpread::default();
    }
    let mut counts = vec![HashMap::<String, i64>::new(); soft.len()];
    for node in snap.nodes.iter().filter(|n| n.present) {
        if !soft
            .iter()
            .all(|c| node.labels.contains_key(&c.topology_key))
        {
            continue;
        }
        for (i, c) in soft.iter().enumerate() {
            if c.honor_node_affinity && !node_affinity_ok(pod, &node.name, &node.labels) {
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
    let weights = counts.iter().map(|m| ((m.len() + 2) as f64).ln()).collect();
    SoftSpread { counts, weights }
}

/// PodTopologySpread raw score of a node; None when the node lacks a constraint's key.
pub fn spread_score(pod: &PodInfo, s: &SoftSpread, node: &NodeInfo) -> Option<i64> {
    let mut score = 0.0;
    for (i, c) in pod.spread.iter().filter(|c| !c.hard).enumerate() {
        let v = node.labels.get(&c.topology_key)?;
        let cnt = s.counts[i].get(v).copied().unwrap_or(0) as f64;
        score += cnt * s.weights[i] + f64::from(c.max_skew - 1);
    }
    Some(score.round() as i64)
}

/// PodTopologySpread normalize: fewer matching pods score higher; ignored nodes score 0.
pub fn spread_normalize(scores: &mut [Option<i64>]) -> Vec<i64> {
    let vals = scores.iter().flatten();
    let max = vals.clone().copied().max().unwrap_or(0);
    let min = vals.copied().min().unwrap_or(0);
    scores
        .iter()
        .map(|s| match s {
            None => 0,
            Some(_) if max == 0 => MAX_NODE_SCORE,
            Some(s) => MAX_NODE_SCORE * (max + min - s) / max,
        })
        .collect()
}

/// Weighted total score of each feasible node (indices into `snap.nodes`).
pub fn score_nodes(pod: &PodInfo, snap: &Snapshot, feasible: &[usize]) -> Vec<i64> {
    let total_nodes = snap.num_nodes();
    let n = feasible.len();
    let mut total = vec![0i64; n];
    let mut taint = Vec::with_capacity(n);
    let mut node_aff = Vec::with_capacity(n);
    let has_node_pref = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .is_some_and(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .is_some()
        });
    let topo = inter_pod_topology_scores(pod, snap);
    let soft = soft_spread(pod, snap);
    let has_soft = pod.spread.iter().any(|c| !c.hard);
    let mut inter = Vec::with_capacity(n);
    let mut spread = Vec::with_capacity(n);
    for (k, &i) in feasible.iter().enumerate() {
        let node = &snap.nodes[i];
        total[k] += least_allocated(pod, node);
        total[k] += balanced_allocation(pod, node);
        total[k] += image_locality(pod, node, snap, total_nodes);
        taint.push(intolerable_prefer_no_schedule(pod, node));
        if has_node_pref {
            node_aff.push(preferred_node_affinity(pod, node));
        }
        if !topo.is_empty() {
            inter.push(inter_pod_score(&topo, node));
        }
        if has_soft {
            spread.push(spread_score(pod, &soft, node));
        }
    }
    default_normalize(&mut taint, true);
    for k in 0..n {
        total[k] += 3 * taint[k];
    }
    if has_node_pref {
        default_normalize(&mut node_aff, false);
        for k in 0..n {
            total[k] += 2 * node_aff[k];
        }
    }
    if !topo.is_empty() {
        min_max_normalize(&mut inter);
        for k in 0..n {
            total[k] += 2 * inter[k];
        }
    }
    if has_soft {
        let s = spread_normalize(&mut spread);
        for k in 0..n {
            total[k] += 2 * s[k];
        }
    } else {
        // Upstream scores every node 100 when the pod has no (soft) constraints of its own
        // and no system defaults apply; a constant does not change the ranking.
    }
    total
}

#[cfg(test)]
mod tests;
