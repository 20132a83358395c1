//! The host side of mounts the agent makes itself (tmpfs for Memory-backed volumes), the
//! mount table, and removing a directory tree without leaving it: symlinks are removed,
//! never followed, and a directory on another file system (a mount still in place) stops
//! the removal.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

/// Mount a tmpfs on `dir` unless something is mounted there already; `size` in bytes
/// (`None`: the kernel's default, half the RAM).
pub fn ensure_tmpfs(dir: &Path, size: Option<u64>) -> io::Result<()> {
    if is_mount_point(dir)? {
        return Ok(());
    }
    let options = size.map(|s| format!("size={s}")).unwrap_or_default();
    let options = CString::new(options).map_err(io::Error::other)?;
    mount(
        "tmpfs",
        dir,
        "tmpfs",
        MountFlags::empty(),
        options.as_c_str(),
    )?;
    Ok(())
}

/// Whether something is mounted on `dir`.
pub fn is_mount_point(dir: &Path) -> io::Result<bool> {
    let dir = fs::canonicalize(dir)?;
    Ok(mount_points()?.contains(&dir))
}

/// Unmount everything mounted at or below `dir`, deepest first.
pub fn unmount_all_under(dir: &Path) -> io::Result<()> {
    let dir = match fs::canonicalize(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut below: Vec<PathBuf> = mount_points()?
        .into_iter()
        .filter(|m| m.starts_with(&dir))
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for point in below {
        // A busy mount is detached: the containers still using it keep it until they stop.
        if let Err(e) = unmount(&point, UnmountFlags::empty()) {
            if e == rustix::io::Errno::BUSY {
                unmount(&point, UnmountFlags::DETACH)?;
            } else if e != rustix::io::Errno::INVAL {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// The mount points of this mount namespace.
fn mount_points() -> io::Result<Vec<PathBuf>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// The mount points (fifth field, octal escapes decoded) of a `/proc/<pid>/mountinfo`.
pub fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .collect()
}

/// `\040` → space, as the kernel escapes space, tab, newline and backslash.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        let octal = digits.filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Remove `path` and everything below it without following symlinks and without crossing
/// into another file system. A missing path is fine.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    remove_dir_on(path, meta.dev())
}

fn remove_dir_on(dir: &Path, device: u64) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            if meta.dev() != device {
                return Err(io::Error::other(format!(
                    "{} is on another file system (still mounted?); not removing it",
                    path.display()
                )));
            }
            remove_dir_on(&path, device)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    fs::remove_dir(dir)
}

#[cfg(test)]
mod tests;
