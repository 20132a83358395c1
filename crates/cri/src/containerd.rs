//! Supervision of the host's containerd: the agent writes its configuration, starts it as a child
//! process in its own process group (so it outlives an agent killed with SIGKILL and keeps the
//! containers' shims company), adopts one left running by a previous agent, restarts it with
//! back-off when it dies, and stops it on shutdown.

mod config;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{
    ConfigValues, TemplateError, may_lower_oom_score, render_config, render_template,
};

use crate::{CriClient, CriError};

/// How long a starting (or adopted) containerd has to answer on its socket.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// First and longest pause before restarting a containerd that died.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A containerd that ran this long before dying is restarted after the shortest pause again.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// How much of containerd's log a start failure quotes.
const LOG_TAIL_BYTES: u64 = 2048;

/// Where the agent's containerd lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdOptions {
    /// `<data-dir>/agent`: configuration, containerd's root and its log.
    pub agent_dir: PathBuf,
    /// The run directory (`/run/k3rs`): containerd's state and socket.
    pub run_dir: PathBuf,
    /// The image CRI runs pod sandboxes from.
    pub sandbox_image: String,
    /// Where the CNI plugin binaries are.
    pub cni_bin_dir: PathBuf,
    /// The containerd executable (looked up in `PATH` when it has no slash).
    pub binary: PathBuf,
}

impl ContainerdOptions {
    /// The defaults: the host's `containerd` and CNI plugins from [`default_cni_bin_dir`].
    pub fn new(agent_dir: &Path, run_dir: &Path, sandbox_image: &str) -> ContainerdOptions {
        ContainerdOptions {
            agent_dir: agent_dir.to_owned(),
            run_dir: run_dir.to_owned(),
            sandbox_image: sandbox_image.to_owned(),
            cni_bin_dir: default_cni_bin_dir(),
            binary: PathBuf::from("containerd"),
        }
    }

    /// `<agent-dir>/etc/containerd/config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.agent_dir.join("etc/containerd/config.toml")
    }

    /// `<agent-dir>/etc/containerd/config.toml.tmpl`: the user's override.
    pub fn template_path(&self) -> PathBuf {
        self.agent_dir.join("etc/containerd/config.toml.tmpl")
    }

    /// `<agent-dir>/etc/cni/net.d`: the CNI configuration directory CRI reads.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.agent_dir.join("etc/cni/net.d")
    }

    /// `<agent-dir>/containerd/containerd.log`.
    pub fn log_path(&self) -> PathBuf {
        self.agent_dir.join("containerd/containerd.log")
    }

    /// `<run-dir>/containerd/containerd.sock`.
    pub fn socket_path(&self) -> PathBuf {
        socket_path(&self.run_dir)
    }

    fn pid_path(&self) -> PathBuf {
        self.run_dir.join("containerd/containerd.pid")
    }
}

/// The socket of the agent's containerd under a run directory.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join("containerd/containerd.sock")
}

/// Debian installs the CNI plugins in /usr/lib/cni; everyone else in /opt/cni/bin.
pub fn default_cni_bin_dir() -> PathBuf {
    let debian = Path::new("/usr/lib/cni");
    if debian.join("bridge").exists() {
        debian.to_owned()
    } else {
        PathBuf::from("/opt/cni/bin")
    }
}

