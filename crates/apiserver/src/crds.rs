//! Custom resources: the dynamic part of the registry, fed by CustomResourceDefinitions.
//!
//! Built-in resources are a static table (`k3rs_api::registry`). A CRD adds one
//! [`CustomResource`] per served version. Request handling needs `&'static ResourceInfo`,
//! so each distinct definition is interned once (leaked); memory grows only with the number of
//! distinct definitions ever served, not with requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

pub use k3rs_api::crd::Schema;
use k3rs_api::registry::ResourceInfo;
use serde_json::Value;

/// One served version of a custom resource.
pub struct CustomResource {
    pub info: &'static ResourceInfo,
    /// The CRD's name (`<plural>.<group>`).
    pub crd_name: String,
    /// Structural schema of this version (None: no schema, everything preserved).
    pub schema: Option<Schema>,
    /// The version's `schema.openAPIV3Schema` as written, for the OpenAPI documents.
    pub openapi_schema: Option<Value>,
    /// The accepted list kind (`WidgetList`).
    pub list_kind: String,
    /// `additionalPrinterColumns` of this version.
    pub printer_columns: Vec<Value>,
    /// The version objects are stored in (conversion strategy None: only apiVersion changes).
    pub storage_version: String,
}

type Key = (String, String, String);

/// The custom resources being served.
#[derive(Default)]
pub struct CustomResources {
    served: RwLock<HashMap<Key, Arc<CustomResource>>>,
    interned: Mutex<HashMap<String, &'static ResourceInfo>>,
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_list(v: &[String]) -> &'static [&'static str] {
    Box::leak(
        v.iter()
            .map(|s| leak(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

const VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

/// The description of one version's resource, before interning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: bool,
}

impl CustomResources {
    /// The custom resource at group/version/plural.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<CustomResource>> {
        let served = self.served.read().ok()?;
        served
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The custom resource behind a resource info (None for built-ins).
    pub fn of(&self, info: &ResourceInfo) -> Option<Arc<CustomResource>> {
        self.lookup(info.group, info.version, info.plural)
    }

    /// A `&'static ResourceInfo` for a definition, reusing an identical earlier one.
    pub fn intern(&self, d: &Definition) -> &'static ResourceInfo {
        let key = format!("{d:?}");
        let mut interned = match self.interned.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        interned.entry(key).or_insert_with(|| {
            Box::leak(Box::new(ResourceInfo {
                group: leak(&d.group),
                version: leak(&d.version),
                plural: leak(&d.plural),
                singular: leak(&d.singular),
                kind: leak(&d.kind),
                namespaced: d.namespaced,
                short_names: leak_list(&d.short_names),
                categories: leak_list(&d.categories),
                verbs: VERBS,
                status: d.status,
                scale: d.scale,
                generation: true,
                storage: leak(&format!("{}/{}", d.group, d.plural)),
            }))
        })
    }

    /// Serve exactly these versions for the CRD `crd_name` (replacing what it served before).
    pub fn set(&self, crd_name: &str, versions: Vec<CustomResource>) {
        let Ok(mut served) = self.served.write() else {
            return;
        };
        served.retain(|_, cr| cr.crd_name != crd_name);
        for cr in versions {
            let key = (
                cr.info.group.to_string(),
                cr.info.version.to_string(),
                cr.info.plural.to_string(),
            );
            served.insert(key, Arc::new(cr));
        }
    }

    /// Whether another CRD of the group already uses one of these names (plural, singular,
    /// kind or a short name), as upstream's naming controller checks.
    pub fn conflicts(&self, crd_name: &str, d: &Definition) -> bool {
        let Ok(served) = self.served.read() else {
            return false;
        };
        served
            .values()
            .filter(|cr| cr.crd_name != crd_name && cr.info.group == d.group)
            .any(|cr| {
                let i = cr.info;
                i.plural == d.plural
                    || i.singular == d.singular
                    || i.kind == d.kind
                    || d.short_names
                        .iter()
                        .any(|s| i.short_names.contains(&s.as_str()))
            })
    }

    /// Every served custom resource as the OpenAPI documents describe it, in [`Self::infos`]
    /// order.
    pub fn openapi_kinds(&self) -> Vec<k3rs_api::openapi::CustomKind> {
        let Ok(served) = self.served.read() else {
            return Vec::new();
        };
        let mut out: Vec<k3rs_api::openapi::CustomKind> = served
            .values()
            .map(|cr| k3rs_api::openapi::CustomKind {
                info: cr.info,
                list_kind: cr.list_kind.clone(),
                schema: cr.openapi_schema.clone(),
            })
            .collect();
        out.sort_by(|a, b| {
            (a.info.group, a.info.version, a.info.plural).cmp(&(
                b.info.group,
                b.info.version,
                b.info.plural,
            ))
        });
        out
    }

    /// Every served custom resource, grouped by group and ordered by version priority.
    pub fn infos(&self) -> Vec<&'static ResourceInfo> {
        let mut out: Vec<&'static ResourceInfo> = self
            .served
            .read()
            .map(|s| s.values().map(|cr| cr.info).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| {
            a.group
                .cmp(b.group)
                .then_with(|| version_priority(b.version).cmp(&version_priority(a.version)))
                .then_with(|| a.plural.cmp(b.plural))
        });
        out
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first; other strings last.
pub fn version_priority(v: &str) -> (u8, u64, u64, std::cmp::Reverse<String>) {
    let parse = |s: &str| -> Option<(u64, u8, u64)> {
        let rest = s.strip_prefix('v')?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits_end].parse().ok()?;
        let tail = &rest[digits_end..];
        if tail.is_empty() {
            return Some((major, 3, 0));
        }
        let (class, num) = if let Some(n) = tail.strip_prefix("beta") {
            (2, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n)
        } else {
            return None;
        };
        Some((major, class, num.parse().ok()?))
    };
    match parse(v) {
        Some((major, class, minor)) => (class, major, minor, std::cmp::Reverse(String::new())),
        None => (0, 0, 0, std::cmp::Reverse(v.to_string())),
    }
}
