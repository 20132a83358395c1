//! The pure part of the garbage collector (upstream `pkg/controller/garbagecollector`): the
//! dependency graph (owner uid → dependents) built from observed objects, the work each change
//! causes, and the decision for one dependent given the states of its owners.

use std::collections::{HashMap, HashSet};

/// The foreground-deletion finalizer.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The orphan finalizer.
pub const ORPHAN: &str = "orphan";

/// One ownerReference, as far as the collector needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub block_owner_deletion: bool,
}

/// What the collector knows of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Index of the object's resource in the collector's resource table.
    pub resource: usize,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub owners: Vec<OwnerRef>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Carries the `foregroundDeletion` finalizer.
    pub foreground: bool,
    /// Carries the `orphan` finalizer.
    pub orphan: bool,
}

impl Node {
    /// Deleting and waiting for its blocking dependents to go (upstream `isDeletingDependents`).
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.foreground
    }
}

/// Work the collector queues.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Decide about an object: delete it if its owners are gone, or (deleting with the
    /// foreground finalizer) release it once its blocking dependents are gone.
    AttemptToDelete(String),
    /// Remove the ownerReferences to this (orphan-finalized) owner from its dependents, then
    /// the finalizer.
    AttemptToOrphan(String),
}

/// The dependency graph.
#[derive(Default, Debug)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// owner uid → uids of objects referencing it (whether or not the owner was observed).
    dependents: HashMap<String, HashSet<String>>,
    /// Owners known to be gone that dependents still reference.
    absent: HashSet<String>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node of `uid`.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// How many objects are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no object is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Uids of the known objects of one resource.
    pub fn uids_of(&self, resource: usize) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.resource == resource)
            .map(|n| n.uid.clone())
            .collect()
    }

    /// Whether `uid` is known to be gone.
    pub fn is_absent(&self, uid: &str) -> bool {
        self.absent.contains(uid)
    }

    /// Remember that `uid` is gone (a lookup found nothing), while dependents reference it.
    pub fn mark_absent(&mut self, uid: &str) {
        if self.dependents.contains_key(uid) && !self.nodes.contains_key(uid) {
            self.absent.insert(uid.to_string());
        }
    }

    /// Whether any object references `uid` as owner.
    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents.get(uid).is_some_and(|d| !d.is_empty())
    }

    /// The observed dependents of `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Dependents of `uid` whose reference to it has `blockOwnerDeletion: true`.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents(uid)
            .into_iter()
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion)
            })
            .collect()
    }

    fn link(&mut self, dep: &str, owner: &str) {
        self.dependents
            .entry(owner.to_string())
            .or_default()
            .insert(dep.to_string());
    }

    fn unlink(&mut self, dep: &str, owner: &str) {
        if let Some(d) = self.dependents.get_mut(owner) {
            d.remove(dep);
            if d.is_empty() {
                self.dependents.remove(owner);
                self.absent.remove(owner);
            }
        }
    }

    /// An object was added or changed; returns the work this causes.
    pub fn upsert(&mut self, node: Node) -> Vec<Work> {
        let mut work = Vec::new();
        let old = self.nodes.get(&node.uid).cloned();
        let old_owners: Vec<OwnerRef> = old.as_ref().map(|o| o.owners.clone()).unwrap_or_default();
        for o in &old_owners {
            if !node.owners.iter().any(|n| n.uid == o.uid) {
                self.unlink(&node.uid, &o.uid);
                // A dependent stopped referencing an owner waiting for it.
                if self
                    .nodes
                    .get(&o.uid)
                    .is_some_and(Node::deleting_dependents)
                {
                    work.push(Work::AttemptToDelete(o.uid.clone()));
                }
            }
        }
        for o in &node.owners {
            self.link(&node.uid, &o.uid);
        }
        let owners_changed = old_owners != node.owners;
        if owners_changed
            && node.owners.iter().any(|o| match self.nodes.get(&o.uid) {
                None => true,
                Some(owner) => owner.deleting,
            })
        {
            work.push(Work::AttemptToDelete(node.uid.clone()));
        }
        let was_orphaning = old.as_ref().is_some_and(|o| o.deleting && o.orphan);
        if node.deleting && node.orphan && !was_orphaning {
            work.push(Work::AttemptToOrphan(node.uid.clone()));
        }
        let was_waiting = old.as_ref().is_some_and(Node::deleting_dependents);
        if node.deleting_dependents() && !was_waiting {
            work.push(Work::AttemptToDelete(node.uid.clone()));
            for d in self.dependents.get(&node.uid).into_iter().flatten() {
                work.push(Work::AttemptToDelete(d.clone()));
            }
        }
        self.absent.remove(&node.uid);
        self.nodes.insert(node.uid.clone(), node);
        work
    }

    /// An object is gone; returns the work this causes.
    pub fn remove(&mut self, uid: &str) -> Vec<Work> {
        let mut work = Vec::new();
        if let Some(node) = self.nodes.remove(uid) {
            for o in &node.owners {
                self.unlink(uid, &o.uid);
                if self
                    .nodes
                    .get(&o.uid)
                    .is_some_and(Node::deleting_dependents)
                {
                    work.push(Work::AttemptToDelete(o.uid.clone()));
                }
            }
        }
        if let Some(deps) = self.dependents.get(uid) {
            self.absent.insert(uid.to_string());
            work.extend(deps.iter().map(|d| Work::AttemptToDelete(d.clone())));
        }
        work
    }
}

/// The state of one owner of an object being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not being deleted in the foreground.
    Solid,
    /// Gone (or replaced by an object with another uid).
    Dangling,
    /// Being deleted with `foregroundDeletion`: waiting for its dependents.
    Waiting,
}

/// The deletion propagation to request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// What to do with one object (upstream `attemptToDeleteItem`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// Keep the object; drop its references to these owner uids (gone, or waiting while a
    /// solid owner remains).
    RemoveOwnerRefs(Vec<String>),
    /// Delete the object with this propagation.
    Delete(Propagation),
}

/// Decides about an object from its owners' states, whether it has dependents of its own, and
/// its finalizers.
pub fn decide(
    owners: &[(String, OwnerState)],
    has_dependents: bool,
    finalizers: &[String],
) -> Decision {
    if owners.is_empty() {
        return Decision::Nothing;
    }
    let solid = owners.iter().any(|(_, s)| *s == OwnerState::Solid);
    let waiting = owners.iter().any(|(_, s)| *s == OwnerState::Waiting);
    if solid {
        let drop: Vec<String> = owners
            .iter()
            .filter(|(_, s)| *s != OwnerState::Solid)
            .map(|(u, _)| u.clone())
            .collect();
        return if drop.is_empty() {
            Decision::Nothing
        } else {
            Decision::RemoveOwnerRefs(drop)
        };
    }
    if waiting && has_dependents {
        return Decision::Delete(Propagation::Foreground);
    }
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        Propagation::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    Decision::Delete(policy)
}
