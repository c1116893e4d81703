//! Job definitions: what to run, when, where, and what to do when things go
//! wrong. [`JobSpec`] is the document a user writes (the API's request body);
//! [`JobSpec::validate`] checks it against the limits of DESIGN.md.

mod target;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use target::{EventTarget, HttpTarget, ShellTarget, Target};

use crate::ids::validate_job_name;
use crate::schedule::Schedule;

/// The longest timeout a run may have: seven days.
pub const MAX_TIMEOUT_S: u64 = 7 * 86_400;
/// The longest retry backoff: one day.
pub const MAX_BACKOFF_MS: u64 = 86_400_000;
/// The most labels a job may carry.
pub const MAX_LABELS: usize = 64;

/// A job definition as a user writes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Unique name, `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, never a UUID.
    pub name: String,
    /// Cron expression, macro, `@every <duration>` or `@at <instant>`.
    pub schedule: String,
    /// IANA time zone the schedule is read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Queue whose executors run the job.
    #[serde(default = "default_queue")]
    pub queue: String,
    /// What a run does.
    pub target: Target,
    /// Seconds a run may take before it is killed, 1 s to 7 days.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// Attempts and backoff after a failure.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// What happens when a tick comes while a run is still going.
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// What happens to ticks missed while no leader was emitting.
    #[serde(default)]
    pub catchup: Catchup,
    /// A run not started this long after its tick is reported `missed`.
    #[serde(default)]
    pub starting_deadline_s: Option<u64>,
    /// Each tick is delayed by a deterministic amount in `[0, jitter_s)`.
    #[serde(default)]
    pub jitter_s: u64,
    /// A paused job emits nothing.
    #[serde(default)]
    pub paused: bool,
    /// Free-form key/value tags for filtering.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Words for people.
    #[serde(default)]
    pub description: Option<String>,
}

/// Retry policy: attempts in all (the first included) and exponential
/// backoff with full jitter between them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, 1-100; 1 means no retry.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first backoff, in milliseconds.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// The cap on any backoff, in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_max_attempts(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
        }
    }
}

impl RetryPolicy {
    /// The longest backoff before attempt `next_attempt` (2 for the first
    /// retry): `initial * 2^(n-2)`, capped. The caller draws the actual delay
    /// uniformly from `[0, ceiling]` (full jitter).
    pub fn backoff_ceiling_ms(&self, next_attempt: u32) -> u64 {
        let doublings = next_attempt.saturating_sub(2).min(40);
        self.backoff_initial_ms
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max_ms)
    }
}

/// What happens when a tick comes while an earlier run is still going.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Run both.
    Allow,
    /// Skip the new run and record it as `skipped`.
    #[default]
    Forbid,
    /// Cancel the running one and start the new one.
    Replace,
}

impl OverlapPolicy {
    /// The policy's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Allow => "allow",
            OverlapPolicy::Forbid => "forbid",
            OverlapPolicy::Replace => "replace",
        }
    }
}

/// Catch-up: ticks missed while no leader emitted (a failover, a restart, a
/// paused job resumed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catchup {
    /// Which missed ticks to fire.
    #[serde(default)]
    pub policy: CatchupPolicy,
    /// How far back a missed tick may lie and still be fired, in seconds.
    #[serde(default = "default_catchup_window_s")]
    pub window_s: u64,
}

impl Default for Catchup {
    fn default() -> Self {
        Catchup {
            policy: CatchupPolicy::default(),
            window_s: default_catchup_window_s(),
        }
    }
}

/// Which missed ticks are fired late.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchupPolicy {
    /// None: every missed tick is recorded as `missed`.
    None,
    /// Only the latest missed tick inside the window.
    #[default]
    Latest,
    /// Every missed tick inside the window, up to a cap per recovery.
    All,
}

