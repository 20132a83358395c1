//! Images without a registry: OCI archives written by k3rs (the pause image from its own binary,
//! a busybox image for tests), imported into containerd with its `ctr` tool (namespace `k8s.io`,
//! where CRI sees them), and listed through CRI.

mod oci;
mod pause;
mod tar;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use oci::{
    FileSource, ImageConfig, ImageFile, ImageSpec, oci_architecture, write_oci_archive,
    write_oci_archive_file,
};
pub use pause::{PAUSE_IMAGE, elf_interpreter, mapped_libraries, pause_image_spec};
pub use tar::TarWriter;

use crate::v1::{
    self, ImageSpec as CriImageSpec, ImageStatusRequest, ListImagesRequest, StatusRequest,
};
use crate::{CriClient, CriError};

/// The busybox image tests run (built by [`write_busybox_test_image`]).
pub const BUSYBOX_TEST_IMAGE: &str = "k3rs.local/busybox:test";
/// containerd's namespace for CRI's images and containers.
const CRI_NAMESPACE: &str = "k8s.io";
/// containerd's command-line client, which ships with it.
const CTR: &str = "ctr";
/// The `PATH` of images built here, as in most base images.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why an image could not be built, imported or listed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Writing the image archive failed.
    #[error("cannot build the image {reference}: {source}")]
    Build {
        /// The image.
        reference: String,
        /// The cause.
        source: io::Error,
    },
    /// `ctr` could not be run.
    #[error("cannot run `{CTR}` (it ships with containerd; install containerd): {0}")]
    Ctr(io::Error),
    /// containerd refused the archive.
    #[error("cannot import {what}: {message}")]
    Import {
        /// The archive file or image.
        what: String,
        /// What `ctr` said.
        message: String,
    },
    /// A CRI call failed.
    #[error(transparent)]
    Cri(#[from] CriError),
}

/// Imports an image archive (OCI layout or `docker save`) into containerd, unpacked into
/// `snapshotter` (containerd's default when `None`) so that CRI can run it at once.
pub async fn import_archive(
    containerd_socket: &Path,
    snapshotter: Option<&str>,
    archive: &Path,
) -> Result<(), ImageError> {
    let command = ctr_import(containerd_socket, snapshotter, archive.as_os_str());
    let what = archive.display().to_string();
    run_blocking(move || run_import(command, &what, |_| Ok(()))).await
}

/// Builds `spec` and imports it into containerd, streaming the archive to `ctr`.
pub async fn import_image(
    containerd_socket: &Path,
    snapshotter: Option<&str>,
    spec: ImageSpec,
) -> Result<(), ImageError> {
    let command = ctr_import(containerd_socket, snapshotter, "-".as_ref());
    run_blocking(move || {
        run_import(command, &spec.reference, |stdin| {
            write_oci_archive(&spec, io::BufWriter::new(stdin))
        })
    })
    .await
}

/// Imports every `*.tar` in `dir` (k3s's airgap images directory), in name order. A missing
/// directory holds no images. Returns each archive with its outcome.
pub async fn import_dir(
    containerd_socket: &Path,
    snapshotter: Option<&str>,
    dir: &Path,
) -> io::Result<Vec<(PathBuf, Result<(), ImageError>)>> {
    let mut archives = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "tar") && path.is_file() {
                    archives.push(path);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    archives.sort();
    let mut outcomes = Vec::with_capacity(archives.len());
    for archive in archives {
        let outcome = import_archive(containerd_socket, snapshotter, &archive).await;
        match &outcome {
            Ok(()) => tracing::info!(archive = %archive.display(), "imported images"),
            Err(e) => tracing::error!(error = %e, "cannot import an airgap image archive"),
        }
        outcomes.push((archive, outcome));
    }
    Ok(outcomes)
}

/// Imports the pause image made from this process's own binary, unless containerd has it.
pub async fn ensure_pause_image(
    client: &CriClient,
    containerd_socket: &Path,
    snapshotter: Option<&str>,
) -> Result<(), ImageError> {
    if image_present(client, PAUSE_IMAGE).await? {
        return Ok(());
    }
    let spec = pause_image_spec(Path::new("/proc/self")).map_err(|source| ImageError::Build {
        reference: PAUSE_IMAGE.to_owned(),
        source,
    })?;
    import_image(containerd_socket, snapshotter, spec).await?;
    tracing::info!(image = PAUSE_IMAGE, "imported the pause image");
    Ok(())
}

/// The images the runtime has, through CRI.
pub async fn list_images(client: &CriClient) -> Result<Vec<v1::Image>, CriError> {
    let response = client
        .images()
        .list_images(ListImagesRequest { filter: None })
        .await?;
    Ok(response.into_inner().images)
}

