//! Stream trimming that never drops an entry a consumer group still needs:
//! `XTRIM MINID ~` at the group's oldest pending entry (or its last-delivered
//! entry when nothing is pending). A stream whose group is missing or has
//! read nothing is left alone, so memory is bounded by what consumers have
//! not yet acknowledged, never by dropping work.

use std::sync::LazyLock;

use chime_core::Keys;
use redis::{AsyncTypedCommands, Script};

use crate::QueueError;

static TRIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../scripts/trim.lua")));

/// Trims `stream` behind `group`; returns how many entries went.
pub async fn trim_stream<C>(conn: &mut C, stream: &str, group: &str) -> Result<u64, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let removed: i64 = TRIM.key(stream).arg(group).invoke_async(conn).await?;
    Ok(removed.max(0) as u64)
}

/// The names of every queue that has received an event (`{p}:queues`).
pub async fn queues<C>(conn: &mut C, keys: &Keys) -> Result<Vec<String>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let mut names: Vec<String> = conn.smembers(keys.queues()).await?.into_iter().collect();
    names.sort();
    Ok(names)
}
