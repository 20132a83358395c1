//! The admission plugins that read other objects of the namespace: LimitRanger (container
//! defaults on pod create, then min/max/ratio checks of pods and claims) and ResourceQuota
//! (charge the object's usage to every quota that selects it, or refuse with 403).
//! The decisions are pure (`k3rs_api::resources`); this file reads the namespace's
//! LimitRanges and ResourceQuotas from the store and writes the quotas' `status.used`.
//!
//! **Race safety of quota:** the charge is written to each quota's `status.used` with a
//! compare-and-swap on the quota's revision before the object is stored (upstream's optimistic
//! concurrency on the quota's status). Two concurrent creates read the same `used`; only one
//! swap succeeds, the other re-reads the charged `used` and is refused if it no longer fits.
//! A charge whose object then fails to store stays until the quota controller recalculates.
//! The status writes go through [`crate::ops`] like every other write.

use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::resources::{self, limitrange, quota};
use k3rs_api::status::ApiError;
use k3rs_store::ListOptions;
use serde_json::Value;

use crate::codec;
use crate::meta::meta_str;
use crate::ops::store_error;
use crate::query::Query;
use crate::state::AppState;

/// The query of the API server's own status writes (their field manager).
pub(crate) fn writer_query() -> Query {
    Query {
        field_manager: Some("kube-apiserver".into()),
        ..Query::default()
    }
}

/// The conflict of a compare-and-swap that found the object changed.
pub(crate) fn stale(res: &ResourceInfo, name: &str) -> ApiError {
    ApiError::Conflict {
        target: crate::ops::target(res, name),
        message: "the object has been modified; please apply your changes to the latest version and try again".into(),
    }
}

/// How often a quota charge is retried after losing a race on a quota's status.
const MAX_CHARGE_RETRIES: usize = 16;

fn core(plural: &str) -> Result<&'static ResourceInfo, ApiError> {
    registry::lookup("", "v1", plural)
        .ok_or_else(|| ApiError::Internal(format!("{plural} not registered")))
}

fn is_core(res: &ResourceInfo, plural: &str) -> bool {
    res.group.is_empty() && res.plural == plural
}

/// `pods "x" is forbidden: …`, naming the object by its name or, before one is generated,
/// its generateName (as upstream's `admission.NewForbidden`).
fn forbidden(res: &ResourceInfo, obj: &Value, message: &str) -> ApiError {
    let name = match meta_str(obj, "name") {
        "" => meta_str(obj, "generateName"),
        n => n,
    };
    ApiError::Forbidden(format!(
        "{} {name:?} is forbidden: {message}",
        res.group_resource()
    ))
}

impl AppState {
    /// The stored objects of a namespace, with their store revisions.
    async fn namespace_objects(
        &self,
        res: &ResourceInfo,
        ns: &str,
    ) -> Result<Vec<(String, i64, Value)>, ApiError> {
        let page = self
            .store
            .list(ListOptions {
                prefix: res.namespace_prefix(ns),
                start_after: None,
                limit: None,
                revision: None,
            })
            .await
            .map_err(|e| store_error(res, "", e))?;
        page.items
            .into_iter()
            .map(|kv| {
                let obj = codec::decode(&kv.value, kv.mod_revision)
                    .map_err(|e| ApiError::Internal(format!("{}: {e}", kv.key)))?;
                Ok((kv.key, kv.mod_revision, obj))
            })
            .collect()
    }

    /// DefaultStorageClass on a claim being created without `spec.storageClassName`: the
    /// default StorageClass (annotation `storageclass.kubernetes.io/is-default-class: "true"`;
    /// the newest when several are) is written in. An explicit `""` stays: it asks for no class.
    pub(crate) async fn admit_default_storage_class(
        &self,
        res: &ResourceInfo,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if !is_core(res, "persistentvolumeclaims")
            || obj
                .pointer("/spec/storageClassName")
                .is_some_and(|c| !c.is_null())
        {
            return Ok(());
        }
        let classes = registry::lookup("storage.k8s.io", "v1", "storageclasses")
            .ok_or_else(|| ApiError::Internal("storageclasses not registered".into()))?;
        let page = self
            .store
            .list(ListOptions {
                prefix: classes.prefix(),
                start_after: None,
                limit: None,
                revision: None,
            })
            .await
            .map_err(|e| store_error(classes, "", e))?;
        let default = page
            .items
            .iter()
            .filter_map(|kv| codec::decode(&kv.value, kv.mod_revision).ok())
            .filter(|class| {
                class
                    .pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                    .and_then(Value::as_str)
                    == Some("true")
            })
            .max_by(|a, b| {
                let created = |o: &Value| meta_str(o, "creationTimestamp").to_string();
                created(a)
                    .cmp(&created(b))
                    .then_with(|| meta_str(b, "name").cmp(meta_str(a, "name")))
            });
        if let (Some(class), Some(spec)) =
            (default, obj.get_mut("spec").and_then(Value::as_object_mut))
        {
            spec.insert("storageClassName".into(), meta_str(&class, "name").into());
        }
        Ok(())
    }

