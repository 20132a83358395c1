//! LimitRange: defaulting and validation of the object (upstream `SetDefaults_LimitRangeItem`,
//! `ValidateLimitRange`) and the LimitRanger admission plugin's decisions: container defaults
//! on pod create, then min / max / maxLimitRequestRatio per Container and Pod, min / max
//! storage per PersistentVolumeClaim, in upstream's wording.

use serde_json::{Map, Value, json};

use super::{Amount, ResourceList, aggregate, parse_list, pod_requests_and_limits};
use crate::status::FieldError;

/// The annotation LimitRanger records its defaults in.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

const TYPE_CONTAINER: &str = "Container";
const TYPE_POD: &str = "Pod";
const TYPE_PVC: &str = "PersistentVolumeClaim";

fn items(limit_range: &Value) -> &[Value] {
    limit_range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn item_type(item: &Value) -> &str {
    item.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Default a LimitRange's Container items: `default` from `max`, `defaultRequest` from
/// `default`, then from `min`.
pub fn apply_defaults(obj: &mut Value) {
    let Some(limits) = obj
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in limits {
        if item_type(item) != TYPE_CONTAINER {
            continue;
        }
        let Some(m) = item.as_object_mut() else {
            continue;
        };
        let copy_missing = |m: &mut Map<String, Value>, from: &str, to: &str| {
            let source = m.get(from).and_then(Value::as_object).cloned();
            let target = m.entry(to).or_insert_with(|| json!({}));
            if target.is_null() {
                *target = json!({});
            }
            if let (Some(source), Some(target)) = (source, target.as_object_mut()) {
                for (k, v) in source {
                    target.entry(k).or_insert(v);
                }
            }
        };
        copy_missing(m, "max", "default");
        copy_missing(m, "default", "defaultRequest");
        copy_missing(m, "min", "defaultRequest");
    }
}

/// Upstream `ValidateLimitRange` (beyond metadata, which the caller checks).
pub fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen_types: Vec<&str> = Vec::new();
    for (i, item) in items(obj).iter().enumerate() {
        let path = format!("spec.limits[{i}]");
        let ty = item_type(item);
        if ty.is_empty() {
            errs.push(FieldError::required(format!("{path}.type"), ""));
        } else {
            for m in crate::names::is_qualified_name(ty) {
                errs.push(FieldError::invalid(format!("{path}.type"), ty, m));
            }
        }
        if seen_types.contains(&ty) {
            errs.push(FieldError::duplicate(format!("{path}.type"), ty));
        }
        seen_types.push(ty);
        let list = |field: &str| -> (ResourceList, Vec<FieldError>) {
            let mut bad = Vec::new();
            let mut out = ResourceList::new();
            for (k, v) in item
                .get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                match v.as_str().map(Amount::parse) {
                    Some(Ok(a)) => {
                        out.insert(k.clone(), a);
                    }
                    Some(Err(e)) => bad.push(FieldError::invalid(
                        format!("{path}.{field}[{k}]"),
                        v.clone(),
                        e.to_string(),
                    )),
                    None => bad.push(FieldError::invalid(
                        format!("{path}.{field}[{k}]"),
                        v.clone(),
                        crate::validation::quantity::QUANTITY_FORMAT_ERROR,
                    )),
                }
            }
            (out, bad)
        };
        let (max, e1) = list("max");
        let (min, e2) = list("min");
        let (default, e3) = list("default");
        let (default_request, e4) = list("defaultRequest");
        let (ratio, e5) = list("maxLimitRequestRatio");
        errs.extend(e1.into_iter().chain(e2).chain(e3).chain(e4).chain(e5));
        if ty == TYPE_POD {
            if !default.is_empty() {
                errs.push(FieldError::forbidden(
                    format!("{path}.default"),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
            if !default_request.is_empty() {
                errs.push(FieldError::forbidden(
                    format!("{path}.defaultRequest"),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
        if ty == TYPE_PVC && !min.contains_key("storage") && !max.contains_key("storage") {
            errs.push(FieldError::required(
                format!("{path}.limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
        let mut keys: Vec<&String> = max
            .keys()
            .chain(min.keys())
            .chain(default.keys())
            .chain(default_request.keys())
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (mn, mx, d, dr) = (
                min.get(k),
                max.get(k),
                default.get(k),
                default_request.get(k),
            );
            let inv = |field: &str, v: &Amount, msg: String| {
                FieldError::invalid(format!("{path}.{field}[{k}]"), v.to_string(), msg)
            };
            if let (Some(mn), Some(mx)) = (mn, mx)
                && mn.value > mx.value
            {
                errs.push(inv(
                    "min",
                    mn,
                    format!("min value {mn} is greater than max value {mx}"),
                ));
            }
            if let (Some(dr), Some(mn)) = (dr, mn)
                && mn.value > dr.value
            {
                errs.push(inv(
                    "defaultRequest",
                    dr,
                    format!("min value {mn} is greater than default request value {dr}"),
                ));
            }
            if let (Some(dr), Some(mx)) = (dr, mx)
                && dr.value > mx.value
            {
                errs.push(inv(
                    "defaultRequest",
                    dr,
                    format!("default request value {dr} is greater than max value {mx}"),
                ));
            }
            if let (Some(dr), Some(d)) = (dr, d)
                && dr.value > d.value
            {
                errs.push(inv(
                    "defaultRequest",
                    dr,
                    format!("default request value {dr} is greater than default limit value {d}"),
                ));
            }
            if let (Some(d), Some(mn)) = (d, mn)
                && mn.value > d.value
            {
                errs.push(inv(
                    "default",
                    mn,
                    format!("min value {mn} is greater than default value {d}"),
                ));
            }
            if let (Some(d), Some(mx)) = (d, mx)
                && d.value > mx.value
            {
                errs.push(inv(
                    "default",
                    mx,
                    format!("default value {d} is greater than max value {mx}"),
                ));
            }
        }
        for (k, r) in &ratio {
            if r.value < Amount::int(1).value {
                errs.push(FieldError::invalid(
                    format!("{path}.maxLimitRequestRatio[{k}]"),
                    r.to_string(),
                    format!("ratio {r} is less than 1"),
                ));
            }
            if let (Some(mn), Some(mx)) = (min.get(k), max.get(k))
                && mn.milli() > 0
            {
                let bound = mx.milli() as f64 / mn.milli() as f64;
                if r.milli() as f64 / 1000.0 > bound {
                    errs.push(FieldError::invalid(
                        format!("{path}.maxLimitRequestRatio[{k}]"),
                        r.to_string(),
                        format!("ratio {r} is greater than max/min = {bound:.6}"),
                    ));
                }
            }
        }
    }
    errs
}

/// The container defaults of one LimitRange (its Container items' `default` and
/// `defaultRequest`).
fn container_defaults(limit_range: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let (mut requests, mut limits) = (Map::new(), Map::new());
    for item in items(limit_range) {
        if item_type(item) != TYPE_CONTAINER {
            continue;
        }
        for (field, into) in [("defaultRequest", &mut requests), ("default", &mut limits)] {
            for (k, v) in item
                .get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                into.insert(k.clone(), v.clone());
            }
        }
    }
    (requests, limits)
}

/// Apply the container defaults of every LimitRange in the pod's namespace to a pod being
/// created (upstream `defaultContainerResourceRequirements` + `mergePodResourceRequirements`),
/// recording what was set in the `kubernetes.io/limit-ranger` annotation.
pub fn default_pod(limit_ranges: &[Value], pod: &mut Value) {
    for lr in limit_ranges {
        let (requests, limits) = container_defaults(lr);
        if requests.is_empty() && limits.is_empty() {
            continue;
        }
        let mut notes: Vec<String> = Vec::new();
        for (field, label) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            let Some(list) = pod
                .pointer_mut(&format!("/spec/{field}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in list {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let Some(cm) = c.as_object_mut() else {
                    continue;
                };
                let res = cm.entry("resources").or_insert_with(|| json!({}));
                let Some(res) = res.as_object_mut() else {
                    continue;
                };
                let mut merge = |key: &str, defaults: &Map<String, Value>| -> Vec<String> {
                    let slot = res.entry(key).or_insert_with(|| json!({}));
                    if slot.is_null() {
                        *slot = json!({});
                    }
                    let mut set = Vec::new();
                    if let Some(m) = slot.as_object_mut() {
                        for (k, v) in defaults {
                            if !m.contains_key(k) {
                                m.insert(k.clone(), v.clone());
                                set.push(k.clone());
                            }
                        }
                    }
                    set.sort();
                    set
                };
                let set_requests = merge("requests", &requests);
                let set_limits = merge("limits", &limits);
                if !set_requests.is_empty() {
                    notes.push(format!(
                        "{} request for {label} {name}",
                        set_requests.join(", ")
                    ));
                }
                if !set_limits.is_empty() {
                    notes.push(format!(
                        "{} limit for {label} {name}",
                        set_limits.join(", ")
                    ));
                }
            }
        }
        if !notes.is_empty()
            && let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut)
        {
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(ann) = ann.as_object_mut() {
                ann.insert(
                    ANNOTATION.into(),
                    json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
                );
            }
        }
    }
}

fn min_constraint(
    ty: &str,
    name: &str,
    enforced: &Amount,
    request: &ResourceList,
    limit: &ResourceList,
) -> Option<String> {
    let Some(req) = request.get(name) else {
        return Some(format!(
            "minimum {name} usage per {ty} is {enforced}.  No request is specified"
        ));
    };
    if req.milli() < enforced.milli() {
        return Some(format!(
            "minimum {name} usage per {ty} is {enforced}, but request is {req}"
        ));
    }
    match limit.get(name) {
        Some(lim) if lim.milli() < enforced.milli() => Some(format!(
            "minimum {name} usage per {ty} is {enforced}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    ty: &str,
    name: &str,
    enforced: &Amount,
    request: &ResourceList,
    limit: &ResourceList,
) -> Option<String> {
    let Some(lim) = limit.get(name) else {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}.  No limit is specified"
        ));
    };
    if lim.milli() > enforced.milli() {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}, but limit is {lim}"
        ));
    }
    match request.get(name) {
        Some(req) if req.milli() > enforced.milli() => Some(format!(
            "maximum {name} usage per {ty} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn ratio_constraint(
    ty: &str,
    name: &str,
    enforced: &Amount,
    request: &ResourceList,
    limit: &ResourceList,
) -> Option<String> {
    let req = request.get(name).map(Amount::milli).unwrap_or(0);
    if req == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {ty} is {enforced}, but no request is specified or request is 0"
        ));
    }
    let lim = limit.get(name).map(Amount::milli).unwrap_or(0);
    if lim == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {ty} is {enforced}, but no limit is specified or limit is 0"
        ));
    }
    let observed = lim as f64 / req as f64;
    (observed * 1000.0 > enforced.milli() as f64).then(|| {
        format!(
            "{name} max limit to request ratio per {ty} is {enforced}, but provided ratio is {observed:.6}"
        )
    })
}

/// A constraint check: (limit type, resource, enforced amount, requests, limits) → message.
type Constraint = fn(&str, &str, &Amount, &ResourceList, &ResourceList) -> Option<String>;

/// Check min / max / maxLimitRequestRatio of one item against one request/limit pair.
fn check_item(
    item: &Value,
    ty: &str,
    request: &ResourceList,
    limit: &ResourceList,
    out: &mut Vec<String>,
) {
    let checks: [(&str, Constraint); 3] = [
        ("min", min_constraint),
        ("max", max_constraint),
        ("maxLimitRequestRatio", ratio_constraint),
    ];
    for (field, check) in checks {
        for (k, enforced) in parse_list(item.get(field)) {
            out.extend(check(ty, &k, &enforced, request, limit));
        }
    }
}

/// Upstream `PodValidateLimitFunc` for one LimitRange: the aggregated message when the pod
/// breaks it.
pub fn check_pod(limit_range: &Value, pod: &Value) -> Option<String> {
    let mut errs = Vec::new();
    let spec = pod.get("spec");
    for item in items(limit_range) {
        match item_type(item) {
            TYPE_CONTAINER => {
                for field in ["containers", "initContainers"] {
                    for c in spec
                        .and_then(|s| s.get(field))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let request = parse_list(c.pointer("/resources/requests"));
                        let limit = parse_list(c.pointer("/resources/limits"));
                        check_item(item, TYPE_CONTAINER, &request, &limit, &mut errs);
                    }
                }
            }
            TYPE_POD => {
                let (request, limit) = pod_requests_and_limits(spec);
                check_item(item, TYPE_POD, &request, &limit, &mut errs);
            }
            _ => {}
        }
    }
    (!errs.is_empty()).then(|| aggregate(&errs))
}

/// Upstream `PersistentVolumeClaimValidateLimitFunc` for one LimitRange.
pub fn check_pvc(limit_range: &Value, pvc: &Value) -> Option<String> {
    let mut errs = Vec::new();
    let request = parse_list(pvc.pointer("/spec/resources/requests"));
    for item in items(limit_range) {
        if item_type(item) != TYPE_PVC {
            continue;
        }
        for (k, enforced) in parse_list(item.get("min")) {
            errs.extend(min_constraint(
                TYPE_PVC,
                &k,
                &enforced,
                &request,
                &ResourceList::new(),
            ));
        }
        for (k, enforced) in parse_list(item.get("max")) {
            match request.get(&k) {
                None => errs.push(format!(
                    "maximum {k} usage per {TYPE_PVC} is {enforced}.  No request is specified"
                )),
                Some(req) if req.milli() > enforced.milli() => errs.push(format!(
                    "maximum {k} usage per {TYPE_PVC} is {enforced}, but request is {req}"
                )),
                Some(_) => {}
            }
        }
    }
    (!errs.is_empty()).then(|| aggregate(&errs))
}
