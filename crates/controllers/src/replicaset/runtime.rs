//! The small runtime the workload controllers share: an informer (a kube-runtime watcher
//! feeding a namespaced cache and calling a handler *after* the cache holds the change), and
//! the workers that reconcile the keys of a [`crate::workqueue::WorkQueue`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::shared_watch::{Subscription, share};

/// A change seen by an informer, delivered once the cache reflects it.
pub(crate) enum Change<K> {
    /// Added or modified; `old` is the previous cached object, if any.
    Applied { old: Option<Arc<K>>, new: Arc<K> },
    /// Deleted (also objects found gone after a re-list).
    Deleted(Arc<K>),
}

/// The objects of one resource as last seen by its watch, by namespace then name.
pub(crate) struct Cache<K> {
    objects: RwLock<BTreeMap<String, HashMap<String, Arc<K>>>>,
    ready: watch::Sender<bool>,
}

fn key_of<K: Resource>(obj: &K) -> (String, String) {
    (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

impl<K: Resource> Cache<K> {
    fn new() -> Self {
        Cache {
            objects: RwLock::new(BTreeMap::new()),
            ready: watch::channel(false).0,
        }
    }

    /// One object by namespace and name.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.get(namespace)?.get(name).cloned()
    }

    /// Every object of a namespace.
    pub(crate) fn list(&self, namespace: &str) -> Vec<Arc<K>> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects
            .get(namespace)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every object.
    pub(crate) fn all(&self) -> Vec<Arc<K>> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.values().flat_map(|m| m.values().cloned()).collect()
    }

    /// Wait until the first list has been loaded.
    pub(crate) async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    fn insert(&self, obj: Arc<K>) -> Option<Arc<K>> {
        let (ns, name) = key_of(obj.as_ref());
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        objects.entry(ns).or_default().insert(name, obj)
    }

    fn remove(&self, obj: &K) -> Option<Arc<K>> {
        let (ns, name) = key_of(obj);
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        let m = objects.get_mut(&ns)?;
        let old = m.remove(&name);
        if m.is_empty() {
            objects.remove(&ns);
        }
        old
    }
}

/// A handler of an informer's changes.
type Handler<K> = Box<dyn Fn(&Change<K>) + Send + Sync>;

/// A watch of one resource into a [`Cache`], fanned out to any number of handlers. Built in
/// two steps so that every handler is subscribed before the first event: [`Informer::new`],
/// [`Informer::subscribe`]…, then [`Informer::run`].
pub(crate) struct Informer<K> {
    source: Source<K>,
    cache: Arc<Cache<K>>,
    handlers: Vec<Handler<K>>,
}

/// Where an informer's events come from.
enum Source<K> {
    /// A watch of its own.
    Watch(Box<Api<K>>),
    /// A subscription to a watch shared with other loops.
    Shared(Subscription<K>),
}

