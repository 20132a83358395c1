//! The structured walks of server-side apply over JSON values: the field set of a value
//! (`ToFieldSet`), the comparison of two values (`Compare`), the merge of an applied
//! configuration into a live object (`Merge`), and the removal of fields a manager stopped
//! applying (`prune`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::ManagedError;
use super::set::{Node, PathElement, Set};
use super::types::{Kind, Ty, Types};

/// Added, removed and modified fields between two values (upstream `typed.Comparison`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: Set,
    pub removed: Set,
    pub modified: Set,
}

impl Comparison {
    /// Nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// Drop `ignored` (and everything below its members) from all three sets.
    pub fn exclude(&mut self, ignored: &Set) {
        if ignored.is_empty() {
            return;
        }
        self.added = self.added.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
    }
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// The items of a list indexed by path element, in first-seen order; duplicates kept together.
type Indexed<'v> = (Vec<PathElement>, HashMap<PathElement, Vec<&'v Value>>);

fn index_items<'v>(
    types: &Types<'_>,
    elem: Ty<'_>,
    keys: &Option<Vec<&str>>,
    items: &'v [Value],
) -> Result<Indexed<'v>, ManagedError> {
    let mut order = Vec::with_capacity(items.len());
    let mut by = HashMap::with_capacity(items.len());
    for item in items {
        let pe = types.item_element(elem, keys, item)?;
        by.entry(pe.clone())
            .or_insert_with(|| {
                order.push(pe);
                Vec::new()
            })
            .push(item);
    }
    Ok((order, by))
}

/// The fields a value sets, as upstream's `ToFieldSet` counts them: leaves, list items,
/// map entries that are not declared struct fields, and null or empty maps.
pub fn field_set(types: &Types<'_>, ty: Ty<'_>, v: &Value) -> Result<Set, ManagedError> {
    Ok(node_of(types, ty, v, false)?.children)
}

/// The node of a value: `member` when it is a leaf (or a map entry counted as a member).
fn node_of(
    types: &Types<'_>,
    ty: Ty<'_>,
    v: &Value,
    force_member: bool,
) -> Result<Node, ManagedError> {
    let mut node = Node {
        member: force_member,
        children: Set::new(),
    };
    match types.kind(ty, Some(v)) {
        Kind::Leaf => node.member = true,
        Kind::Map { .. } => match v {
            Value::Object(m) => {
                if m.is_empty() {
                    node.member = true;
                }
                for (k, child) in m {
                    let (fty, named) = types.field(ty, k);
                    let member = child.is_null() || !named;
                    node.children
                        .insert_node(PathElement::field(k), node_of(types, fty, child, member)?);
                }
            }
            _ => node.member = true,
        },
        Kind::List { elem, keys } => match v {
            Value::Array(items) => {
                for item in items {
                    let pe = types.item_element(elem, &keys, item)?;
                    node.children
                        .insert_node(pe, node_of(types, elem, item, true)?);
                }
            }
            Value::Null => node.member = true,
            _ => node.member = true,
        },
    }
    Ok(node)
}

/// Compare `lhs` (old) with `rhs` (new).
pub fn compare(
    types: &Types<'_>,
    ty: Ty<'_>,
    lhs: &Value,
    rhs: &Value,
) -> Result<Comparison, ManagedError> {
    let mut c = Comparison::default();
    let mut path = Vec::new();
    compare_at(types, ty, Some(lhs), Some(rhs), false, &mut path, &mut c)?;
    Ok(c)
}

