//! A pure parser and evaluator of the cron schedules CronJobs use (upstream uses
//! robfig/cron's standard parser): five fields (minute, hour, day of month, month, day of
//! week) with `*`, `?`, ranges, steps, lists and names (`jan`…`dec`, `sun`…`sat`), and the
//! descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`.
//! As robfig, when day of month or day of week is restricted (does not start with `*`), a day
//! matches when either matches.
//!
//! Time zones: `UTC`/`Etc/UTC` and `Etc/GMT±N` are built in; every other IANA name is read
//! from the system tz database (`/usr/share/zoneinfo`, or `$ZONEINFO`) through jiff's TZif
//! reader, so it works wherever tzdata is installed and fails with [`ScheduleError`] elsewhere.

use k8s_openapi::jiff::civil::{DateTime, date};
use k8s_openapi::jiff::tz::{Offset, TimeZone};
use k8s_openapi::jiff::{Timestamp, ToSpan};

/// A schedule or time zone that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

fn err(s: impl Into<String>) -> ScheduleError {
    ScheduleError(s.into())
}

/// A parsed schedule: bit sets of the allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day of month or day of week started with `*`/`?`: both must match.
    star_day: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], offset: u32) -> Result<u32, ScheduleError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(u32::try_from(i).unwrap_or(0) + offset);
    }
    s.parse()
        .map_err(|_| err(format!("failed to parse int from {s}")))
}

