//! The files of configMap, secret, downwardAPI and projected volumes, computed from the pod
//! and its objects as upstream's volume plugins do (`MakePayload`, `CollectData`). Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, DownwardAPIVolumeFile, DownwardAPIVolumeSource, KeyToPath, Pod,
    ProjectedVolumeSource, SecretVolumeSource,
};

use crate::env::NodeFacts;
use crate::env::fields;
use crate::objects::ObjectSource;

/// One file of a volume: content and permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProjection {
    /// The content.
    pub data: Vec<u8>,
    /// The permission bits (`defaultMode` or the item's `mode`).
    pub mode: u32,
}

/// A volume's files by path relative to the volume.
pub type Payload = BTreeMap<String, FileProjection>;

/// The API's default `defaultMode` of these volume types.
pub const DEFAULT_MODE: i32 = 0o644;

/// What a payload is computed from.
#[derive(Clone, Copy)]
pub struct PayloadInput<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// This node (allocatable for resourceFieldRef).
    pub node: &'a NodeFacts,
    /// ConfigMaps and Secrets.
    pub objects: &'a dyn ObjectSource,
}

impl PayloadInput<'_> {
    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }
}

/// The Event reason for projected sources that were left out.
pub const PROJECTION_SKIPPED_REASON: &str = "ProjectedSourceSkipped";

/// Which object a key-to-file payload comes from (for upstream's error messages).
#[derive(Clone, Copy)]
enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    fn not_found(self, name: &str) -> String {
        match self {
            Kind::ConfigMap => format!("configmap {name:?} not found"),
            Kind::Secret => format!("secret {name:?} not found"),
        }
    }
    fn missing_key(self, key: &str) -> String {
        match self {
            Kind::ConfigMap => format!("configmap references non-existent config key: {key}"),
            Kind::Secret => format!("references non-existent secret key: {key}"),
        }
    }
}

/// A configMap volume's files: every key (data and binaryData), or the listed items.
pub fn config_map_volume(
    input: &PayloadInput<'_>,
    source: &ConfigMapVolumeSource,
) -> Result<Payload, String> {
    let optional = source.optional == Some(true);
    let data = config_map_data(input, &source.name);
    key_payload(
        Kind::ConfigMap,
        &source.name,
        data,
        source.items.as_deref(),
        source.default_mode.unwrap_or(DEFAULT_MODE),
        optional,
    )
}

/// A secret volume's files: every key, or the listed items.
pub fn secret_volume(
    input: &PayloadInput<'_>,
    source: &SecretVolumeSource,
) -> Result<Payload, String> {
    let name = source.secret_name.clone().unwrap_or_default();
    let optional = source.optional == Some(true);
    key_payload(
        Kind::Secret,
        &name,
        secret_data(input, &name),
        source.items.as_deref(),
        source.default_mode.unwrap_or(DEFAULT_MODE),
        optional,
    )
}

/// A downwardAPI volume's files.
pub fn downward_api_volume(
    input: &PayloadInput<'_>,
    source: &DownwardAPIVolumeSource,
) -> Result<Payload, String> {
    downward_api_files(
        input,
        source.items.as_deref().unwrap_or_default(),
        source.default_mode.unwrap_or(DEFAULT_MODE),
    )
}

