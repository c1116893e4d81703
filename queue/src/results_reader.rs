//! The recorders' side of `{prefix}:results`: a consumer group `recorders`
//! shared by every API replica. A recorder reads a batch, commits it to
//! Postgres, and only then acknowledges it, so results wait in the stream
//! while Postgres is down and a recorder that dies mid-batch leaves its
//! entries pending for another to claim.

use std::time::Duration;

use chime_core::Keys;
use chime_core::keys::RECORDER_GROUP;
use chime_core::wire::{EVENT_FIELD, RunResult};
use redis::AsyncTypedCommands;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions};

use crate::QueueError;

/// One entry read from the results stream.
#[derive(Debug, Clone)]
pub struct ResultEntry {
    /// Stream entry id, to acknowledge after commit.
    pub entry_id: String,
    /// The decoded result, or why it did not decode.
    pub result: Result<RunResult, String>,
}

/// Which entries to read: the ones this consumer already holds but has not
/// acknowledged (after a failed commit, or at start), or new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// This consumer's pending entries (`0`).
    Pending,
    /// Entries never delivered to any recorder (`>`).
    New,
}

/// Creates the `recorders` group if missing, starting from the stream's
/// beginning so results written before any recorder existed are recorded.
pub async fn ensure_group<C>(conn: &mut C, keys: &Keys) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    match conn
        .xgroup_create_mkstream(keys.results(), RECORDER_GROUP, "0")
        .await
    {
        Ok(()) => Ok(()),
        Err(err) if err.code() == Some("BUSYGROUP") => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Reads up to `count` entries for `consumer`, blocking up to `block` for
/// new ones (`None`: return at once). Use a connection whose response
/// timeout exceeds `block`.
pub async fn read<C>(
    conn: &mut C,
    keys: &Keys,
    consumer: &str,
    from: ReadFrom,
    count: usize,
    block: Option<Duration>,
) -> Result<Vec<ResultEntry>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let mut options = StreamReadOptions::default()
        .group(RECORDER_GROUP, consumer)
        .count(count);
    let id = match from {
        ReadFrom::Pending => "0",
        ReadFrom::New => {
            if let Some(block) = block {
                // BLOCK 0 would wait forever.
                options = options.block(block.as_millis().max(1) as usize);
            }
            ">"
        }
    };
    let reply = conn
        .xread_options(&[keys.results()], &[id], &options)
        .await?;
    Ok(reply
        .map(|r| r.keys)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|stream| stream.ids)
        .map(decode)
        .collect())
}

/// Takes over entries that another recorder has held for longer than
/// `min_idle` (it died mid-batch).
pub async fn claim_abandoned<C>(
    conn: &mut C,
    keys: &Keys,
    consumer: &str,
    min_idle: Duration,
    count: usize,
) -> Result<Vec<ResultEntry>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let reply = conn
        .xautoclaim_options(
            keys.results(),
            RECORDER_GROUP,
            consumer,
            min_idle.as_millis() as u64,
            "0-0",
            StreamAutoClaimOptions::default().count(count),
        )
        .await?;
    Ok(reply.claimed.into_iter().map(decode).collect())
}

/// Acknowledges committed entries.
pub async fn ack<C>(conn: &mut C, keys: &Keys, entry_ids: &[String]) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if entry_ids.is_empty() {
        return Ok(());
    }
    conn.xack(keys.results(), RECORDER_GROUP, entry_ids).await?;
    Ok(())
}

/// Entries of the results stream not yet acknowledged by the recorders:
/// the backlog shown by `GET /cluster`.
pub async fn backlog<C>(conn: &mut C, keys: &Keys) -> Result<u64, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let reply: redis::Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(keys.results())
        .query_async(conn)
        .await
        .or_else(|err| {
            if err.code() == Some("ERR") {
                Ok(redis::Value::Array(vec![]))
            } else {
                Err(err)
            }
        })?;
    let groups: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
    let mut backlog = 0;
    for group in groups {
        let name: Option<String> = group
            .get("name")
            .and_then(|v| redis::from_redis_value_ref(v).ok());
        if name.as_deref() != Some(RECORDER_GROUP) {
            continue;
        }
        let pending: u64 = group
            .get("pending")
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or(0);
        let lag: u64 = group
            .get("lag")
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or(0);
        backlog = pending + lag;
    }
    Ok(backlog)
}

fn decode(entry: StreamId) -> ResultEntry {
    let json: Option<String> = entry.get(EVENT_FIELD);
    let result = match json {
        Some(json) => serde_json::from_str(&json).map_err(|e| format!("undecodable result: {e}")),
        None => Err(format!("entry has no '{EVENT_FIELD}' field")),
    };
    ResultEntry {
        entry_id: entry.id,
        result,
    }
}
