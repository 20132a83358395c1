//! Validation of built-in kinds with upstream messages and field paths.
//!
//! Objects are the JSON the server is about to store (already defaulted by
//! [`crate::defaults::apply`], namespace filled in from the URL, generated name applied).

mod objects;
mod pod;
pub mod quantity;
mod workloads;

use crate::names::{self, NameRule};
use crate::registry::ResourceInfo;
use crate::status::{FieldError, FieldErrorType};
use serde_json::{Map, Value};

/// Upstream `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// Upstream `IsNegativeErrorMsg`.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// Validate an object for create (metadata + kind-specific rules).
pub fn validate_create(resource: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    validate_kind(resource.group, resource.kind, resource.namespaced, obj)
}

/// Validate an update: everything `validate_create` checks plus immutable fields against `old`.
pub fn validate_update(resource: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    validate_kind_update(resource.group, resource.kind, resource.namespaced, new, old)
}

/// [`validate_create`] by group, kind and scope (for callers without a [`ResourceInfo`]).
pub fn validate_kind(group: &str, kind: &str, namespaced: bool, obj: &Value) -> Vec<FieldError> {
    if (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition") {
        // Checks the CRD's metadata too (its name must be `<plural>.<group>`).
        return crate::crd::validate_definition(obj);
    }
    let mut errs = names::validate_object_meta(
        obj.get("metadata"),
        namespaced,
        NameRule::for_kind(group, kind),
        "metadata",
    );
    if (group, kind) == ("batch", "CronJob") {
        let name = str_at(obj, "/metadata/name");
        // Job names get an 11-character suffix and must stay DNS-1035 labels.
        if name.len() > 52 {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                "must be no more than 52 characters",
            ));
        }
    }
    let mut v = V { errs };
    match (group, kind) {
        ("", "Pod") => pod::pod_spec(&mut v, obj.get("spec"), "spec"),
        ("", "PodTemplate") => pod::template(&mut v, obj.get("template"), "template"),
        ("", "ReplicationController") => workloads::replication_controller(&mut v, obj),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workloads::apps(&mut v, kind, obj)
        }
        ("batch", "Job") => workloads::job(&mut v, obj),
        ("batch", "CronJob") => workloads::cron_job(&mut v, obj),
        ("", "Service") => objects::service(&mut v, obj),
        ("", "ConfigMap") => objects::config_map(&mut v, obj),
        ("", "Secret") => objects::secret(&mut v, obj),
        ("", "PersistentVolumeClaim") => objects::pvc(&mut v, obj),
        ("", "PersistentVolume") => objects::pv(&mut v, obj),
        ("networking.k8s.io", "Ingress") => objects::ingress(&mut v, obj),
        ("storage.k8s.io", "StorageClass") => objects::storage_class(&mut v, obj),
        ("scheduling.k8s.io", "PriorityClass") => objects::priority_class(&mut v, obj),
        ("", "LimitRange") => v.errs.extend(crate::resources::limitrange::validate(obj)),
        ("policy", "PodDisruptionBudget") => workloads::pod_disruption_budget(&mut v, obj),
        ("", "ResourceQuota") => v.errs.extend(crate::resources::quota::validate(obj)),
        _ => {}
    }
    v.errs
}

/// [`validate_update`] by group, kind and scope.
pub fn validate_kind_update(
    group: &str,
    kind: &str,
    namespaced: bool,
    new: &Value,
    old: &Value,
) -> Vec<FieldError> {
    if (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition") {
        return crate::crd::validate_definition_update(new, old);
    }
    let mut errs = validate_kind(group, kind, namespaced, new);
    for f in ["name", "namespace"] {
        let (n, o) = (
            str_at(new, &format!("/metadata/{f}")),
            str_at(old, &format!("/metadata/{f}")),
        );
        if n != o {
            errs.push(FieldError::invalid(
                format!("metadata.{f}"),
                n,
                FIELD_IMMUTABLE,
            ));
        }
    }
    let mut v = V { errs };
    match (group, kind) {
        ("", "Pod") => pod::pod_update(&mut v, new, old),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => {
            v.immutable(new, old, "/spec/selector")
        }
        ("apps", "StatefulSet") => workloads::stateful_set_update(&mut v, new, old),
        ("batch", "Job") => workloads::job_update(&mut v, new, old),
        ("", "Service") => objects::service_update(&mut v, new, old),
        ("", "ConfigMap" | "Secret") => objects::immutable_data_update(&mut v, kind, new, old),
        ("", "PersistentVolumeClaim") => objects::pvc_update(&mut v, new, old),
        ("storage.k8s.io", "StorageClass") => objects::storage_class_update(&mut v, new, old),
        ("scheduling.k8s.io", "PriorityClass") => objects::priority_class_update(&mut v, new, old),
        _ => {}
    }
    v.errs
}

