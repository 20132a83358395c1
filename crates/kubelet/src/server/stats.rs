//! `/stats/summary`: the node's CPU and memory from /proc, and each container's from CRI
//! `ListContainerStats`, grouped by pod (a subset of the upstream Summary API).

use std::collections::BTreeMap;

use hyper::{Response, StatusCode, header};
use k3rs_cri::v1::{ContainerStats, ListContainerStatsRequest};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::log_stream::{LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE};
use super::{ApiFailure, Body, KubeletApi, full};

const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// Kernel clock ticks per second in /proc/stat (USER_HZ, 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// Cumulative CPU time of all cores, in nanoseconds, from the first line of /proc/stat.
pub(crate) fn cpu_usage_ns(proc_stat: &str) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .map(|(_, v)| v)
        .sum();
    Some(busy * (1_000_000_000 / USER_HZ))
}

/// (total, available) memory in bytes from /proc/meminfo.
pub(crate) fn memory_bytes(meminfo: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

fn container_json(stats: &ContainerStats, time: &str) -> Option<(String, String, String, Value)> {
    let attrs = stats.attributes.as_ref()?;
    let label = |k: &str| attrs.labels.get(k).cloned().unwrap_or_default();
    let cpu = stats
        .cpu
        .as_ref()
        .and_then(|c| c.usage_core_nano_seconds.as_ref())
        .map(|v| v.value);
    let working_set = stats
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes.as_ref())
        .map(|v| v.value);
    let container = json!({
        "name": label(LABEL_CONTAINER_NAME),
        "cpu": {"time": time, "usageCoreNanoSeconds": cpu},
        "memory": {"time": time, "workingSetBytes": working_set},
    });
    Some((
        label(LABEL_POD_NAMESPACE),
        label(LABEL_POD_NAME),
        label(LABEL_POD_UID),
        container,
    ))
}

pub(crate) async fn summary(api: &KubeletApi) -> Result<Response<Body>, ApiFailure> {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let proc_stat = tokio::fs::read_to_string("/proc/stat")
        .await
        .unwrap_or_default();
    let meminfo = tokio::fs::read_to_string("/proc/meminfo")
        .await
        .unwrap_or_default();
    let (total, available) = memory_bytes(&meminfo).unwrap_or((0, 0));
    let list = api
        .cri
        .runtime()
        .list_container_stats(ListContainerStatsRequest { filter: None })
        .await?
        .into_inner();
    let mut pods: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for s in &list.stats {
        if let Some((ns, name, uid, c)) = container_json(s, &now) {
            pods.entry((ns, name, uid)).or_default().push(c);
        }
    }
    let pods: Vec<Value> = pods
        .into_iter()
        .map(|((namespace, name, uid), containers)| {
            json!({
                "podRef": {"name": name, "namespace": namespace, "uid": uid},
                "containers": containers,
            })
        })
        .collect();
    let body = json!({
        "node": {
            "nodeName": api.node_name,
            "cpu": {"time": now, "usageCoreNanoSeconds": cpu_usage_ns(&proc_stat)},
            "memory": {
                "time": now,
                "availableBytes": available,
                "usageBytes": total.saturating_sub(available),
                "workingSetBytes": total.saturating_sub(available),
            },
        },
        "pods": pods,
    });
    let mut resp = Response::new(full(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests;
