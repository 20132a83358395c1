//! Alternate representations negotiated through `Accept` (upstream
//! `handlers/response.go`, `negotiation`): `application/json;as=Table;g=meta.k8s.io;v=v1`
//! (or `v1beta1`) answers a `Table` with the printer columns of `k3rs_api::table`,
//! `as=PartialObjectMetadata` / `as=PartialObjectMetadataList` only the objects' metadata.
//! Gets, lists and watches are converted; a watch converts every event's object, with the
//! column definitions in the first event only.
//!
//! As upstream, the response `Content-Type` is the serializer's (`application/json`); the
//! conversion is visible in the body's `kind`/`apiVersion`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::ApiError;
use k3rs_api::table;
use k3rs_store::KeyValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::codec;
use crate::ops::ListPage;

/// The representation a client asked for instead of the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `meta.k8s.io` `Table`.
    Table,
    /// `PartialObjectMetadata` (single objects and watch events).
    PartialObjectMetadata,
    /// `PartialObjectMetadataList` (lists).
    PartialObjectMetadataList,
}

/// What `includeObject` asks a Table row to carry (`metav1.IncludeObjectPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    /// The default: the object's `PartialObjectMetadata`.
    Metadata,
    Object,
}

/// A negotiated conversion: which kind, in which `meta.k8s.io` version, with which options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    pub kind: Kind,
    /// `v1` or `v1beta1`.
    pub version: &'static str,
    pub include_object: IncludeObject,
    /// A custom resource's `additionalPrinterColumns` (None for built-in kinds).
    pub printer_columns: Option<std::sync::Arc<[Value]>>,
}

/// One `Accept` clause: media type, parameters and quality.
struct Clause<'a> {
    media: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f32,
}

fn parse_accept(accept: &str) -> Vec<Clause<'_>> {
    let mut clauses: Vec<Clause> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim();
            if media.is_empty() {
                return None;
            }
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in pieces {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k == "q" {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(Clause { media, params, q })
        })
        .collect();
    // goautoneg: by quality, then specific types before wildcards (stable otherwise).
    clauses.sort_by(|a, b| {
        let wild = |c: &Clause| {
            let (t, s) = c.media.split_once('/').unwrap_or((c.media, ""));
            (t == "*") as u8 + (s == "*") as u8
        };
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(wild(a).cmp(&wild(b)))
    });
    clauses
}

/// The JSON serializer answers these media types.
fn is_json(media: &str) -> bool {
    matches!(media, "application/json" | "application/*" | "*/*")
}

/// Negotiate the representation of a get, list or watch from `Accept` and the query
/// (`includeObject`), as upstream `NegotiateOutputMediaType` with the endpoint restrictions
/// of a resource (`as=Table|PartialObjectMetadata|PartialObjectMetadataList`, `g=meta.k8s.io`,
/// `v=v1|v1beta1`). `Ok(None)` is the object itself; a header whose only acceptable clauses
/// ask for unknown conversions is a 406.
pub fn negotiate(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Conversion>, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()) else {
        return Ok(None);
    };
    let mut asked_conversion = false;
    for clause in parse_accept(accept) {
        let (mut kind, mut group, mut version) = (None, None, None);
        for (k, v) in &clause.params {
            match *k {
                "as" => kind = Some(*v),
                "g" => group = Some(*v),
                "v" => version = Some(*v),
                _ => {}
            }
        }
        if kind.is_none() && group.is_none() && version.is_none() {
            // A plain clause: the object itself, if the media type is one we serve.
            if is_json(clause.media) || clause.media == "application/yaml" {
                return Ok(None);
            }
            continue;
        }
        asked_conversion = true;
        if !is_json(clause.media) || group != Some("meta.k8s.io") {
            continue;
        }
        let version = match version {
            Some("v1") => "v1",
            Some("v1beta1") => "v1beta1",
            _ => continue,
        };
        let kind = match kind {
            Some("Table") => Kind::Table,
            Some("PartialObjectMetadata") => Kind::PartialObjectMetadata,
            Some("PartialObjectMetadataList") => Kind::PartialObjectMetadataList,
            _ => continue,
        };
        let include_object = if kind == Kind::Table {
            include_object(query)?
        } else {
            IncludeObject::Metadata
        };
        return Ok(Some(Conversion {
            kind,
            version,
            include_object,
            printer_columns: None,
        }));
    }
    if asked_conversion {
        return Err(ApiError::NotAcceptable(
            "only the following media types are accepted: application/json, application/yaml"
                .to_string(),
        ));
    }
    Ok(None)
}

/// `includeObject` of the query (upstream `TableOptions`, validated as upstream does).
fn include_object(query: Option<&str>) -> Result<IncludeObject, ApiError> {
    let pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let value = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "includeObject")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    match value {
        "" | "Metadata" => Ok(IncludeObject::Metadata),
        "None" => Ok(IncludeObject::None),
        "Object" => Ok(IncludeObject::Object),
        other => Err(ApiError::bad_request(format!(
            "Unable to convert to Table as requested: includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
        ))),
    }
}