impl<K> Informer<K>
where
    K: Resource + Clone + Debug + Send + Sync + k8s_openapi::serde::de::DeserializeOwned + 'static,
    K::DynamicType: Default,
{
    /// An informer over every object `api` lists.
    pub(crate) fn new(api: Api<K>) -> Self {
        Self::from_source(Source::Watch(Box::new(api)))
    }

    /// An informer fed by a [`SharedWatch`](crate::shared_watch::SharedWatch) subscription.
    pub(crate) fn shared(subscription: Subscription<K>) -> Self {
        Self::from_source(Source::Shared(subscription))
    }

    fn from_source(source: Source<K>) -> Self {
        Informer {
            source,
            cache: Arc::new(Cache::new()),
            handlers: Vec::new(),
        }
    }

    /// The cache this informer fills.
    pub(crate) fn cache(&self) -> Arc<Cache<K>> {
        self.cache.clone()
    }

    /// Call `f` for every change, after the cache holds it.
    pub(crate) fn subscribe(&mut self, f: impl Fn(&Change<K>) + Send + Sync + 'static) {
        self.handlers.push(Box::new(f));
    }

    /// Start the watch.
    pub(crate) fn run(self) -> tokio::task::JoinHandle<()> {
        let Informer {
            source,
            cache: c,
            handlers,
        } = self;
        let emit = move |ch: Change<K>| {
            for h in &handlers {
                h(&ch);
            }
        };
        tokio::spawn(async move {
            let mut stream = match source {
                Source::Watch(api) => watcher(*api, watcher::Config::default())
                    .default_backoff()
                    .filter_map(|event| async move {
                        event
                            .inspect_err(|e| tracing::debug!("informer watch error: {e}"))
                            .ok()
                            .map(share)
                    })
                    .boxed(),
                Source::Shared(rx) => futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|e| (e, rx))
                })
                .boxed(),
            };
            let mut relist: Vec<Arc<K>> = Vec::new();
            while let Some(event) = stream.next().await {
                match event {
                    watcher::Event::Apply(new) => {
                        let old = c.insert(new.clone());
                        emit(Change::Applied { old, new });
                    }
                    watcher::Event::Delete(obj) => {
                        c.remove(&obj);
                        emit(Change::Deleted(obj));
                    }
                    watcher::Event::Init => relist.clear(),
                    watcher::Event::InitApply(obj) => relist.push(obj),
                    watcher::Event::InitDone => {
                        let seen: HashSet<(String, String)> =
                            relist.iter().map(|o| key_of(o.as_ref())).collect();
                        let gone: Vec<Arc<K>> = c
                            .all()
                            .into_iter()
                            .filter(|o| !seen.contains(&key_of(o.as_ref())))
                            .collect();
                        let mut changes = Vec::new();
                        for o in gone {
                            c.remove(&o);
                            changes.push(Change::Deleted(o));
                        }
                        for new in relist.drain(..) {
                            let old = c.insert(new.clone());
                            changes.push(Change::Applied { old, new });
                        }
                        c.ready.send_replace(true);
                        for ch in changes {
                            emit(ch);
                        }
                    }
                }
            }
        })
    }
}

/// The work queue of the workload controllers: object keys (`namespace/name`).
pub(crate) type WorkQueue = crate::workqueue::WorkQueue<String>;

/// `namespace/name` of an object.
pub(crate) fn object_key<K: Resource>(obj: &K) -> String {
    let (ns, name) = key_of(obj);
    format!("{ns}/{name}")
}

/// Split a `namespace/name` key.
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// A controller whose queued keys a pool of workers reconciles (see [`spawn_workers`]).
pub(crate) trait Reconcile: Send + Sync + 'static {
    /// The controller's name, for logs.
    const NAME: &'static str;
    /// The queue its event handlers fill.
    fn queue(&self) -> &Arc<WorkQueue>;
    /// Resolves once every cache the controller reads has listed.
    fn ready(&self) -> impl std::future::Future<Output = ()> + Send;
    /// Bring one key to its desired state; `Ok(Some(d))` asks for another look after `d`.
    fn reconcile(
        &self,
        key: &str,
    ) -> impl std::future::Future<Output = Result<Option<Duration>, String>> + Send;
}

/// Start `workers` tasks that wait for the caches, then take keys from the queue one at a time:
/// a success forgets the key's back-off (and requeues it when asked), an error requeues it with
/// back-off.
pub(crate) fn spawn_workers<R: Reconcile>(
    controller: &Arc<R>,
    workers: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let c = controller.clone();
            tokio::spawn(async move {
                c.ready().await;
                loop {
                    let key = c.queue().next().await;
                    match c.reconcile(&key).await {
                        Ok(requeue) => {
                            c.queue().forget(&key);
                            if let Some(d) = requeue {
                                c.queue().add_after(key.clone(), d);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(key, "{} sync: {e}", R::NAME);
                            c.queue().add_rate_limited(key.clone());
                        }
                    }
                    c.queue().done(&key);
                }
            })
        })
        .collect()
}
