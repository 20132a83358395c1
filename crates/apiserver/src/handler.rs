//! The HTTP entry point: decode → authenticate → authorize → dispatch → encode.
//! Every request, resource or not, goes through [`handle`].

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use k3rs_api::registry::ResourceInfo;
use k3rs_api::status::{ApiError, Target as ErrTarget, success_status};
use serde_json::{Value, json};

use crate::authn::{Caller, ConnectionIdentity, User, authenticate};
use crate::authz;
use crate::discovery::Flavor;
use crate::fieldvalidation::{self, Directive, Source};
use crate::ops::{DeleteOptions, Written};
use crate::query::Query;
use crate::request::{ResourceRequest, Target, Verb, resolve};
use crate::state::AppState;
use crate::{scale, watch};

/// Upstream's request body limit (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

fn json_response(code: u16, body: impl Into<Body>, content_type: &'static str) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn value_response(code: u16, v: &Value) -> Response {
    json_response(
        code,
        serde_json::to_vec(v).unwrap_or_default(),
        "application/json",
    )
}

/// A Status error as an HTTP response.
pub fn error_response(err: &ApiError) -> Response {
    json_response(
        err.code(),
        serde_json::to_vec(&err.to_status()).unwrap_or_default(),
        "application/json",
    )
}

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    let mut r = Response::new(Body::from(body.into()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Axum handler for every path.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let mut query = match Query::parse(req.uri().query()) {
        Ok(q) => q,
        Err(e) => return error_response(&e),
    };
    query.user_agent = Some(
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string(),
    );
    let target = resolve(req.method(), &path, query.watch);
    let caller = authenticate(
        req.extensions().get::<ConnectionIdentity>(),
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        &state.config.tokens,
    );
    if !authz::allowed(&caller, &path, &target) {
        let err = match caller {
            Caller::User(u) => ApiError::Forbidden(format!(
                "forbidden: User {:?} cannot access path {path:?}",
                u.name
            )),
            _ => ApiError::Unauthorized("Unauthorized".into()),
        };
        return error_response(&err);
    }
    let mut req = req;
    if let Caller::User(user) = &caller {
        req.extensions_mut().insert(user.clone());
    }
    let (verb, resource) = match &target {
        Target::Resource(r) => (r.verb.as_str().to_string(), r.resource.clone()),
        Target::NonResource => (req.method().as_str().to_lowercase(), String::new()),
    };
    if let Some((node, tail)) = crate::node_proxy::node_proxy_target(&path) {
        let proxied = crate::node_proxy::node_proxy(state.clone(), req, node, &tail).await;
        return proxied.unwrap_or_else(|e| error_response(&e));
    }
    let response = match target {
        Target::NonResource => non_resource(&state, req, &path, &query).await,
        Target::Resource(r) => match resource_request(state.clone(), req, r, query).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        },
    };
    if !matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/metrics"
    ) {
        state.metrics.observe(
            &verb,
            &resource,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    response
}

async fn non_resource(state: &AppState, req: Request, path: &str, q: &Query) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error_response(&ApiError::MethodNotAllowed(
            "the server does not allow this method on the requested resource".to_string(),
        ));
    }
    if crate::openapi::OpenApi::handles(path) {
        return state
            .openapi
            .serve(path, req.uri().query(), req.headers())
            .await;
    }
    match path {
        "/version" | "/version/" => json_response(200, state.version.clone(), "application/json"),
        "/healthz" | "/livez" | "/readyz" => health(state, path, q).await,
        "/metrics" => text(StatusCode::OK, state.metrics.render()),
        "/cacerts" => text(StatusCode::OK, state.config.ca_pem.clone()),
        _ => {
            let flavor = Flavor::from_accept(
                req.headers()
                    .get(header::ACCEPT)
                    .and_then(|h| h.to_str().ok()),
            );
            match state.discovery().get(path, flavor) {
                Some((ct, body)) => {
                    let mut r = json_response(200, body, ct);
                    r.headers_mut()
                        .insert(header::VARY, HeaderValue::from_static("Accept"));
                    r
                }
                None => error_response(&ApiError::NotFound(ErrTarget::default())),
            }
        }
    }
}

