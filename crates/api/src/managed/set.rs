//! Field sets: a trie of path elements, upstream's `fieldpath.Set`, and its FieldsV1 encoding.
//!
//! A path element is kept in its FieldsV1 spelling — `f:<field>`, `k:<json of the key fields>`,
//! `v:<json value>`, `i:<index>` — so that sets order and serialize exactly as they are stored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ManagedError;

/// One step of a field path, spelled as in FieldsV1 (`f:spec`, `k:{"name":"web"}`, `v:"a"`, `i:0`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathElement(String);

impl PathElement {
    /// A struct field or map key.
    pub fn field(name: &str) -> Self {
        Self(format!("f:{name}"))
    }

    /// An item of an associative list, by its key fields (sorted by name, as upstream).
    pub fn key(fields: &[(&str, Value)]) -> Self {
        let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("k:{");
        for (i, (name, value)) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String((*name).to_string()).to_string());
            out.push(':');
            out.push_str(&canonical_json(value));
        }
        out.push('}');
        Self(out)
    }

    /// An item of a set-like list, by its value.
    pub fn value(v: &Value) -> Self {
        Self(format!("v:{}", canonical_json(v)))
    }

    /// An item of a list by position (atomic lists only).
    pub fn index(i: usize) -> Self {
        Self(format!("i:{i}"))
    }

    /// Parse a FieldsV1 key.
    pub fn parse(s: &str) -> Result<Self, ManagedError> {
        let ok = match s.split_at_checked(2) {
            Some(("f:", _)) => true,
            Some(("i:", rest)) => rest.parse::<usize>().is_ok(),
            Some(("k:", rest)) => serde_json::from_str::<Map<String, Value>>(rest).is_ok(),
            Some(("v:", rest)) => serde_json::from_str::<Value>(rest).is_ok(),
            _ => false,
        };
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ManagedError::Fields(format!("invalid path element {s:?}")))
        }
    }

    /// The FieldsV1 spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The field name of an `f:` element.
    pub fn field_name(&self) -> Option<&str> {
        self.0.strip_prefix("f:")
    }

    /// As upstream's `PathElement.String()` prints it: `.spec`, `[name="web"]`, `[="a"]`, `[0]`.
    pub fn display(&self) -> String {
        let (kind, rest) = self.0.split_at_checked(2).unwrap_or(("", &self.0));
        match kind {
            "f:" => format!(".{rest}"),
            "i:" => format!("[{rest}]"),
            "v:" => format!("[={rest}]"),
            "k:" => match serde_json::from_str::<Map<String, Value>>(rest) {
                Ok(m) => {
                    let mut parts: Vec<(String, String)> =
                        m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
                    parts.sort();
                    let parts: Vec<String> =
                        parts.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("[{}]", parts.join(","))
                }
                Err(_) => format!("[{rest}]"),
            },
            _ => self.0.clone(),
        }
    }
}

/// JSON with object keys sorted, so that equal values spell the same key.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        canonical_json(&m[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// A field path printed as upstream prints it (`.spec.containers[name="web"].image`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(PathElement::display).collect()
}

/// One node of a [`Set`]: whether the path itself is a member, and the set below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub member: bool,
    pub children: Set,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }
}

/// A set of field paths (upstream `fieldpath.Set`): a trie whose nodes may be members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    nodes: BTreeMap<PathElement, Node>,
}

impl Set {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// No member anywhere.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of one child element.
    pub fn get(&self, pe: &PathElement) -> Option<&Node> {
        self.nodes.get(pe)
    }

    /// Mark `pe` (directly below this set) as a member.
    pub fn insert_member(&mut self, pe: PathElement) {
        self.nodes.entry(pe).or_default().member = true;
    }

    /// Put a child node (dropped when empty), merging with what is there.
    pub fn insert_node(&mut self, pe: PathElement, node: Node) {
        if node.is_empty() {
            return;
        }
        match self.nodes.get_mut(&pe) {
            Some(existing) => {
                existing.member |= node.member;
                existing.children.merge_from(&node.children);
            }
            None => {
                self.nodes.insert(pe, node);
            }
        }
    }