    /// LimitRanger on a pod or claim being created (`old` None) or a claim being updated:
    /// container defaults on pod create, then every LimitRange's constraints.
    pub(crate) async fn admit_limits(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let pod = is_core(res, "pods");
        let claim = is_core(res, "persistentvolumeclaims");
        let Some(ns) = ns else {
            return Ok(());
        };
        if !(pod && old.is_none() || claim) {
            return Ok(());
        }
        let ranges: Vec<Value> = self
            .namespace_objects(core("limitranges")?, ns)
            .await?
            .into_iter()
            .map(|(_, _, o)| o)
            .collect();
        if ranges.is_empty() {
            return Ok(());
        }
        if pod {
            limitrange::default_pod(&ranges, obj);
            // The QoS class follows the defaulted resources.
            let qos = resources::qos_class(obj.get("spec"));
            if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
                status.insert("qosClass".into(), qos.into());
            }
        }
        for lr in &ranges {
            let failed = if pod {
                limitrange::check_pod(lr, obj)
            } else {
                limitrange::check_pvc(lr, obj)
            };
            if let Some(msg) = failed {
                return Err(forbidden(res, obj, &msg));
            }
        }
        Ok(())
    }

    /// ResourceQuota on a create (`old` None) or an update of the main resource: refuse the
    /// write when it does not fit a quota, otherwise charge every selecting quota's
    /// `status.used` (not on dry runs).
    pub(crate) async fn admit_quota(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        obj: &Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let Some(ns) = ns.filter(|_| res.namespaced) else {
            return Ok(());
        };
        // Pods are charged on create only (their resources are immutable).
        if old.is_some() && is_core(res, "pods") {
            return Ok(());
        }
        let quota_res = core("resourcequotas")?;
        // Quotas charged by an earlier attempt are not charged again.
        let mut charged: Vec<String> = Vec::new();
        for _ in 0..MAX_CHARGE_RETRIES {
            let mut quotas = self.namespace_objects(quota_res, ns).await?;
            quotas.retain(|(key, _, _)| !charged.contains(key));
            if quotas.is_empty() {
                return Ok(());
            }
            let states: Vec<quota::QuotaState<'_>> = quotas
                .iter()
                .map(|(_, _, q)| quota::QuotaState {
                    name: meta_str(q, "name"),
                    object: q,
                })
                .collect();
            let now = time::OffsetDateTime::now_utc();
            let charges = quota::admit(&states, res.group, res.plural, obj, old, now)
                .map_err(|msg| forbidden(res, obj, &msg))?;
            if dry_run || charges.is_empty() {
                return Ok(());
            }
            // A create that will fail as a duplicate must not be charged (nothing would give
            // the charge back before the next recalculation).
            let name = meta_str(obj, "name");
            if old.is_none()
                && self
                    .store
                    .get(&res.key(Some(ns), name))
                    .await
                    .map_err(|e| store_error(res, name, e))?
                    .is_some()
            {
                return Err(ApiError::AlreadyExists(crate::ops::target(res, name)));
            }
            let mut lost_race = false;
            for charge in charges {
                let (key, revision, q) = &quotas[charge.index];
                let name = meta_str(q, "name");
                let used = resources::list_to_json(&charge.used);
                // Through ops.rs like every write (boxed: this is inside a create or update),
                // as a compare-and-swap on the revision the decision was made at.
                let written = Box::pin(self.update_with(
                    quota_res,
                    Some(ns),
                    name,
                    Some("status"),
                    &writer_query(),
                    |current| {
                        if meta_str(current, "resourceVersion") != revision.to_string() {
                            return Err(stale(quota_res, name));
                        }
                        let mut updated = current.clone();
                        if let Some(status) =
                            updated.get_mut("status").and_then(Value::as_object_mut)
                        {
                            status.insert("used".into(), used.clone());
                        }
                        Ok(updated)
                    },
                ))
                .await;
                match written {
                    Ok(_) => charged.push(key.clone()),
                    Err(ApiError::Conflict { .. } | ApiError::NotFound(_)) => {
                        lost_race = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !lost_race {
                return Ok(());
            }
        }
        Err(ApiError::Conflict {
            target: k3rs_api::status::Target::new("", "resourcequotas", ""),
            message: "too many concurrent updates to the namespace's resource quotas, please retry"
                .into(),
        })
    }
}