/// Parse one field into a bit set over `min..=max`; returns the bits and whether it was `*`.
fn field(
    s: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<(u64, bool), ScheduleError> {
    let mut bits = 0u64;
    let star = s.starts_with('*') || s.starts_with('?');
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, Some(st)),
            None => (part, None),
        };
        let (mut lo, mut hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, offset)?, value(b, names, offset)?)
        } else {
            let v = value(range, names, offset)?;
            (v, v)
        };
        let step = match step {
            Some(st) => {
                let n: u32 = st
                    .parse()
                    .map_err(|_| err(format!("failed to parse int from {st}")))?;
                if !range.contains('-') && range != "*" && range != "?" {
                    hi = max;
                }
                n
            }
            None => 1,
        };
        if step == 0 {
            return Err(err(format!(
                "step of range should be a positive number: {part}"
            )));
        }
        if lo < min {
            return Err(err(format!(
                "beginning of range ({lo}) below minimum ({min}): {part}"
            )));
        }
        if hi > max {
            return Err(err(format!(
                "end of range ({hi}) above maximum ({max}): {part}"
            )));
        }
        if lo > hi {
            return Err(err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {part}"
            )));
        }
        while lo <= hi {
            bits |= 1 << lo;
            lo += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    /// Parse a standard 5-field schedule or a descriptor.
    pub fn parse(spec: &str) -> Result<Self, ScheduleError> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => return Err(err(format!("unrecognized descriptor: {s}"))),
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            )));
        }
        let (minutes, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hours, _) = field(fields[1], 0, 23, &[], 0)?;
        let (days, dstar) = field(fields[2], 1, 31, &[], 0)?;
        let (months, _) = field(fields[3], 1, 12, &MONTHS, 1)?;
        let (mut weekdays, wstar) = field(fields[4], 0, 7, &WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Schedule {
            minutes,
            hours,
            days,
            months,
            weekdays,
            star_day: dstar || wstar,
        })
    }

    fn day_matches(&self, dt: DateTime) -> bool {
        let dom = self.days & (1 << dt.day()) != 0;
        let dow = self.weekdays & (1 << dt.weekday().to_sunday_zero_offset()) != 0;
        if self.star_day {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `after`, in `tz` (None within ~5 years).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = tz.to_datetime(after);
        let mut t = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = local.year() + 5;
        while t.year() <= limit {
            if self.months & (1 << t.month()) == 0 {
                t = date(t.year(), t.month(), 1)
                    .at(0, 0, 0, 0)
                    .checked_add(1.month())
                    .ok()?;
                continue;
            }
            if !self.day_matches(t) {
                t = t.date().at(0, 0, 0, 0).checked_add(1.day()).ok()?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.date().at(t.hour(), 0, 0, 0).checked_add(1.hour()).ok()?;
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            let ts = tz.to_ambiguous_timestamp(t).compatible().ok()?;
            if ts > after {
                return Some(ts);
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }

    /// The most recent scheduled time in `(earliest, now]` and how many were missed in that
    /// window (upstream `mostRecentScheduleTime`; counting stops at `cap`).
    pub fn most_recent(
        &self,
        earliest: Timestamp,
        now: Timestamp,
        tz: &TimeZone,
        cap: usize,
    ) -> (Option<Timestamp>, usize) {
        let mut last = None;
        let mut n = 0;
        let mut cur = earliest;
        while let Some(t) = self.next(cur, tz) {
            if t > now {
                break;
            }
            last = Some(t);
            n += 1;
            cur = t;
            if n >= cap {
                // Too many missed: jump close to now and keep the latest.
                let jump = now
                    .checked_sub(k8s_openapi::jiff::SignedDuration::from_hours(48))
                    .unwrap_or(now);
                if jump > cur {
                    cur = jump;
                }
            }
        }
        (last, n)
    }
}

/// The time zone of a CronJob's `spec.timeZone` (None: UTC, the zone k3rs runs its
/// controllers in).
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, ScheduleError> {
    let Some(name) = name else {
        return Ok(TimeZone::UTC);
    };
    match name {
        "" | "UTC" | "Etc/UTC" | "Etc/GMT" | "GMT" | "Etc/Universal" | "Universal" | "Zulu" => {
            return Ok(TimeZone::UTC);
        }
        _ => {}
    }
    if name.starts_with('/')
        || name.split('/').any(|p| p == ".." || p.is_empty())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
    {
        return Err(err(format!("unknown time zone {name}")));
    }
    let dir = std::env::var("ZONEINFO").unwrap_or_else(|_| "/usr/share/zoneinfo".into());
    if let Ok(data) = std::fs::read(std::path::Path::new(&dir).join(name)) {
        return TimeZone::tzif(name, &data)
            .map_err(|e| err(format!("unknown time zone {name}: {e}")));
    }
    // Etc/GMT+5 is UTC-5 (POSIX sign), without a tz database.
    if let Some(rest) = name.strip_prefix("Etc/GMT")
        && let Ok(h) = rest.parse::<i8>()
        && (-14..=12).contains(&h)
        && let Ok(off) = Offset::from_hours(-h)
    {
        return Ok(TimeZone::fixed(off));
    }
    Err(err(format!("unknown time zone {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn every_minute_and_steps() {
        let s = Schedule::parse("*/1 * * * *").unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(
            s.next(ts("2024-01-01T00:00:30Z"), &utc),
            Some(ts("2024-01-01T00:01:00Z"))
        );
        let s = Schedule::parse("5-20/5 1,3 * * *").unwrap();
        assert_eq!(
            s.next(ts("2024-01-01T01:20:00Z"), &utc),
            Some(ts("2024-01-01T03:05:00Z"))
        );
        let s = Schedule::parse("10/20 * * * *").unwrap();
        assert_eq!(
            s.next(ts("2024-01-01T00:31:00Z"), &utc),
            Some(ts("2024-01-01T00:50:00Z"))
        );
    }

    #[test]
    fn names_descriptors_and_days() {
        let utc = TimeZone::UTC;
        let s = Schedule::parse("0 9 * FEB mon-fri").unwrap();
        // 2024-02-01 is a Thursday.
        assert_eq!(
            s.next(ts("2024-01-15T00:00:00Z"), &utc),
            Some(ts("2024-02-01T09:00:00Z"))
        );
        let s = Schedule::parse("@weekly").unwrap();
        // 2024-01-07 is a Sunday.
        assert_eq!(
            s.next(ts("2024-01-03T00:00:00Z"), &utc),
            Some(ts("2024-01-07T00:00:00Z"))
        );
        let s = Schedule::parse("@yearly").unwrap();
        assert_eq!(
            s.next(ts("2024-03-03T00:00:00Z"), &utc),
            Some(ts("2025-01-01T00:00:00Z"))
        );
        // Day of month OR day of week when both are restricted: 13th or a Friday.
        let s = Schedule::parse("0 0 13 * 5").unwrap();
        assert_eq!(
            s.next(ts("2024-09-01T00:00:00Z"), &utc),
            Some(ts("2024-09-06T00:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("0 0 * * 7").unwrap(),
            Schedule::parse("0 0 * * 0").unwrap()
        );
        assert!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next(ts("2024-01-01T00:00:00Z"), &utc)
                .is_none()
        );
    }

    #[test]
    fn rejects_bad_schedules() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@every 5m",
            "x * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        let s = Schedule::parse("0 9 * * *").unwrap();
        let tz = time_zone(Some("Etc/GMT-2")).unwrap();
        assert_eq!(
            s.next(ts("2024-01-01T00:00:00Z"), &tz),
            Some(ts("2024-01-01T07:00:00Z"))
        );
        assert!(time_zone(Some("../etc/passwd")).is_err());
        assert!(time_zone(Some("Not/AZone")).is_err());
        if std::path::Path::new("/usr/share/zoneinfo/America/New_York").exists() {
            let ny = time_zone(Some("America/New_York")).unwrap();
            assert_eq!(
                s.next(ts("2024-07-01T00:00:00Z"), &ny),
                Some(ts("2024-07-01T13:00:00Z"))
            );
        }
    }

    #[test]
    fn most_recent_counts_missed() {
        let s = Schedule::parse("*/10 * * * *").unwrap();
        let (t, n) = s.most_recent(
            ts("2024-01-01T00:00:00Z"),
            ts("2024-01-01T00:35:00Z"),
            &TimeZone::UTC,
            100,
        );
        assert_eq!(t, Some(ts("2024-01-01T00:30:00Z")));
        assert_eq!(n, 3);
    }
}
