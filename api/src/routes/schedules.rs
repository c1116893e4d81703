//! `POST /api/v1/schedules/preview`: when would this schedule fire? The
//! same engine as the scheduler, so a preview is what will happen.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use chime_core::Schedule;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::auth::{Access, Reads};
use crate::error::{ApiError, ErrorReply};
use crate::extract::Json;
use crate::model::{Fire, PreviewReply, PreviewRequest, instant};
use crate::state::AppState;

/// The most fires one preview returns.
const MAX_COUNT: u32 = 100;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/schedules/preview", post(preview))
}

/// Next fires of a schedule, or a 400 naming the field at fault.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/preview",
    tag = "schedules",
    request_body(content = PreviewRequest, example = json!({
        "schedule": "0 30 2 * * *",
        "timezone": "Europe/Berlin",
        "count": 3,
        "after": "2027-03-27T00:00:00Z"
    })),
    responses(
        (status = 200, description = "The next fires", body = PreviewReply),
        (status = 400, description = "A field is invalid", body = ErrorReply),
        (status = 401, description = "No valid token", body = ErrorReply),
        (status = 413, description = "Body over 1 MiB", body = ErrorReply),
        (status = 415, description = "Body is not JSON", body = ErrorReply),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn preview(
    _access: Access<Reads>,
    State(_state): State<AppState>,
    Json(request): Json<PreviewRequest>,
) -> Result<axum::Json<PreviewReply>, ApiError> {
    if !(1..=MAX_COUNT).contains(&request.count) {
        return Err(ApiError::invalid(
            "invalid_value",
            "count",
            format!("{} is out of range 1-{MAX_COUNT}", request.count),
        ));
    }
    let after = match &request.after {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                ApiError::invalid(
                    "invalid_value",
                    "after",
                    format!("'{text}' is not an RFC 3339 instant ({e})"),
                )
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let schedule = Schedule::parse(&request.schedule, &request.timezone, after)
        .map_err(|e| ApiError::invalid("invalid_value", e.field(), e.to_string()))?;
    let tz = schedule.timezone();
    let fires = schedule
        .next_n(after, request.count as usize)
        .into_iter()
        .map(|at| Fire {
            at: instant(at),
            local: at
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Millis, false),
        })
        .collect();
    Ok(axum::Json(PreviewReply { fires }))
}
