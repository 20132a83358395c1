//! Container logs as the kubelet serves them: the CRI log format containerd writes
//! (`<RFC3339Nano time> <stdout|stderr> <P|F> <content>\n`, P for a partial line continued by the
//! next entry), and the `containerLogs` options (timestamps, since, limitBytes; tail and follow
//! are applied by the reader). Pure: bytes and values in, bytes out.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The options of a `containerLogs` request (the upstream `PodLogOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<u64>,
    /// Only entries at or after this time (from `sinceTime`, or `sinceSeconds` before now).
    pub since: Option<OffsetDateTime>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Parse the query string, validating as upstream's PodLogOptions validation does.
    pub fn from_query(query: &str, now: OffsetDateTime) -> Result<Self, String> {
        let mut opts = LogOptions::default();
        let mut since_seconds = None;
        let mut since_time = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            let flag = || matches!(value.as_str(), "" | "true" | "1" | "True" | "TRUE");
            match key {
                "follow" => opts.follow = flag(),
                "previous" => opts.previous = flag(),
                "timestamps" => opts.timestamps = flag(),
                "tailLines" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid tailLines {value:?}"))?;
                    if n < 0 {
                        return Err(
                            "tailLines: Invalid value: must be greater than or equal to 0".into(),
                        );
                    }
                    opts.tail_lines = Some(n as u64);
                }
                "limitBytes" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid limitBytes {value:?}"))?;
                    if n < 1 {
                        return Err("limitBytes: Invalid value: must be greater than 0".into());
                    }
                    opts.limit_bytes = Some(n as u64);
                }
                "sinceSeconds" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid sinceSeconds {value:?}"))?;
                    if n < 1 {
                        return Err("sinceSeconds: Invalid value: must be greater than 0".into());
                    }
                    since_seconds = Some(n);
                }
                "sinceTime" => {
                    since_time =
                        Some(OffsetDateTime::parse(&value, &Rfc3339).map_err(|_| {
                            format!("invalid sinceTime {value:?}: must be RFC3339")
                        })?);
                }
                _ => {}
            }
        }
        opts.since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err("at most one of `sinceTime` or `sinceSeconds` may be specified".into());
            }
            (Some(s), None) => Some(now - time::Duration::seconds(s)),
            (None, t) => t,
        };
        Ok(opts)
    }
}

/// Decode `%XX` escapes and `+` of a query value.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One entry of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The timestamp as written (RFC3339Nano), printed as is with `timestamps`.
    pub time_text: &'a str,
    pub time: OffsetDateTime,
    pub stream: &'a str,
    /// The entry continues in the next one (tag `P`).
    pub partial: bool,
    /// The content, without the line's newline.
    pub content: &'a [u8],
}

/// Parse one line of a CRI log file (with or without its trailing newline).
pub fn parse_entry(line: &[u8]) -> Result<Entry<'_>, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut fields = line.splitn(4, |b| *b == b' ');
    let (Some(time_raw), Some(stream), Some(tag)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err("a CRI log line needs a time, a stream and a tag".into());
    };
    let content = fields.next().unwrap_or(b"");
    let time_text = std::str::from_utf8(time_raw).map_err(|_| "time is not UTF-8".to_string())?;
    let time = OffsetDateTime::parse(time_text, &Rfc3339)
        .map_err(|e| format!("bad time {time_text:?}: {e}"))?;
    let stream = match stream {
        b"stdout" => "stdout",
        b"stderr" => "stderr",
        other => {
            return Err(format!(
                "unknown stream {:?}",
                String::from_utf8_lossy(other)
            ));
        }
    };
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        // Older containerd wrote tags like "F:extra"; the first letter decides.
        t if t.first() == Some(&b'P') => true,
        _ => false,
    };
    Ok(Entry {
        time_text,
        time,
        stream,
        partial,
        content,
    })
}

/// Turns entries into the bytes the client reads: joins partial entries, filters by time,
/// prefixes timestamps and stops at the byte limit.
#[derive(Debug)]
pub struct Formatter {
    opts: LogOptions,
    written: u64,
    /// The previous entry was partial: this one continues its line.
    in_line: bool,
}

/// Whether to keep reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    More,
    /// The byte limit is reached.
    Done,
}

impl Formatter {
    pub fn new(opts: LogOptions) -> Self {
        Self {
            opts,
            written: 0,
            in_line: false,
        }
    }

    /// Append the client's bytes for one log line (raw, from the file) to `out`. Lines that do
    /// not parse are skipped, as upstream does.
    pub fn push(&mut self, line: &[u8], out: &mut Vec<u8>) -> Flow {
        let Ok(entry) = parse_entry(line) else {
            return Flow::More;
        };
        let continues = self.in_line;
        self.in_line = entry.partial;
        if self.opts.since.is_some_and(|since| entry.time < since) {
            return Flow::More;
        }
        let start = out.len();
        if self.opts.timestamps && !continues {
            out.extend_from_slice(entry.time_text.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(entry.content);
        if !entry.partial {
            out.push(b'\n');
        }
        let added = (out.len() - start) as u64;
        match self.opts.limit_bytes {
            Some(limit) if self.written + added >= limit => {
                out.truncate(start + (limit - self.written) as usize);
                self.written = limit;
                Flow::Done
            }
            _ => {
                self.written += added;
                Flow::More
            }
        }
    }
}

/// Whether a raw log line ends a whole log line (its tag is not `P`); tail counts these.
pub fn ends_line(line: &[u8]) -> bool {
    parse_entry(line).is_ok_and(|e| !e.partial)
}

#[cfg(test)]
mod tests;
