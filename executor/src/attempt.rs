//! Claimed entries, from decoding to settlement. Entries that cannot run
//! (undecodable, delivered too often, past their starting deadline) are
//! settled or left at once. The rest of a claimed batch is stamped started
//! and reported `running` together in one round trip; then each run
//! executes its target while the keeper holds the claim, and is settled
//! with exactly one terminal result (and a retry or a dead letter when due).

use std::sync::Arc;

use chime_core::wire::{Event, RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chime_queue::consume::Delivery;
use chime_queue::report::{Lease, PreparedSettle, Settlement, Start};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::task::TaskTracker;

use crate::backoff::retry_redis;
use crate::clock::now_ms;
use crate::inflight::{RunHandle, StopReason};
use crate::service::Shared;
use crate::target::{self, Ending, Outcome};

/// A claimed entry with the concurrency permit it holds until it is
/// settled or left for another executor.
pub(crate) type Claimed = (Delivery, OwnedSemaphorePermit);

/// Why a claimed entry does not run.
enum Refusal {
    /// It does not decode (or comes from a newer wire version).
    Undecodable(String),
    /// It was delivered more than `max_deliveries` times.
    OverDelivered(Box<Event>),
    /// It was claimed this many ms after its starting deadline.
    PastDeadline(Box<Event>, i64),
}

/// A run about to start.
struct Starting {
    delivery: Delivery,
    event: Event,
    permit: OwnedSemaphorePermit,
    run: Arc<RunHandle>,
    running: RunResult,
}

/// Starts the entries of one claim: refused entries are handled on their
/// own, and the others are reported `running` in one round trip and then
/// run, each as its own task on `runs`.
pub(crate) async fn start(shared: Arc<Shared>, claimed: Vec<Claimed>, runs: TaskTracker) {
    let mut starting = Vec::with_capacity(claimed.len());
    for (delivery, permit) in claimed {
        let event = match screen(&shared, &delivery) {
            Ok(event) => event,
            Err(refusal) => {
                runs.spawn(refuse(shared.clone(), delivery, refusal, permit));
                continue;
            }
        };
        let run = shared.inflight.insert(
            &delivery.queue,
            &delivery.entry_id,
            Lease {
                job_id: event.job_id.to_string(),
                run_id: event.run_id.to_string(),
            },
            event.run_id,
            &shared.abandon,
        );
        // Stamped as the executor takes the run up, before any round trip.
        let running = result(&shared, &event, RunState::Running, Some(now_ms()));
        starting.push(Starting {
            delivery,
            event,
            permit,
            run,
            running,
        });
    }
    if starting.is_empty() {
        return;
    }
    let starts: Vec<Start<'_>> = starting
        .iter()
        .map(|s| Start {
            result: &s.running,
            lease: &s.run.lease,
        })
        .collect();
    let expiry = now_ms() + shared.config.visibility_timeout_ms as i64;
    let mut conn = shared.redis.clone();
    let reported = chime_queue::report::started(&mut conn, &shared.keys, &starts, expiry).await;
    drop(starts);
    let cancels_asked = match reported {
        Ok(asked) => asked.into_iter().map(Some).collect(),
        Err(err) => {
            // Each run retries its own report, so one that Redis refuses
            // (a key of the wrong type, say) holds up no other.
            tracing::warn!(error = %err, n_runs = starting.len(), "reporting a claim started failed; each run retries alone");
            vec![None; starting.len()]
        }
    };
    for (run, cancel_asked) in starting.into_iter().zip(cancels_asked) {
        runs.spawn(execute(shared.clone(), run, cancel_asked));
    }
}

/// Decodes the entry and checks it may still run.
fn screen(shared: &Shared, delivery: &Delivery) -> Result<Event, Refusal> {
    let event = decode(delivery).map_err(Refusal::Undecodable)?;
    if delivery.deliveries > shared.config.max_deliveries {
        return Err(Refusal::OverDelivered(Box::new(event)));
    }
    let claimed_at = now_ms();
    match event.deadline {
        Some(deadline) if claimed_at > deadline => Err(Refusal::PastDeadline(
            Box::new(event),
            claimed_at - deadline,
        )),
        _ => Ok(event),
    }
}

/// Settles (or leaves) an entry that does not run.
async fn refuse(
    shared: Arc<Shared>,
    delivery: Delivery,
    refusal: Refusal,
    _permit: OwnedSemaphorePermit,
) {
    match refusal {
        Refusal::Undecodable(reason) => undecodable(&shared, &delivery, &reason).await,
        Refusal::OverDelivered(event) => {
            let reason = format!(
                "delivered {} times; max_deliveries is {}",
                delivery.deliveries, shared.config.max_deliveries
            );
            tracing::warn!(run_id = %event.run_id, reason, "dead-lettering the event");
            let mut result = result(&shared, &event, RunState::Dead, None);
            result.error = Some(reason.clone());
            let lease = Lease {
                job_id: event.job_id.to_string(),
                run_id: event.run_id.to_string(),
            };
            let raw = delivery.payload.as_deref().unwrap_or_default();
            let settlement = Settlement {
                result: Some(&result),
                lease: Some(&lease),
                dead: Some((raw, &reason)),
                ..Settlement::default()
            };
            settle(&shared, &delivery, &settlement).await;
        }
        Refusal::PastDeadline(event, late_ms) => {
            tracing::debug!(run_id = %event.run_id, late_ms, "past its starting deadline");
            let mut result = result(&shared, &event, RunState::Missed, None);
            result.error = Some(format!(
                "not started by its deadline: claimed {late_ms} ms late"
            ));
            let settlement = Settlement {
                result: Some(&result),
                ..Settlement::default()
            };
            settle(&shared, &delivery, &settlement).await;
        }
    }
}

/// Runs a started run's target and settles its entry; the permit is held
/// until then. `cancel_asked` is what the claim's `running` report found,
/// `None` when that report failed and the run must report itself.
#[tracing::instrument(skip_all, fields(queue = %starting.delivery.queue, entry_id = %starting.delivery.entry_id, run_id = %starting.event.run_id))]
async fn execute(shared: Arc<Shared>, starting: Starting, cancel_asked: Option<bool>) {
    let Starting {
        delivery,
        event,
        permit: _permit,
        run,
        running,
    } = starting;
    let started_at = running.started_at.unwrap_or_else(now_ms);
    let lease = &run.lease;
    let cancel_asked = match cancel_asked {
        Some(asked) => Some(asked),
        None => {
            let start = Start {
                result: &running,
                lease,
            };
            retry_redis(&shared.abandon, "report running", || {
                let mut conn = shared.redis.clone();
                let expiry = now_ms() + shared.config.visibility_timeout_ms as i64;
                let keys = &shared.keys;
                async move {
                    let asked =
                        chime_queue::report::started(&mut conn, keys, &[start], expiry).await?;
                    Ok(asked.first() == Some(&true))
                }
            })
            .await
        }
    };
    let outcome = match cancel_asked {
        Some(true) if shared.inflight.cancel(event.run_id, "requested") => {
            // Cancelled while it waited in the queue: never start it.
            tracing::info!(run_id = %event.run_id, "cancel was asked before the run started");
            Outcome::new(Ending::Stopped)
        }
        Some(_) => {
            tracing::debug!(attempt = event.attempt, "run started");
            target::execute(&shared, &event, &run.stop).await
        }
        // The executor gave up before Redis took the report.
        None => Outcome::new(Ending::Stopped),
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
                    lease: Some(lease),
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
                let _ = chime_queue::report::release(&mut conn, &shared.keys, lease).await;
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
        lease: Some(lease),
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

/// Settles the entry through the settler, retrying Redis errors until it
/// works or the executor abandons its runs (then the entry stays pending
/// and is redelivered).
async fn settle(shared: &Shared, delivery: &Delivery, settlement: &Settlement<'_>) {
    let prepared = match PreparedSettle::new(
        &shared.keys,
        &delivery.queue,
        &delivery.entry_id,
        settlement,
    ) {
        Ok(prepared) => prepared,
        Err(err) => {
            // Left pending: redelivery ends in the dead stream at worst.
            tracing::error!(error = %err, "cannot encode a settlement");
            return;
        }
    };
    if shared.settler.settle(prepared, &shared.abandon).await == Some(false) {
        tracing::warn!(
            "entry was reclaimed by another executor before it was settled; its result is theirs"
        );
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
