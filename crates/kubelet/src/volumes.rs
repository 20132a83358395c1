//! A pod's volumes on this node, kept as upstream's kubelet keeps them under
//! `<pods-dir>/<pod-uid>/volumes/<plugin>/<volume-name>` (`<pods-dir>` is
//! `<data-dir>/agent/pods`):
//!
//! - emptyDir: a directory (0777); medium Memory → a tmpfs sized by `sizeLimit`, capped by
//!   the pod's memory limit or else the node's allocatable memory.
//! - configMap, downwardAPI: files in upstream's atomic-writer layout (see
//!   [`atomic_writer`]); secret and projected the same on a tmpfs, so secrets never reach
//!   the disk. [`refresh_pod_volumes`] rewrites them when their sources change.
//! - hostPath: the host's path after the `type` checks ([`host_path`]).
//! - persistentVolumeClaim: the bound PersistentVolume's hostPath or local path; a
//!   local-path provisioned directory is created (0777, as k3s's provisioner does).
//!
//! The functions do blocking file system work: call them from `spawn_blocking`.

pub mod atomic_writer;
pub mod container;
pub mod host_path;
pub mod mounts;
pub mod payload;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k3rs_api::validation::quantity::parse_quantity;
use k8s_openapi::api::core::v1::{PersistentVolume, Pod, Volume};

pub use container::{Mount, MountError, Propagation, container_mounts};

use crate::env::NodeFacts;
use crate::objects::ObjectSource;
use payload::{Payload, PayloadInput};

/// Where pods' directories are, and what volume contents are made from.
#[derive(Clone, Copy)]
pub struct VolumeHost<'a> {
    /// `<data-dir>/agent/pods`.
    pub pods_dir: &'a Path,
    /// This node.
    pub node: &'a NodeFacts,
    /// ConfigMaps, Secrets, claims and volumes.
    pub objects: &'a dyn ObjectSource,
}

/// A set-up volume: where it is on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumePath {
    /// The host path to bind into containers.
    pub host_path: PathBuf,
    /// Whether every mount of it is read-only whatever the volumeMount says (configMap,
    /// secret, downwardAPI and projected volumes; a claim mounted `readOnly`).
    pub read_only: bool,
}

/// A pod's set-up volumes by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodVolumes {
    /// The volumes.
    pub volumes: BTreeMap<String, VolumePath>,
    /// Messages for Warning Events (reason [`payload::PROJECTION_SKIPPED_REASON`]): parts of
    /// projected volumes that were left out.
    pub warnings: Vec<String>,
}

/// Why a volume could not be set up; the message is upstream's FailedMount Event text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume {volume:?} : {reason}")]
pub struct VolumeError {
    /// The volume's name.
    pub volume: String,
    /// What went wrong.
    pub reason: String,
}

/// The Event reason for a [`VolumeError`].
pub const FAILED_MOUNT_REASON: &str = "FailedMount";

/// `<pods_dir>/<uid>`: everything the agent keeps for a pod.
pub fn pod_dir(pods_dir: &Path, pod_uid: &str) -> PathBuf {
    pods_dir.join(pod_uid)
}

/// The kinds of volume kept in the pod's directory, with upstream's plugin directory names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plugin {
    EmptyDir,
    ConfigMap,
    Secret,
    DownwardApi,
    Projected,
}

impl Plugin {
    fn dir_name(self) -> &'static str {
        match self {
            Plugin::EmptyDir => "kubernetes.io~empty-dir",
            Plugin::ConfigMap => "kubernetes.io~configmap",
            Plugin::Secret => "kubernetes.io~secret",
            Plugin::DownwardApi => "kubernetes.io~downward-api",
            Plugin::Projected => "kubernetes.io~projected",
        }
    }
    fn of(volume: &Volume) -> Option<Plugin> {
        if volume.empty_dir.is_some() {
            Some(Plugin::EmptyDir)
        } else if volume.config_map.is_some() {
            Some(Plugin::ConfigMap)
        } else if volume.secret.is_some() {
            Some(Plugin::Secret)
        } else if volume.downward_api.is_some() {
            Some(Plugin::DownwardApi)
        } else if volume.projected.is_some() {
            Some(Plugin::Projected)
        } else {
            None
        }
    }
}

fn volume_dir(host: &VolumeHost<'_>, pod: &Pod, plugin: Plugin, name: &str) -> PathBuf {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    pod_dir(host.pods_dir, uid)
        .join("volumes")
        .join(plugin.dir_name())
        .join(name)
}

