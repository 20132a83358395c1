//! `containerLogs`: find the container through CRI, then stream its log file through a
//! [`Formatter`] — from the tail position, and with `follow` on past the end, woken by inotify,
//! until the container has exited and the file is read to its end.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Response, StatusCode, header};
use k3rs_cri::CriClient;
use k3rs_cri::v1::{
    ContainerFilter, ContainerState, ContainerStatusRequest, ListContainersRequest,
};
use time::OffsetDateTime;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::sync::mpsc;

use super::logs::{Flow, Formatter, LogOptions, ends_line};
use super::{ApiFailure, Body, KubeletApi};

/// CRI labels the kubelet puts on every container (see the agent's pod loop).
pub(crate) const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub(crate) const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub(crate) const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// Send buffered output once it is this large (and whenever the reader catches up).
const CHUNK: usize = 16 * 1024;
/// While following, how often to ask the runtime whether the container is still running when
/// the file is quiet.
const EXIT_CHECK: Duration = Duration::from_secs(1);

/// A container found by its pod and name: the newest one (the current restart).
pub(crate) struct FoundContainer {
    pub id: String,
    pub running: bool,
}

/// The newest container of that name in that pod.
pub(crate) async fn find_container(
    cri: &CriClient,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<FoundContainer, ApiFailure> {
    let labels = HashMap::from([
        (LABEL_POD_NAMESPACE.to_string(), namespace.to_string()),
        (LABEL_POD_NAME.to_string(), pod.to_string()),
        (LABEL_CONTAINER_NAME.to_string(), container.to_string()),
    ]);
    let list = cri
        .runtime()
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                label_selector: labels,
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    let newest = list
        .containers
        .into_iter()
        .max_by_key(|c| c.created_at)
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                format!("container {container:?} in pod {pod:?} is not available"),
            )
        })?;
    Ok(FoundContainer {
        running: newest.state == ContainerState::ContainerRunning as i32,
        id: newest.id,
    })
}

async fn log_path(cri: &CriClient, id: &str) -> Result<PathBuf, ApiFailure> {
    let status = cri
        .runtime()
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await?
        .into_inner()
        .status
        .ok_or_else(|| ApiFailure::internal("the runtime returned no container status"))?;
    if status.log_path.is_empty() {
        return Err(ApiFailure::internal(format!(
            "container {id} has no log path"
        )));
    }
    Ok(PathBuf::from(status.log_path))
}

async fn is_running(cri: &CriClient, id: &str) -> bool {
    cri.runtime()
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().status)
        .is_some_and(|s| s.state == ContainerState::ContainerRunning as i32)
}

/// `<dir>/<n>.log` → `<dir>/<n-1>.log`: the log of the previous run.
pub(crate) fn previous_log_path(current: &Path) -> Option<PathBuf> {
    let n: u64 = current.file_stem()?.to_str()?.parse().ok()?;
    let prev = n.checked_sub(1)?;
    Some(current.with_file_name(format!("{prev}.log")))
}

pub(crate) async fn container_logs(
    api: &KubeletApi,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &str,
) -> Result<Response<Body>, ApiFailure> {
    let opts = LogOptions::from_query(query, OffsetDateTime::now_utc())
        .map_err(ApiFailure::bad_request)?;
    let found = find_container(&api.cri, namespace, pod, container).await?;
    let current = log_path(&api.cri, &found.id).await?;
    let (path, follow_id) = if opts.previous {
        let not_found = || {
            ApiFailure::bad_request(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))
        };
        let prev = previous_log_path(&current).ok_or_else(not_found)?;
        if !prev.exists() {
            return Err(not_found());
        }
        (prev, None)
    } else {
        (current, opts.follow.then_some(found.id))
    };
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiFailure::new(
            StatusCode::NOT_FOUND,
            format!("failed to open log file {}: {e}", path.display()),
        )
    })?;
    let (tx, rx) = mpsc::channel(8);
    let cri = api.cri.clone();
    tokio::spawn(async move {
        if let Err(e) = stream_file(file, &path, opts, follow_id, cri, tx).await {
            tracing::debug!(path = %path.display(), "log stream ended: {e}");
        }
    });
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

