//! The Endpoints and EndpointSlice controllers (upstream `pkg/controller/endpoint` and
//! `pkg/controller/endpointslice`), run as one loop over one set of caches: Services, Pods,
//! Endpoints and the slices this controller manages are watched into reflector stores, events
//! queue the affected Services, and each Service is reconciled by the pure planners in
//! [`core`] and [`crate::endpointslices::core`]. Services without a selector (such as
//! `kubernetes`, whose endpoints the API server writes) are left alone.

pub mod core;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};

use crate::endpointslices::core::{MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use crate::replicaset::runtime::{Cache, Change, Informer};
use crate::shared_watch::Subscription;
use crate::workqueue::WorkQueue;

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum EndpointsError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
    #[error("the cache is behind this controller's own writes")]
    Stale,
}

/// How many Services are reconciled at once.
const WORKERS: usize = 2;

/// A Service key: namespace and name.
type Key = (String, String);

/// Runs a watcher into `writer`, calling `hook` with each event and the store as it was before
/// the event (so that hooks see old objects), until the stream ends.
pub(crate) async fn run_cache<K, F>(
    api: Api<K>,
    cfg: watcher::Config,
    writer: reflector::store::Writer<K>,
    hook: F,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: FnMut(&Event<K>, &Store<K>),
{
    let stream = watcher::watcher(api, cfg)
        .default_backoff()
        .filter_map(|ev| async move {
            ev.inspect_err(|e| tracing::debug!("watch error (retrying): {e}"))
                .ok()
        });
    cache_events(stream, writer, hook).await;
}

/// Apply each event to the cache after calling `hook` with it.
async fn cache_events<K, F>(
    stream: impl futures_util::Stream<Item = Event<K>>,
    mut writer: reflector::store::Writer<K>,
    mut hook: F,
) where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
    F: FnMut(&Event<K>, &Store<K>),
{
    let reader = writer.as_reader();
    let stream = stream.map(|ev| ev.modify(|o: &mut K| o.meta_mut().managed_fields = None));
    futures_util::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        hook(&ev, &reader);
        writer.apply_watcher_event(&ev);
    }
}

/// The resourceVersions and names this controller wrote, which the caches must show before a
/// Service is planned again (upstream's EndpointSlice tracker), so a lagging cache cannot
/// cause duplicate slices.
#[derive(Default)]
struct Expectations {
    by_service: Mutex<HashMap<Key, Expected>>,
}

#[derive(Debug)]
struct Expected {
    /// When the writes were made; expectations older than [`EXPECTATIONS_TTL`] are dropped
    /// (an object written and then changed by someone else may never show our version).
    at: Instant,
    /// Slices (name → resourceVersion) that must be in the cache at least at that version.
    slices: HashMap<String, u64>,
    /// Slices that must be gone from the cache.
    deleted: Vec<String>,
    /// The Endpoints resourceVersion the cache must have reached.
    endpoints: Option<u64>,
}

impl Default for Expected {
    fn default() -> Self {
        Self {
            at: Instant::now(),
            slices: HashMap::new(),
            deleted: Vec::new(),
            endpoints: None,
        }
    }
}

/// How long recorded writes are waited for.
const EXPECTATIONS_TTL: Duration = Duration::from_secs(5);

fn rv_of<K: Resource>(o: &K) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Expected>> {
        self.by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the caches show every write recorded for `key`; forgets them once they do.
    fn satisfied(
        &self,
        key: &Key,
        slices: &[EndpointSlice],
        endpoints: Option<&Endpoints>,
    ) -> bool {
        let mut map = self.lock();
        let Some(exp) = map.get(key) else { return true };
        let have: HashMap<&str, u64> = slices
            .iter()
            .filter_map(|s| Some((s.metadata.name.as_deref()?, rv_of(s))))
            .collect();
        let slices_ok = exp
            .slices
            .iter()
            .all(|(n, rv)| have.get(n.as_str()).is_some_and(|h| h >= rv))
            && exp.deleted.iter().all(|n| !have.contains_key(n.as_str()));
        let ep_ok = exp
            .endpoints
            .is_none_or(|rv| endpoints.is_some_and(|e| rv_of(e) >= rv));
        if (slices_ok && ep_ok) || exp.at.elapsed() > EXPECTATIONS_TTL {
            map.remove(key);
            true
        } else {
            false
        }
    }

    fn record(&self, key: Key, exp: Expected) {
        let mut map = self.lock();
        if exp.slices.is_empty() && exp.deleted.is_empty() && exp.endpoints.is_none() {
            map.remove(&key);
        } else {
            map.insert(key, exp);
        }
    }
}