/// Set up every volume of `pod` (idempotent: a second call leaves mounts in place and only
/// rewrites contents that changed). The first failing volume stops the setup; the pod's
/// containers must not start until a later call succeeds.
pub fn setup_pod_volumes(host: &VolumeHost<'_>, pod: &Pod) -> Result<PodVolumes, VolumeError> {
    if pod.metadata.uid.as_deref().is_none_or(str::is_empty) {
        return Err(VolumeError {
            volume: String::new(),
            reason: "the pod has no uid".to_string(),
        });
    }
    let mut out = PodVolumes::default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let fail = |reason: String| VolumeError {
            volume: volume.name.clone(),
            reason,
        };
        let path = match Plugin::of(volume) {
            Some(plugin) => {
                let dir = volume_dir(host, pod, plugin, &volume.name);
                let warnings = setup_in_pod_dir(host, pod, volume, plugin, &dir).map_err(fail)?;
                out.warnings.extend(warnings);
                VolumePath {
                    host_path: dir,
                    read_only: plugin != Plugin::EmptyDir,
                }
            }
            None => external_volume(host, pod, volume).map_err(fail)?,
        };
        out.volumes.insert(volume.name.clone(), path);
    }
    Ok(out)
}

/// Set up a volume kept in the pod's directory; returns warnings.
fn setup_in_pod_dir(
    host: &VolumeHost<'_>,
    pod: &Pod,
    volume: &Volume,
    plugin: Plugin,
    dir: &Path,
) -> Result<Vec<String>, String> {
    let mode = if plugin == Plugin::EmptyDir {
        0o777
    } else {
        0o755
    };
    if !dir.is_dir() {
        fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    }
    let memory = match (plugin, &volume.empty_dir) {
        (Plugin::EmptyDir, Some(e)) => match e.medium.as_deref().unwrap_or_default() {
            "" => false,
            "Memory" => true,
            other => return Err(format!("medium {other:?} is not supported")),
        },
        (Plugin::Secret | Plugin::Projected, _) => true,
        _ => false,
    };
    if memory {
        let limit = volume
            .empty_dir
            .as_ref()
            .and_then(|e| e.size_limit.as_ref());
        let size = memory_volume_size(limit.map(|q| q.0.as_str()), pod, host.node);
        mounts::ensure_tmpfs(dir, size)
            .map_err(|e| format!("mount tmpfs on {}: {e}", dir.display()))?;
        // The tmpfs root comes with mode 1777; keep the directory's mode.
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    }
    if plugin == Plugin::EmptyDir {
        if let Some(gid) = fs_group(pod) {
            // As upstream's volume ownership: the group owns it and new files inherit it.
            std::os::unix::fs::chown(dir, None, Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o2777))
                .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        }
        return Ok(Vec::new());
    }
    let (payload, warnings) = volume_payload(host, pod, volume)?;
    write_volume(dir, pod, payload)?;
    Ok(warnings)
}

/// The pod's `securityContext.fsGroup`.
fn fs_group(pod: &Pod) -> Option<u32> {
    let group = pod.spec.as_ref()?.security_context.as_ref()?.fs_group?;
    u32::try_from(group).ok()
}

/// Write a content volume; with an fsGroup its files belong to that group and are readable
/// by owner and group (upstream's read-only volume ownership: mode | 0440).
fn write_volume(dir: &Path, pod: &Pod, mut payload: Payload) -> Result<bool, String> {
    let group = fs_group(pod);
    if group.is_some() {
        for file in payload.values_mut() {
            file.mode |= 0o440;
        }
    }
    atomic_writer::write_payload(dir, &payload, group).map_err(|e| e.to_string())
}

/// The files of a configMap, secret, downwardAPI or projected volume.
fn volume_payload(
    host: &VolumeHost<'_>,
    pod: &Pod,
    volume: &Volume,
) -> Result<(Payload, Vec<String>), String> {
    let input = PayloadInput {
        pod,
        node: host.node,
        objects: host.objects,
    };
    if let Some(s) = &volume.config_map {
        Ok((payload::config_map_volume(&input, s)?, Vec::new()))
    } else if let Some(s) = &volume.secret {
        Ok((payload::secret_volume(&input, s)?, Vec::new()))
    } else if let Some(s) = &volume.downward_api {
        Ok((payload::downward_api_volume(&input, s)?, Vec::new()))
    } else if let Some(s) = &volume.projected {
        payload::projected_volume(&input, s)
    } else {
        Ok((Payload::new(), Vec::new()))
    }
}

/// The size of a Memory-backed volume: `sizeLimit`, capped by the pod's memory limit (when
/// every container has one) or else the node's allocatable memory, as upstream's
/// SizeMemoryBackedVolumes. `None` when nothing bounds it.
fn memory_volume_size(size_limit: Option<&str>, pod: &Pod, node: &NodeFacts) -> Option<u64> {
    let cap = pod_memory_limit(pod).or_else(|| {
        node.allocatable
            .get("memory")
            .and_then(|q| quantity_bytes(&q.0))
    });
    match (size_limit.and_then(quantity_bytes), cap) {
        (Some(limit), Some(cap)) => Some(limit.min(cap)),
        (limit, cap) => limit.or(cap),
    }
}