/// Go's `%T` of upstream's internal type, for the 406 messages (`*core.Pod`, `*apps.DeploymentList`).
fn go_type(res: &ResourceInfo, list: bool) -> String {
    let pkg = if res.group.is_empty() {
        "core"
    } else {
        res.group.split('.').next().unwrap_or(res.group)
    };
    format!("*{pkg}.{}{}", res.kind, if list { "List" } else { "" })
}

fn json_bytes_response(body: Vec<u8>) -> Result<Response, ApiError> {
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .body(Body::from(body))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    codec::decode(&kv.value, kv.mod_revision)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", kv.key)))
}

/// A `Table`: kind, apiVersion, metadata, columnDefinitions (`null` without headers, as
/// upstream), rows (`null` when the default convertor found none, as upstream).
fn table_json(
    res: &ResourceInfo,
    conv: &Conversion,
    objects: &[Value],
    resource_version: &str,
    continue_token: Option<&str>,
    headers: bool,
    now: OffsetDateTime,
) -> Value {
    let mut meta = Map::new();
    if !resource_version.is_empty() {
        meta.insert("resourceVersion".into(), Value::from(resource_version));
    }
    if let Some(token) = continue_token {
        meta.insert("continue".into(), Value::from(token));
    }
    let columns = if !headers {
        Value::Null
    } else if let Some(custom) = &conv.printer_columns {
        Value::Array(custom_column_definitions(custom))
    } else {
        Value::Array(
            table::columns(res)
                .iter()
                .map(table::ColumnDefinition::to_json)
                .collect(),
        )
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = Map::new();
            let cells = match &conv.printer_columns {
                Some(custom) => custom_cells(custom, obj),
                None => table::row(res, obj, now),
            };
            row.insert("cells".into(), Value::Array(cells));
            if let Some(conditions) = table::row_conditions(res, obj) {
                row.insert("conditions".into(), conditions);
            }
            let initial_events_end = obj
                .pointer("/metadata/annotations/k8s.io~1initial-events-end")
                .is_some();
            let object = match conv.include_object {
                IncludeObject::Object if !initial_events_end => obj.clone(),
                IncludeObject::None => Value::Null,
                _ => table::partial_object_metadata(obj, conv.version),
            };
            row.insert("object".into(), object);
            Value::Object(row)
        })
        .collect();
    let rows = if rows.is_empty() && !table::has_printer(res) {
        Value::Null
    } else {
        Value::Array(rows)
    };
    let mut out = Map::new();
    out.insert("kind".into(), Value::from("Table"));
    out.insert(
        "apiVersion".into(),
        Value::from(format!("meta.k8s.io/{}", conv.version)),
    );
    out.insert("metadata".into(), Value::Object(meta));
    out.insert("columnDefinitions".into(), columns);
    out.insert("rows".into(), rows);
    Value::Object(out)
}

