//! Promotion of the delayed set `{p}:delayed` (retries and one-shot runs,
//! score = due ms, member = the `wire::Event` JSON) to the queue streams, by
//! the leader, through a fenced script: a member is appended only if this
//! call removed it, so a member is promoted once whatever the failovers.

use std::sync::LazyLock;

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use redis::Script;

use crate::QueueError;
use crate::lease::LeaderLease;

static PROMOTE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/promote.lua")));

/// One due member and what to append for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// The member exactly as stored in the delayed set.
    pub member: String,
    /// The queue its event goes to.
    pub queue: String,
    /// The event JSON to append (the member with `emitted_at` rewritten).
    pub event: String,
}

/// Members of the delayed set due at `now_ms`, earliest first, at most `limit`.
pub async fn due<C>(
    conn: &mut C,
    keys: &Keys,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<String>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    Ok(redis::cmd("ZRANGEBYSCORE")
        .arg(keys.delayed())
        .arg("-inf")
        .arg(now_ms)
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(conn)
        .await?)
}

/// The earliest due time in the delayed set (ms), if any.
pub async fn next_due<C>(conn: &mut C, keys: &Keys) -> Result<Option<i64>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let first: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(keys.delayed())
        .arg(0)
        .arg(0)
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    Ok(first.first().map(|(_, score)| *score as i64))
}

/// Moves `promotions` to their queues in one fenced call; says for each
/// whether this call promoted it (false: it was already gone).
pub async fn promote<C>(
    conn: &mut C,
    keys: &Keys,
    lease: &LeaderLease,
    promotions: &[Promotion],
) -> Result<Vec<bool>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    if promotions.is_empty() {
        return Ok(Vec::new());
    }
    let mut invocation = PROMOTE.prepare_invoke();
    invocation
        .key(keys.leader())
        .key(keys.delayed())
        .key(keys.queues())
        .arg(lease.token())
        .arg(keys.prefix())
        .arg(EXECUTOR_GROUP)
        .arg(promotions.len());
    for p in promotions {
        invocation.arg(&p.member).arg(&p.queue).arg(&p.event);
    }
    let reply: String = invocation.invoke_async(conn).await?;
    if reply == "LEASE_LOST" {
        return Err(QueueError::LeaseLost);
    }
    if reply.len() != promotions.len() {
        return Err(QueueError::Protocol(format!(
            "promote script answered {} outcomes for {} members",
            reply.len(),
            promotions.len()
        )));
    }
    Ok(reply.bytes().map(|c| c == b'1').collect())
}