/// The pod's memory limit when every container declares one: the sum over containers,
/// at least the largest init container's.
fn pod_memory_limit(pod: &Pod) -> Option<u64> {
    let spec = pod.spec.as_ref()?;
    let limit = |c: &k8s_openapi::api::core::v1::Container| -> Option<u64> {
        let q = c.resources.as_ref()?.limits.as_ref()?.get("memory")?;
        quantity_bytes(&q.0)
    };
    let mut sum: u64 = 0;
    for c in &spec.containers {
        sum = sum.saturating_add(limit(c)?);
    }
    for c in spec.init_containers.iter().flatten() {
        sum = sum.max(limit(c)?);
    }
    Some(sum).filter(|s| *s > 0)
}

/// A positive quantity in whole bytes, rounded up.
fn quantity_bytes(q: &str) -> Option<u64> {
    let nanos = parse_quantity(q).ok()?.nanos;
    u64::try_from(crate::env::fields::ceil_div(nanos, 1_000_000_000))
        .ok()
        .filter(|b| *b > 0)
}

/// hostPath and persistentVolumeClaim volumes: paths outside the pod's directory.
fn external_volume(
    host: &VolumeHost<'_>,
    pod: &Pod,
    volume: &Volume,
) -> Result<VolumePath, String> {
    if let Some(h) = &volume.host_path {
        host_path::prepare(Path::new(&h.path), h.type_.as_deref(), 0o755)?;
        return Ok(VolumePath {
            host_path: PathBuf::from(&h.path),
            read_only: false,
        });
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let pv = bound_volume(host.objects, ns, &claim.claim_name)?;
        let path = persistent_volume_path(&pv)?;
        return Ok(VolumePath {
            host_path: path,
            read_only: claim.read_only == Some(true),
        });
    }
    Err("this volume type is not supported by this node (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim)".to_string())
}

/// The PersistentVolume bound to claim `ns/name`, with upstream's messages when there is
/// none yet.
fn bound_volume(
    objects: &dyn ObjectSource,
    ns: &str,
    name: &str,
) -> Result<PersistentVolume, String> {
    let claim = objects
        .persistent_volume_claim(ns, name)
        .ok_or_else(|| format!("persistentvolumeclaim {name:?} not found"))?;
    if claim.metadata.deletion_timestamp.is_some() {
        return Err(format!(
            "can't start pod because PVC {ns}/{name} is being deleted"
        ));
    }
    let phase = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if phase != "Bound" || volume_name.is_empty() {
        return Err(format!(
            "PVC {ns}/{name} has non-bound phase ({phase:?}) or empty pvc.Spec.VolumeName ({volume_name:?})"
        ));
    }
    let pv = objects.persistent_volume(&volume_name).ok_or_else(|| {
        format!("failed to fetch PV {volume_name} from API server: persistentvolumes {volume_name:?} not found")
    })?;
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let Some(claim_ref) = claim_ref else {
        return Err(format!(
            "found PV object {volume_name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
        ));
    };
    let claim_uid = claim.metadata.uid.clone().unwrap_or_default();
    let ref_uid = claim_ref.uid.clone().unwrap_or_default();
    if ref_uid != claim_uid {
        return Err(format!(
            "found PV object {volume_name} but its pv.Spec.ClaimRef.UID ({ref_uid}) does not point to claim.UID ({claim_uid})"
        ));
    }
    Ok((*pv).clone())
}

/// The annotation the local-path provisioner puts on its volumes (and its value).
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const LOCAL_PATH_PROVISIONER: &str = "rancher.io/local-path";

fn is_local_path(pv: &PersistentVolume) -> bool {
    pv.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_BY))
        .is_some_and(|p| p == LOCAL_PATH_PROVISIONER)
}

/// The node directory of a hostPath or local PersistentVolume, made ready.
fn persistent_volume_path(pv: &PersistentVolume) -> Result<PathBuf, String> {
    let name = pv.metadata.name.as_deref().unwrap_or_default();
    let spec = pv.spec.as_ref();
    if let Some(h) = spec.and_then(|s| s.host_path.as_ref()) {
        let path = Path::new(&h.path);
        // k3s's provisioner makes its directories world-writable for any container user.
        let dir_mode = if is_local_path(pv) { 0o777 } else { 0o755 };
        host_path::prepare(path, h.type_.as_deref(), dir_mode)?;
        return Ok(path.to_path_buf());
    }
    if let Some(local) = spec.and_then(|s| s.local.as_ref()) {
        host_path::prepare(Path::new(&local.path), Some("Directory"), 0o755)?;
        return Ok(PathBuf::from(&local.path));
    }
    Err(format!(
        "PersistentVolume {name} has a volume source this node cannot mount (supported: hostPath, local)"
    ))
}

