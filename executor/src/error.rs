//! Errors of the executor, by what the caller must decide. Run outcomes
//! (a failing job, a timeout, a cancel) are not errors: they are values
//! of `RunState` reported to `{prefix}:results`.

use chime_queue::QueueError;

/// What stops the executor from working.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The configuration breaks a rule; fix it and start again.
    #[error("invalid executor config: {0}")]
    Config(String),
    /// Redis could not be reached or refused a command; retried with backoff
    /// inside loops, fatal only at start.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A resource the executor needs could not be set up (the HTTP client).
    #[error("cannot start: {0}")]
    Startup(String),
}
