//! The pure part of the Endpoints controller (upstream `pkg/controller/endpoint`): which pods a
//! Service selects, their addresses and ports, and the packed subsets.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The label upstream puts on the Endpoints/EndpointSlices of headless Services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Upstream's cap on the addresses of one Endpoints object.
pub const MAX_ENDPOINTS_ADDRESSES: usize = 1000;
/// The annotation set when addresses were truncated.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";

/// Whether the Service's endpoints are maintained by the controllers: it has a selector and is
/// not of type ExternalName (the `kubernetes` Service has no selector).
pub fn is_managed(svc: &Service) -> bool {
    let Some(spec) = &svc.spec else { return false };
    spec.type_.as_deref() != Some("ExternalName")
        && spec.selector.as_ref().is_some_and(|s| !s.is_empty())
}

/// Whether `pod` carries every label of the Service's selector.
pub fn selects(svc: &Service, pod: &Pod) -> bool {
    let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    if sel.is_empty() || pod.metadata.namespace != svc.metadata.namespace {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    sel.iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// `publishNotReadyAddresses`.
pub fn tolerates_unready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// Whether the pod's Ready condition is True (podutil.IsPodReady).
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Succeeded or Failed.
pub fn pod_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The pod's IPs (status.podIPs, else status.podIP).
pub fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(st) = &pod.status else {
        return Vec::new();
    };
    let mut ips: Vec<String> = st
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty()
        && let Some(ip) = st.pod_ip.as_ref().filter(|ip| !ip.is_empty())
    {
        ips.push(ip.clone());
    }
    ips
}

/// upstream `ShouldPodBeInEndpoints`: not terminal, has an IP, and (unless terminating pods
/// are included) not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The container port a Service port targets on `pod` (podutil.FindPort): a number as is
/// (0 or missing: the Service port), a name looked up in the containers' ports with the same
/// protocol.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    let protocol = sp.protocol.as_deref().unwrap_or("TCP");
    match &sp.target_port {
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            spec.containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
        Some(IntOrString::Int(n)) if *n != 0 => Some(*n),
        _ => Some(sp.port),
    }
}

/// Whether the endpoint gets the pod's hostname: the pod names a hostname and its subdomain
/// is the Service's name, and the Service is headless (upstream `ShouldSetHostname`).
pub fn hostname_for(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let host = spec.hostname.as_ref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref() && is_headless(svc))
        .then(|| host.clone())
}

/// The Pod ObjectReference of an endpoint.
pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// The labels of a Service's Endpoints: the Service's labels, plus the headless label.
pub fn endpoints_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS_LABEL);
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

type PortKey = Vec<(String, i32, String, Option<String>)>;

fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut k: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port,
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                p.app_protocol.clone(),
            )
        })
        .collect();
    k.sort();
    k.dedup();
    k
}

fn address_key(a: &EndpointAddress) -> (String, String) {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

/// Packs subsets as upstream `RepackSubsets`: addresses sharing one port set are merged into
/// one subset, an address both ready and not ready counts as ready; everything sorted so that
/// equal content compares equal.
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    type Addrs = BTreeMap<(String, String), EndpointAddress>;
    let mut by_ports: BTreeMap<PortKey, (Vec<EndpointPort>, Addrs, Addrs)> = BTreeMap::new();
    for s in subsets {
        let ports = s.ports.clone().unwrap_or_default();
        let key = port_key(&ports);
        let entry = by_ports.entry(key.clone()).or_insert_with(|| {
            let mut ps: Vec<EndpointPort> = Vec::new();
            for (name, port, protocol, app) in &key {
                ps.push(EndpointPort {
                    name: (!name.is_empty()).then(|| name.clone()),
                    port: *port,
                    protocol: Some(protocol.clone()),
                    app_protocol: app.clone(),
                });
            }
            (ps, BTreeMap::new(), BTreeMap::new())
        });
        for a in s.addresses.iter().flatten() {
            entry.1.insert(address_key(a), a.clone());
        }
        for a in s.not_ready_addresses.iter().flatten() {
            entry.2.insert(address_key(a), a.clone());
        }
    }
    let mut out = Vec::new();
    for (_, (ports, ready, mut not_ready)) in by_ports {
        for k in ready.keys() {
            not_ready.remove(k);
        }
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        out.push(EndpointSubset {
            addresses: (!ready.is_empty()).then(|| ready.into_values().collect()),
            not_ready_addresses: (!not_ready.is_empty()).then(|| not_ready.into_values().collect()),
            ports: (!ports.is_empty()).then_some(ports),
        });
    }
    out
}

