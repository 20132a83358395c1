//! PodDisruptionBudget status helpers shared by the eviction subresource and the disruption
//! controller (upstream `pdbhelper.UpdateDisruptionAllowedCondition`).

use serde_json::{Map, Value, json};

/// The condition type the PDB status carries.
pub const CONDITION: &str = "DisruptionAllowed";

/// Set the `DisruptionAllowed` condition from `status.disruptionsAllowed` (True/SufficientPods
/// when positive, False/InsufficientPods otherwise), keeping its transition time when the
/// status does not change. `now` is an RFC 3339 time.
pub fn set_disruption_allowed(status: &mut Map<String, Value>, now: &str) {
    let allowed = status
        .get("disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        > 0;
    let observed = status
        .get("observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let (state, reason) = if allowed {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let existing = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(CONDITION));
    let since = match &existing {
        Some(c) if c.get("status").and_then(Value::as_str) == Some(state) => c
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(now)),
        _ => json!(now),
    };
    let fresh = json!({
        "type": CONDITION,
        "status": state,
        "observedGeneration": observed,
        "lastTransitionTime": since,
        "reason": reason,
        "message": "",
    });
    match existing {
        Some(c) => *c = fresh,
        None => list.push(fresh),
    }
}
