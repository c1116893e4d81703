//! Change notification: after each committed change the API appends
//! `{job_id, version, op}` to `{prefix}:changes`. Best effort by design: the
//! change is already in Postgres, and the scheduler's periodic resync heals a
//! lost entry, so a Redis outage costs a warning, not a failed request.

use std::time::Duration;

use chime_core::Keys;
use chime_core::wire::{Change, ChangeOp};
use chime_queue::QueueError;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// How long one append (connecting included) may hold up a reply.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// Publishes changes over one lazily made, auto-reconnecting connection.
pub(crate) struct Notifier {
    client: redis::Client,
    keys: Keys,
    /// Made on first use, so the API starts while Redis is down; a failed
    /// attempt leaves it empty and the next call tries again.
    connection: OnceCell<ConnectionManager>,
}

impl Notifier {
    pub(crate) fn new(client: redis::Client, keys: Keys) -> Self {
        Notifier {
            client,
            keys,
            connection: OnceCell::new(),
        }
    }

    /// The shared connection, made on first use.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, QueueError> {
        self.connection
            .get_or_try_init(|| chime_queue::connection::manager(&self.client))
            .await
            .cloned()
    }

    /// Appends one change; logs a warning when Redis cannot take it.
    pub(crate) async fn publish(&self, job_id: Uuid, version: i64, op: ChangeOp) {
        let change = Change {
            job_id,
            version,
            op,
        };
        let append = async {
            let mut conn = self.connection().await?;
            chime_queue::changes::publish(&mut conn, &self.keys, &change).await
        };
        let outcome = match tokio::time::timeout(PUBLISH_TIMEOUT, append).await {
            Ok(outcome) => outcome.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {PUBLISH_TIMEOUT:?}")),
        };
        if let Err(err) = outcome {
            tracing::warn!(
                %job_id,
                version,
                op = ?op,
                error = %err,
                "change not announced on the changes stream; the scheduler's resync will pick it up"
            );
        }
    }

    /// PING within `deadline`, for `/readyz`.
    pub(crate) async fn ping(&self, deadline: Duration) -> Result<(), String> {
        let ping = async {
            let mut conn = self.connection().await.map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(deadline, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err("timed out".to_owned()),
        }
    }
}
