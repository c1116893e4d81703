//! `GET /api/v1/executors`: the executors with a fresh heartbeat, from the
//! registry the executors keep in Redis.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chime_queue::registry::{self, ExecutorEntry};
use chrono::DateTime;

use crate::auth::{Access, Reads};
use crate::error::{ApiError, ErrorReply};
use crate::model::{Executor, ExecutorList, instant};
use crate::routes::jobs;
use crate::state::AppState;

/// An executor whose last heartbeat is older than this is left out: it
/// heartbeats every 2 s by default, so five missed beats mean it is gone
/// (its details hash expires after five missed beats too).
const FRESH_MS: i64 = 10_000;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/executors", get(list))
}

/// Lists the live executors: every one whose last heartbeat is at most 10 s
/// old, newest heartbeat first.
#[utoipa::path(
    get,
    path = "/api/v1/executors",
    tag = "cluster",
    responses(
        (status = 200, description = "The live executors", body = ExecutorList),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 503, description = "Redis is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    _access: Access<Reads>,
    State(state): State<AppState>,
) -> Result<axum::Json<ExecutorList>, ApiError> {
    let since = jobs::now().timestamp_millis() - FRESH_MS;
    let entries = state
        .on_redis(|mut conn, keys| async move { registry::live(&mut conn, &keys, since).await })
        .await?;
    Ok(axum::Json(ExecutorList {
        items: entries.into_iter().map(executor).collect(),
        next_cursor: None,
    }))
}

/// The reply for one registry entry. Details are read leniently: a field
/// an executor of another version does not write is null.
fn executor(entry: ExecutorEntry) -> Executor {
    let details = entry.details;
    let text = |name: &str| details.get(name).filter(|v| !v.is_empty()).cloned();
    let number = |name: &str| details.get(name).and_then(|v| v.parse::<u32>().ok());
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).map(instant);
    Executor {
        host: text("host"),
        node_id: text("node_id"),
        pid: number("pid"),
        queues: details
            .get("queues")
            .map(|q| {
                q.split(',')
                    .filter(|q| !q.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        running: number("running"),
        concurrency: number("concurrency"),
        version: text("version"),
        started_at: details
            .get("started_at")
            .and_then(|v| v.parse().ok())
            .and_then(at),
        last_heartbeat: at(entry.last_heartbeat_ms).unwrap_or_default(),
        id: entry.id,
    }
}
