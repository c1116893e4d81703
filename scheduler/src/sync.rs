//! Loading and following job definitions. A resync task pages through every
//! live job in Postgres: whole rows at start, then every
//! `resync_interval_ms` only ids and versions, fetching whole rows for the
//! ones the cache lacks or holds at an older version. A follower reads
//! `{p}:changes` on a connection of its own and fetches each changed job.
//! Both feed the emit loop through one bounded channel. The follower starts
//! at the changes id taken before the first load, so no change committed
//! during the load is missed.

use std::collections::HashSet;
use std::time::Duration;

use chime_core::Keys;
use chime_queue::{QueueError, changes, connection};
use chime_store::StoredJob;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What the loaders tell the emit loop.
#[derive(Debug)]
pub(crate) enum Update {
    /// A full reload begins.
    ResyncBegin,
    /// One page of it.
    Page(Vec<StoredJob>),
    /// One page of `(id, version)`: the cache answers which ids it lacks or
    /// holds at an older version, and those rows follow as a `Page`.
    Versions(Vec<(Uuid, i64)>, oneshot::Sender<Vec<Uuid>>),
    /// It ended; jobs it did not see are gone.
    ResyncEnd,
    /// It failed half way; remove nothing.
    ResyncAbort,
    /// A job changed: its current row, `None` when deleted.
    Job(Uuid, Option<Box<StoredJob>>),
}

/// Waits until Redis answers and returns the newest changes id.
pub(crate) async fn start_id(
    conn: &mut redis::aio::ConnectionManager,
    keys: &Keys,
    shutdown: &CancellationToken,
) -> Option<String> {
    loop {
        match changes::latest_id(conn, keys).await {
            Ok(id) => return Some(id),
            Err(err) => tracing::warn!(error = %err, "cannot read the changes stream; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Reloads every live job now and then every `interval`.
pub(crate) async fn resync(
    pool: PgPool,
    page_size: usize,
    interval: Duration,
    tx: mpsc::Sender<Update>,
    shutdown: CancellationToken,
) {
    let mut full = true;
    loop {
        let wait = match load_all(&pool, page_size, full, &tx, &shutdown).await {
            Ok(()) => {
                full = false;
                interval
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "loading jobs from Postgres failed; retrying");
                if tx.send(Update::ResyncAbort).await.is_err() {
                    return;
                }
                interval.min(Duration::from_secs(2))
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One full pass: whole rows (`full`), or versions and then the rows that
/// changed.
async fn load_all(
    pool: &PgPool,
    page_size: usize,
    full: bool,
    tx: &mpsc::Sender<Update>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    tx.send(Update::ResyncBegin).await?;
    let mut after = None;
    loop {
        if shutdown.is_cancelled() {
            anyhow::bail!("shutting down");
        }
        let more = if full {
            let page = chime_store::jobs::list_live_page(pool, after, page_size as i64).await?;
            let more = page.len() == page_size;
            after = page.last().map(|j| j.id);
            tx.send(Update::Page(page)).await?;
            more
        } else {
            let versions =
                chime_store::sync::live_versions_page(pool, after, page_size as i64).await?;
            let more = versions.len() == page_size;
            after = versions.last().map(|(id, _)| *id);
            let (reply, stale) = oneshot::channel();
            tx.send(Update::Versions(versions, reply)).await?;
            let stale = stale.await?;
            if !stale.is_empty() {
                let rows = chime_store::sync::live_by_ids(pool, &stale).await?;
                tx.send(Update::Page(rows)).await?;
            }
            more
        };
        if !more {
            break;
        }
    }
    tx.send(Update::ResyncEnd).await?;
    Ok(())
}

/// Follows `{p}:changes` from `start_id`, fetching each changed job.
pub(crate) async fn follow(
    client: redis::Client,
    pool: PgPool,
    keys: Keys,
    start_id: String,
    tx: mpsc::Sender<Update>,
    shutdown: CancellationToken,
) {
    const BLOCK: Duration = Duration::from_millis(1000);
    let mut last = start_id;
    loop {
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = follow_once(&client, &pool, &keys, &mut last, BLOCK, &tx) => r,
        };
        match result {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, "reading job changes failed; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }
    }
}

/// Reads until the channel closes (`Ok`) or Redis fails (`Err`).
async fn follow_once(
    client: &redis::Client,
    pool: &PgPool,
    keys: &Keys,
    last: &mut String,
    block: Duration,
    tx: &mpsc::Sender<Update>,
) -> Result<(), QueueError> {
    let mut conn = connection::blocking(client, block).await?;
    loop {
        let (batch, next) =
            changes::read(&mut conn, keys, last, block.as_millis() as usize, 1000).await?;
        *last = next;
        let mut seen = HashSet::new();
        for change in batch {
            if !seen.insert(change.job_id) {
                continue;
            }
            let current = match chime_store::jobs::get(pool, change.job_id).await {
                Ok(current) => current,
                Err(err) => {
                    // The next resync applies it.
                    tracing::warn!(job_id = %change.job_id, error = %err, "cannot fetch a changed job");
                    continue;
                }
            };
            if tx
                .send(Update::Job(change.job_id, current.map(Box::new)))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
}
