//! A container's mounts from its volumeMounts and the pod's set-up volumes, as upstream's
//! `makeMounts`: subPath (or subPathExpr expanded from the container's environment) must be
//! relative without `..`, is created as a directory when missing, and must resolve inside
//! its volume.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, VolumeMount};

use super::PodVolumes;
use crate::env::{EnvVar, expand};

/// How mounts propagate between host and container (`mountPropagation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// None: no propagation (CRI PROPAGATION_PRIVATE).
    #[default]
    Private,
    /// HostToContainer: host mounts appear in the container (rslave).
    HostToContainer,
    /// Bidirectional: both ways (rshared); privileged containers only.
    Bidirectional,
}

/// One bind mount for the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it appears in the container.
    pub container_path: String,
    /// What is mounted, on the host.
    pub host_path: PathBuf,
    /// Read-only.
    pub readonly: bool,
    /// Propagation.
    pub propagation: Propagation,
}

/// Why a container's mounts cannot be made: the container's `CreateContainerConfigError`
/// message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// A volumeMount naming no volume of the pod.
    #[error("cannot find volume {volume:?} to mount into container {container:?}")]
    NoVolume {
        /// The volume name.
        volume: String,
        /// The container name.
        container: String,
    },
    /// subPathExpr referencing variables the container does not have (or has empty).
    #[error("missing value for {0}")]
    MissingValue(String),
    /// An absolute subPath.
    #[error("error SubPath `{0}` must not be an absolute path")]
    AbsoluteSubPath(String),
    /// A subPath with a `..` element.
    #[error("unable to provision SubPath `{0}`: must not contain '..'")]
    Backsteps(String),
    /// A subPath that resolves outside its volume (through a symlink).
    #[error("subpath {0:?} not within volume path {1:?}")]
    OutsideVolume(String, String),
    /// The subPath directory could not be created.
    #[error(
        "failed to create subPath directory for volumeMount {volume:?} of container {container:?}"
    )]
    CreateSubPath {
        /// The volume name.
        volume: String,
        /// The container name.
        container: String,
    },
    /// Bidirectional propagation for an unprivileged container.
    #[error("Bidirectional mount propagation is available only to privileged containers")]
    BidirectionalUnprivileged,
    /// A propagation mode the API does not define.
    #[error("invalid MountPropagation mode: {0:?}")]
    InvalidPropagation(String),
}

/// The mounts of `container` over `volumes`; `env` is the container's environment (for
/// subPathExpr). Creates missing subPath directories.
pub fn container_mounts(
    container: &Container,
    volumes: &PodVolumes,
    env: &[EnvVar],
) -> Result<Vec<Mount>, MountError> {
    let privileged = container
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        == Some(true);
    let env: HashMap<&str, &str> = env
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    let mut out = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = volumes
            .volumes
            .get(&mount.name)
            .ok_or_else(|| MountError::NoVolume {
                volume: mount.name.clone(),
                container: container.name.clone(),
            })?;
        let sub_path = sub_path(mount, &env)?;
        let host_path = match sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => resolve_sub_path(&volume.host_path, sub).map_err(|e| match e {
                SubPathError::Mount(e) => e,
                SubPathError::Create => MountError::CreateSubPath {
                    volume: mount.name.clone(),
                    container: container.name.clone(),
                },
            })?,
            None => volume.host_path.clone(),
        };
        out.push(Mount {
            container_path: mount.mount_path.clone(),
            host_path,
            readonly: mount.read_only == Some(true) || volume.read_only,
            propagation: propagation(mount.mount_propagation.as_deref(), privileged)?,
        });
    }
    Ok(out)
}

/// The mount's subPath, or its subPathExpr expanded (every referenced variable must have a
/// non-empty value).
fn sub_path(mount: &VolumeMount, env: &HashMap<&str, &str>) -> Result<Option<String>, MountError> {
    let Some(expr) = mount.sub_path_expr.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(mount.sub_path.clone());
    };
    let missing = RefCell::new(BTreeSet::new());
    let expanded = expand(expr, |name| {
        let value = env.get(name).copied().filter(|v| !v.is_empty());
        if value.is_none() {
            missing.borrow_mut().insert(name.to_string());
        }
        Some(value.unwrap_or_default())
    });
    let missing = missing.into_inner();
    if !missing.is_empty() {
        let names: Vec<String> = missing.into_iter().collect();
        return Err(MountError::MissingValue(names.join(", ")));
    }
    Ok(Some(expanded))
}

/// Check a subPath as upstream does before touching the file system.
fn validate_sub_path(sub: &str) -> Result<(), MountError> {
    if sub.starts_with('/') {
        return Err(MountError::AbsoluteSubPath(sub.to_string()));
    }
    if sub.split('/').any(|part| part == "..") {
        return Err(MountError::Backsteps(sub.to_string()));
    }
    Ok(())
}

enum SubPathError {
    Mount(MountError),
    Create,
}

/// `volume/sub`, created as a directory (with the volume's mode) when missing, resolved
/// through symlinks and required to stay inside the volume.
fn resolve_sub_path(volume: &Path, sub: &str) -> Result<PathBuf, SubPathError> {
    validate_sub_path(sub).map_err(SubPathError::Mount)?;
    let root = fs::canonicalize(volume).map_err(|_| SubPathError::Create)?;
    let outside = || {
        SubPathError::Mount(MountError::OutsideVolume(
            sub.to_string(),
            volume.display().to_string(),
        ))
    };
    let full = volume.join(sub);
    if fs::symlink_metadata(&full).is_err() {
        // Create each missing element, checking that what exists so far stays inside.
        let mode = fs::metadata(&root)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o755);
        let mut current = root.clone();
        for part in Path::new(sub).components() {
            current.push(part);
            match fs::symlink_metadata(&current) {
                Ok(_) => {
                    current = fs::canonicalize(&current).map_err(|_| SubPathError::Create)?;
                    if !current.starts_with(&root) {
                        return Err(outside());
                    }
                }
                Err(_) => {
                    fs::create_dir(&current).map_err(|_| SubPathError::Create)?;
                    fs::set_permissions(&current, fs::Permissions::from_mode(mode))
                        .map_err(|_| SubPathError::Create)?;
                }
            }
        }
    }
    let resolved = fs::canonicalize(&full).map_err(|_| SubPathError::Create)?;
    if !resolved.starts_with(&root) {
        return Err(outside());
    }
    Ok(resolved)
}

fn propagation(mode: Option<&str>, privileged: bool) -> Result<Propagation, MountError> {
    match mode.unwrap_or("None") {
        "None" | "" => Ok(Propagation::Private),
        "HostToContainer" => Ok(Propagation::HostToContainer),
        "Bidirectional" if privileged => Ok(Propagation::Bidirectional),
        "Bidirectional" => Err(MountError::BidirectionalUnprivileged),
        other => Err(MountError::InvalidPropagation(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
