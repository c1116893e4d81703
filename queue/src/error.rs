//! Errors of the queue layer, by what the caller must decide.

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The caller's lease token is no longer the lease: stop emitting.
    #[error("leader lease lost")]
    LeaseLost,
    /// Redis is unreachable or timed out; retry with backoff.
    #[error("redis unavailable: {0}")]
    Transient(#[source] redis::RedisError),
    /// Redis answered something this build does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl From<redis::RedisError> for QueueError {
    fn from(err: redis::RedisError) -> Self {
        if err.is_io_error()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
        {
            QueueError::Transient(err)
        } else {
            QueueError::Protocol(err.to_string())
        }
    }
}
