//! Strategic merge patch (`application/strategic-merge-patch+json`): the server-side apply half
//! of upstream `k8s.io/apimachinery/pkg/util/strategicpatch` (`StrategicMergePatch`).
//!
//! A strategic merge patch is a JSON merge patch (RFC 7386) whose lists can merge instead of being
//! replaced. How a field merges comes from the type's schema ([`MergeSchema`]), the Go struct tags
//! `patchStrategy` / `patchMergeKey` upstream:
//!
//! - maps merge key by key; `null` deletes a key;
//! - lists with `patchStrategy: merge` and a merge key merge element by element (matched on the
//!   key), new elements are added; lists of primitives with `merge` are sets (union, no duplicates);
//!   every other list is replaced whole;
//! - fields with `patchStrategy: replace` are replaced whole.
//!
//! Directives in the patch (never copied into the result):
//! - `"$patch": "replace"` in a map replaces the map; as a list element it replaces the list;
//! - `"$patch": "delete"` in a map deletes the map's content; as a list element together with the
//!   merge key it deletes the matching elements;
//! - `"$deleteFromPrimitiveList/<field>": [...]` removes values from a list of primitives;
//! - `"$setElementOrder/<field>": [...]` fixes the order of a merged list (kubectl sends it);
//! - `"$retainKeys": [...]` clears every key of the map that is not listed.
//!
//! The order of a merged list is upstream's: the patch's elements in the patch's order (or the
//! `$setElementOrder` order), and each server-only element placed before the first patch element
//! that follows it in the live list; elements with no such anchor go after the patch's elements,
//! and new patch elements without an anchor go first (as in the docs' `kubectl patch` example,
//! where the added container comes out before the existing one). Where `$setElementOrder` meets a
//! patch that also deletes or adds elements, upstream's live order is a Go slice that the merge
//! has partly overwritten; that is reproduced, modelling the slice capacity as `encoding/json`
//! leaves it, because upstream's own expected results depend on it.
//!
//! Types or fields the schema does not know merge like a JSON merge patch (maps merge, lists are
//! replaced), which is what upstream does for unstructured objects. Pass [`NoSchema`] to get that for
//! a whole object.
//!
//! Deliberate differences from upstream (all in inputs kubectl never produces):
//! - a field the schema does not know is merged with default rules instead of failing with
//!   "unable to find api field";
//! - values that are copied in as they are (new keys, new list elements, replaced lists and maps)
//!   have every directive removed; upstream drops maps carrying `$patch` but lets `$retainKeys`,
//!   `$setElementOrder/…` and `$deleteFromPrimitiveList/…` keys through, and drops a new map
//!   marked `"$patch": "replace"` where this keeps its content (and rejects an unknown `$patch`
//!   value there, which upstream drops silently);
//! - new list elements have their `null` values removed, like upstream does for new map values;
//! - a field and its `$deleteFromPrimitiveList/…` are applied in that order (upstream: map order);
//! - inputs on which upstream panics (maps as merge-key values, `$setElementOrder` on a list of
//!   maps without merge key) are errors;
//! - the slice overwrite above is not reproduced for lists of primitives, where it only shows when
//!   the live set already holds duplicates.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

#[cfg(test)]
mod tests;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// How a field merges: upstream's `patchStrategy` tag (`x-kubernetes-patch-strategy`) together with
/// `patchMergeKey` (`x-kubernetes-patch-merge-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy<'a> {
    /// No strategy: a map merges key by key, a list is replaced whole (atomic).
    #[default]
    Default,
    /// `merge`: a list merges. With `key`, a list of objects merges element by element matched on
    /// that field; without, a list of primitives merges as a set.
    Merge {
        /// The merge key (`patchMergeKey`), e.g. `name` for `containers`.
        key: Option<&'a str>,
    },
    /// `replace`: the value, map or list, is replaced whole.
    Replace,
}

/// What strategic merge needs to know about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeInfo<'a> {
    /// The field's patch strategy and merge key.
    pub strategy: Strategy<'a>,
    /// `patchStrategy` includes `retainKeys` (volumes, `Deployment.spec.strategy`). Applying a
    /// patch honours `$retainKeys` wherever it appears, so this is informational here (it matters
    /// to whoever creates patches).
    pub retain_keys: bool,
}

/// A field of an object type, as a [`MergeSchema`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldRef<'a> {
    /// The schema type of the field's value to descend into: the element type for lists, the
    /// value type for objects. `None` when unknown (or a primitive): below it, everything merges
    /// with default rules.
    pub ty: Option<&'a str>,
    /// How the field merges.
    pub merge: MergeInfo<'a>,
}

