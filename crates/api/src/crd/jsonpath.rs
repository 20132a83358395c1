//! The subset of kubectl's JSONPath used by `additionalPrinterColumns`: `.a.b`, `['a.b']`,
//! `[n]` (negative from the end), `[a:b]`, `[*]`/`.*`, `..name`, and filters
//! `[?(@.a.b == "x")]` with `==`, `!=`, `<`, `<=`, `>`, `>=` or bare existence `[?(@.a)]`.

use serde_json::Value;

/// A JSONPath that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath {path:?}: {reason}")]
pub struct JsonPathError {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Field(String),
    Recursive(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Vec<Seg>, Option<(Op, Operand)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Literal(Value),
    Path(Vec<Seg>),
}

/// Evaluate `path` against `obj`; the first result, as the API server's Table conversion uses
/// (`None` when nothing matches or the path does not parse).
pub fn json_path(obj: &Value, path: &str) -> Option<Value> {
    json_path_all(obj, path).ok()?.into_iter().next()
}

/// Evaluate `path` against `obj` and return every result in order.
pub fn json_path_all(obj: &Value, path: &str) -> Result<Vec<Value>, JsonPathError> {
    let segs = parse(path).map_err(|reason| JsonPathError {
        path: path.to_string(),
        reason,
    })?;
    Ok(eval(&segs, vec![obj]).into_iter().cloned().collect())
}

fn parse(path: &str) -> Result<Vec<Seg>, String> {
    let mut p = path.trim();
    if let Some(inner) = p.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
        p = inner.trim();
    }
    let p = p.strip_prefix('$').unwrap_or(p);
    let mut chars = Parser { s: p, i: 0 };
    let segs = chars.segments(false)?;
    if chars.i != chars.s.len() {
        return Err(format!("unexpected {:?}", &chars.s[chars.i..]));
    }
    Ok(segs)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn name(&mut self) -> String {
        let mut out = String::new();
        let mut it = self.rest().char_indices().peekable();
        let mut consumed = 0;
        while let Some((pos, c)) = it.next() {
            if c == '\\'
                && let Some((p2, n)) = it.next()
            {
                out.push(n);
                consumed = p2 + n.len_utf8();
                continue;
            }
            if matches!(c, '.' | '[' | ']' | ' ' | ')' | '=' | '!' | '<' | '>' | '}') {
                consumed = pos;
                break;
            }
            out.push(c);
            consumed = pos + c.len_utf8();
        }
        self.i += consumed;
        out
    }
    /// Parse segments until the end or (in a filter) an operator or `)`.
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        loop {
            let r = self.rest();
            if r.is_empty() || (in_filter && (r.starts_with([' ', ')', '=', '!', '<', '>']))) {
                return Ok(segs);
            }
            if r.starts_with("..") {
                self.i += 2;
                let n = self.name();
                if n.is_empty() {
                    return Err("expected a field name after ..".into());
                }
                segs.push(Seg::Recursive(n));
            } else if r.starts_with(".*") {
                self.i += 2;
                segs.push(Seg::Wildcard);
            } else if r.starts_with('.') {
                self.i += 1;
                let n = self.name();
                if !n.is_empty() {
                    segs.push(Seg::Field(n));
                }
            } else if r.starts_with('[') {
                let close = self.bracket_end()?;
                let inner = self.s[self.i + 1..close].trim().to_string();
                self.i = close + 1;
                segs.push(bracket(&inner)?);
            } else if !in_filter && segs.is_empty() {
                // a leading bare field name (`spec.replicas`)
                let n = self.name();
                if n.is_empty() {
                    return Err(format!("unexpected {r:?}"));
                }
                segs.push(Seg::Field(n));
            } else {
                return Err(format!("unexpected {r:?}"));
            }
        }
    }
    /// The index of the `]` closing the bracket at `self.i` (quotes and parentheses aware).
    fn bracket_end(&self) -> Result<usize, String> {
        let mut depth = 0;
        let mut quote: Option<char> = None;
        for (pos, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ')') => depth -= 1,
                (None, ']') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.i + pos);
                    }
                }
                _ => {}
            }
        }
        Err("unterminated [".into())
    }
}