/// A projected volume's files and warnings about sources it cannot make yet: the
/// serviceAccountToken (no TokenRequest API yet) and clusterTrustBundle sources are left out.
pub fn projected_volume(
    input: &PayloadInput<'_>,
    source: &ProjectedVolumeSource,
) -> Result<(Payload, Vec<String>), String> {
    let default_mode = source.default_mode.unwrap_or(DEFAULT_MODE);
    let mut payload = Payload::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for projection in source.sources.iter().flatten() {
        let part = if let Some(s) = &projection.config_map {
            let data = config_map_data(input, &s.name);
            let optional = s.optional == Some(true);
            key_payload(
                Kind::ConfigMap,
                &s.name,
                data,
                s.items.as_deref(),
                default_mode,
                optional,
            )
        } else if let Some(s) = &projection.secret {
            let data = secret_data(input, &s.name);
            let optional = s.optional == Some(true);
            key_payload(
                Kind::Secret,
                &s.name,
                data,
                s.items.as_deref(),
                default_mode,
                optional,
            )
        } else if let Some(d) = &projection.downward_api {
            downward_api_files(input, d.items.as_deref().unwrap_or_default(), default_mode)
        } else if let Some(t) = &projection.service_account_token {
            warnings.push(format!(
                "serviceAccountToken {:?} was not projected: this cluster cannot issue service account tokens yet",
                t.path
            ));
            continue;
        } else if projection.cluster_trust_bundle.is_some() {
            warnings.push("clusterTrustBundle sources are not supported; left out".to_string());
            continue;
        } else {
            continue;
        };
        match part {
            Ok(files) => payload.extend(files),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok((payload, warnings)),
        1 => Err(errors.remove(0)),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

/// The ConfigMap's keys (data and binaryData), `None` when it does not exist.
fn config_map_data(input: &PayloadInput<'_>, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let cm = input.objects.config_map(input.namespace(), name)?;
    let text = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
    let binary = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()));
    Some(text.chain(binary).collect())
}

/// The Secret's keys, `None` when it does not exist.
fn secret_data(input: &PayloadInput<'_>, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let secret = input.objects.secret(input.namespace(), name)?;
    Some(
        secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
    )
}

/// Files from an object's keys: all of them named by key, or the items (key → path, mode).
/// A missing object is empty when optional; a missing item key is skipped when optional.
fn key_payload(
    kind: Kind,
    name: &str,
    data: Option<BTreeMap<String, Vec<u8>>>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, String> {
    let data = match data {
        Some(d) => d,
        None if optional => BTreeMap::new(),
        None => return Err(kind.not_found(name)),
    };
    let mut payload = Payload::new();
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (key, value) in data {
                payload.insert(key, file(value, default_mode));
            }
        }
        Some(items) => {
            for item in items {
                match data.get(&item.key) {
                    Some(value) => {
                        let mode = item.mode.unwrap_or(default_mode);
                        payload.insert(item.path.clone(), file(value.clone(), mode));
                    }
                    None if optional => {}
                    None => return Err(kind.missing_key(&item.key)),
                }
            }
        }
    }
    Ok(payload)
}

fn file(data: Vec<u8>, mode: i32) -> FileProjection {
    FileProjection {
        data,
        mode: u32::try_from(mode).unwrap_or(0o644) & 0o777,
    }
}

/// Downward API files: pod metadata fields and container resources.
fn downward_api_files(
    input: &PayloadInput<'_>,
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    let mut errors = Vec::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            fields::metadata_field(input.pod, &f.field_path)
        } else if let Some(r) = &item.resource_field_ref {
            fields::resource_value(r, input.pod, None, &input.node.allocatable)
        } else {
            Ok(String::new())
        };
        match value {
            Ok(v) => {
                let mode = item.mode.unwrap_or(default_mode);
                payload.insert(clean_path(&item.path), file(v.into_bytes(), mode));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    match errors.len() {
        0 => Ok(payload),
        1 => Err(errors.remove(0)),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

/// The longest path and file name a payload may use.
const MAX_PATH_LEN: usize = 4096;
const MAX_FILE_NAME_LEN: usize = 255;

/// Check a payload path as upstream's atomic writer does: relative, not empty, no `..`
/// element, not starting with `..`, within the length limits.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(format!("invalid path: must not be empty: {path:?}"));
    }
    if path.starts_with('/') {
        return Err(format!("invalid path: must be relative path: {path}"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "invalid path: must be less than or equal to {MAX_PATH_LEN} characters"
        ));
    }
    let items: Vec<&str> = path.split('/').collect();
    for item in &items {
        if *item == ".." {
            return Err(format!("invalid path: must not contain '..': {path}"));
        }
        if item.len() > MAX_FILE_NAME_LEN {
            return Err(format!(
                "invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LEN} characters"
            ));
        }
    }
    if items[0].starts_with("..") && items[0].len() > 2 {
        return Err(format!("invalid path: must not start with '..': {path}"));
    }
    Ok(())
}

/// A path without empty and `.` elements (Go's `filepath.Clean` short of `..` handling,
/// which [`validate_path`] rejects anyway).
pub fn clean_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let root = if path.starts_with('/') { "/" } else { "" };
    match (root, parts.is_empty()) {
        ("", true) => ".".to_string(),
        _ => format!("{root}{}", parts.join("/")),
    }
}

#[cfg(test)]
mod tests;
