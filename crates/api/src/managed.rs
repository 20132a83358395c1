//! Server-side apply and field ownership (`metadata.managedFields`), after upstream's
//! `sigs.k8s.io/structured-merge-diff` and `k8s.io/apimachinery/pkg/util/managedfields`.
//!
//! - [`Set`] is a set of field paths (a trie), encoded as FieldsV1 (`{"f:spec":{"f:replicas":{}}}`,
//!   `k:{"name":"web"}` for items of map-lists, `v:"a"` for items of sets, `.` for a path that is
//!   itself owned and has owned fields below it).
//! - [`Managed`] is the decoded `managedFields` list; [`Managed::decode`] / [`Managed::encode`]
//!   read and write it (entries sorted as upstream: Apply before Update, then by time, manager,
//!   apiVersion, subresource).
//! - [`update`] records an Update operation (create, update, non-apply patch): the manager takes
//!   the fields it changed, others lose them; empty entries are dropped.
//! - [`apply`] is an Apply operation: the configuration is merged into the live object by the
//!   schema (map-lists by key, sets by value, atomic lists and maps as a whole); fields the
//!   manager applied before but omits now are removed when no other manager owns them; fields
//!   another manager owns and the apply changes are conflicts unless `force`, which takes them.
//!
//! Object types come from [`ObjectType`]: the built-in OpenAPI definitions or a custom
//! resource's structural schema. Nothing here does IO; times are passed in.

mod set;
mod types;
mod walk;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

pub use set::{Node, PathElement, Set, path_string};
pub use types::ObjectType;
pub use walk::Comparison;

use types::{Ty, Types};

/// The manager of Update operations that existed before an object was first applied.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The bucket older Update entries are merged into beyond [`MAX_UPDATE_MANAGERS`].
pub const ANCIENT_CHANGES: &str = "ancient-changes";
/// At most this many Update entries are kept (upstream `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// The annotation of client-side apply.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The longest field manager name (upstream `FieldManagerMaxLength`).
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Why field ownership could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedError {
    /// `managedFields` (or its FieldsV1) is malformed.
    #[error("{0}")]
    Fields(String),
    /// An object does not fit its schema (e.g. a map-list item without its key).
    #[error("{0}")]
    Invalid(String),
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the apply changes.
    #[error("{}", .0.message())]
    Conflicts(Conflicts),
    /// The configuration or the live object cannot be processed.
    #[error("{0}")]
    Invalid(#[from] ManagedError),
}

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    /// As spelled in `managedFields[].operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who writes: the manager, the API version of the request and its subresource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    /// `status`, `scale`, … or None for the main resource.
    pub subresource: Option<&'a str>,
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, as stored.
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: Set,
}

impl Entry {
    /// Whether `self` is the entry of this manager/operation (upstream's manager identifier:
    /// manager, operation, subresource, and the apiVersion of Update entries).
    fn is(&self, w: &Writer<'_>, op: Operation) -> bool {
        self.manager == w.manager
            && self.operation == op
            && self.subresource.as_deref() == w.subresource
            && (op == Operation::Apply || self.api_version == w.api_version)
    }

    /// Upstream's manager identifier (the JSON of the entry without fields and time).
    fn identifier(&self) -> String {
        // Field order of metav1.ManagedFieldsEntry, as upstream marshals it.
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let mut out = format!(
            "{{\"manager\":{},\"operation\":{}",
            q(&self.manager),
            q(self.operation.as_str())
        );
        if self.operation == Operation::Update {
            out.push_str(&format!(",\"apiVersion\":{}", q(&self.api_version)));
        }
        if let Some(s) = &self.subresource {
            out.push_str(&format!(",\"subresource\":{}", q(s)));
        }
        out.push('}');
        out
    }

    /// How a conflict names this manager: `"m"`, `"m" with subresource "status"`,
    /// `"m" using apps/v1 at <time>` for Update entries.
    fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s = format!("{s} with subresource {sub:?}");
        }
        if self.operation == Operation::Update {
            s = match &self.time {
                Some(t) => format!("{s} using {} at {t}", self.api_version),
                None => format!("{s} using {}", self.api_version),
            };
        }
        s
    }
}

/// The decoded `metadata.managedFields` of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub entries: Vec<Entry>,
}

/// Paths upstream never records (`stripMetaManager`).
fn strip_set() -> Set {
    let mut s = Set::new();
    for p in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        let path: Vec<PathElement> = p.iter().map(|f| PathElement::field(f)).collect();
        s.insert(&path);
    }
    s
}

