//! `POST /api/v1/jobs/{id}/trigger`: run a job now, outside its schedule.

use axum::Router;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chime_core::Trigger;
use chime_core::job::Target;

use crate::auth::{Access, Writes};
use crate::dispatch;
use crate::error::{ApiError, ErrorReply};
use crate::extract::{JobKey, OptionalJson};
use crate::model::{TriggerReply, TriggerRequest};
use crate::routes::{jobs, runs};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/jobs/{id}/trigger", post(trigger))
}

/// Starts a manual run of a job now: recorded `queued` and written straight
/// to the job's queue, so it needs no scheduler. A paused job can still be
/// triggered. Manual runs ignore the overlap policy and are never
/// deduplicated; the starting deadline counts from now.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/trigger",
    tag = "runs",
    params(("id" = String, Path, description = "The job's UUID or name")),
    request_body(
        content = Option<TriggerRequest>,
        description = "Optional. `payload` replaces an event target's payload for this run",
        example = json!({"payload": {"report": "2027-01-01"}})
    ),
    responses(
        (status = 202, description = "Queued", body = TriggerReply, headers(
            ("Location" = String, description = "The run's URL"),
        )),
        (status = 400, description = "A field is invalid (a payload for a job whose target is not an event)", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 403, description = "The token's scope is too small", body = ErrorReply),
        (status = 404, description = "No live job", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
        (status = 503, description = "Postgres or Redis is unreachable; nothing was queued", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn trigger(
    _access: Access<Writes>,
    State(state): State<AppState>,
    key: JobKey,
    OptionalJson(body): OptionalJson<TriggerRequest>,
) -> Result<Response, ApiError> {
    let job = jobs::resolve(&state, &key).await?;
    let mut target = job.spec.target.clone();
    if let Some(payload) = body.and_then(|b| b.payload) {
        match &mut target {
            Target::Event(event) => event.payload = payload,
            other => {
                return Err(ApiError::invalid(
                    "invalid_value",
                    "payload",
                    format!(
                        "only a job with an event target takes a payload; this one's target is {}",
                        other.kind()
                    ),
                ));
            }
        }
    }
    let now = jobs::now();
    let event = dispatch::event(&job, target, Trigger::Manual, now, now);
    let run_id = event.run_id;
    dispatch::dispatch(&state, std::slice::from_ref(&event)).await?;
    let run = runs::read(&state, run_id).await?;
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(TriggerReply { id: run_id, run }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/runs/{run_id}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}