/// One thing wrong with a request, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path of the offending field, such as `retry.max_attempts`.
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl JobSpec {
    /// Checks every field and returns the parsed schedule. `anchor` is the
    /// job's creation instant, where an `@every` interval starts.
    pub fn validate(&self, anchor: DateTime<Utc>) -> Result<Schedule, FieldError> {
        validate_job_name(&self.name).map_err(|m| FieldError::new("name", m))?;
        let schedule = Schedule::parse(&self.schedule, &self.timezone, anchor)
            .map_err(|e| FieldError::new(e.field(), e.to_string()))?;
        validate_token(&self.queue).map_err(|m| FieldError::new("queue", m))?;
        self.target.validate()?;
        if !(1..=MAX_TIMEOUT_S).contains(&self.timeout_s) {
            return Err(FieldError::new(
                "timeout_s",
                format!(
                    "{} is out of range 1-{MAX_TIMEOUT_S} (1 s to 7 days)",
                    self.timeout_s
                ),
            ));
        }
        self.validate_retry()?;
        if self.catchup.window_s > 366 * 86_400 {
            return Err(FieldError::new(
                "catchup.window_s",
                "must be at most one year (31622400)",
            ));
        }
        if let Some(deadline) = self.starting_deadline_s {
            if !(1..=MAX_TIMEOUT_S).contains(&deadline) {
                return Err(FieldError::new(
                    "starting_deadline_s",
                    format!("{deadline} is out of range 1-{MAX_TIMEOUT_S}"),
                ));
            }
        }
        if self.jitter_s > 86_400 {
            return Err(FieldError::new(
                "jitter_s",
                "must be at most 86400 (one day)",
            ));
        }
        self.validate_labels()?;
        if let Some(description) = &self.description {
            if description.chars().count() > 4096 {
                return Err(FieldError::new(
                    "description",
                    "must be at most 4096 characters",
                ));
            }
        }
        Ok(schedule)
    }

    fn validate_retry(&self) -> Result<(), FieldError> {
        let retry = &self.retry;
        if !(1..=100).contains(&retry.max_attempts) {
            return Err(FieldError::new(
                "retry.max_attempts",
                format!("{} is out of range 1-100", retry.max_attempts),
            ));
        }
        for (field, value) in [
            ("retry.backoff_initial_ms", retry.backoff_initial_ms),
            ("retry.backoff_max_ms", retry.backoff_max_ms),
        ] {
            if value > MAX_BACKOFF_MS {
                return Err(FieldError::new(
                    field,
                    format!("{value} is out of range 0-{MAX_BACKOFF_MS} (0 ms to 1 day)"),
                ));
            }
        }
        if retry.backoff_max_ms < retry.backoff_initial_ms {
            return Err(FieldError::new(
                "retry.backoff_max_ms",
                "must not be less than retry.backoff_initial_ms",
            ));
        }
        Ok(())
    }

    fn validate_labels(&self) -> Result<(), FieldError> {
        if self.labels.len() > MAX_LABELS {
            return Err(FieldError::new(
                "labels",
                format!("{} labels; at most {MAX_LABELS}", self.labels.len()),
            ));
        }
        for (key, value) in &self.labels {
            let key_ok = (1..=63).contains(&key.len())
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
            if !key_ok {
                return Err(FieldError::new(
                    format!("labels.{key}"),
                    "label keys are 1-63 characters of letters, digits, '.', '_', '/' and '-'",
                ));
            }
            if value.chars().count() > 255 {
                return Err(FieldError::new(
                    format!("labels.{key}"),
                    "label values are at most 255 characters",
                ));
            }
        }
        Ok(())
    }
}

/// Queue and stream names: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, so they are
/// safe inside Redis key names and URLs.
pub fn validate_token(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("must not be empty".to_owned()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err("must start with a letter or digit".to_owned());
        }
        _ => {}
    }
    if name.len() > 64 {
        return Err("must be at most 64 characters".to_owned());
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains '{bad}'; only letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

fn default_timezone() -> String {
    "UTC".to_owned()
}
fn default_queue() -> String {
    "default".to_owned()
}
fn default_timeout_s() -> u64 {
    3600
}
fn default_max_attempts() -> u32 {
    1
}
fn default_backoff_initial_ms() -> u64 {
    1000
}
fn default_backoff_max_ms() -> u64 {
    60_000
}
fn default_catchup_window_s() -> u64 {
    3600
}