/// A set of whole top-level fields (`["status"]` → `.status`), e.g. the fields an endpoint
/// resets and ownership ignores.
pub fn top_level_fields(names: &[&str]) -> Set {
    let mut s = Set::new();
    for n in names {
        s.insert(&[PathElement::field(n)]);
    }
    s
}

impl Managed {
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decode a `managedFields` list (absent or null: empty).
    pub fn decode(v: Option<&Value>) -> Result<Managed, ManagedError> {
        let items = match v {
            None | Some(Value::Null) => return Ok(Managed::default()),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ManagedError::Fields("managedFields must be a list".into())),
        };
        let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let s = |k: &str| item.get(k).and_then(Value::as_str);
            let operation = match s("operation") {
                Some("Apply") => Operation::Apply,
                Some("Update") => Operation::Update,
                _ => {
                    return Err(ManagedError::Fields(
                        "operation must be `Apply` or `Update`".into(),
                    ));
                }
            };
            let api_version = s("apiVersion").unwrap_or("");
            if api_version.is_empty() {
                return Err(ManagedError::Fields("apiVersion must not be empty".into()));
            }
            match s("fieldsType") {
                Some("FieldsV1") => {}
                None | Some("") => {
                    return Err(ManagedError::Fields(format!(
                        "missing fieldsType in managed fields entry {i}"
                    )));
                }
                Some(other) => {
                    return Err(ManagedError::Fields(format!(
                        "invalid fieldsType {other:?} in managed fields entry {i}"
                    )));
                }
            }
            let fields = match item.get("fieldsV1") {
                None | Some(Value::Null) => Set::new(),
                Some(f) => Set::from_fields_v1(f)?,
            };
            let entry = Entry {
                manager: s("manager").unwrap_or("").to_string(),
                operation,
                api_version: api_version.to_string(),
                time: s("time").map(str::to_string),
                subresource: s("subresource")
                    .filter(|x| !x.is_empty())
                    .map(str::to_string),
                fields,
            };
            // A repeated identifier replaces the earlier entry, as decoding into a map does.
            let id = entry.identifier();
            entries.retain(|e| e.identifier() != id);
            entries.push(entry);
        }
        Ok(Managed { entries })
    }

    /// Whether a request's `managedFields` asks to reset them: an empty list, or a list of one
    /// empty entry (upstream `isResetManagedFields`).
    pub fn is_reset(v: Option<&Value>) -> bool {
        match v {
            Some(Value::Array(a)) if a.is_empty() => true,
            Some(Value::Array(a)) if a.len() == 1 => a[0]
                .as_object()
                .is_some_and(|o| o.values().all(|v| v.is_null())),
            _ => false,
        }
    }

    /// The `managedFields` list, sorted as upstream sorts it; None when there are no entries.
    pub fn encode(&self) -> Option<Value> {
        if self.entries.is_empty() {
            return None;
        }
        let mut sorted: Vec<&Entry> = self.entries.iter().collect();
        sorted.sort_by(|p, q| {
            p.operation
                .cmp(&q.operation)
                .then_with(|| {
                    p.time
                        .as_deref()
                        .unwrap_or("")
                        .cmp(q.time.as_deref().unwrap_or(""))
                })
                .then_with(|| p.manager.cmp(&q.manager))
                .then_with(|| p.api_version.cmp(&q.api_version))
                .then_with(|| p.subresource.cmp(&q.subresource))
        });
        Some(Value::Array(
            sorted
                .into_iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert("manager".into(), json!(e.manager));
                    m.insert("operation".into(), json!(e.operation.as_str()));
                    m.insert("apiVersion".into(), json!(e.api_version));
                    if let Some(t) = &e.time {
                        m.insert("time".into(), json!(t));
                    }
                    m.insert("fieldsType".into(), json!("FieldsV1"));
                    m.insert("fieldsV1".into(), e.fields.to_fields_v1());
                    if let Some(s) = &e.subresource {
                        m.insert("subresource".into(), json!(s));
                    }
                    Value::Object(m)
                })
                .collect(),
        ))
    }

    /// Write these entries into `obj.metadata.managedFields` (removed when empty).
    pub fn write_to(&self, obj: &mut Value) {
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        match self.encode() {
            Some(v) => meta.insert("managedFields".into(), v),
            None => meta.remove("managedFields"),
        };
    }

    fn position(&self, w: &Writer<'_>, op: Operation) -> Option<usize> {
        self.entries.iter().position(|e| e.is(w, op))
    }

    /// Union of every entry's fields.
    fn owned(&self) -> Set {
        self.entries
            .iter()
            .fold(Set::new(), |acc, e| acc.union(&e.fields))
    }

    /// Merge the oldest Update entries into per-version `ancient-changes` buckets until at most
    /// [`MAX_UPDATE_MANAGERS`] remain (upstream `capManagersManager`).
    fn cap_updaters(&mut self) {
        let mut updaters: Vec<usize> = (0..self.entries.len())
            .filter(|i| self.entries[*i].operation == Operation::Update)
            .collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let (ea, eb) = (&self.entries[*a], &self.entries[*b]);
            ea.time
                .as_deref()
                .unwrap_or("")
                .cmp(eb.time.as_deref().unwrap_or(""))
                .then_with(|| ea.identifier().cmp(&eb.identifier()))
        });
        let mut length = updaters.len();
        let mut first_of_version: Vec<(String, usize)> = Vec::new();
        let mut remove = Vec::new();
        for i in updaters {
            if length <= MAX_UPDATE_MANAGERS {
                break;
            }
            let version = self.entries[i].api_version.clone();
            match first_of_version.iter().find(|(v, _)| *v == version) {
                Some((_, first)) => {
                    let first = *first;
                    let fields = self.entries[i].fields.clone();
                    let time = self.entries[i].time.clone();
                    let bucket = &mut self.entries[first];
                    bucket.manager = ANCIENT_CHANGES.to_string();
                    bucket.subresource = None;
                    bucket.fields = bucket.fields.union(&fields);
                    bucket.time = time;
                    remove.push(i);
                    length -= 1;
                }
                None => first_of_version.push((version, i)),
            }
        }
        remove.sort_unstable();
        for i in remove.into_iter().rev() {
            self.entries.remove(i);
        }
    }
}

