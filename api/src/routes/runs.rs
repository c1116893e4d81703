//! Run history: `GET /runs` (filtered, newest first, a page at a time),
//! `GET /runs/{id}` (one run with its output and attempts),
//! `GET /jobs/{id}/runs` (one job's runs, deleted jobs included) and
//! `POST /runs/{id}/cancel`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chime_core::ids::validate_job_name;
use chime_core::wire::{Control, ControlOp, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chime_store::jobs;
use chime_store::runs::{self, RunCursor, RunFilter};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Access, Reads, Writes};
use crate::error::{ApiError, ErrorReply};
use crate::extract::{JobKey, OptionalJson, RunKey};
use crate::model::{CancelReply, CancelRequest, Run, RunList, RunListItem};
use crate::state::AppState;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u32 = 50;
/// The largest page; more is a 400, not a silent clamp.
const MAX_LIMIT: u32 = 500;
/// How long a cancel request is remembered in `{p}:cancel:{run_id}`.
const CANCEL_MEMORY_MS: u64 = 24 * 3600 * 1000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", get(list))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/runs", get(list_for_job))
}

/// Query parameters of the run lists.
#[derive(Debug, Default)]
struct ListParams {
    /// `job`, as given (only on `GET /runs`).
    job: Option<String>,
    filter: RunFilter,
    limit: Option<u32>,
    cursor: Option<RunCursor>,
}

impl ListParams {
    /// Parses the raw query string, naming the parameter at fault; unknown
    /// parameters are refused. `with_job` says whether `job` is known.
    fn parse(query: Option<&str>, with_job: bool) -> Result<Self, ApiError> {
        let mut params = ListParams::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let bad = |message: String| ApiError::invalid("invalid_value", key.as_ref(), message);
            match key.as_ref() {
                "job" if with_job => {
                    if Uuid::parse_str(&value).is_err() {
                        validate_job_name(&value).map_err(|e| {
                            bad(format!("'{value}' is neither a job id nor a job name: {e}"))
                        })?;
                    }
                    params.job = Some(value.into_owned());
                }
                "state" => {
                    let state = value.parse::<RunState>().map_err(bad)?;
                    if !params.filter.states.contains(&state) {
                        params.filter.states.push(state);
                    }
                }
                "trigger" => {
                    let trigger = value.parse::<Trigger>().map_err(bad)?;
                    params.filter.trigger = Some(trigger.as_str().to_owned());
                }
                "since" => params.filter.since = Some(parse_instant(&value).map_err(bad)?),
                "until" => params.filter.until = Some(parse_instant(&value).map_err(bad)?),
                "limit" => {
                    let limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(format!("'{value}' is out of range 1-{MAX_LIMIT}")))?;
                    params.limit = Some(limit);
                }
                "cursor" => params.cursor = Some(decode_cursor(&value)?),
                other => {
                    let known = if with_job {
                        "job, state, trigger, since, until, limit, cursor"
                    } else {
                        "state, trigger, since, until, limit, cursor"
                    };
                    return Err(ApiError::invalid(
                        "unknown_parameter",
                        other,
                        format!("unknown query parameter; known: {known}"),
                    ));
                }
            }
        }
        Ok(params)
    }
}

/// Lists runs, newest tick first, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(
        ("job" = Option<String>, Query, description = "Only this job's runs: its UUID or name (a deleted job's name finds its history while no live job has the name)"),
        ("state" = Option<Vec<RunState>>, Query, style = Form, explode, description = "Only runs in one of these states; repeatable"),
        ("trigger" = Option<Trigger>, Query, description = "Only runs with this trigger"),
        ("since" = Option<String>, Query, format = DateTime, description = "Only runs whose tick is at or after this RFC 3339 instant (inclusive)"),
        ("until" = Option<String>, Query, format = DateTime, description = "Only runs whose tick is before this RFC 3339 instant (exclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, 1-500 (50 when absent)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of runs, without their output", body = RunList),
        (status = 400, description = "A query parameter is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    _access: Access<Reads>,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<RunList>, ApiError> {
    let mut params = ListParams::parse(query.as_deref(), true)?;
    if let Some(job) = params.job.take() {
        let job_id = match Uuid::parse_str(&job) {
            Ok(id) => Some(id),
            Err(_) => jobs::history_id_by_name(&state.pool, &job).await?,
        };
        match job_id {
            Some(id) => params.filter.job_id = Some(id),
            // No job ever had that name: no run can match.
            None => {
                return Ok(axum::Json(RunList {
                    items: Vec::new(),
                    next_cursor: None,
                }));
            }
        }
    }
    page(&state, params).await.map(axum::Json)
}

