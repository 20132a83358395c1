//! Core and other non-workload kinds: Service, ConfigMap, Secret, volumes, Ingress,
//! StorageClass, PriorityClass.

use super::quantity::parse_quantity;
use super::{FIELD_IMMUTABLE, V, arr, json_equal, map_of, str_at, str_of};
use crate::names;
use crate::status::FieldError;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::IpAddr;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Upstream `MaxSecretSize` (also the ConfigMap limit).
const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn port_num_or_name(v: &mut V, x: Option<&Value>, path: &str) {
    match x {
        Some(Value::Number(n)) => {
            for m in names::is_valid_port_num(n.as_i64().unwrap_or(-1)) {
                v.push(FieldError::invalid(path, Value::Number(n.clone()), m));
            }
        }
        Some(Value::String(s)) => v.check_name(path, s, names::is_valid_port_name(s)),
        _ => {}
    }
}

/// `ValidateService`.
pub(super) fn service(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let ty = str_of(spec, "type");
    let cluster_ip = str_of(spec, "clusterIP");
    let headless = cluster_ip == "None";
    let ports = arr(spec, "ports");
    if ty.is_empty() {
        v.push(FieldError::required("spec.type", ""));
    } else if !SERVICE_TYPES.contains(&ty) {
        v.push(FieldError::not_supported("spec.type", ty, SERVICE_TYPES));
    }
    if ty == "ExternalName" {
        if !cluster_ip.is_empty() {
            v.push(FieldError::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        let external = str_of(spec, "externalName");
        let trimmed = external.strip_suffix('.').unwrap_or(external);
        if external.is_empty() {
            v.push(FieldError::required("spec.externalName", ""));
        } else {
            let msgs = names::is_dns1123_subdomain(trimmed);
            if !msgs.is_empty() {
                v.push(FieldError::invalid(
                    "spec.externalName",
                    trimmed,
                    msgs.join(","),
                ));
            } else if !trimmed.contains('.') {
                v.push(FieldError::invalid(
                    "spec.externalName",
                    trimmed,
                    "should be a domain with at least two segments separated by dots",
                ));
            }
        }
    } else if ports.is_empty() && !headless {
        v.push(FieldError::required("spec.ports", ""));
    }
    // clusterIP / clusterIPs syntax and agreement.
    let ips: Vec<&str> = arr(spec, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (i, ip) in ips.iter().enumerate() {
        if !(ip.is_empty() || (*ip == "None" && i == 0) || ip.parse::<IpAddr>().is_ok()) {
            v.push(FieldError::invalid(
                format!("spec.clusterIPs[{i}]"),
                *ip,
                INVALID_IP,
            ));
        }
    }
    if let Some(first) = ips.first()
        && !cluster_ip.is_empty()
        && *first != cluster_ip
    {
        v.push(FieldError::invalid(
            "spec.clusterIPs",
            json!(ips),
            "first value must match `clusterIP`",
        ));
    }
    let multiple = ports.len() > 1;
    let mut seen_names = BTreeSet::new();
    let mut seen_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = str_of(Some(p), "name");
        if multiple && name.is_empty() {
            v.push(FieldError::required(format!("{path}.name"), ""));
        } else if !name.is_empty() {
            v.check_name(&format!("{path}.name"), name, names::is_dns1123_label(name));
            if !seen_names.insert(name.to_string()) {
                v.push(FieldError::duplicate(format!("{path}.name"), name));
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        for m in names::is_valid_port_num(port) {
            v.push(FieldError::invalid(format!("{path}.port"), port, m));
        }
        v.one_of(
            p.get("protocol"),
            &format!("{path}.protocol"),
            PROTOCOLS,
            true,
        );
        port_num_or_name(v, p.get("targetPort"), &format!("{path}.targetPort"));
        if ty == "ClusterIP"
            && p.get("nodePort")
                .and_then(Value::as_i64)
                .is_some_and(|n| n != 0)
        {
            v.push(FieldError::forbidden(
                format!("{path}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if let Some(np) = p
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        {
            for m in names::is_valid_port_num(np) {
                v.push(FieldError::invalid(format!("{path}.nodePort"), np, m));
            }
        }
        let key = (port, str_of(Some(p), "protocol").to_string());
        if !seen_ports.insert(key.clone()) {
            v.push(FieldError::duplicate(
                path,
                json!({"port": key.0, "protocol": key.1}),
            ));
        }
    }
    v.errs.extend(names::validate_labels(
        spec.and_then(|s| s.get("selector")),
        "spec.selector",
    ));
    v.one_of(
        spec.and_then(|s| s.get("sessionAffinity")),
        "spec.sessionAffinity",
        &["ClientIP", "None"],
        true,
    );
    if !str_of(spec, "externalTrafficPolicy").is_empty() {
        if ty != "NodePort" && ty != "LoadBalancer" && arr(spec, "externalIPs").is_empty() {
            v.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                str_of(spec, "externalTrafficPolicy"),
                "may only be set for externally-accessible services",
            ));
        } else {
            v.one_of(
                spec.and_then(|s| s.get("externalTrafficPolicy")),
                "spec.externalTrafficPolicy",
                &["Cluster", "Local"],
                false,
            );
        }
    }
    v.one_of(
        spec.and_then(|s| s.get("internalTrafficPolicy")),
        "spec.internalTrafficPolicy",
        &["Cluster", "Local"],
        false,
    );
    v.one_of(
        spec.and_then(|s| s.get("ipFamilyPolicy")),
        "spec.ipFamilyPolicy",
        &["PreferDualStack", "RequireDualStack", "SingleStack"],
        false,
    );
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let s = ip.as_str().unwrap_or("");
        if s.parse::<IpAddr>().is_err() {
            v.push(FieldError::invalid(
                format!("spec.externalIPs[{i}]"),
                s,
                INVALID_IP,
            ));
        }
    }
}

/// The primary ClusterIP may not change once allocated.
pub(super) fn service_update(v: &mut V, new: &Value, old: &Value) {
    let new_ips = new.pointer("/spec/clusterIPs").and_then(Value::as_array);
    let (n, o) = (
        str_at(new, "/spec/clusterIPs/0"),
        str_at(old, "/spec/clusterIPs/0"),
    );
    let (n, o) = (
        if n.is_empty() {
            str_at(new, "/spec/clusterIP")
        } else {
            n
        },
        if o.is_empty() {
            str_at(old, "/spec/clusterIP")
        } else {
            o
        },
    );
    let external =
        str_at(new, "/spec/type") == "ExternalName" || str_at(old, "/spec/type") == "ExternalName";
    if !external && !n.is_empty() && !o.is_empty() && n != o {
        let shown = new_ips
            .map(|a| Value::Array(a.clone()))
            .unwrap_or_else(|| json!([n]));
        v.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            shown,
            "may not change once set",
        ));
    }
}

fn data_keys(v: &mut V, obj: &Value, field: &str, size: &mut usize) {
    for (k, val) in map_of(Some(obj), field).into_iter().flatten() {
        v.check_name(&format!("{field}[{k}]"), k, names::is_config_map_key(k));
        *size += val.as_str().map_or(0, str::len);
    }
}

/// `ValidateConfigMap`: keys, no key in both data and binaryData, total size at most 1 MiB.
pub(super) fn config_map(v: &mut V, obj: &Value) {
    let mut size = 0;
    data_keys(v, obj, "data", &mut size);
    data_keys(v, obj, "binaryData", &mut size);
    let data = map_of(Some(obj), "data");
    for k in map_of(Some(obj), "binaryData")
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if data.is_some_and(|d| d.contains_key(k)) {
            v.push(FieldError::invalid(
                format!("binaryData[{k}]"),
                k.as_str(),
                "duplicate of key present in data",
            ));
        }
    }
    if size > MAX_SECRET_SIZE {
        v.push(FieldError::too_long("", "", MAX_SECRET_SIZE));
    }
}

/// Whether `s` is standard padded base64.
fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// `ValidateSecret`: keys, base64 values, total size and the per-type required keys.
pub(super) fn secret(v: &mut V, obj: &Value) {
    let mut size = 0;
    for (k, val) in map_of(Some(obj), "data").into_iter().flatten() {
        v.check_name(&format!("data[{k}]"), k, names::is_config_map_key(k));
        match val.as_str() {
            Some(s) if is_base64(s) => size += s.len() / 4 * 3,
            _ => v.push(FieldError::invalid(
                format!("data[{k}]"),
                "<value omitted>",
                "must be base64-encoded",
            )),
        }
    }
    if size > MAX_SECRET_SIZE {
        v.push(FieldError::too_long("data", "", MAX_SECRET_SIZE));
    }
    let has = |k: &str| map_of(Some(obj), "data").is_some_and(|d| d.contains_key(k));
    match str_of(Some(obj), "type") {
        "kubernetes.io/tls" => {
            for k in ["tls.key", "tls.crt"] {
                if !has(k) {
                    v.push(FieldError::required(format!("data[{k}]"), ""));
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            v.push(FieldError::required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            v.push(FieldError::required("data[.dockercfg]", ""))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            v.push(FieldError::required("data[username]", ""));
            v.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            v.push(FieldError::required("data[ssh-privatekey]", ""))
        }
        "kubernetes.io/service-account-token"
            if str_at(
                obj,
                "/metadata/annotations/kubernetes.io~1service-account.name",
            )
            .is_empty() =>
        {
            v.push(FieldError::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        _ => {}
    }
}

/// With `immutable: true`, data may not change and immutable may not be unset.
pub(super) fn immutable_data_update(v: &mut V, kind: &str, new: &Value, old: &Value) {
    if kind == "Secret" {
        v.immutable(new, old, "/type");
    }
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    const MSG: &str = "field is immutable when `immutable` is set";
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        v.push(FieldError::forbidden("immutable", MSG));
    }
    let fields: &[&str] = if kind == "Secret" {
        &["data"]
    } else {
        &["data", "binaryData"]
    };
    for f in fields {
        if !json_equal(new.get(*f), old.get(*f)) {
            v.push(FieldError::forbidden(*f, MSG));
        }
    }
}

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn access_modes(v: &mut V, spec: Option<&Value>) {
    let modes = arr(spec, "accessModes");
    if modes.is_empty() {
        v.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        if !m.as_str().is_some_and(|s| ACCESS_MODES.contains(&s)) {
            v.push(FieldError::not_supported(
                "spec.accessModes",
                m.clone(),
                ACCESS_MODES,
            ));
        }
    }
}

/// `ValidatePersistentVolumeClaim`: access modes and a storage request.
pub(super) fn pvc(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    access_modes(v, spec);
    match spec.and_then(|s| s.pointer("/resources/requests/storage")) {
        None | Some(Value::Null) => v.push(FieldError::required("spec.resources[storage]", "")),
        Some(q) => {
            let text = q
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| q.to_string());
            match parse_quantity(&text) {
                Ok(x) if x.nanos <= 0 => v.push(FieldError::invalid(
                    "spec.resources[storage]",
                    text,
                    "must be greater than zero",
                )),
                Ok(_) => {}
                Err(e) => v.push(FieldError::invalid(
                    "spec.resources.requests[storage]",
                    text,
                    e.to_string(),
                )),
            }
        }
    }
    v.one_of(
        spec.and_then(|s| s.get("volumeMode")),
        "spec.volumeMode",
        &["Block", "Filesystem"],
        false,
    );
}

/// PVC updates: the spec is fixed except storage requests (which may not shrink) and the
/// one-time volumeName binding.
pub(super) fn pvc_update(v: &mut V, new: &Value, old: &Value) {
    let (Some(ns), Some(os)) = (new.get("spec"), old.get("spec")) else {
        return;
    };
    let mut patched = os.clone();
    if let Some(m) = patched.as_object_mut() {
        if let Some(r) = ns.pointer("/resources/requests") {
            let res = m.entry("resources").or_insert_with(|| json!({}));
            if let Some(res) = res.as_object_mut() {
                res.insert("requests".into(), r.clone());
            }
        }
        if str_of(Some(os), "volumeName").is_empty()
            && let Some(n) = ns.get("volumeName")
        {
            m.insert("volumeName".into(), n.clone());
        }
        match ns.get("volumeAttributesClassName") {
            Some(x) => m.insert("volumeAttributesClassName".into(), x.clone()),
            None => m.remove("volumeAttributesClassName"),
        };
    }
    let same = ns
        .as_object()
        .zip(patched.as_object())
        .is_some_and(|(n, p)| {
            n.keys()
                .chain(p.keys())
                .all(|k| json_equal(n.get(k), p.get(k)))
        });
    if !same {
        v.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let q = |s: &Value| {
        s.pointer("/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(|t| parse_quantity(t).ok())
    };
    if let (Some(n), Some(o)) = (q(ns), q(os))
        && n < o
    {
        v.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than previous value",
        ));
    }
}

/// `ValidatePersistentVolume` (the basics): capacity, access modes, reclaim policy.
pub(super) fn pv(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    if map_of(spec, "capacity").is_none_or(|c| c.is_empty()) {
        v.push(FieldError::required("spec.capacity", ""));
    }
    access_modes(v, spec);
    v.one_of(
        spec.and_then(|s| s.get("persistentVolumeReclaimPolicy")),
        "spec.persistentVolumeReclaimPolicy",
        &["Delete", "Recycle", "Retain"],
        false,
    );
}

/// `ValidateIngress` (the commonly hit parts): rules or a default backend, hosts, paths.
pub(super) fn ingress(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let rules = arr(spec, "rules");
    if rules.is_empty()
        && spec
            .and_then(|s| s.get("defaultBackend"))
            .is_none_or(Value::is_null)
    {
        v.push(FieldError::invalid(
            "spec.rules",
            json!([]),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        let host = str_of(Some(rule), "host");
        if !host.is_empty() {
            let check = host.strip_prefix("*.").unwrap_or(host);
            for m in names::is_dns1123_subdomain(check) {
                v.push(FieldError::invalid(
                    format!("spec.rules[{i}].host"),
                    host,
                    m,
                ));
            }
        }
        let http = rule.get("http");
        if http.is_some() && arr(http, "paths").is_empty() {
            v.push(FieldError::required(
                format!("spec.rules[{i}].http.paths"),
                "",
            ));
        }
        for (j, p) in arr(http, "paths").iter().enumerate() {
            let path = format!("spec.rules[{i}].http.paths[{j}]");
            let pt = str_of(Some(p), "pathType");
            if pt.is_empty() {
                v.push(FieldError::required(
                    format!("{path}.pathType"),
                    "pathType must be specified",
                ));
            } else if !["Exact", "ImplementationSpecific", "Prefix"].contains(&pt) {
                v.push(FieldError::not_supported(
                    format!("{path}.pathType"),
                    pt,
                    &["Exact", "ImplementationSpecific", "Prefix"],
                ));
            }
            let p_str = str_of(Some(p), "path");
            if (pt == "Exact" || pt == "Prefix" || !p_str.is_empty()) && !p_str.starts_with('/') {
                v.push(FieldError::invalid(
                    format!("{path}.path"),
                    p_str,
                    "must be an absolute path",
                ));
            }
            let backend = p.get("backend");
            let svc = backend.and_then(|b| b.get("service"));
            let resource = backend.and_then(|b| b.get("resource"));
            match (
                svc.filter(|s| !s.is_null()),
                resource.filter(|r| !r.is_null()),
            ) {
                (Some(_), Some(_)) => v.push(FieldError::invalid(
                    format!("{path}.backend"),
                    backend.cloned().unwrap_or(Value::Null),
                    "cannot set both service and resource backends",
                )),
                (None, None) => v.push(FieldError::invalid(
                    format!("{path}.backend"),
                    backend.cloned().unwrap_or(json!({})),
                    "resource or service backend is required",
                )),
                (Some(s), None) => {
                    let name = str_of(Some(s), "name");
                    if name.is_empty() {
                        v.push(FieldError::required(
                            format!("{path}.backend.service.name"),
                            "",
                        ));
                    }
                    let port = s.get("port");
                    let (pname, pnum) = (
                        str_of(port, "name"),
                        port.and_then(|p| p.get("number")).and_then(Value::as_i64),
                    );
                    match (pname.is_empty(), pnum) {
                        (true, None) => v.push(FieldError::required(
                            format!("{path}.backend.service.port"),
                            "port name or number is required",
                        )),
                        (false, Some(_)) => v.push(FieldError::invalid(
                            format!("{path}.backend.service.port"),
                            port.cloned().unwrap_or(Value::Null),
                            "cannot set both port name & port number",
                        )),
                        _ => {}
                    }
                }
                (None, Some(_)) => {}
            }
        }
    }
}

/// `ValidateStorageClass`.
pub(super) fn storage_class(v: &mut V, obj: &Value) {
    let provisioner = str_of(Some(obj), "provisioner");
    if provisioner.is_empty() {
        v.push(FieldError::required("provisioner", ""));
    } else {
        v.check_name(
            "provisioner",
            provisioner,
            names::is_qualified_name(&provisioner.to_lowercase()),
        );
    }
    v.one_of(
        obj.get("reclaimPolicy"),
        "reclaimPolicy",
        &["Delete", "Retain"],
        false,
    );
    v.one_of(
        obj.get("volumeBindingMode"),
        "volumeBindingMode",
        &["Immediate", "WaitForFirstConsumer"],
        true,
    );
}

/// StorageClass updates: parameters, provisioner, reclaimPolicy and volumeBindingMode are fixed.
pub(super) fn storage_class_update(v: &mut V, new: &Value, old: &Value) {
    if !json_equal(new.get("parameters"), old.get("parameters")) {
        v.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if new.get("provisioner") != old.get("provisioner") {
        v.push(FieldError::invalid(
            "provisioner",
            str_at(new, "/provisioner"),
            FIELD_IMMUTABLE,
        ));
    }
    if new.get("reclaimPolicy") != old.get("reclaimPolicy") {
        v.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    v.immutable(new, old, "/volumeBindingMode");
}

/// Highest priority a user-defined PriorityClass may have.
const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// `ValidatePriorityClass`.
pub(super) fn priority_class(v: &mut V, obj: &Value) {
    let name = str_at(obj, "/metadata/name");
    let system = ["system-node-critical", "system-cluster-critical"].contains(&name);
    if !system && name.starts_with("system-") {
        v.push(FieldError::forbidden(
            "metadata.name",
            "priority class names with 'system-' prefix are reserved.",
        ));
    }
    let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
    if !system && value > HIGHEST_USER_DEFINABLE_PRIORITY {
        v.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    v.one_of(
        obj.get("preemptionPolicy"),
        "preemptionPolicy",
        &["Never", "PreemptLowerPriority"],
        false,
    );
}

/// PriorityClass updates: value and preemptionPolicy are fixed.
pub(super) fn priority_class_update(v: &mut V, new: &Value, old: &Value) {
    if new.get("value") != old.get("value") {
        v.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    v.immutable(new, old, "/preemptionPolicy");
}
