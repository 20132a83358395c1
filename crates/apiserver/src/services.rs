//! Service admission: ClusterIP and NodePort allocation from --service-cidr and the
//! node-port range, conflicts refused, released on delete.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use k3rs_api::alloc::{IpAllocator, Ipv4Cidr, PortAllocator};
use k3rs_api::status::FieldError;
use serde_json::{Value, json};

/// What one Service holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    pub ip: Option<Ipv4Addr>,
    pub ports: BTreeSet<u16>,
}

/// The allocators of the cluster's Service addresses and node ports.
pub struct ServiceAllocators {
    ips: IpAllocator,
    ports: PortAllocator,
}

fn svc_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn wants_node_ports(svc: &Value) -> bool {
    matches!(svc_type(svc), "NodePort" | "LoadBalancer")
}

/// What a stored Service holds.
pub fn holdings(svc: &Value) -> Holdings {
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("nodePort")?.as_u64())
                .filter_map(|p| u16::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default();
    Holdings { ip, ports }
}

impl ServiceAllocators {
    pub fn new(cidr: Ipv4Cidr, node_ports: (u16, u16)) -> Self {
        Self {
            ips: IpAllocator::new(cidr),
            ports: PortAllocator::new(node_ports.0, node_ports.1),
        }
    }

    /// The address of the `kubernetes` Service (first host of the range).
    pub fn kubernetes_ip(&self) -> Option<Ipv4Addr> {
        self.ips.first_host()
    }

    /// Mark what an existing Service holds (at start-up). Conflicts are logged, not fatal.
    pub fn adopt(&mut self, svc: &Value) {
        let h = holdings(svc);
        if let Some(ip) = h.ip
            && let Err(e) = self.ips.allocate(ip)
        {
            tracing::warn!(%ip, "stored service address: {e}");
        }
        for p in h.ports {
            if let Err(e) = self.ports.allocate(p) {
                tracing::warn!(port = p, "stored service node port: {e}");
            }
        }
    }

    /// Release what a deleted Service held.
    pub fn release(&mut self, h: &Holdings) {
        if let Some(ip) = h.ip {
            self.ips.release(ip);
        }
        for p in &h.ports {
            self.ports.release(*p);
        }
    }

    /// Fill in and reserve the addresses of a Service being created or updated.
    /// `old` is what the Service held before (None on create). On success returns what the
    /// Service now holds; on failure nothing is reserved.
    pub fn admit(
        &mut self,
        svc: &mut Value,
        old: Option<&Value>,
    ) -> Result<Holdings, Vec<FieldError>> {
        let before = old.map(holdings).unwrap_or_default();
        if let (Some(old), None) = (
            old,
            svc.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty()),
        ) {
            // A client that leaves clusterIP out of an update keeps the allocated one.
            if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
                for f in ["clusterIP", "clusterIPs"] {
                    if let Some(v) = old.pointer(&format!("/spec/{f}")) {
                        spec.insert(f.into(), v.clone());
                    }
                }
            }
        }
        let mut taken_ip = None;
        let mut taken_ports = Vec::new();
        let result = self.fill(svc, &before, &mut taken_ip, &mut taken_ports);
        if let Err(errs) = result {
            if let Some(ip) = taken_ip {
                self.ips.release(ip);
            }
            for p in taken_ports {
                self.ports.release(p);
            }
            return Err(errs);
        }
        let after = holdings(svc);
        // Release what the update dropped.
        if let Some(ip) = before.ip.filter(|ip| after.ip != Some(*ip)) {
            self.ips.release(ip);
        }
        for p in before.ports.difference(&after.ports) {
            self.ports.release(*p);
        }
        Ok(after)
    }

    fn fill(
        &mut self,
        svc: &mut Value,
        before: &Holdings,
        taken_ip: &mut Option<Ipv4Addr>,
        taken_ports: &mut Vec<u16>,
    ) -> Result<(), Vec<FieldError>> {
        let kind = svc_type(svc).to_string();
        let node_ports = wants_node_ports(svc);
        let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if kind != "ExternalName" {
            let requested = spec
                .get("clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ip = match requested.as_str() {
                "None" => None,
                "" => {
                    let ip = self.ips.allocate_next().ok_or_else(|| {
                        vec![FieldError::invalid(
                            "spec.clusterIPs",
                            json!([]),
                            "failed to allocate IP: range is full",
                        )]
                    })?;
                    *taken_ip = Some(ip);
                    Some(ip)
                }
                s => {
                    let ip: Ipv4Addr = s.parse().map_err(|_| {
                        vec![FieldError::invalid(
                            "spec.clusterIPs[0]",
                            s,
                            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        )]
                    })?;
                    if before.ip != Some(ip) {
                        self.ips.allocate(ip).map_err(|e| {
                            vec![FieldError::invalid("spec.clusterIPs[0]", s, e.to_string())]
                        })?;
                        *taken_ip = Some(ip);
                    }
                    Some(ip)
                }
            };
            let shown = ip.map(|i| i.to_string()).unwrap_or_else(|| "None".into());
            spec.insert("clusterIP".into(), json!(shown));
            spec.insert("clusterIPs".into(), json!([shown]));
        }
        let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        let mut errs = Vec::new();
        for (i, port) in ports.iter_mut().enumerate() {
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            if !node_ports {
                if port
                    .get("nodePort")
                    .and_then(Value::as_u64)
                    .is_some_and(|p| p != 0)
                {
                    errs.push(FieldError::forbidden(
                        format!("spec.ports[{i}].nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    ));
                }
                port.remove("nodePort");
                continue;
            }
            match port
                .get("nodePort")
                .and_then(Value::as_u64)
                .filter(|p| *p != 0)
            {
                None => match self.ports.allocate_next() {
                    Some(p) => {
                        taken_ports.push(p);
                        port.insert("nodePort".into(), json!(p));
                    }
                    None => errs.push(FieldError::invalid(
                        format!("spec.ports[{i}].nodePort"),
                        0,
                        "range is full",
                    )),
                },
                Some(p) => {
                    let Ok(p) = u16::try_from(p) else {
                        errs.push(FieldError::invalid(
                            format!("spec.ports[{i}].nodePort"),
                            p,
                            "must be between 1 and 65535, inclusive",
                        ));
                        continue;
                    };
                    if before.ports.contains(&p) || taken_ports.contains(&p) {
                        continue;
                    }
                    match self.ports.allocate(p) {
                        Ok(()) => taken_ports.push(p),
                        Err(e) => errs.push(FieldError::invalid(
                            format!("spec.ports[{i}].nodePort"),
                            p,
                            e.to_string(),
                        )),
                    }
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}
