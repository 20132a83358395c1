//! The storage encoding of objects.
//!
//! Objects are stored as JSON without `metadata.resourceVersion` (the store's
//! mod_revision is the resource version, as upstream does on etcd). To answer
//! reads without parsing, the stored bytes carry a small header with the offset
//! just inside `"metadata":{`, where the resource version is spliced in on the
//! way out. Lists and watch events are thus copies, not re-serializations.
//!
//! Layout: `MAGIC` (4 bytes) · offset (u32 LE) · flag (1 byte: metadata has other
//! fields) · JSON (`kind`, `apiVersion`, `metadata` first, then the other fields).

use serde_json::{Map, Value};

const MAGIC: &[u8; 4] = b"k3r\x01";
const HEADER: usize = 9;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("stored object is not in the k3rs encoding")]
    BadHeader,
    #[error("stored object is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encode an object for storage. `metadata.resourceVersion` is dropped.
pub fn encode(obj: &Value) -> Vec<u8> {
    let empty = Map::new();
    let map = obj.as_object().unwrap_or(&empty);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 5]);
    out.push(b'{');
    let mut first = true;
    for key in ["kind", "apiVersion"] {
        if let Some(v) = map.get(key) {
            push_entry(&mut out, &mut first, key, v);
        }
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"metadata\":{");
    let offset = out.len() - HEADER;
    let mut meta_first = true;
    if let Some(Value::Object(meta)) = map.get("metadata") {
        for (k, v) in meta {
            if k != "resourceVersion" {
                push_entry(&mut out, &mut meta_first, k, v);
            }
        }
    }
    out.push(b'}');
    for (k, v) in map {
        if !matches!(k.as_str(), "kind" | "apiVersion" | "metadata") {
            out.push(b',');
            push_key(&mut out, k);
            write_value(&mut out, v);
        }
    }
    out.push(b'}');
    out[4..8].copy_from_slice(&(offset as u32).to_le_bytes());
    out[8] = u8::from(!meta_first);
    out
}

fn push_entry(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &Value) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    push_key(out, key);
    write_value(out, value);
}

fn push_key(out: &mut Vec<u8>, key: &str) {
    write_value(out, &Value::String(key.to_string()));
    out.push(b':');
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Append the object's JSON with `metadata.resourceVersion` = `revision` to `out`.
pub fn write_json(stored: &[u8], revision: i64, out: &mut Vec<u8>) -> Result<(), CodecError> {
    write_json_as(stored, revision, None, out)
}

/// [`write_json`], presenting the object as `api_version` when given: the versions of a custom
/// resource share storage (conversion None), so only `apiVersion` differs between them.
pub fn write_json_as(
    stored: &[u8],
    revision: i64,
    api_version: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if let Some(version) = api_version
        && let Some((start, end)) = api_version_span(stored)
        && &stored[start..end] != version.as_bytes()
    {
        // Rare (a version other than the one written): rebuild the stored form with the new value.
        let mut rewritten = Vec::with_capacity(stored.len() + version.len());
        rewritten.extend_from_slice(&stored[..start]);
        rewritten.extend_from_slice(version.as_bytes());
        rewritten.extend_from_slice(&stored[end..]);
        let shift = version.len() as i64 - (end - start) as i64;
        let offset =
            u32::from_le_bytes([stored[4], stored[5], stored[6], stored[7]]) as i64 + shift;
        rewritten[4..8].copy_from_slice(&(offset as u32).to_le_bytes());
        return write_json_as(&rewritten, revision, None, out);
    }
    let (offset, has_more, json) = split(stored)?;
    out.reserve(json.len() + 40);
    out.extend_from_slice(&json[..offset]);
    out.extend_from_slice(b"\"resourceVersion\":\"");
    out.extend_from_slice(revision.to_string().as_bytes());
    out.push(b'"');
    if has_more {
        out.push(b',');
    }
    out.extend_from_slice(&json[offset..]);
    Ok(())
}

/// The object's JSON (with resourceVersion) as bytes.
pub fn to_json(stored: &[u8], revision: i64) -> Result<Vec<u8>, CodecError> {
    to_json_as(stored, revision, None)
}

/// [`to_json`] presented as `api_version` (see [`write_json_as`]).
pub fn to_json_as(
    stored: &[u8],
    revision: i64,
    api_version: Option<&str>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    write_json_as(stored, revision, api_version, &mut out)?;
    Ok(out)
}

/// Byte range (in `stored`) of the `apiVersion` string's contents. `encode` writes `kind`
/// then `apiVersion` first, so this scans only the head of the object.
fn api_version_span(stored: &[u8]) -> Option<(usize, usize)> {
    const KEY: &[u8] = b"\"apiVersion\":\"";
    let head = &stored[HEADER.min(stored.len())..stored.len().min(HEADER + 512)];
    let at = head.windows(KEY.len()).position(|w| w == KEY)?;
    let start = HEADER + at + KEY.len();
    let mut i = start;
    while i < stored.len() {
        match stored[i] {
            b'\\' => i += 2,
            b'"' => return Some((start, i)),
            _ => i += 1,
        }
    }
    None
}

/// Decode to a value with `metadata.resourceVersion` = `revision`.
pub fn decode(stored: &[u8], revision: i64) -> Result<Value, CodecError> {
    let (_, _, json) = split(stored)?;
    let mut v: Value = serde_json::from_slice(json)?;
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
    Ok(v)
}

/// Decode only what selectors need (metadata.labels etc.) cheaply: the full value without
/// resourceVersion.
pub fn decode_plain(stored: &[u8]) -> Result<Value, CodecError> {
    let (_, _, json) = split(stored)?;
    Ok(serde_json::from_slice(json)?)
}

fn split(stored: &[u8]) -> Result<(usize, bool, &[u8]), CodecError> {
    if stored.len() < HEADER || &stored[..4] != MAGIC {
        return Err(CodecError::BadHeader);
    }
    let offset = u32::from_le_bytes([stored[4], stored[5], stored[6], stored[7]]) as usize;
    let json = &stored[HEADER..];
    if offset > json.len() {
        return Err(CodecError::BadHeader);
    }
    Ok((offset, stored[8] == 1, json))
}

#[cfg(test)]
mod tests;