/// The source of merge information: the built-in type schema, or a test table.
///
/// Types are named by strings (e.g. `io.k8s.api.core.v1.PodSpec`). For a string-keyed map of
/// objects (`additionalProperties`), the map's own type should answer every key with the value
/// type.
pub trait MergeSchema {
    /// The field `name` of object type `ty`, or `None` when the type or field is unknown.
    fn field<'a>(&'a self, ty: &str, name: &str) -> Option<FieldRef<'a>>;
}

/// A schema that knows nothing: the patch then merges like a JSON merge patch (maps merge, lists
/// are replaced) but directives are still honoured. Upstream's behaviour for unstructured objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSchema;

impl MergeSchema for NoSchema {
    fn field<'a>(&'a self, _ty: &str, _name: &str) -> Option<FieldRef<'a>> {
        None
    }
}

/// Why a strategic merge patch could not be applied. Messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicError {
    /// The original object or the patch is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// A list contains lists.
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A merged list mixes element types.
    #[error("list element types are not identical: {lists}")]
    MixedListTypes {
        /// The lists involved, as JSON.
        lists: String,
    },
    /// `$setElementOrder` for a list that is empty in both the object and the patch.
    #[error("no elements in any of the given slices")]
    NoElements,
    /// A `$deleteFromPrimitiveList/…` key without a field name.
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    /// `$retainKeys` is not a list, or the patch sets a key it does not list.
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    /// A malformed `$setElementOrder/…` key or value.
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    /// A value has the wrong JSON type (Go type names, as upstream prints them).
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        /// The expected type.
        expected: &'static str,
        /// The type found.
        actual: &'static str,
    },
    /// An element of a merged list of objects lacks the merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey {
        /// The element, as JSON.
        map: String,
        /// The merge key.
        key: String,
    },
    /// A merge-key value that is an object or a list.
    #[error("merge key {key} of {map} is not a primitive value")]
    UncomparableMergeKey {
        /// The element, as JSON.
        map: String,
        /// The merge key.
        key: String,
    },
    /// An unknown `$patch` directive.
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType {
        /// The directive's value, as JSON.
        directive: String,
        /// The map carrying it, as JSON.
        map: String,
    },
    /// `"$patch": "merge"` as a list element.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A list of objects marked `merge` without a merge key, or `$setElementOrder` for a list of
    /// objects without merge key.
    #[error("cannot merge lists without merge key for {field}")]
    NoMergeKeyDeclared {
        /// The field.
        field: String,
    },
    /// The patch list's order contradicts its `$setElementOrder` list.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    SetElementOrderMismatch {
        /// The patch list, as JSON.
        patch: String,
        /// The `$setElementOrder` list, as JSON.
        order: String,
    },
}

type Result<T> = std::result::Result<T, StrategicError>;

/// Applies the strategic merge patch `patch` to `original`, an object of schema type `root_type`.
///
/// `null` for either side counts as `{}`, as upstream. Clones `original`; see [`apply_owned`].
pub fn apply(
    original: &Value,
    patch: &Value,
    root_type: &str,
    schema: &dyn MergeSchema,
) -> Result<Value> {
    apply_owned(original.clone(), patch, root_type, schema)
}

/// [`apply`], merging into `original` in place instead of cloning it.
pub fn apply_owned(
    original: Value,
    patch: &Value,
    root_type: &str,
    schema: &dyn MergeSchema,
) -> Result<Value> {
    let mut original = match original {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err(StrategicError::BadJsonDoc),
    };
    let empty = Map::new();
    let patch = match patch {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(StrategicError::BadJsonDoc),
    };
    Merger { schema }.merge_map(&mut original, patch, Some(root_type))?;
    Ok(Value::Object(original))
}

/// The JSON type of a value, as upstream distinguishes them (Go's `reflect.Type` after
/// `k8s.io/apimachinery/pkg/util/json`, which decodes integers to `int64`, other numbers to
/// `float64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    List,
    Map,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_i64() => Kind::Int,
        Value::Number(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

/// Go's name of a value's type, for [`StrategicError::BadArgType`].
fn go_type(v: &Value) -> &'static str {
    match kind(v) {
        Kind::Null => "<nil>",
        Kind::Bool => "bool",
        Kind::Int => "int64",
        Kind::Float => "float64",
        Kind::Str => "string",
        Kind::List => LIST_TYPE,
        Kind::Map => MAP_TYPE,
    }
}

const LIST_TYPE: &str = "[]interface {}";
const MAP_TYPE: &str = "map[string]interface {}";

/// A primitive value as a hash key, with Go's `==` on decoded JSON: `1` and `1.0` differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
}

