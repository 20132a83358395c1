//! The pause image: the k3rs binary itself, run as `k3rs pause`, with the dynamic loader and the
//! shared libraries it has mapped placed at the same paths, so that it runs in an otherwise empty
//! image without a registry.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::oci::{ImageConfig, ImageFile, ImageSpec};

/// The reference of the pause image of this k3rs version.
pub const PAUSE_IMAGE: &str = concat!("k3rs.local/pause:", env!("CARGO_PKG_VERSION"));
/// Where the binary is in the pause image.
const BINARY_IN_IMAGE: &str = "/k3rs";
/// ELF program header type of the interpreter (dynamic loader) path.
const PT_INTERP: u32 = 3;

/// The pause image made from the process described by `proc_dir` (`/proc/self`, or
/// `/proc/<pid>` of a running `k3rs pause`): its executable, and the loader and libraries in its
/// memory map.
pub fn pause_image_spec(proc_dir: &Path) -> io::Result<ImageSpec> {
    let exe = proc_dir.join("exe");
    let maps = std::fs::read_to_string(proc_dir.join("maps"))?;
    let executable = std::fs::read_link(&exe)?;
    let interpreter = elf_interpreter(&mut File::open(&exe)?)?;
    // The file on disk, so that the spec outlives the process; `/proc/…/exe` when the binary
    // was replaced or removed since it started.
    let binary = if executable.to_string_lossy().ends_with(" (deleted)") {
        exe
    } else {
        executable.clone()
    };
    let mut files = vec![ImageFile::host(BINARY_IN_IMAGE, 0o755, binary)];
    let libraries = mapped_libraries(&maps, &executable);
    for library in &libraries {
        files.push(ImageFile::host(&library.to_string_lossy(), 0o755, library));
    }
    // The kernel looks the loader up by the path written in the binary, which usually is a
    // symbolic link (/lib64/ld-linux-x86-64.so.2) to the file the map shows.
    if let Some(interpreter) = interpreter
        && !libraries.contains(&interpreter)
    {
        let target = std::fs::canonicalize(&interpreter)?;
        let file = if libraries.contains(&target) {
            ImageFile::symlink(&interpreter.to_string_lossy(), &target.to_string_lossy())
        } else {
            ImageFile::host(&interpreter.to_string_lossy(), 0o755, target)
        };
        files.push(file);
    }
    Ok(ImageSpec {
        reference: PAUSE_IMAGE.to_owned(),
        files,
        config: ImageConfig {
            entrypoint: vec![BINARY_IN_IMAGE.to_owned(), "pause".to_owned()],
            ..ImageConfig::default()
        },
    })
}

/// The shared objects (`*.so*`) a `/proc/<pid>/maps` shows mapped, apart from `executable`.
pub fn mapped_libraries(maps: &str, executable: &Path) -> BTreeSet<PathBuf> {
    maps.lines()
        .filter_map(mapped_path)
        .filter(|path| !path.ends_with(" (deleted)"))
        .map(PathBuf::from)
        .filter(|path| {
            path != executable
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().contains(".so"))
        })
        .collect()
}

/// The path column of a maps line (`address perms offset dev inode path`), when it is a file.
fn mapped_path(line: &str) -> Option<&str> {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start().split_once(char::is_whitespace)?.1;
    }
    let path = rest.trim();
    path.starts_with('/').then_some(path)
}

/// The interpreter (`PT_INTERP`) an ELF64 little-endian executable names, if it has one
/// (statically linked binaries have none).
pub fn elf_interpreter(elf: &mut (impl Read + Seek)) -> io::Result<Option<PathBuf>> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a 64-bit little-endian ELF file: {what}"),
        )
    };
    let mut header = [0u8; 64];
    elf.read_exact(&mut header)?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(bad("bad identification"));
    }
    let phoff = u64_at(&header, 0x20);
    let phentsize = u64::from(u16_at(&header, 0x36));
    let phnum = u64::from(u16_at(&header, 0x38));
    if phentsize < 56 {
        return Err(bad("program headers too small"));
    }
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        elf.seek(SeekFrom::Start(phoff + i * phentsize))?;
        elf.read_exact(&mut ph)?;
        if u32_at(&ph, 0) != PT_INTERP {
            continue;
        }
        let (offset, size) = (u64_at(&ph, 8), u64_at(&ph, 32));
        if size > 4096 {
            return Err(bad("interpreter path too long"));
        }
        let mut path = vec![0u8; usize::try_from(size).map_err(|_| bad("interpreter size"))?];
        elf.seek(SeekFrom::Start(offset))?;
        elf.read_exact(&mut path)?;
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        path.truncate(end);
        let path = String::from_utf8(path).map_err(|_| bad("interpreter path is not UTF-8"))?;
        return Ok(Some(PathBuf::from(path)));
    }
    Ok(None)
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    b.copy_from_slice(&bytes[at..at + 2]);
    u16::from_le_bytes(b)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}
