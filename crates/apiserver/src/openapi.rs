//! Serving the OpenAPI documents: `/openapi/v3` (index), `/openapi/v3/<api|apis/…>` (one
//! document per group-version), `/openapi/v2` (JSON or gnostic protobuf) and the legacy
//! `/swagger-2.0.0.pb-v1`.
//!
//! The documents ([`k3rs_api::openapi`]) are rendered, hashed and gzip-compressed once — on a
//! background thread at start-up, or by the first request that needs them — and then served as
//! bytes. Custom resources change that only for their own part: when the served set changes
//! ([`OpenApi::rebuild_custom`]) their group-version documents and the index are re-rendered at
//! once and the v2 document on its next request; the built-in documents are kept. As upstream (kube-openapi's handler3): the ETag is the document hash; a GV document
//! asked for with the current `?hash=` is `Cache-Control: public, immutable`, with another hash it
//! redirects (301) to the current one, without a hash it is `no-cache, private`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use k3rs_api::openapi::CustomKind;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

#[cfg(test)]
mod tests;

/// The protobuf media type kubectl asks for (`Accept`) for the v2 document.
pub const MIME_PB: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The spelling upstream answers with (`Content-Type`; `@` is not valid in a media type, and
/// client-go's `mime.ParseMediaType` rejects it) and also accepts.
const MIME_PB_RESPONSE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One rendered document.
pub struct Document {
    pub body: Bytes,
    pub gzip: Bytes,
    /// Upper-case hex SHA-512 of `body` (the `?hash=` and the ETag).
    pub hash: String,
    pub content_type: &'static str,
}

impl Document {
    fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let hash = Sha512::digest(&body)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let gzip = enc
            .write_all(&body)
            .and_then(|_| enc.finish())
            .unwrap_or_default();
        Document {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            hash,
            content_type,
        }
    }
}

/// The built-in documents: rendered once, shared by every set of custom resources.
struct Builtin {
    /// By index key (`api/v1`, `apis/apps/v1`).
    v3: HashMap<String, Arc<Document>>,
    /// The Swagger 2.0 document of the built-ins, which custom resources extend.
    v2: Value,
}

impl Builtin {
    /// Render the built-in group-versions (tens of milliseconds; done once).
    fn build() -> Self {
        let mut v3 = HashMap::new();
        for (group, version) in k3rs_api::openapi::group_versions() {
            let Some(doc) = k3rs_api::openapi::v3_group_version(group, version) else {
                continue;
            };
            v3.insert(
                k3rs_api::openapi::v3_key(group, version),
                Arc::new(json_document(&doc)),
            );
        }
        Builtin {
            v3,
            v2: k3rs_api::openapi::v2_document(),
        }
    }
}

fn json_document(doc: &Value) -> Document {
    Document::new(
        serde_json::to_vec(doc).unwrap_or_default(),
        "application/json",
    )
}

/// The Swagger 2.0 document as JSON and as protobuf.
pub struct V2 {
    pub json: Document,
    pub pb: Document,
}

/// Every served document for one set of custom resources.
pub struct Documents {
    pub index: Document,
    /// By index key (`api/v1`, `apis/apps/v1`, `apis/example.com/v1`).
    pub v3: HashMap<String, Arc<Document>>,
    /// The custom resources these documents describe.
    custom: Vec<CustomKind>,
    /// Rendered by the first request for it.
    v2: OnceLock<V2>,
}

