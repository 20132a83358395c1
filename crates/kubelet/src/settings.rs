//! The kubelet's settings: `--kubelet-arg name=value` pairs (as k3s passes them to the
//! kubelet) parsed into values, and the node's capacity and allocatable resources they imply.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k3rs_api::validation::quantity::parse_quantity;

/// The kubelet args this kubelet understands, for the error message about the others.
pub const SUPPORTED_ARGS: &[&str] = &[
    "port",
    "max-pods",
    "system-reserved",
    "kube-reserved",
    "eviction-hard",
    "cluster-dns",
    "cluster-domain",
    "image-gc-high-threshold",
    "image-gc-low-threshold",
];

/// A `--kubelet-arg` that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error(
        "unknown kubelet argument {name:?}; this kubelet understands: {}",
        SUPPORTED_ARGS.join(", ")
    )]
    Unknown { name: String },
    #[error("invalid kubelet argument {name}={value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// Resources held back from pods (`--system-reserved`, `--kube-reserved`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub ephemeral_storage_bytes: u64,
}

/// An eviction threshold: an absolute amount or a share of capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Bytes(u64),
    Percent(f64),
}

impl Threshold {
    /// The amount this threshold stands for on a resource of `capacity`.
    pub fn amount(&self, capacity: u64) -> u64 {
        match *self {
            Threshold::Bytes(b) => b,
            Threshold::Percent(p) => (capacity as f64 * p / 100.0) as u64,
        }
    }
}

/// `--eviction-hard`: below these, the node reports pressure. Upstream's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvictionHard {
    pub memory_available: Threshold,
    pub nodefs_available: Threshold,
    pub imagefs_available: Threshold,
    pub pid_available: Threshold,
}

impl Default for EvictionHard {
    fn default() -> Self {
        Self {
            memory_available: Threshold::Bytes(100 << 20),
            nodefs_available: Threshold::Percent(10.0),
            imagefs_available: Threshold::Percent(15.0),
            pid_available: Threshold::Percent(0.0),
        }
    }
}

/// The kubelet's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeletSettings {
    /// The kubelet API port.
    pub port: u16,
    pub max_pods: u32,
    pub system_reserved: Reservation,
    pub kube_reserved: Reservation,
    pub eviction_hard: EvictionHard,
    /// Cluster DNS servers for pods with dnsPolicy ClusterFirst (empty: the caller's default).
    pub cluster_dns: Vec<IpAddr>,
    pub cluster_domain: String,
    /// Disk usage (percent) above which unused images are removed, and the target below it.
    pub image_gc_high_percent: u8,
    pub image_gc_low_percent: u8,
}

impl Default for KubeletSettings {
    fn default() -> Self {
        Self {
            port: 10250,
            max_pods: 110,
            system_reserved: Reservation::default(),
            kube_reserved: Reservation::default(),
            eviction_hard: EvictionHard::default(),
            cluster_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            image_gc_high_percent: 85,
            image_gc_low_percent: 80,
        }
    }
}

impl KubeletSettings {
    /// The defaults overridden by `args` (`name=value`; a later value of a name wins).
    pub fn from_args(args: &[(String, String)]) -> Result<Self, SettingsError> {
        let mut s = Self::default();
        for (name, value) in args {
            let invalid = |reason: &str| SettingsError::Invalid {
                name: name.clone(),
                value: value.clone(),
                reason: reason.to_string(),
            };
            match name.as_str() {
                "port" => s.port = value.parse().map_err(|_| invalid("not a port number"))?,
                "max-pods" => {
                    s.max_pods = value.parse().map_err(|_| invalid("not a whole number"))?
                }
                "system-reserved" => {
                    s.system_reserved = reservation(value).map_err(|r| invalid(&r))?
                }
                "kube-reserved" => s.kube_reserved = reservation(value).map_err(|r| invalid(&r))?,
                "eviction-hard" => {
                    s.eviction_hard = eviction_hard(value).map_err(|r| invalid(&r))?
                }
                "cluster-dns" => {
                    s.cluster_dns = value
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(|v| v.trim().parse())
                        .collect::<Result<_, _>>()
                        .map_err(|_| invalid("not a comma-separated list of IP addresses"))?
                }
                "cluster-domain" => s.cluster_domain = value.trim_end_matches('.').to_string(),
                "image-gc-high-threshold" => {
                    s.image_gc_high_percent = percent(value).map_err(|r| invalid(&r))?
                }
                "image-gc-low-threshold" => {
                    s.image_gc_low_percent = percent(value).map_err(|r| invalid(&r))?
                }
                _ => return Err(SettingsError::Unknown { name: name.clone() }),
            }
        }
        if s.image_gc_low_percent > s.image_gc_high_percent {
            return Err(SettingsError::Invalid {
                name: "image-gc-low-threshold".into(),
                value: s.image_gc_low_percent.to_string(),
                reason: "must not be above image-gc-high-threshold".into(),
            });
        }
        Ok(s)
    }
}

