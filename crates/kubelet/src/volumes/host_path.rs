//! hostPath `type` checks as upstream's hostPath plugin makes them: what must exist, what is
//! created (a directory 0755 with DirectoryOrCreate, an empty file 0644 with FileOrCreate,
//! whose parent must exist), and the messages when the path is something else.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What is at a path (following symlinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A regular file.
    File,
    /// A Unix socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else (a FIFO).
    Other,
}

/// What to do before the path can be mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: the path is as required.
    None,
    /// Create the directory (and its parents).
    MakeDirectory,
    /// Create an empty file.
    MakeFile,
}

/// Decide from the path's `kind` (`None` when nothing is there) and the volume's `type`.
pub fn check(path: &str, type_: Option<&str>, kind: Option<FileKind>) -> Result<Action, String> {
    let is = |wanted: FileKind| kind == Some(wanted);
    let fail = |what: &str| Err(format!("hostPath type check failed: {path} is not {what}"));
    match type_.unwrap_or_default() {
        "" => Ok(Action::None),
        "DirectoryOrCreate" if kind.is_none() => Ok(Action::MakeDirectory),
        "DirectoryOrCreate" | "Directory" if is(FileKind::Directory) => Ok(Action::None),
        "DirectoryOrCreate" | "Directory" => fail("a directory"),
        "FileOrCreate" if kind.is_none() => Ok(Action::MakeFile),
        "FileOrCreate" | "File" if is(FileKind::File) => Ok(Action::None),
        "FileOrCreate" | "File" => fail("a file"),
        "Socket" if is(FileKind::Socket) => Ok(Action::None),
        "Socket" => fail("a socket file"),
        "CharDevice" if is(FileKind::CharDevice) => Ok(Action::None),
        "CharDevice" => fail("a character device"),
        "BlockDevice" if is(FileKind::BlockDevice) => Ok(Action::None),
        "BlockDevice" => fail("a block device"),
        other => Err(format!("{other} is an invalid volume type")),
    }
}

/// What is at `path` now, following symlinks.
pub fn kind_of(path: &Path) -> io::Result<Option<FileKind>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let t = meta.file_type();
    Ok(Some(if t.is_dir() {
        FileKind::Directory
    } else if t.is_file() {
        FileKind::File
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    }))
}

/// Check `path` against `type_` and create it when the type says so; `dir_mode` is the
/// mode of a created directory (0755 for hostPath volumes).
pub fn prepare(path: &Path, type_: Option<&str>, dir_mode: u32) -> Result<(), String> {
    let shown = path.display().to_string();
    let kind = kind_of(path).map_err(|e| format!("{shown}: {e}"))?;
    match check(&shown, type_, kind)? {
        Action::None => Ok(()),
        Action::MakeDirectory => {
            fs::create_dir_all(path).map_err(|e| format!("mkdir {shown}: {e}"))?;
            fs::set_permissions(path, fs::Permissions::from_mode(dir_mode))
                .map_err(|e| format!("chmod {shown}: {e}"))
        }
        Action::MakeFile => fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(path)
            .map(drop)
            .map_err(|e| format!("open {shown}: {e}")),
    }
}

#[cfg(test)]
mod tests;