/// The columns of a custom resource: Name, then its printer columns (Age when it declares none,
/// as upstream's CRD defaulting adds).
fn custom_column_definitions(columns: &[Value]) -> Vec<Value> {
    let mut out = vec![serde_json::json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    if columns.is_empty() {
        out.push(serde_json::json!({
            "name": "Age", "type": "date", "format": "", "priority": 0,
            "description": "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
        }));
    }
    for c in columns {
        let field = |k: &str| c.get(k).cloned().unwrap_or(Value::from(""));
        out.push(serde_json::json!({
            "name": field("name"),
            "type": field("type"),
            "format": field("format"),
            "description": c.get("description").cloned().unwrap_or_else(|| Value::from(format!(
                "Custom resource definition column (in JSONPath format): {}",
                c.get("jsonPath").and_then(Value::as_str).unwrap_or("")
            ))),
            "priority": c.get("priority").cloned().unwrap_or(Value::from(0)),
        }));
    }
    out
}

/// The cells of a custom object: its name, then each printer column's JSONPath value.
fn custom_cells(columns: &[Value], obj: &Value) -> Vec<Value> {
    let mut cells = vec![
        obj.pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
    ];
    if columns.is_empty() {
        cells.push(
            obj.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    for c in columns {
        let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
        cells.push(k3rs_api::crd::json_path(obj, path).unwrap_or(Value::Null));
    }
    cells
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn resource_version(obj: &Value) -> &str {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// One object (GET) in the negotiated representation.
pub fn object(res: &ResourceInfo, conv: &Conversion, kv: &KeyValue) -> Result<Response, ApiError> {
    let obj = decode(kv)?;
    let out = match conv.kind {
        Kind::Table => table_json(
            res,
            conv,
            std::slice::from_ref(&obj),
            resource_version(&obj),
            None,
            true,
            OffsetDateTime::now_utc(),
        ),
        Kind::PartialObjectMetadata => table::partial_object_metadata(&obj, conv.version),
        Kind::PartialObjectMetadataList => {
            return Err(ApiError::NotAcceptable(format!(
                "you requested PartialObjectMetadataList, but the requested object is not a list ({})",
                go_type(res, false)
            )));
        }
    };
    json_bytes_response(to_bytes(&out))
}

/// A list page (LIST) in the negotiated representation.
pub fn list(res: &ResourceInfo, conv: &Conversion, page: &ListPage) -> Result<Response, ApiError> {
    let items = page
        .items
        .iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    let rv = page.revision.to_string();
    let token = page.continue_token.as_deref();
    let out = match conv.kind {
        Kind::Table => table_json(
            res,
            conv,
            &items,
            &rv,
            token,
            true,
            OffsetDateTime::now_utc(),
        ),
        Kind::PartialObjectMetadataList => {
            let mut meta = Map::new();
            meta.insert("resourceVersion".into(), Value::from(rv));
            if let Some(token) = token {
                meta.insert("continue".into(), Value::from(token));
            }
            let partial: Vec<Value> = items
                .iter()
                .map(|o| table::partial_object_metadata(o, conv.version))
                .collect();
            let mut out = Map::new();
            out.insert("kind".into(), Value::from("PartialObjectMetadataList"));
            out.insert(
                "apiVersion".into(),
                Value::from(format!("meta.k8s.io/{}", conv.version)),
            );
            out.insert("metadata".into(), Value::Object(meta));
            // Upstream's list type has no omitempty: an empty list encodes `null`.
            out.insert(
                "items".into(),
                if partial.is_empty() {
                    Value::Null
                } else {
                    Value::Array(partial)
                },
            );
            Value::Object(out)
        }
        Kind::PartialObjectMetadata => {
            return Err(ApiError::NotAcceptable(format!(
                "you requested PartialObjectMetadata, but the requested object is a list ({})",
                go_type(res, true)
            )));
        }
    };
    json_bytes_response(to_bytes(&out))
}

/// Rewrites a watch stream's `{"type":…,"object":…}` lines: each object becomes a one-row
/// Table (column definitions only in the first event) or its PartialObjectMetadata. ERROR
/// events (Status objects) pass unchanged, as upstream.
struct WatchConverter {
    res: &'static ResourceInfo,
    conv: Conversion,
    headers_sent: bool,
    pending: Vec<u8>,
}

impl WatchConverter {
    fn convert_line(&mut self, line: &[u8]) -> Vec<u8> {
        let Ok(mut event) = serde_json::from_slice::<Value>(line) else {
            return line.to_vec();
        };
        let headers = !self.headers_sent;
        self.headers_sent = true;
        let is_status = event.pointer("/object/kind").and_then(Value::as_str) == Some("Status");
        if !is_status && let Some(obj) = event.get_mut("object") {
            let converted = match self.conv.kind {
                Kind::Table => Some(table_json(
                    self.res,
                    &self.conv,
                    std::slice::from_ref(obj),
                    resource_version(obj),
                    None,
                    headers,
                    OffsetDateTime::now_utc(),
                )),
                Kind::PartialObjectMetadata => {
                    Some(table::partial_object_metadata(obj, self.conv.version))
                }
                // Upstream fails the transformation and sends the object as it is.
                Kind::PartialObjectMetadataList => None,
            };
            if let Some(c) = converted {
                *obj = c;
            }
        }
        // `{"type":…,"object":…}` in upstream's key order.
        let mut out = Vec::with_capacity(line.len() + 256);
        out.extend_from_slice(b"{\"type\":");
        out.extend_from_slice(&to_bytes(event.get("type").unwrap_or(&Value::Null)));
        out.extend_from_slice(b",\"object\":");
        out.extend_from_slice(&to_bytes(event.get("object").unwrap_or(&Value::Null)));
        out.push(b'}');
        out
    }

    fn push(&mut self, chunk: &[u8]) -> Bytes {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            let line = &line[..line.len() - 1];
            if line.is_empty() {
                continue;
            }
            out.extend_from_slice(&self.convert_line(line));
            out.push(b'\n');
        }
        Bytes::from(out)
    }
}

/// A watch response with every event converted.
pub fn watch(res: &'static ResourceInfo, conv: Conversion, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let mut converter = WatchConverter {
        res,
        conv,
        headers_sent: false,
        pending: Vec::new(),
    };
    let stream = body
        .into_data_stream()
        .map(move |chunk| chunk.map(|b| converter.push(&b)))
        .filter(|chunk| futures_util::future::ready(!matches!(chunk, Ok(b) if b.is_empty())));
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests;
