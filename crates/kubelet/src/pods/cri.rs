//! The CRI calls of the pod loop, mapped to and from the pure core's values.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use k3rs_cri::v1::{
    self, ContainerFilter, ContainerStatusRequest, ImageSpec, ImageStatusRequest,
    ListContainersRequest, ListPodSandboxRequest, PodSandboxFilter, PodSandboxStatusRequest,
    PullImageRequest, RemoveContainerRequest, RemovePodSandboxRequest, StopContainerRequest,
    StopPodSandboxRequest,
};
use k3rs_cri::{CriClient, CriError};

use crate::pod::{ContainerPhase, RuntimeContainer, RuntimePod, Sandbox, labels};

/// A sandbox or container the runtime holds for some pod, by the pod's UID label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub pod_uid: String,
    pub pod_namespace: String,
    pub pod_name: String,
}

fn owner(l: &HashMap<String, String>) -> Option<Owned> {
    Some(Owned {
        pod_uid: l.get(labels::POD_UID)?.clone(),
        pod_namespace: l.get(labels::POD_NAMESPACE).cloned().unwrap_or_default(),
        pod_name: l.get(labels::POD_NAME).cloned().unwrap_or_default(),
    })
}

fn uid_filter(uid: &str) -> HashMap<String, String> {
    HashMap::from([(labels::POD_UID.to_string(), uid.to_string())])
}

fn phase(state: i32) -> ContainerPhase {
    match v1::ContainerState::try_from(state) {
        Ok(v1::ContainerState::ContainerCreated) => ContainerPhase::Created,
        Ok(v1::ContainerState::ContainerRunning) => ContainerPhase::Running,
        Ok(v1::ContainerState::ContainerExited) => ContainerPhase::Exited,
        _ => ContainerPhase::Unknown,
    }
}

