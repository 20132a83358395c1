//! Server-side field validation (KEP-2885): unknown and duplicate fields of a request body.
//!
//! Unknown fields are always dropped from the object (upstream decodes into typed structs, or
//! prunes a custom resource by its CRD schema);
//! the `fieldValidation` query parameter decides what the client hears: `Strict` → 400
//! BadRequest naming every field, `Warn` (the default) → one `Warning: 299` header per field,
//! `Ignore` → nothing.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use k3rs_api::registry::ResourceInfo;
use k3rs_api::schema;
use k3rs_api::status::ApiError;
use serde_json::Value;

use crate::crds::CustomResources;
use crate::query::Query;

/// The `fieldValidation` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Ignore,
    Warn,
    Strict,
}

impl Directive {
    /// From the query; upstream's default (unset or empty) is `Warn`.
    pub fn from_query(q: &Query) -> Self {
        match q.field_validation.as_deref() {
            Some("Ignore") => Directive::Ignore,
            Some("Strict") => Directive::Strict,
            _ => Directive::Warn,
        }
    }
}

/// What a body is: a whole object (create, update) or the result of a patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Object,
    Patch,
}

/// Drop the unknown fields of `obj` (an object of `res`), find duplicate keys in `raw` (the
/// JSON text of the body or patch, when it is JSON), and report them per `directive`: the
/// warnings to send, or the Strict error. A custom resource's unknown fields are those its
/// CRD schema prunes (none without a schema); a built-in's those its typed struct lacks.
pub fn check(
    crds: &CustomResources,
    res: &ResourceInfo,
    directive: Directive,
    source: Source,
    obj: &mut Value,
    raw: Option<&[u8]>,
) -> Result<Vec<String>, ApiError> {
    let unknown = match crds.of(res) {
        Some(cr) => cr
            .schema
            .as_ref()
            .map(|s| s.prune_unknown(obj))
            .unwrap_or_default(),
        None => schema::prune_unknown(res.into(), obj),
    };
    if directive == Directive::Ignore {
        return Ok(Vec::new());
    }
    let duplicates = raw.map(schema::duplicate_fields).unwrap_or_default();
    let problems: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .chain(
            duplicates
                .iter()
                .map(|p| format!("duplicate field \"{p}\"")),
        )
        .collect();
    if directive == Directive::Warn || problems.is_empty() {
        return Ok(problems);
    }
    let detail = format!("strict decoding error: {}", problems.join(", "));
    Err(ApiError::bad_request(match source {
        Source::Object => format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}",
            kind = res.kind,
            version = res.version
        ),
        Source::Patch => detail,
    }))
}

/// Whether a request body's media type is JSON (duplicate keys are only looked for there).
pub fn is_json(content_type: &str) -> bool {
    matches!(
        content_type,
        "" | "application/json"
            | "*/*"
            | "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
    )
}

/// Add `Warning: 299 - "<text>"` headers, as upstream's warning recorder writes them.
pub fn add_warnings(response: &mut Response, warnings: &[String]) {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
}
