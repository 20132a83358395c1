//! ResourceQuota, the pure part: what an object uses (upstream's quota evaluators for pods,
//! services, claims and object counts), which quotas it falls under (scopes), the admission
//! decision over the quotas' `status` (upstream `checkRequest`) and the usage the controller
//! reports (upstream `CalculateUsage`).

use serde_json::Value;
use time::OffsetDateTime;

use super::{
    Amount, ResourceList, add, mask, parse_list, pod_requests_and_limits, pretty, qos_class,
};

/// The compute resources whose quota obliges every container to declare them (upstream's
/// backward-compatible `validationSet`).
const DECLARED: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `count/<plural>` or `count/<plural>.<group>`: the object-count resource of a kind.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// The (group, plural) an object-count resource counts (`count/deployments.apps`).
pub fn counted_resource(name: &str) -> Option<(&str, &str)> {
    let gr = name.strip_prefix("count/")?;
    Some(match gr.split_once('.') {
        Some((plural, group)) => (group, plural),
        None => ("", gr),
    })
}

/// Resources the legacy names count (`pods`, `services`, …), by (group, plural).
fn legacy_count(group: &str, plural: &str) -> Option<&'static str> {
    match (group, plural) {
        ("", "pods") => Some("pods"),
        ("", "services") => Some("services"),
        ("", "persistentvolumeclaims") => Some("persistentvolumeclaims"),
        ("", "configmaps") => Some("configmaps"),
        ("", "secrets") => Some("secrets"),
        ("", "replicationcontrollers") => Some("replicationcontrollers"),
        ("", "resourcequotas") => Some("resourcequotas"),
        _ => None,
    }
}

/// Whether the usage of `(group, plural)` objects can contain `name` (upstream
/// `evaluator.MatchingResources`).
pub fn tracks(group: &str, plural: &str, name: &str) -> bool {
    if name == count_name(group, plural) || legacy_count(group, plural) == Some(name) {
        return true;
    }
    match (group, plural) {
        ("", "pods") => {
            matches!(
                name,
                "cpu"
                    | "memory"
                    | "ephemeral-storage"
                    | "requests.cpu"
                    | "requests.memory"
                    | "requests.ephemeral-storage"
                    | "limits.cpu"
                    | "limits.memory"
                    | "limits.ephemeral-storage"
            ) || name.starts_with("hugepages-")
                || name.starts_with("requests.")
        }
        ("", "services") => matches!(name, "services.nodeports" | "services.loadbalancers"),
        ("", "persistentvolumeclaims") => {
            name == "requests.storage" || name.contains(".storageclass.storage.k8s.io/")
        }
        _ => false,
    }
}

/// Whether a pod is charged for compute resources (upstream `QuotaV1Pod`): not terminal, and
/// not stuck terminating past its grace period.
pub fn pod_counts(pod: &Value, now: OffsetDateTime) -> bool {
    if matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    ) {
        return false;
    }
    let deleted_at = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        });
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    match (deleted_at, grace) {
        (Some(at), Some(g)) => now <= at + time::Duration::seconds(g),
        _ => true,
    }
}

/// Upstream `podComputeUsageHelper`: what requests and limits count as.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("pods".into(), Amount::int(1));
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.into(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with("hugepages-") {
            out.insert(name.clone(), *q);
            out.insert(format!("requests.{name}"), *q);
        } else if name.contains('/') && !name.starts_with("kubernetes.io/") {
            // Extended resources are quota'd as requests.<name> only.
            out.insert(format!("requests.{name}"), *q);
        }
    }
    out
}

