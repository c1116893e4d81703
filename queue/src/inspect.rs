//! Reading Chime's Redis state back: stream pages and whole prefixes, for
//! benchmarks, tests and tools. Nothing here is on a hot path.

use chime_core::wire::EVENT_FIELD;
use redis::AsyncTypedCommands;

use crate::QueueError;

/// Up to `count` entries of `stream` after `after_id` (`-` for the start):
/// `(entry id, the entry's event field)`.
pub async fn read_page<C>(
    conn: &mut C,
    stream: &str,
    after_id: &str,
    count: usize,
) -> Result<Vec<(String, String)>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let start = if after_id == "-" {
        "-".to_owned()
    } else {
        format!("({after_id}")
    };
    let reply = conn.xrange_count(stream, start, "+", count).await?;
    Ok(reply
        .ids
        .into_iter()
        .map(|entry| {
            let event: String = entry.get(EVENT_FIELD).unwrap_or_default();
            (entry.id, event)
        })
        .collect())
}

/// The Redis time of a stream entry id (`ms-seq`), in ms.
pub fn entry_ms(entry_id: &str) -> Option<i64> {
    entry_id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

/// Deletes every key under `{prefix}:`; returns how many.
pub async fn delete_prefix<C>(conn: &mut C, prefix: &str) -> Result<u64, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let pattern = format!("{prefix}:*");
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            deleted += conn.del(&keys).await? as u64;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}
