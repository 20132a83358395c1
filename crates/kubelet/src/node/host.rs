//! What the machine is and has, read from /proc, /sys and the file system: the facts a node
//! status reports and the eviction signals behind its pressure conditions.

use std::path::Path;

use super::status::{NodeInfo, Pressure};
use crate::settings::{HostResources, KubeletSettings};

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A `/proc/meminfo` field in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text, field)
}

/// A `/proc/meminfo` field (`MemTotal:  16318604 kB`) in bytes.
pub fn parse_meminfo(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// `PRETTY_NAME` of an os-release file.
pub fn parse_os_release(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let v = line.strip_prefix("PRETTY_NAME=")?;
        Some(v.trim_matches('"').to_string())
    })
}

/// The Go name of this machine's architecture, as Kubernetes labels use it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Total and available bytes of the file system holding `path`.
fn filesystem(path: &Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some((
        st.f_blocks.saturating_mul(st.f_frsize),
        st.f_bavail.saturating_mul(st.f_frsize),
    ))
}

/// What the machine has.
pub fn resources(state_dir: &Path) -> HostResources {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    HostResources {
        cpu_millis: cpus * 1000,
        memory_bytes: meminfo("MemTotal").unwrap_or(0),
        ephemeral_storage_bytes: filesystem(state_dir).map_or(0, |(total, _)| total),
    }
}

/// Node info except the runtime version (the caller asks the runtime).
pub fn node_info() -> NodeInfo {
    let machine_id = read_trimmed("/etc/machine-id");
    NodeInfo {
        system_uuid: Some(read_trimmed("/sys/class/dmi/id/product_uuid"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| machine_id.clone()),
        machine_id,
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
        os_image: std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| parse_os_release(&t))
            .unwrap_or_else(|| "Linux".into()),
        container_runtime_version: String::new(),
        architecture: go_arch().to_string(),
    }
}

/// The eviction signals against the hard thresholds: which pressures the node is under.
pub fn pressure(state_dir: &Path, settings: &KubeletSettings) -> Pressure {
    let thresholds = &settings.eviction_hard;
    let memory = match (meminfo("MemTotal"), meminfo("MemAvailable")) {
        (Some(total), Some(available)) => available < thresholds.memory_available.amount(total),
        _ => false,
    };
    let disk = filesystem(state_dir)
        .is_some_and(|(total, available)| available < thresholds.nodefs_available.amount(total));
    let pid_max: u64 = read_trimmed("/proc/sys/kernel/pid_max")
        .parse()
        .unwrap_or(0);
    let pids_in_use = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    let pid = pid_max > 0
        && pid_max.saturating_sub(pids_in_use) < thresholds.pid_available.amount(pid_max);
    Pressure { memory, disk, pid }
}