/// What one object uses (upstream `evaluator.Usage`), including its object count.
pub fn usage(group: &str, plural: &str, obj: &Value, now: OffsetDateTime) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert(count_name(group, plural), Amount::int(1));
    match (group, plural) {
        ("", "pods") => {
            if pod_counts(obj, now) {
                let (req, lim) = pod_requests_and_limits(obj.get("spec"));
                out = add(&out, &compute_usage(&req, &lim));
            }
        }
        ("", "services") => {
            out.insert("services".into(), Amount::int(1));
            let ports = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ports = Amount::int(i64::try_from(ports).unwrap_or(i64::MAX));
            match obj.pointer("/spec/type").and_then(Value::as_str) {
                Some("NodePort") => {
                    out.insert("services.nodeports".into(), ports);
                }
                Some("LoadBalancer") => {
                    out.insert("services.loadbalancers".into(), Amount::int(1));
                    if obj
                        .pointer("/spec/allocateLoadBalancerNodePorts")
                        .and_then(Value::as_bool)
                        != Some(false)
                    {
                        out.insert("services.nodeports".into(), ports);
                    }
                }
                _ => {}
            }
        }
        ("", "persistentvolumeclaims") => {
            out.insert("persistentvolumeclaims".into(), Amount::int(1));
            let requested = parse_list(obj.pointer("/spec/resources/requests"));
            let allocated = parse_list(obj.pointer("/status/allocatedResources"));
            let storage = match (requested.get("storage"), allocated.get("storage")) {
                (Some(r), Some(a)) if a.value > r.value => Some(*a),
                (Some(r), _) => Some(*r),
                (None, a) => a.copied(),
            };
            let class = obj
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str)
                .or_else(|| {
                    obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
                        .and_then(Value::as_str)
                })
                .filter(|c| !c.is_empty());
            if let Some(class) = class {
                out.insert(
                    format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
                    Amount::int(1),
                );
                if let Some(s) = storage {
                    out.insert(
                        format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                        s,
                    );
                }
            }
            if let Some(s) = storage {
                out.insert("requests.storage".into(), s);
            }
        }
        _ => {
            if let Some(name) = legacy_count(group, plural) {
                out.insert(name.into(), Amount::int(1));
            }
        }
    }
    out
}

fn priority_class_matches(operator: &str, values: &[&str], class: &str) -> bool {
    match operator {
        "In" => values.contains(&class),
        "NotIn" => !values.contains(&class),
        // The key is always present (possibly empty), as upstream's label-set view of it.
        "Exists" => !class.is_empty(),
        "DoesNotExist" => false,
        _ => false,
    }
}

/// Whether a pod's (anti-)affinity terms reach other namespaces (`namespaces` or a
/// `namespaceSelector`), upstream `usesCrossNamespacePodAffinity`.
fn cross_namespace_affinity(spec: Option<&Value>) -> bool {
    let Some(affinity) = spec.and_then(|s| s.get("affinity")) else {
        return false;
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(a) = affinity.get(*kind) else {
            return false;
        };
        let required = a
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let preferred = a
            .get("preferredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("podAffinityTerm"));
        required.chain(preferred).any(|t| {
            t.get("namespaces")
                .and_then(Value::as_array)
                .is_some_and(|n| !n.is_empty())
                || t.get("namespaceSelector").is_some_and(|s| !s.is_null())
        })
    })
}

