//! Field selectors (`?fieldSelector=`) and the fields each resource supports.
//!
//! Parsing follows `k8s.io/apimachinery/pkg/fields` (`ParseSelector`, escaping with `\,`
//! `\=` `\\`); the fields a resource accepts and their error texts follow the field label
//! conversion functions upstream registers per kind (`pkg/apis/*/v1/conversion.go`), and the
//! values follow each registry strategy's `ToSelectableFields` applied to the stored object.
//!
//! | resource | fields besides `metadata.name` (and `metadata.namespace`) |
//! |---|---|
//! | pods | `spec.nodeName` (alias `spec.host`), `spec.restartPolicy`, `spec.schedulerName`, `spec.serviceAccountName`, `spec.hostNetwork`, `status.phase`, `status.podIP`, `status.podIPs`, `status.nominatedNodeName` |
//! | events (core) | `involvedObject.{kind,namespace,name,uid,apiVersion,resourceVersion,fieldPath}`, `reason`, `reportingComponent`, `source`, `type` |
//! | events.k8s.io | `regarding.{kind,namespace,name,uid,apiVersion,resourceVersion,fieldPath}`, `reason`, `reportingController`, `source`, `type` |
//! | secrets | `type` |
//! | services | `spec.clusterIP`, `spec.type` |
//! | replicationcontrollers | `status.replicas` |
//! | namespaces | `status.phase` (no `metadata.namespace`) |
//! | nodes | `spec.unschedulable` (no `metadata.namespace`) |
//! | jobs | `status.successful` |
//! | certificatesigningrequests | `spec.signerName` (no `metadata.namespace`) |
//! | everything else | — (`metadata.name`, `metadata.namespace` only, also for cluster-scoped kinds) |
//!
//! As upstream, `replicasets` do **not** accept `status.replicas` (apps/v1 registers no
//! conversion), and `status.podIPs` is accepted for pods but never set in the field set, so
//! it always compares against "".

use std::fmt;

use serde_json::Value;

use crate::registry::ResourceInfo;
use crate::selector::{SelectorError, go_quote};

/// `=`/`==` (has) or `!=` (has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field label; after [`FieldSelector::parse`] the canonical (converted) name, e.g.
    /// `spec.nodeName` for `spec.host`, `involvedObject.kind` for events.k8s.io `regarding.kind`.
    pub field: String,
    pub operator: FieldOperator,
    /// The unescaped value.
    pub value: String,
}

impl FieldRequirement {
    fn matches(&self, resource: &ResourceInfo, obj: &Value) -> bool {
        let have = field_value(resource, &self.field, obj);
        match self.operator {
            FieldOperator::Equals => have == self.value,
            FieldOperator::NotEquals => have != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{}{}", self.field, op, escape_value(&self.value))
    }
}

/// A parsed field selector: AND of `field=value` / `field==value` / `field!=value`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    /// Sorted by the raw term text, as upstream.
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parse and check every field is supported by `resource`
    /// (error text as upstream: `field label not supported: <field>`; for kinds without
    /// extra fields `"<field>" is not a known field selector: only "metadata.name", "metadata.namespace"`;
    /// for jobs `field label "<field>" not supported for Job`).
    pub fn parse(s: &str, resource: &ResourceInfo) -> Result<Self, SelectorError> {
        let mut sel = Self::parse_syntax(s)?;
        for term in &mut sel.terms {
            term.field = convert_field_label(resource, &term.field)?;
        }
        Ok(sel)
    }

    /// Parse the syntax only (upstream `fields.ParseSelector`), without checking fields
    /// against a resource; unknown fields then compare against "".
    pub fn parse_syntax(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                operator: op,
                value: unescape_value(rhs)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether `obj` (a stored object of `resource`) satisfies every term.
    pub fn matches(&self, resource: &ResourceInfo, obj: &serde_json::Value) -> bool {
        self.terms.iter().all(|t| t.matches(resource, obj))
    }

    /// True if the selector has no terms (selects everything).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    /// If a term requires `field` to equal one value (`field=v`), that value; lets the
    /// server turn `metadata.name=x` into a single get (upstream `RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }
}

/// The canonical string form (upstream `Selector.String()`): terms joined by `,`, values
/// escaped, `==` rendered as `=`.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// Escape `\`, `,` and `=` in a value (upstream `fields.EscapeValue`).
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undo [`escape_value`]; unescaped `,`/`=` and unknown escapes are errors (upstream
/// `fields.UnescapeValue`, whose messages print the offending character as a number).
pub fn unescape_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(SelectorError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Split at commas not preceded by a backslash escape; escapes are kept.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// At the first position holding `!=`, `==` or `=`: (lhs, operator, raw rhs).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, rhs));
            }
        }
    }
    None
}

