//! One watch of a resource shared by several loops: the objects are decoded once and handed
//! to every subscriber as `Arc`s, instead of each loop running its own watch (one more
//! stream through the API router, one more JSON decode and one more typed copy of every
//! object per loop — for pods the largest cost of the control plane under load).
//!
//! Every subscriber gets every event in order, including the `Init`/`InitApply`/`InitDone`
//! of (re)lists, through a bounded channel: memory stays bounded and a slow subscriber
//! slows the watch down rather than piling events up.

use std::fmt::Debug;
use std::sync::Arc;

use futures_util::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

/// Events buffered per subscriber before the shared watch waits for it.
const BUFFER: usize = 1024;

/// What a subscriber receives: the watcher's events with shared objects.
pub type SharedEvent<K> = watcher::Event<Arc<K>>;

/// A subscriber's end of a [`SharedWatch`].
pub type Subscription<K> = mpsc::Receiver<SharedEvent<K>>;

/// A watch of one resource fanned out to subscribers. Built in two steps so that every
/// subscriber sees the first list: [`SharedWatch::new`], [`SharedWatch::subscribe`]…, then
/// [`SharedWatch::run`].
pub struct SharedWatch<K> {
    api: Api<K>,
    config: watcher::Config,
    subscribers: Vec<mpsc::Sender<SharedEvent<K>>>,
}

/// The event with its object moved into an `Arc`.
pub(crate) fn share<K>(event: watcher::Event<K>) -> SharedEvent<K> {
    match event {
        watcher::Event::Apply(o) => watcher::Event::Apply(Arc::new(o)),
        watcher::Event::Delete(o) => watcher::Event::Delete(Arc::new(o)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(o) => watcher::Event::InitApply(Arc::new(o)),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

impl<K> SharedWatch<K>
where
    K: Resource + Clone + Debug + Send + Sync + k8s_openapi::serde::de::DeserializeOwned + 'static,
    K::DynamicType: Default,
{
    /// A watch of every object `api` lists (not started yet).
    pub fn new(api: Api<K>) -> Self {
        Self::with_config(api, watcher::Config::default())
    }

    /// A watch with selectors (not started yet).
    pub fn with_config(api: Api<K>, config: watcher::Config) -> Self {
        SharedWatch {
            api,
            config,
            subscribers: Vec::new(),
        }
    }

    /// A new subscriber; it receives every event from the start of [`SharedWatch::run`].
    pub fn subscribe(&mut self) -> Subscription<K> {
        let (tx, rx) = mpsc::channel(BUFFER);
        self.subscribers.push(tx);
        rx
    }

    /// Start the watch; it ends when every subscriber has gone.
    pub fn run(self) -> tokio::task::JoinHandle<()> {
        let SharedWatch {
            api,
            config,
            mut subscribers,
        } = self;
        tokio::spawn(async move {
            let mut stream = watcher::watcher(api, config).default_backoff().boxed();
            while !subscribers.is_empty() {
                let Some(event) = stream.next().await else {
                    return;
                };
                let event = match event {
                    Ok(e) => share(e),
                    Err(e) => {
                        tracing::debug!("shared watch: {e}");
                        continue;
                    }
                };
                let mut gone = Vec::new();
                for (i, s) in subscribers.iter().enumerate() {
                    if s.send(event.clone()).await.is_err() {
                        gone.push(i);
                    }
                }
                for i in gone.into_iter().rev() {
                    subscribers.swap_remove(i);
                }
            }
        })
    }
}