fn compare_at(
    types: &Types<'_>,
    ty: Ty<'_>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    named: bool,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), ManagedError> {
    // Identical values have nothing to compare, however large (as upstream).
    if let (Some(l), Some(r)) = (lhs, rhs)
        && l == r
    {
        return Ok(());
    }
    let leaf = |c: &mut Comparison, path: &[PathElement]| match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(l), Some(r)) if l != r => c.modified.insert(path),
        _ => {}
    };
    let kind = types.kind(ty, rhs.or(lhs));
    let both_empty = is_empty_container(lhs) && is_empty_container(rhs);
    let record_node = match &kind {
        Kind::Leaf => {
            leaf(c, path);
            return Ok(());
        }
        _ if both_empty => {
            leaf(c, path);
            return Ok(());
        }
        Kind::Map { value_struct } => {
            let (lm, rm) = (
                lhs.and_then(Value::as_object),
                rhs.and_then(Value::as_object),
            );
            if lhs.is_some_and(|l| !l.is_object() && !l.is_null())
                || rhs.is_some_and(|r| !r.is_object() && !r.is_null())
            {
                leaf(c, path);
                return Ok(());
            }
            let empty = Map::new();
            let (lm, rm) = (lm.unwrap_or(&empty), rm.unwrap_or(&empty));
            for (k, lv) in lm {
                let (fty, named) = types.field(ty, k);
                path.push(PathElement::field(k));
                compare_at(types, fty, Some(lv), rm.get(k), named, path, c)?;
                path.pop();
            }
            for (k, rv) in rm {
                if lm.contains_key(k) {
                    continue;
                }
                let (fty, named) = types.field(ty, k);
                path.push(PathElement::field(k));
                compare_at(types, fty, None, Some(rv), named, path, c)?;
                path.pop();
            }
            !(*value_struct && named)
        }
        Kind::List { elem, keys } => {
            if lhs.is_some_and(|l| !l.is_array() && !l.is_null())
                || rhs.is_some_and(|r| !r.is_array() && !r.is_null())
            {
                leaf(c, path);
                return Ok(());
            }
            let none: Vec<Value> = Vec::new();
            let la = lhs.and_then(Value::as_array).unwrap_or(&none);
            let ra = rhs.and_then(Value::as_array).unwrap_or(&none);
            let (lorder, lby) = index_items(types, *elem, keys, la)?;
            let (rorder, rby) = index_items(types, *elem, keys, ra)?;
            let mut all = lorder;
            all.extend(rorder.into_iter().filter(|pe| !lby.contains_key(pe)));
            for pe in all {
                let l = lby.get(&pe).map(Vec::as_slice).unwrap_or(&[]);
                let r = rby.get(&pe).map(Vec::as_slice).unwrap_or(&[]);
                path.push(pe);
                if l.len() <= 1 && r.len() <= 1 {
                    compare_at(
                        types,
                        *elem,
                        l.first().copied(),
                        r.first().copied(),
                        false,
                        path,
                        c,
                    )?;
                } else if l.len() >= 2 && r.len() >= 2 {
                    if l != r {
                        c.modified.insert(path);
                    }
                } else if l.len() >= 2 {
                    if let Some(first) = r.first() {
                        compare_at(types, *elem, None, Some(first), false, path, c)?;
                    }
                    c.removed.insert(path);
                } else {
                    if let Some(first) = l.first() {
                        compare_at(types, *elem, Some(first), None, false, path, c)?;
                    }
                    c.added.insert(path);
                }
                path.pop();
            }
            true
        }
    };
    if record_node && !path.is_empty() {
        match (lhs, rhs) {
            (None, Some(_)) => c.added.insert(path),
            (Some(_), None) => c.removed.insert(path),
            _ => {}
        }
    }
    Ok(())
}