/// Conflicts of an apply: other managers' fields it would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts {
    /// (printed manager, manager identifier, path), in upstream's order.
    items: Vec<(String, String, Vec<PathElement>)>,
}

impl Conflicts {
    /// `(manager as printed, field path)` of every conflict, e.g. (`"\"kubectl\""`, `.spec.replicas`).
    pub fn causes(&self) -> Vec<(String, String)> {
        self.items
            .iter()
            .map(|(m, _, p)| (format!("conflict with {m}"), path_string(p)))
            .collect()
    }

    /// Upstream's message: `Apply failed with 1 conflict: conflict with "m": .spec.replicas`, or
    /// for several, grouped by manager.
    pub fn message(&self) -> String {
        if let [(m, _, p)] = self.items.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {m}: {}",
                path_string(p)
            );
        }
        let mut ids: Vec<&String> = self.items.iter().map(|(_, id, _)| id).collect();
        ids.sort();
        ids.dedup();
        let mut lines = Vec::new();
        for id in ids {
            let mine: Vec<_> = self.items.iter().filter(|(_, i, _)| i == id).collect();
            lines.push(format!("conflicts with {}:", mine[0].0));
            for (_, _, p) in mine {
                lines.push(format!("- {}", path_string(p)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.items.len(),
            lines.join("\n")
        )
    }

    /// The conflicting paths.
    fn paths(&self) -> Set {
        let mut s = Set::new();
        for (_, _, p) in &self.items {
            s.insert(p);
        }
        s
    }
}

/// Inputs every ownership computation needs.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The object's schema.
    pub object_type: ObjectType<'a>,
    /// Fields the endpoint resets, which nobody owns through it (`status` on the main resource
    /// of kinds with a status subresource, `spec` on `status`): see [`top_level_fields`].
    pub ignored: &'a Set,
    /// The time of the operation (RFC 3339).
    pub now: &'a str,
}

impl<'a> Context<'a> {
    fn types(&self) -> Types<'a> {
        Types {
            schemas: crate::schema::schemas(),
        }
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    o
}

