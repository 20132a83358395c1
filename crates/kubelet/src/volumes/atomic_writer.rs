//! Upstream's atomic writer layout for volumes whose content follows API objects, so a
//! running container sees a whole new version at once and never a mix:
//!
//! ```text
//! <volume>/..2026_11_23_03_04_05.123456789/key   the files of one version
//! <volume>/..data -> ..2026_11_23_03_04_05.123456789
//! <volume>/key -> ..data/key                    what the container sees
//! ```
//!
//! A new version is written to a fresh timestamped directory, then `..data` is replaced by
//! renaming a new symlink over it (atomic), then the old version is removed.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::payload::{FileProjection, Payload, clean_path, validate_path};

/// The symlink naming the current version.
pub const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";

/// Why a payload could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A payload path that is not allowed (see [`validate_path`]).
    #[error("{0}")]
    InvalidPath(String),
    /// A file system operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_err<'p>(
    what: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> WriteError + use<'p> {
    move |source| WriteError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Make `target` (an existing directory) show exactly `payload`, its files and directories
/// owned by `group` when given (the pod's fsGroup). Returns whether anything changed: an
/// identical payload (content, modes and group) leaves the volume untouched.
pub fn write_payload(
    target: &Path,
    payload: &Payload,
    group: Option<u32>,
) -> Result<bool, WriteError> {
    let mut cleaned = Payload::new();
    for (path, file) in payload {
        validate_path(path).map_err(WriteError::InvalidPath)?;
        cleaned.insert(clean_path(path), file.clone());
    }
    let data_link = target.join(DATA_DIR);
    let old_version = fs::read_link(&data_link).ok();
    let visible: BTreeSet<String> = cleaned.keys().map(|p| top_level(p).to_string()).collect();
    if let Some(old) = &old_version {
        let unchanged = version_matches(&target.join(old), &cleaned, group)?
            && visible
                .iter()
                .all(|v| target.join(v).symlink_metadata().is_ok());
        if unchanged {
            return Ok(false);
        }
    }
    let old_visible: BTreeSet<String> = match &old_version {
        Some(old) => list_files(&target.join(old))?
            .iter()
            .map(|p| top_level(p).to_string())
            .collect(),
        None => BTreeSet::new(),
    };

    let version = new_version_dir(target)?;
    set_group(&version, group)?;
    for (path, file) in &cleaned {
        write_file(&version, path, file, group)?;
    }
    for name in &visible {
        let link = target.join(name);
        if link.symlink_metadata().is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link).map_err(io_err("symlink", &link))?;
        }
    }
    let tmp = target.join(DATA_DIR_TMP);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove", &tmp)(e)),
    }
    let version_name = version.file_name().map(PathBuf::from).unwrap_or_default();
    symlink(&version_name, &tmp).map_err(io_err("symlink", &tmp))?;
    fs::rename(&tmp, &data_link).map_err(io_err("rename", &data_link))?;

    for gone in old_visible.difference(&visible) {
        let link = target.join(gone);
        if link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            fs::remove_file(&link).map_err(io_err("remove", &link))?;
        }
    }
    if let Some(old) = old_version {
        let old = target.join(old);
        // Only a version directory of ours, never whatever `..data` was made to point at.
        if old.parent() == Some(target) && is_version_name(&old) {
            fs::remove_dir_all(&old).map_err(io_err("remove", &old))?;
        }
    }
    Ok(true)
}

fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

fn is_version_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("..") && n.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
}

/// A new, empty `..<UTC timestamp>.<nanoseconds>` directory in `target`.
fn new_version_dir(target: &Path) -> Result<PathBuf, WriteError> {
    let format =
        time::macros::format_description!("..[year]_[month]_[day]_[hour]_[minute]_[second]");
    let now = time::OffsetDateTime::now_utc();
    let stamp = now.format(&format).unwrap_or_else(|_| "..0".to_string());
    let mut nanos = now.nanosecond();
    loop {
        let dir = target.join(format!("{stamp}.{nanos:09}"));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .map_err(io_err("chmod", &dir))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => nanos = nanos.wrapping_add(1),
            Err(e) => return Err(io_err("mkdir", &dir)(e)),
        }
    }
}

/// Write `version/rel`, making (and giving `group`) the directories on the way.
fn write_file(
    version: &Path,
    rel: &str,
    file: &FileProjection,
    group: Option<u32>,
) -> Result<(), WriteError> {
    let mut dir = version.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        if !dir.is_dir() {
            fs::create_dir(&dir).map_err(io_err("mkdir", &dir))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                .map_err(io_err("chmod", &dir))?;
            set_group(&dir, group)?;
        }
    }
    let path = version.join(rel);
    fs::write(&path, &file.data).map_err(io_err("write", &path))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(file.mode))
        .map_err(io_err("chmod", &path))?;
    set_group(&path, group)
}

fn set_group(path: &Path, group: Option<u32>) -> Result<(), WriteError> {
    match group {
        Some(gid) => std::os::unix::fs::chown(path, None, Some(gid)).map_err(io_err("chown", path)),
        None => Ok(()),
    }
}

/// Whether the version directory `dir` holds exactly `payload` (owned by `group`, if given).
fn version_matches(dir: &Path, payload: &Payload, group: Option<u32>) -> Result<bool, WriteError> {
    let existing = list_files(dir)?;
    if existing.len() != payload.len() {
        return Ok(false);
    }
    for (path, file) in payload {
        let full = dir.join(path);
        let Ok(meta) = full.symlink_metadata() else {
            return Ok(false);
        };
        let wrong_group = group.is_some_and(|g| meta.gid() != g);
        if !meta.is_file() || meta.permissions().mode() & 0o777 != file.mode || wrong_group {
            return Ok(false);
        }
        if fs::read(&full).map_err(io_err("read", &full))? != file.data {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The files under `dir`, as paths relative to it.
fn list_files(dir: &Path) -> Result<Vec<String>, WriteError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("read", &path))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type().map_err(io_err("stat", &entry.path()))?;
            if file_type.is_dir() {
                stack.push((entry.path(), child_rel));
            } else {
                out.push(child_rel);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