/// Why containerd could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// The user's configuration template is not understood.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// containerd exited while starting.
    #[error("containerd exited while starting ({status}); its log {log} ends with:\n{tail}")]
    Exited {
        /// How it exited.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of the log.
        tail: String,
    },
    /// containerd did not answer on its socket in time.
    #[error("containerd did not answer on its socket (see its log {log}): {source}")]
    NotAnswering {
        /// Its log file.
        log: PathBuf,
        /// The last connection error.
        source: CriError,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> ContainerdError {
    move |source| ContainerdError::Io {
        what: what.into(),
        source,
    }
}

/// A running containerd (started, adopted, or found unsupervised on the socket) and its supervisor.
#[derive(Debug)]
pub struct Containerd {
    client: CriClient,
    snapshotter: String,
    pid: watch::Receiver<Option<u32>>,
    stop: Option<oneshot::Sender<Duration>>,
    supervisor: Option<JoinHandle<()>>,
}

impl Containerd {
    /// Writes the configuration and starts containerd, or adopts the one a previous agent left
    /// running, then waits until it answers CRI calls. The supervisor restarts it when it dies.
    pub async fn start(options: ContainerdOptions) -> Result<Containerd, ContainerdError> {
        let socket = options.socket_path();
        for dir in [
            options.agent_dir.join("etc/containerd"),
            options.agent_dir.join("containerd"),
            options.cni_conf_dir(),
            options.run_dir.join("containerd"),
        ] {
            fs::create_dir_all(&dir).map_err(io_error(format!("create {}", dir.display())))?;
        }
        let values = config_values(&options);
        write_config(&options, &values)?;
        let launcher = Launcher {
            config: options.config_path(),
            options,
        };
        let (pid_tx, pid) = watch::channel(None);
        let process = match launcher.find_running() {
            Some(process) => {
                tracing::info!(pid = process.pid(), "adopting the running containerd");
                process
            }
            None => {
                if let Ok(client) = CriClient::connect_within(&socket, Duration::ZERO).await {
                    tracing::warn!(
                        socket = %socket.display(),
                        "a containerd this agent did not start answers on the socket; using it unsupervised"
                    );
                    return Ok(Containerd {
                        client,
                        snapshotter: values.snapshotter,
                        pid,
                        stop: None,
                        supervisor: None,
                    });
                }
                launcher.spawn()?
            }
        };
        let mut process = process;
        let client = launcher.wait_answering(&mut process).await?;
        pid_tx.send_replace(Some(process.pid()));
        let (stop, stop_rx) = oneshot::channel();
        let supervisor = tokio::spawn(supervise(launcher, process, pid_tx, stop_rx));
        Ok(Containerd {
            client,
            snapshotter: values.snapshotter,
            pid,
            stop: Some(stop),
            supervisor: Some(supervisor),
        })
    }

    /// A CRI client on containerd's socket (it reconnects by itself after a restart).
    pub fn client(&self) -> &CriClient {
        &self.client
    }

    /// containerd's socket (also its CRI endpoint).
    pub fn socket(&self) -> &Path {
        self.client.socket()
    }

    /// The snapshotter images must be unpacked into for CRI.
    pub fn snapshotter(&self) -> &str {
        &self.snapshotter
    }

    /// containerd's process ID; `None` while it is being restarted or when it is not supervised.
    pub fn pid(&self) -> Option<u32> {
        *self.pid.borrow()
    }

    /// Follows containerd's process ID across restarts.
    pub fn watch_pid(&self) -> watch::Receiver<Option<u32>> {
        self.pid.clone()
    }

    /// Stops containerd: SIGTERM, then SIGKILL after `grace`. Running containers keep running
    /// (their shims are separate processes). Dropping a `Containerd` instead leaves containerd
    /// running for the next agent to adopt.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(grace);
        }
        if let Some(supervisor) = self.supervisor.take()
            && let Err(e) = supervisor.await
        {
            tracing::error!(error = %e, "the containerd supervisor failed");
        }
    }
}

fn config_values(options: &ContainerdOptions) -> ConfigValues {
    let restrict_oom_score_adj = !fs::read_to_string("/proc/self/status")
        .map(|status| may_lower_oom_score(&status))
        .unwrap_or(false);
    let root = options.agent_dir.join("containerd");
    ConfigValues {
        snapshotter: if overlay_usable(&root) {
            "overlayfs"
        } else {
            "native"
        }
        .to_owned(),
        root,
        state: options.run_dir.join("containerd/state"),
        address: options.socket_path(),
        sandbox_image: options.sandbox_image.clone(),
        cni_bin_dir: options.cni_bin_dir.clone(),
        cni_conf_dir: options.cni_conf_dir(),
        restrict_oom_score_adj,
    }
}

