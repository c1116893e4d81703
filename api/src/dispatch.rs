//! Runs the API starts itself (manual triggers and backfills): each is
//! recorded `queued` in Postgres, so `GET /runs/{id}` answers at once, and
//! then written straight to its queue stream. No leader takes part, so these
//! runs work while no scheduler is up, and they are never deduplicated
//! against scheduled runs (their ids are fresh UUIDv7s, not tick ids).
//!
//! Postgres first: if it is down nothing is queued and the client gets a
//! 503. If Redis then refuses the events, the runs are recorded `failed`
//! ("not queued") so history never keeps a `queued` run that nobody will
//! run, and the client gets a 503.

use chime_core::job::Target;
use chime_core::wire::{Event, RunResult, WIRE_VERSION};
use chime_core::{RunId, RunState, Trigger};
use chime_store::StoredJob;
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::state::AppState;

/// The event of a new run of `job`, first attempt, due at `scheduled_at`
/// and written at `now`. Its starting deadline counts from `now`: a
/// backfilled tick from last week is late by design, not missed.
pub(crate) fn event(
    job: &StoredJob,
    target: Target,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Event {
    let now_ms = now.timestamp_millis();
    Event {
        v: WIRE_VERSION,
        run_id: RunId::generate().0,
        job_id: job.id,
        job_name: job.spec.name.clone(),
        job_version: job.version,
        trigger,
        scheduled_at: scheduled_at.timestamp_millis(),
        emitted_at: now_ms,
        attempt: 1,
        deadline: job.spec.starting_deadline_s.map(|s| {
            now_ms.saturating_add(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))
        }),
        timeout_s: job.spec.timeout_s,
        target,
        retry: job.spec.retry,
        queue: job.spec.queue.clone(),
        epoch: 0,
    }
}

/// Records `events` as `queued` runs, then writes them to their queues in
/// one pipelined round trip.
pub(crate) async fn dispatch(state: &AppState, events: &[Event]) -> Result<(), ApiError> {
    if events.is_empty() {
        return Ok(());
    }
    let queued: Vec<RunResult> = events
        .iter()
        .map(|event| result(event, RunState::Queued))
        .collect();
    chime_store::runs::record(&state.pool, &queued).await?;
    let written = state
        .on_redis(|mut conn, keys| async move {
            chime_queue::enqueue::enqueue(&mut conn, &keys, events).await
        })
        .await;
    if let Err(err) = written {
        let failed: Vec<RunResult> = events
            .iter()
            .map(|event| RunResult {
                finished_at: Some(Utc::now().timestamp_millis()),
                error: Some(
                    "not queued: Redis did not take the event; trigger it again".to_owned(),
                ),
                ..result(event, RunState::Failed)
            })
            .collect();
        if let Err(store) = chime_store::runs::record(&state.pool, &failed).await {
            tracing::warn!(error = %store, n_runs = events.len(), "runs that were not queued stay recorded as queued");
        }
        return Err(err);
    }
    for event in events {
        tracing::debug!(run_id = %event.run_id, job_id = %event.job_id, trigger = %event.trigger, queue = %event.queue, "run queued by the api");
    }
    Ok(())
}

fn result(event: &Event, state: RunState) -> RunResult {
    RunResult::about(event, state)
}
