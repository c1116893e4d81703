//! What every handler shares: the database pool, the change notifier, the
//! tokens, the metrics handle. Cloning is cheap (everything is behind `Arc`
//! or already a handle).

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::auth::Tokens;
use crate::notify::Notifier;
use crate::schedules::Schedules;

/// Shared state of the router.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Postgres, the source of truth for definitions.
    pub(crate) pool: PgPool,
    /// Announces committed changes on `{prefix}:changes`; also pings Redis
    /// for `/readyz`.
    pub(crate) notifier: Arc<Notifier>,
    /// Configured bearer tokens; empty means open.
    pub(crate) tokens: Arc<Tokens>,
    /// Renders `/metrics`.
    pub(crate) metrics: PrometheusHandle,
    /// Parsed schedules, for the next fires in job replies.
    pub(crate) schedules: Arc<Schedules>,
    /// Largest accepted body, for the 413 message.
    pub(crate) body_limit: usize,
}
