//! `/api/v1/jobs`: create, list, read, replace, patch, delete, upsert by
//! name, pause and resume job definitions. Every reply that carries a job
//! carries its version as the `ETag`; PUT, PATCH, DELETE, pause and resume
//! honour `If-Match`. Each committed change is announced on the changes
//! stream after the commit.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chime_core::JobSpec;
use chime_core::wire::ChangeOp;
use chime_store::jobs::{self, ListFilter, Upserted};
use chime_store::{StoreError, StoredJob};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Access, Reads, Writes};
use crate::error::{ApiError, ErrorReply};
use crate::extract::{IfMatch, JobKey, Json, OptionalJson, parse_json};
use crate::merge_patch;
use crate::model::{Job, JobList, JobListItem, PauseRequest};
use crate::state::AppState;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u32 = 50;
/// The largest page; more is a 400, not a silent clamp.
const MAX_LIMIT: u32 = 500;
/// The longest pause reason.
const MAX_REASON_CHARS: usize = 1024;
/// Read-modify-write attempts of a PATCH without `If-Match` before giving up
/// on a job that keeps changing under it.
const PATCH_ATTEMPTS: usize = 3;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", post(create).get(list))
        .route(
            "/jobs/{id}",
            get(get_job).put(replace).patch(patch).delete(delete),
        )
        .route("/jobs/by-name/{name}", put(upsert))
        .route("/jobs/{id}/pause", post(pause))
        .route("/jobs/{id}/resume", post(resume))
}

/// Creates a job.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    request_body(content = JobSpec, example = json!({
        "name": "nightly-report",
        "schedule": "0 30 2 * * *",
        "timezone": "Europe/Berlin",
        "target": {"type": "shell", "command": ["/usr/bin/env", "report", "--yesterday"]},
        "labels": {"team": "billing"}
    })),
    responses(
        (status = 201, description = "Created", body = Job, headers(
            ("ETag" = String, description = "The version, quoted"),
            ("Location" = String, description = "The job's URL"),
        )),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 409, description = "A live job has that name", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    _access: Access<Writes>,
    State(state): State<AppState>,
    Json(spec): Json<JobSpec>,
) -> Result<Response, ApiError> {
    let now = now();
    validate(&spec, now)?;
    let job = jobs::insert(&state.pool, Uuid::now_v7(), &spec, now)
        .await
        .map_err(|e| name_conflict(e, &spec.name))?;
    state
        .notifier
        .publish(job.id, job.version, ChangeOp::Created)
        .await;
    let location = format!("/api/v1/jobs/{}", job.id);
    let mut response = job_reply(&state, StatusCode::CREATED, job, now);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

/// Query parameters of `GET /jobs` (documented on [`list`]).
#[derive(Debug, Default)]
struct ListParams {
    label: Vec<String>,
    queue: Option<String>,
    paused: Option<bool>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl ListParams {
    /// Parses the raw query string, naming the parameter at fault. Unknown
    /// parameters are refused so a typo does not silently list everything.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut params = ListParams::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let bad = |message: String| ApiError::invalid("invalid_value", key.as_ref(), message);
            match key.as_ref() {
                "label" => match value.split_once(':') {
                    Some((k, _)) if !k.is_empty() => params.label.push(value.into_owned()),
                    _ => return Err(bad(format!("'{value}' is not key:value"))),
                },
                "queue" => params.queue = Some(value.into_owned()),
                "paused" => {
                    params.paused = Some(match value.as_ref() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("'{value}' is not true or false"))),
                    })
                }
                "q" => params.q = Some(value.into_owned()),
                "limit" => {
                    let limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(format!("'{value}' is out of range 1-{MAX_LIMIT}")))?;
                    params.limit = Some(limit);
                }
                "cursor" => params.cursor = Some(value.into_owned()),
                other => {
                    return Err(ApiError::invalid(
                        "unknown_parameter",
                        other,
                        "unknown query parameter; known: label, queue, paused, q, limit, cursor",
                    ));
                }
            }
        }
        Ok(params)
    }
}

/// Lists jobs in name order, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(
        ("label" = Option<Vec<String>>, Query, style = Form, explode, description = "`key:value`; repeatable, and every one must match"),
        ("queue" = Option<String>, Query, description = "Only jobs on this queue"),
        ("paused" = Option<bool>, Query, description = "Only paused (`true`) or only active (`false`) jobs"),
        ("q" = Option<String>, Query, description = "Only jobs whose name starts with this"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, 1-500 (50 when absent)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
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
) -> Result<axum::Json<JobList>, ApiError> {
    let params = ListParams::parse(query.as_deref())?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    let filter = ListFilter {
        queue: params.queue,
        paused: params.paused,
        name_prefix: params.q,
        labels: params
            .label
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    // One row more than the page tells whether another page follows.
    let mut rows = jobs::list(&state.pool, &filter, after.as_deref(), i64::from(limit) + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| encode_cursor(&row.job.spec.name))
    } else {
        None
    };
    let now = now();
    Ok(axum::Json(JobList {
        items: rows
            .into_iter()
            .map(|row| JobListItem::new(row, now, &state.schedules))
            .collect(),
        next_cursor,
    }))
}

