//! Fenced emission of ticks: one script call checks the lease, the job's
//! cursor and its running runs, then appends the event (or a `skipped` or
//! `missed` result) and advances the cursor. See `docs/lease.md`.

use std::sync::LazyLock;

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use redis::Script;

use crate::QueueError;
use crate::lease::LeaderLease;

static EMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../scripts/emit.lua")));

/// What the script does with one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickMode {
    /// Emit, whatever is running (overlap `allow`).
    Allow,
    /// Emit unless a run of the job is live; else report `skipped`.
    Forbid,
    /// Emit, and ask executors to cancel the job's live runs.
    Replace,
    /// Do not emit: report `missed` (catch-up decided so).
    Missed,
}

impl TickMode {
    fn code(self) -> &'static str {
        match self {
            TickMode::Allow => "a",
            TickMode::Forbid => "f",
            TickMode::Replace => "r",
            TickMode::Missed => "m",
        }
    }
}

/// One tick to hand to the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitTick {
    /// The job's id, the field of `{p}:cursor`.
    pub job_id: String,
    /// The tick (ms since the epoch).
    pub tick_ms: i64,
    /// The queue whose stream receives the event.
    pub queue: String,
    /// What to do.
    pub mode: TickMode,
    /// The `wire::Event` JSON; empty for [`TickMode::Missed`].
    pub event: String,
    /// The `wire::RunResult` JSON written instead of the event: the `missed`
    /// one for [`TickMode::Missed`]; for [`TickMode::Forbid`] the `skipped`
    /// one, or empty to have the script build it from the event (the
    /// event's `run_id`, `job_id`, `job_version`, `attempt`, `trigger` and
    /// `scheduled_at`, `finished_at` = now); empty otherwise.
    pub result: String,
}

/// What happened to one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// Appended to its queue.
    Emitted,
    /// Appended, and cancels published for the runs it replaces.
    Replaced,
    /// Not emitted: a run was live (`forbid`); a `skipped` result was written.
    Skipped,
    /// Not emitted: a `missed` result was written.
    Missed,
    /// The cursor already covered the tick: another leader handled it.
    Duplicate,
}

/// Handles `ticks` in one fenced script call, in order. A job's ticks must
/// come oldest first. [`QueueError::LeaseLost`] when `lease` is no longer
/// the lease; then nothing was written.
pub async fn emit_ticks<C>(
    conn: &mut C,
    keys: &Keys,
    lease: &LeaderLease,
    now_ms: i64,
    ticks: &[EmitTick],
) -> Result<Vec<TickOutcome>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    if ticks.is_empty() {
        return Ok(Vec::new());
    }
    let mut invocation = EMIT.prepare_invoke();
    invocation
        .key(keys.leader())
        .key(keys.cursor())
        .key(keys.results())
        .key(keys.queues())
        .arg(lease.token())
        .arg(now_ms)
        .arg(keys.prefix())
        .arg(EXECUTOR_GROUP)
        .arg(ticks.len());
    for tick in ticks {
        invocation
            .arg(&tick.job_id)
            .arg(tick.tick_ms)
            .arg(&tick.queue)
            .arg(tick.mode.code())
            .arg(&tick.event)
            .arg(&tick.result);
    }
    let reply: String = invocation.invoke_async(conn).await?;
    if reply == "LEASE_LOST" {
        return Err(QueueError::LeaseLost);
    }
    if reply.len() != ticks.len() {
        return Err(QueueError::Protocol(format!(
            "emit script answered {} outcomes for {} ticks",
            reply.len(),
            ticks.len()
        )));
    }
    reply
        .bytes()
        .map(|code| match code {
            b'e' => Ok(TickOutcome::Emitted),
            b'c' => Ok(TickOutcome::Replaced),
            b's' => Ok(TickOutcome::Skipped),
            b'm' => Ok(TickOutcome::Missed),
            b'd' => Ok(TickOutcome::Duplicate),
            other => Err(QueueError::Protocol(format!(
                "emit script answered '{}'",
                other as char
            ))),
        })
        .collect()
}

/// The cursors of `job_ids` (last tick handled, ms), `None` for a job that
/// has none yet. One round trip.
pub async fn cursors<C>(
    conn: &mut C,
    keys: &Keys,
    job_ids: &[String],
) -> Result<Vec<Option<i64>>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(keys.cursor())
        .arg(job_ids)
        .query_async(conn)
        .await?;
    if values.len() != job_ids.len() {
        return Err(QueueError::Protocol(format!(
            "HMGET answered {} values for {} fields",
            values.len(),
            job_ids.len()
        )));
    }
    Ok(values
        .into_iter()
        .map(|v| v.and_then(|s| s.parse().ok()))
        .collect())
}
