//! Probes and metrics, open without a token: `/healthz` (the process
//! answers), `/readyz` (Postgres and Redis answer within a second) and
//! `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::{ApiError, ErrorReply};
use crate::model::Readiness;
use crate::state::AppState;

/// How long each dependency has to answer a readiness probe.
const PROBE_DEADLINE: Duration = Duration::from_secs(1);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Up", body = Object, example = json!({"status": "ok"})))
)]
pub(crate) async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

/// Postgres and Redis both answered within a second.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is down", body = ErrorReply),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let postgres = async {
        match tokio::time::timeout(PROBE_DEADLINE, sqlx::query("SELECT 1").execute(&state.pool))
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let redis = state.notifier.ping(PROBE_DEADLINE);
    let (postgres, redis) = tokio::join!(postgres, redis);
    match (&postgres, &redis) {
        (Ok(()), Ok(())) => axum::Json(Readiness {
            postgres: "ok".to_owned(),
            redis: "ok".to_owned(),
        })
        .into_response(),
        _ => {
            let down: Vec<&str> = [("postgres", &postgres), ("redis", &redis)]
                .into_iter()
                .filter(|(_, result)| result.is_err())
                .map(|(name, _)| name)
                .collect();
            let causes = [("postgres", postgres), ("redis", redis)]
                .into_iter()
                .filter_map(|(name, result)| result.err().map(|e| format!("{name}: {e}")))
                .collect::<Vec<_>>()
                .join("; ");
            tracing::warn!(cause = %causes, "not ready");
            ApiError::unavailable_because(format!("not ready: {} unreachable", down.join(" and ")))
                .into_response()
        }
    }
}

/// Prometheus text exposition of the process's metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
