//! core/v1 Events about pods, with the kubelet as their source (`kubelet` on this node), as
//! `kubectl describe pod` shows them. Posted in the background: a sync never waits for them.
//! An Event repeated within [`REPEAT_WINDOW`] (a probe failing every second) is written once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::Semaphore;

/// Events in flight at once; more are dropped (Events are best effort, as upstream's are).
const IN_FLIGHT: usize = 64;
/// The same Event about the same object is written at most once per window.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10);
/// Past this many remembered Events, those older than the window are forgotten.
const REMEMBERED: usize = 1024;

/// The Event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

/// Writes Events for this node's kubelet.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    node: String,
    seq: Arc<AtomicU64>,
    in_flight: Arc<Semaphore>,
    recent: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Recorder {
    pub fn new(client: kube::Client, node: String) -> Recorder {
        Recorder {
            client,
            node,
            seq: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            recent: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether this Event was not written within the window (and remember it now).
    fn first_in_window(&self, key: String) -> bool {
        let Ok(mut recent) = self.recent.lock() else {
            return true;
        };
        let now = Instant::now();
        if recent.len() > REMEMBERED {
            recent.retain(|_, at| now.duration_since(*at) < REPEAT_WINDOW);
        }
        match recent.get(&key) {
            Some(at) if now.duration_since(*at) < REPEAT_WINDOW => false,
            _ => {
                recent.insert(key, now);
                true
            }
        }
    }

    /// An Event about the pod, or about one of its containers (`container`: field path
    /// `spec.containers{name}` / `spec.initContainers{name}`).
    pub fn record(
        &self,
        pod: &Pod,
        field_path: Option<String>,
        kind: Kind,
        reason: &str,
        message: String,
    ) {
        let key = format!(
            "{}/{}/{}/{reason}/{message}",
            pod.metadata.uid.as_deref().unwrap_or(""),
            field_path.as_deref().unwrap_or(""),
            kind as u8
        );
        if !self.first_in_window(key) {
            return;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::debug!(reason, "too many Events in flight; dropping one");
            return;
        };
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let now = k8s_openapi::jiff::Timestamp::now();
        let unique =
            (now.as_nanosecond() as u64).wrapping_add(self.seq.fetch_add(1, Ordering::Relaxed));
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{unique:x}",
                    pod.metadata.name.as_deref().unwrap_or("pod")
                )),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                namespace: pod.metadata.namespace.clone(),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                field_path,
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(
                match kind {
                    Kind::Normal => "Normal",
                    Kind::Warning => "Warning",
                }
                .into(),
            ),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some(self.node.clone()),
            }),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some(self.node.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                tracing::debug!("writing an Event: {e}");
            }
            drop(permit);
        });
    }
}