impl Documents {
    /// The built-in documents plus those of `custom`'s group-versions, and the index. A custom
    /// group-version whose resources are unchanged since `previous` keeps its document.
    fn assemble(builtin: &Builtin, custom: Vec<CustomKind>, previous: Option<&Documents>) -> Self {
        let mut v3 = builtin.v3.clone();
        let in_gv = |kinds: &[CustomKind], group: &str, version: &str| -> Vec<CustomKind> {
            kinds
                .iter()
                .filter(|k| k.info.group == group && k.info.version == version)
                .cloned()
                .collect()
        };
        for (group, version) in k3rs_api::openapi::custom_group_versions(&custom) {
            let key = k3rs_api::openapi::v3_key(group, version);
            let mine = in_gv(&custom, group, version);
            let kept = previous.and_then(|p| {
                (in_gv(&p.custom, group, version) == mine)
                    .then(|| p.v3.get(&key).cloned())
                    .flatten()
            });
            let doc = match kept {
                Some(d) => d,
                None => {
                    let Some(doc) = k3rs_api::openapi::v3_group_version_with(group, version, &mine)
                    else {
                        continue;
                    };
                    Arc::new(json_document(&doc))
                }
            };
            v3.insert(key, doc);
        }
        let mut keys: Vec<&String> = v3.keys().collect();
        keys.sort();
        let mut index = Map::new();
        for key in keys {
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", v3[key].hash)}),
            );
        }
        Documents {
            index: json_document(&json!({"paths": Value::Object(index)})),
            v3,
            custom,
            v2: OnceLock::new(),
        }
    }

    /// The v2 documents (rendered now if nobody has yet: the built-in document plus the custom
    /// resources, encoded twice; concurrent callers wait for one rendering).
    fn v2(&self, builtin: &Builtin) -> &V2 {
        self.v2.get_or_init(|| {
            let mut doc = builtin.v2.clone();
            k3rs_api::openapi::v2_add_custom(&mut doc, &self.custom);
            V2 {
                pb: Document::new(
                    k3rs_api::openapi::proto::encode_document(&doc),
                    MIME_PB_RESPONSE,
                ),
                json: json_document(&doc),
            }
        })
    }
}

/// The custom resources last seen and the documents for them (None: not assembled yet).
#[derive(Default)]
struct Current {
    custom: Vec<CustomKind>,
    docs: Option<Arc<Documents>>,
}

/// The documents: built-in ones rendered once, the custom part re-rendered when the served
/// custom resources change ([`OpenApi::rebuild_custom`]), never per request.
#[derive(Default)]
pub struct OpenApi {
    builtin: OnceLock<Builtin>,
    current: Mutex<Current>,
}

impl OpenApi {
    /// Build the documents on a background thread so the first client does not wait.
    pub fn warm(self: &Arc<Self>) {
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("openapi-build".into())
            .spawn(move || {
                me.documents();
            });
    }

