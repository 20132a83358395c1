//! Field ownership on the write path (`metadata.managedFields`) and server-side apply
//! (`PATCH` with `application/apply-patch+yaml`), over the pure core in `k3rs_api::managed`.
//!
//! Every create and update records an Update operation for its manager — `?fieldManager=`,
//! else the program name of the User-Agent (upstream `managerOrUserAgent`), else `k3rs` for
//! in-process writers. An apply merges the configuration into the live object (or creates it)
//! and records an Apply operation; the object then takes the ordinary create/update path
//! (defaults, admission, validation, dry-run) in [`crate::ops`].

use k3rs_api::managed::{self, ApplyError, Context, Managed, ObjectType, Set, Writer};
use k3rs_api::registry::ResourceInfo;
use k3rs_api::schema::{self, Gvk};
use k3rs_api::status::{ApiError, FieldError, Target};
use serde_json::{Value, json};

use crate::fieldvalidation::{Directive, add_warnings};
use crate::meta::now_rfc3339;
use crate::ops::{Ownership, Written};
use crate::query::Query;
use crate::state::AppState;

/// The manager of an Update without `fieldManager` and without User-Agent (in-process writes).
pub const IN_PROCESS_MANAGER: &str = "k3rs";

/// The manager an Update is recorded for.
pub fn manager_of(q: &Query) -> String {
    match (&q.field_manager, &q.user_agent) {
        (Some(m), _) if !m.is_empty() => m.clone(),
        (_, Some(ua)) => managed::manager_from_user_agent(ua),
        _ => IN_PROCESS_MANAGER.to_string(),
    }
}

/// The fields an endpoint resets, which ownership through it ignores: `status` on the main
/// resource of kinds with a status subresource; on `status`, everything but status (spec, and
/// for custom resources metadata too, which their status strategy resets).
fn ignored_fields(state: &AppState, res: &ResourceInfo, subresource: Option<&str>) -> Set {
    match subresource {
        None if res.status => managed::top_level_fields(&["status"]),
        Some("status") if state.crds.of(res).is_some() => {
            managed::top_level_fields(&["spec", "metadata"])
        }
        Some("status") => managed::top_level_fields(&["spec"]),
        _ => Set::new(),
    }
}

/// Run `f` with the object type of `res` (the CRD schema stays borrowed meanwhile).
fn with_type<R>(state: &AppState, res: &ResourceInfo, f: impl FnOnce(ObjectType<'_>) -> R) -> R {
    match state.crds.of(res) {
        Some(cr) => f(ObjectType::Custom(cr.schema.as_ref())),
        None => match schema::kind_type(Gvk::from(res)) {
            Some(def) => f(ObjectType::Builtin(def)),
            None => f(ObjectType::Custom(None)),
        },
    }
}

/// Record an Update operation: `old` is the live object (None for a create), `new` the object
/// about to be stored, carrying the `managedFields` the client sent (if any). On failure the
/// live entries are kept, as upstream's `UpdateNoErrors` does.
pub fn record_update(
    state: &AppState,
    res: &ResourceInfo,
    subresource: Option<&str>,
    old: Option<&Value>,
    new: &mut Value,
    q: &Query,
) {
    let empty = json!({});
    let old = old.unwrap_or(&empty);
    let start = managed::request_managed(old, new, subresource);
    let manager = manager_of(q);
    let api_version = res.api_version();
    let writer = Writer {
        manager: &manager,
        api_version: &api_version,
        subresource,
    };
    let ignored = ignored_fields(state, res, subresource);
    let now = now_rfc3339();
    let result = with_type(state, res, |object_type| {
        let ctx = Context {
            object_type,
            ignored: &ignored,
            now: &now,
        };
        managed::update(&ctx, &start, &writer, old, new)
    });
    match result {
        Ok(m) => m.write_to(new),
        Err(e) => {
            tracing::debug!("managedFields not updated: {e}");
            let live = old.pointer("/metadata/managedFields").cloned();
            if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                match live {
                    Some(v) => meta.insert("managedFields".into(), v),
                    None => meta.remove("managedFields"),
                };
            }
        }
    }
}

fn patch_options_invalid(causes: Vec<FieldError>) -> ApiError {
    ApiError::Invalid {
        target: Target::new("meta.k8s.io", "PatchOptions", ""),
        causes,
    }
}