async fn health(state: &AppState, path: &str, q: &Query) -> Response {
    let store_ok = state.store.get("/registry/health").await.is_ok();
    let name = path.trim_start_matches('/');
    let checks = [
        ("ping", true),
        ("log", true),
        ("etcd", store_ok),
        ("poststarthook/bootstrap", true),
    ];
    let ok = checks.iter().all(|(_, ok)| *ok);
    if q.verbose {
        let mut out = String::new();
        for (n, ok) in checks {
            out.push_str(&format!(
                "[{}]{n} {}\n",
                if ok { "+" } else { "-" },
                if ok { "ok" } else { "failed: reason withheld" }
            ));
        }
        out.push_str(&format!(
            "{name} check {}\n",
            if ok { "passed" } else { "failed" }
        ));
        text(
            if ok {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            },
            out,
        )
    } else if ok {
        text(StatusCode::OK, "ok")
    } else {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[-]etcd failed: reason withheld\n{name} check failed"),
        )
    }
}

/// Check the client accepts JSON.
fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()) else {
        return Ok(());
    };
    let ok = accept.split(',').any(|r| {
        let media = r.split(';').next().unwrap_or("").trim();
        matches!(
            media,
            "" | "*/*"
                | "application/*"
                | "application/json"
                | "application/yaml"
                | "application/json-patch+json"
        )
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable(
            "only the following media types are accepted: application/json, application/yaml"
                .to_string(),
        ))
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(|s| {
            s.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Bodies past the limit are still drained up to this size, so the client reads our 413
/// instead of a broken connection.
const DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let too_large = || {
        ApiError::RequestEntityTooLarge(format!(
            "Request entity too large: limit is {MAX_BODY_BYTES}"
        ))
    };
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY_BYTES {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT_BYTES {
                return Err(too_large());
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(buf.freeze())
}

/// Decode a JSON or YAML object body.
pub fn decode_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = match content_type {
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_saphyr::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?
        }
        "application/vnd.kubernetes.protobuf" => k3rs_api::protobuf::decode_object(body)
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}")))?,
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other:?})"
            )));
        }
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    Ok(v)
}

fn written(w: Written) -> Response {
    value_response(w.code, &w.object)
}

