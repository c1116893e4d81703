//! Writing events straight to queue streams, without a leader: the API's
//! manual and backfill runs. Each event becomes one entry of
//! `{prefix}:q:{queue}` with the field `event`, exactly as the leader's emit
//! step writes it, and its queue is named in `{prefix}:queues` so
//! `GET /cluster` and the trimmer find it.
//!
//! There is no fencing here: these runs are not ticks of a schedule, so no
//! cursor guards them and they are never deduplicated against scheduled runs.

use std::collections::BTreeSet;

use chime_core::Keys;
use chime_core::wire::{EVENT_FIELD, Event};

use crate::QueueError;
use crate::consume::ensure_group;

/// Appends `events` to their queues in one pipelined round trip (after
/// making sure each queue's `executors` group exists, so an executor that
/// starts later still reads them from the beginning). Returns the entry ids
/// in the order of `events`.
pub async fn enqueue<C>(
    conn: &mut C,
    keys: &Keys,
    events: &[Event],
) -> Result<Vec<String>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let queues: BTreeSet<&str> = events.iter().map(|e| e.queue.as_str()).collect();
    for queue in &queues {
        ensure_group(conn, keys, queue).await?;
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for queue in &queues {
        pipe.sadd(keys.queues(), *queue).ignore();
    }
    for event in events {
        let json = serde_json::to_string(event).map_err(|e| QueueError::Protocol(e.to_string()))?;
        pipe.xadd(keys.queue(&event.queue), "*", &[(EVENT_FIELD, json)]);
    }
    let ids: Vec<String> = pipe.query_async(conn).await?;
    if ids.len() != events.len() {
        return Err(QueueError::Protocol(format!(
            "XADD answered {} ids for {} events",
            ids.len(),
            events.len()
        )));
    }
    Ok(ids)
}
