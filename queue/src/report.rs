//! Reporting runs: the `running` result with its lease in
//! `{prefix}:running:{job_id}`, lease renewal, and settling an entry, which
//! writes the terminal result, any retry into `{prefix}:delayed`, any
//! dead letter into `{prefix}:dead`, clears the lease and acknowledges the
//! entry in one script (`scripts/settle.lua`), so a crash cannot split them.

use std::sync::LazyLock;

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::{EVENT_FIELD, Event, REASON_FIELD, RunResult};
use redis::Script;

use crate::QueueError;

static SETTLE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/settle.lua")));

/// A run in progress, as the running sets know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job (its running set is `{prefix}:running:{job_id}`).
    pub job_id: String,
    /// The run (the member of that set).
    pub run_id: String,
}

/// How one queue entry ends. Every part is optional, so the same step
/// settles a finished run, a retry, a dead letter and an undecodable entry.
#[derive(Debug, Clone, Default)]
pub struct Settlement<'a> {
    /// The terminal result to append to `{prefix}:results`.
    pub result: Option<&'a RunResult>,
    /// The lease to remove from the running set.
    pub lease: Option<&'a Lease>,
    /// The next attempt and its due time (ms), for `{prefix}:delayed`.
    pub retry: Option<(&'a Event, i64)>,
    /// The raw entry JSON and the reason, for `{prefix}:dead`.
    pub dead: Option<(&'a str, &'a str)>,
}

/// Appends the `running` result and records the run's lease (expiry in ms)
/// in its job's running set. Returns whether a cancel was asked for this run
/// before it started (`{prefix}:cancel:{run_id}`, kept by the API because
/// a cancel published while the run was still queued reached no executor).
pub async fn started<C>(
    conn: &mut C,
    keys: &Keys,
    result: &RunResult,
    lease: &Lease,
    lease_expiry_ms: i64,
) -> Result<bool, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let json = to_json(result)?;
    let (cancel_requested,): (bool,) = redis::pipe()
        .xadd(keys.results(), "*", &[(EVENT_FIELD, json)])
        .ignore()
        .zadd(keys.running(&lease.job_id), &lease.run_id, lease_expiry_ms)
        .ignore()
        .exists(keys.cancel(&lease.run_id))
        .query_async(conn)
        .await?;
    Ok(cancel_requested)
}

/// Pushes the expiry of leases that still exist to `lease_expiry_ms`
/// (`ZADD XX`, so a lease removed by a settlement in between stays removed).
pub async fn renew<C>(
    conn: &mut C,
    keys: &Keys,
    leases: &[Lease],
    lease_expiry_ms: i64,
) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if leases.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for lease in leases {
        pipe.cmd("ZADD")
            .arg(keys.running(&lease.job_id))
            .arg("XX")
            .arg(lease_expiry_ms)
            .arg(&lease.run_id)
            .ignore();
    }
    pipe.query_async::<()>(conn).await?;
    Ok(())
}

/// Removes a lease without settling its entry: the run was abandoned at
/// shutdown and its entry stays pending for another executor.
pub async fn release<C>(conn: &mut C, keys: &Keys, lease: &Lease) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    redis::cmd("ZREM")
        .arg(keys.running(&lease.job_id))
        .arg(&lease.run_id)
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Settles entry `entry_id` of `queue`, owned by `consumer`. Returns
/// `false`, having changed nothing, when the entry is no longer pending
/// under `consumer` (another executor reclaimed it and reports it).
pub async fn settle<C>(
    conn: &mut C,
    keys: &Keys,
    queue: &str,
    consumer: &str,
    entry_id: &str,
    settlement: &Settlement<'_>,
) -> Result<bool, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let result = settlement.result.map(to_json).transpose()?;
    let retry = settlement
        .retry
        .map(|(event, due)| to_json(event).map(|json| (json, due)))
        .transpose()?;
    let running_key = match settlement.lease {
        Some(lease) => keys.running(&lease.job_id),
        None => keys.running("-"),
    };
    let mut invocation = SETTLE.prepare_invoke();
    invocation
        .key(keys.queue(queue))
        .key(keys.results())
        .key(running_key)
        .key(keys.delayed())
        .key(keys.dead())
        .arg(EXECUTOR_GROUP)
        .arg(consumer)
        .arg(entry_id)
        .arg(result.as_deref().unwrap_or(""))
        .arg(settlement.lease.map(|l| l.run_id.as_str()).unwrap_or(""))
        .arg(retry.as_ref().map(|(json, _)| json.as_str()).unwrap_or(""))
        .arg(retry.as_ref().map(|(_, due)| *due).unwrap_or(0))
        .arg(settlement.dead.map(|(raw, _)| raw).unwrap_or(""))
        .arg(settlement.dead.map(|(_, reason)| reason).unwrap_or(""))
        .arg(EVENT_FIELD)
        .arg(REASON_FIELD);
    let settled: i64 = invocation.invoke_async(conn).await?;
    Ok(settled == 1)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, QueueError> {
    serde_json::to_string(value).map_err(|e| QueueError::Protocol(e.to_string()))
}