/// The caches and clients of the loop.
struct Shared {
    client: Client,
    services: Store<Service>,
    pods: Arc<Cache<Pod>>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    queue: Arc<WorkQueue<Key>>,
    expectations: Expectations,
}

fn key_of<K: Resource>(o: &K) -> Option<Key> {
    Some((o.meta().namespace.clone()?, o.meta().name.clone()?))
}

/// Run the Endpoints/EndpointSlice loop until the task is dropped.
pub async fn run(client: Client, pod_events: Subscription<Pod>) {
    let (svc_reader, svc_writer) = reflector::store::<Service>();
    let (ep_reader, ep_writer) = reflector::store::<Endpoints>();
    let (slice_reader, slice_writer) = reflector::store::<EndpointSlice>();
    let queue: Arc<WorkQueue<Key>> = Arc::new(WorkQueue::new());

    let q = Arc::clone(&queue);
    let services = tokio::spawn(run_cache(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
        svc_writer,
        move |ev, _| match ev {
            Event::Apply(s) | Event::InitApply(s) | Event::Delete(s) => {
                if let Some(k) = key_of(s) {
                    q.add(k);
                }
            }
            Event::Init | Event::InitDone => {}
        },
    ));
    let q = Arc::clone(&queue);
    let svc_for_pods = svc_reader.clone();
    // Pods: the shared pod watch, cached by namespace (a re-list reports the pods it found
    // gone as deletions).
    let mut pod_informer = Informer::shared(pod_events);
    let pod_cache = pod_informer.cache();
    pod_informer.subscribe(move |change| {
        let touched: Vec<&Pod> = match change {
            Change::Applied { old, new } => std::iter::once(new.as_ref())
                .chain(old.as_deref())
                .collect(),
            Change::Deleted(p) => vec![p.as_ref()],
        };
        for pod in touched {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let services = svc_for_pods.state();
            let names = core::services_selecting(services.iter().map(Arc::as_ref), pod);
            for n in names {
                q.add((ns.clone(), n));
            }
        }
    });
    let pods = pod_informer.run();
    let q = Arc::clone(&queue);
    let endpoints = tokio::spawn(run_cache(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default(),
        ep_writer,
        move |ev, _| {
            if let Event::Apply(e) | Event::Delete(e) = ev
                && let Some(k) = key_of(e)
            {
                q.add(k);
            }
        },
    ));
    let q = Arc::clone(&queue);
    let slices = tokio::spawn(run_cache(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")),
        slice_writer,
        move |ev, _| {
            if let Event::Apply(s) | Event::Delete(s) = ev
                && let (Some(ns), Some(svc)) = (
                    s.metadata.namespace.clone(),
                    s.labels().get(SERVICE_NAME_LABEL).cloned(),
                )
            {
                q.add((ns, svc));
            }
        },
    ));
    let caches = [services, pods, endpoints, slices];

    let ready = async {
        svc_reader.wait_until_ready().await?;
        ep_reader.wait_until_ready().await?;
        slice_reader.wait_until_ready().await
    };
    if ready.await.is_err() {
        tracing::warn!("endpoints controller: a cache stopped before syncing");
        return;
    }
    pod_cache.wait_ready().await;
    let shared = Arc::new(Shared {
        client,
        services: svc_reader,
        pods: pod_cache,
        endpoints: ep_reader,
        slices: slice_reader,
        queue,
        expectations: Expectations::default(),
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let s = Arc::clone(&shared);
            tokio::spawn(async move {
                loop {
                    let key = s.queue.next().await;
                    match reconcile(&s, &key).await {
                        Ok(()) => {}
                        Err(EndpointsError::Stale) => {
                            s.queue.add_after(key.clone(), Duration::from_millis(100));
                        }
                        Err(e) => {
                            tracing::debug!(service = %format!("{}/{}", key.0, key.1), "endpoints: {e}");
                            s.queue.add_after(key.clone(), Duration::from_millis(500));
                        }
                    }
                    s.queue.done(&key);
                }
            })
        })
        .collect();
    // Run until dropped; if a task ends, stop the others.
    let mut all: Vec<tokio::task::JoinHandle<()>> = caches.into_iter().chain(workers).collect();
    let (_, _, rest) = futures_util::future::select_all(all.drain(..)).await;
    for t in rest {
        t.abort();
    }
}

