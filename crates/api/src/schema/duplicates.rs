//! Duplicate keys in a JSON request body: upstream's strict decoding reports them
//! (`duplicate field "spec.replicas"`); a parsed `Value` has already lost them, so this scans
//! the raw text.

use std::collections::HashSet;

/// The paths of keys that occur twice in one JSON object of `raw`, in document order
/// (`spec.replicas`, `spec.template.spec.containers[0].name`). Malformed input yields what was
/// found before the error (decoding reports the error itself).
pub fn duplicate_fields(raw: &[u8]) -> Vec<String> {
    let mut scanner = Scanner {
        s: raw,
        i: 0,
        out: Vec::new(),
    };
    let _ = scanner.value("", 0);
    scanner.out
}

/// Nesting deeper than this is not scanned (the JSON decoder limits depth too).
const MAX_DEPTH: usize = 512;

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    out: Vec<String>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        self.ws();
        let c = *self.s.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn value(&mut self, path: &str, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut seen = HashSet::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    if self.next()? != b':' {
                        return None;
                    }
                    let child = join(path, &key);
                    if !seen.insert(key) && !self.out.contains(&child) {
                        self.out.push(child.clone());
                    }
                    self.value(&child, depth + 1)?;
                    match self.next()? {
                        b',' => continue,
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(());
                }
                let mut index = 0usize;
                loop {
                    self.value(&format!("{path}[{index}]"), depth + 1)?;
                    index += 1;
                    match self.next()? {
                        b',' => continue,
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b'}' | b']')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// A JSON string at the cursor, unescaped.
    fn string(&mut self) -> Option<String> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => escaped = true,
                b'"' => {
                    let span = &self.s[start..self.i];
                    return if escaped {
                        serde_json::from_slice(span).ok()
                    } else {
                        std::str::from_utf8(&span[1..span.len() - 1])
                            .ok()
                            .map(str::to_string)
                    };
                }
                _ => {}
            }
            if c == b'\\' {
                // Skip the escaped character.
                self.i += 1;
            }
        }
        None
    }
}