/// Whether a quota's scopes select the object (upstream `evaluator.Matches`): a quota with
/// scopes only ever selects pods.
pub fn scopes_match(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let selector: &[Value] = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if scopes.is_empty() && selector.is_empty() {
        return true;
    }
    if (group, plural) != ("", "pods") {
        return false;
    }
    let spec = obj.get("spec");
    let class = spec
        .and_then(|s| s.get("priorityClassName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let scope_matches = |scope: &str| match scope {
        "Terminating" => spec
            .and_then(|s| s.get("activeDeadlineSeconds"))
            .and_then(Value::as_i64)
            .is_some_and(|d| d >= 0),
        "NotTerminating" => spec
            .and_then(|s| s.get("activeDeadlineSeconds"))
            .and_then(Value::as_i64)
            .is_none(),
        "BestEffort" => qos_class(spec) == "BestEffort",
        "NotBestEffort" => qos_class(spec) != "BestEffort",
        "PriorityClass" => !class.is_empty(),
        "CrossNamespacePodAffinity" => cross_namespace_affinity(spec),
        _ => false,
    };
    scopes.iter().all(|s| scope_matches(s))
        && selector.iter().all(|e| {
            let scope = e.get("scopeName").and_then(Value::as_str).unwrap_or("");
            let operator = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match scope {
                "PriorityClass" => priority_class_matches(operator, &values, class),
                other => {
                    let m = scope_matches(other);
                    if operator == "DoesNotExist" { !m } else { m }
                }
            }
        })
}

/// Upstream pod `Constraints`: with cpu or memory under quota every container must declare
/// them. The message after `failed quota: <name>: `.
fn pod_constraints(required: &[&String], pod: &Value) -> Option<String> {
    let required: Vec<&str> = required
        .iter()
        .map(|s| s.as_str())
        .filter(|s| DECLARED.contains(s))
        .collect();
    if required.is_empty() {
        return None;
    }
    let mut missing: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for field in ["containers", "initContainers"] {
        for c in pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let have = compute_usage(
                &parse_list(c.pointer("/resources/requests")),
                &parse_list(c.pointer("/resources/limits")),
            );
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            for r in &required {
                if !have.contains_key(*r) {
                    let names = missing.entry(r).or_default();
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_string());
                    }
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .into_iter()
        .map(|(r, mut names)| {
            names.sort();
            format!("{r} for: {}", names.join(","))
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// A quota as admission sees it: its name and `status`.
pub struct QuotaState<'a> {
    pub name: &'a str,
    pub object: &'a Value,
}

/// One quota's new `status.used` after charging an admitted object.
#[derive(Debug, PartialEq)]
pub struct Charge {
    /// Index into the quotas given to [`admit`].
    pub index: usize,
    pub used: ResourceList,
}

/// Upstream `checkRequest`: whether creating (or updating from `old`) the object fits every
/// quota whose scopes select it. On success, the quotas to charge; on failure, the message
/// after `<resource> "<name>" is forbidden: `.
pub fn admit(
    quotas: &[QuotaState<'_>],
    group: &str,
    plural: &str,
    obj: &Value,
    old: Option<&Value>,
    now: OffsetDateTime,
) -> Result<Vec<Charge>, String> {
    let mut interesting = Vec::new();
    for (i, q) in quotas.iter().enumerate() {
        if !scopes_match(q.object, group, plural, obj) {
            continue;
        }
        let hard = parse_list(q.object.pointer("/status/hard"));
        let restricted: Vec<&String> = hard.keys().filter(|n| tracks(group, plural, n)).collect();
        if restricted.is_empty() {
            continue;
        }
        if (group, plural) == ("", "pods")
            && let Some(msg) = pod_constraints(&restricted, obj)
        {
            return Err(format!("failed quota: {}: {msg}", q.name));
        }
        let used = q.object.pointer("/status/used").and_then(Value::as_object);
        let unknown: Vec<&str> = restricted
            .iter()
            .filter(|n| !used.is_some_and(|u| u.contains_key(n.as_str())))
            .map(|n| n.as_str())
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "status unknown for quota: {}, resources: {}",
                q.name,
                unknown.join(",")
            ));
        }
        interesting.push((i, hard));
    }
    if interesting.is_empty() {
        return Ok(Vec::new());
    }
    let mut delta = usage(group, plural, obj, now);
    if let Some(old) = old {
        let before = usage(group, plural, old, now);
        for (k, v) in delta.iter_mut() {
            if let Some(b) = before.get(k) {
                *v = v.minus(*b);
                if v.value.nanos < 0 {
                    *v = Amount::zero();
                }
            }
        }
    }
    delta.retain(|_, v| !v.is_zero());
    if delta.is_empty() {
        return Ok(Vec::new());
    }
    let mut charges = Vec::new();
    for (index, hard) in interesting {
        let q = &quotas[index];
        let requested = mask(&delta, hard.keys());
        if requested.is_empty() {
            continue;
        }
        let used = parse_list(q.object.pointer("/status/used"));
        let new_used = add(&used, &requested);
        let exceeded: Vec<String> = requested
            .keys()
            .filter(|k| match (new_used.get(*k), hard.get(*k)) {
                (Some(n), Some(h)) => n.value > h.value,
                _ => false,
            })
            .cloned()
            .collect();
        if !exceeded.is_empty() {
            return Err(format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                q.name,
                pretty(&mask(&requested, exceeded.iter())),
                pretty(&mask(&used, exceeded.iter())),
                pretty(&mask(&hard, exceeded.iter())),
            ));
        }
        charges.push(Charge {
            index,
            used: new_used,
        });
    }
    Ok(charges)
}

/// The usage a quota reports (upstream `CalculateUsage` masked to `spec.hard`): every hard
/// resource some evaluator tracks starts at zero, then each selected object adds its usage.
/// `objects` are (group, plural, object) of the quota's namespace.
pub fn calculate_used<'a>(
    quota: &Value,
    objects: impl IntoIterator<Item = (&'a str, &'a str, &'a Value)>,
    now: OffsetDateTime,
) -> ResourceList {
    let hard = parse_list(quota.pointer("/spec/hard"));
    let mut used: ResourceList = hard
        .keys()
        .filter(|n| counted_resource(n).is_some() || KINDS.iter().any(|(g, p)| tracks(g, p, n)))
        .map(|n| (n.clone(), Amount::zero()))
        .collect();
    for (group, plural, obj) in objects {
        if !hard.keys().any(|n| tracks(group, plural, n))
            || !scopes_match(quota, group, plural, obj)
        {
            continue;
        }
        used = add(&used, &mask(&usage(group, plural, obj, now), hard.keys()));
    }
    used
}

/// The kinds with usage beyond their object count (the ones the controller watches).
pub const KINDS: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "services"),
    ("", "persistentvolumeclaims"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "replicationcontrollers"),
    ("", "resourcequotas"),
];