fn ignore_not_found(r: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    }
}

/// Reconcile one Service's Endpoints and EndpointSlices.
async fn reconcile(s: &Shared, key: &Key) -> Result<(), EndpointsError> {
    let (ns, name) = key;
    let svc_ref = ObjectRef::<Service>::new(name).within(ns);
    let ep_ref = ObjectRef::<Endpoints>::new(name).within(ns);
    let current_ep = s.endpoints.get(&ep_ref);
    let current_slices: Vec<EndpointSlice> = s
        .slices
        .state_filter(|sl| {
            sl.metadata.namespace.as_deref() == Some(ns.as_str())
                && sl.labels().get(SERVICE_NAME_LABEL) == Some(name)
        })
        .into_iter()
        .map(|a| (*a).clone())
        .collect();
    if !s
        .expectations
        .satisfied(key, &current_slices, current_ep.as_deref())
    {
        return Err(EndpointsError::Stale);
    }
    let ep_api: Api<Endpoints> = Api::namespaced(s.client.clone(), ns);
    let slice_api: Api<EndpointSlice> = Api::namespaced(s.client.clone(), ns);

    let Some(svc) = s.services.get(&svc_ref) else {
        // The Service is gone: its Endpoints go too (its slices go with their owner, by GC).
        if current_ep.is_some() {
            ignore_not_found(
                ep_api
                    .delete(name, &DeleteParams::default())
                    .await
                    .map(|_| ()),
            )?;
        }
        return Ok(());
    };
    if !core::is_managed(&svc) {
        // No selector: endpoints are someone else's. Slices we made earlier are dropped.
        for sl in &current_slices {
            if let Some(n) = &sl.metadata.name {
                ignore_not_found(
                    slice_api
                        .delete(n, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                )?;
            }
        }
        return Ok(());
    }
    let pods: Vec<Arc<Pod>> = s
        .pods
        .list(ns)
        .into_iter()
        .filter(|p| core::selects(&svc, p))
        .collect();
    let pod_refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();

    let mut expected = Expected::default();
    let result = write_all(
        s,
        &svc,
        &pod_refs,
        current_ep.as_deref(),
        &current_slices,
        &ep_api,
        &slice_api,
        &mut expected,
    )
    .await;
    s.expectations.record(key.clone(), expected);
    result
}

#[allow(clippy::too_many_arguments)]
async fn write_all(
    _s: &Shared,
    svc: &Service,
    pods: &[&Pod],
    current_ep: Option<&Endpoints>,
    current_slices: &[EndpointSlice],
    ep_api: &Api<Endpoints>,
    slice_api: &Api<EndpointSlice>,
    expected: &mut Expected,
) -> Result<(), EndpointsError> {
    let pp = PostParams::default();
    match core::plan(svc, pods, current_ep) {
        core::Plan::Nothing => {}
        core::Plan::Create(ep) => match ep_api.create(&pp, &ep).await {
            Ok(e) => expected.endpoints = Some(rv_of(&e)),
            Err(kube::Error::Api(e)) if e.code == 409 => return Err(EndpointsError::Stale),
            Err(e) => return Err(e.into()),
        },
        core::Plan::Update(ep) => {
            let name = ep.metadata.name.clone().unwrap_or_default();
            let e = ep_api.replace(&name, &pp, &ep).await?;
            expected.endpoints = Some(rv_of(&e));
        }
    }
    let plan = crate::endpointslices::core::plan(svc, pods, current_slices);
    for sl in plan.update {
        let name = sl.metadata.name.clone().unwrap_or_default();
        let out = slice_api.replace(&name, &pp, &sl).await?;
        expected.slices.insert(name, rv_of(&out));
    }
    for sl in plan.create {
        let out = slice_api.create(&pp, &sl).await?;
        if let Some(n) = out.metadata.name.clone() {
            expected.slices.insert(n, rv_of(&out));
        }
    }
    for name in plan.delete {
        ignore_not_found(
            slice_api
                .delete(&name, &DeleteParams::default())
                .await
                .map(|_| ()),
        )?;
        expected.deleted.push(name);
    }
    Ok(())
}
