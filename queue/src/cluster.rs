//! Figures about the queues for `GET /cluster`: per queue stream its
//! length, the entries delivered but not yet acknowledged (pending), the age
//! of the oldest of them and the entries no executor has read yet (lag); and
//! the dead-letter count. Read-only; a handful of short commands per queue.

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use redis::AsyncTypedCommands;

use crate::QueueError;
use crate::inspect::entry_ms;

/// One queue as `GET /cluster` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    /// The queue's name (not its key).
    pub name: String,
    /// `XLEN` of its stream: entries not yet trimmed, acknowledged or not.
    pub length: u64,
    /// Entries delivered to an executor and not yet acknowledged.
    pub pending: u64,
    /// How long ago the oldest pending entry was written (ms, by the Redis
    /// clock); `None` when nothing is pending.
    pub oldest_pending_age_ms: Option<u64>,
    /// Entries no executor has read yet; `None` when Redis cannot tell
    /// (before 7.0, or after entries were deleted from the middle).
    pub lag: Option<u64>,
}

/// The figures of every queue in `{prefix}:queues`, by name.
pub async fn queues<C>(conn: &mut C, keys: &Keys) -> Result<Vec<QueueFigures>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let names = crate::trim::queues(conn, keys).await?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let now_ms = redis_now_ms(conn).await?;
    let mut figures = Vec::with_capacity(names.len());
    for name in names {
        figures.push(queue(conn, keys, name, now_ms).await?);
    }
    Ok(figures)
}

/// Entries in `{prefix}:dead`.
pub async fn dead_letters<C>(conn: &mut C, keys: &Keys) -> Result<u64, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    Ok(conn.xlen(keys.dead()).await? as u64)
}

async fn queue<C>(
    conn: &mut C,
    keys: &Keys,
    name: String,
    now_ms: i64,
) -> Result<QueueFigures, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let key = keys.queue(&name);
    let length = conn.xlen(&key).await? as u64;
    // The summary form: [count, smallest id, greatest id, per consumer].
    let summary: Result<redis::Value, redis::RedisError> = redis::cmd("XPENDING")
        .arg(&key)
        .arg(EXECUTOR_GROUP)
        .query_async(conn)
        .await;
    let (pending, oldest_id) = match summary {
        Ok(redis::Value::Array(parts)) => {
            let count: u64 = parts
                .first()
                .and_then(|v| redis::from_redis_value_ref(v).ok())
                .unwrap_or(0);
            let oldest: Option<String> = parts
                .get(1)
                .and_then(|v| redis::from_redis_value_ref(v).ok());
            (count, oldest)
        }
        Ok(_) => (0, None),
        // No stream or no group yet: nothing was ever delivered.
        Err(err) if is_missing(&err) => (0, None),
        Err(err) => return Err(err.into()),
    };
    let oldest_pending_age_ms = oldest_id
        .filter(|_| pending > 0)
        .and_then(|id| entry_ms(&id))
        .map(|written| now_ms.saturating_sub(written).max(0) as u64);
    Ok(QueueFigures {
        name,
        length,
        pending,
        oldest_pending_age_ms,
        lag: group_lag(conn, &key).await?,
    })
}

/// The `lag` of the `executors` group from `XINFO GROUPS`.
async fn group_lag<C>(conn: &mut C, key: &str) -> Result<Option<u64>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let reply: Result<redis::Value, redis::RedisError> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(key)
        .query_async(conn)
        .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(err) if is_missing(&err) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let groups: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
    Ok(groups
        .iter()
        .find(|group| {
            group
                .get("name")
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                .as_deref()
                == Some(EXECUTOR_GROUP)
        })
        .and_then(|group| group.get("lag"))
        .and_then(|v| redis::from_redis_value_ref(v).ok()))
}

/// Redis's own clock in ms, so entry ages do not depend on this host's.
async fn redis_now_ms<C>(conn: &mut C) -> Result<i64, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query_async(conn).await?;
    Ok(seconds * 1000 + micros / 1000)
}

/// A server error that only says the stream or the group does not exist.
fn is_missing(err: &redis::RedisError) -> bool {
    err.code() == Some("NOGROUP")
        || (err.code() == Some("ERR") && err.to_string().contains("no such key"))
}