impl<'a> Key<'a> {
    /// The key of a primitive; `None` for lists and objects.
    fn of(v: &'a Value) -> Option<Key<'a>> {
        Some(match v {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Key::Int(i),
                None => Key::Float(n.as_f64().unwrap_or(f64::NAN).to_bits()),
            },
            Value::String(s) => Key::Str(s),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }
}

fn json(v: &Value) -> String {
    v.to_string()
}

fn map_json(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

/// The merge-key value of a list element, checked as upstream does.
fn merge_key_of<'a>(item: &'a Value, key: &str) -> Result<Key<'a>> {
    let m = item.as_object().ok_or(StrategicError::BadArgType {
        expected: MAP_TYPE,
        actual: go_type(item),
    })?;
    map_merge_key(m, key)
}

fn map_merge_key<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Key<'a>> {
    let v = m.get(key).ok_or_else(|| StrategicError::NoMergeKey {
        map: map_json(m),
        key: key.to_owned(),
    })?;
    Key::of(v).ok_or_else(|| StrategicError::UncomparableMergeKey {
        map: map_json(m),
        key: key.to_owned(),
    })
}

/// The key of an element of a list of primitives.
fn primitive_key(item: &Value) -> Result<Key<'_>> {
    Key::of(item).ok_or(StrategicError::NoListOfLists)
}

/// The position of each key's first occurrence (upstream's `index`). Lists in objects are mostly
/// short, so short ones are searched linearly instead of hashed.
struct Positions<'a> {
    few: Vec<(Key<'a>, usize)>,
    many: Option<HashMap<Key<'a>, usize>>,
}

impl<'a> Positions<'a> {
    const LINEAR: usize = 16;

    /// From `(key, position)` pairs in list order.
    fn new(pairs: impl IntoIterator<Item = Result<(Key<'a>, usize)>>) -> Result<Self> {
        let few = pairs.into_iter().collect::<Result<Vec<_>>>()?;
        let many = (few.len() > Self::LINEAR).then(|| {
            let mut m = HashMap::with_capacity(few.len());
            for &(k, i) in &few {
                m.entry(k).or_insert(i);
            }
            m
        });
        Ok(Positions { few, many })
    }

    /// Positions are the indices in the list.
    fn of_list(keys: impl IntoIterator<Item = Result<Key<'a>>>) -> Result<Self> {
        Self::new(keys.into_iter().enumerate().map(|(i, k)| k.map(|k| (k, i))))
    }

    fn get(&self, k: Key<'a>) -> Option<usize> {
        match &self.many {
            Some(m) => m.get(&k).copied(),
            None => self.few.iter().find(|(x, _)| *x == k).map(|&(_, i)| i),
        }
    }
}

/// Pins a closure's signature to "the key borrows from the element".
fn key_fn<F: for<'v> Fn(&'v Value) -> Result<Key<'v>>>(f: F) -> F {
    f
}

/// Where an element of a merged list comes from: the live list or the patch list (indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Live(usize),
    Patch(usize),
}

/// A merged list's elements with their origin.
type Tracked = Vec<(Value, Origin)>;

fn untrack(t: Tracked) -> Vec<Value> {
    t.into_iter().map(|(v, _)| v).collect()
}

/// The common element type of lists (upstream `sliceElementType`).
fn element_kind(lists: &[&[Value]]) -> Result<Kind> {
    let mut prev = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let k = kind(v);
        match prev {
            None if k == Kind::List => return Err(StrategicError::NoListOfLists),
            None => prev = Some(k),
            Some(p) if p != k => {
                let lists = lists
                    .iter()
                    .map(|l| serde_json::to_string(l).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(StrategicError::MixedListTypes {
                    lists: format!("[{lists}]"),
                });
            }
            Some(_) => {}
        }
    }
    prev.ok_or(StrategicError::NoElements)
}

/// The field name after a directive prefix (upstream `extractKey`).
fn extract_key<'k>(key: &'k str, prefix: &str) -> Result<&'k str> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
            Err(StrategicError::BadPatchFormatForPrimitiveList)
        }
        _ => Err(StrategicError::BadPatchFormatForSetElementOrderList),
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> StrategicError {
    StrategicError::BadPatchType {
        directive: match directive {
            Value::String(s) => s.clone(),
            other => json(other),
        },
        map: map_json(m),
    }
}

/// A patch value copied into the result as it is: directives removed, and with `discard_nulls`
/// (new values, upstream `discardNullValuesFromPatch`) `null` map values dropped. `None` when the
/// value itself is a `"$patch": "delete"` map, which is dropped.
fn clean(v: &Value, discard_nulls: bool) -> Result<Option<Value>> {
    Ok(Some(match v {
        Value::Object(m) => return clean_map(m, discard_nulls).map(|m| m.map(Value::Object)),
        Value::Array(items) => Value::Array(clean_list(items, discard_nulls)?),
        other => other.clone(),
    }))
}

