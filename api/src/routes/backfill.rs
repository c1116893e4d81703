//! `POST /api/v1/jobs/{id}/backfill`: one run per schedule tick in a past
//! (or any) range, for ticks that never ran or must run again.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chime_core::Trigger;
use chrono::{DateTime, Duration, Utc};

use crate::auth::{Access, Writes};
use crate::dispatch;
use crate::error::{ApiError, ErrorReply};
use crate::extract::{JobKey, Json};
use crate::model::{BackfillReply, BackfillRequest, instant};
use crate::routes::jobs;
use crate::state::AppState;

/// The most ticks one backfill queues; a longer range is refused.
const MAX_TICKS: usize = 1_000;
/// How far a refused range is counted, to say how many ticks it holds.
const COUNT_LIMIT: usize = 10_000;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/jobs/{id}/backfill", post(backfill))
}

/// Queues one run per tick of the job's schedule in `[from, to)`, with
/// trigger `backfill`, or with `dry_run` lists the ticks and queues nothing.
/// Each run gets a fresh id (backfills are never deduplicated against
/// scheduled runs or earlier backfills), is recorded `queued` and written
/// straight to the job's queue in one step, so no scheduler is needed. A
/// paused job can be backfilled. Starting deadlines count from now. At most
/// 1,000 ticks per call.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/backfill",
    tag = "runs",
    params(("id" = String, Path, description = "The job's UUID or name")),
    request_body(content = BackfillRequest, example = json!({
        "from": "2027-01-01T00:00:00Z",
        "to": "2027-01-02T00:00:00Z",
        "dry_run": true
    })),
    responses(
        (status = 200, description = "Dry run: the ticks; nothing queued", body = BackfillReply),
        (status = 202, description = "Queued: the ticks and their runs", body = BackfillReply),
        (status = 400, description = "A field is invalid, or the range holds more than 1,000 ticks", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 409, description = "The job's stored schedule no longer parses", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres or Redis is unreachable; nothing was queued", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn backfill(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    Json(request): Json<BackfillRequest>,
) -> Result<(StatusCode, axum::Json<BackfillReply>), ApiError> {
    let from = parse_instant("from", &request.from)?;
    let to = parse_instant("to", &request.to)?;
    if to <= from {
        return Err(ApiError::invalid(
            "invalid_value",
            "to",
            format!("must be after from ({})", instant(from)),
        ));
    }
    let job = jobs::resolve(&state, &key).await?;
    let schedule = state
        .schedules
        .get(&job.spec, job.created_at)
        .ok_or_else(|| {
            ApiError::conflict(
                "schedule",
                "the job's stored schedule no longer parses; replace the job first",
            )
        })?;
    // Fires are whole seconds (milliseconds for `@every`); one nanosecond
    // before `from` makes `from` itself count.
    let mut fires = schedule
        .iter_after(from - Duration::nanoseconds(1))
        .take_while(|fire| *fire < to);
    let ticks: Vec<DateTime<Utc>> = fires.by_ref().take(MAX_TICKS).collect();
    if fires.next().is_some() {
        let more = fires.take(COUNT_LIMIT - MAX_TICKS - 1).count();
        let held = if ticks.len() + 1 + more >= COUNT_LIMIT {
            format!("more than {COUNT_LIMIT}")
        } else {
            (ticks.len() + 1 + more).to_string()
        };
        return Err(ApiError::invalid(
            "too_many_ticks",
            "to",
            format!("the range holds {held} ticks; at most {MAX_TICKS} per backfill, so split it"),
        ));
    }
    let mut reply = BackfillReply {
        dry_run: request.dry_run,
        count: ticks.len(),
        ticks: ticks.iter().copied().map(instant).collect(),
        runs: Vec::new(),
    };
    if request.dry_run {
        return Ok((StatusCode::OK, axum::Json(reply)));
    }
    let now = jobs::now();
    let events: Vec<_> = ticks
        .iter()
        .map(|tick| dispatch::event(&job, job.spec.target.clone(), Trigger::Backfill, *tick, now))
        .collect();
    dispatch::dispatch(&state, &events).await?;
    reply.runs = events.iter().map(|event| event.run_id).collect();
    tracing::info!(job_id = %job.id, n_runs = reply.runs.len(), "backfill queued");
    Ok((StatusCode::ACCEPTED, axum::Json(reply)))
}

fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::invalid(
                "invalid_value",
                field,
                format!("'{text}' is not an RFC 3339 instant ({e})"),
            )
        })
}
