//! Pod specs and pod templates (`ValidatePodSpec`, `ValidatePodTemplateSpec`).

use super::quantity::{QUANTITY_FORMAT_ERROR, parse_quantity};
use super::{IS_NEGATIVE, V, arr, json_equal, map_of, str_of};
use crate::defaults::volume_sources;
use crate::names;
use crate::status::FieldError;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];
const PROBE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];

/// A pod template (`metadata` labels/annotations and `spec`) at `path`.
pub(super) fn template(v: &mut V, t: Option<&Value>, path: &str) {
    let meta = t.and_then(|t| t.get("metadata"));
    v.errs.extend(names::validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{path}.metadata.labels"),
    ));
    v.errs.extend(names::validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{path}.metadata.annotations"),
    ));
    pod_spec(v, t.and_then(|t| t.get("spec")), &format!("{path}.spec"));
}

/// A pod spec at `path` (`spec` for Pods, `spec.template.spec` for workloads).
pub(super) fn pod_spec(v: &mut V, spec: Option<&Value>, path: &str) {
    let volumes = volumes(v, spec, path);
    let mut names = BTreeSet::new();
    // Init containers first, as upstream, so a clash is reported on the app container.
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        container(
            v,
            c,
            &format!("{path}.initContainers[{i}]"),
            &volumes,
            &mut names,
        );
    }
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        v.push(FieldError::required(format!("{path}.containers"), ""));
    }
    for (i, c) in containers.iter().enumerate() {
        container(
            v,
            c,
            &format!("{path}.containers[{i}]"),
            &volumes,
            &mut names,
        );
    }
    v.one_of(
        spec.and_then(|s| s.get("restartPolicy")),
        &format!("{path}.restartPolicy"),
        RESTART_POLICIES,
        true,
    );
    v.one_of(
        spec.and_then(|s| s.get("dnsPolicy")),
        &format!("{path}.dnsPolicy"),
        DNS_POLICIES,
        true,
    );
    v.errs.extend(names::validate_labels(
        spec.and_then(|s| s.get("nodeSelector")),
        &format!("{path}.nodeSelector"),
    ));
    for f in ["hostname", "subdomain"] {
        let s = str_of(spec, f);
        if !s.is_empty() {
            v.check_name(&format!("{path}.{f}"), s, names::is_dns1123_label(s));
        }
    }
    let sa = str_of(spec, "serviceAccountName");
    if !sa.is_empty() {
        v.check_name(
            &format!("{path}.serviceAccountName"),
            sa,
            names::is_dns1123_subdomain(sa),
        );
    }
    if let Some(n) = spec
        .and_then(|s| s.get("activeDeadlineSeconds"))
        .and_then(Value::as_i64)
        .filter(|n| *n <= 0)
    {
        v.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            n,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for (i, t) in arr(spec, "tolerations").iter().enumerate() {
        toleration(v, t, &format!("{path}.tolerations[{i}]"));
    }
}

