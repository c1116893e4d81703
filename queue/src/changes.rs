//! The changes stream `{prefix}:changes`: the API appends one entry per
//! committed definition change, and the leader reads it to apply changes
//! within milliseconds. A lost entry is healed by the scheduler's periodic
//! resync, so appending is best effort for the API.

use chime_core::Keys;
use chime_core::wire::{Change, EVENT_FIELD};
use redis::AsyncTypedCommands;
use redis::streams::{StreamMaxlen, StreamReadOptions};

use crate::QueueError;

/// The changes stream keeps about this many entries; readers that fall
/// further behind resync from Postgres anyway.
const MAX_LEN: usize = 10_000;

/// Appends one change.
pub async fn publish<C>(conn: &mut C, keys: &Keys, change: &Change) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let json = serde_json::to_string(change).map_err(|e| QueueError::Protocol(e.to_string()))?;
    conn.xadd_maxlen(
        keys.changes(),
        StreamMaxlen::Approx(MAX_LEN),
        "*",
        &[(EVENT_FIELD, json)],
    )
    .await?;
    Ok(())
}

/// The id of the newest entry, or `0-0`: where a reader that has just loaded
/// every job from Postgres starts.
pub async fn latest_id<C>(conn: &mut C, keys: &Keys) -> Result<String, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let reply = conn.xrevrange_count(keys.changes(), "+", "-", 1).await?;
    Ok(reply
        .ids
        .first()
        .map(|e| e.id.clone())
        .unwrap_or_else(|| "0-0".to_owned()))
}

/// Reads changes after `after_id`, waiting up to `block_ms` for one. Returns
/// the entries and the id to read after next time. Entries that do not
/// decode are skipped (a resync covers them).
pub async fn read<C>(
    conn: &mut C,
    keys: &Keys,
    after_id: &str,
    block_ms: usize,
    count: usize,
) -> Result<(Vec<Change>, String), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let options = StreamReadOptions::default().block(block_ms).count(count);
    let reply = conn
        .xread_options(&[keys.changes()], &[after_id], &options)
        .await?;
    let mut last = after_id.to_owned();
    let mut changes = Vec::new();
    for stream in reply.map(|r| r.keys).unwrap_or_default() {
        for entry in stream.ids {
            last = entry.id.clone();
            let Some(json): Option<String> = entry.get(EVENT_FIELD) else {
                continue;
            };
            if let Ok(change) = serde_json::from_str(&json) {
                changes.push(change);
            }
        }
    }
    Ok((changes, last))
}
