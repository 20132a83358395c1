//! Downward API values: pod fields (`fieldRef`) and container resources
//! (`resourceFieldRef`), shared by env vars and downwardAPI/projected volumes.

use std::collections::BTreeMap;

use k3rs_api::validation::quantity::parse_quantity;
use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Why a downward API value cannot be computed (upstream's messages).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A fieldPath the downward API does not offer.
    #[error("unsupported fieldPath: {0}")]
    UnsupportedField(String),
    /// A subscript on a field other than labels and annotations.
    #[error("fieldPath {0:?} does not support subscript")]
    NoSubscript(String),
    /// A resource other than cpu, memory and ephemeral-storage limits and requests.
    #[error("unsupported container resource : {0}")]
    UnsupportedResource(String),
    /// `resourceFieldRef.containerName` names no container of the pod.
    #[error("container {0} not found")]
    ContainerNotFound(String),
    /// A quantity (limit, request, allocatable or divisor) that does not parse.
    #[error("invalid quantity {0:?} for {1}")]
    Quantity(String, String),
    /// A divisor of zero after rounding to the resource's unit.
    #[error("invalid divisor {0:?} for {1}")]
    Divisor(String, String),
}

/// A pod metadata field as upstream's `fieldpath.ExtractFieldPathAsString`:
/// `metadata.name|namespace|uid`, `metadata.labels|annotations` (every entry as
/// `key="value"` lines, sorted) and `metadata.labels['k']|annotations['k']` (empty when
/// absent).
pub fn metadata_field(pod: &Pod, path: &str) -> Result<String, FieldError> {
    let meta = &pod.metadata;
    if let Some((field, key)) = split_subscript(path) {
        let map = match field {
            "metadata.labels" => meta.labels.as_ref(),
            "metadata.annotations" => meta.annotations.as_ref(),
            _ => return Err(FieldError::NoSubscript(path.to_string())),
        };
        return Ok(map.and_then(|m| m.get(key)).cloned().unwrap_or_default());
    }
    let empty = BTreeMap::new();
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref().unwrap_or(&empty)),
        "metadata.annotations" => format_map(meta.annotations.as_ref().unwrap_or(&empty)),
        _ => return Err(FieldError::UnsupportedField(path.to_string())),
    })
}

/// `metadata.labels['key']` → `("metadata.labels", "key")`.
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let inner = path.strip_suffix("']")?;
    let (field, key) = inner.split_once("['")?;
    (!field.is_empty()).then_some((field, key))
}

/// `key="value"` lines in key order, values quoted as Go's `%q` does, no final newline.
pub fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A string quoted the way Go's `strconv.Quote` does it.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The resources whose unset limit defaults to the node's allocatable amount.
const DEFAULTED_LIMITS: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// A container resource as upstream's `ExtractContainerResourceValue` after
/// `defaultPodLimitsForDownwardAPI`: the container is `selector.containerName` when set,
/// else `default_container`; an unset limit is the node's `allocatable` amount; the value is
/// divided by the divisor (default 1) and rounded up — cpu in millicores, the others in
/// whole units.
pub fn resource_value(
    selector: &ResourceFieldSelector,
    pod: &Pod,
    default_container: Option<&Container>,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, FieldError> {
    let named = selector.container_name.as_deref().filter(|n| !n.is_empty());
    let container = match (named, default_container) {
        (None, Some(c)) => c,
        (name, _) => {
            let name = name.unwrap_or_default();
            find_container(pod, name).ok_or_else(|| FieldError::ContainerNotFound(name.into()))?
        }
    };
    let (list, resource) = match selector.resource.split_once('.') {
        Some(("limits", r)) if DEFAULTED_LIMITS.contains(&r) => ("limits", r),
        Some(("requests", r)) if DEFAULTED_LIMITS.contains(&r) => ("requests", r),
        _ => return Err(FieldError::UnsupportedResource(selector.resource.clone())),
    };
    let resources = container.resources.as_ref();
    let set = match list {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        _ => resources.and_then(|r| r.requests.as_ref()),
    };
    let mut amount = set.and_then(|s| s.get(resource));
    if list == "limits" && amount.is_none() {
        amount = allocatable.get(resource);
    }
    let nanos = match amount {
        Some(q) => nanos_of(q, &selector.resource)?,
        None => 0,
    };
    let divisor = match &selector.divisor {
        Some(d) => nanos_of(d, &selector.resource)?,
        None => 0,
    };
    // cpu counts in millicores, the rest in units; both round up as upstream.
    let unit: i128 = if resource == "cpu" {
        1_000_000
    } else {
        1_000_000_000
    };
    let value = ceil_div(nanos, unit);
    let divisor_units = if divisor == 0 {
        ceil_div(1_000_000_000, unit)
    } else {
        ceil_div(divisor, unit)
    };
    if divisor_units <= 0 {
        let text = selector.divisor.as_ref().map(|d| d.0.clone());
        return Err(FieldError::Divisor(
            text.unwrap_or_default(),
            selector.resource.clone(),
        ));
    }
    Ok(ceil_div(value, divisor_units).to_string())
}

fn nanos_of(q: &Quantity, what: &str) -> Result<i128, FieldError> {
    parse_quantity(&q.0)
        .map(|p| p.nanos)
        .map_err(|_| FieldError::Quantity(q.0.clone(), what.to_string()))
}

/// `a / b` rounded towards positive infinity (`b > 0`).
pub(crate) fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 { q + 1 } else { q }
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

#[cfg(test)]
mod tests;
