//! `GET /api/v1/cluster`: the leader, the queues' depths, the results
//! backlog and the dead letters, read from Redis on each request.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chime_queue::{cluster, lease, results_reader};
use chrono::DateTime;

use crate::auth::{Access, Reads};
use crate::error::{ApiError, ErrorReply};
use crate::model::{Cluster, Leader, QueueStatus, instant};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/cluster", get(overview))
}

/// The cluster at a glance: the leader, each queue's length, pending
/// entries and the age of the oldest, the results not yet recorded and the
/// dead-letter count.
#[utoipa::path(
    get,
    path = "/api/v1/cluster",
    tag = "cluster",
    responses(
        (status = 200, description = "The cluster", body = Cluster),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 503, description = "Redis is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn overview(
    _access: Access<Reads>,
    State(state): State<AppState>,
) -> Result<axum::Json<Cluster>, ApiError> {
    let (leader, queues, results_backlog, dead_letters) = state
        .on_redis(|mut conn, keys| async move {
            let leader = lease::current(&mut conn, &keys).await?;
            let queues = cluster::queues(&mut conn, &keys).await?;
            let backlog = results_reader::backlog(&mut conn, &keys).await?;
            let dead = cluster::dead_letters(&mut conn, &keys).await?;
            Ok((leader, queues, backlog, dead))
        })
        .await?;
    Ok(axum::Json(Cluster {
        leader: leader.map(|info| Leader {
            node_id: info.node_id,
            epoch: info.epoch,
            since: info
                .since_ms
                .and_then(DateTime::from_timestamp_millis)
                .map(instant),
        }),
        queues: queues
            .into_iter()
            .map(|q| QueueStatus {
                name: q.name,
                length: q.length,
                pending: q.pending,
                oldest_pending_age_ms: q.oldest_pending_age_ms,
                lag: q.lag,
            })
            .collect(),
        results_backlog,
        dead_letters,
    }))
}