/// How a kind's field label conversion reports an unsupported label.
#[derive(Clone, Copy)]
enum Unsupported {
    /// `field label not supported: <label>` (core kinds, events, certificates).
    NotSupported,
    /// `field label "<label>" not supported for Job`.
    Job,
    /// The scheme default: `"<label>" is not a known field selector: only "metadata.name", "metadata.namespace"`.
    Default,
}

/// The labels one kind accepts, label aliases (label → canonical field) and its error style.
struct Conversion {
    labels: &'static [&'static str],
    aliases: &'static [(&'static str, &'static str)],
    unsupported: Unsupported,
}

const META: &[&str] = &["metadata.name", "metadata.namespace"];

const DEFAULT_CONVERSION: Conversion = Conversion {
    labels: META,
    aliases: &[],
    unsupported: Unsupported::Default,
};

fn conversion(resource: &ResourceInfo) -> Conversion {
    let listed = |labels, aliases| Conversion {
        labels,
        aliases,
        unsupported: Unsupported::NotSupported,
    };
    match (resource.group, resource.kind) {
        ("", "Pod") => listed(
            &[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ],
            &[("spec.host", "spec.nodeName")],
        ),
        ("", "Node") => listed(&["metadata.name", "spec.unschedulable"], &[]),
        ("", "ReplicationController") => listed(
            &["metadata.name", "metadata.namespace", "status.replicas"],
            &[],
        ),
        ("", "Event") => listed(
            &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
                "metadata.namespace",
                "metadata.name",
            ],
            &[],
        ),
        ("", "Namespace") => listed(&["status.phase", "metadata.name"], &[]),
        ("", "Secret") => listed(&["type", "metadata.namespace", "metadata.name"], &[]),
        ("", "Service") => listed(
            &[
                "metadata.namespace",
                "metadata.name",
                "spec.clusterIP",
                "spec.type",
            ],
            &[],
        ),
        ("batch", "Job") => Conversion {
            labels: &["metadata.name", "metadata.namespace", "status.successful"],
            aliases: &[],
            unsupported: Unsupported::Job,
        },
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            listed(&["metadata.name", "spec.signerName"], &[])
        }
        ("events.k8s.io", "Event") => listed(
            &[
                "reason",
                "source",
                "type",
                "metadata.namespace",
                "metadata.name",
            ],
            &[
                ("regarding.kind", "involvedObject.kind"),
                ("regarding.namespace", "involvedObject.namespace"),
                ("regarding.name", "involvedObject.name"),
                ("regarding.uid", "involvedObject.uid"),
                ("regarding.apiVersion", "involvedObject.apiVersion"),
                (
                    "regarding.resourceVersion",
                    "involvedObject.resourceVersion",
                ),
                ("regarding.fieldPath", "involvedObject.fieldPath"),
                ("reportingController", "reportingComponent"),
            ],
        ),
        _ => DEFAULT_CONVERSION,
    }
}

/// The field labels `resource` accepts in a field selector (its canonical names plus
/// aliases), in upstream's order.
pub fn supported_fields(resource: &ResourceInfo) -> Vec<&'static str> {
    let c = conversion(resource);
    c.labels
        .iter()
        .copied()
        .chain(c.aliases.iter().map(|(label, _)| *label))
        .collect()
}