/// Everything the runtime holds for the pod with this UID.
pub async fn pod_state(cri: &CriClient, uid: &str) -> Result<RuntimePod, CriError> {
    let mut rt = cri.runtime();
    let sandboxes = rt
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                label_selector: uid_filter(uid),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .items;
    let mut pod = RuntimePod::default();
    for s in sandboxes {
        let ready = s.state == v1::PodSandboxState::SandboxReady as i32;
        let mut sandbox = Sandbox {
            id: s.id.clone(),
            attempt: s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            ready,
            ip: String::new(),
            additional_ips: Vec::new(),
            created_at: s.created_at,
            host_network: false,
        };
        if ready {
            let status = rt
                .pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: s.id.clone(),
                    verbose: false,
                })
                .await;
            match status {
                Ok(r) => {
                    let st = r.into_inner().status.unwrap_or_default();
                    if let Some(net) = st.network {
                        sandbox.ip = net.ip;
                        sandbox.additional_ips =
                            net.additional_ips.into_iter().map(|i| i.ip).collect();
                    }
                    sandbox.host_network = st
                        .linux
                        .and_then(|l| l.namespaces)
                        .and_then(|n| n.options)
                        .is_some_and(|o| o.network == v1::NamespaceMode::Node as i32);
                }
                Err(e) if e.code() == tonic::Code::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
        }
        pod.sandboxes.push(sandbox);
    }
    let containers = rt
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                label_selector: uid_filter(uid),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    for c in containers {
        let status = match rt
            .container_status(ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await
        {
            Ok(r) => r.into_inner().status.unwrap_or_default(),
            Err(e) if e.code() == tonic::Code::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let annotation = |k: &str| c.annotations.get(k).cloned().unwrap_or_default();
        pod.containers.push(RuntimeContainer {
            id: c.id.clone(),
            sandbox_id: c.pod_sandbox_id.clone(),
            name: c
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            attempt: c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            phase: phase(status.state),
            created_at: c.created_at,
            started_at: status.started_at,
            finished_at: status.finished_at,
            exit_code: status.exit_code,
            reason: status.reason,
            message: status.message,
            image: c.image.map(|i| i.image).unwrap_or_default(),
            image_ref: c.image_ref,
            hash: annotation(labels::CONTAINER_HASH),
            restart_count: annotation(labels::RESTART_COUNT).parse().unwrap_or(0),
        });
    }
    Ok(pod)
}

/// A cheap fingerprint of the runtime's state per pod UID (ids and states of its sandboxes
/// and containers): what the pod loop compares to notice that something changed.
pub async fn fingerprints(cri: &CriClient) -> Result<HashMap<String, (Owned, u64)>, CriError> {
    let mut rt = cri.runtime();
    let sandboxes = rt
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await?
        .into_inner()
        .items;
    let containers = rt
        .list_containers(ListContainersRequest { filter: None })
        .await?
        .into_inner()
        .containers;
    let mut items: BTreeMap<String, (Owned, Vec<(String, i32)>)> = BTreeMap::new();
    let entries = sandboxes
        .iter()
        .map(|s| (&s.labels, &s.id, s.state))
        .chain(containers.iter().map(|c| (&c.labels, &c.id, c.state + 10)));
    for (l, id, state) in entries {
        if let Some(o) = owner(l) {
            items
                .entry(o.pod_uid.clone())
                .or_insert_with(|| (o, Vec::new()))
                .1
                .push((id.clone(), state));
        }
    }
    Ok(items
        .into_iter()
        .map(|(uid, (o, mut parts))| {
            parts.sort();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            parts.hash(&mut h);
            (uid, (o, h.finish()))
        })
        .collect())
}

/// Stops a container: SIGTERM (or its image's stop signal), then SIGKILL after `grace` seconds.
pub async fn stop_container(cri: &CriClient, id: &str, grace: i64) -> Result<(), CriError> {
    let r = cri
        .runtime()
        .stop_container(StopContainerRequest {
            container_id: id.to_string(),
            timeout: grace.max(0),
        })
        .await;
    ignore_not_found(r.map(drop))
}

pub async fn remove_container(cri: &CriClient, id: &str) -> Result<(), CriError> {
    let r = cri
        .runtime()
        .remove_container(RemoveContainerRequest {
            container_id: id.to_string(),
        })
        .await;
    ignore_not_found(r.map(drop))
}

pub async fn stop_sandbox(cri: &CriClient, id: &str) -> Result<(), CriError> {
    let r = cri
        .runtime()
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await;
    ignore_not_found(r.map(drop))
}

pub async fn remove_sandbox(cri: &CriClient, id: &str) -> Result<(), CriError> {
    let r = cri
        .runtime()
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await;
    ignore_not_found(r.map(drop))
}

fn ignore_not_found(r: Result<(), tonic::Status>) -> Result<(), CriError> {
    match r {
        Err(e) if e.code() != tonic::Code::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn image_spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.to_string(),
        user_specified_image: image.to_string(),
        ..Default::default()
    }
}

/// An image the runtime has: its ID and the user it runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// The numeric user of the image's config, if it names one by number.
    pub uid: Option<i64>,
    /// The user of the image's config when it is a name.
    pub username: String,
}

/// The image when the runtime has it.
pub async fn image_present(cri: &CriClient, image: &str) -> Result<Option<ImageInfo>, CriError> {
    let r = cri
        .images()
        .image_status(ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: false,
        })
        .await?;
    Ok(r.into_inner().image.map(|i| ImageInfo {
        id: i.id,
        uid: i.uid.map(|u| u.value),
        username: i.username,
    }))
}

/// Pulls the image; returns its reference.
pub async fn pull_image(
    cri: &CriClient,
    image: &str,
    sandbox: &v1::PodSandboxConfig,
) -> Result<String, CriError> {
    let r = cri
        .images()
        .pull_image(PullImageRequest {
            image: Some(image_spec(image)),
            auth: None,
            sandbox_config: Some(sandbox.clone()),
        })
        .await?;
    Ok(r.into_inner().image_ref)
}
