//! Pod GC (upstream `pkg/controller/podgc`), event-driven: watches of Pods and Nodes keep a
//! small summary of every pod; a pod bound to a node that is not known (or a deleted node)
//! queues a live check of that node, and pods of a node that does not exist are marked Failed
//! (DisruptionTarget) and force-deleted; terminating pods that were never scheduled are
//! force-deleted; terminated pods beyond the threshold are deleted, oldest first.

pub mod core;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::shared_watch::Subscription;
use crate::workqueue::WorkQueue;
use core::PodInfo;

/// Errors of one work item.
#[derive(Debug, thiserror::Error)]
pub enum PodGcError {
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

/// Work items.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Work {
    /// Check whether this node exists; delete its pods if not.
    CheckNode(String),
    /// Enforce the terminated-pod threshold.
    Threshold,
    /// Force-delete this pod (namespace, name, uid).
    ForceDelete(String, String, String),
}

#[derive(Default)]
struct State {
    pods: HashMap<(String, String), PodInfo>,
    nodes: HashSet<String>,
    nodes_synced: bool,
    terminated: usize,
}

struct PodGc {
    client: Client,
    threshold: usize,
    state: Mutex<State>,
    queue: Arc<WorkQueue<Work>>,
}

impl PodGc {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pod_event(&self, ev: Event<Arc<Pod>>) {
        let mut s = self.state();
        let mut work = Vec::new();
        match ev {
            Event::Apply(p) | Event::InitApply(p) => {
                if let Some(info) = core::pod_info(&p) {
                    let key = (info.namespace.clone(), info.name.clone());
                    if !info.node_name.is_empty()
                        && s.nodes_synced
                        && !s.nodes.contains(&info.node_name)
                    {
                        work.push(Work::CheckNode(info.node_name.clone()));
                    }
                    if core::unscheduled_terminating(&info) {
                        work.push(Work::ForceDelete(
                            info.namespace.clone(),
                            info.name.clone(),
                            info.uid.clone(),
                        ));
                    }
                    let counted = info.terminated && !info.deleting;
                    if counted {
                        s.terminated += 1;
                    }
                    if let Some(old) = s.pods.insert(key, info)
                        && old.terminated
                        && !old.deleting
                    {
                        s.terminated -= 1;
                    }
                    if counted && self.threshold > 0 && s.terminated > self.threshold {
                        work.push(Work::Threshold);
                    }
                }
            }
            Event::Delete(p) => {
                let key = (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                );
                if let Some(old) = s.pods.remove(&key)
                    && old.terminated
                    && !old.deleting
                {
                    s.terminated -= 1;
                }
            }
            Event::Init | Event::InitDone => {}
        }
        drop(s);
        for w in work {
            self.queue.add(w);
        }
    }

    fn node_event(&self, ev: Event<Node>, relist: &mut Option<HashSet<String>>) {
        let mut s = self.state();
        let mut work = Vec::new();
        match ev {
            Event::Init => *relist = Some(HashSet::new()),
            Event::InitApply(n) | Event::Apply(n) => {
                if let Some(name) = n.metadata.name {
                    if let Some(r) = relist.as_mut() {
                        r.insert(name.clone());
                    }
                    s.nodes.insert(name);
                }
            }
            Event::Delete(n) => {
                if let Some(name) = n.metadata.name {
                    s.nodes.remove(&name);
                    work.push(Work::CheckNode(name));
                }
            }
            Event::InitDone => {
                if let Some(seen) = relist.take() {
                    s.nodes = seen;
                }
                s.nodes_synced = true;
                // Pods already bound to nodes we do not know.
                let missing: HashSet<String> = s
                    .pods
                    .values()
                    .filter(|p| !p.node_name.is_empty() && !s.nodes.contains(&p.node_name))
                    .map(|p| p.node_name.clone())
                    .collect();
                work.extend(missing.into_iter().map(Work::CheckNode));
            }
        }
        drop(s);
        for w in work {
            self.queue.add(w);
        }
    }

    async fn process(&self, work: &Work) -> Result<(), PodGcError> {
        match work {
            Work::CheckNode(node) => {
                if self.state().nodes.contains(node) {
                    return Ok(());
                }
                let nodes: Api<Node> = Api::all(self.client.clone());
                if nodes.get_opt(node).await?.is_some() {
                    return Ok(());
                }
                let pods: Vec<PodInfo> = self
                    .state()
                    .pods
                    .values()
                    .filter(|p| &p.node_name == node)
                    .cloned()
                    .collect();
                for p in pods {
                    tracing::info!(pod = %format!("{}/{}", p.namespace, p.name), node = %node, "pod GC: deleting a pod whose node no longer exists");
                    let api: Api<Pod> = Api::namespaced(self.client.clone(), &p.namespace);
                    if !p.terminated {
                        let now = k8s_openapi::jiff::Timestamp::now().to_string();
                        let patch = core::orphaned_status_patch(&now);
                        match api
                            .patch_status(&p.name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                        {
                            Ok(_) => {}
                            Err(kube::Error::Api(e)) if e.code == 404 => continue,
                            Err(e) => tracing::debug!("pod GC: marking {} failed: {e}", p.name),
                        }
                    }
                    force_delete(&api, &p.name, &p.uid).await?;
                }
                Ok(())
            }
            Work::Threshold => {
                let victims: Vec<PodInfo> = {
                    let s = self.state();
                    core::excess_terminated(s.pods.values(), self.threshold)
                        .into_iter()
                        .cloned()
                        .collect()
                };
                for p in victims {
                    let api: Api<Pod> = Api::namespaced(self.client.clone(), &p.namespace);
                    force_delete(&api, &p.name, &p.uid).await?;
                }
                Ok(())
            }
            Work::ForceDelete(ns, name, uid) => {
                let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
                force_delete(&api, name, uid).await
            }
        }
    }
}

/// Delete a pod at once (grace period 0), if it is still the pod `uid`.
async fn force_delete(api: &Api<Pod>, name: &str, uid: &str) -> Result<(), PodGcError> {
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Run pod GC with the terminated-pod threshold (0 disables that part) until dropped.
pub async fn run(client: Client, threshold: usize, mut pod_events: Subscription<Pod>) {
    let gc = Arc::new(PodGc {
        client: client.clone(),
        threshold,
        state: Mutex::new(State::default()),
        queue: Arc::new(WorkQueue::new()),
    });
    let g = Arc::clone(&gc);
    let pods = tokio::spawn(async move {
        while let Some(ev) = pod_events.recv().await {
            g.pod_event(ev);
        }
    });
    let g = Arc::clone(&gc);
    let nodes = tokio::spawn(async move {
        let stream = watcher::watcher(
            Api::<Node>::all(g.client.clone()),
            watcher::Config::default(),
        )
        .default_backoff();
        futures_util::pin_mut!(stream);
        let mut relist = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => g.node_event(ev, &mut relist),
                Err(e) => tracing::debug!("pod GC node watch: {e}"),
            }
        }
    });
    let g = Arc::clone(&gc);
    let worker = tokio::spawn(async move {
        loop {
            let work = g.queue.next().await;
            if let Err(e) = g.process(&work).await {
                tracing::debug!("pod GC {work:?}: {e}");
                g.queue.add_after(work.clone(), Duration::from_secs(1));
            }
            g.queue.done(&work);
        }
    });
    let (_, _, rest) = futures_util::future::select_all([pods, nodes, worker]).await;
    for t in rest {
        t.abort();
    }
}