/// Lists one job's runs, newest tick first; a deleted job's too.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/runs",
    tag = "runs",
    params(
        ("id" = String, Path, description = "The job's UUID or name (a deleted job's name finds its history while no live job has the name)"),
        ("state" = Option<Vec<RunState>>, Query, style = Form, explode, description = "Only runs in one of these states; repeatable"),
        ("trigger" = Option<Trigger>, Query, description = "Only runs with this trigger"),
        ("since" = Option<String>, Query, format = DateTime, description = "Only runs whose tick is at or after this RFC 3339 instant (inclusive)"),
        ("until" = Option<String>, Query, format = DateTime, description = "Only runs whose tick is before this RFC 3339 instant (exclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, 1-500 (50 when absent)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the job's runs, without their output", body = RunList),
        (status = 400, description = "A query parameter is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 404, description = "No job, live or deleted, has that id or name", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_for_job(
    _access: Access<Reads>,
    State(state): State<AppState>,
    key: JobKey,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<RunList>, ApiError> {
    let mut params = ListParams::parse(query.as_deref(), false)?;
    let job_id = match &key {
        JobKey::Id(id) => jobs::ever_existed(&state.pool, *id).await?.then_some(*id),
        JobKey::Name(name) => jobs::history_id_by_name(&state.pool, name).await?,
    };
    let job_id = job_id.ok_or_else(|| match &key {
        JobKey::Id(id) => ApiError::not_found(format!("no job has ever had id {id}")),
        JobKey::Name(name) => ApiError::not_found(format!("no job has ever been named '{name}'")),
    })?;
    params.filter.job_id = Some(job_id);
    page(&state, params).await.map(axum::Json)
}

/// Reads one run with its output and every attempt.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 400, description = "The id is not a UUID", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 404, description = "No such run (or not recorded yet, or pruned)", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_run(
    _access: Access<Reads>,
    State(state): State<AppState>,
    RunKey(id): RunKey,
) -> Result<axum::Json<Run>, ApiError> {
    read(&state, id).await.map(axum::Json)
}

/// Asks the executor running a run to stop it; the run then ends
/// `cancelled`.
///
/// The request goes to every executor over pub/sub, which is fire and
/// forget: only a run that is running when the request is sent can be
/// stopped. A run still queued (or waiting for a retry) is not stopped when
/// it starts later; the request is also kept for a day in
/// `{prefix}:cancel:{run_id}` for executors to honour, which they do not yet
/// do. `executors_notified` says how many executors heard it.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id")),
    request_body(content = Option<CancelRequest>, description = "Optional: an empty object"),
    responses(
        (status = 202, description = "Cancel requested", body = CancelReply),
        (status = 400, description = "The id is not a UUID, or the body is not an empty object", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No such run", body = ErrorReply),
        (status = 409, description = "The run has already ended", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres or Redis is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel(
    _access: Access<Writes>,
    State(state): State<AppState>,
    RunKey(id): RunKey,
    OptionalJson(_body): OptionalJson<CancelRequest>,
) -> Result<(StatusCode, axum::Json<CancelReply>), ApiError> {
    let run = read(&state, id).await?;
    let current = run.summary.state;
    if ended(current) {
        return Err(ApiError::conflict(
            "state",
            format!("the run has already ended: it is {current}"),
        ));
    }
    let control = Control {
        v: WIRE_VERSION,
        op: ControlOp::Cancel,
        run_id: id,
        reason: "requested".to_owned(),
    };
    let executors_notified = state
        .on_redis(|mut conn, keys| async move {
            chime_queue::control::request_cancel(&mut conn, &keys, &control, CANCEL_MEMORY_MS).await
        })
        .await?;
    tracing::info!(run_id = %id, state = %current, executors_notified, "cancel requested");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(CancelReply {
            id,
            state: current,
            executors_notified,
        }),
    ))
}

/// A run state after which nothing more happens to the run. `retrying` is
/// terminal for its attempt, not for the run: another attempt follows.
fn ended(state: RunState) -> bool {
    state.is_terminal() && state != RunState::Retrying
}

/// One run in full, or a 404.
pub(crate) async fn read(state: &AppState, id: Uuid) -> Result<Run, ApiError> {
    let (row, attempts) = runs::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run has id {id}")))?;
    Run::new(row, attempts)
}

async fn page(state: &AppState, params: ListParams) -> Result<RunList, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    // One row more than the page tells whether another page follows.
    let mut rows = runs::list(
        &state.pool,
        &params.filter,
        params.cursor,
        i64::from(limit) + 1,
    )
    .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| {
            encode_cursor(RunCursor {
                scheduled_at: row.scheduled_at,
                id: row.id,
            })
        })
    } else {
        None
    };
    Ok(RunList {
        items: rows
            .iter()
            .map(RunListItem::new)
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| format!("'{text}' is not an RFC 3339 instant ({e})"))
}

/// `{scheduled_at in µs}.{id}`, base64url: opaque to clients.
fn encode_cursor(cursor: RunCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        cursor.scheduled_at.timestamp_micros(),
        cursor.id.simple()
    ))
}

fn decode_cursor(text: &str) -> Result<RunCursor, ApiError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|plain| {
            let (micros, id) = plain.split_once('.')?;
            Some(RunCursor {
                scheduled_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
                id: Uuid::parse_str(id).ok()?,
            })
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_value",
                "cursor",
                "not a cursor this API gave out; start again without one",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = RunCursor {
            scheduled_at: DateTime::from_timestamp_micros(1_800_000_000_123_456).expect("valid"),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)).ok(), Some(cursor));
        for bad in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12.nope"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retrying_runs_have_not_ended() {
        assert!(!ended(RunState::Retrying));
        assert!(!ended(RunState::Queued));
        assert!(ended(RunState::Succeeded));
        assert!(ended(RunState::Dead));
    }
}
