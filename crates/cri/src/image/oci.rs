//! OCI image-layout archives (what `ctr images import` and `docker load` accept) of a single-layer
//! image made from a list of files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::tar::TarWriter;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// An image to build: its name, its files and how to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The full reference the image is imported as, e.g. `k3rs.local/busybox:test`.
    pub reference: String,
    /// The files of its single layer; missing parent directories are added (mode 0755).
    pub files: Vec<ImageFile>,
    /// `Entrypoint`, `Cmd`, `Env` and `WorkingDir` of the image configuration.
    pub config: ImageConfig,
}

/// How a container of the image runs by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// The command.
    pub entrypoint: Vec<String>,
    /// Its default arguments (the command when there is no entrypoint).
    pub cmd: Vec<String>,
    /// `NAME=value` pairs.
    pub env: Vec<String>,
    /// The working directory (empty: `/`).
    pub working_dir: String,
}

/// A file in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// The absolute path in the image, e.g. `/bin/busybox`.
    pub path: String,
    /// Permission bits (e.g. 0o755); ignored for symbolic links.
    pub mode: u32,
    /// What the path holds.
    pub source: FileSource,
}

/// What an image path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A regular file with these bytes.
    Content(Vec<u8>),
    /// A regular file with the content of this file of the host.
    Host(PathBuf),
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to this other (absolute) image path, listed earlier.
    Hardlink(String),
    /// A directory.
    Directory,
}

impl ImageFile {
    /// A regular file from the host.
    pub fn host(path: &str, mode: u32, host: impl Into<PathBuf>) -> ImageFile {
        ImageFile {
            path: path.to_owned(),
            mode,
            source: FileSource::Host(host.into()),
        }
    }

    /// A regular file with the given bytes.
    pub fn content(path: &str, mode: u32, content: impl Into<Vec<u8>>) -> ImageFile {
        ImageFile {
            path: path.to_owned(),
            mode,
            source: FileSource::Content(content.into()),
        }
    }

    /// A symbolic link.
    pub fn symlink(path: &str, target: &str) -> ImageFile {
        ImageFile {
            path: path.to_owned(),
            mode: 0o777,
            source: FileSource::Symlink(target.to_owned()),
        }
    }

    /// A directory.
    pub fn directory(path: &str, mode: u32) -> ImageFile {
        ImageFile {
            path: path.to_owned(),
            mode,
            source: FileSource::Directory,
        }
    }
}

/// Writes `spec` as an OCI image-layout tar archive to `out`. The layer is produced twice (once
/// to learn its digest, which names it in the archive) so that nothing is buffered in memory.
pub fn write_oci_archive(spec: &ImageSpec, out: impl Write) -> io::Result<()> {
    let entries = layer_entries(&spec.files)?;
    let mut digester = DigestWriter::default();
    write_layer(&entries, &mut digester)?;
    let layer = Descriptor::of(LAYER_TYPE, digester);

    let config =
        serde_json::to_vec(&image_config(spec, &layer.digest)).map_err(io::Error::other)?;
    let config = Blob::new(CONFIG_TYPE, config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config.descriptor.json(),
        "layers": [layer.json()],
    });
    let manifest = Blob::new(
        MANIFEST_TYPE,
        serde_json::to_vec(&manifest).map_err(io::Error::other)?,
    );
    let mut manifest_ref = manifest.descriptor.json();
    manifest_ref["platform"] = json!({"architecture": oci_architecture(), "os": "linux"});
    manifest_ref["annotations"] = json!({
        // containerd names the imported image after this annotation …
        "io.containerd.image.name": spec.reference,
        // … and other tools after the OCI one, which holds the tag.
        "org.opencontainers.image.ref.name": tag_of(&spec.reference),
    });
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [manifest_ref],
    });
    let index = serde_json::to_vec(&index).map_err(io::Error::other)?;

    let mut archive = TarWriter::new(out);
    archive.directory("blobs", 0o755)?;
    archive.directory("blobs/sha256", 0o755)?;
    archive.file_from(&layer.blob_path(), 0o644, layer.size, |w| {
        write_layer(&entries, w)
    })?;
    for blob in [&config, &manifest] {
        let path = blob.descriptor.blob_path();
        archive.file(
            &path,
            0o644,
            blob.descriptor.size,
            &mut blob.bytes.as_slice(),
        )?;
    }
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    archive.file(
        "oci-layout",
        0o644,
        layout.len() as u64,
        &mut layout.as_slice(),
    )?;
    archive.file(
        "index.json",
        0o644,
        index.len() as u64,
        &mut index.as_slice(),
    )?;
    archive.finish()?;
    Ok(())
}

