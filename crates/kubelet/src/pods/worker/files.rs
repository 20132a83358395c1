//! The files the kubelet keeps per pod: the managed `/etc/hosts`, the termination-message
//! files, and the termination messages read back from them (or from the log).

use std::path::{Path, PathBuf};

use k3rs_cri::v1;
use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::dns;
use crate::pod::{ContainerPhase, RuntimePod};
use crate::volumes;

use super::super::config::{log_tail, pod_log_dir};
use super::{MAX_LOG_LINES, MAX_LOG_TAIL_BYTES, MAX_MESSAGE_BYTES, Worker};

impl Worker {
    /// The files the kubelet manages per pod and container: `/etc/hosts` (unless the
    /// container mounts its own) and the termination-message file.
    pub(super) async fn pod_files(
        &self,
        pod: &Pod,
        c: &Container,
        pod_ips: &[String],
        restart_count: i32,
    ) -> Result<Vec<v1::Mount>, String> {
        let dir = volumes::pod_dir(&self.shared.pods_dir, &self.uid);
        let mut mounts = Vec::new();
        let own_hosts = c
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == "/etc/hosts");
        if !own_hosts {
            let content = dns::etc_hosts(
                pod,
                pod_ips,
                &self.shared.cluster_dns.domain,
                &self.shared.node_hosts,
            )
            .map_err(|e| e.to_string())?;
            let path = dir.join("etc-hosts");
            write_file(&path, content.as_bytes()).await?;
            mounts.push(v1::Mount {
                container_path: "/etc/hosts".into(),
                host_path: path.to_string_lossy().into_owned(),
                ..Default::default()
            });
        }
        let message_path = c
            .termination_message_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/dev/termination-log".into());
        let path = termination_log(&dir, &c.name, restart_count);
        write_file(&path, b"").await?;
        mounts.push(v1::Mount {
            container_path: message_path,
            host_path: path.to_string_lossy().into_owned(),
            ..Default::default()
        });
        Ok(mounts)
    }

    /// Fills the message of exited containers from their termination-message file (or, with
    /// `FallbackToLogsOnError`, the end of their log after a failure), as upstream does.
    pub(super) async fn with_termination_messages(
        &mut self,
        pod: &Pod,
        runtime: &RuntimePod,
    ) -> RuntimePod {
        let mut runtime = runtime.clone();
        let dir = volumes::pod_dir(&self.shared.pods_dir, &self.uid);
        self.termination_messages
            .retain(|id, _| runtime.containers.iter().any(|c| &c.id == id));
        for rc in runtime
            .containers
            .iter_mut()
            .filter(|c| c.phase == ContainerPhase::Exited && c.message.is_empty())
        {
            if let Some(message) = self.termination_messages.get(&rc.id) {
                rc.message = message.clone();
                continue;
            }
            let spec = crate::pod::init_containers(pod)
                .iter()
                .chain(crate::pod::app_containers(pod))
                .find(|c| c.name == rc.name);
            let mut message = read_capped(
                &termination_log(&dir, &rc.name, rc.restart_count),
                MAX_MESSAGE_BYTES,
            )
            .await;
            let fallback = spec.and_then(|c| c.termination_message_policy.as_deref())
                == Some("FallbackToLogsOnError");
            if message.is_empty() && fallback && rc.exit_code != 0 {
                let log = pod_log_dir(&self.shared.pod_log_root, pod)
                    .join(&rc.name)
                    .join(format!("{}.log", rc.restart_count));
                message = log_tail(
                    &read_capped_tail(&log, MAX_LOG_TAIL_BYTES).await,
                    MAX_LOG_LINES,
                );
            }
            self.termination_messages
                .insert(rc.id.clone(), message.clone());
            rc.message = message;
        }
        runtime
    }
}

/// `<pod-dir>/containers/<name>/termination-log-<restart count>`: the host file behind a
/// container's termination-message path.
fn termination_log(pod_dir: &Path, name: &str, restart_count: i32) -> PathBuf {
    pod_dir
        .join("containers")
        .join(name)
        .join(format!("termination-log-{restart_count}"))
}

/// The first `cap` bytes of a file (empty when it cannot be read).
async fn read_capped(path: &Path, cap: u64) -> String {
    let Ok(file) = tokio::fs::File::open(path).await else {
        return String::new();
    };
    let mut bytes = Vec::new();
    if file.take(cap).read_to_end(&mut bytes).await.is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `cap` bytes of a file (empty when it cannot be read).
async fn read_capped_tail(path: &Path, cap: u64) -> String {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return String::new();
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    if file
        .seek(std::io::SeekFrom::Start(len.saturating_sub(cap)))
        .await
        .is_err()
    {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).await.is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn write_file(path: &Path, content: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    tokio::fs::write(path, content)
        .await
        .map_err(|e| format!("writing {}: {e}", path.display()))
}