/// The subsets of a Service from its selected pods (upstream `syncService`), packed.
pub fn desired_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let tolerate = tolerates_unready(svc);
    let svc_ports: &[ServicePort] = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[]);
    let family_v6 = primary_family_v6(svc);
    let mut subsets = Vec::new();
    for pod in pods {
        if !selects(svc, pod) || !should_pod_be_in_endpoints(pod, tolerate) {
            continue;
        }
        let Some(ip) = pod_ips(pod)
            .into_iter()
            .find(|ip| ip.contains(':') == family_v6)
        else {
            continue;
        };
        let addr = EndpointAddress {
            ip,
            hostname: hostname_for(pod, svc),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_ref(pod)),
        };
        let ready = tolerate || pod_ready(pod);
        let subset_of = |ports: Option<Vec<EndpointPort>>| EndpointSubset {
            addresses: ready.then(|| vec![addr.clone()]),
            not_ready_addresses: (!ready).then(|| vec![addr.clone()]),
            ports,
        };
        if svc_ports.is_empty() {
            if is_headless(svc) {
                subsets.push(subset_of(None));
            }
            continue;
        }
        for sp in svc_ports {
            let Some(port) = find_port(pod, sp) else {
                continue;
            };
            subsets.push(subset_of(Some(vec![EndpointPort {
                name: sp.name.clone(),
                port,
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            }])));
        }
    }
    repack(&subsets)
}

/// Whether the Service's primary IP family is IPv6.
pub fn primary_family_v6(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
        .is_some_and(|f| f == "IPv6")
}

/// Truncates to [`MAX_ENDPOINTS_ADDRESSES`] addresses (ready ones kept first); true when
/// something was dropped.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let total: usize = subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum();
    if total <= MAX_ENDPOINTS_ADDRESSES {
        return false;
    }
    let mut budget = MAX_ENDPOINTS_ADDRESSES;
    for s in subsets.iter_mut() {
        if let Some(a) = s.addresses.as_mut() {
            a.truncate(budget);
            budget -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if let Some(a) = s.not_ready_addresses.as_mut() {
            a.truncate(budget);
            budget -= a.len();
        }
    }
    true
}

/// What to write for a Service.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Nothing differs.
    Nothing,
    /// Create this object.
    Create(Endpoints),
    /// Replace the current object with this one (it carries the current resourceVersion).
    Update(Endpoints),
}

/// Compares the desired Endpoints of `svc` with `current` (upstream: subsets, labels and the
/// over-capacity annotation).
pub fn plan(svc: &Service, pods: &[&Pod], current: Option<&Endpoints>) -> Plan {
    let mut subsets = desired_subsets(svc, pods);
    let truncated = truncate(&mut subsets);
    let labels = endpoints_labels(svc);
    match current {
        None => {
            let mut annotations = BTreeMap::new();
            if truncated {
                annotations.insert(
                    OVER_CAPACITY_ANNOTATION.to_string(),
                    "truncated".to_string(),
                );
            }
            Plan::Create(Endpoints {
                metadata: ObjectMeta {
                    name: svc.metadata.name.clone(),
                    namespace: svc.metadata.namespace.clone(),
                    labels: (!labels.is_empty()).then_some(labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..Default::default()
                },
                subsets: (!subsets.is_empty()).then_some(subsets),
            })
        }
        Some(cur) => {
            let cur_subsets = repack(cur.subsets.as_deref().unwrap_or(&[]));
            let cur_labels = cur.metadata.labels.clone().unwrap_or_default();
            let mut annotations = cur.metadata.annotations.clone().unwrap_or_default();
            let was_truncated = annotations.contains_key(OVER_CAPACITY_ANNOTATION);
            if cur_subsets == subsets && cur_labels == labels && was_truncated == truncated {
                return Plan::Nothing;
            }
            if truncated {
                annotations.insert(
                    OVER_CAPACITY_ANNOTATION.to_string(),
                    "truncated".to_string(),
                );
            } else {
                annotations.remove(OVER_CAPACITY_ANNOTATION);
            }
            let mut next = cur.clone();
            next.metadata.labels = (!labels.is_empty()).then_some(labels);
            next.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
            next.metadata.managed_fields = None;
            next.subsets = (!subsets.is_empty()).then_some(subsets);
            Plan::Update(next)
        }
    }
}

/// The names of the services in `services` that select `pod` (for requeueing on pod events).
pub fn services_selecting<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    pod: &Pod,
) -> BTreeSet<String> {
    services
        .into_iter()
        .filter(|s| is_managed(s) && selects(s, pod))
        .filter_map(|s| s.metadata.name.clone())
        .collect()
}