fn percent(value: &str) -> Result<u8, String> {
    value
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| "must be a whole percentage 0-100".into())
}

/// A quantity in whole units (bytes, or cores for `milli = false`).
fn amount(value: &str, scale: i128) -> Result<u64, String> {
    let q = parse_quantity(value).map_err(|e| e.to_string())?;
    if q.is_negative() {
        return Err("must not be negative".into());
    }
    Ok(u64::try_from(q.nanos / scale).unwrap_or(u64::MAX))
}

/// `cpu=100m,memory=200Mi,ephemeral-storage=1Gi`.
fn reservation(value: &str) -> Result<Reservation, String> {
    let mut r = Reservation::default();
    for pair in value.split(',').filter(|p| !p.is_empty()) {
        let (name, quantity) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not resource=quantity"))?;
        match name.trim() {
            "cpu" => r.cpu_millis = amount(quantity.trim(), 1_000_000)?,
            "memory" => r.memory_bytes = amount(quantity.trim(), 1_000_000_000)?,
            "ephemeral-storage" => {
                r.ephemeral_storage_bytes = amount(quantity.trim(), 1_000_000_000)?
            }
            "pid" => {}
            other => {
                return Err(format!(
                    "unknown resource {other:?} (cpu, memory, ephemeral-storage, pid)"
                ));
            }
        }
    }
    Ok(r)
}

/// `memory.available<100Mi,nodefs.available<10%`; signals not named keep no threshold, as
/// upstream does once any is given.
fn eviction_hard(value: &str) -> Result<EvictionHard, String> {
    let none = Threshold::Bytes(0);
    let mut e = EvictionHard {
        memory_available: none,
        nodefs_available: none,
        imagefs_available: none,
        pid_available: none,
    };
    for pair in value.split(',').filter(|p| !p.is_empty()) {
        let (signal, threshold) = pair
            .split_once('<')
            .ok_or_else(|| format!("{pair:?} is not signal<threshold"))?;
        let threshold = match threshold.trim().strip_suffix('%') {
            Some(p) => Threshold::Percent(
                p.parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| format!("{threshold:?} is not a percentage"))?,
            ),
            None => Threshold::Bytes(amount(threshold.trim(), 1_000_000_000)?),
        };
        match signal.trim() {
            "memory.available" => e.memory_available = threshold,
            "nodefs.available" => e.nodefs_available = threshold,
            "imagefs.available" => e.imagefs_available = threshold,
            "pid.available" => e.pid_available = threshold,
            "nodefs.inodesFree" | "imagefs.inodesFree" => {}
            other => return Err(format!("unknown eviction signal {other:?}")),
        }
    }
    Ok(e)
}

/// What the machine has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostResources {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub ephemeral_storage_bytes: u64,
}

/// The node's capacity and allocatable resources: allocatable is capacity less the system and
/// kube reservations and the hard eviction thresholds (memory, nodefs), as upstream computes it.
pub fn capacity_and_allocatable(
    host: &HostResources,
    s: &KubeletSettings,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let reserved = |f: fn(&Reservation) -> u64| f(&s.system_reserved) + f(&s.kube_reserved);
    let cpu = host.cpu_millis;
    let memory = host.memory_bytes;
    let storage = host.ephemeral_storage_bytes;
    let cpu_alloc = cpu.saturating_sub(reserved(|r| r.cpu_millis));
    let memory_alloc = memory
        .saturating_sub(reserved(|r| r.memory_bytes))
        .saturating_sub(s.eviction_hard.memory_available.amount(memory));
    let storage_alloc = storage
        .saturating_sub(reserved(|r| r.ephemeral_storage_bytes))
        .saturating_sub(s.eviction_hard.nodefs_available.amount(storage));
    let cpu_quantity = |m: u64| {
        if m.is_multiple_of(1000) {
            (m / 1000).to_string()
        } else {
            format!("{m}m")
        }
    };
    let memory_quantity = |b: u64| {
        if b.is_multiple_of(1024) {
            format!("{}Ki", b / 1024)
        } else {
            b.to_string()
        }
    };
    let resources = |cpu: u64, memory: u64, storage: u64| {
        BTreeMap::from([
            ("cpu".to_string(), cpu_quantity(cpu)),
            ("memory".to_string(), memory_quantity(memory)),
            ("ephemeral-storage".to_string(), memory_quantity(storage)),
            ("pods".to_string(), s.max_pods.to_string()),
            ("hugepages-1Gi".to_string(), "0".to_string()),
            ("hugepages-2Mi".to_string(), "0".to_string()),
        ])
    };
    (
        resources(cpu, memory, storage),
        resources(cpu_alloc, memory_alloc, storage_alloc),
    )
}

#[cfg(test)]
mod tests;
