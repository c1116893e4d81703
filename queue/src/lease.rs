//! The leader lease and its fencing token.
#![doc = include_str!("../../docs/lease.md")]

use std::sync::LazyLock;

use chime_core::Keys;
use redis::Script;

use crate::QueueError;

static ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/acquire.lua")));
static RENEW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/renew.lua")));
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/release.lua")));

/// Proof of leadership: the node id and the epoch it acquired. Only
/// [`acquire`] makes one, and every fenced write takes one, so a process that
/// never won a campaign cannot even call them. A lease that has since been
/// lost is still refused by the scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    node_id: String,
    epoch: u64,
    token: String,
}

impl LeaderLease {
    /// The node that holds it.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The fencing epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The value of `{p}:leader` while this lease holds: `node_id:epoch`.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The outcome of one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Campaign {
    /// This node is leader.
    Acquired {
        /// The lease.
        lease: LeaderLease,
        /// When it was taken (ms, Redis clock).
        since_ms: i64,
    },
    /// Someone holds the lease.
    Held {
        /// Their token, `node_id:epoch`.
        holder: String,
        /// How long the lease has left (ms); negative when it has no expiry.
        remaining_ms: i64,
    },
}

/// Who leads, for `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    /// The leader's node id.
    pub node_id: String,
    /// Its fencing epoch.
    pub epoch: u64,
    /// When it took the lease (ms), when known.
    pub since_ms: Option<i64>,
}

/// Tries to take the lease for `ttl_ms`.
pub async fn acquire<C>(
    conn: &mut C,
    keys: &Keys,
    node_id: &str,
    ttl_ms: u64,
) -> Result<Campaign, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let (won, number, text): (i64, i64, Option<String>) = ACQUIRE
        .key(keys.leader())
        .key(keys.leader_epoch())
        .key(keys.leader_since())
        .arg(node_id)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    if won == 1 {
        let epoch = u64::try_from(number)
            .map_err(|_| QueueError::Protocol(format!("negative epoch {number}")))?;
        let since_ms = text
            .as_deref()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| QueueError::Protocol(format!("lease since {text:?}")))?;
        Ok(Campaign::Acquired {
            lease: LeaderLease {
                node_id: node_id.to_owned(),
                epoch,
                token: format!("{node_id}:{epoch}"),
            },
            since_ms,
        })
    } else {
        Ok(Campaign::Held {
            holder: text.unwrap_or_default(),
            remaining_ms: number,
        })
    }
}

/// Extends the lease by `ttl_ms` from now, if the caller still holds it;
/// [`QueueError::LeaseLost`] when it does not.
pub async fn renew<C>(
    conn: &mut C,
    keys: &Keys,
    lease: &LeaderLease,
    ttl_ms: u64,
) -> Result<(), QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let renewed: i64 = RENEW
        .key(keys.leader())
        .arg(&lease.token)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    if renewed == 1 {
        Ok(())
    } else {
        Err(QueueError::LeaseLost)
    }
}

/// Gives the lease up if the caller still holds it; says whether it did.
pub async fn release<C>(conn: &mut C, keys: &Keys, lease: &LeaderLease) -> Result<bool, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let released: i64 = RELEASE
        .key(keys.leader())
        .arg(&lease.token)
        .invoke_async(conn)
        .await?;
    Ok(released == 1)
}

/// The current leader, if any.
pub async fn current<C>(conn: &mut C, keys: &Keys) -> Result<Option<LeaderInfo>, QueueError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let (token, since): (Option<String>, Option<String>) = redis::pipe()
        .get(keys.leader())
        .get(keys.leader_since())
        .query_async(conn)
        .await?;
    let Some(token) = token else {
        return Ok(None);
    };
    let (node_id, epoch) = token
        .rsplit_once(':')
        .and_then(|(node, epoch)| Some((node.to_owned(), epoch.parse().ok()?)))
        .ok_or_else(|| QueueError::Protocol(format!("lease value '{token}' is not node:epoch")))?;
    Ok(Some(LeaderInfo {
        node_id,
        epoch,
        since_ms: since.and_then(|s| s.parse().ok()),
    }))
}
