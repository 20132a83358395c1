//! Liveness, readiness and startup probes: the pure timing and threshold state machine
//! ([`ProbeState`], upstream's prober `worker`) and the executors ([`exec`]: CRI ExecSync,
//! httpGet, tcpSocket, grpc).

pub mod exec;

#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    /// The name upstream uses in Events: `Liveness probe failed: …`.
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    /// The lowercase name in kill messages: `failed liveness probe`.
    pub fn lower(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

/// The outcome of one probe run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Failed, with what the probe said (exit code and output, HTTP status, connection error).
    Failure(String),
}

/// A probe's timing fields with upstream's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// `terminationGracePeriodSeconds` of the probe (liveness and startup only).
    pub grace_seconds: Option<i64>,
}

fn seconds(v: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(v.and_then(|s| u64::try_from(s).ok()).unwrap_or(default))
}

fn count(v: Option<i32>, default: u32) -> u32 {
    v.and_then(|s| u32::try_from(s).ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

impl Timing {
    /// The timing of a probe spec (periodSeconds 10, timeoutSeconds 1, thresholds 1 and 3).
    pub fn of(probe: &Probe) -> Timing {
        Timing {
            initial_delay: seconds(probe.initial_delay_seconds, 0),
            period: seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
            grace_seconds: probe.termination_grace_period_seconds,
        }
    }
}

/// The state of one probe of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeState {
    pub kind: ProbeKind,
    pub timing: Timing,
    /// The reported result: `None` until the thresholds decide (readiness then counts as
    /// not ready, startup as not started, liveness as alive).
    pub result: Option<bool>,
    successes: u32,
    failures: u32,
    /// A failed liveness/startup probe stops probing this container: it is being restarted.
    stopped: bool,
}

/// What a probe result changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The result flipped to success.
    Succeeded,
    /// The result flipped to failure (for liveness and startup: kill the container).
    Failed(String),
}

impl ProbeState {
    pub fn new(kind: ProbeKind, probe: &Probe) -> ProbeState {
        ProbeState {
            kind,
            timing: Timing::of(probe),
            result: None,
            successes: 0,
            failures: 0,
            stopped: false,
        }
    }

    /// Whether the probe runs at all now: not after a liveness/startup failure, not after the
    /// startup probe succeeded (upstream stops it), and liveness/readiness only once the
    /// container has started (its startup probe succeeded, if it has one).
    pub fn should_probe(&self, started: bool, elapsed_since_start: Duration) -> bool {
        if self.stopped || elapsed_since_start < self.timing.initial_delay {
            return false;
        }
        match self.kind {
            ProbeKind::Startup => self.result != Some(true),
            ProbeKind::Liveness | ProbeKind::Readiness => started,
        }
    }

    /// Whether this probe has nothing more to do for this container: a liveness or startup
    /// probe failed (the container is being restarted) or the startup probe succeeded.
    pub fn finished(&self) -> bool {
        self.stopped || (self.kind == ProbeKind::Startup && self.result == Some(true))
    }

    /// Records one run's outcome and returns the change of the reported result, if any.
    pub fn record(&mut self, outcome: &Outcome) -> Option<Change> {
        match outcome {
            Outcome::Success => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                let threshold = match self.kind {
                    // Only readiness may require more than one success (validation forces 1).
                    ProbeKind::Readiness => self.timing.success_threshold,
                    ProbeKind::Liveness | ProbeKind::Startup => 1,
                };
                if self.result != Some(true) && self.successes >= threshold {
                    self.result = Some(true);
                    return Some(Change::Succeeded);
                }
            }
            Outcome::Failure(why) => {
                self.successes = 0;
                self.failures = self.failures.saturating_add(1);
                if self.result != Some(false) && self.failures >= self.timing.failure_threshold {
                    self.result = Some(false);
                    if self.kind != ProbeKind::Readiness {
                        self.stopped = true;
                    }
                    return Some(Change::Failed(why.clone()));
                }
            }
        }
        None
    }
}