/// Where reading starts for `tail_lines`: the start of the n-th last whole line.
async fn tail_offset(file: &mut tokio::fs::File, lines: u64) -> std::io::Result<u64> {
    let mut reader = BufReader::new(&mut *file);
    let mut starts: VecDeque<u64> = VecDeque::new();
    let (mut offset, mut line_start) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).await?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        offset += n as u64;
        if ends_line(&buf) {
            starts.push_back(line_start);
            if starts.len() as u64 > lines {
                starts.pop_front();
            }
            line_start = offset;
        }
    }
    Ok(match starts.front() {
        _ if lines == 0 => line_start,
        Some(start) => *start,
        None => 0,
    })
}

async fn stream_file(
    mut file: tokio::fs::File,
    path: &Path,
    opts: LogOptions,
    follow_id: Option<String>,
    cri: CriClient,
    tx: mpsc::Sender<Bytes>,
) -> std::io::Result<()> {
    if let Some(n) = opts.tail_lines {
        let start = tail_offset(&mut file, n).await?;
        file.seek(std::io::SeekFrom::Start(start)).await?;
    }
    // Watch before reading on, so no write between the last read and the wait is missed.
    let watch = match &follow_id {
        Some(_) => Some(Inotify::watch(path)?),
        None => None,
    };
    let mut reader = BufReader::new(file);
    let mut formatter = Formatter::new(opts);
    let mut line = Vec::new();
    let mut out = Vec::with_capacity(CHUNK);
    let mut exited = false;
    loop {
        let n = reader.read_until(b'\n', &mut line).await?;
        if n > 0 && line.last() == Some(&b'\n') {
            let flow = formatter.push(&line, &mut out);
            line.clear();
            if flow == Flow::Done {
                break;
            }
            if out.len() >= CHUNK && !send(&tx, &mut out).await {
                return Ok(());
            }
            continue;
        }
        // At the end of what is written so far (maybe mid-line).
        if !send(&tx, &mut out).await {
            return Ok(());
        }
        let (Some(id), Some(watch)) = (&follow_id, &watch) else {
            break;
        };
        if exited {
            break;
        }
        if !watch.wait(EXIT_CHECK, &tx).await? {
            // Nothing written for a while: has the container ended? One more pass then reads
            // what it wrote last.
            exited = !is_running(&cri, id).await;
        }
        if tx.is_closed() {
            return Ok(());
        }
    }
    send(&tx, &mut out).await;
    Ok(())
}

/// Send what is buffered; false when the client has gone.
async fn send(tx: &mpsc::Sender<Bytes>, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return !tx.is_closed();
    }
    let chunk = Bytes::from(std::mem::replace(out, Vec::with_capacity(CHUNK)));
    tx.send(chunk).await.is_ok()
}

/// A response body fed from a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// An inotify watch on one file: wakes when it is written, closed, moved or deleted.
struct Inotify {
    fd: AsyncFd<OwnedFd>,
}

impl Inotify {
    fn watch(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: inotify_init1 takes flags only; a non-negative result is a new descriptor
        // that nothing else owns.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mask =
            libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_MOVE_SELF | libc::IN_DELETE_SELF;
        // SAFETY: the descriptor is valid and the path a NUL-terminated string.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c_path.as_ptr(), mask) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the AsyncFd owns the descriptor, so it stays open for as long as it is
        // registered.
        let fd = unsafe { AsyncFd::register(fd)? };
        Ok(Self { fd })
    }

    /// Wait for an event, at most `timeout`, or until the client goes away. True when the file
    /// changed.
    async fn wait(&self, timeout: Duration, client: &mpsc::Sender<Bytes>) -> std::io::Result<bool> {
        let ready = tokio::select! {
            r = tokio::time::timeout(timeout, self.fd.readable()) => r,
            _ = client.closed() => return Ok(false),
        };
        let Ok(guard) = ready else { return Ok(false) };
        let mut guard = guard?;
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a local buffer of the given length from a valid descriptor.
            let n = unsafe {
                libc::read(
                    self.fd.get_ref().as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n <= 0 {
                break;
            }
        }
        guard.clear_ready();
        Ok(true)
    }
}
