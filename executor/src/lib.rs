//! Chime's stateless executor: claims events from the queue streams, runs
//! their shell, HTTP and event targets with timeouts and a concurrency
//! limit, keeps its claims fresh and heartbeats, reclaims the work of dead
//! executors, and reports every state change to `{prefix}:results`.
//!
//! It needs nothing but Redis: everything a run needs travels in its event,
//! and the crate does not depend on the store.
//!
//! Reading order: [`run`] (`service.rs`), `claim.rs`, `attempt.rs`,
//! `target.rs` and its kinds, `settler.rs`, `inflight.rs`, `heartbeat.rs`, `control.rs`.

mod attempt;
mod backoff;
mod claim;
mod clock;
mod config;
mod control;
mod error;
mod heartbeat;
mod inflight;
mod output;
mod service;
mod settler;
mod target;

pub use config::ExecutorConfig;
pub use error::ExecutorError;
pub use service::{ExecutorDeps, run};
