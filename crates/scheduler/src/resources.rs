//! Resource quantities and the requests of a pod, as upstream's `resourcehelper.PodRequests`
//! computes them: the larger of the sum of the app containers (plus restartable init
//! containers, "sidecars") and the largest init container, plus the pod overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// CPU a container without a CPU request counts as when scoring (upstream `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory a container without a memory request counts as when scoring (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each schedulable resource: CPU in millicores, the rest in base units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU, millicores.
    pub milli_cpu: i64,
    /// Memory, bytes.
    pub memory: i64,
    /// Ephemeral storage, bytes.
    pub ephemeral_storage: i64,
    /// Extended and hugepage resources (`nvidia.com/gpu`, `hugepages-2Mi`, …).
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Add `other` to self.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    /// Subtract `other` from self.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// Each resource the larger of self and `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// The resources of a `ResourceList` (`requests`, `allocatable`, `overhead`).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            match name.as_str() {
                "cpu" => r.milli_cpu = parse_milli(&q.0).unwrap_or(0),
                "memory" => r.memory = parse_value(&q.0).unwrap_or(0),
                "ephemeral-storage" => r.ephemeral_storage = parse_value(&q.0).unwrap_or(0),
                "pods" => {}
                other if is_scalar_resource(other) => {
                    r.scalar
                        .insert(other.to_string(), parse_value(&q.0).unwrap_or(0));
                }
                _ => {}
            }
        }
        r
    }
}

/// Extended resources (a domain-qualified name outside kubernetes.io), hugepages and
/// attachable-volume limits are "scalar" resources to the scheduler.
fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

/// Parse a quantity into thousandths of its base unit, rounding up (`"100m"` → 100, `"1"` → 1000).
pub fn parse_milli(s: &str) -> Option<i64> {
    parse_scaled(s, 1000)
}

/// Parse a quantity into its base unit, rounding up (`"1Ki"` → 1024, `"1.5"` → 2).
pub fn parse_value(s: &str) -> Option<i64> {
    parse_scaled(s, 1)
}

fn parse_scaled(s: &str, scale: i128) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    if num.is_empty() || num == "." {
        return None;
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let mut mantissa: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))?;
    }
    // value = mantissa * 10^(exp10) * 2^(exp2) / 10^frac_len
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        e if e.starts_with(['e', 'E']) => (e[1..].parse::<i32>().ok()?, 0),
        _ => return None,
    };
    let exp10 = exp10 - i32::try_from(frac_part.len()).ok()?;
    let mut num = mantissa.checked_mul(scale)?.checked_mul(1i128 << exp2)?;
    let mut den: i128 = 1;
    if exp10 >= 0 {
        num = num.checked_mul(10i128.checked_pow(exp10.unsigned_abs())?)?;
    } else {
        den = 10i128.checked_pow(exp10.unsigned_abs())?;
    }
    let v = (num + den - 1) / den;
    let v = i64::try_from(v).unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

fn container_requests(c: &Container) -> Resources {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(Resources::from_list)
        .unwrap_or_default()
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The requests of a pod (`resourcehelper.PodRequests`): app containers summed, each init
/// container against the running total of sidecars started before it, plus overhead.
/// With `non_zero`, a container without a CPU or memory request counts the scoring defaults.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let with_defaults = |c: &Container| {
        let mut r = container_requests(c);
        if non_zero {
            let has = |n: &str| {
                c.resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .is_some_and(|m| m.contains_key(n))
            };
            if !has("cpu") {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !has("memory") {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&with_defaults(c));
    }
    let mut restartable = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = with_defaults(c);
        if is_sidecar(c) {
            reqs.add(&r);
            restartable.add(&r);
            init_max.max_with(&restartable);
        } else {
            let mut tmp = r;
            tmp.add(&restartable);
            init_max.max_with(&tmp);
        }
    }
    reqs.max_with(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add(&Resources::from_list(overhead));
    }
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    fn container(cpu: &str, mem: &str) -> Container {
        let mut req = BTreeMap::new();
        if !cpu.is_empty() {
            req.insert("cpu".to_string(), q(cpu));
        }
        if !mem.is_empty() {
            req.insert("memory".to_string(), q(mem));
        }
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(req),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_milli("100m"), Some(100));
        assert_eq!(parse_milli("1"), Some(1000));
        assert_eq!(parse_milli("2.5"), Some(2500));
        assert_eq!(parse_milli("0.0001"), Some(1));
        assert_eq!(parse_value("1Ki"), Some(1024));
        assert_eq!(parse_value("1.5Gi"), Some(1536 * 1024 * 1024));
        assert_eq!(parse_value("1G"), Some(1_000_000_000));
        assert_eq!(parse_value("1e3"), Some(1000));
        assert_eq!(parse_value("128974848"), Some(128_974_848));
        assert_eq!(parse_value("1.5"), Some(2));
        assert_eq!(parse_value("abc"), None);
        assert_eq!(parse_value("1Qi"), None);
    }

    #[test]
    fn init_containers_max_against_sum() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container("100m", "100Mi"), container("200m", "")],
                init_containers: Some(vec![container("1", "50Mi")]),
                overhead: Some([("cpu".to_string(), q("10m"))].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_requests(&pod, false);
        assert_eq!(r.milli_cpu, 1010);
        assert_eq!(r.memory, 100 * 1024 * 1024);
        let nz = pod_requests(&pod, true);
        assert_eq!(nz.memory, 300 * 1024 * 1024);
    }

    #[test]
    fn sidecars_add_to_the_sum() {
        let mut sidecar = container("500m", "");
        sidecar.restart_policy = Some("Always".into());
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container("100m", "")],
                init_containers: Some(vec![sidecar, container("300m", "")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        // sum = 100 + 500; init: 300 + 500 sidecar = 800 → max 800.
        assert_eq!(pod_requests(&pod, false).milli_cpu, 800);
    }

    #[test]
    fn extended_resources_are_scalar() {
        let list: BTreeMap<String, Quantity> = [
            ("nvidia.com/gpu".to_string(), q("2")),
            ("pods".to_string(), q("110")),
            ("hugepages-2Mi".to_string(), q("4Mi")),
        ]
        .into();
        let r = Resources::from_list(&list);
        assert_eq!(r.scalar.get("nvidia.com/gpu"), Some(&2));
        assert_eq!(r.scalar.get("hugepages-2Mi"), Some(&(4 * 1024 * 1024)));
        assert!(!r.scalar.contains_key("pods"));
    }
}
