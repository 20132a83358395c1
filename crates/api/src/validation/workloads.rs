//! Workload controllers: ReplicationController, apps/v1 and batch/v1.

use super::{
    FIELD_IMMUTABLE, V, json_equal, label_selector, pod, selector_matches, str_at, str_of,
};
use crate::status::FieldError;
use serde_json::{Map, Value, json};

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn template_labels(t: Option<&Value>) -> Option<&Map<String, Value>> {
    t.and_then(|t| t.pointer("/metadata/labels"))
        .and_then(Value::as_object)
}

fn template_labels_value(t: Option<&Value>) -> Value {
    template_labels(t)
        .map(|m| Value::Object(m.clone()))
        .unwrap_or(Value::Null)
}

fn is_empty_selector(sel: &Value) -> bool {
    let n = |k: &str| match sel.get(k) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    n("matchLabels") + n("matchExpressions") == 0
}

/// A `metav1.LabelSelector` that must be present and non-empty, matching the template labels.
fn selector_and_template(v: &mut V, spec: Option<&Value>, empty_msg: &str) {
    let template = spec.and_then(|s| s.get("template"));
    match spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        None => v.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            label_selector(v, sel, "spec.selector");
            if is_empty_selector(sel) {
                v.push(FieldError::invalid("spec.selector", sel.clone(), empty_msg));
            } else if !selector_matches(sel, template_labels(template)) {
                v.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    template_labels_value(template),
                    SELECTOR_MISMATCH,
                ));
            }
        }
    }
    pod::template(v, template, "spec.template");
}

