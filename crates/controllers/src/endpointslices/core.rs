//! The pure part of the EndpointSlice controller (upstream `pkg/controller/endpointslice`):
//! the endpoints of a Service's pods grouped by address type and port set, packed into slices
//! of at most [`MAX_ENDPOINTS_PER_SLICE`], reusing the current slices where possible.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::endpoints::core::{
    HEADLESS_LABEL, find_port, hostname_for, is_headless, pod_ips, pod_ready, pod_ref,
    should_pod_be_in_endpoints, tolerates_unready,
};

/// Upstream's default `--max-endpoints-per-slice`.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming the slice's manager.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// A slice's grouping: address type and its sorted ports.
type GroupKey = (String, Vec<(String, i32, String, Option<String>)>);

fn group_key(address_type: &str, ports: &[EndpointPort]) -> GroupKey {
    let mut ps: Vec<_> = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or(0),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                p.app_protocol.clone(),
            )
        })
        .collect();
    ps.sort();
    (address_type.to_string(), ps)
}

/// The address types of a Service (its ipFamilies; IPv4 when unset).
pub fn address_types(svc: &Service) -> Vec<String> {
    let fams = svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.clone())
        .unwrap_or_default();
    if fams.is_empty() {
        vec!["IPv4".into()]
    } else {
        fams
    }
}

/// The labels of a Service's slices (upstream `setEndpointSliceLabels`).
pub fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS_LABEL);
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    labels
}

/// The ownerReference of a slice to its Service.
pub fn owner_ref(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.metadata.name.clone().unwrap_or_default(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The endpoint of a pod (upstream `podToEndpoint`).
pub fn pod_endpoint(pod: &Pod, svc: &Service, ip: String) -> Endpoint {
    let serving = pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = tolerates_unready(svc) || (serving && !terminating);
    Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: hostname_for(pod, svc),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(pod_ref(pod)),
        ..Default::default()
    }
}

/// The ports of a pod for a Service; ports that do not resolve are left out.
pub fn pod_ports(pod: &Pod, svc: &Service) -> Vec<EndpointPort> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, sp)?),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

fn endpoint_key(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone().or_else(|| r.name.clone()))
        .unwrap_or_else(|| e.addresses.join(","))
}

/// The writes that bring a Service's slices to the desired state.
#[derive(Debug, Default, PartialEq)]
pub struct SlicePlan {
    /// New slices (named by generateName).
    pub create: Vec<EndpointSlice>,
    /// Changed slices (carrying their current name and resourceVersion).
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
}

impl SlicePlan {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

fn new_slice(svc: &Service, address_type: &str, ports: Option<Vec<EndpointPort>>) -> EndpointSlice {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut prefix = format!("{name}-");
    if prefix.len() > 58 {
        prefix.truncate(58);
    }
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![owner_ref(svc)]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports,
    }
}

/// Whether `cur` already carries the labels and owner a slice of `svc` must have.
fn meta_matches(cur: &EndpointSlice, svc: &Service) -> bool {
    cur.metadata.labels.as_ref() == Some(&slice_labels(svc))
        && cur
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| o.len() == 1 && o[0] == owner_ref(svc))
}

fn with_meta(mut s: EndpointSlice, svc: &Service) -> EndpointSlice {
    s.metadata.labels = Some(slice_labels(svc));
    s.metadata.owner_references = Some(vec![owner_ref(svc)]);
    s.metadata.managed_fields = None;
    s
}

/// Plans the slices of `svc` from the pods of its namespace and its current slices (those
/// labelled as this controller's for this Service).
pub fn plan(svc: &Service, pods: &[&Pod], current: &[EndpointSlice]) -> SlicePlan {
    // Desired endpoints per group, in pod-name order.
    let mut desired: BTreeMap<GroupKey, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    let mut sorted: Vec<&&Pod> = pods.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for at in address_types(svc) {
        let v6 = at == "IPv6";
        for pod in &sorted {
            if !crate::endpoints::core::selects(svc, pod) || !should_pod_be_in_endpoints(pod, true)
            {
                continue;
            }
            let Some(ip) = pod_ips(pod).into_iter().find(|ip| ip.contains(':') == v6) else {
                continue;
            };
            let ports = pod_ports(pod, svc);
            let key = group_key(&at, &ports);
            desired
                .entry(key)
                .or_insert_with(|| (ports, Vec::new()))
                .1
                .push(pod_endpoint(pod, svc, ip));
        }
    }

    let mut plan = SlicePlan::default();
    let total: usize = desired.values().map(|(_, e)| e.len()).sum();
    if total == 0 {
        // Upstream keeps one placeholder slice (no ports, no endpoints) per Service.
        let at = address_types(svc)
            .into_iter()
            .next()
            .unwrap_or_else(|| "IPv4".into());
        let keep = current.iter().position(|s| {
            s.endpoints.is_empty()
                && s.ports.as_ref().is_none_or(Vec::is_empty)
                && s.address_type == at
        });
        for (i, s) in current.iter().enumerate() {
            if Some(i) == keep {
                if !meta_matches(s, svc) {
                    plan.update.push(with_meta(s.clone(), svc));
                }
            } else if let Some(n) = &s.metadata.name {
                plan.delete.push(n.clone());
            }
        }
        if keep.is_none() {
            plan.create.push(new_slice(svc, &at, None));
        }
        return plan;
    }

    // Current slices by group.
    let mut current_by_group: BTreeMap<GroupKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in current {
        let key = group_key(&s.address_type, s.ports.as_deref().unwrap_or(&[]));
        if desired.contains_key(&key) {
            current_by_group.entry(key).or_default().push(s);
        } else if let Some(n) = &s.metadata.name {
            plan.delete.push(n.clone());
        }
    }

    for (key, (ports, endpoints)) in desired {
        let mut wanted: HashMap<String, Endpoint> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for e in endpoints {
            let k = endpoint_key(&e);
            if wanted.insert(k.clone(), e).is_none() {
                order.push(k);
            }
        }
        // Keep endpoints where they are (updated in place), drop those no longer wanted.
        let mut slices: Vec<(EndpointSlice, bool)> = Vec::new();
        for cur in current_by_group.remove(&key).unwrap_or_default() {
            let mut next: Vec<Endpoint> = Vec::new();
            for e in &cur.endpoints {
                let k = endpoint_key(e);
                if next.len() >= MAX_ENDPOINTS_PER_SLICE {
                    continue;
                }
                if let Some(w) = wanted.remove(&k) {
                    next.push(w);
                }
            }
            let changed = next != cur.endpoints || !meta_matches(cur, svc);
            let mut s = cur.clone();
            s.endpoints = next;
            slices.push((s, changed));
        }
        // Fill slices with room, then new slices.
        let mut rest = order
            .into_iter()
            .filter_map(|k| wanted.remove(&k))
            .peekable();
        for (s, changed) in slices.iter_mut() {
            while s.endpoints.len() < MAX_ENDPOINTS_PER_SLICE {
                match rest.next() {
                    Some(e) => {
                        s.endpoints.push(e);
                        *changed = true;
                    }
                    None => break,
                }
            }
        }
        for (s, changed) in slices {
            if s.endpoints.is_empty() {
                if let Some(n) = s.metadata.name {
                    plan.delete.push(n);
                }
            } else if changed {
                plan.update.push(with_meta(s, svc));
            }
        }
        while rest.peek().is_some() {
            let mut s = new_slice(svc, &key.0, Some(ports.clone()));
            s.endpoints = rest.by_ref().take(MAX_ENDPOINTS_PER_SLICE).collect();
            plan.create.push(s);
        }
    }
    plan
}