// ---- shared helpers ----

/// The error sink with small helpers shared by the kind validators.
pub(crate) struct V {
    pub(crate) errs: Vec<FieldError>,
}

impl V {
    fn push(&mut self, e: FieldError) {
        self.errs.push(e);
    }
    fn not_found(&mut self, field: String, value: &str) {
        self.errs.push(FieldError {
            kind: FieldErrorType::NotFound,
            field,
            value: Some(Value::String(value.to_string())),
            detail: String::new(),
        });
    }
    /// An enumerated string: Required when empty, NotSupported when not one of `allowed`.
    fn one_of(&mut self, value: Option<&Value>, path: &str, allowed: &[&str], required: bool) {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(FieldError::required(path, ""));
                }
            }
            Some(Value::String(s)) if s.is_empty() => {
                if required {
                    self.push(FieldError::required(path, ""));
                }
            }
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
            Some(other) => self.push(FieldError::not_supported(path, other.clone(), allowed)),
        }
    }
    /// An optional integer that must not be negative.
    fn non_negative(&mut self, value: Option<&Value>, path: &str) {
        if let Some(n) = value.and_then(Value::as_i64).filter(|n| *n < 0) {
            self.push(FieldError::invalid(path, n, IS_NEGATIVE));
        }
    }
    /// `field is immutable` at a JSON pointer (`/spec/selector` → `spec.selector`).
    fn immutable(&mut self, new: &Value, old: &Value, ptr: &str) {
        let (n, o) = (new.pointer(ptr), old.pointer(ptr));
        if !json_equal(n, o) {
            let path = ptr.trim_start_matches('/').replace('/', ".");
            self.push(FieldError::invalid(
                path,
                n.cloned().unwrap_or(Value::Null),
                FIELD_IMMUTABLE,
            ));
        }
    }
    /// Run a names-style check and report each message as Invalid.
    fn check_name(&mut self, path: &str, value: &str, msgs: Vec<String>) {
        for m in msgs {
            self.push(FieldError::invalid(path, value, m));
        }
    }
}

/// Equality where absent, `null`, `{}` and `[]` are the same (as Go's zero values).
fn json_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn empty(v: Option<&Value>) -> bool {
        match v {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        }
    }
    (empty(a) && empty(b)) || a == b
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn str_of<'a>(v: Option<&'a Value>, key: &str) -> &'a str {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn arr<'a>(v: Option<&'a Value>, key: &str) -> &'a [Value] {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn map_of<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Map<String, Value>> {
    v.and_then(|v| v.get(key)).and_then(Value::as_object)
}

/// Whether `labels` satisfy a `metav1.LabelSelector` object (matchLabels AND matchExpressions).
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let labels_ok = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|ml| {
            ml.iter()
                .all(|(k, v)| get(k).is_some() && get(k) == v.as_str())
        });
    let exprs_ok = arr(Some(selector), "matchExpressions").iter().all(|e| {
        let key = str_of(Some(e), "key");
        let values: Vec<&str> = arr(Some(e), "values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        match str_of(Some(e), "operator") {
            "In" => get(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => get(key).is_some(),
            "DoesNotExist" => get(key).is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// `ValidateLabelSelector`: label syntax of matchLabels and well-formed matchExpressions.
fn label_selector(v: &mut V, selector: &Value, path: &str) {
    v.errs.extend(names::validate_labels(
        selector.get("matchLabels"),
        &format!("{path}.matchLabels"),
    ));
    for (i, e) in arr(Some(selector), "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let has_values = !arr(Some(e), "values").is_empty();
        match str_of(Some(e), "operator") {
            "In" | "NotIn" if !has_values => v.push(FieldError::required(
                format!("{p}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => v.push(FieldError::forbidden(
                format!("{p}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => v.push(FieldError::invalid(
                format!("{p}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = str_of(Some(e), "key");
        v.check_name(&format!("{p}.key"), key, names::is_qualified_name(key));
    }
}

#[cfg(test)]
mod tests;