/// Writes the archive of `spec` to the file `path` (through a temporary file next to it, so that
/// a reader never sees half an archive).
pub fn write_oci_archive_file(spec: &ImageSpec, path: &std::path::Path) -> io::Result<()> {
    let partial = path.with_extension("tar.partial");
    let written = File::create(&partial)
        .and_then(|file| write_oci_archive(spec, io::BufWriter::new(file)))
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The layer's entries in archive order: parents before children, each path once.
fn layer_entries(files: &[ImageFile]) -> io::Result<BTreeMap<String, &ImageFile>> {
    let mut entries = BTreeMap::new();
    for file in files {
        let path = relative_path(&file.path)?;
        if entries.insert(path.clone(), file).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is listed twice", file.path),
            ));
        }
    }
    Ok(entries)
}

/// `/a/b/c` as the layer names it (`a/b/c`); `..`, `.` and empty paths are refused.
fn relative_path(path: &str) -> io::Result<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path:?} is not a usable path in an image"),
        ));
    }
    Ok(parts.join("/"))
}

fn write_layer(entries: &BTreeMap<String, &ImageFile>, out: &mut dyn Write) -> io::Result<()> {
    let mut layer = TarWriter::new(out);
    let mut written_dirs = std::collections::BTreeSet::new();
    for (path, file) in entries {
        // Parents the list does not name are made with the usual mode.
        for (i, _) in path.match_indices('/') {
            let parent = &path[..i];
            if !entries.contains_key(parent) && written_dirs.insert(parent.to_owned()) {
                layer.directory(parent, 0o755)?;
            }
        }
        match &file.source {
            FileSource::Content(bytes) => {
                layer.file(path, file.mode, bytes.len() as u64, &mut bytes.as_slice())?;
            }
            FileSource::Host(host) => {
                let mut content = File::open(host)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", host.display())))?;
                let size = content.metadata()?.len();
                layer.file(path, file.mode, size, &mut content)?;
            }
            FileSource::Symlink(target) => layer.symlink(path, target)?,
            FileSource::Hardlink(target) => layer.hardlink(path, &relative_path(target)?)?,
            FileSource::Directory => {
                written_dirs.insert(path.clone());
                layer.directory(path, file.mode)?;
            }
        }
    }
    layer.finish()?;
    Ok(())
}

fn image_config(spec: &ImageSpec, layer_digest: &str) -> serde_json::Value {
    let c = &spec.config;
    let mut config = serde_json::Map::new();
    for (key, list) in [
        ("Entrypoint", &c.entrypoint),
        ("Cmd", &c.cmd),
        ("Env", &c.env),
    ] {
        if !list.is_empty() {
            config.insert(key.to_owned(), json!(list));
        }
    }
    if !c.working_dir.is_empty() {
        config.insert("WorkingDir".to_owned(), json!(c.working_dir));
    }
    json!({
        "architecture": oci_architecture(),
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
}

/// The OCI (Go) name of this machine's architecture.
pub fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "x86" => "386",
        other => other,
    }
}

/// The tag of a reference (`latest` when it has none).
pub(super) fn tag_of(reference: &str) -> &str {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    match name.split_once(':') {
        Some((_, tag)) if !name.contains('@') => tag,
        _ => "latest",
    }
}

/// A content descriptor: media type, digest, size.
#[derive(Debug, Clone)]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: u64,
}

impl Descriptor {
    fn of(media_type: &'static str, digester: DigestWriter) -> Descriptor {
        Descriptor {
            media_type,
            digest: format!("sha256:{}", hex(&digester.hash.finalize())),
            size: digester.size,
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }

    fn blob_path(&self) -> String {
        format!("blobs/{}", self.digest.replacen(':', "/", 1))
    }
}

/// A small blob held in memory (configuration, manifest).
struct Blob {
    descriptor: Descriptor,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        let mut digester = DigestWriter::default();
        digester.hash.update(&bytes);
        digester.size = bytes.len() as u64;
        Blob {
            descriptor: Descriptor::of(media_type, digester),
            bytes,
        }
    }
}

/// A sink that only hashes and counts what is written to it.
#[derive(Default)]
struct DigestWriter {
    hash: Sha256,
    size: u64,
}

impl Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
