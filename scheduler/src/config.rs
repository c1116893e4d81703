//! The scheduler's settings, with their defaults and the cross-field rules
//! checked before anything starts.

use serde::Deserialize;

/// Settings of `chime scheduler`. Every field has a default; a settings
/// file may name any of them under `[scheduler]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Time-to-live of the leader lease (ms). Default 3000, at least 1000.
    /// A dead leader is replaced within `lease_ttl_ms + renew_interval_ms`.
    pub lease_ttl_ms: u64,
    /// How often the leader renews its lease (ms); must be below half the
    /// ttl. Default: a third of the ttl.
    pub renew_interval_ms: Option<u64>,
    /// How often every replica reloads all definitions from Postgres (ms),
    /// healing lost change notifications and edits made in SQL. Default 30000.
    pub resync_interval_ms: u64,
    /// Most ticks one job emits, and most it reports `missed`, in one
    /// catch-up. Default 1000.
    pub catchup_cap: usize,
    /// A tick less late than this (ms) is emitted as usual rather than going
    /// through its catch-up policy. Default 1000.
    pub catchup_grace_ms: u64,
    /// Ticks per emit script call. Default 500.
    pub emit_batch: usize,
    /// Emit script calls in flight at once. Default 4.
    pub emit_concurrency: usize,
    /// Jobs per page when loading from Postgres. Default 2000.
    pub load_page: usize,
    /// How often the delayed set is checked for due members (ms). Default 100.
    pub delayed_poll_ms: u64,
    /// How often queue and results streams are trimmed (ms). Default 5000.
    pub trim_interval_ms: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            lease_ttl_ms: 3000,
            renew_interval_ms: None,
            resync_interval_ms: 30_000,
            catchup_cap: 1000,
            catchup_grace_ms: 1000,
            emit_batch: 500,
            emit_concurrency: 4,
            load_page: 2000,
            delayed_poll_ms: 100,
            trim_interval_ms: 5000,
        }
    }
}

/// A setting out of range, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scheduler.{field}: {message}")]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl SchedulerConfig {
    /// The renewal interval in effect (ms).
    pub fn renew_interval_ms(&self) -> u64 {
        self.renew_interval_ms.unwrap_or(self.lease_ttl_ms / 3)
    }

    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, message: String| Err(ConfigError { field, message });
        if self.lease_ttl_ms < 1000 {
            return bad(
                "lease_ttl_ms",
                format!("{} is below the minimum of 1000", self.lease_ttl_ms),
            );
        }
        let renew = self.renew_interval_ms();
        if renew == 0 || renew * 2 >= self.lease_ttl_ms {
            return bad(
                "renew_interval_ms",
                format!(
                    "{renew} must be above 0 and below half of lease_ttl_ms ({})",
                    self.lease_ttl_ms
                ),
            );
        }
        if self.resync_interval_ms < 100 {
            return bad(
                "resync_interval_ms",
                format!("{} is below the minimum of 100", self.resync_interval_ms),
            );
        }
        for (field, value) in [
            ("catchup_cap", self.catchup_cap),
            ("emit_batch", self.emit_batch),
            ("emit_concurrency", self.emit_concurrency),
            ("load_page", self.load_page),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1".to_owned());
            }
        }
        if self.delayed_poll_ms == 0 || self.trim_interval_ms == 0 {
            return bad(
                "delayed_poll_ms",
                "poll and trim intervals must be above 0".to_owned(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_renewal_is_a_third_of_the_ttl() {
        let config = SchedulerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.renew_interval_ms(), 1000);
    }

    #[test]
    fn renewal_must_be_below_half_the_ttl_and_the_ttl_at_least_a_second() {
        let config = SchedulerConfig {
            renew_interval_ms: Some(1500),
            ..SchedulerConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "renew_interval_ms");
        let config = SchedulerConfig {
            lease_ttl_ms: 999,
            ..SchedulerConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "lease_ttl_ms");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed: Result<SchedulerConfig, _> =
            serde_json::from_str(r#"{"lease_ttl_ms": 2000, "lease_tll_ms": 1}"#);
        assert!(parsed.is_err());
        let parsed: SchedulerConfig = serde_json::from_str(r#"{"lease_ttl_ms": 2000}"#).unwrap();
        assert_eq!(parsed.resync_interval_ms, 30_000);
    }
}
