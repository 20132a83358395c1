//! Object operations over the store: get, list, create, update, patch, delete.
//! The HTTP layer ([`crate::handler`]) decodes requests and calls these; in-process
//! bootstrap code calls them too, so every write takes the same path:
//! prepare metadata → defaulting → admission → validation → store.

use base64::Engine;
use k3rs_api::fields::FieldSelector;
use k3rs_api::registry::{self, ResourceInfo};
use k3rs_api::resources::qos_class;
use k3rs_api::selector::{LabelSelector, labels_of};
use k3rs_api::status::{ApiError, FieldError, Target};
use k3rs_api::{defaults, validation};
use k3rs_store::{KeyValue, ListOptions, Revision, StoreError};
use serde_json::{Value, json};

use crate::codec;
use crate::fieldmanager;
use crate::meta::{finalizers, meta_mut, meta_str, now_rfc3339, random_suffix, spec_equal};
use crate::query::Query;
use crate::services;
use crate::state::AppState;

/// How many times an unconditional update retries after losing a race.
const MAX_UPDATE_RETRIES: usize = 16;

/// Who owns the fields of a write (`metadata.managedFields`, see [`fieldmanager`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// An Update operation: the entries are computed from the change.
    Update,
    /// A server-side apply already wrote the entries into the object.
    Applied,
}

/// The outcome of a write: the object and the HTTP status (201 for creates; a delete that only
/// marked the object answers 200 like upstream, 202 only when `orphanDependents: false`).
pub struct Written {
    pub object: Value,
    pub code: u16,
}

pub fn target(res: &ResourceInfo, name: &str) -> Target {
    Target::new(res.group, res.plural, name)
}

fn invalid(res: &ResourceInfo, name: &str, causes: Vec<FieldError>) -> ApiError {
    ApiError::Invalid {
        target: Target::new(res.group, res.kind, name),
        causes,
    }
}

/// Map store errors to API errors for one object.
pub fn store_error(res: &ResourceInfo, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists(_) => ApiError::AlreadyExists(target(res, name)),
        StoreError::NotFound(_) => ApiError::NotFound(target(res, name)),
        StoreError::Conflict { .. } => ApiError::Conflict {
            target: target(res, name),
            message: "the object has been modified; please apply your changes to the latest version and try again".into(),
        },
        StoreError::Compacted { requested, compacted } => {
            ApiError::Expired(format!("too old resource version: {requested} ({compacted})"))
        }
        StoreError::FutureRevision { requested, current } => {
            ApiError::Timeout(format!("Too large resource version: {requested}, current: {current}"))
        }
        other => ApiError::Internal(other.to_string()),
    }
}

fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    codec::decode(&kv.value, kv.mod_revision)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", kv.key)))
}

/// The object just written as `kv`: what [`decode`] of the stored bytes gives (the stored
/// encoding is `obj` without its resourceVersion), without parsing them again.
fn as_written(mut obj: Value, kv: &KeyValue) -> Value {
    meta_mut(&mut obj).insert(
        "resourceVersion".into(),
        Value::String(kv.mod_revision.to_string()),
    );
    obj
}

/// One page of a list: what [`AppState::list_page`] found.
pub struct ListPage {
    /// The matching objects in key order, as stored (see [`codec`]).
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the list's `resourceVersion`).
    pub revision: Revision,
    /// The `continue` token when more items follow.
    pub continue_token: Option<String>,
}

/// A continue token, as upstream encodes it (base64 JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn parse_revision(s: &str) -> Result<Revision, ApiError> {
    s.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

/// Compiled label and field selectors of a list or watch.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub fn new(res: &ResourceInfo, q: &Query) -> Result<Self, ApiError> {
        let labels = match &q.label_selector {
            Some(s) => LabelSelector::parse(s)
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
            None => LabelSelector::default(),
        };
        let fields = match &q.field_selector {
            Some(s) => {
                FieldSelector::parse(s, res).map_err(|e| ApiError::bad_request(e.to_string()))?
            }
            None => FieldSelector::default(),
        };
        Ok(Self { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether a stored object passes. Objects that cannot be decoded never match.
    pub fn matches(&self, res: &ResourceInfo, stored: &[u8]) -> bool {
        if self.is_everything() {
            return true;
        }
        let Ok(obj) = codec::decode_plain(stored) else {
            return false;
        };
        self.labels.matches(&labels_of(&obj)) && self.fields.matches(res, &obj)
    }
}

/// The storage prefix a list or watch covers.
pub fn list_prefix(res: &ResourceInfo, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if res.namespaced => res.namespace_prefix(ns),
        _ => res.prefix(),
    }
}