/// What [`refresh_pod_volumes`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Volumes whose files changed.
    pub updated: Vec<String>,
    /// Volumes that could not be refreshed (their previous files stay).
    pub errors: Vec<VolumeError>,
}

/// Rewrite the configMap, secret, downwardAPI and projected volumes of a running pod from
/// the current objects; unchanged volumes are not touched, volumes not set up yet are
/// skipped. Call it when a referenced object changes ([`crate::objects::pod_references`])
/// and periodically (at most every 60 s) for downwardAPI labels and annotations.
pub fn refresh_pod_volumes(host: &VolumeHost<'_>, pod: &Pod) -> RefreshReport {
    let mut report = RefreshReport::default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let plugin = match Plugin::of(volume) {
            Some(Plugin::EmptyDir) | None => continue,
            Some(p) => p,
        };
        let dir = volume_dir(host, pod, plugin, &volume.name);
        if !dir.join(atomic_writer::DATA_DIR).exists() {
            continue;
        }
        let written = volume_payload(host, pod, volume)
            .and_then(|(payload, _)| write_volume(&dir, pod, payload));
        match written {
            Ok(true) => report.updated.push(volume.name.clone()),
            Ok(false) => {}
            Err(reason) => report.errors.push(VolumeError {
                volume: volume.name.clone(),
                reason,
            }),
        }
    }
    report
}

/// Why a pod's or a reclaimed volume's directory could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The path to remove is a symlink: it is not followed.
    #[error("{0} is a symlink; refusing to remove through it")]
    Symlink(PathBuf),
    /// Unmounting or removing failed.
    #[error("cleaning up {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Remove a pod's directory: unmount its tmpfs volumes, then delete the tree without
/// following symlinks or crossing into a mount that is still there. Call it once the pod's
/// containers and sandbox are gone.
pub fn cleanup_pod(pods_dir: &Path, pod_uid: &str) -> Result<(), CleanupError> {
    if pod_uid.is_empty() || pod_uid.contains('/') || pod_uid == "." || pod_uid == ".." {
        return Ok(());
    }
    let dir = pod_dir(pods_dir, pod_uid);
    remove_dir_tree(&dir)
}

fn remove_dir_tree(dir: &Path) -> Result<(), CleanupError> {
    let io = |source| CleanupError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(CleanupError::Symlink(dir.to_path_buf()));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    }
    mounts::unmount_all_under(dir).map_err(io)?;
    mounts::remove_tree(dir).map_err(io)
}

/// The label the local-path provisioner pins its volumes with.
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// Remove the directory of a deleted local-path PersistentVolume if it lives on this node
/// (`node` = this node's `kubernetes.io/hostname`). The server's provisioner only deletes
/// the object; the directory is the node's to remove. Only a directory that is exactly what
/// the provisioner makes (`.../storage/<pv-name>_<namespace>_<claim>`) is removed; returns
/// it, or `None` when the volume is not such a volume of this node or is already gone.
pub fn remove_reclaimed_local_path(
    pv: &PersistentVolume,
    node: &str,
) -> Result<Option<PathBuf>, CleanupError> {
    if !is_local_path(pv) || !pinned_to(pv, node) {
        return Ok(None);
    }
    let name = pv.metadata.name.as_deref().unwrap_or_default();
    let Some(h) = pv.spec.as_ref().and_then(|s| s.host_path.as_ref()) else {
        return Ok(None);
    };
    let path = PathBuf::from(&h.path);
    let dir_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let in_storage = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "storage");
    if name.is_empty()
        || !dir_name.starts_with(&format!("{name}_"))
        || !in_storage
        || !path.is_absolute()
    {
        tracing::warn!(volume = name, path = %path.display(), "not removing a local-path directory outside the provisioner's layout");
        return Ok(None);
    }
    if fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    remove_dir_tree(&path)?;
    Ok(Some(path))
}

/// Whether the volume's required node affinity names `node` by hostname.
fn pinned_to(pv: &PersistentVolume, node: &str) -> bool {
    let terms = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    terms.iter().any(|t| {
        t.match_expressions.iter().flatten().any(|e| {
            e.key == HOSTNAME_LABEL
                && e.operator == "In"
                && e.values.iter().flatten().any(|v| v == node)
        })
    })
}

#[cfg(test)]
mod tests;