/// Merge `rhs` (an applied configuration) into `lhs` (the live object): leaves and atomic
/// values of `rhs` win, maps and granular lists merge by field and by key. A `null` in `rhs`
/// removes the field. Order of list items: as upstream, shared items follow `rhs`.
pub fn merge(
    types: &Types<'_>,
    ty: Ty<'_>,
    lhs: Option<&Value>,
    rhs: &Value,
) -> Result<Value, ManagedError> {
    let both_empty = is_empty_container(lhs) && is_empty_container(Some(rhs));
    match types.kind(ty, Some(rhs)) {
        Kind::Leaf => Ok(rhs.clone()),
        _ if both_empty => Ok(rhs.clone()),
        Kind::Map { .. } => {
            let (Some(Value::Object(lm)), Value::Object(rm)) = (lhs, rhs) else {
                return Ok(strip_nulls(rhs));
            };
            let mut out = Map::new();
            for (k, lv) in lm {
                match rm.get(k) {
                    None => {
                        out.insert(k.clone(), lv.clone());
                    }
                    Some(Value::Null) => {}
                    Some(rv) => {
                        let (fty, _) = types.field(ty, k);
                        out.insert(k.clone(), merge(types, fty, Some(lv), rv)?);
                    }
                }
            }
            for (k, rv) in rm {
                if lm.contains_key(k) || rv.is_null() {
                    continue;
                }
                let (fty, _) = types.field(ty, k);
                out.insert(k.clone(), merge(types, fty, None, rv)?);
            }
            Ok(Value::Object(out))
        }
        Kind::List { elem, keys } => {
            let Value::Array(ra) = rhs else {
                return Ok(rhs.clone());
            };
            let none = Vec::new();
            let la = match lhs {
                Some(Value::Array(a)) => a,
                _ => &none,
            };
            let (rorder, rby) = index_items(types, elem, &keys, ra)?;
            if let Some(pe) = rorder.iter().find(|pe| rby[*pe].len() > 1) {
                return Err(ManagedError::Invalid(format!(
                    "duplicate entries for key {}",
                    pe.display()
                )));
            }
            let (lorder, lby) = index_items(types, elem, &keys, la)?;
            let mut shared = rorder.iter().filter(|pe| lby.contains_key(*pe));
            let mut next_shared = shared.next();
            let mut out = Vec::with_capacity(la.len().max(ra.len()));
            let (mut li, mut ri) = (0, 0);
            let merge_item = |pe: &PathElement, out: &mut Vec<Value>| -> Result<(), ManagedError> {
                let l = lby.get(pe);
                match rby.get(pe).and_then(|r| r.first()) {
                    Some(r) => {
                        let l = l.filter(|l| l.len() == 1).and_then(|l| l.first().copied());
                        out.push(merge(types, elem, l, r)?);
                    }
                    None => out.extend(l.into_iter().flatten().map(|v| (*v).clone())),
                }
                Ok(())
            };
            while li < lorder.len() || ri < rorder.len() {
                let before = (li, ri);
                if li < lorder.len() && ri < rorder.len() {
                    let pe = &lorder[li];
                    if *pe == rorder[ri] {
                        merge_item(pe, &mut out)?;
                        li += 1;
                        ri += 1;
                        next_shared = shared.next();
                        continue;
                    }
                    if rby.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                        li += 1;
                        continue;
                    }
                }
                if li < lorder.len() && !rby.contains_key(&lorder[li]) {
                    merge_item(&lorder[li], &mut out)?;
                    li += 1;
                    continue;
                }
                if ri < rorder.len() {
                    let pe = &rorder[ri];
                    merge_item(pe, &mut out)?;
                    ri += 1;
                    if next_shared == Some(pe) {
                        next_shared = shared.next();
                    }
                }
                if before == (li, ri) {
                    // Only lhs items already merged remain.
                    li += 1;
                }
            }
            Ok(Value::Array(out))
        }
    }
}

/// A value from `rhs` without `null` fields (a null in an applied configuration means "unset").
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Remove from `v` what the applying manager applied last time (`last`) but nobody owns any
/// more (`owned`: every manager's set, the applier's new one included), as upstream's
/// `prune` + `addBackOwnedItems` + `addBackDanglingItems` do: a leaf, list item or map entry
/// of `last` goes unless owned; a struct field with fields in `last` goes unless something
/// below it is owned. Containers emptied this way go too. Returns whether `v` became empty.
pub fn prune(
    types: &Types<'_>,
    ty: Ty<'_>,
    v: &mut Value,
    last: &Set,
    owned: Option<&Set>,
) -> bool {
    let in_set = |node: Option<&Node>, named: bool| {
        node.is_some_and(|n| n.member || (named && !n.children.is_empty()))
    };
    let mut removed_any = false;
    match types.kind(ty, Some(v)) {
        Kind::Leaf => false,
        Kind::Map { .. } => {
            let Value::Object(m) = v else { return false };
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let pe = PathElement::field(&k);
                let Some(ln) = last.get(&pe) else { continue };
                let (fty, named) = types.field(ty, &k);
                let on = owned.and_then(|o| o.get(&pe));
                if in_set(Some(ln), named) && !in_set(on, named) {
                    m.remove(&k);
                    removed_any = true;
                } else if !ln.children.is_empty()
                    && let Some(child) = m.get_mut(&k)
                    && prune(types, fty, child, &ln.children, on.map(|n| &n.children))
                {
                    m.remove(&k);
                    removed_any = true;
                }
            }
            removed_any && m.is_empty()
        }
        Kind::List { elem, keys } => {
            let Value::Array(items) = v else { return false };
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                let Ok(pe) = types.item_element(elem, &keys, &item) else {
                    kept.push(item);
                    continue;
                };
                let Some(ln) = last.get(&pe) else {
                    kept.push(item);
                    continue;
                };
                let on = owned.and_then(|o| o.get(&pe));
                if ln.member && !on.is_some_and(|n| n.member) {
                    removed_any = true;
                    continue;
                }
                if !ln.children.is_empty()
                    && prune(
                        types,
                        elem,
                        &mut item,
                        &ln.children,
                        on.map(|n| &n.children),
                    )
                {
                    removed_any = true;
                    continue;
                }
                kept.push(item);
            }
            *items = kept;
            removed_any && items.is_empty()
        }
    }
}