fn clean_map(m: &Map<String, Value>, discard_nulls: bool) -> Result<Option<Map<String, Value>>> {
    if let Some(d) = m.get(DIRECTIVE_MARKER) {
        match d.as_str() {
            Some(DELETE_DIRECTIVE) => return Ok(None),
            Some(REPLACE_DIRECTIVE) => {}
            _ => return Err(bad_patch_type(d, m)),
        }
    }
    let mut out = Map::new();
    for (k, x) in m {
        if is_directive_key(k) || (discard_nulls && x.is_null()) {
            continue;
        }
        if let Some(x) = clean(x, discard_nulls)? {
            out.insert(k.clone(), x);
        }
    }
    Ok(Some(out))
}

fn clean_list(items: &[Value], discard_nulls: bool) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        if let Some(x) = clean(x, discard_nulls)? {
            out.push(x);
        }
    }
    Ok(out)
}

/// [`clean_list`], remembering each element's index in the patch.
fn clean_list_tracked(items: &[Value], discard_nulls: bool) -> Result<Tracked> {
    let mut out = Vec::with_capacity(items.len());
    for (j, x) in items.iter().enumerate() {
        if let Some(x) = clean(x, discard_nulls)? {
            out.push((x, Origin::Patch(j)));
        }
    }
    Ok(out)
}

/// Upstream `normalizeElementOrder` after partitioning. Each element comes with its position in
/// the patch order (`Some` makes it a patch element) and in the live order. Patch elements come in
/// patch order, the others (server-only) in live order, and the two sequences are interleaved by
/// the live order where both elements are in it (`mergeSortedSlice`).
fn order<T>(items: Vec<(Option<usize>, Option<usize>, T)>) -> Vec<T> {
    let mut patch_items: Vec<(usize, Option<usize>, T)> = Vec::new();
    let mut server_items: Vec<(Option<usize>, T)> = Vec::new();
    for (p, live, v) in items {
        match p {
            Some(p) => patch_items.push((p, live, v)),
            None => server_items.push((live, v)),
        }
    }
    patch_items.sort_by_key(|(p, _, _)| *p);
    server_items.sort_by_key(|(s, _)| s.unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(patch_items.len() + server_items.len());
    let mut left = server_items.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some((Some(l), _)), Some((_, Some(r), _))) => l < r,
            (Some(_), Some(_)) => false,
            _ => break,
        };
        if take_left {
            if let Some((_, v)) = left.next() {
                out.push(v);
            }
        } else if let Some((_, _, v)) = right.next() {
            out.push(v);
        }
    }
    out.extend(left.map(|(_, v)| v));
    out.extend(right.map(|(_, _, v)| v));
    out
}

/// Upstream `validatePatchWithSetOrderList`: the patch list's elements (deletions and other
/// directives aside) appear in `$setElementOrder` in the same relative order.
fn validate_set_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut non_delete = Vec::with_capacity(patch.len());
    for item in patch {
        match merge_key {
            Some(_) => {
                let m = item.as_object().ok_or(StrategicError::BadArgType {
                    expected: MAP_TYPE,
                    actual: go_type(item),
                })?;
                if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
                    non_delete.push(item);
                }
            }
            None => non_delete.push(item),
        }
    }
    let (mut p, mut o) = (0, 0);
    while p < non_delete.len() && o < order.len() {
        let item = non_delete[p];
        if item
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            p += 1;
            continue;
        }
        let equal = match merge_key {
            None => item == &order[o],
            Some(k) => merge_key_of(item, k)? == merge_key_of(&order[o], k)?,
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < non_delete.len() && o >= order.len() {
        return Err(StrategicError::SetElementOrderMismatch {
            patch: serde_json::to_string(patch).unwrap_or_default(),
            order: serde_json::to_string(order).unwrap_or_default(),
        });
    }
    Ok(())
}

/// Removes the values of `to_delete` from a list of primitives (upstream `deleteFromSlice`).
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Tracked {
    let keep: Vec<bool> = {
        let gone: HashSet<Key<'_>> = to_delete.iter().filter_map(Key::of).collect();
        current
            .iter()
            .map(|v| Key::of(v).is_none_or(|k| !gone.contains(&k)))
            .collect()
    };
    current
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| keep[i])
        .map(|(i, v)| (v, Origin::Live(i)))
        .collect()
}