fn restart_always(v: &mut V, spec: Option<&Value>) {
    let rp = spec
        .map(|s| str_at(s, "/template/spec/restartPolicy"))
        .unwrap_or("");
    if !rp.is_empty() && rp != "Always" {
        v.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
}

fn common_counts(v: &mut V, spec: Option<&Value>) {
    for f in ["replicas", "minReadySeconds", "revisionHistoryLimit"] {
        v.non_negative(spec.and_then(|s| s.get(f)), &format!("spec.{f}"));
    }
}

/// The value of an IntOrString (`3` or `"25%"`) as (number, is_percent), if well-formed.
fn int_or_percent(v: &mut V, x: Option<&Value>, path: &str) -> Option<(i64, bool)> {
    match x? {
        Value::Number(n) => {
            let n = n.as_i64()?;
            if n < 0 {
                v.push(FieldError::invalid(path, n, super::IS_NEGATIVE));
            }
            Some((n, false))
        }
        Value::String(s) => {
            match s
                .strip_suffix('%')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            {
                Some(d) => d.parse().ok().map(|n| (n, true)),
                None => {
                    v.push(FieldError::invalid(path, s.as_str(), crate::names::regex_error("a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", &["1%", "93%"])));
                    None
                }
            }
        }
        _ => None,
    }
}

fn rolling_update(v: &mut V, ru: Option<&Value>, path: &str, zero_msg: &str) {
    let mu = int_or_percent(
        v,
        ru.and_then(|r| r.get("maxUnavailable")),
        &format!("{path}.maxUnavailable"),
    );
    let ms = int_or_percent(
        v,
        ru.and_then(|r| r.get("maxSurge")),
        &format!("{path}.maxSurge"),
    );
    if mu.is_some_and(|(n, _)| n == 0) && ms.is_none_or(|(n, _)| n == 0) {
        let value = ru
            .and_then(|r| r.get("maxUnavailable"))
            .cloned()
            .unwrap_or(Value::Null);
        v.push(FieldError::invalid(
            format!("{path}.maxUnavailable"),
            value,
            zero_msg,
        ));
    }
    if let Some((n, true)) = mu
        && n > 100
    {
        let value = ru
            .and_then(|r| r.get("maxUnavailable"))
            .cloned()
            .unwrap_or(Value::Null);
        v.push(FieldError::invalid(
            format!("{path}.maxUnavailable"),
            value,
            "must not be greater than 100%",
        ));
    }
}

/// Deployment, ReplicaSet, StatefulSet and DaemonSet.
pub(super) fn apps(v: &mut V, kind: &str, obj: &Value) {
    let spec = obj.get("spec");
    let empty_msg = match kind {
        "StatefulSet" => "empty selector is invalid for statefulset",
        "DaemonSet" => "empty selector is invalid for daemonset",
        // ReplicaSet reuses the Deployment wording upstream.
        _ => "empty selector is invalid for deployment",
    };
    selector_and_template(v, spec, empty_msg);
    restart_always(v, spec);
    common_counts(v, spec);
    match kind {
        "Deployment" => {
            let strategy = spec.and_then(|s| s.get("strategy"));
            match str_of(strategy, "type") {
                "Recreate" => {
                    if strategy
                        .and_then(|s| s.get("rollingUpdate"))
                        .is_some_and(|r| !r.is_null())
                    {
                        v.push(FieldError::forbidden(
                            "spec.strategy.rollingUpdate",
                            "may not be specified when strategy `type` is 'Recreate'",
                        ));
                    }
                }
                "RollingUpdate" => rolling_update(
                    v,
                    strategy.and_then(|s| s.get("rollingUpdate")),
                    "spec.strategy.rollingUpdate",
                    "may not be 0 when `maxSurge` is 0",
                ),
                _ => v.push(FieldError::not_supported(
                    "spec.strategy",
                    strategy.cloned().unwrap_or(json!({})),
                    &["Recreate", "RollingUpdate"],
                )),
            }
            v.non_negative(
                spec.and_then(|s| s.get("progressDeadlineSeconds")),
                "spec.progressDeadlineSeconds",
            );
            let pds = spec
                .and_then(|s| s.get("progressDeadlineSeconds"))
                .and_then(Value::as_i64);
            let mrs = spec
                .and_then(|s| s.get("minReadySeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if let Some(p) = pds.filter(|p| *p >= 0 && *p <= mrs) {
                v.push(FieldError::invalid(
                    "spec.progressDeadlineSeconds",
                    p,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        "StatefulSet" => {
            v.one_of(
                spec.and_then(|s| s.get("podManagementPolicy")),
                "spec.podManagementPolicy",
                &["OrderedReady", "Parallel"],
                true,
            );
            let us = spec.and_then(|s| s.get("updateStrategy"));
            v.one_of(
                us.and_then(|u| u.get("type")),
                "spec.updateStrategy.type",
                &["OnDelete", "RollingUpdate"],
                true,
            );
            v.non_negative(
                us.and_then(|u| u.pointer("/rollingUpdate/partition")),
                "spec.updateStrategy.rollingUpdate.partition",
            );
        }
        "DaemonSet" => {
            let us = spec.and_then(|s| s.get("updateStrategy"));
            match str_of(us, "type") {
                "OnDelete" => {}
                "RollingUpdate" => rolling_update(
                    v,
                    us.and_then(|u| u.get("rollingUpdate")),
                    "spec.updateStrategy.rollingUpdate",
                    "cannot be 0 when maxSurge is 0",
                ),
                "" => v.push(FieldError::required("spec.updateStrategy.type", "")),
                other => v.push(FieldError::not_supported(
                    "spec.updateStrategy.type",
                    other,
                    &["OnDelete", "RollingUpdate"],
                )),
            }
        }
        _ => {}
    }
}

/// ReplicationController: a non-empty map selector matching the template labels.
pub(super) fn replication_controller(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let template = spec.and_then(|s| s.get("template"));
    let selector = spec
        .and_then(|s| s.get("selector"))
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    match selector {
        None => v.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let sel_value = Value::Object(sel.clone());
            v.errs.extend(crate::names::validate_labels(
                Some(&sel_value),
                "spec.selector",
            ));
            if !selector_matches(
                &json!({"matchLabels": sel_value}),
                template_labels(template),
            ) {
                v.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    template_labels_value(template),
                    SELECTOR_MISMATCH,
                ));
            }
        }
    }
    match template {
        None | Some(Value::Null) => v.push(FieldError::required("spec.template", "")),
        Some(_) => pod::template(v, template, "spec.template"),
    }
    restart_always(v, spec);
    common_counts(v, spec);
}

fn job_spec(v: &mut V, spec: Option<&Value>, path: &str) {
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        v.non_negative(spec.and_then(|s| s.get(f)), &format!("{path}.{f}"));
    }
    v.one_of(
        spec.and_then(|s| s.get("completionMode")),
        &format!("{path}.completionMode"),
        &["NonIndexed", "Indexed"],
        false,
    );
    if str_of(spec, "completionMode") == "Indexed"
        && spec
            .and_then(|s| s.get("completions"))
            .is_none_or(Value::is_null)
    {
        v.push(FieldError::required(
            format!("{path}.completions"),
            "when completion mode is Indexed",
        ));
    }
    let template = spec.and_then(|s| s.get("template"));
    if let Some(sel) = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        label_selector(v, sel, &format!("{path}.selector"));
        if !selector_matches(sel, template_labels(template)) {
            v.push(FieldError::invalid(
                format!("{path}.template.metadata.labels"),
                template_labels_value(template),
                SELECTOR_MISMATCH,
            ));
        }
    }
    pod::template(v, template, &format!("{path}.template"));
    let rp = template
        .map(|t| str_at(t, "/spec/restartPolicy"))
        .unwrap_or("");
    let rp_path = format!("{path}.template.spec.restartPolicy");
    match rp {
        "" | "Always" => v.push(FieldError::required(
            rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {}
        other => v.push(FieldError::not_supported(
            rp_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// Job: counts, restartPolicy OnFailure/Never, selector (required with manualSelector).
pub(super) fn job(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let manual = spec
        .and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        == Some(true);
    if manual
        && spec
            .and_then(|s| s.get("selector"))
            .is_none_or(Value::is_null)
    {
        v.push(FieldError::required("spec.selector", ""));
    }
    job_spec(v, spec, "spec");
}

/// A five-field cron expression or a `@` macro; the error text follows robfig/cron.
fn schedule_error(schedule: &str) -> Option<String> {
    if schedule.contains("TZ") {
        return Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(m) = schedule.strip_prefix('@') {
        return match m {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            _ if m.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {schedule}")),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let names_ok = |f: &str| {
        f.split(',').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'/' | b'-' | b'?'))
        })
    };
    fields
        .iter()
        .find(|f| !names_ok(f))
        .map(|f| format!("failed to parse int from {f}"))
}

/// CronJob: schedule, concurrencyPolicy, history limits and the job template.
pub(super) fn cron_job(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let schedule = str_of(spec, "schedule");
    if schedule.is_empty() {
        v.push(FieldError::required("spec.schedule", ""));
    } else if let Some(e) = schedule_error(schedule) {
        v.push(FieldError::invalid("spec.schedule", schedule, e));
    }
    v.one_of(
        spec.and_then(|s| s.get("concurrencyPolicy")),
        "spec.concurrencyPolicy",
        &["Allow", "Forbid", "Replace"],
        true,
    );
    for f in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        v.non_negative(spec.and_then(|s| s.get(f)), &format!("spec.{f}"));
    }
    let jt_spec = spec.and_then(|s| s.pointer("/jobTemplate/spec"));
    if let Some(sel) = jt_spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        v.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if jt_spec
        .and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        v.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    let jt_no_selector = jt_spec.map(|s| {
        let mut s = s.clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("selector");
        }
        s
    });
    job_spec(v, jt_no_selector.as_ref(), "spec.jobTemplate.spec");
}

const STATEFULSET_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// StatefulSet updates may change only the listed spec fields (and revisionHistoryLimit).
pub(super) fn stateful_set_update(v: &mut V, new: &Value, old: &Value) {
    const MUTABLE: &[&str] = &[
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "revisionHistoryLimit",
    ];
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v
            .get("spec")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        m.retain(|k, _| !MUTABLE.contains(&k.as_str()));
        m
    };
    let (n, o) = (strip(new), strip(old));
    if !n
        .keys()
        .chain(o.keys())
        .all(|k| json_equal(n.get(k), o.get(k)))
    {
        v.push(FieldError::forbidden("spec", STATEFULSET_FORBIDDEN));
    }
}

/// Job updates: selector, completionMode and (unless the job is suspended) template are fixed.
pub(super) fn job_update(v: &mut V, new: &Value, old: &Value) {
    v.immutable(new, old, "/spec/selector");
    v.immutable(new, old, "/spec/completionMode");
    let indexed = str_at(new, "/spec/completionMode") == "Indexed";
    if !indexed {
        v.immutable(new, old, "/spec/completions");
    }
    let suspended = old.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    if !suspended && !json_equal(new.pointer("/spec/template"), old.pointer("/spec/template")) {
        let value = new
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        v.push(FieldError::invalid("spec.template", value, FIELD_IMMUTABLE));
    }
}

/// PodDisruptionBudget (upstream `ValidatePodDisruptionBudgetSpec`).
pub(super) fn pod_disruption_budget(v: &mut V, obj: &Value) {
    let spec = obj.get("spec");
    let min = spec
        .and_then(|s| s.get("minAvailable"))
        .filter(|x| !x.is_null());
    let max = spec
        .and_then(|s| s.get("maxUnavailable"))
        .filter(|x| !x.is_null());
    if min.is_some() && max.is_some() {
        v.push(FieldError::invalid(
            "spec",
            spec.cloned().unwrap_or(Value::Null),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (field, value) in [("minAvailable", min), ("maxUnavailable", max)] {
        let path = format!("spec.{field}");
        if let Some((n, true)) = int_or_percent(v, value, &path)
            && n > 100
        {
            v.push(FieldError::invalid(
                path,
                value.cloned().unwrap_or(Value::Null),
                "must not be greater than 100%",
            ));
        }
    }
    if let Some(sel) = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        super::label_selector(v, sel, "spec.selector");
    }
    v.one_of(
        spec.and_then(|s| s.get("unhealthyPodEvictionPolicy")),
        "spec.unhealthyPodEvictionPolicy",
        &["AlwaysAllow", "IfHealthyBudget"],
        false,
    );
}
