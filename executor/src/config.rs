//! The executor's typed configuration. The binary builds it from flags,
//! environment and the config file; this crate never reads them itself.

use std::time::Duration;

use serde::Deserialize;

use crate::ExecutorError;

/// How one executor process runs. Every duration says its unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Prefix of every Redis key. Default `chime`.
    pub prefix: String,
    /// Queues served: the streams `{prefix}:q:{queue}`. Default `["default"]`.
    pub queues: Vec<String>,
    /// Runs in flight at once, across all queues. Default 16.
    pub concurrency: usize,
    /// An entry whose consumer has not touched it for this long is reclaimed
    /// by any executor. In-progress claims are refreshed at a quarter of it.
    /// Default 30 000 ms.
    pub visibility_timeout_ms: u64,
    /// An entry delivered more than this many times goes to `{prefix}:dead`.
    /// Default 5.
    pub max_deliveries: u64,
    /// After a shutdown request, in-flight runs get this long to finish
    /// before they are killed and left unacknowledged. Default 30 000 ms.
    pub shutdown_grace_ms: u64,
    /// Between SIGTERM and SIGKILL to a run's process group. Default 5 000 ms.
    pub kill_grace_ms: u64,
    /// Between registry heartbeats. Default 2 000 ms.
    pub heartbeat_interval_ms: u64,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            prefix: "chime".to_owned(),
            queues: vec!["default".to_owned()],
            concurrency: 16,
            visibility_timeout_ms: 30_000,
            max_deliveries: 5,
            shutdown_grace_ms: 30_000,
            kill_grace_ms: 5_000,
            heartbeat_interval_ms: 2_000,
        }
    }
}

/// The most runs one process may have in flight.
const MAX_CONCURRENCY: usize = 10_000;
/// The shortest visibility timeout: claims are refreshed at a quarter of it.
const MIN_VISIBILITY_TIMEOUT_MS: u64 = 400;

impl ExecutorConfig {
    /// Checks every field and the rules between them.
    pub fn validate(&self) -> Result<(), ExecutorError> {
        let invalid = |field: &str, message: String| {
            Err(ExecutorError::Config(format!("{field}: {message}")))
        };
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return invalid(
                "prefix",
                format!("'{}' must be non-empty and hold no spaces", self.prefix),
            );
        }
        if self.queues.is_empty() {
            return invalid("queues", "name at least one queue".to_owned());
        }
        for (i, queue) in self.queues.iter().enumerate() {
            let ok = queue.len() <= 64
                && queue
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                && queue
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return invalid(
                    "queues",
                    format!("'{queue}' is not a queue name ([A-Za-z0-9][A-Za-z0-9._-]{{0,63}})"),
                );
            }
            if self.queues[..i].contains(queue) {
                return invalid("queues", format!("'{queue}' is named twice"));
            }
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return invalid(
                "concurrency",
                format!("{} is out of range 1-{MAX_CONCURRENCY}", self.concurrency),
            );
        }
        if self.visibility_timeout_ms < MIN_VISIBILITY_TIMEOUT_MS {
            return invalid(
                "visibility_timeout_ms",
                format!(
                    "{} ms is below the minimum of {MIN_VISIBILITY_TIMEOUT_MS} ms",
                    self.visibility_timeout_ms
                ),
            );
        }
        if self.max_deliveries == 0 {
            return invalid("max_deliveries", "must be at least 1".to_owned());
        }
        if self.heartbeat_interval_ms == 0 {
            return invalid("heartbeat_interval_ms", "must be at least 1 ms".to_owned());
        }
        Ok(())
    }

    /// See [`ExecutorConfig::visibility_timeout_ms`].
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_millis(self.visibility_timeout_ms)
    }

    /// How often in-progress claims and leases are refreshed: a quarter of
    /// the visibility timeout, so three refreshes may fail before another
    /// executor can take the entry over.
    pub(crate) fn touch_interval(&self) -> Duration {
        self.visibility_timeout() / 4
    }

    /// How often idle entries are looked for: a quarter of the visibility
    /// timeout, at most every 5 s.
    pub(crate) fn reclaim_interval(&self) -> Duration {
        (self.visibility_timeout() / 4).min(Duration::from_secs(5))
    }
}