/// The capacity of a Go slice of `len` elements built by appending one at a time, as
/// `encoding/json` builds decoded arrays (doubling below 256, then growing by a quarter).
fn go_append_cap(len: usize) -> usize {
    let mut cap = 0;
    while cap < len {
        cap = match cap {
            0 => 1,
            c if c < 256 => c * 2,
            c => c + (c + 768) / 4,
        };
    }
    cap
}

/// The live order upstream actually uses for `$setElementOrder` when the patch also merges the
/// list of objects by `key`: `mergePatchIntoOriginal` keeps the original slice as the live order,
/// but `mergeSlice` deletes (shifting the tail left) and appends new elements (into spare
/// capacity) in the same backing array, so the slice's entries change under it. Upstream's own
/// test expectations depend on this; it only matters when a patch deletes or adds elements of a
/// list that also has server-only elements. Returns the slots' origins.
fn aliased_live_order(live: &[Value], patch: &[Value], key: &str) -> Vec<Origin> {
    let visible = live.len();
    let cap = go_append_cap(visible);
    let mut slots: Vec<Origin> = (0..visible).map(Origin::Live).collect();
    let mut len = visible;
    let key_at = |o: Origin| match o {
        Origin::Live(i) => live.get(i).and_then(|v| v.get(key)),
        Origin::Patch(j) => patch.get(j).and_then(|v| v.get(key)),
    };
    let mut replaced = false;
    for item in patch {
        match item.get(DIRECTIVE_MARKER).map(Value::as_str) {
            None => {}
            Some(Some(DELETE_DIRECTIVE)) => {
                let Some(gone) = item.get(key) else { continue };
                while let Some(k) = slots[..len].iter().position(|&o| key_at(o) == Some(gone)) {
                    // Go's `append(s[:k], s[k+1:]...)`: the tail moves left by one, the last
                    // slot keeps its old value.
                    slots.copy_within(k + 1..len, k);
                    len -= 1;
                }
            }
            Some(Some(REPLACE_DIRECTIVE)) => replaced = true,
            Some(_) => {}
        }
    }
    if !replaced {
        let mut present: HashSet<Key<'_>> = slots[..len]
            .iter()
            .filter_map(|&o| key_at(o).and_then(Key::of))
            .collect();
        for (j, item) in patch.iter().enumerate() {
            if item.get(DIRECTIVE_MARKER).is_some() {
                continue;
            }
            let Some(k) = item.get(key).and_then(Key::of) else {
                continue;
            };
            if !present.insert(k) {
                continue;
            }
            if len == cap {
                break; // Go reallocates: later appends no longer touch the original array
            }
            if len < slots.len() {
                slots[len] = Origin::Patch(j);
            } else {
                slots.push(Origin::Patch(j));
            }
            len += 1;
        }
    }
    slots.truncate(visible);
    slots
}

fn merge_key_name<'a>(f: &FieldRef<'a>) -> Option<&'a str> {
    match f.merge.strategy {
        Strategy::Merge { key } => key,
        _ => None,
    }
}

struct Merger<'s> {
    schema: &'s dyn MergeSchema,
}

