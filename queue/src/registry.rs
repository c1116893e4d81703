//! The executor registry: `{prefix}:executors` (sorted set of executor id
//! to last heartbeat, ms) and `{prefix}:executor:{id}` (a hash of the
//! executor's details that expires unless refreshed).

use chime_core::Keys;

use crate::QueueError;

/// Heartbeats older than this are pruned from `{prefix}:executors` by any
/// live executor, so dead ones do not pile up.
pub const PRUNE_AFTER_MS: i64 = 60_000;

/// Records a heartbeat of `executor_id` at `now_ms` with its `details`; the
/// details hash expires after `ttl_ms` unless refreshed.
pub async fn heartbeat<C>(
    conn: &mut C,
    keys: &Keys,
    executor_id: &str,
    details: &[(&str, String)],
    now_ms: i64,
    ttl_ms: u64,
) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let hash = keys.executor(executor_id);
    redis::pipe()
        .zadd(keys.executors(), executor_id, now_ms)
        .ignore()
        .zrembyscore(keys.executors(), "-inf", now_ms - PRUNE_AFTER_MS)
        .ignore()
        .hset_multiple(&hash, details)
        .ignore()
        .pexpire(&hash, ttl_ms as i64)
        .ignore()
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Removes `executor_id` from the registry (a clean shutdown).
pub async fn deregister<C>(conn: &mut C, keys: &Keys, executor_id: &str) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    redis::pipe()
        .zrem(keys.executors(), executor_id)
        .ignore()
        .del(keys.executor(executor_id))
        .ignore()
        .query_async::<()>(conn)
        .await?;
    Ok(())
}