impl AppState {
    /// The stored object.
    pub async fn get_kv(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> Result<KeyValue, ApiError> {
        self.store
            .get(&res.key(ns, name))
            .await
            .map_err(|e| store_error(res, name, e))?
            .ok_or_else(|| ApiError::NotFound(target(res, name)))
    }

    pub async fn get_object(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        decode(&self.get_kv(res, ns, name).await?)
    }

    /// A list response body (JSON bytes), honouring selectors, paging and resourceVersion:
    /// [`AppState::list_page`] spliced into a `<Kind>List` without re-serializing the items.
    pub async fn list(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        q: &Query,
    ) -> Result<Vec<u8>, ApiError> {
        let page = self.list_page(res, ns, q).await?;
        let version = self.presented_version(res);
        let items = &page.items;
        let mut body =
            Vec::with_capacity(256 + items.iter().map(|kv| kv.value.len() + 32).sum::<usize>());
        body.extend_from_slice(b"{\"kind\":");
        body.extend_from_slice(
            serde_json::to_string(&format!("{}List", res.kind))
                .unwrap_or_default()
                .as_bytes(),
        );
        body.extend_from_slice(b",\"apiVersion\":");
        body.extend_from_slice(
            serde_json::to_string(&res.api_version())
                .unwrap_or_default()
                .as_bytes(),
        );
        body.extend_from_slice(b",\"metadata\":{\"resourceVersion\":\"");
        body.extend_from_slice(page.revision.to_string().as_bytes());
        body.push(b'"');
        if let Some(token) = &page.continue_token {
            body.extend_from_slice(b",\"continue\":\"");
            body.extend_from_slice(token.as_bytes());
            body.push(b'"');
        }
        body.extend_from_slice(b"},\"items\":[");
        for (i, kv) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            codec::write_json_as(&kv.value, kv.mod_revision, version.as_deref(), &mut body)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        body.extend_from_slice(b"]}");
        Ok(body)
    }

    /// One page of a list, honouring selectors, paging and resourceVersion: the stored
    /// items (encoded as in [`codec`]), the list's revision and its continue token.
    pub async fn list_page(
        &self,
        res: &ResourceInfo,
        ns: Option<&str>,
        q: &Query,
    ) -> Result<ListPage, ApiError> {
        let filter = Filter::new(res, q)?;
        let prefix = list_prefix(res, ns);
        let (mut revision, mut start_after) = (None, None);
        if let Some(token) = &q.continue_token {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice::<ContinueToken>(&b).ok())
                .ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
            revision = Some(raw.rv);
            start_after = Some(format!("{prefix}{}", raw.start));
        } else if let Some(rv) = &q.resource_version {
            let rv = parse_revision(rv)?;
            match q.resource_version_match.as_deref() {
                Some("Exact") => revision = Some(rv),
                None | Some("NotOlderThan") => {
                    let current = self.store.current_revision();
                    if rv > current {
                        return Err(ApiError::Timeout(format!(
                            "Too large resource version: {rv}, current: {current}"
                        )));
                    }
                }
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                    )));
                }
            }
        } else if q.resource_version_match.is_some() {
            return Err(invalid(
                res,
                "",
                vec![FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )],
            ));
        }
        let limit = q.limit;
        let mut items = Vec::new();
        let mut more = false;
        let mut last_key = None;
        let mut list_revision;
        loop {
            let page = self
                .store
                .list(ListOptions { prefix: prefix.clone(), start_after: start_after.clone(), limit, revision })
                .await
                .map_err(|e| match e {
                    StoreError::Compacted { .. } if q.continue_token.is_some() => ApiError::Expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    ),
                    StoreError::Compacted { .. } => ApiError::Expired("The resourceVersion for the provided list is too old.".into()),
                    other => store_error(res, "", other),
                })?;
            list_revision = page.revision;
            revision = Some(page.revision);
            for kv in page.items {
                last_key = Some(kv.key.clone());
                if filter.matches(res, &kv.value) {
                    items.push(kv);
                    if limit.is_some_and(|l| items.len() >= l) {
                        break;
                    }
                }
            }
            if limit.is_some_and(|l| items.len() >= l) {
                // Full page: more remain if anything follows the last item taken.
                last_key = items.last().map(|kv| kv.key.clone());
                let rest = self
                    .store
                    .list(ListOptions {
                        prefix: prefix.clone(),
                        start_after: last_key.clone(),
                        limit: Some(1),
                        revision,
                    })
                    .await
                    .map_err(|e| store_error(res, "", e))?;
                more = !rest.items.is_empty();
                break;
            }
            if !page.more {
                break;
            }
            start_after = last_key.clone();
        }
        let mut continue_token = None;
        if more && let Some(last) = &last_key {
            let token = ContinueToken {
                v: "meta.k8s.io/v1".into(),
                rv: list_revision,
                start: last.strip_prefix(&prefix).unwrap_or(last).to_string(),
            };
            continue_token = Some(
                base64::engine::general_purpose::STANDARD
                    .encode(serde_json::to_vec(&token).unwrap_or_default()),
            );
        }
        Ok(ListPage {
            items,
            revision: list_revision,
            continue_token,
        })
    }

    /// Refuse writes into a missing or terminating namespace.
    async fn check_namespace(&self, ns: &str) -> Result<(), ApiError> {
        let ns_res = registry::lookup("", "v1", "namespaces")
            .ok_or_else(|| ApiError::Internal("namespaces not registered".into()))?;
        let Some(kv) = self
            .store
            .get(&ns_res.key(None, ns))
            .await
            .map_err(|e| store_error(ns_res, ns, e))?
        else {
            return Err(ApiError::NotFound(target(ns_res, ns)));
        };
        let obj = decode(&kv)?;
        if obj.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
            || !meta_str(&obj, "deletionTimestamp").is_empty()
        {
            return Err(ApiError::Forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )));
        }
        Ok(())
    }

    /// Create an object. `obj` is what the client sent.
    pub async fn create(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        obj: Value,
        q: &Query,
    ) -> Result<Written, ApiError> {
        self.create_as(res, ns, obj, q, Ownership::Update).await
    }

    /// [`AppState::create`], recording field ownership as `ownership` says.
    pub async fn create_as(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        mut obj: Value,
        q: &Query,
        ownership: Ownership,
    ) -> Result<Written, ApiError> {
        check_kind(res, &obj)?;
        let sent_managed = obj.pointer("/metadata/managedFields").cloned();
        set_namespace(res, ns, &mut obj)?;
        if let Some(ns) = ns.filter(|_| res.namespaced) {
            self.check_namespace(ns).await?;
        }
        let generate_name = meta_str(&obj, "generateName").to_string();
        let explicit_name = meta_str(&obj, "name").to_string();
        {
            let meta = meta_mut(&mut obj);
            for f in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "managedFields",
            ] {
                meta.remove(f);
            }
            meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
            if res.generation {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        prepare_create(res, &mut obj);
        defaults::apply(res, &mut obj);
        self.admit_custom(res, &mut obj);
        self.admit_default_storage_class(res, &mut obj).await?;
        self.admit_limits(res, ns, &mut obj, None).await?;
        if let Some(m) = sent_managed {
            meta_mut(&mut obj).insert("managedFields".into(), m);
        }
        if ownership == Ownership::Update {
            fieldmanager::record_update(self, res, None, None, &mut obj, q);
        }
        if res.group == "apiextensions.k8s.io" && res.plural == "customresourcedefinitions" {
            // Held until the CRD controller has removed the CRD's objects.
            let mut fins = finalizers(&obj);
            if !fins
                .iter()
                .any(|f| f == crate::crd_controller::CLEANUP_FINALIZER)
            {
                fins.push(crate::crd_controller::CLEANUP_FINALIZER.to_string());
            }
            meta_mut(&mut obj).insert("finalizers".into(), json!(fins));
        }
        // A generated name is retried a few times on collision, as upstream does.
        let attempts = if explicit_name.is_empty() && !generate_name.is_empty() {
            8
        } else {
            1
        };
        for attempt in 0..attempts {
            if explicit_name.is_empty() && !generate_name.is_empty() {
                meta_mut(&mut obj).insert(
                    "name".into(),
                    json!(format!("{generate_name}{}", random_suffix())),
                );
            }
            let name = meta_str(&obj, "name").to_string();
            let mut errs = validation::validate_create(res, &obj);
            errs.extend(self.validate_custom(res, &obj));
            if !errs.is_empty() {
                return Err(invalid(res, &name, errs));
            }
            self.admit_quota(res, ns, &obj, None, q.dry_run).await?;
            let holdings = if res.group.is_empty() && res.plural == "services" {
                let mut guard = self
                    .services
                    .lock()
                    .map_err(|_| ApiError::Internal("allocator lock poisoned".into()))?;
                Some(
                    guard
                        .admit(&mut obj, None)
                        .map_err(|errs| invalid(res, &name, errs))?,
                )
            } else {
                None
            };
            let release = |state: &Self| {
                if let Some(h) = &holdings
                    && let Ok(mut g) = state.services.lock()
                {
                    g.release(h);
                }
            };
            if q.dry_run {
                release(self);
                return Ok(Written {
                    object: obj,
                    code: 201,
                });
            }
            match self
                .store
                .create(&res.key(ns, &name), codec::encode(&obj))
                .await
            {
                Ok(kv) => {
                    return Ok(Written {
                        object: as_written(obj, &kv),
                        code: 201,
                    });
                }
                Err(StoreError::AlreadyExists(_)) if attempt + 1 < attempts => release(self),
                Err(e) => {
                    release(self);
                    return Err(store_error(res, &name, e));
                }
            }
        }
        Err(ApiError::AlreadyExists(target(res, meta_str(&obj, "name"))))
    }

    /// Read-modify-write of one object with optimistic concurrency. `change` gets the current
    /// object (with its resourceVersion) and returns the desired one; a resourceVersion in the
    /// result that differs from the current one is a conflict.
    pub async fn update_with<F>(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        q: &Query,
        change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        self.update_as(res, ns, name, subresource, q, Ownership::Update, change)
            .await
    }

    /// [`AppState::update_with`], recording field ownership as `ownership` says.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_as<F>(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        q: &Query,
        ownership: Ownership,
        mut change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        for _ in 0..MAX_UPDATE_RETRIES {
            let kv = self.get_kv(res, ns, name).await?;
            let old = decode(&kv)?;
            let mut new = change(&old)?;
            let rv = meta_str(&new, "resourceVersion");
            if !rv.is_empty() && rv != kv.mod_revision.to_string() {
                return Err(store_error(
                    res,
                    name,
                    StoreError::Conflict {
                        key: kv.key.clone(),
                        expected: 0,
                        current: Box::new(kv.clone()),
                    },
                ));
            }
            let applied = new.pointer("/metadata/managedFields").cloned();
            self.prepare_update(res, ns, name, subresource, &old, &mut new)?;
            match ownership {
                Ownership::Update => {
                    fieldmanager::record_update(self, res, subresource, Some(&old), &mut new, q)
                }
                Ownership::Applied => {
                    let meta = meta_mut(&mut new);
                    match applied {
                        Some(m) => meta.insert("managedFields".into(), m),
                        None => meta.remove("managedFields"),
                    };
                }
            }
            // Removing the last finalizer of an object being deleted completes the deletion.
            if !meta_str(&new, "deletionTimestamp").is_empty()
                && finalizers(&new).is_empty()
                && !has_spec_finalizers(&new)
            {
                match self.remove(res, &kv, &new, q).await {
                    Err(StoreError::Conflict { .. }) => continue,
                    other => return other.map_err(|e| store_error(res, name, e)),
                }
            }
            if subresource.is_none() {
                self.admit_limits(res, ns, &mut new, Some(&old)).await?;
                self.admit_quota(res, ns, &new, Some(&old), q.dry_run)
                    .await?;
            }
            let holdings =
                if res.group.is_empty() && res.plural == "services" && subresource.is_none() {
                    let mut guard = self
                        .services
                        .lock()
                        .map_err(|_| ApiError::Internal("allocator lock poisoned".into()))?;
                    Some(
                        guard
                            .admit(&mut new, Some(&old))
                            .map_err(|errs| invalid(res, name, errs))?,
                    )
                } else {
                    None
                };
            let encoded = codec::encode(&new);
            if encoded[..] == kv.value[..] || q.dry_run {
                // No change: upstream does not write, and the resourceVersion stays (a dry run
                // answers with the current one, so `kubectl diff` shows no change of it).
                if q.dry_run {
                    meta_mut(&mut new)
                        .insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
                }
                return Ok(Written {
                    object: if q.dry_run { new } else { old },
                    code: 200,
                });
            }
            match self
                .store
                .update(&kv.key, encoded, Some(kv.mod_revision))
                .await
            {
                Ok(kv) => {
                    return Ok(Written {
                        object: as_written(new, &kv),
                        code: 200,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    if let (Some(_), Ok(mut g)) = (&holdings, self.services.lock()) {
                        // Undo this attempt's reservations; the next attempt re-admits.
                        g.release(&services::holdings(&new));
                        g.adopt(&old);
                    }
                    continue;
                }
                Err(e) => return Err(store_error(res, name, e)),
            }
        }
        Err(ApiError::Conflict {
            target: target(res, name),
            message: "too many concurrent updates, please retry".into(),
        })
    }

    /// Carry over what clients may not change, apply defaults, validate.
    fn prepare_update(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        old: &Value,
        new: &mut Value,
    ) -> Result<(), ApiError> {
        check_kind(res, new)?;
        let body_name = meta_str(new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        set_namespace(res, ns, new)?;
        match subresource {
            Some("status") => {
                // Status writes change status, and for built-in kinds also labels and
                // annotations: upstream's status strategies reset only the spec (custom
                // resources reset all metadata, ResetObjectMetaForStatus).
                let status = new.get("status").cloned();
                let body_meta = new.get("metadata").cloned().unwrap_or(json!({}));
                *new = old.clone();
                if let Some(obj) = new.as_object_mut() {
                    match status {
                        Some(s) => obj.insert("status".into(), s),
                        None => obj.remove("status"),
                    };
                }
                let meta = meta_mut(new);
                if self.crds.of(res).is_none() {
                    for f in ["labels", "annotations"] {
                        match body_meta.get(f) {
                            Some(v) => meta.insert(f.into(), v.clone()),
                            None => meta.remove(f),
                        };
                    }
                }
                meta.remove("resourceVersion");
            }
            Some("finalize") => {
                let fin = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(json!([]));
                *new = old.clone();
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("finalizers".into(), fin);
                }
                meta_mut(new).remove("resourceVersion");
            }
            _ => {
                let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
                let meta = meta_mut(new);
                meta.insert("name".into(), json!(name));
                for f in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "generateName",
                ] {
                    match old_meta.get(f) {
                        Some(v) => meta.insert(f.into(), v.clone()),
                        None => meta.remove(f),
                    };
                }
                meta.remove("resourceVersion");
                if res.status
                    && let Some(obj) = new.as_object_mut()
                {
                    match old.get("status") {
                        Some(s) => obj.insert("status".into(), s.clone()),
                        None => obj.remove("status"),
                    };
                }
                // An object being deleted may lose finalizers but not gain new ones.
                if !meta_str(old, "deletionTimestamp").is_empty() {
                    let before = finalizers(old);
                    if finalizers(new).iter().any(|f| !before.contains(f)) {
                        return Err(invalid(
                            res,
                            name,
                            vec![FieldError::forbidden(
                                "metadata.finalizers",
                                "no new finalizers can be added if the object is being deleted",
                            )],
                        ));
                    }
                }
            }
        }
        defaults::apply(res, new);
        self.admit_custom(res, new);
        if res.generation && !spec_equal(old, new) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta_mut(new).insert("generation".into(), json!(generation));
        }
        let mut errs = validation::validate_update(res, new, old);
        errs.extend(self.validate_custom(res, new));
        if !errs.is_empty() {
            return Err(invalid(res, name, errs));
        }
        Ok(())
    }

    /// Delete an object, honouring finalizers, graceful pod deletion and preconditions.
    pub async fn delete(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
        q: &Query,
    ) -> Result<Written, ApiError> {
        for _ in 0..MAX_UPDATE_RETRIES {
            let kv = self.get_kv(res, ns, name).await?;
            let mut obj = decode(&kv)?;
            if let Some(uid) = &opts.precondition_uid
                && uid != meta_str(&obj, "uid")
            {
                return Err(ApiError::Conflict {
                    target: target(res, name),
                    message: format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&obj, "uid")
                    ),
                });
            }
            if let Some(rv) = &opts.precondition_rv
                && *rv != kv.mod_revision.to_string()
            {
                return Err(ApiError::Conflict {
                    target: target(res, name),
                    message: format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        kv.mod_revision
                    ),
                });
            }
            let mut fins = finalizers(&obj);
            match opts.propagation_policy.as_deref() {
                Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                    fins.push("foregroundDeletion".into())
                }
                Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
                Some("Foreground" | "Orphan" | "Background") | None => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    )));
                }
            }
            let grace = graceful_seconds(res, &obj, opts.grace_period_seconds);
            let is_namespace = res.group.is_empty() && res.plural == "namespaces";
            let marked = !meta_str(&obj, "deletionTimestamp").is_empty();
            if !fins.is_empty() || grace > 0 || is_namespace && has_spec_finalizers(&obj) {
                // Mark for deletion; finalizers (or the kubelet) complete it.
                if marked && grace == 0 {
                    return Ok(Written {
                        object: obj,
                        code: opts.marked_code(),
                    });
                }
                let meta = meta_mut(&mut obj);
                if !marked {
                    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(grace);
                    meta.insert(
                        "deletionTimestamp".into(),
                        json!(crate::meta::format_time(at)),
                    );
                }
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                meta.insert("finalizers".into(), json!(fins));
                if fins.is_empty() {
                    meta.remove("finalizers");
                }
                meta.remove("resourceVersion");
                if is_namespace && let Some(o) = obj.as_object_mut() {
                    o.insert("status".into(), json!({"phase": "Terminating"}));
                }
                if q.dry_run {
                    return Ok(Written {
                        object: obj,
                        code: opts.marked_code(),
                    });
                }
                match self
                    .store
                    .update(&kv.key, codec::encode(&obj), Some(kv.mod_revision))
                    .await
                {
                    Ok(kv) => {
                        return Ok(Written {
                            object: decode(&kv)?,
                            code: opts.marked_code(),
                        });
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(res, name, e)),
                }
            }
            match self.remove(res, &kv, &obj, q).await {
                Err(StoreError::Conflict { .. }) => continue,
                other => return other.map_err(|e| store_error(res, name, e)),
            }
        }
        Err(ApiError::Conflict {
            target: target(res, name),
            message: "too many concurrent updates, please retry".into(),
        })
    }

    /// Custom resources: drop fields the schema does not declare, then apply its defaults.
    fn admit_custom(&self, res: &ResourceInfo, obj: &mut Value) {
        if let Some(cr) = self.crds.of(res)
            && let Some(schema) = &cr.schema
        {
            schema.prune(obj);
            schema.apply_defaults(obj);
        }
    }

    /// Custom resources: the schema's validation errors.
    fn validate_custom(&self, res: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
        match self.crds.of(res) {
            Some(cr) => cr
                .schema
                .as_ref()
                .map(|s| s.validate(obj))
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Remove an object from the store (if it is still at `kv`'s revision) and release what it
    /// held. Returns the object as it was when removed.
    async fn remove(
        &self,
        res: &ResourceInfo,
        kv: &KeyValue,
        obj: &Value,
        q: &Query,
    ) -> Result<Written, StoreError> {
        if !q.dry_run {
            self.store.delete(&kv.key, Some(kv.mod_revision)).await?;
            self.after_delete(res, obj);
        }
        Ok(Written {
            object: obj.clone(),
            code: 200,
        })
    }

    fn after_delete(&self, res: &ResourceInfo, obj: &Value) {
        if res.group.is_empty()
            && res.plural == "services"
            && let Ok(mut g) = self.services.lock()
        {
            g.release(&services::holdings(obj));
        }
    }
}

/// Delete options from the query and the DeleteOptions body.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    /// The deprecated `orphanDependents`; only `false` changes anything beyond the policy.
    pub orphan_dependents: Option<bool>,
}

impl DeleteOptions {
    /// Merge the query parameters with an optional `DeleteOptions` body (the body wins).
    pub fn from_request(q: &Query, body: Option<&Value>) -> Self {
        let mut o = DeleteOptions {
            propagation_policy: q.propagation_policy.clone(),
            grace_period_seconds: q.grace_period_seconds,
            ..Default::default()
        };
        if let Some(b) = body {
            if let Some(p) = b.get("propagationPolicy").and_then(Value::as_str) {
                o.propagation_policy = Some(p.to_string());
            }
            if let Some(g) = b.get("gracePeriodSeconds").and_then(Value::as_i64) {
                o.grace_period_seconds = Some(g);
            }
            o.orphan_dependents = b.get("orphanDependents").and_then(Value::as_bool);
            if o.orphan_dependents == Some(true) && o.propagation_policy.is_none() {
                o.propagation_policy = Some("Orphan".into());
            }
            o.precondition_uid = b
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.precondition_rv = b
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        o
    }

    /// The status of a delete that only marked the object: upstream answers 200, and 202 only
    /// when the client set `orphanDependents: false` (handlers/delete.go).
    fn marked_code(&self) -> u16 {
        if self.orphan_dependents == Some(false) {
            202
        } else {
            200
        }
    }
}

fn has_spec_finalizers(ns: &Value) -> bool {
    ns.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// Seconds of graceful deletion: only pods bound to a node wait for their kubelet.
fn graceful_seconds(res: &ResourceInfo, obj: &Value, requested: Option<i64>) -> i64 {
    if !(res.group.is_empty() && res.plural == "pods") {
        return 0;
    }
    let bound = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    let default = obj
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    requested.unwrap_or(default).max(0)
}

/// The object's apiVersion/kind must match the endpoint (when given).
fn check_kind(res: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != res.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the body ({kind}) does not match the kind of the resource ({})",
            res.kind
        )));
    }
    if !api_version.is_empty() && api_version != res.api_version() {
        // Another version of the same storage (autoscaling v1/v2) is accepted as is.
        let same_group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("") == res.group;
        if !same_group {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                res.api_version()
            )));
        }
    }
    Ok(())
}

