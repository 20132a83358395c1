//! Exponential back-off per key (upstream's `flowcontrol.Backoff` as the kubelet uses it):
//! 10 s doubling to 5 min; forgotten after 10 min without a new failure.

use std::collections::HashMap;
use std::time::Duration;

use super::{NANOS_PER_SEC, Nanos};

/// The first delay.
pub const INITIAL: Duration = Duration::from_secs(10);
/// The longest delay (CrashLoopBackOff's cap).
pub const MAX: Duration = Duration::from_secs(300);
/// A key with no failure for this long starts again at [`INITIAL`].
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    delay: Duration,
    last_update: Nanos,
}

/// Delays per key (a container of a pod, or an image).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackOff {
    entries: HashMap<String, Entry>,
}

fn nanos(d: Duration) -> Nanos {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl BackOff {
    /// The current delay of `key` (zero when it has none).
    pub fn delay(&self, key: &str) -> Duration {
        self.entries
            .get(key)
            .map(|e| e.delay)
            .unwrap_or(Duration::ZERO)
    }

    /// Records a failure at `event`: the first (or first after a quiet spell) waits
    /// [`INITIAL`], each following one twice as long, up to [`MAX`].
    pub fn next(&mut self, key: &str, event: Nanos) {
        let entry = match self.entries.get(key) {
            Some(e) if event - e.last_update <= nanos(RESET_AFTER) => Entry {
                delay: (e.delay * 2).min(MAX),
                last_update: event,
            },
            _ => Entry {
                delay: INITIAL,
                last_update: event,
            },
        };
        self.entries.insert(key.to_string(), entry);
    }

    /// When the back-off that started at `since` ends, if that is after `now`.
    pub fn in_back_off_until(&self, key: &str, since: Nanos, now: Nanos) -> Option<Nanos> {
        let e = self.entries.get(key)?;
        if now - e.last_update > nanos(RESET_AFTER) {
            return None;
        }
        let until = since + nanos(e.delay);
        (now < until).then_some(until)
    }

    /// When the back-off that started with the last failure ends, if that is after `now`
    /// (upstream's `IsInBackOffSinceUpdate`, used for image pulls).
    pub fn in_back_off_since_update(&self, key: &str, now: Nanos) -> Option<Nanos> {
        let since = self.entries.get(key)?.last_update;
        self.in_back_off_until(key, since, now)
    }

    /// Forgets keys that have had no failure for [`RESET_AFTER`] (bounded memory).
    pub fn gc(&mut self, now: Nanos) {
        self.entries
            .retain(|_, e| now - e.last_update <= nanos(RESET_AFTER));
    }

    /// Forgets every key with this prefix (a pod that is gone).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.entries.retain(|k, _| !k.starts_with(prefix));
    }
}

/// The delay as upstream prints it in messages: `10s`, `1m20s`, `5m0s`.
pub fn format_delay(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

/// Seconds as nanoseconds.
pub fn secs(s: i64) -> Nanos {
    s.saturating_mul(NANOS_PER_SEC)
}