async fn resource_request(
    state: Arc<AppState>,
    req: Request,
    r: ResourceRequest,
    q: Query,
) -> Result<Response, ApiError> {
    let res: &'static ResourceInfo = state
        .resource(&r.group, &r.version, &r.resource)
        .ok_or_else(|| ApiError::NotFound(ErrTarget::default()))?;
    check_accept(req.headers())?;
    let ns = r.namespace.as_deref().filter(|_| res.namespaced);
    if res.namespaced && r.namespace.is_none() && !matches!(r.verb, Verb::List | Verb::Watch) {
        return Err(ApiError::NotFound(ErrTarget::default()));
    }
    if !res.namespaced && r.namespace.is_some() {
        return Err(ApiError::NotFound(ErrTarget::default()));
    }
    // Routes upstream does not register answer 405: POST to an object, PUT/PATCH to a
    // collection, and verbs the resource does not support (e.g. deletecollection of namespaces).
    let named_verb = matches!(r.verb, Verb::Update | Verb::Patch);
    let bad_route = (r.verb == Verb::Create && r.name.is_some() && r.subresource.is_none())
        || (named_verb && r.name.is_none())
        || (r.subresource.is_none() && !res.verbs.contains(&r.verb.as_str()));
    if bad_route {
        return Err(ApiError::MethodNotAllowed(
            "the server does not allow this method on the requested resource".to_string(),
        ));
    }
    let name = r.name.as_deref().unwrap_or("");
    let sub = r.subresource.as_deref();
    match sub {
        None => {}
        Some("status")
            if res.status && matches!(r.verb, Verb::Get | Verb::Update | Verb::Patch) => {}
        Some("scale") if res.scale && matches!(r.verb, Verb::Get | Verb::Update | Verb::Patch) => {}
        Some("binding")
            if res.group.is_empty() && res.plural == "pods" && r.verb == Verb::Create => {}
        Some("eviction")
            if res.group.is_empty() && res.plural == "pods" && r.verb == Verb::Create => {}
        Some("finalize")
            if res.group.is_empty() && res.plural == "namespaces" && r.verb == Verb::Update => {}
        Some(s)
            if res.group.is_empty()
                && res.plural == "pods"
                && crate::node_proxy::POD_SUBRESOURCES.contains(&s) =>
        {
            let ns = ns.unwrap_or_default();
            return crate::node_proxy::pod_subresource(state.clone(), req, res, ns, name, s).await;
        }
        Some("token") if res.group.is_empty() && res.plural == "serviceaccounts" => {
            return Err(ApiError::NotServed(
                "serviceaccounts/token (TokenRequest) is not served yet: service account tokens arrive with RBAC".into(),
            ));
        }
        Some(_) => return Err(ApiError::NotFound(ErrTarget::default())),
    }
    let ct = content_type(req.headers());
    // `Accept: …;as=Table|PartialObjectMetadata[List]` on reads (see table.rs).
    let conversion = match r.verb {
        Verb::Get | Verb::List | Verb::Watch => {
            crate::table::negotiate(req.headers(), req.uri().query())?.map(|mut conv| {
                conv.printer_columns = state
                    .crds
                    .of(res)
                    .map(|cr| cr.printer_columns.clone().into());
                conv
            })
        }
        _ => None,
    };
    match (r.verb, sub) {
        (Verb::Get, Some("scale")) => Ok(value_response(
            200,
            &scale::get(&state, res, ns, name).await?,
        )),
        (Verb::Get, _) => {
            let kv = state.get_kv(res, ns, name).await?;
            if let Some(conv) = &conversion {
                return crate::table::object(res, conv, &kv);
            }
            let version = state.presented_version(res);
            let body = crate::codec::to_json_as(&kv.value, kv.mod_revision, version.as_deref())
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(json_response(200, body, "application/json"))
        }
        (Verb::List, _) => match &conversion {
            Some(conv) => crate::table::list(res, conv, &state.list_page(res, ns, &q).await?),
            None => Ok(json_response(
                200,
                state.list(res, ns, &q).await?,
                "application/json",
            )),
        },
        (Verb::Watch, _) => {
            let resp = watch::watch(state.clone(), res, ns.map(str::to_string), q).await?;
            Ok(match conversion {
                Some(conv) => crate::table::watch(res, conv, resp),
                None => resp,
            })
        }
        (Verb::Create, Some("binding")) => {
            let body = decode_body(&ct, &read_body(req.into_body()).await?)?;
            crate::binding::bind(&state, res, ns, name, &body, &q).await?;
            Ok(value_response(201, &success_status(None)))
        }
        (Verb::Create, Some("eviction")) => {
            let body = decode_body(&ct, &read_body(req.into_body()).await?)?;
            let out = crate::eviction::evict(&state, ns.unwrap_or(""), name, &body, &q).await?;
            let mut resp = value_response(out.code, &out.body);
            if let Some(secs) = out.retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(resp)
        }
        (Verb::Create, None) if crate::reviews::is_review(res) => {
            let user = req
                .extensions()
                .get::<User>()
                .cloned()
                .unwrap_or_else(User::loopback);
            let body = decode_body(&ct, &read_body(req.into_body()).await?)?;
            let review = crate::reviews::evaluate(res, &user, &state.config.tokens, body)?;
            Ok(value_response(201, &review))
        }
        (Verb::Create, _) => {
            let raw = read_body(req.into_body()).await?;
            let mut body = decode_body(&ct, &raw)?;
            let warnings = fieldvalidation::check(
                &state.crds,
                res,
                Directive::from_query(&q),
                Source::Object,
                &mut body,
                fieldvalidation::is_json(&ct).then_some(&raw[..]),
            )?;
            let mut resp = written(state.create(res, ns, body, &q).await?);
            fieldvalidation::add_warnings(&mut resp, &warnings);
            Ok(resp)
        }
        (Verb::Update, Some("scale")) => {
            let body = decode_body(&ct, &read_body(req.into_body()).await?)?;
            Ok(value_response(
                200,
                &scale::update(&state, res, ns, name, &q, |_| Ok(body.clone())).await?,
            ))
        }
        (Verb::Update, _) => {
            let raw = read_body(req.into_body()).await?;
            let mut body = decode_body(&ct, &raw)?;
            let warnings = fieldvalidation::check(
                &state.crds,
                res,
                Directive::from_query(&q),
                Source::Object,
                &mut body,
                fieldvalidation::is_json(&ct).then_some(&raw[..]),
            )?;
            let mut resp = written(
                state
                    .update_with(res, ns, name, sub, &q, |_| Ok(body.clone()))
                    .await?,
            );
            fieldvalidation::add_warnings(&mut resp, &warnings);
            Ok(resp)
        }
        (Verb::Patch, _) => {
            let patch = read_body(req.into_body()).await?;
            if ct == "application/apply-patch+yaml" {
                return crate::fieldmanager::apply_patch(&state, res, ns, name, sub, &q, &patch)
                    .await;
            }
            crate::fieldmanager::validate_patch_options(&q, false)?;
            let kind = crate::patch::PatchKind::from_content_type(&ct)?;
            let root =
                crate::patch::strategic_root(res, sub).filter(|_| state.crds.of(res).is_none());
            if sub == Some("scale") {
                let out = scale::update(&state, res, ns, name, &q, |current| {
                    crate::patch::apply(kind, root, current, &patch)
                })
                .await?;
                return Ok(value_response(200, &out));
            }
            // Field validation looks at the patched object (unknown fields) and the patch
            // text (duplicate keys), as upstream's patcher does.
            let directive = Directive::from_query(&q);
            let raw = fieldvalidation::is_json(&ct).then_some(&patch[..]);
            let mut warnings = Vec::new();
            let mut resp = written(
                state
                    .update_with(res, ns, name, sub, &q, |current| {
                        let mut out = crate::patch::apply(kind, root, current, &patch)?;
                        warnings = fieldvalidation::check(
                            &state.crds,
                            res,
                            directive,
                            Source::Patch,
                            &mut out,
                            raw,
                        )?;
                        Ok(out)
                    })
                    .await?,
            );
            fieldvalidation::add_warnings(&mut resp, &warnings);
            Ok(resp)
        }
        (Verb::Delete, _) => {
            let opts = delete_options(req.into_body(), &ct, &q).await?;
            Ok(written(state.delete(res, ns, name, &opts, &q).await?))
        }
        (Verb::DeleteCollection, _) => {
            let opts = delete_options(req.into_body(), &ct, &q).await?;
            delete_collection(&state, res, ns, &q, &opts).await
        }
    }
}

