//! The string formats upstream validates in CRD schemas (go-openapi `strfmt.Default`).

use crate::validation::quantity::parse_quantity;

fn all_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD` with a valid month and day.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=max).contains(&d)
}

/// `HH:MM[:SS[.frac]]`.
fn is_time(s: &str) -> bool {
    let (hms, frac) = match s.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let ok = |x: &str, max: u32| digits(x, 2) && x.parse::<u32>().is_ok_and(|v| v <= max);
    match parts.as_slice() {
        [h, m] => frac.is_none() && ok(h, 23) && ok(m, 59),
        [h, m, sec] => ok(h, 23) && ok(m, 59) && ok(sec, 60),
        _ => false,
    }
}

/// RFC 3339 date-time and the ISO 8601 variants strfmt accepts.
fn is_date_time(s: &str) -> bool {
    let Some(pos) = s.find(['T', 't', ' ']) else {
        return false;
    };
    let (date, rest) = (&s[..pos], &s[pos + 1..]);
    if !is_date(date) {
        return false;
    }
    let (time, zone_ok) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, true)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let z = &rest[i + 1..];
        let zok = matches!(z.split_once(':'), Some((h, m)) if digits(h, 2) && digits(m, 2))
            || digits(z, 4);
        (&rest[..i], zok)
    } else {
        (rest, true)
    };
    zone_ok && is_time(time)
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// UUID with optional dashes, any case; `version` restricts the version nibble.
fn is_uuid(s: &str, version: Option<char>) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !all_hex(&hex) {
        return false;
    }
    let dashed = s.len() == 36;
    if dashed && [8, 13, 18, 23].iter().any(|i| s.as_bytes()[*i] != b'-') {
        return false;
    }
    if !dashed && s.len() != 32 {
        return false;
    }
    match version {
        None => true,
        Some(v) => {
            let variant_ok =
                v == '3' || matches!(hex.as_bytes()[16], b'8' | b'9' | b'a' | b'b' | b'A' | b'B');
            hex.as_bytes()[12] == v as u8 && variant_ok
        }
    }
}

fn is_hostname(s: &str) -> bool {
    s.len() <= 255
        && !s.is_empty()
        && s.trim_end_matches('.').split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    matches!(parts.len(), 6 | 8 | 20) && parts.iter().all(|p| p.len() == 2 && all_hex(p)) || {
        let dots: Vec<&str> = s.split('.').collect();
        matches!(dots.len(), 3 | 4 | 10) && dots.iter().all(|p| p.len() == 4 && all_hex(p))
    }
}

/// Go `time.ParseDuration` syntax, or strfmt's `<n> <unit>` form.
fn is_duration(s: &str) -> bool {
    let units = ["ns", "us", "µs", "ms", "s", "m", "h"];
    let go = |s: &str| {
        let s = s.strip_prefix(['+', '-']).unwrap_or(s);
        if s == "0" {
            return true;
        }
        let mut rest = s;
        let mut any = false;
        while !rest.is_empty() {
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if n == 0 {
                return false;
            }
            rest = &rest[n..];
            let Some(u) = units
                .iter()
                .filter(|u| rest.starts_with(**u))
                .max_by_key(|u| u.len())
            else {
                return false;
            };
            rest = &rest[u.len()..];
            any = true;
        }
        any
    };
    if go(s) {
        return true;
    }
    let mut it = s.split_whitespace();
    let (Some(n), Some(u), None) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    n.parse::<i64>().is_ok()
        && matches!(
            u.trim_end_matches('s'),
            "n" | "ns"
                | "nano"
                | "u"
                | "us"
                | "micro"
                | "ms"
                | "milli"
                | "sec"
                | "second"
                | "min"
                | "minute"
                | "h"
                | "hr"
                | "hour"
                | "d"
                | "day"
                | "w"
                | "wk"
                | "week"
                | ""
        )
}

fn is_uri(s: &str) -> bool {
    if s.starts_with('/') {
        return !s.contains(' ');
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            let b = scheme.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphabetic()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

fn is_rgb(s: &str) -> bool {
    let Some(inner) = s.strip_prefix("rgb(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `s` is valid for `format` (go-openapi name, with or without `-`). Formats without
/// a checker here (isbn, creditcard, password) accept everything.
pub(crate) fn formats_ok(format: &str, s: &str) -> bool {
    match format.replace('-', "").as_str() {
        "datetime" => is_date_time(s),
        "date" => is_date(s),
        "byte" => is_base64(s),
        "uuid" => is_uuid(s, None),
        "uuid3" => is_uuid(s, Some('3')),
        "uuid4" => is_uuid(s, Some('4')),
        "uuid5" => is_uuid(s, Some('5')),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.contains(':') && s.parse::<std::net::IpAddr>().is_ok(),
        "cidr" => {
            s.split_once('/')
                .is_some_and(|(ip, bits)| match ip.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 32),
                    Ok(std::net::IpAddr::V6(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 128),
                    Err(_) => false,
                })
        }
        "mac" => is_mac(s),
        "hostname" => is_hostname(s),
        "email" => s.rsplit_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && !d.is_empty() && !s.contains(char::is_whitespace)
        }),
        "uri" => is_uri(s),
        "duration" => is_duration(s),
        "quantity" => parse_quantity(s).is_ok(),
        "hexcolor" => {
            let h = s.strip_prefix('#').unwrap_or(s);
            (h.len() == 3 || h.len() == 6) && all_hex(h)
        }
        "rgbcolor" => is_rgb(s),
        "bsonobjectid" => s.len() == 24 && all_hex(s),
        "ssn" => {
            let d: String = s.chars().filter(|c| *c != '-' && *c != ' ').collect();
            digits(&d, 9) && s.len() <= 11
        }
        _ => true,
    }
}