/// Reads one job by id or name.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's UUID or name")),
    responses(
        (status = 200, description = "The job", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_job(
    _access: Access<Reads>,
    State(state): State<AppState>,
    key: JobKey,
) -> Result<Response, ApiError> {
    let job = resolve(&state, &key).await?;
    Ok(job_reply(&state, StatusCode::OK, job, now()))
}

/// Replaces a job's definition: a new version.
#[utoipa::path(
    put,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's UUID or name"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Only if the job is at this version: its ETag, such as \"3\", or *"),
    ),
    request_body = JobSpec,
    responses(
        (status = 200, description = "The new version", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 409, description = "Another live job has the new name", body = ErrorReply),
        (status = 412, description = "If-Match does not match", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replace(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    IfMatch(expected): IfMatch,
    Json(spec): Json<JobSpec>,
) -> Result<Response, ApiError> {
    let now = now();
    let current = resolve(&state, &key).await?;
    validate(&spec, current.created_at)?;
    let job = jobs::update(&state.pool, current.id, expected, &spec, now)
        .await
        .map_err(|e| name_conflict(e, &spec.name))?
        .ok_or_else(|| gone(&key))?;
    state
        .notifier
        .publish(job.id, job.version, ChangeOp::Updated)
        .await;
    Ok(job_reply(&state, StatusCode::OK, job, now))
}

/// Changes some fields of a job (JSON merge patch, RFC 7396).
#[utoipa::path(
    patch,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's UUID or name"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Only if the job is at this version: its ETag, such as \"3\", or *"),
    ),
    request_body(
        content = Object,
        description = "A JSON merge patch of the definition: members to set, null to reset a member to its default",
        content_type = "application/merge-patch+json"
    ),
    responses(
        (status = 200, description = "The job after the patch; unchanged (same version) when the patch changes nothing", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 409, description = "Another live job has the new name, or the job kept changing", body = ErrorReply),
        (status = 412, description = "If-Match does not match", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn patch(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    for _ in 0..PATCH_ATTEMPTS {
        let now = now();
        let current = resolve(&state, &key).await?;
        if let Some(expected) = expected {
            if expected != current.version {
                return Err(ApiError::precondition_failed(expected, current.version));
            }
        }
        let mut document = serde_json::to_value(&current.spec).map_err(ApiError::internal)?;
        merge_patch::apply(&mut document, &patch);
        let bytes = serde_json::to_vec(&document).map_err(ApiError::internal)?;
        let spec: JobSpec = parse_json(&bytes)?;
        validate(&spec, current.created_at)?;
        if spec == current.spec {
            return Ok(job_reply(&state, StatusCode::OK, current, now));
        }
        match jobs::update(&state.pool, current.id, Some(current.version), &spec, now).await {
            Ok(Some(job)) => {
                state
                    .notifier
                    .publish(job.id, job.version, ChangeOp::Updated)
                    .await;
                return Ok(job_reply(&state, StatusCode::OK, job, now));
            }
            Ok(None) => return Err(gone(&key)),
            // Changed between our read and write: with If-Match that is the
            // client's 412; without, read again and reapply the patch.
            Err(StoreError::VersionMismatch { expected: _, found }) => {
                if let Some(expected) = expected {
                    return Err(ApiError::precondition_failed(expected, found));
                }
            }
            Err(err) => return Err(name_conflict(err, &spec.name)),
        }
    }
    Err(ApiError::conflict(
        "version",
        "the job kept changing while the patch was applied; retry",
    ))
}

/// Deletes a job: no further ticks; its history stays.
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's UUID or name"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Only if the job is at this version: its ETag, such as \"3\", or *"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "If-Match is malformed", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 412, description = "If-Match does not match", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    let current = resolve(&state, &key).await?;
    let job = jobs::delete(&state.pool, current.id, expected, now())
        .await?
        .ok_or_else(|| gone(&key))?;
    state
        .notifier
        .publish(job.id, job.version, ChangeOp::Deleted)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or replaces the job with this name, idempotently: the same
/// document twice makes one version. For definitions kept in git.
#[utoipa::path(
    put,
    path = "/api/v1/jobs/by-name/{name}",
    tag = "jobs",
    params(("name" = String, Path, description = "The job's name; must equal `name` in the body")),
    request_body(content = JobSpec, example = json!({
        "name": "nightly-report",
        "schedule": "@daily",
        "target": {"type": "http", "method": "POST", "url": "https://example.com/hook"}
    })),
    responses(
        (status = 200, description = "Updated, or unchanged (same version) when equal", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 201, description = "Created", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 409, description = "A concurrent upsert of the same name won", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn upsert(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    Json(spec): Json<JobSpec>,
) -> Result<Response, ApiError> {
    let path_name = match &key {
        JobKey::Name(name) => name.as_str(),
        JobKey::Id(id) => {
            return Err(ApiError::invalid(
                "invalid_value",
                "name",
                format!("'{id}' is a UUID; names never are"),
            ));
        }
    };
    if spec.name != path_name {
        return Err(ApiError::invalid(
            "invalid_value",
            "name",
            format!(
                "the body names '{}' but the path names '{path_name}'",
                spec.name
            ),
        ));
    }
    let now = now();
    validate(&spec, now)?;
    // Two racing creations of one name: the loser's insert conflicts, and
    // the second attempt finds the winner's row and compares with it.
    let mut attempt = 0;
    let upserted = loop {
        attempt += 1;
        match jobs::upsert_by_name(&state.pool, Uuid::now_v7(), &spec, now).await {
            Err(StoreError::Conflict(_)) if attempt < 2 => continue,
            other => break other.map_err(|e| name_conflict(e, &spec.name))?,
        }
    };
    let (status, job, op) = match upserted {
        Upserted::Created(job) => (StatusCode::CREATED, job, Some(ChangeOp::Created)),
        Upserted::Updated(job) => (StatusCode::OK, job, Some(ChangeOp::Updated)),
        Upserted::Unchanged(job) => (StatusCode::OK, job, None),
    };
    if let Some(op) = op {
        state.notifier.publish(job.id, job.version, op).await;
    }
    Ok(job_reply(&state, status, job, now))
}

/// Pauses a job: it emits nothing until resumed. A new version.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/pause",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's UUID or name"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Only if the job is at this version: its ETag, such as \"3\", or *"),
    ),
    request_body(content = Option<PauseRequest>, description = "Optional: why"),
    responses(
        (status = 200, description = "Paused", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 412, description = "If-Match does not match", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn pause(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    IfMatch(expected): IfMatch,
    OptionalJson(body): OptionalJson<PauseRequest>,
) -> Result<Response, ApiError> {
    let reason = body.and_then(|b| b.reason);
    if let Some(reason) = &reason {
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(ApiError::invalid(
                "invalid_value",
                "reason",
                format!("must be at most {MAX_REASON_CHARS} characters"),
            ));
        }
    }
    set_paused(&state, &key, expected, true, reason.as_deref()).await
}

/// Resumes a paused job. A new version.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/resume",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's UUID or name"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Only if the job is at this version: its ETag, such as \"3\", or *"),
    ),
    responses(
        (status = 200, description = "Resumed", body = Job, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 400, description = "If-Match is malformed", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 412, description = "If-Match does not match", body = ErrorReply),
        (status = 503, description = "Postgres is unreachable", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resume(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    IfMatch(expected): IfMatch,
) -> Result<Response, ApiError> {
    set_paused(&state, &key, expected, false, None).await
}

async fn set_paused(
    state: &AppState,
    key: &JobKey,
    expected: Option<i64>,
    paused: bool,
    reason: Option<&str>,
) -> Result<Response, ApiError> {
    let now = now();
    let current = resolve(state, key).await?;
    let job = jobs::set_paused(&state.pool, current.id, expected, paused, reason, now)
        .await?
        .ok_or_else(|| gone(key))?;
    let op = if paused {
        ChangeOp::Paused
    } else {
        ChangeOp::Resumed
    };
    state.notifier.publish(job.id, job.version, op).await;
    Ok(job_reply(state, StatusCode::OK, job, now))
}

/// The live job `key` names, or a 404.
async fn resolve(state: &AppState, key: &JobKey) -> Result<StoredJob, ApiError> {
    let job = match key {
        JobKey::Id(id) => jobs::get(&state.pool, *id).await?,
        JobKey::Name(name) => jobs::get_by_name(&state.pool, name).await?,
    };
    job.ok_or_else(|| gone(key))
}

fn gone(key: &JobKey) -> ApiError {
    match key {
        JobKey::Id(id) => ApiError::not_found(format!("no live job has id {id}")),
        JobKey::Name(name) => ApiError::not_found(format!("no live job is named '{name}'")),
    }
}

fn validate(spec: &JobSpec, anchor: DateTime<Utc>) -> Result<(), ApiError> {
    spec.validate(anchor)
        .map(|_| ())
        .map_err(|e| ApiError::invalid("invalid_value", e.field, e.message))
}

fn name_conflict(err: StoreError, name: &str) -> ApiError {
    match err {
        StoreError::Conflict(_) => {
            ApiError::conflict("name", format!("a live job is already named '{name}'"))
        }
        other => other.into(),
    }
}

fn job_reply(state: &AppState, status: StatusCode, job: StoredJob, now: DateTime<Utc>) -> Response {
    let job = Job::new(job, now, &state.schedules);
    let etag = HeaderValue::from_str(&format!("\"{}\"", job.version()))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    (status, [(ETAG, etag)], axum::Json(job)).into_response()
}

/// Now, at millisecond precision: what Postgres stores and the API shows,
/// so a reply and a later read agree.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn encode_cursor(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(name.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_value",
                "cursor",
                "not a cursor this API gave out; start again without one",
            )
        })
}