fn toleration(v: &mut V, t: &Value, path: &str) {
    let key = str_of(Some(t), "key");
    if !key.is_empty() {
        v.check_name(&format!("{path}.key"), key, names::is_qualified_name(key));
    }
    match str_of(Some(t), "operator") {
        "Exists" => {
            let value = str_of(Some(t), "value");
            if !value.is_empty() {
                v.push(FieldError::invalid(
                    format!("{path}.operator"),
                    value,
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        "" | "Equal" => {
            if key.is_empty() {
                v.push(FieldError::invalid(format!("{path}.operator"), str_of(Some(t), "operator"), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
            }
        }
        other => v.push(FieldError::not_supported(
            format!("{path}.operator"),
            other,
            &["Equal", "Exists"],
        )),
    }
    let effect = str_of(Some(t), "effect");
    if !effect.is_empty() {
        v.one_of(
            t.get("effect"),
            &format!("{path}.effect"),
            &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            false,
        );
    }
}

/// Volume names (unique DNS labels) and exactly one source each; returns the names.
fn volumes(v: &mut V, spec: Option<&Value>, path: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (i, vol) in arr(spec, "volumes").iter().enumerate() {
        let p = format!("{path}.volumes[{i}]");
        let name = str_of(Some(vol), "name");
        if name.is_empty() {
            v.push(FieldError::required(format!("{p}.name"), ""));
        } else {
            let msgs = names::is_dns1123_label(name);
            let ok = msgs.is_empty();
            v.check_name(&format!("{p}.name"), name, msgs);
            if ok && !seen.insert(name.to_string()) {
                v.push(FieldError::duplicate(format!("{p}.name"), name));
            }
        }
        let present: Vec<&str> = volume_sources()
            .iter()
            .copied()
            .filter(|s| vol.get(*s).is_some_and(|x| !x.is_null()))
            .collect();
        match present.as_slice() {
            [] => v.push(FieldError::required(p, "must specify a volume type")),
            [_] => {}
            [_, second, ..] => v.push(FieldError::forbidden(
                format!("{p}.{second}"),
                "may not specify more than 1 volume type",
            )),
        }
    }
    seen
}

fn container(
    v: &mut V,
    c: &Value,
    path: &str,
    volumes: &BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    let name = str_of(Some(c), "name");
    if name.is_empty() {
        v.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        let msgs = names::is_dns1123_label(name);
        let ok = msgs.is_empty();
        v.check_name(&format!("{path}.name"), name, msgs);
        if ok && !seen.insert(name.to_string()) {
            v.push(FieldError::duplicate(format!("{path}.name"), name));
        }
    }
    let image = str_of(Some(c), "image");
    if image.is_empty() {
        v.push(FieldError::required(format!("{path}.image"), ""));
    } else if image.trim() != image {
        v.push(FieldError::invalid(
            format!("{path}.image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    v.one_of(
        c.get("imagePullPolicy"),
        &format!("{path}.imagePullPolicy"),
        PULL_POLICIES,
        false,
    );
    v.one_of(
        c.get("terminationMessagePolicy"),
        &format!("{path}.terminationMessagePolicy"),
        TERMINATION_MESSAGE_POLICIES,
        false,
    );
    ports(v, c, path);
    for (i, e) in arr(Some(c), "env").iter().enumerate() {
        if str_of(Some(e), "name").is_empty() {
            v.push(FieldError::required(format!("{path}.env[{i}].name"), ""));
        }
    }
    for (i, m) in arr(Some(c), "volumeMounts").iter().enumerate() {
        let p = format!("{path}.volumeMounts[{i}]");
        let name = str_of(Some(m), "name");
        if name.is_empty() {
            v.push(FieldError::required(format!("{p}.name"), ""));
        } else if !volumes.contains(name) {
            v.not_found(format!("{p}.name"), name);
        }
        if str_of(Some(m), "mountPath").is_empty() {
            v.push(FieldError::required(format!("{p}.mountPath"), ""));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe).filter(|p| p.is_object()) {
            let handlers = PROBE_HANDLERS
                .iter()
                .filter(|h| p.get(**h).is_some_and(|x| !x.is_null()))
                .count();
            if handlers == 0 {
                v.push(FieldError::required(
                    format!("{path}.{probe}"),
                    "must specify a handler type",
                ));
            }
        }
    }
    resources(v, c.get("resources"), &format!("{path}.resources"));
}

fn ports(v: &mut V, c: &Value, path: &str) {
    let mut names = BTreeSet::new();
    for (i, port) in arr(Some(c), "ports").iter().enumerate() {
        let p = format!("{path}.ports[{i}]");
        let name = str_of(Some(port), "name");
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                v.check_name(&format!("{p}.name"), name, msgs);
            } else if !names.insert(name.to_string()) {
                v.push(FieldError::duplicate(format!("{p}.name"), name));
            }
        }
        match port.get("containerPort") {
            None | Some(Value::Null) => {
                v.push(FieldError::required(format!("{p}.containerPort"), ""))
            }
            Some(Value::Number(n)) if n.as_i64() == Some(0) => {
                v.push(FieldError::required(format!("{p}.containerPort"), ""))
            }
            Some(x) => {
                let n = x.as_i64().unwrap_or(-1);
                for m in names::is_valid_port_num(n) {
                    v.push(FieldError::invalid(
                        format!("{p}.containerPort"),
                        x.clone(),
                        m,
                    ));
                }
            }
        }
        if let Some(h) = port
            .get("hostPort")
            .and_then(Value::as_i64)
            .filter(|h| *h != 0)
        {
            for m in names::is_valid_port_num(h) {
                v.push(FieldError::invalid(format!("{p}.hostPort"), h, m));
            }
        }
        v.one_of(
            port.get("protocol"),
            &format!("{p}.protocol"),
            PROTOCOLS,
            true,
        );
    }
}

/// Quantities parse, are not negative, and requests do not exceed limits.
fn resources(v: &mut V, r: Option<&Value>, path: &str) {
    let mut parsed = |key: &str| {
        let mut out = Vec::new();
        for (name, q) in map_of(r, key).into_iter().flatten() {
            let p = format!("{path}.{key}[{name}]");
            let text = match q {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    v.push(FieldError::invalid(p, other.clone(), QUANTITY_FORMAT_ERROR));
                    continue;
                }
            };
            match parse_quantity(&text) {
                Ok(q) if q.is_negative() => v.push(FieldError::invalid(p, text, IS_NEGATIVE)),
                Ok(q) => out.push((name.clone(), text, q)),
                Err(e) => v.push(FieldError::invalid(p, text, e.to_string())),
            }
        }
        out
    };
    let limits = parsed("limits");
    let requests = parsed("requests");
    for (name, text, q) in &requests {
        if let Some((_, ltext, l)) = limits.iter().find(|(n, _, _)| n == name)
            && q > l
        {
            v.push(FieldError::invalid(
                format!("{path}.requests[{name}]"),
                text.as_str(),
                format!("must be less than or equal to {name} limit of {ltext}"),
            ));
        }
    }
}

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`: only images, activeDeadlineSeconds, added tolerations and (once) the
/// node binding may change in a pod spec.
pub(super) fn pod_update(v: &mut V, new: &Value, old: &Value) {
    let (Some(new_spec), Some(old_spec)) = (new.get("spec"), old.get("spec")) else {
        return;
    };
    let mut patched = old_spec.clone();
    let Some(m) = patched.as_object_mut() else {
        return;
    };
    for field in ["containers", "initContainers"] {
        let new_images: Vec<Option<&Value>> = arr(Some(new_spec), field)
            .iter()
            .map(|c| c.get("image"))
            .collect();
        if let Some(Value::Array(cs)) = m.get_mut(field)
            && cs.len() == new_images.len()
        {
            for (c, img) in cs.iter_mut().zip(new_images) {
                if let (Some(cm), Some(img)) = (c.as_object_mut(), img) {
                    cm.insert("image".into(), img.clone());
                }
            }
        }
    }
    for field in [
        "activeDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "ephemeralContainers",
        "schedulingGates",
    ] {
        match new_spec.get(field) {
            Some(x) => m.insert(field.into(), x.clone()),
            None => m.remove(field),
        };
    }
    // Tolerations may only be added.
    let old_tols = arr(Some(old_spec), "tolerations");
    let new_tols = arr(Some(new_spec), "tolerations");
    if old_tols.iter().all(|t| new_tols.contains(t)) {
        m.insert("tolerations".into(), json!(new_tols));
    }
    // The node binding may be set once (the scheduler's Binding).
    if str_of(Some(old_spec), "nodeName").is_empty()
        && let Some(n) = new_spec.get("nodeName")
    {
        m.insert("nodeName".into(), n.clone());
    }
    let same = new_spec.as_object().is_some_and(|n| {
        n.keys()
            .chain(m.keys())
            .all(|k| json_equal(n.get(k), m.get(k)))
    });
    if !same {
        v.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
    }
}

#[cfg(test)]
pub(super) mod tests_support {
    pub(in crate::validation) const POD_UPDATE_FORBIDDEN: &str = super::POD_UPDATE_FORBIDDEN;
}
