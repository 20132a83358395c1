//! Serving the OpenAPI documents: `/openapi/v3` (index), `/openapi/v3/<api|apis/…>` (one
//! document per group-version), `/openapi/v2` (JSON or gnostic protobuf) and the legacy
//! `/swagger-2.0.0.pb-v1`.
//!
//! The documents ([`k3rs_api::openapi`]) are rendered, hashed and gzip-compressed once — on a
//! background thread at start-up, or by the first request that needs them — and then served as
//! bytes. As upstream (kube-openapi's handler3): the ETag is the document hash; a GV document
//! asked for with the current `?hash=` is `Cache-Control: public, immutable`, with another hash it
//! redirects (301) to the current one, without a hash it is `no-cache, private`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

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

/// Every served document.
pub struct Documents {
    pub index: Document,
    /// By index key (`api/v1`, `apis/apps/v1`).
    pub v3: HashMap<String, Document>,
    pub v2_json: Document,
    pub v2_pb: Document,
}

impl Documents {
    /// Render everything (tens of milliseconds; done once).
    pub fn build() -> Self {
        let mut v3 = HashMap::new();
        let mut index = Map::new();
        for (group, version) in k3rs_api::openapi::group_versions() {
            let Some(doc) = k3rs_api::openapi::v3_group_version(group, version) else {
                continue;
            };
            let key = k3rs_api::openapi::v3_key(group, version);
            let d = Document::new(
                serde_json::to_vec(&doc).unwrap_or_default(),
                "application/json",
            );
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", d.hash)}),
            );
            v3.insert(key, d);
        }
        let index = Document::new(
            serde_json::to_vec(&json!({"paths": Value::Object(index)})).unwrap_or_default(),
            "application/json",
        );
        let v2 = k3rs_api::openapi::v2_document();
        let v2_pb = Document::new(
            k3rs_api::openapi::proto::encode_document(&v2),
            MIME_PB_RESPONSE,
        );
        let v2_json = Document::new(
            serde_json::to_vec(&v2).unwrap_or_default(),
            "application/json",
        );
        Documents {
            index,
            v3,
            v2_json,
            v2_pb,
        }
    }
}

/// The documents, built once.
#[derive(Default)]
pub struct OpenApi {
    docs: OnceLock<Documents>,
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

    /// The documents (built now if nobody has yet; concurrent callers wait for one build).
    pub fn documents(&self) -> &Documents {
        self.docs.get_or_init(Documents::build)
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
        let me = self.clone();
        let docs = match self.docs.get() {
            Some(d) => d,
            None => {
                // Build off the async runtime, then read the cell.
                let _ = tokio::task::spawn_blocking(move || {
                    me.documents();
                })
                .await;
                self.documents()
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
                let doc = if pb { &docs.v2_pb } else { &docs.v2_json };
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