fn write_config(options: &ContainerdOptions, values: &ConfigValues) -> Result<(), ContainerdError> {
    let template_path = options.template_path();
    let text = match fs::read_to_string(&template_path) {
        Ok(template) => {
            tracing::info!(template = %template_path.display(), "using the user's containerd configuration template");
            render_template(&template, values)?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => render_config(values),
        Err(e) => return Err(io_error(format!("read {}", template_path.display()))(e)),
    };
    let path = options.config_path();
    fs::write(&path, text).map_err(io_error(format!("write {}", path.display())))
}

/// Whether an overlay filesystem can be mounted with its upper layer under `root` (it cannot on
/// some filesystems, e.g. overlay itself, nor without the privilege to mount).
fn overlay_usable(root: &Path) -> bool {
    let known = fs::read_to_string("/proc/filesystems").is_ok_and(|list| {
        list.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    });
    if !known {
        return false;
    }
    let probe = root.join(format!("overlay-probe-{}", std::process::id()));
    let usable = try_overlay_mount(&probe).is_ok();
    if let Err(e) = fs::remove_dir_all(&probe) {
        tracing::debug!(error = %e, probe = %probe.display(), "cannot remove the overlay probe");
    }
    usable
}

fn try_overlay_mount(probe: &Path) -> io::Result<()> {
    let dirs = ["lower", "upper", "work", "merged"].map(|d| probe.join(d));
    for dir in &dirs {
        fs::create_dir_all(dir)?;
    }
    let [lower, upper, work, merged] = &dirs;
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let c = |s: &str| std::ffi::CString::new(s).map_err(io::Error::other);
    let (source, target, data) = (c("overlay")?, c(&merged.to_string_lossy())?, c(&data)?);
    // SAFETY: every pointer is a NUL-terminated string that outlives the call.
    let mounted = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if mounted != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts containerd processes and recognises the ones it started before.
#[derive(Debug)]
struct Launcher {
    options: ContainerdOptions,
    config: PathBuf,
}

impl Launcher {
    /// The containerd a previous agent started with this configuration, if it still runs.
    fn find_running(&self) -> Option<Process> {
        let pid: u32 = fs::read_to_string(self.options.pid_path())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if !started_with_config(&cmdline, &self.config) {
            return None;
        }
        match Process::adopt(pid) {
            Ok(process) => Some(process),
            Err(e) => {
                tracing::warn!(pid, error = %e, "cannot watch the running containerd; starting another");
                None
            }
        }
    }

    fn spawn(&self) -> Result<Process, ContainerdError> {
        let log_path = self.options.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_error(format!("open {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_error(format!("open {}", log_path.display())))?;
        let child = tokio::process::Command::new(&self.options.binary)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a terminal's Ctrl-C or hang-up for the agent spares it.
            .process_group(0)
            .spawn()
            .map_err(io_error(format!(
                "start {} (install containerd, or pass --container-runtime-endpoint)",
                self.options.binary.display()
            )))?;
        let pid = child
            .id()
            .ok_or_else(|| io_error("start containerd")(io::Error::other("it exited at once")))?;
        let pid_path = self.options.pid_path();
        fs::write(&pid_path, format!("{pid}\n"))
            .map_err(io_error(format!("write {}", pid_path.display())))?;
        tracing::info!(pid, config = %self.config.display(), "started containerd");
        Ok(Process::Child(child))
    }

    async fn wait_answering(&self, process: &mut Process) -> Result<CriClient, ContainerdError> {
        let log = self.options.log_path();
        let socket = self.options.socket_path();
        tokio::select! {
            answered = CriClient::connect_within(&socket, START_TIMEOUT) => {
                answered.map_err(|source| ContainerdError::NotAnswering { log, source })
            }
            status = process.exited() => Err(ContainerdError::Exited {
                status: match status {
                    Ok(Some(status)) => status.to_string(),
                    Ok(None) => "exited".to_owned(),
                    Err(e) => e.to_string(),
                },
                tail: log_tail(&log).unwrap_or_default(),
                log,
            }),
        }
    }

    fn forget_pid(&self) {
        let _ = fs::remove_file(self.options.pid_path());
    }
}

/// Whether a `/proc/<pid>/cmdline` is containerd's started with `--config <config>`.
fn started_with_config(cmdline: &[u8], config: &Path) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let config = config.as_os_str().as_encoded_bytes();
    args.first().is_some_and(|exe| exe.ends_with(b"containerd"))
        && args
            .windows(2)
            .any(|w| w[0] == b"--config" && w[1] == config)
}

fn log_tail(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok(String::from_utf8_lossy(&tail).into_owned())
}

/// A containerd process: our child, or one adopted from a previous agent (watched via a pidfd).
#[derive(Debug)]
enum Process {
    Child(tokio::process::Child),
    Adopted { pid: u32, pidfd: AsyncFd<OwnedFd> },
}

impl Process {
    fn adopt(pid: u32) -> io::Result<Process> {
        let raw_pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw_pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(fd).map_err(io::Error::other)?;
        // SAFETY: the kernel just returned this descriptor and nothing else owns it; the
        // `OwnedFd` moved into the `AsyncFd` keeps it open for the `AsyncFd`'s lifetime.
        let pidfd = unsafe {
            let owned = OwnedFd::from_raw_fd(fd);
            AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        }?;
        Ok(Process::Adopted { pid, pidfd })
    }

    fn pid(&self) -> u32 {
        match self {
            // A child has an ID until it has been waited for, which consumes the `Process`.
            Process::Child(child) => child.id().unwrap_or(0),
            Process::Adopted { pid, .. } => *pid,
        }
    }

    /// Waits until the process has exited (an adopted one's status is its parent's to collect).
    async fn exited(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            Process::Child(child) => child.wait().await.map(Some),
            Process::Adopted { pidfd, .. } => {
                // A pidfd becomes readable when the process exits.
                let mut guard = pidfd.readable().await?;
                guard.retain_ready();
                Ok(None)
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let result = match self {
            Process::Child(child) => match child.id().map(libc::pid_t::try_from) {
                // SAFETY: kill takes plain integers.
                Some(Ok(pid)) => unsafe { libc::kill(pid, signal) },
                _ => return,
            },
            // SAFETY: pidfd_send_signal takes our descriptor, a signal and no siginfo.
            Process::Adopted { pidfd, .. } => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.get_ref().as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                ) as libc::c_int
            },
        };
        if result != 0 {
            tracing::debug!(error = %io::Error::last_os_error(), signal, "cannot signal containerd");
        }
    }

    /// SIGTERM, then SIGKILL when it has not exited after `grace`.
    async fn terminate(mut self, grace: Duration) {
        self.signal(libc::SIGTERM);
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            tracing::warn!(pid = self.pid(), "containerd ignored SIGTERM; killing it");
            self.signal(libc::SIGKILL);
            let _ = self.exited().await;
        }
    }
}

/// Restarts containerd whenever it dies, until asked to stop (the request carries the grace
/// period) or until the [`Containerd`] handle is dropped (then containerd is left running).
async fn supervise(
    launcher: Launcher,
    process: Process,
    pid: watch::Sender<Option<u32>>,
    mut stop: oneshot::Receiver<Duration>,
) {
    let mut process = Some(process);
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some(mut running) = process.take() {
            let started = Instant::now();
            tokio::select! {
                status = running.exited() => {
                    tracing::warn!(?status, log = %launcher.options.log_path().display(), "containerd died; restarting it");
                    if started.elapsed() >= STABLE_RUN {
                        backoff = MIN_BACKOFF;
                    }
                }
                request = &mut stop => {
                    if let Ok(grace) = request {
                        running.terminate(grace).await;
                        launcher.forget_pid();
                        pid.send_replace(None);
                    }
                    return;
                }
            }
            pid.send_replace(None);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = &mut stop => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        match launcher.spawn() {
            Ok(started) => {
                pid.send_replace(Some(started.pid()));
                process = Some(started);
            }
            Err(e) => tracing::error!(error = %e, "cannot restart containerd"),
        }
    }
}
