//! What every handler shares: the database pool, the change notifier, the
//! tokens, the metrics handle. Cloning is cheap (everything is behind `Arc`
//! or already a handle).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chime_core::Keys;
use chime_queue::QueueError;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::auth::Tokens;
use crate::error::ApiError;
use crate::notify::Notifier;
use crate::schedules::Schedules;

/// Shared state of the router.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Postgres, the source of truth for definitions.
    pub(crate) pool: PgPool,
    /// Announces committed changes on `{prefix}:changes`; also pings Redis
    /// for `/readyz` and lends its connection to [`AppState::on_redis`].
    pub(crate) notifier: Arc<Notifier>,
    /// Redis key names under the configured prefix.
    pub(crate) keys: Keys,
    /// Configured bearer tokens; empty means open.
    pub(crate) tokens: Arc<Tokens>,
    /// Renders `/metrics`.
    pub(crate) metrics: PrometheusHandle,
    /// Parsed schedules, for the next fires in job replies.
    pub(crate) schedules: Arc<Schedules>,
    /// Largest accepted body, for the 413 message.
    pub(crate) body_limit: usize,
}

/// The longest a handler waits on Redis (connecting included) before it
/// answers 503.
const REDIS_DEADLINE: Duration = Duration::from_secs(5);

impl AppState {
    /// Runs `op` on the shared Redis connection with the key names. Redis
    /// unreachable or slower than [`REDIS_DEADLINE`] is a 503.
    pub(crate) async fn on_redis<T, F, Fut>(&self, op: F) -> Result<T, ApiError>
    where
        F: FnOnce(ConnectionManager, Keys) -> Fut,
        Fut: Future<Output = Result<T, QueueError>>,
    {
        let run = async {
            let conn = self.notifier.connection().await?;
            op(conn, self.keys.clone()).await
        };
        match tokio::time::timeout(REDIS_DEADLINE, run).await {
            Ok(outcome) => outcome.map_err(ApiError::from),
            Err(_) => Err(ApiError::redis_unavailable(format!(
                "redis did not answer within {REDIS_DEADLINE:?}"
            ))),
        }
    }
}
