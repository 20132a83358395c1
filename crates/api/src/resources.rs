//! Resource lists (`{"cpu": "500m", "memory": "64Mi"}`) with upstream's quantity arithmetic
//! and canonical printing, and the pure parts of the admission plugins built on them:
//! [`limitrange`] (LimitRanger) and [`quota`] (ResourceQuota usage, scopes, checks).

pub mod limitrange;
pub mod quota;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::validation::quantity::{Quantity, QuantityError, parse_quantity};

#[cfg(test)]
mod tests;

/// How a quantity is printed (upstream `resource.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `500m`, `2`, `1k`, `3G`.
    DecimalSI,
    /// `64Mi`, `1Gi`.
    BinarySI,
    /// `1e3`.
    DecimalExponent,
}

/// A quantity with the format it prints in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    pub value: Quantity,
    pub format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Amount {
    /// Parse a quantity string, remembering its format.
    pub fn parse(s: &str) -> Result<Amount, QuantityError> {
        let value = parse_quantity(s)?;
        let suffix = s.trim_start_matches(['+', '-']);
        let suffix = suffix.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let format = if suffix.ends_with('i') {
            Format::BinarySI
        } else if suffix.starts_with(['e', 'E']) {
            Format::DecimalExponent
        } else {
            Format::DecimalSI
        };
        Ok(Amount { value, format })
    }

    /// A whole number.
    pub fn int(n: i64) -> Amount {
        Amount {
            value: Quantity {
                nanos: i128::from(n) * NANO,
            },
            format: Format::DecimalSI,
        }
    }

    /// Zero, printed as `0`.
    pub fn zero() -> Amount {
        Amount::int(0)
    }

    pub fn is_zero(&self) -> bool {
        self.value.nanos == 0
    }

    /// The value in milli-units, rounded up (upstream `MilliValue`).
    pub fn milli(&self) -> i128 {
        let n = self.value.nanos;
        n / 1_000_000 + i128::from(n % 1_000_000 > 0)
    }

    /// `self + other`, in `self`'s format (upstream `Quantity.Add`).
    pub fn plus(self, other: Amount) -> Amount {
        Amount {
            value: Quantity {
                nanos: self.value.nanos.saturating_add(other.value.nanos),
            },
            format: self.format,
        }
    }

    /// `self - other`, in `self`'s format.
    pub fn minus(self, other: Amount) -> Amount {
        Amount {
            value: Quantity {
                nanos: self.value.nanos.saturating_sub(other.value.nanos),
            },
            format: self.format,
        }
    }
}

/// Upstream's canonical form (`Quantity.String()`): `1024Mi` → `1Gi`, `1000m` → `1`,
/// `1500m` stays, binary amounts below 1Ki or with fractions print as decimal.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.value.nanos;
        if n == 0 {
            return f.write_str("0");
        }
        let binary = self.format == Format::BinarySI && n.abs() >= 1024 * NANO && n % NANO == 0;
        if binary {
            let mut v = n / NANO;
            let mut exp = 0;
            while exp < 6 && v % 1024 == 0 {
                v /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return write!(f, "{v}{suffix}");
        }
        // Decimal: the largest power of 1000 (from nano up) that divides the value.
        let mut mantissa = n;
        let mut exp10: i32 = -9;
        while exp10 < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exp10 += 3;
        }
        if self.format == Format::DecimalExponent {
            return if exp10 == 0 {
                write!(f, "{mantissa}")
            } else {
                write!(f, "{mantissa}e{exp10}")
            };
        }
        let suffix = match exp10 {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        };
        write!(f, "{mantissa}{suffix}")
    }
}

/// A resource list by resource name (sorted, as upstream prints them).
pub type ResourceList = BTreeMap<String, Amount>;

/// A resource list from JSON (`requests`, `limits`, `hard`, …); entries that are not
/// quantities are skipped (validation reports them).
pub fn parse_list(v: Option<&Value>) -> ResourceList {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Amount::parse(v.as_str()?).ok()?)))
        .collect()
}