fn bracket(inner: &str) -> Result<Seg, String> {
    if inner == "*" {
        return Ok(Seg::Wildcard);
    }
    if let Some(q) = inner
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
    {
        return Ok(Seg::Field(q.to_string()));
    }
    if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
        return filter(f.trim());
    }
    if let Some((a, b)) = inner.split_once(':') {
        let num = |x: &str| -> Result<Option<i64>, String> {
            let x = x.trim();
            if x.is_empty() {
                Ok(None)
            } else {
                x.parse()
                    .map(Some)
                    .map_err(|_| format!("bad slice bound {x:?}"))
            }
        };
        let b = b.split(':').next().unwrap_or("");
        return Ok(Seg::Slice(num(a)?, num(b)?));
    }
    inner
        .parse::<i64>()
        .map(Seg::Index)
        .map_err(|_| format!("unsupported bracket expression [{inner}]"))
}

fn filter(f: &str) -> Result<Seg, String> {
    let Some(rest) = f.strip_prefix('@') else {
        return Err(format!("filter must start with @: {f:?}"));
    };
    let mut p = Parser { s: rest, i: 0 };
    let left = p.segments(true)?;
    let after = p.rest().trim();
    if after.is_empty() {
        return Ok(Seg::Filter(left, None));
    }
    let (op, rhs) = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(t, op)| after.strip_prefix(t).map(|r| (*op, r.trim())))
    .ok_or_else(|| format!("unsupported filter {f:?}"))?;
    let operand = if let Some(q) = rhs
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| rhs.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
    {
        Operand::Literal(Value::from(q))
    } else if let Some(r) = rhs.strip_prefix('@') {
        let mut rp = Parser { s: r, i: 0 };
        Operand::Path(rp.segments(true)?)
    } else if let Ok(v) = serde_json::from_str::<Value>(rhs) {
        Operand::Literal(v)
    } else {
        return Err(format!("unsupported filter operand {rhs:?}"));
    };
    Ok(Seg::Filter(left, Some((op, operand))))
}

fn eval<'a>(segs: &[Seg], mut cur: Vec<&'a Value>) -> Vec<&'a Value> {
    for seg in segs {
        let mut next = Vec::new();
        for v in cur {
            step(seg, v, &mut next);
        }
        cur = next;
    }
    cur
}

fn resolve(len: usize, i: i64) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

fn step<'a>(seg: &Seg, v: &'a Value, out: &mut Vec<&'a Value>) {
    match seg {
        Seg::Field(n) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(n)) {
                out.push(x);
            }
        }
        Seg::Recursive(n) => recursive(n, v, out),
        Seg::Wildcard => match v {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(m) => out.extend(m.values()),
            _ => {}
        },
        Seg::Index(i) => {
            if let Some(a) = v.as_array()
                && let Some(i) = resolve(a.len(), *i)
            {
                out.push(&a[i]);
            }
        }
        Seg::Slice(a, b) => {
            if let Some(arr) = v.as_array() {
                let len = arr.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let start = a.map(norm).unwrap_or(0);
                let end = b.map(norm).unwrap_or(len);
                if start < end {
                    out.extend(arr[start as usize..end as usize].iter());
                }
            }
        }
        Seg::Filter(left, cond) => {
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Object(m) => m.values().collect(),
                _ => Vec::new(),
            };
            for item in items {
                let lhs = eval(left, vec![item]);
                let keep = match cond {
                    None => !lhs.is_empty(),
                    Some((op, rhs)) => {
                        let rvals: Vec<Value> = match rhs {
                            Operand::Literal(l) => vec![l.clone()],
                            Operand::Path(p) => eval(p, vec![item]).into_iter().cloned().collect(),
                        };
                        match (lhs.first(), rvals.first()) {
                            (Some(l), Some(r)) => compare(l, *op, r),
                            _ => false,
                        }
                    }
                };
                if keep {
                    out.push(item);
                }
            }
        }
    }
}

fn recursive<'a>(n: &str, v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if let Some(x) = m.get(n) {
                out.push(x);
            }
            for x in m.values() {
                recursive(n, x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                recursive(n, x, out);
            }
        }
        _ => {}
    }
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}