    /// Add every member of `other` in place.
    fn merge_from(&mut self, other: &Set) {
        for (pe, node) in &other.nodes {
            match self.nodes.get_mut(pe) {
                Some(existing) => {
                    existing.member |= node.member;
                    existing.children.merge_from(&node.children);
                }
                None if !node.is_empty() => {
                    self.nodes.insert(pe.clone(), node.clone());
                }
                None => {}
            }
        }
    }

    /// Insert a whole path as a member.
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let node = self.nodes.entry(first.clone()).or_default();
        if rest.is_empty() {
            node.member = true;
        } else {
            node.children.insert(rest);
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => false,
            Some((first, rest)) => self.nodes.get(first).is_some_and(|n| {
                if rest.is_empty() {
                    n.member
                } else {
                    n.children.has(rest)
                }
            }),
        }
    }

    /// Every member of either set.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.merge_from(other);
        out
    }

    /// The members of `self` that are not members of `other` (upstream `Difference`: only exact
    /// paths are removed, not what lies below them).
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = Set::new();
        for (pe, node) in &self.nodes {
            let node = match other.nodes.get(pe) {
                None => node.clone(),
                Some(o) => Node {
                    member: node.member && !o.member,
                    children: node.children.difference(&o.children),
                },
            };
            out.insert_node(pe.clone(), node);
        }
        out
    }

    /// Like [`Set::difference`], but a member of `other` also removes everything below it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let mut out = Set::new();
        for (pe, node) in &self.nodes {
            match other.nodes.get(pe) {
                None => out.insert_node(pe.clone(), node.clone()),
                Some(o) if o.member => {}
                Some(o) => out.insert_node(
                    pe.clone(),
                    Node {
                        member: node.member,
                        children: node.children.recursive_difference(&o.children),
                    },
                ),
            }
        }
        out
    }

    /// The members of both sets.
    pub fn intersection(&self, other: &Set) -> Set {
        let mut out = Set::new();
        for (pe, node) in &self.nodes {
            if let Some(o) = other.nodes.get(pe) {
                out.insert_node(
                    pe.clone(),
                    Node {
                        member: node.member && o.member,
                        children: node.children.intersection(&o.children),
                    },
                );
            }
        }
        out
    }

    /// Every member path, members of a level before the levels below it (upstream's order).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for (pe, node) in &self.nodes {
            if node.member {
                let mut p = prefix.clone();
                p.push(pe.clone());
                out.push(p);
            }
        }
        for (pe, node) in &self.nodes {
            if !node.children.is_empty() {
                prefix.push(pe.clone());
                node.children.collect_paths(prefix, out);
                prefix.pop();
            }
        }
    }

    /// The FieldsV1 JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        for (pe, node) in &self.nodes {
            let mut inner = match node.children.to_fields_v1() {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            if node.member && !inner.is_empty() {
                let mut with_self = Map::new();
                with_self.insert(".".into(), Value::Object(Map::new()));
                with_self.extend(inner);
                inner = with_self;
            }
            m.insert(pe.as_str().to_string(), Value::Object(inner));
        }
        Value::Object(m)
    }

    /// Parse FieldsV1 JSON.
    pub fn from_fields_v1(v: &Value) -> Result<Set, ManagedError> {
        let Value::Object(m) = v else {
            return Err(ManagedError::Fields("FieldsV1 must be an object".into()));
        };
        let mut out = Set::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PathElement::parse(k)?;
            let Value::Object(cm) = child else {
                return Err(ManagedError::Fields(format!(
                    "the value of {k:?} must be an object"
                )));
            };
            let node = Node {
                member: cm.is_empty() || cm.contains_key("."),
                children: Set::from_fields_v1(child)?,
            };
            out.insert_node(pe, node);
        }
        Ok(out)
    }
}