/// Resources whose amounts must be whole numbers (upstream `IsIntegerResourceName`).
fn integer_resource(name: &str) -> bool {
    name.starts_with("count/")
        || matches!(
            name,
            "pods"
                | "services"
                | "services.nodeports"
                | "services.loadbalancers"
                | "persistentvolumeclaims"
                | "configmaps"
                | "secrets"
                | "replicationcontrollers"
                | "resourcequotas"
        )
}

const SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

/// Upstream `ValidateResourceQuota` (beyond metadata): amounts are non-negative quantities,
/// counts whole numbers, scopes known; BestEffort quotas count pods only.
pub fn validate(obj: &Value) -> Vec<crate::status::FieldError> {
    use crate::status::FieldError;
    let mut errs = Vec::new();
    for (field, ptr) in [
        ("spec.hard", "/spec/hard"),
        ("status.hard", "/status/hard"),
        ("status.used", "/status/used"),
    ] {
        for (k, v) in obj
            .pointer(ptr)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let path = format!("{field}[{k}]");
            match v.as_str().map(Amount::parse) {
                Some(Ok(a)) if a.value.nanos < 0 => errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    "must be greater than or equal to 0",
                )),
                Some(Ok(a)) if integer_resource(k) && a.value.nanos % 1_000_000_000 != 0 => {
                    errs.push(FieldError::invalid(path, v.clone(), "must be an integer"))
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => errs.push(FieldError::invalid(path, v.clone(), e.to_string())),
                None => errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    crate::validation::quantity::QUANTITY_FORMAT_ERROR,
                )),
            }
        }
    }
    let scopes: Vec<&str> = obj
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for s in &scopes {
        if !SCOPES.contains(s) {
            errs.push(FieldError::invalid("spec.scopes", *s, "unsupported scope"));
        }
    }
    if scopes.contains(&"BestEffort") {
        for k in obj
            .pointer("/spec/hard")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if !matches!(k.as_str(), "pods" | "count/pods") {
                errs.push(FieldError::invalid(
                    "spec.hard",
                    k.as_str(),
                    "unsupported scope applied to resource",
                ));
            }
        }
    }
    if scopes.contains(&"Terminating") && scopes.contains(&"NotTerminating")
        || scopes.contains(&"BestEffort") && scopes.contains(&"NotBestEffort")
    {
        errs.push(FieldError::invalid(
            "spec.scopes",
            serde_json::json!(scopes),
            "conflicting scopes",
        ));
    }
    errs
}