/// Whether the runtime has the image `reference`.
pub async fn image_present(client: &CriClient, reference: &str) -> Result<bool, CriError> {
    let response = client
        .images()
        .image_status(ImageStatusRequest {
            image: Some(CriImageSpec {
                image: reference.to_owned(),
                ..CriImageSpec::default()
            }),
            verbose: false,
        })
        .await?;
    Ok(response.into_inner().image.is_some())
}

/// The snapshotter containerd's CRI unpacks images into, from its verbose status (`None` when
/// the runtime does not say).
pub async fn cri_snapshotter(client: &CriClient) -> Result<Option<String>, CriError> {
    let response = client
        .runtime()
        .status(StatusRequest { verbose: true })
        .await?;
    let info = response.into_inner().info;
    Ok(info
        .get("config")
        .and_then(|config| serde_json::from_str::<serde_json::Value>(config).ok())
        .and_then(|config| {
            config
                .pointer("/containerd/snapshotter")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        }))
}

/// A busybox image: the (static) `busybox` binary with a link per applet in /bin, root and
/// nobody in /etc/passwd and /etc/group, a /tmp, and `sh` as its command.
pub fn busybox_image_spec(reference: &str, busybox: &Path, applets: &[String]) -> ImageSpec {
    let mut files = vec![
        ImageFile::host("/bin/busybox", 0o755, busybox),
        ImageFile::content(
            "/etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ImageFile::content("/etc/group", 0o644, "root:x:0:\nnobody:x:65534:\n"),
        ImageFile::directory("/tmp", 0o1777),
        ImageFile::directory("/root", 0o700),
        ImageFile::directory("/var/www", 0o755),
        ImageFile::symlink("/usr/bin/env", "/bin/busybox"),
    ];
    files.extend(
        applets
            .iter()
            .filter(|a| !a.is_empty() && !a.contains('/') && a.as_str() != "busybox")
            .map(|applet| ImageFile::symlink(&format!("/bin/{applet}"), "busybox")),
    );
    ImageSpec {
        reference: reference.to_owned(),
        files,
        config: ImageConfig {
            cmd: vec!["sh".to_owned()],
            env: vec![DEFAULT_PATH.to_owned()],
            ..ImageConfig::default()
        },
    }
}

/// Writes [`BUSYBOX_TEST_IMAGE`] from the host's static busybox (Debian's busybox-static) to
/// the archive file `out`.
pub fn write_busybox_test_image(out: &Path) -> io::Result<()> {
    let busybox = Path::new("/bin/busybox");
    let listed = Command::new(busybox).arg("--list").output()?;
    if !listed.status.success() {
        return Err(io::Error::other(format!(
            "{} --list failed ({}); install busybox-static",
            busybox.display(),
            listed.status
        )));
    }
    let applets: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    write_oci_archive_file(
        &busybox_image_spec(BUSYBOX_TEST_IMAGE, busybox, &applets),
        out,
    )
}

fn ctr_import(socket: &Path, snapshotter: Option<&str>, input: &std::ffi::OsStr) -> Command {
    let mut command = Command::new(CTR);
    command
        .arg("--address")
        .arg(socket)
        .args(["--namespace", CRI_NAMESPACE, "images", "import"]);
    if let Some(snapshotter) = snapshotter {
        command.args(["--snapshotter", snapshotter]);
    }
    command.arg(input);
    command
}

/// Runs a `ctr images import`, feeding its standard input with `feed`.
fn run_import(
    mut command: Command,
    what: &str,
    feed: impl FnOnce(std::process::ChildStdin) -> io::Result<()>,
) -> Result<(), ImageError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ImageError::Ctr)?;
    let fed = match child.stdin.take() {
        Some(stdin) => feed(stdin),
        None => Ok(()),
    };
    let output = child.wait_with_output().map_err(ImageError::Ctr)?;
    match fed {
        // A broken pipe only means that ctr stopped reading: what it said explains why.
        Err(source) if source.kind() != io::ErrorKind::BrokenPipe => {
            return Err(ImageError::Build {
                reference: what.to_owned(),
                source,
            });
        }
        _ if !output.status.success() => {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(ImageError::Import {
                what: what.to_owned(),
                message: format!("ctr {}: {}", output.status, said.trim()),
            });
        }
        fed => fed.map_err(|source| ImageError::Build {
            reference: what.to_owned(),
            source,
        })?,
    }
    tracing::debug!(image = what, output = %String::from_utf8_lossy(&output.stdout).trim(), "ctr import");
    Ok(())
}

async fn run_blocking(
    work: impl FnOnce() -> Result<(), ImageError> + Send + 'static,
) -> Result<(), ImageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ImageError::Ctr(io::Error::other(e)))?
}