/// Check one label against `resource` and return its canonical field name (upstream
/// `Scheme.ConvertFieldLabel`), or the upstream error.
pub fn convert_field_label(resource: &ResourceInfo, label: &str) -> Result<String, SelectorError> {
    let c = conversion(resource);
    if c.labels.contains(&label) {
        return Ok(label.to_string());
    }
    if let Some((_, canonical)) = c.aliases.iter().find(|(l, _)| *l == label) {
        return Ok((*canonical).to_string());
    }
    Err(SelectorError(match c.unsupported {
        Unsupported::NotSupported => format!("field label not supported: {label}"),
        Unsupported::Job => format!("field label {} not supported for Job", go_quote(label)),
        Unsupported::Default => format!(
            "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            go_quote(label)
        ),
    }))
}

/// A scalar as upstream renders it into a field set: strings as is, booleans
/// `true`/`false`, integers in decimal; anything else (absent, null, objects) is `default`.
fn scalar(v: Option<&Value>, default: &str) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default.to_string(),
    }
}

/// The value of the canonical `field` of `obj` (a stored, defaulted object of `resource`),
/// as upstream's `ToSelectableFields` renders it; "" for fields not in the resource's set.
pub fn field_value(resource: &ResourceInfo, field: &str, obj: &Value) -> String {
    let at = |ptr: &str| obj.pointer(ptr);
    let s = |ptr: &str| scalar(obj.pointer(ptr), "");
    match field {
        "metadata.name" => return s("/metadata/name"),
        "metadata.namespace" => {
            return if resource.namespaced {
                s("/metadata/namespace")
            } else {
                String::new()
            };
        }
        _ => {}
    }
    match (resource.group, resource.kind, field) {
        ("", "Pod", "spec.nodeName") => s("/spec/nodeName"),
        ("", "Pod", "spec.restartPolicy") => s("/spec/restartPolicy"),
        ("", "Pod", "spec.schedulerName") => s("/spec/schedulerName"),
        ("", "Pod", "spec.serviceAccountName") => s("/spec/serviceAccountName"),
        ("", "Pod", "spec.hostNetwork") => scalar(at("/spec/hostNetwork"), "false"),
        ("", "Pod", "status.phase") => s("/status/phase"),
        // The first of status.podIPs (v1 status.podIP when podIPs is absent).
        ("", "Pod", "status.podIP") => match at("/status/podIPs/0/ip") {
            Some(ip) => scalar(Some(ip), ""),
            None => s("/status/podIP"),
        },
        ("", "Pod", "status.nominatedNodeName") => s("/status/nominatedNodeName"),
        ("", "Node", "spec.unschedulable") => scalar(at("/spec/unschedulable"), "false"),
        ("", "ReplicationController", "status.replicas")
        | ("apps", "ReplicaSet", "status.replicas") => scalar(at("/status/replicas"), "0"),
        ("", "Namespace", "status.phase") => s("/status/phase"),
        ("", "Secret", "type") => s("/type"),
        ("", "Service", "spec.clusterIP") => s("/spec/clusterIP"),
        ("", "Service", "spec.type") => s("/spec/type"),
        ("batch", "Job", "status.successful") => scalar(at("/status/succeeded"), "0"),
        ("certificates.k8s.io", "CertificateSigningRequest", "spec.signerName") => {
            s("/spec/signerName")
        }
        ("", "Event", _) => {
            event_field(obj, field, "involvedObject", "reportingComponent", "source")
        }
        ("events.k8s.io", "Event", _) => event_field(
            obj,
            field,
            "regarding",
            "reportingController",
            "deprecatedSource",
        ),
        _ => String::new(),
    }
}

/// An Event's field in either API: core/v1 names its parts `involvedObject`,
/// `reportingComponent`, `source`; events.k8s.io/v1 `regarding`, `reportingController`,
/// `deprecatedSource`. `source` falls back to the reporting controller, as upstream.
fn event_field(obj: &Value, field: &str, regarding: &str, reporting: &str, source: &str) -> String {
    let s = |ptr: &str| scalar(obj.pointer(ptr), "");
    if let Some(sub) = field.strip_prefix("involvedObject.") {
        return match sub {
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion"
            | "fieldPath" => s(&format!("/{regarding}/{sub}")),
            _ => String::new(),
        };
    }
    match field {
        "reason" => s("/reason"),
        "type" => s("/type"),
        "reportingComponent" => s(&format!("/{reporting}")),
        "source" => {
            let component = s(&format!("/{source}/component"));
            if component.is_empty() {
                s(&format!("/{reporting}"))
            } else {
                component
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
