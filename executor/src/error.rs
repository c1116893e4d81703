//! Errors of the executor, by what the caller must decide. Run outcomes
//! (a failing job, a timeout, a cancel) are not errors: they are values
//! of `RunState` reported to `{prefix}:results`, and Redis errors after
//! start are retried with backoff inside the executor's loops.

/// What stops the executor from starting.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The configuration breaks a rule; fix it and start again.
    #[error("invalid executor config: {0}")]
    Config(String),
    /// A resource the executor needs could not be set up (the HTTP client).
    #[error("cannot start: {0}")]
    Startup(String),
}
