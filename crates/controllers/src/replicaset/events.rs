//! core/v1 Events as client-go's recorder writes them, with its spam filter (a token bucket
//! per object and reason: a burst of 25, then one every 5 minutes), posted in the background
//! so that a reconcile never waits for its Events.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Api, ObjectMeta};

const BURST: f64 = 25.0;
const REFILL_PER_SEC: f64 = 1.0 / 300.0;

/// Records Events for one component.
pub(crate) struct Recorder {
    client: kube::Client,
    component: &'static str,
    host: String,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    seq: AtomicU64,
}

impl Recorder {
    /// A recorder for `component` (e.g. `replicaset-controller`) running on `host`.
    pub(crate) fn new(client: kube::Client, component: &'static str, host: String) -> Self {
        Recorder {
            client,
            component,
            host,
            buckets: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
        }
    }

    fn allow(&self, key: String) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if b.len() > 10_000 {
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * REFILL_PER_SEC < BURST
            });
        }
        let (tokens, at) = b.entry(key).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * REFILL_PER_SEC).min(BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Record an Event about `object` (type `Normal` or `Warning`).
    pub(crate) fn record(
        &self,
        object: ObjectReference,
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let key = format!(
            "{}/{}/{}/{}/{type_}/{reason}",
            object.kind.as_deref().unwrap_or_default(),
            object.namespace.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default(),
            object.uid.as_deref().unwrap_or_default(),
        );
        if !self.allow(key) {
            return;
        }
        let now = k8s_openapi::jiff::Timestamp::now();
        let unique =
            (now.as_nanosecond() as u64).wrapping_add(self.seq.fetch_add(1, Ordering::Relaxed));
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".into());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{unique:x}",
                    object.name.as_deref().unwrap_or("object")
                )),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: object,
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.host.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(e) = api.create(&crate::replicaset::post_params(), &event).await {
                tracing::debug!("writing an Event: {e}");
            }
        });
    }
}

/// An ObjectReference to `obj` for Events.
pub(crate) fn reference<K: kube::Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}
