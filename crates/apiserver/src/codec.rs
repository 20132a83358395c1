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
    let mut out = Vec::new();
    write_json(stored, revision, &mut out)?;
    Ok(out)
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