/// A resource list as JSON, each amount in its canonical form.
pub fn list_to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect::<Map<String, Value>>(),
    )
}

/// `a + b` key by key (upstream `quota.Add`).
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, v) in b {
        out.entry(k.clone())
            .and_modify(|x| *x = x.plus(*v))
            .or_insert(*v);
    }
    out
}

/// `a - b` key by key over `a`'s keys (upstream `quota.Subtract`, keys of `b` missing from
/// `a` count as negative).
pub fn subtract(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, v) in b {
        out.entry(k.clone())
            .and_modify(|x| *x = x.minus(*v))
            .or_insert(Amount::zero().minus(*v));
    }
    out
}

/// The element-wise maximum (upstream `quota.Max`).
pub fn max(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, v) in b {
        match out.get(k) {
            Some(x) if x.value >= v.value => {}
            _ => {
                out.insert(k.clone(), *v);
            }
        }
    }
    out
}

/// `name=value,…` in key order (upstream quota `prettyPrint`).
pub fn pretty(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A list restricted to `names` (upstream `quota.Mask`).
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|n| Some((n.clone(), *list.get(n)?)))
        .collect()
}

/// The `requests` and `limits` of a container.
fn container_lists(c: &Value) -> (ResourceList, ResourceList) {
    (
        parse_list(c.pointer("/resources/requests")),
        parse_list(c.pointer("/resources/limits")),
    )
}

/// The effective requests and limits of a pod (upstream `resourcehelper.PodRequests` /
/// `PodLimits`): the sum over containers and restartable (sidecar) init containers, at least
/// the largest need of any regular init container (which runs beside the sidecars started
/// before it), plus the pod overhead.
pub fn pod_requests_and_limits(spec: Option<&Value>) -> (ResourceList, ResourceList) {
    let containers = |f: &str| {
        spec.and_then(|s| s.get(f))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (mut req, mut lim) = (ResourceList::new(), ResourceList::new());
    for c in containers("containers") {
        let (r, l) = container_lists(&c);
        req = add(&req, &r);
        lim = add(&lim, &l);
    }
    let (mut sidecar_req, mut sidecar_lim) = (ResourceList::new(), ResourceList::new());
    let (mut init_req, mut init_lim) = (ResourceList::new(), ResourceList::new());
    for c in containers("initContainers") {
        let (r, l) = container_lists(&c);
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            sidecar_req = add(&sidecar_req, &r);
            sidecar_lim = add(&sidecar_lim, &l);
            init_req = max(&init_req, &sidecar_req);
            init_lim = max(&init_lim, &sidecar_lim);
        } else {
            init_req = max(&init_req, &add(&r, &sidecar_req));
            init_lim = max(&init_lim, &add(&l, &sidecar_lim));
        }
    }
    req = max(&add(&req, &sidecar_req), &init_req);
    lim = max(&add(&lim, &sidecar_lim), &init_lim);
    let overhead = parse_list(spec.and_then(|s| s.get("overhead")));
    if !overhead.is_empty() {
        req = add(&req, &overhead);
        // Overhead adds to a limit only where the pod sets one.
        let on_limits = mask(&overhead, lim.keys().cloned().collect::<Vec<_>>().iter());
        lim = add(&lim, &on_limits);
    }
    (req, lim)
}

/// Join messages as upstream's `utilerrors.NewAggregate(errs).Error()`: one message as is,
/// several de-duplicated in brackets.
pub fn aggregate(messages: &[String]) -> String {
    let mut seen: Vec<&String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    let joined = seen
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if seen.len() > 1 {
        format!("[{joined}]")
    } else {
        joined
    }
}

/// The QoS class of a pod spec (upstream `GetPodQOS`): Guaranteed when every container
/// limits cpu and memory with equal requests, BestEffort when none asks for anything,
/// Burstable otherwise.
pub fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec?.get(*f)?.as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        for r in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(r));
            let request = requests.and_then(|q| q.get(r)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if guaranteed {
        "Guaranteed"
    } else if any {
        "Burstable"
    } else {
        "BestEffort"
    }
}
