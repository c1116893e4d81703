//! The bodies of the runs endpoints: a run in full (`GET /runs/{id}`), a
//! run in a list, its attempts, and the requests and replies of trigger,
//! backfill and cancel.

use chime_core::{RunState, Trigger};
use chime_store::runs::{AttemptRow, RunRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::instant;
use crate::error::ApiError;

/// A run as lists show it: everything but its output and attempts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunListItem {
    /// The run: a UUIDv5 of its tick for scheduled runs, a UUIDv7 for
    /// manual and backfill runs.
    pub(crate) id: Uuid,
    /// Its job (which may since have been deleted).
    pub(crate) job_id: Uuid,
    /// The job's definition version it ran from.
    pub(crate) job_version: i64,
    /// What caused it: `schedule`, `manual`, `retry` or `backfill`.
    pub(crate) trigger: Trigger,
    /// Where it is in its life (its latest attempt's state).
    pub(crate) state: RunState,
    /// Its latest attempt, from 1.
    pub(crate) attempt: i32,
    /// Its tick; for a manual run, the instant it was asked for.
    #[schema(format = DateTime)]
    pub(crate) scheduled_at: String,
    /// When it was written to its queue.
    #[schema(format = DateTime)]
    pub(crate) emitted_at: Option<String>,
    /// When its latest attempt started.
    #[schema(format = DateTime)]
    pub(crate) started_at: Option<String>,
    /// When its latest attempt ended.
    #[schema(format = DateTime)]
    pub(crate) finished_at: Option<String>,
    /// `started_at - scheduled_at` in milliseconds: how late it started.
    /// For a retried run this counts from the tick to the latest attempt.
    pub(crate) lateness_ms: Option<i64>,
    /// `finished_at - started_at` in milliseconds.
    pub(crate) duration_ms: Option<i64>,
    /// The executor of its latest attempt.
    pub(crate) executor_id: Option<String>,
    /// A shell target's exit code.
    pub(crate) exit_code: Option<i32>,
    /// An HTTP target's response status.
    pub(crate) http_status: Option<i32>,
    /// Why it failed, was cancelled or missed, in words.
    pub(crate) error: Option<String>,
}

/// A run with its output and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Run {
    #[serde(flatten)]
    pub(crate) summary: RunListItem,
    /// The last 64 KiB of its latest attempt's stdout (or the first 64 KiB
    /// of an HTTP response body).
    pub(crate) stdout: Option<String>,
    /// The last 64 KiB of its latest attempt's stderr.
    pub(crate) stderr: Option<String>,
    /// Every attempt, oldest first.
    pub(crate) attempts: Vec<Attempt>,
}

/// One attempt of a run.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Attempt {
    /// Attempt number, from 1.
    pub(crate) attempt: i32,
    /// How it ended, or where it is.
    pub(crate) state: RunState,
    /// Who ran it.
    pub(crate) executor_id: Option<String>,
    /// When it was queued.
    #[schema(format = DateTime)]
    pub(crate) emitted_at: Option<String>,
    /// When it started.
    #[schema(format = DateTime)]
    pub(crate) started_at: Option<String>,
    /// When it ended.
    #[schema(format = DateTime)]
    pub(crate) finished_at: Option<String>,
    /// A shell target's exit code.
    pub(crate) exit_code: Option<i32>,
    /// An HTTP target's response status.
    pub(crate) http_status: Option<i32>,
    /// Why it failed, in words.
    pub(crate) error: Option<String>,
    /// Its stdout excerpt.
    pub(crate) stdout: Option<String>,
    /// Its stderr excerpt.
    pub(crate) stderr: Option<String>,
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunList {
    /// Newest tick first.
    pub(crate) items: Vec<RunListItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub(crate) next_cursor: Option<String>,
}

impl RunListItem {
    /// The reply for a stored row; a state or trigger this build does not
    /// know is a 500 (a newer writer or a hand edit).
    pub(crate) fn new(row: &RunRow) -> Result<Self, ApiError> {
        Ok(RunListItem {
            id: row.id,
            job_id: row.job_id,
            job_version: row.job_version,
            trigger: row.trigger.parse().map_err(ApiError::internal)?,
            state: row.state.parse().map_err(ApiError::internal)?,
            attempt: row.attempt,
            scheduled_at: instant(row.scheduled_at),
            emitted_at: row.emitted_at.map(instant),
            started_at: row.started_at.map(instant),
            finished_at: row.finished_at.map(instant),
            lateness_ms: between(Some(row.scheduled_at), row.started_at),
            duration_ms: between(row.started_at, row.finished_at),
            executor_id: row.executor_id.clone(),
            exit_code: row.exit_code,
            http_status: row.http_status,
            error: row.error.clone(),
        })
    }
}

impl Run {
    /// The reply for a stored run and its attempts.
    pub(crate) fn new(row: RunRow, attempts: Vec<AttemptRow>) -> Result<Self, ApiError> {
        let summary = RunListItem::new(&row)?;
        let attempts = attempts
            .into_iter()
            .map(|a| {
                Ok(Attempt {
                    attempt: a.attempt,
                    state: a.state.parse().map_err(ApiError::internal)?,
                    executor_id: a.executor_id,
                    emitted_at: a.emitted_at.map(instant),
                    started_at: a.started_at.map(instant),
                    finished_at: a.finished_at.map(instant),
                    exit_code: a.exit_code,
                    http_status: a.http_status,
                    error: a.error,
                    stdout: a.stdout,
                    stderr: a.stderr,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Run {
            summary,
            stdout: row.stdout,
            stderr: row.stderr,
            attempts,
        })
    }
}

fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_milliseconds())
}

/// The optional body of `POST /jobs/{id}/trigger`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerRequest {
    /// For a job with an `event` target: the payload of this run instead of
    /// the definition's (any JSON value, `null` included). Other target
    /// kinds take no payload.
    #[serde(default, deserialize_with = "present")]
    pub(crate) payload: Option<serde_json::Value>,
}

/// `Some` for a member that is there, even when it is `null`.
fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(de).map(Some)
}

/// The reply of `POST /jobs/{id}/trigger`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TriggerReply {
    /// The new run's id (also in `Location`).
    pub(crate) id: Uuid,
    /// The run as recorded: `queued` (or further along, if an executor was
    /// quick).
    pub(crate) run: Run,
}

/// The body of `POST /jobs/{id}/backfill`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackfillRequest {
    /// Start of the range, inclusive (RFC 3339).
    #[schema(format = DateTime)]
    pub(crate) from: String,
    /// End of the range, exclusive (RFC 3339).
    #[schema(format = DateTime)]
    pub(crate) to: String,
    /// List the ticks without queuing anything.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

/// The reply of `POST /jobs/{id}/backfill`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BackfillReply {
    /// Whether this was a dry run (nothing queued).
    pub(crate) dry_run: bool,
    /// How many ticks the range holds.
    pub(crate) count: usize,
    /// The ticks, oldest first.
    pub(crate) ticks: Vec<String>,
    /// The queued runs' ids, one per tick in the same order; empty for a
    /// dry run.
    pub(crate) runs: Vec<Uuid>,
}

/// The optional body of `POST /runs/{id}/cancel`: an empty object.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelRequest {}

/// The reply of `POST /runs/{id}/cancel`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CancelReply {
    /// The run.
    pub(crate) id: Uuid,
    /// Its state when the request was sent; it becomes `cancelled` when its
    /// executor has stopped it.
    pub(crate) state: RunState,
    /// How many executors were listening on the control channel. Zero means
    /// nobody heard the request: see the limitation on the operation.
    pub(crate) executors_notified: usize,
}