impl<'s> Merger<'s> {
    fn field(&self, ty: Option<&str>, name: &str) -> FieldRef<'s> {
        ty.and_then(|t| self.schema.field(t, name))
            .unwrap_or_default()
    }

    /// Upstream `mergeMap`: merges `patch` into `orig`.
    fn merge_map(
        &self,
        orig: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        ty: Option<&str>,
    ) -> Result<()> {
        if let Some(d) = patch.get(DIRECTIVE_MARKER) {
            return match d.as_str() {
                Some(REPLACE_DIRECTIVE) => {
                    *orig = clean_map(patch, false)?.unwrap_or_default();
                    Ok(())
                }
                Some(DELETE_DIRECTIVE) => {
                    orig.clear();
                    Ok(())
                }
                _ => Err(bad_patch_type(d, patch)),
            };
        }

        if let Some(retain) = patch.get(RETAIN_KEYS_DIRECTIVE) {
            let retain = retain
                .as_array()
                .ok_or(StrategicError::BadPatchFormatForRetainKeys)?;
            let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
            for (k, v) in patch {
                if k == RETAIN_KEYS_DIRECTIVE
                    || v.is_null()
                    || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
                    || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
                {
                    continue;
                }
                if !listed(k) {
                    return Err(StrategicError::BadPatchFormatForRetainKeys);
                }
            }
            orig.retain(|k, _| listed(k));
        }

        // `$setElementOrder/<field>` together with `<field>` (upstream `mergePatchIntoOriginal`).
        let mut ordered: Vec<&str> = Vec::new();
        for (k, order_list) in patch {
            if !k.starts_with(SET_ELEMENT_ORDER_PREFIX) {
                continue;
            }
            let order_list = order_list.as_array().ok_or(StrategicError::BadArgType {
                expected: LIST_TYPE,
                actual: go_type(order_list),
            })?;
            let name = extract_key(k, SET_ELEMENT_ORDER_PREFIX)?;
            ordered.push(name);
            self.merge_ordered(orig, patch, name, order_list, ty)?;
        }

        // Plain keys first, then `$deleteFromPrimitiveList/…` (upstream's map order is random;
        // kubectl never sends both for the same value).
        for deletions in [false, true] {
            for (k, pv) in patch {
                if k == RETAIN_KEYS_DIRECTIVE || k.starts_with(SET_ELEMENT_ORDER_PREFIX) {
                    continue;
                }
                let is_delete_list = k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX);
                if is_delete_list != deletions {
                    continue;
                }
                let key = if is_delete_list {
                    extract_key(k, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?
                } else if ordered.contains(&k.as_str()) {
                    continue;
                } else {
                    k.as_str()
                };
                self.merge_key(orig, key, pv, ty, is_delete_list)?;
            }
        }
        Ok(())
    }

    /// One key of the patch (upstream `mergeMap`'s loop body).
    fn merge_key(
        &self,
        orig: &mut Map<String, Value>,
        key: &str,
        pv: &Value,
        ty: Option<&str>,
        is_delete_list: bool,
    ) -> Result<()> {
        if pv.is_null() {
            orig.remove(key);
            return Ok(());
        }
        let Some(ov) = orig.get_mut(key) else {
            if !is_delete_list && let Some(v) = clean(pv, true)? {
                orig.insert(key.to_owned(), v);
            }
            return Ok(());
        };
        if kind(ov) != kind(pv) {
            if !is_delete_list {
                match clean(pv, true)? {
                    Some(v) => *ov = v,
                    None => {
                        orig.remove(key);
                    }
                }
            }
            return Ok(());
        }
        match (ov, pv) {
            (Value::Object(om), Value::Object(pm)) => {
                let f = self.field(ty, key);
                if f.merge.strategy == Strategy::Replace {
                    *om = clean_map(pm, false)?.unwrap_or_default();
                } else {
                    self.merge_map(om, pm, f.ty)?;
                }
            }
            (Value::Array(ol), Value::Array(pl)) => {
                let f = self.field(ty, key);
                let merged = self.merge_list(std::mem::take(ol), pl, &f, key, is_delete_list)?;
                *ol = untrack(merged);
            }
            (ov, pv) => *ov = pv.clone(),
        }
        Ok(())
    }

    /// Upstream `mergeSliceHandler`.
    fn merge_list(
        &self,
        orig: Vec<Value>,
        patch: &[Value],
        f: &FieldRef<'s>,
        name: &str,
        is_delete_list: bool,
    ) -> Result<Tracked> {
        if is_delete_list || matches!(f.merge.strategy, Strategy::Merge { .. }) {
            self.merge_slice(orig, patch, f, name, is_delete_list)
        } else {
            clean_list_tracked(patch, false)
        }
    }

    /// Upstream `mergeSlice`.
    fn merge_slice(
        &self,
        orig: Vec<Value>,
        patch: &[Value],
        f: &FieldRef<'s>,
        name: &str,
        is_delete_list: bool,
    ) -> Result<Tracked> {
        if orig.is_empty() && patch.is_empty() {
            return Ok(Vec::new());
        }
        if element_kind(&[&orig, patch])? != Kind::Map {
            if is_delete_list {
                return Ok(delete_from_slice(orig, patch));
            }
            return merge_primitives(orig, patch);
        }
        let Some(mkey) = merge_key_name(f) else {
            return Err(StrategicError::NoMergeKeyDeclared {
                field: name.to_owned(),
            });
        };

        // Elements carrying `$patch` (upstream `mergeSliceWithSpecialElements`).
        let mut plain: Vec<(usize, &Map<String, Value>)> = Vec::with_capacity(patch.len());
        let mut deleted: Vec<&Value> = Vec::new();
        let mut replace = false;
        for (j, item) in patch.iter().enumerate() {
            let m = item.as_object().ok_or(StrategicError::BadArgType {
                expected: MAP_TYPE,
                actual: go_type(item),
            })?;
            let Some(d) = m.get(DIRECTIVE_MARKER) else {
                plain.push((j, m));
                continue;
            };
            match d.as_str() {
                Some(DELETE_DIRECTIVE) => {
                    deleted.push(m.get(mkey).ok_or_else(|| StrategicError::NoMergeKey {
                        map: map_json(m),
                        key: mkey.to_owned(),
                    })?);
                }
                Some(REPLACE_DIRECTIVE) => replace = true,
                Some(MERGE_DIRECTIVE) => return Err(StrategicError::MergeDirectiveInList),
                _ => return Err(bad_patch_type(d, m)),
            }
        }

        if replace {
            // The patch's plain elements become the list; nothing merges into them.
            let live = Positions::new(
                plain
                    .iter()
                    .enumerate()
                    .map(|(n, (_, m))| map_merge_key(m, mkey).map(|k| (k, n))),
            )?;
            let mut items = Vec::with_capacity(plain.len());
            for (n, &(j, m)) in plain.iter().enumerate() {
                let pos = live.get(map_merge_key(m, mkey)?).unwrap_or(n);
                if let Some(v) = clean_map(m, false)? {
                    items.push((None, Some(pos), (Value::Object(v), Origin::Patch(j))));
                }
            }
            return Ok(order(items));
        }

        // Where each element goes (upstream `mergeSliceWithoutSpecialElements`), worked out on
        // borrowed keys before anything moves. Live positions are indices before the deletions,
        // which order the survivors the same way.
        enum Target {
            Live(usize),
            New(usize),
        }
        let alive: Vec<bool> = orig
            .iter()
            .map(|o| !deleted.iter().any(|d| o.get(mkey) == Some(*d)))
            .collect();
        let (live_meta, targets) = {
            let live = Positions::new(
                orig.iter()
                    .enumerate()
                    .filter(|&(i, _)| alive[i])
                    .map(|(i, o)| merge_key_of(o, mkey).map(|k| (k, i))),
            )?;
            let in_patch = Positions::new(
                plain
                    .iter()
                    .enumerate()
                    .map(|(n, (_, m))| map_merge_key(m, mkey).map(|k| (k, n))),
            )?;
            let mut live_meta = vec![(None, None); orig.len()];
            for (i, o) in orig.iter().enumerate().filter(|&(i, _)| alive[i]) {
                let k = merge_key_of(o, mkey)?;
                live_meta[i] = (in_patch.get(k), live.get(k));
            }
            let mut targets = Vec::with_capacity(plain.len());
            for (n, (_, m)) in plain.iter().enumerate() {
                let k = map_merge_key(m, mkey)?;
                targets.push(match live.get(k) {
                    Some(i) => Target::Live(i),
                    None => Target::New(in_patch.get(k).unwrap_or(n)),
                });
            }
            (live_meta, targets)
        };

        let mut slots: Vec<Option<Value>> = orig.into_iter().map(Some).collect();
        let mut created: Vec<Option<usize>> = vec![None; plain.len()];
        let mut added: Vec<(usize, usize, Value)> = Vec::new();
        for (&(j, m), target) in plain.iter().zip(&targets) {
            let into = match *target {
                Target::Live(i) => slots.get_mut(i).and_then(Option::as_mut),
                Target::New(first) => match created.get(first).copied().flatten() {
                    Some(a) => added.get_mut(a).map(|(_, _, v)| v),
                    None => {
                        if let Some(v) = clean_map(m, true)? {
                            added.push((first, j, Value::Object(v)));
                            if let Some(c) = created.get_mut(first) {
                                *c = Some(added.len() - 1);
                            }
                        }
                        None
                    }
                },
            };
            if let Some(Value::Object(om)) = into {
                self.merge_map(om, m, f.ty)?;
            }
        }

        let mut items = Vec::with_capacity(slots.len() + added.len());
        for (i, slot) in slots.into_iter().enumerate() {
            if let Some(v) = slot.filter(|_| alive[i]) {
                let (p, live) = live_meta[i];
                items.push((p, live, (v, Origin::Live(i))));
            }
        }
        for (first, j, v) in added {
            items.push((Some(first), None, (v, Origin::Patch(j))));
        }
        Ok(order(items))
    }

    /// `$setElementOrder/<name>` with the patch's `<name>` (upstream `mergePatchIntoOriginal`).
    fn merge_ordered(
        &self,
        orig: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        name: &str,
        order_list: &[Value],
        ty: Option<&str>,
    ) -> Result<()> {
        let orig_list = match orig.get_mut(name) {
            None => None,
            Some(Value::Array(l)) => Some(std::mem::take(l)),
            Some(other) => {
                return Err(StrategicError::BadArgType {
                    expected: LIST_TYPE,
                    actual: go_type(other),
                });
            }
        };
        let patch_list = match patch.get(name) {
            None => None,
            Some(Value::Array(l)) => Some(l.as_slice()),
            Some(other) => {
                return Err(StrategicError::BadArgType {
                    expected: LIST_TYPE,
                    actual: go_type(other),
                });
            }
        };
        let f = self.field(ty, name);
        let mkey = merge_key_name(&f);
        validate_set_order(patch_list.unwrap_or_default(), order_list, mkey)?;
        if orig_list.is_none() && patch_list.is_none() {
            return Ok(());
        }
        let live_list = orig_list.as_deref().unwrap_or_default();
        let elem = element_kind(&[live_list, patch_list.unwrap_or_default()]);
        let maps = matches!(elem, Ok(Kind::Map));
        let key_of = key_fn(|v| match (mkey, maps) {
            (Some(k), true) => merge_key_of(v, k),
            (None, true) => Err(StrategicError::NoMergeKeyDeclared {
                field: name.to_owned(),
            }),
            _ => primitive_key(v),
        });

        // Each element's position in `$setElementOrder` and in the live order, worked out before
        // merging consumes the live list.
        let (live_meta, patch_meta) = {
            let wanted = Positions::of_list(order_list.iter().map(key_of))?;
            let merging = matches!(f.merge.strategy, Strategy::Merge { .. });
            let slots = match (&elem, patch_list, mkey) {
                (Ok(Kind::Map), Some(p), Some(k)) if merging => aliased_live_order(live_list, p, k),
                (Ok(_), _, _) => (0..live_list.len()).map(Origin::Live).collect(),
                (Err(_), _, _) => Vec::new(),
            };
            let patch_items = patch_list.unwrap_or_default();
            let slot_value = |o: Origin| match o {
                Origin::Live(i) => live_list.get(i),
                Origin::Patch(j) => patch_items.get(j),
            };
            let live = Positions::new(
                slots
                    .iter()
                    .enumerate()
                    .filter_map(|(x, &o)| slot_value(o).map(|v| key_of(v).map(|k| (k, x)))),
            )?;
            let mut live_meta = Vec::with_capacity(live_list.len());
            if elem.is_ok() {
                for v in live_list {
                    let k = key_of(v)?;
                    live_meta.push((wanted.get(k), live.get(k)));
                }
            }
            let patch_meta: Vec<_> = patch_items
                .iter()
                .map(|v| {
                    key_of(v)
                        .map(|k| (wanted.get(k), live.get(k)))
                        .unwrap_or_default()
                })
                .collect();
            (live_meta, patch_meta)
        };

        let merged = match (orig_list, patch_list) {
            (Some(o), None) => o
                .into_iter()
                .enumerate()
                .map(|(i, v)| (v, Origin::Live(i)))
                .collect(),
            (None, Some(p)) => clean_list_tracked(p, false)?,
            (Some(o), Some(p)) => self.merge_list(o, p, &f, name, false)?,
            (None, None) => return Ok(()),
        };
        elem?;
        let items = merged
            .into_iter()
            .map(|(v, o)| {
                let (wanted, live) = match o {
                    Origin::Live(i) => live_meta.get(i).copied().unwrap_or_default(),
                    Origin::Patch(j) => patch_meta.get(j).copied().unwrap_or_default(),
                };
                (wanted, live, v)
            })
            .collect();
        orig.insert(name.to_owned(), Value::Array(order(items)));
        Ok(())
    }
}