/// DeleteOptions from the query and the optional body.
async fn delete_options(body: Body, ct: &str, q: &Query) -> Result<DeleteOptions, ApiError> {
    let raw = read_body(body).await?;
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(decode_body(ct, &raw)?)
    };
    Ok(DeleteOptions::from_request(q, body.as_ref()))
}

async fn delete_collection(
    state: &AppState,
    res: &'static ResourceInfo,
    ns: Option<&str>,
    q: &Query,
    opts: &DeleteOptions,
) -> Result<Response, ApiError> {
    let list: Value = serde_json::from_slice(
        &state
            .list(
                res,
                ns,
                &Query {
                    limit: None,
                    continue_token: None,
                    ..q.clone()
                },
            )
            .await?,
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut deleted = Vec::new();
    for item in list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let item_ns = item.pointer("/metadata/namespace").and_then(Value::as_str);
        match state.delete(res, item_ns.or(ns), name, opts, q).await {
            Ok(w) => deleted.push(w.object),
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut out = list;
    out["items"] = json!(deleted);
    Ok(value_response(200, &out))
}

/// Fallback for anything axum routes nowhere (kept for completeness).
pub async fn not_found() -> impl IntoResponse {
    error_response(&ApiError::NotFound(ErrTarget::default()))
}
