//! Identifiers: job ids, job names and run ids.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A job's identity: a UUIDv7 given at creation, stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    /// A fresh id; UUIDv7 sorts by creation time.
    pub fn generate() -> Self {
        JobId(Uuid::now_v7())
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A run's identity. A scheduled run's id is derived from its tick, so
/// every replica, retry and redelivery names the same run; a manual run
/// gets a fresh UUIDv7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    /// The id of the run for the tick `(job_id, scheduled_at)`: a UUIDv5 in
    /// the job's own namespace over the tick in milliseconds.
    pub fn for_tick(job_id: JobId, scheduled_at: DateTime<Utc>) -> Self {
        let millis = scheduled_at.timestamp_millis().to_be_bytes();
        RunId(Uuid::new_v5(&job_id.0, &millis))
    }

    /// A fresh id for a manual run.
    pub fn generate() -> Self {
        RunId(Uuid::now_v7())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Checks a job name: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}` and never a UUID,
/// so `{id}` in a path is never ambiguous.
pub fn validate_job_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("must not be empty".to_owned());
    };
    if name.len() > 128 {
        return Err(format!("is {} characters long; at most 128", name.len()));
    }
    if !first.is_ascii_alphanumeric() {
        return Err("must start with a letter or digit".to_owned());
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains '{bad}'; only letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    if Uuid::parse_str(name).is_ok() {
        return Err("must not look like a UUID".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn run_id_for_tick_is_stable_and_distinct() {
        let job = JobId(Uuid::from_u128(7));
        let t = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(RunId::for_tick(job, t), RunId::for_tick(job, t));
        assert_ne!(
            RunId::for_tick(job, t),
            RunId::for_tick(job, t + chrono::Duration::milliseconds(1))
        );
        assert_ne!(
            RunId::for_tick(job, t),
            RunId::for_tick(JobId(Uuid::from_u128(8)), t)
        );
    }

    #[test]
    fn job_names() {
        assert!(validate_job_name("nightly-report.v2_a").is_ok());
        assert!(validate_job_name("").is_err());
        assert!(validate_job_name("-x").is_err());
        assert!(validate_job_name("a b").is_err());
        assert!(validate_job_name(&"a".repeat(129)).is_err());
        assert!(validate_job_name(&"a".repeat(128)).is_ok());
        assert!(validate_job_name("0190a3c2-7f00-7000-8000-000000000000").is_err());
    }
}