/// Union of two lists of primitives, without duplicates, in upstream's order.
fn merge_primitives(orig: Vec<Value>, patch: &[Value]) -> Result<Tracked> {
    // Keep each value's first occurrence in `orig ++ patch` (upstream `deduplicateScalars`; its
    // order does not matter, the result is sorted below).
    let meta: Vec<(bool, Option<usize>, Option<usize>)> = {
        let in_patch = Positions::of_list(patch.iter().map(primitive_key))?;
        let live = Positions::of_list(orig.iter().map(primitive_key))?;
        let mut meta = Vec::with_capacity(orig.len() + patch.len());
        for (i, v) in orig.iter().enumerate() {
            let k = primitive_key(v)?;
            meta.push((live.get(k) == Some(i), in_patch.get(k), live.get(k)));
        }
        for (j, v) in patch.iter().enumerate() {
            let k = primitive_key(v)?;
            let first = live.get(k).is_none() && in_patch.get(k) == Some(j);
            meta.push((first, in_patch.get(k), None));
        }
        meta
    };
    let mut meta = meta.into_iter();
    let mut items = Vec::with_capacity(orig.len() + patch.len());
    for (i, v) in orig.into_iter().enumerate() {
        if let Some((true, p, live)) = meta.next() {
            items.push((p, live, (v, Origin::Live(i))));
        }
    }
    for (j, v) in patch.iter().enumerate() {
        if let Some((true, p, live)) = meta.next() {
            items.push((p, live, (v.clone(), Origin::Patch(j))));
        }
    }
    Ok(order(items))
}
