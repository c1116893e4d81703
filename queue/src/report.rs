//! Reporting runs: the `running` result with its lease in
//! `{prefix}:running:{job_id}`, lease renewal, and settling an entry, which
//! writes the terminal result, any retry into `{prefix}:delayed`, any
//! dead letter into `{prefix}:dead`, clears the lease and acknowledges the
//! entry in one script (`scripts/settle.lua`), so a crash cannot split them.
//! Starting and settling both take batches: one round trip for many runs.

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

/// A run that has just started, for [`started`].
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// Its `running` result.
    pub result: &'a RunResult,
    /// Its lease.
    pub lease: &'a Lease,
}

/// For each of `runs`, in one round trip: appends its `running` result and
/// records its lease (expiry in ms) in its job's running set. Returns, in
/// order, whether a cancel was asked for each run before it started
/// (`{prefix}:cancel:{run_id}`, kept by the API because a cancel published
/// while the run was still queued reached no executor).
pub async fn started<C>(
    conn: &mut C,
    keys: &Keys,
    runs: &[Start<'_>],
    lease_expiry_ms: i64,
) -> Result<Vec<bool>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for run in runs {
        pipe.xadd(keys.results(), "*", &[(EVENT_FIELD, to_json(run.result)?)])
            .ignore()
            .zadd(
                keys.running(&run.lease.job_id),
                &run.lease.run_id,
                lease_expiry_ms,
            )
            .ignore()
            .exists(keys.cancel(&run.lease.run_id));
    }
    Ok(pipe.query_async(conn).await?)
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

/// One entry's settlement, encoded and ready to send with [`settle`].
#[derive(Debug, Clone)]
pub struct PreparedSettle {
    queue_key: String,
    running_key: String,
    entry_id: String,
    result: String,
    run_id: String,
    retry: String,
    retry_due_ms: i64,
    dead: String,
    dead_reason: String,
}

impl PreparedSettle {
    /// Encodes the settlement of entry `entry_id` of `queue`.
    pub fn new(
        keys: &Keys,
        queue: &str,
        entry_id: &str,
        settlement: &Settlement<'_>,
    ) -> Result<Self, QueueError> {
        let (retry, retry_due_ms) = match settlement.retry {
            Some((event, due)) => (to_json(event)?, due),
            None => (String::new(), 0),
        };
        let (dead, dead_reason) = settlement.dead.unwrap_or_default();
        Ok(PreparedSettle {
            queue_key: keys.queue(queue),
            running_key: keys.running(settlement.lease.map_or("-", |l| l.job_id.as_str())),
            entry_id: entry_id.to_owned(),
            result: settlement
                .result
                .map(to_json)
                .transpose()?
                .unwrap_or_default(),
            run_id: settlement
                .lease
                .map(|l| l.run_id.clone())
                .unwrap_or_default(),
            retry,
            retry_due_ms,
            dead: dead.to_owned(),
            dead_reason: dead_reason.to_owned(),
        })
    }
}

/// Settles entries owned by `consumer` in one script call, each atomically.
/// Returns, in order, whether each was settled: `false`, having changed
/// nothing, when the entry is no longer pending under `consumer` (another
/// executor reclaimed it and reports it).
pub async fn settle<C>(
    conn: &mut C,
    keys: &Keys,
    consumer: &str,
    settlements: &[PreparedSettle],
) -> Result<Vec<bool>, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    if settlements.is_empty() {
        return Ok(Vec::new());
    }
    let mut invocation = SETTLE.prepare_invoke();
    invocation
        .key(keys.results())
        .key(keys.delayed())
        .key(keys.dead())
        .arg(EXECUTOR_GROUP)
        .arg(consumer)
        .arg(EVENT_FIELD)
        .arg(REASON_FIELD);
    for settlement in settlements {
        invocation
            .key(&settlement.queue_key)
            .key(&settlement.running_key)
            .arg(&settlement.entry_id)
            .arg(&settlement.result)
            .arg(&settlement.run_id)
            .arg(&settlement.retry)
            .arg(settlement.retry_due_ms)
            .arg(&settlement.dead)
            .arg(&settlement.dead_reason);
    }
    let settled: String = invocation.invoke_async(conn).await?;
    if settled.len() != settlements.len() {
        return Err(QueueError::Protocol(format!(
            "the settle script answered {} entries for {}",
            settled.len(),
            settlements.len()
        )));
    }
    Ok(settled.bytes().map(|b| b == b'1').collect())
}

/// [`settle`], with each entry's outcome on its own: when the batch call
/// fails, each entry is tried once more alone, so an entry Redis refuses (a
/// key of the wrong type, say) fails by itself and the others are settled.
/// A refused entry's result may have been written before the refusal (a
/// script is not rolled back); writing it again when its settlement is
/// retried is harmless, because results are recorded idempotently.
pub async fn settle_each<C>(
    conn: &mut C,
    keys: &Keys,
    consumer: &str,
    settlements: &[PreparedSettle],
) -> Vec<Result<bool, QueueError>>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    match settle(conn, keys, consumer, settlements).await {
        Ok(settled) => settled.into_iter().map(Ok).collect(),
        Err(err) if settlements.len() == 1 => vec![Err(err)],
        Err(_) => {
            let mut outcomes = Vec::with_capacity(settlements.len());
            for settlement in settlements {
                let outcome = settle(conn, keys, consumer, std::slice::from_ref(settlement))
                    .await
                    .map(|settled| settled.first() == Some(&true));
                outcomes.push(outcome);
            }
            outcomes
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, QueueError> {
    serde_json::to_string(value).map_err(|e| QueueError::Protocol(e.to_string()))
}
