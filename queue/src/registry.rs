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

/// One executor as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorEntry {
    /// Its id, the member of `{prefix}:executors`.
    pub id: String,
    /// Its last heartbeat (ms since the epoch, by the executor's clock).
    pub last_heartbeat_ms: i64,
    /// Its details hash `{prefix}:executor:{id}` (host, pid, version,
    /// queues, running, started_at, ...), as the executor wrote it.
    pub details: std::collections::HashMap<String, String>,
}

/// Executors whose last heartbeat is at or after `since_ms`, newest
/// heartbeat first. An entry whose details hash has already expired is
/// left out: it stopped heartbeating long enough ago to be gone.
pub async fn live<C>(
    conn: &mut C,
    keys: &Keys,
    since_ms: i64,
) -> Result<Vec<ExecutorEntry>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let beats: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(keys.executors())
        .arg("+inf")
        .arg(since_ms)
        .arg("BYSCORE")
        .arg("REV")
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    if beats.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for (id, _) in &beats {
        pipe.hgetall(keys.executor(id));
    }
    let details: Vec<std::collections::HashMap<String, String>> = pipe.query_async(conn).await?;
    Ok(beats
        .into_iter()
        .zip(details)
        .filter(|(_, details)| !details.is_empty())
        .map(|((id, score), details)| ExecutorEntry {
            id,
            last_heartbeat_ms: score as i64,
            details,
        })
        .collect())
}
