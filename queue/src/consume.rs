//! Consuming queue streams `{prefix}:q:{queue}` in the consumer group
//! `executors`: joining the group, reading new entries, reclaiming entries
//! whose consumer went quiet (`XAUTOCLAIM`), and keeping in-progress claims
//! fresh so nobody else reclaims them.

use std::sync::LazyLock;

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::EVENT_FIELD;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions};
use redis::{AsyncTypedCommands, Script};

use crate::QueueError;

static TOUCH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/touch.lua")));

/// One entry taken from a queue stream by this consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue it came from (the name, not the key).
    pub queue: String,
    /// The stream entry id.
    pub entry_id: String,
    /// The entry's `event` field; `None` when it is missing or not a string.
    pub payload: Option<String>,
    /// How many times the entry has been delivered, this delivery included.
    pub deliveries: u64,
}

/// What one `XAUTOCLAIM` step took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    /// Where the next step starts; `0-0` once the whole pending list was scanned.
    pub next_start: String,
    /// The entries now owned by this consumer.
    pub deliveries: Vec<Delivery>,
}

/// Creates the group `executors` on `queue`'s stream (and the stream) if
/// missing. The group starts at id 0, so entries written before any
/// executor existed are still run. An existing group is success.
pub async fn ensure_group<C>(conn: &mut C, keys: &Keys, queue: &str) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    match conn
        .xgroup_create_mkstream(keys.queue(queue), EXECUTOR_GROUP, "0")
        .await
    {
        Ok(()) => Ok(()),
        Err(err) if err.code() == Some("BUSYGROUP") => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Reads new entries from `queues`, up to `count` from each (Redis applies
/// COUNT per stream), waiting up to `block_ms` for one (`None`: return at
/// once). Use a dedicated connection (see
/// [`crate::connection::blocking`]). A stream or group deleted under the
/// executor's feet is recreated and the read comes back empty.
pub async fn read_new<C>(
    conn: &mut C,
    keys: &Keys,
    queues: &[String],
    consumer: &str,
    count: usize,
    block_ms: Option<usize>,
) -> Result<Vec<Delivery>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let stream_keys: Vec<String> = queues.iter().map(|q| keys.queue(q)).collect();
    let ids = vec![">"; queues.len()];
    let mut options = StreamReadOptions::default()
        .group(EXECUTOR_GROUP, consumer)
        .count(count);
    if let Some(block_ms) = block_ms {
        options = options.block(block_ms);
    }
    let reply = match conn.xread_options(&stream_keys, &ids, &options).await {
        Ok(reply) => reply,
        Err(err) if err.code() == Some("NOGROUP") => {
            for queue in queues {
                ensure_group(conn, keys, queue).await?;
            }
            return Ok(Vec::new());
        }
        Err(err) => return Err(err.into()),
    };
    let mut deliveries = Vec::new();
    for stream in reply.map(|r| r.keys).unwrap_or_default() {
        let Some(position) = stream_keys.iter().position(|k| *k == stream.key) else {
            continue;
        };
        for entry in stream.ids {
            deliveries.push(delivery(&queues[position], entry, 1));
        }
    }
    Ok(deliveries)
}

/// Takes over up to `count` entries of `queue` that have been idle (not
/// delivered nor touched) for at least `min_idle_ms`, scanning the pending
/// list from `start` (`0-0` for the beginning). Each delivery carries its
/// delivery count from `XPENDING`, this claim included.
pub async fn reclaim<C>(
    conn: &mut C,
    keys: &Keys,
    queue: &str,
    consumer: &str,
    min_idle_ms: u64,
    start: &str,
    count: usize,
) -> Result<Reclaimed, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let key = keys.queue(queue);
    let reply = conn
        .xautoclaim_options(
            &key,
            EXECUTOR_GROUP,
            consumer,
            min_idle_ms,
            start,
            StreamAutoClaimOptions::default().count(count),
        )
        .await?;
    if reply.claimed.is_empty() {
        return Ok(Reclaimed {
            next_start: reply.next_stream_id,
            deliveries: Vec::new(),
        });
    }
    let mut pipe = redis::pipe();
    for entry in &reply.claimed {
        pipe.cmd("XPENDING")
            .arg(&key)
            .arg(EXECUTOR_GROUP)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1);
    }
    let pending: Vec<redis::streams::StreamPendingCountReply> = pipe.query_async(conn).await?;
    let deliveries = reply
        .claimed
        .into_iter()
        .zip(pending)
        .map(|(entry, pending)| {
            // XAUTOCLAIM counted this claim; a missing pending row (acked in
            // between) still counts as one delivery.
            let n = pending
                .ids
                .first()
                .map(|p| p.times_delivered as u64)
                .unwrap_or(1);
            delivery(queue, entry, n)
        })
        .collect();
    Ok(Reclaimed {
        next_start: reply.next_stream_id,
        deliveries,
    })
}

/// Resets the idle time of `entry_ids` of `queue` that are still pending
/// under `consumer`, so no other executor reclaims them while they run.
/// Returns the ids that are no longer this consumer's (another executor
/// reclaimed them, or they were acknowledged).
pub async fn touch<C>(
    conn: &mut C,
    keys: &Keys,
    queue: &str,
    consumer: &str,
    entry_ids: &[String],
) -> Result<Vec<String>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if entry_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut invocation = TOUCH.key(keys.queue(queue));
    invocation.arg(EXECUTOR_GROUP).arg(consumer);
    for id in entry_ids {
        invocation.arg(id);
    }
    Ok(invocation.invoke_async(conn).await?)
}

fn delivery(queue: &str, entry: StreamId, deliveries: u64) -> Delivery {
    Delivery {
        queue: queue.to_owned(),
        payload: entry.get(EVENT_FIELD),
        entry_id: entry.id,
        deliveries,
    }
}
