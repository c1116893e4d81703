//! Chime's leader-elected scheduler. Every replica keeps all job
//! definitions loaded and campaigns for the leader lease; the leader keeps a
//! timer heap of next fire times and emits due ticks, catch-ups and
//! promoted retries through the fenced emit script of `chime-queue`.
//!
//! Reading order: [`config`] (settings), `campaign` (the lease),
//! `sync` (loading and following definitions), `jobs` (the cache and each
//! job's emission state machine, with `timers`, `catchup` and `jitter`),
//! `payload` (wire messages), `emitter` (the loop that ties them together).
//!
//! The lease and fencing protocol:
#![doc = include_str!("../../docs/lease.md")]

mod campaign;
mod catchup;
pub mod config;
mod emitter;
mod jitter;
mod jobs;
mod payload;
mod sync;
mod timers;

pub use config::{ConfigError, SchedulerConfig};
pub use emitter::{SchedulerDeps, Status, run};

/// How long after its tick a job with `jitter_s` emits the tick at
/// `tick_ms` (ms, in `[0, jitter_s * 1000)`), deterministically: for
/// previews and for measuring lateness against the due time.
pub fn jitter_delay_ms(job_id: uuid::Uuid, tick_ms: i64, jitter_s: u64) -> i64 {
    jitter::delay_ms(job_id, tick_ms, jitter_s)
}
