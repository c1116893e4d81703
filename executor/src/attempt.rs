//! One delivery of one queue entry, from decoding to settlement: check the
//! delivery count and the starting deadline, report `running`, run the
//! target while the keeper holds the claim, then settle the entry with
//! exactly one terminal result (and a retry or a dead letter when due).

use std::sync::Arc;

use chime_core::wire::{Event, RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chime_queue::QueueError;
use chime_queue::consume::Delivery;
use chime_queue::report::{Lease, Settlement};
use tokio::sync::OwnedSemaphorePermit;

use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::inflight::StopReason;
use crate::service::Shared;
use crate::target::{self, Ending, Outcome};

/// Handles one delivery; the permit is held until the entry is settled or
/// left for another executor.
#[tracing::instrument(skip_all, fields(queue = %delivery.queue, entry_id = %delivery.entry_id, run_id = tracing::field::Empty))]
pub(crate) async fn handle(shared: Arc<Shared>, delivery: Delivery, _permit: OwnedSemaphorePermit) {
    let event = match decode(&delivery) {
        Ok(event) => event,
        Err(reason) => return undecodable(&shared, &delivery, &reason).await,
    };
    let span = tracing::Span::current();
    span.record("run_id", tracing::field::display(event.run_id));
    let lease = Lease {
        job_id: event.job_id.to_string(),
        run_id: event.run_id.to_string(),
    };

    if delivery.deliveries > shared.config.max_deliveries {
        let reason = format!(
            "delivered {} times; max_deliveries is {}",
            delivery.deliveries, shared.config.max_deliveries
        );
        tracing::warn!(run_id = %event.run_id, reason, "dead-lettering the event");
        let mut result = result(&shared, &event, RunState::Dead, None);
        result.error = Some(reason.clone());
        let raw = delivery.payload.as_deref().unwrap_or_default();
        let settlement = Settlement {
            result: Some(&result),
            lease: Some(&lease),
            dead: Some((raw, &reason)),
            ..Settlement::default()
        };
        settle(&shared, &delivery, &settlement).await;
        return;
    }

    let claimed_at = now_ms();
    if let Some(deadline) = event.deadline.filter(|d| claimed_at > *d) {
        tracing::debug!(run_id = %event.run_id, deadline, "past its starting deadline");
        let mut result = result(&shared, &event, RunState::Missed, None);
        result.error = Some(format!(
            "not started by its deadline: claimed {} ms late",
            claimed_at - deadline
        ));
        let settlement = Settlement {
            result: Some(&result),
            ..Settlement::default()
        };
        settle(&shared, &delivery, &settlement).await;
        return;
    }

    let run = shared.inflight.insert(
        &delivery.queue,
        &delivery.entry_id,
        lease.clone(),
        event.run_id,
        &shared.abandon,
    );
    let started_at = now_ms();
    let running = result(&shared, &event, RunState::Running, Some(started_at));
    let expiry = started_at + shared.config.visibility_timeout_ms as i64;
    let reported = retry_redis(&shared, "report running", || {
        let mut conn = shared.redis.clone();
        let (running, lease, keys) = (&running, &lease, &shared.keys);
        async move { chime_queue::report::started(&mut conn, keys, running, lease, expiry).await }
    })
    .await;
    let outcome = if let Some(cancel_requested) = reported {
        if cancel_requested && shared.inflight.cancel(event.run_id, "requested") {
            // Cancelled while it waited in the queue: never start it.
            tracing::info!(run_id = %event.run_id, "cancel was asked before the run started");
            Outcome::new(Ending::Stopped)
        } else {
            tracing::debug!(attempt = event.attempt, "run started");
            target::execute(&shared, &event, &run.stop).await
        }
    } else {
        Outcome::new(Ending::Stopped)
    };
    let finished_at = now_ms();

    if outcome.ending == Ending::Stopped {
        match run.reason() {
            Some(StopReason::Cancelled(reason)) => {
                let mut result = terminal(
                    &shared,
                    &event,
                    RunState::Cancelled,
                    started_at,
                    finished_at,
                    &outcome,
                );
                result.error = Some(format!("cancelled: {reason}"));
                let settlement = Settlement {
                    result: Some(&result),
                    lease: Some(&lease),
                    ..Settlement::default()
                };
                run.begin_settling();
                settle(&shared, &delivery, &settlement).await;
            }
            Some(StopReason::Lost) => {}
            None => {
                // Shutdown grace is over: leave the entry pending so another
                // executor reclaims it, and drop the lease of a run that is
                // no longer going.
                tracing::warn!(run_id = %event.run_id, "abandoned at shutdown; left for another executor");
                let mut conn = shared.redis.clone();
                let _ = chime_queue::report::release(&mut conn, &shared.keys, &lease).await;
            }
        }
        shared.inflight.remove(&run);
        return;
    }

    let state = match outcome.ending {
        Ending::Succeeded => RunState::Succeeded,
        Ending::TimedOut => RunState::TimedOut,
        _ => RunState::Failed,
    };
    let mut result = terminal(&shared, &event, state, started_at, finished_at, &outcome);
    let retry_policy = event.retry;
    let mut next = None;
    let mut dead_reason = None;
    if state != RunState::Succeeded {
        if event.attempt < retry_policy.max_attempts {
            let next_attempt = event.attempt + 1;
            let ceiling = retry_policy.backoff_ceiling_ms(next_attempt);
            let delay = rand::random_range(0..=ceiling) as i64;
            let due = finished_at + delay;
            result.state = RunState::Retrying;
            next = Some((retry_event(&event, next_attempt, due), due));
            tracing::debug!(run_id = %event.run_id, next_attempt, delay_ms = delay, "retry scheduled");
        } else if retry_policy.max_attempts > 1 {
            result.state = RunState::Dead;
            dead_reason = Some(format!(
                "attempts exhausted ({} of {}): {}",
                event.attempt,
                retry_policy.max_attempts,
                outcome.error.as_deref().unwrap_or(state.as_str())
            ));
        }
    }
    let raw = delivery.payload.as_deref().unwrap_or_default();
    let settlement = Settlement {
        result: Some(&result),
        lease: Some(&lease),
        retry: next.as_ref().map(|(event, due)| (event, *due)),
        dead: dead_reason.as_deref().map(|reason| (raw, reason)),
    };
    run.begin_settling();
    settle(&shared, &delivery, &settlement).await;
    tracing::debug!(state = %result.state, "run ended");
    shared.inflight.remove(&run);
}

fn decode(delivery: &Delivery) -> Result<Event, String> {
    let payload = delivery
        .payload
        .as_deref()
        .ok_or_else(|| "the entry has no 'event' field".to_owned())?;
    let event: Event =
        serde_json::from_str(payload).map_err(|e| format!("the event does not decode: {e}"))?;
    if event.v > WIRE_VERSION {
        return Err(format!(
            "wire version {} is newer than this executor's {WIRE_VERSION}",
            event.v
        ));
    }
    Ok(event)
}

/// An entry that does not decode stays pending (a newer executor may read
/// it) until it has been delivered more than `max_deliveries` times; then it
/// goes to the dead stream as it is.
async fn undecodable(shared: &Shared, delivery: &Delivery, reason: &str) {
    if delivery.deliveries <= shared.config.max_deliveries {
        tracing::warn!(
            deliveries = delivery.deliveries,
            reason,
            "cannot decode entry; leaving it pending"
        );
        return;
    }
    let reason = format!("{reason} (delivered {} times)", delivery.deliveries);
    tracing::warn!(reason, "dead-lettering an entry that does not decode");
    let raw = delivery.payload.as_deref().unwrap_or_default();
    let settlement = Settlement {
        dead: Some((raw, &reason)),
        ..Settlement::default()
    };
    settle(shared, delivery, &settlement).await;
}

/// Settles the entry, retrying Redis errors until it works or the executor
/// abandons its runs (then the entry stays pending and is redelivered).
async fn settle(shared: &Shared, delivery: &Delivery, settlement: &Settlement<'_>) {
    let settled = retry_redis(shared, "settle entry", || {
        let mut conn = shared.redis.clone();
        async move {
            chime_queue::report::settle(
                &mut conn,
                &shared.keys,
                &delivery.queue,
                &shared.executor_id,
                &delivery.entry_id,
                settlement,
            )
            .await
        }
    })
    .await;
    if settled == Some(false) {
        tracing::warn!(
            "entry was reclaimed by another executor before it was settled; its result is theirs"
        );
    }
}

/// Runs `op` until it succeeds, backing off between failures; `None` if
/// the executor abandons its runs first.
async fn retry_redis<T, F, Fut>(shared: &Shared, what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError>>,
{
    let mut backoff = Backoff::new();
    loop {
        match op().await {
            Ok(value) => return Some(value),
            Err(err) => {
                tracing::warn!(error = %err, "{what} failed; retrying");
                if !backoff.wait(&shared.abandon).await {
                    return None;
                }
            }
        }
    }
}

/// A result about `event`'s current attempt.
fn result(shared: &Shared, event: &Event, state: RunState, started_at: Option<i64>) -> RunResult {
    RunResult {
        started_at,
        finished_at: state.is_terminal().then(now_ms),
        executor_id: Some(shared.executor_id.clone()),
        ..RunResult::about(event, state)
    }
}

fn terminal(
    shared: &Shared,
    event: &Event,
    state: RunState,
    started_at: i64,
    finished_at: i64,
    outcome: &Outcome,
) -> RunResult {
    RunResult {
        finished_at: Some(finished_at),
        exit_code: outcome.exit_code,
        http_status: outcome.http_status,
        error: outcome.error.clone(),
        stdout: outcome.stdout.clone(),
        stderr: outcome.stderr.clone(),
        ..result(shared, event, state, Some(started_at))
    }
}

/// The next attempt of `event`, due at `due` (ms). It keeps the run id; it
/// has no starting deadline, because the run did start in time.
fn retry_event(event: &Event, attempt: u32, due: i64) -> Event {
    Event {
        attempt,
        trigger: Trigger::Retry,
        emitted_at: due,
        deadline: None,
        ..event.clone()
    }
}
