//! The server: the router with its layers and shared state, and [`run`],
//! which serves it on the caller's listener until the caller cancels.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use chime_core::Keys;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::auth::Tokens;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::middleware;
use crate::notify::Notifier;
use crate::routes;
use crate::state::AppState;

#[cfg(test)]
mod tests;

/// How often histogram samples are folded into the metrics summaries, so
/// memory stays flat between scrapes.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// What the API needs from outside: connections the caller made.
pub struct Deps {
    /// Postgres pool (it may connect lazily).
    pub pool: PgPool,
    /// Redis client; the API connects on first use, so it starts while Redis
    /// is down.
    pub redis: redis::Client,
    /// Renders `/metrics`: the handle of the recorder the caller installed.
    pub metrics: PrometheusHandle,
}

/// The whole API as a router, ready to serve or to call in tests.
pub fn router(config: &ApiConfig, deps: Deps) -> Router {
    let state = AppState {
        pool: deps.pool,
        notifier: Arc::new(Notifier::new(deps.redis, Keys::new(config.prefix.clone()))),
        tokens: Arc::new(Tokens::new(config.tokens.clone())),
        metrics: deps.metrics,
        schedules: Arc::default(),
        body_limit: config.body_limit_bytes,
    };
    routes::router()
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout(),
        ))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(middleware::trace())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` is cancelled, then stops
/// accepting and lets in-flight requests finish (each is bounded by the
/// request timeout).
pub async fn run(
    config: ApiConfig,
    deps: Deps,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if config.tokens.is_empty() {
        tracing::warn!(
            "NO API TOKENS CONFIGURED: the API is open to anyone who can reach it; \
             set --api-token <scope>:<token> or CHIME_API_TOKENS"
        );
    }
    let upkeep = tokio::spawn({
        let handle = deps.metrics.clone();
        let shutdown = shutdown.clone();
        async move {
            let mut interval = tokio::time::interval(METRICS_UPKEEP);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = interval.tick() => handle.run_upkeep(),
                }
            }
        }
    });
    let app = router(&config, deps);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving the api");
    shutdown.cancel();
    let _ = upkeep.await;
    served?;
    tracing::info!("api stopped");
    Ok(())
}