/// Validate `fieldManager` (length, printable) and, for apply patches, that it is set; for
/// other patches, that `force` is not (upstream `ValidatePatchOptions`).
pub fn validate_patch_options(q: &Query, apply: bool) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let fm = q.field_manager.as_deref().unwrap_or("");
    if apply {
        if fm.is_empty() {
            causes.push(FieldError::required(
                "fieldManager",
                "is required for apply patch",
            ));
        }
    } else if q.force.is_some() {
        causes.push(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    if fm.len() > managed::FIELD_MANAGER_MAX_LENGTH {
        causes.push(FieldError::too_long(
            "fieldManager",
            fm,
            managed::FIELD_MANAGER_MAX_LENGTH,
        ));
    }
    for (i, c) in fm.chars().enumerate() {
        if c.is_control() {
            causes.push(FieldError::invalid(
                "fieldManager",
                fm,
                format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(patch_options_invalid(causes))
    }
}

/// Decode and check an applied configuration: a YAML (or JSON) object of the endpoint's kind
/// and version, without `managedFields`, naming the object of the URL, and without fields the
/// schema does not declare. Returns it with the warnings to send.
fn decode_config(
    state: &AppState,
    res: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    q: &Query,
    body: &[u8],
) -> Result<(Value, Vec<String>), ApiError> {
    let config: Value = serde_saphyr::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply patch must be an object",
        ));
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let version = s(&config, "apiVersion");
    if version != res.api_version() {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            res.api_version()
        )));
    }
    let kind = s(&config, "kind");
    if kind != res.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the apply patch ({kind}) does not match the kind of the resource ({})",
            res.kind
        )));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let body_name = config
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    // Fields the schema does not declare cannot be owned: upstream's typed conversion of the
    // configuration refuses them (whatever fieldValidation says).
    let unknown = match state.crds.of(res) {
        Some(cr) => match &cr.schema {
            Some(schema) => schema.prune_unknown(&mut config.clone()),
            None => Vec::new(),
        },
        None => schema::unknown_fields(Gvk::from(res), &config),
    };
    if !unknown.is_empty() {
        let errs: Vec<String> = unknown
            .iter()
            .map(|p| format!(".{p}: field not declared in schema"))
            .collect();
        let detail = if errs.len() == 1 {
            errs[0].clone()
        } else {
            format!("errors:\n  {}", errs.join("\n  "))
        };
        return Err(ApiError::bad_request(format!(
            "failed to create typed patch object ({}/{name}; {}, Kind={}): {detail}",
            ns.unwrap_or(""),
            res.api_version(),
            res.kind
        )));
    }
    let mut warnings = Vec::new();
    let directive = Directive::from_query(q);
    if directive != Directive::Ignore && body.first() == Some(&b'{') {
        let dups = schema::duplicate_fields(body);
        if !dups.is_empty() {
            let problems: Vec<String> = dups
                .iter()
                .map(|p| format!("duplicate field \"{p}\""))
                .collect();
            if directive == Directive::Strict {
                return Err(ApiError::bad_request(format!(
                    "error strict decoding YAML: {}",
                    problems.join(", ")
                )));
            }
            warnings = problems;
        }
    }
    Ok((config, warnings))
}

fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(c) => ApiError::ApplyConflict {
            message: c.message(),
            causes: c.causes(),
        },
        ApplyError::Invalid(e) => ApiError::bad_request(e.to_string()),
    }
}

/// Merge `config` into `live` for `q.fieldManager` and write the new entries into the result.
fn apply_to(
    state: &AppState,
    res: &ResourceInfo,
    subresource: Option<&str>,
    q: &Query,
    live: &Value,
    config: &Value,
) -> Result<Value, ApiError> {
    let manager = q.field_manager.clone().unwrap_or_default();
    let api_version = res.api_version();
    let writer = Writer {
        manager: &manager,
        api_version: &api_version,
        subresource,
    };
    let ignored = ignored_fields(state, res, subresource);
    let now = now_rfc3339();
    let current = Managed::decode(live.pointer("/metadata/managedFields"))
        .map_err(|e| ApiError::Internal(format!("failed to decode managed fields: {e}")))?;
    let (mut merged, entries) = with_type(state, res, |object_type| {
        let ctx = Context {
            object_type,
            ignored: &ignored,
            now: &now,
        };
        managed::apply(&ctx, &current, &writer, live, config, q.force == Some(true))
    })
    .map_err(apply_error)?;
    if !merged.is_object() {
        return Err(ApiError::bad_request("the apply patch must be an object"));
    }
    entries.write_to(&mut merged);
    Ok(merged)
}

/// `PATCH` with `application/apply-patch+yaml`: apply to the object, or create it when it
/// does not exist (main resource only).
pub async fn apply_patch(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    q: &Query,
    body: &[u8],
) -> Result<axum::response::Response, ApiError> {
    validate_patch_options(q, true)?;
    if subresource.is_some_and(|s| s != "status") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "server-side apply is not supported for the {} subresource",
            subresource.unwrap_or("")
        )));
    }
    let (config, warnings) = decode_config(state, res, ns, name, q, body)?;
    let mut last_err = None;
    for _ in 0..3 {
        let updated = state
            .update_as(res, ns, name, subresource, q, Ownership::Applied, |live| {
                apply_to(state, res, subresource, q, live, &config)
            })
            .await;
        let w = match updated {
            Err(ApiError::NotFound(_)) if subresource.is_none() => {
                let obj = apply_to(state, res, None, q, &json!({}), &config)?;
                match state.create_as(res, ns, obj, q, Ownership::Applied).await {
                    Err(e @ ApiError::AlreadyExists(_)) => {
                        last_err = Some(e);
                        continue;
                    }
                    other => other?,
                }
            }
            other => other?,
        };
        let mut resp = written_response(w);
        add_warnings(&mut resp, &warnings);
        return Ok(resp);
    }
    Err(last_err.unwrap_or_else(|| ApiError::Internal("apply did not converge".into())))
}

fn written_response(w: Written) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    let mut r = axum::response::Response::new(axum::body::Body::from(
        serde_json::to_vec(&w.object).unwrap_or_default(),
    ));
    *r.status_mut() = StatusCode::from_u16(w.code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