    fn current(&self) -> MutexGuard<'_, Current> {
        match self.current.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The documents (built now if needed: the built-ins once, concurrent callers waiting for
    /// one build; the custom part after each change). Blocks; call off the async runtime.
    pub fn documents(&self) -> Arc<Documents> {
        let builtin = self.builtin.get_or_init(Builtin::build);
        let mut current = self.current();
        if let Some(d) = &current.docs {
            return d.clone();
        }
        let docs = Arc::new(Documents::assemble(builtin, current.custom.clone(), None));
        current.docs = Some(docs.clone());
        docs
    }

    /// The documents if they are ready (nothing to render).
    fn ready(&self) -> Option<Arc<Documents>> {
        self.builtin.get()?;
        self.current().docs.clone()
    }

    /// The served custom resources changed: re-render their group-versions and the index now
    /// (when the built-ins are ready; otherwise the first request does), v2 on its next request.
    /// Nothing happens when the set is unchanged.
    pub fn rebuild_custom(&self, custom: Vec<CustomKind>) {
        let mut current = self.current();
        if current.custom == custom && current.docs.is_some() {
            return;
        }
        let previous = current.docs.take();
        current.custom = custom;
        if let Some(builtin) = self.builtin.get() {
            current.docs = Some(Arc::new(Documents::assemble(
                builtin,
                current.custom.clone(),
                previous.as_deref(),
            )));
        }
    }

    /// Whether `path` is one of ours.
    pub fn handles(path: &str) -> bool {
        path == "/openapi/v2"
            || path == "/swagger-2.0.0.pb-v1"
            || path == "/openapi/v3"
            || path == "/openapi/v3/"
            || path.starts_with("/openapi/v3/")
    }

    /// Answer a GET of one of our paths.
    pub async fn serve(
        self: &Arc<Self>,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response {
        let docs = match self.ready() {
            Some(d) => d,
            None => {
                // Build off the async runtime.
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.documents()).await {
                    Ok(d) => d,
                    Err(e) => {
                        return crate::handler::error_response(
                            &k3rs_api::status::ApiError::Internal(e.to_string()),
                        );
                    }
                }
            }
        };
        let hash_param = query.and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("hash="))
                .map(str::to_string)
        });
        match path {
            "/openapi/v3" | "/openapi/v3/" => respond(&docs.index, headers, CacheMode::NoCache),
            "/openapi/v2" | "/swagger-2.0.0.pb-v1" => {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("");
                let pb = path == "/swagger-2.0.0.pb-v1"
                    || accept.contains(MIME_PB)
                    || accept.contains(MIME_PB_RESPONSE);
                let v2 = match (docs.v2.get(), self.builtin.get()) {
                    (Some(v2), _) => v2,
                    (None, Some(_)) => {
                        // Render off the async runtime, then read the cell.
                        let (me, d) = (self.clone(), docs.clone());
                        let rendered = tokio::task::spawn_blocking(move || {
                            if let Some(builtin) = me.builtin.get() {
                                d.v2(builtin);
                            }
                        })
                        .await;
                        match (rendered, docs.v2.get()) {
                            (Ok(()), Some(v2)) => v2,
                            _ => {
                                return crate::handler::error_response(
                                    &k3rs_api::status::ApiError::Internal(
                                        "rendering the OpenAPI v2 document failed".into(),
                                    ),
                                );
                            }
                        }
                    }
                    (None, None) => {
                        return crate::handler::error_response(
                            &k3rs_api::status::ApiError::Internal(
                                "the OpenAPI documents are not built".into(),
                            ),
                        );
                    }
                };
                let doc = if pb { &v2.pb } else { &v2.json };
                let mut r = respond(doc, headers, CacheMode::NoCache);
                r.headers_mut().insert(
                    header::VARY,
                    HeaderValue::from_static("Accept, Accept-Encoding"),
                );
                r
            }
            _ => {
                let key = path
                    .trim_start_matches("/openapi/v3/")
                    .trim_end_matches('/');
                let Some(doc) = docs.v3.get(key) else {
                    return crate::handler::error_response(&k3rs_api::status::ApiError::NotFound(
                        Default::default(),
                    ));
                };
                match hash_param {
                    Some(h) if h == doc.hash => respond(doc, headers, CacheMode::Immutable),
                    Some(_) => {
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
                        if let Ok(v) =
                            HeaderValue::from_str(&format!("/openapi/v3/{key}?hash={}", doc.hash))
                        {
                            r.headers_mut().insert(header::LOCATION, v);
                        }
                        r
                    }
                    None => respond(doc, headers, CacheMode::NoCache),
                }
            }
        }
    }
}

enum CacheMode {
    NoCache,
    Immutable,
}

fn respond(doc: &Document, headers: &HeaderMap, cache: CacheMode) -> Response {
    let etag = format!("\"{}\"", doc.hash);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().map(str::trim) == Some("gzip"))
        });
    let mut r = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if gzip {
        let mut r = Response::new(Body::from(doc.gzip.clone()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(doc.body.clone()))
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    match cache {
        CacheMode::NoCache => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
        }
        CacheMode::Immutable => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            let expires = time::OffsetDateTime::now_utc() + time::Duration::days(365);
            if let Ok(s) = expires.format(&time::format_description::well_known::Rfc2822)
                && let Ok(v) = HeaderValue::from_str(&s)
            {
                h.insert(header::EXPIRES, v);
            }
        }
    }
    r
}