fn has_uid(obj: &Value) -> bool {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// Compare old and new, take the changes from other entries (force) and give them to the
/// writer's entry of `op`; entries left empty are dropped. `writer_set`: for Apply, the
/// applier's new set (already in place). Returns conflicts when `!force`.
fn take_changes(
    managed: &mut Managed,
    cmp: &Comparison,
    own: Option<usize>,
    force: bool,
) -> Result<(), Conflicts> {
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts = Vec::new();
    for (i, e) in managed.entries.iter().enumerate() {
        if Some(i) == own {
            continue;
        }
        let c = e.fields.intersection(&changed);
        for p in c.paths() {
            conflicts.push((e.printed(), e.identifier(), p));
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.1.cmp(&b.1));
        return Err(Conflicts { items: conflicts });
    }
    if changed.is_empty() && cmp.removed.is_empty() {
        return Ok(());
    }
    let lost = changed.union(&cmp.removed);
    for (i, e) in managed.entries.iter_mut().enumerate() {
        if Some(i) == own || e.fields.intersection(&lost).is_empty() {
            continue;
        }
        e.fields = e.fields.difference(&lost);
    }
    Ok(())
}

/// Record an Update operation (create, update, or a non-apply patch) of `writer` that changed
/// `old` into `new` (`old` is `Value::Null` or `{}` for a create). `managed` is what the
/// request's object carries or, when it carries none, the live object's (see
/// [`request_managed`]). Returns the new entries.
pub fn update(
    ctx: &Context<'_>,
    managed: &Managed,
    writer: &Writer<'_>,
    old: &Value,
    new: &Value,
) -> Result<Managed, ManagedError> {
    // Objects that exist without managed fields stay untracked until applied (upstream
    // skipNonAppliedManager); creates are tracked.
    if managed.is_empty() && has_uid(old) {
        return Ok(Managed::default());
    }
    let types = ctx.types();
    let root = types.root(ctx.object_type);
    let empty = json!({});
    let old = if old.is_object() { old } else { &empty };
    // `metadata.managedFields` itself is never owned (see strip_set), so it may be compared.
    let mut cmp = walk::compare(&types, root, old, new)?;
    cmp.exclude(ctx.ignored);
    let mut out = managed.clone();
    // The writer's own entry loses removed and changed fields like every other entry
    // (upstream runs the comparison as "current-operation"), then gains the changes.
    let _ = take_changes(&mut out, &cmp, None, true);
    let took = cmp
        .modified
        .union(&cmp.added)
        .difference(&cmp.removed)
        .recursive_difference(ctx.ignored)
        .difference(&strip_set());
    match out.position(writer, Operation::Update) {
        Some(i) if !took.is_empty() => {
            out.entries[i].fields = out.entries[i].fields.union(&took);
            out.entries[i].time = Some(ctx.now.to_string());
        }
        None if !took.is_empty() => out.entries.push(Entry {
            manager: writer.manager.to_string(),
            operation: Operation::Update,
            api_version: writer.api_version.to_string(),
            time: Some(ctx.now.to_string()),
            subresource: writer.subresource.map(str::to_string),
            fields: took,
        }),
        _ => {}
    }
    out.entries.retain(|e| !e.fields.is_empty());
    out.cap_updaters();
    Ok(out)
}

/// The entries an Update starts from (upstream `decodeLiveOrNew`): a reset request (`[]` or
/// `[{}]`) starts empty; valid `managedFields` sent with the object replace the live ones;
/// otherwise (absent, invalid, or a subresource write) the live object's.
pub fn request_managed(live: &Value, request: &Value, subresource: Option<&str>) -> Managed {
    let live_managed =
        || Managed::decode(live.pointer("/metadata/managedFields")).unwrap_or_default();
    if subresource.is_some() {
        return live_managed();
    }
    let sent = request.pointer("/metadata/managedFields");
    if Managed::is_reset(sent) {
        return Managed::default();
    }
    match Managed::decode(sent) {
        Ok(m) if !m.is_empty() => m,
        _ => live_managed(),
    }
}

/// Apply `config` (an applied configuration, already checked for kind and version and free of
/// `managedFields`) for `writer` to `live` (`{}` or Null when the object does not exist yet),
/// whose entries are `managed`. Returns the merged object (its `managedFields` not yet
/// written; see [`Managed::write_to`]) and the new entries.
pub fn apply(
    ctx: &Context<'_>,
    managed: &Managed,
    writer: &Writer<'_>,
    live: &Value,
    config: &Value,
    force: bool,
) -> Result<(Value, Managed), ApplyError> {
    let types = ctx.types();
    let root = types.root(ctx.object_type);
    let empty = json!({});
    let live = without_managed_fields(if live.is_object() { live } else { &empty });
    let mut managed = managed.clone();
    if managed.is_empty() && has_uid(&live) {
        // Ownership of an untracked object starts with everything it has.
        let w = Writer {
            manager: BEFORE_FIRST_APPLY,
            ..writer.clone()
        };
        managed = update(ctx, &Managed::default(), &w, &empty, &live)?;
    }
    let result = apply_once(ctx, &types, root, &managed, writer, &live, config, force);
    match result {
        Err(ApplyError::Conflicts(conflicts)) if !force && writer.manager == "kubectl" => {
            // Conflicts with what client-side apply last applied (and the object still has)
            // are allowed, so that `kubectl apply --server-side` takes over from `kubectl apply`.
            let allowed = allowed_from_last_applied(&types, root, &live)?;
            if conflicts.paths().difference(&allowed).is_empty() {
                apply_once(ctx, &types, root, &managed, writer, &live, config, true)
            } else {
                let items = conflicts
                    .items
                    .into_iter()
                    .filter(|(_, _, p)| !allowed.has(p))
                    .collect();
                Err(ApplyError::Conflicts(Conflicts { items }))
            }
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_once(
    ctx: &Context<'_>,
    types: &Types<'_>,
    root: Ty<'_>,
    managed: &Managed,
    writer: &Writer<'_>,
    live: &Value,
    config: &Value,
    force: bool,
) -> Result<(Value, Managed), ApplyError> {
    let mut merged = walk::merge(types, root, Some(live), config)?;
    let set = walk::field_set(types, root, config)?.recursive_difference(ctx.ignored);
    let mut managed = managed.clone();
    let (own, last) = match managed.position(writer, Operation::Apply) {
        Some(i) => {
            let last = std::mem::replace(&mut managed.entries[i].fields, set);
            (i, Some(last))
        }
        None => {
            managed.entries.push(Entry {
                manager: writer.manager.to_string(),
                operation: Operation::Apply,
                api_version: writer.api_version.to_string(),
                time: None,
                subresource: writer.subresource.map(str::to_string),
                fields: set,
            });
            (managed.entries.len() - 1, None)
        }
    };
    if let Some(last) = last.filter(|l| !l.is_empty()) {
        let owned = managed.owned();
        walk::prune(types, root, &mut merged, &last, Some(&owned));
    }
    let mut cmp = walk::compare(types, root, live, &merged)?;
    cmp.exclude(ctx.ignored);
    take_changes(&mut managed, &cmp, Some(own), force).map_err(ApplyError::Conflicts)?;
    let entry = &mut managed.entries[own];
    entry.api_version = writer.api_version.to_string();
    entry.fields = entry.fields.difference(&strip_set());
    if merged != *live || entry.time.is_none() {
        entry.time = Some(ctx.now.to_string());
    }
    managed.entries.retain(|e| !e.fields.is_empty());
    if writer.manager == "kubectl" {
        sync_last_applied(&mut merged, config);
    }
    Ok((merged, managed))
}

/// The fields client-side apply last applied that the live object still has as applied.
fn allowed_from_last_applied(
    types: &Types<'_>,
    root: Ty<'_>,
    live: &Value,
) -> Result<Set, ManagedError> {
    let Some(text) = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(Set::new());
    };
    let Ok(last) = serde_json::from_str::<Value>(text) else {
        return Ok(Set::new());
    };
    if last.get("apiVersion") != live.get("apiVersion") {
        return Ok(Set::new());
    }
    let set = walk::field_set(types, root, &last)?;
    let cmp = walk::compare(types, root, &last, live)?;
    Ok(set
        .difference(&cmp.modified)
        .difference(&cmp.added)
        .difference(&cmp.removed))
}

/// `kubectl` server-side applies keep an existing client-side apply annotation in sync
/// (upstream `lastAppliedUpdater`), so that switching back to client-side apply works.
fn sync_last_applied(merged: &mut Value, config: &Value) {
    let has = merged
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has {
        return;
    }
    let mut cfg = config.clone();
    if let Some(a) = cfg
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove(LAST_APPLIED);
    }
    let text = cfg.to_string();
    if let Some(a) = merged
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), Value::String(text));
    }
}

/// The manager name of an Update without `fieldManager`: the User-Agent up to its first `/`,
/// without non-printable characters, cut at [`FIELD_MANAGER_MAX_LENGTH`] bytes (upstream
/// `prefixFromUserAgent`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let head = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in head.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}