/// Put the URL's namespace into the object (refusing a different one).
fn set_namespace(res: &ResourceInfo, ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
    let body_ns = meta_str(obj, "namespace").to_string();
    let meta = meta_mut(obj);
    match ns.filter(|_| res.namespaced) {
        Some(ns) => {
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta.insert("namespace".into(), json!(ns));
        }
        None => {
            if res.namespaced {
                return Err(ApiError::bad_request(format!(
                    "the namespace is required to create a {}",
                    res.kind
                )));
            }
            meta.remove("namespace");
        }
    }
    if let Some(obj) = obj.as_object_mut() {
        obj.insert("kind".into(), json!(res.kind));
        obj.insert("apiVersion".into(), json!(res.api_version()));
    }
    Ok(())
}

/// What upstream's PrepareForCreate does: reset status to its initial value.
fn prepare_create(res: &ResourceInfo, obj: &mut Value) {
    if !res.status {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let initial = match (res.group, res.plural) {
        ("", "pods") => json!({"phase": "Pending", "qosClass": qos_class(map.get("spec"))}),
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "persistentvolumeclaims" | "persistentvolumes") => json!({"phase": "Pending"}),
        // Nodes and CSRs are created by their owners with status; keep it.
        ("", "nodes") | ("certificates.k8s.io", _) => return,
        _ => json!({}),
    };
    map.insert("status".into(), initial);
}
