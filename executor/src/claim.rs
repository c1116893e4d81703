//! Claiming work: the reader takes new entries from every served queue with
//! one blocking `XREADGROUP`, and the reclaimer takes over entries other
//! consumers left idle past the visibility timeout (`XAUTOCLAIM`). Both
//! claim only as many entries as there are free concurrency permits, and
//! hand each entry with its permit to a run task.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::attempt;
use crate::backoff::Backoff;
use crate::service::Shared;

/// The longest a read waits for new entries. A read is never dropped
/// halfway (Redis may already have handed it entries), so this also bounds
/// how long stopping the reader takes.
const BLOCK: Duration = Duration::from_millis(500);
/// The most entries one read or reclaim step takes.
const BATCH_MAX: usize = 256;

/// Reads new entries until `shutdown` fires.
pub(crate) async fn read_new(
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    runs: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut conn = None;
    let mut backoff = Backoff::new();
    let mut rotation = 0;
    loop {
        let Some(mut held) = take_permits(&permits, &shutdown).await else {
            return;
        };
        let (queues, count) = read_plan(&shared.config.queues, held.len(), rotation);
        rotation = rotation.wrapping_add(1);
        let blocking = match conn.as_mut() {
            Some(blocking) => blocking,
            None => match chime_queue::connection::blocking(&shared.client, BLOCK).await {
                Ok(blocking) => conn.insert(blocking),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot connect the queue reader");
                    drop(held);
                    if !backoff.wait(&shutdown).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let read = chime_queue::consume::read_new(
            blocking,
            &shared.keys,
            &queues,
            &shared.executor_id,
            count,
            BLOCK.as_millis() as usize,
        )
        .await;
        match read {
            Ok(deliveries) => {
                backoff.reset();
                for delivery in deliveries {
                    // The plan reads at most as many entries as permits held;
                    // should Redis hand over more, they wait for a permit
                    // rather than sit claimed and unrun.
                    let permit = match held.pop() {
                        Some(permit) => permit,
                        None => match permits.clone().acquire_owned().await {
                            Ok(permit) => permit,
                            Err(_) => return,
                        },
                    };
                    runs.spawn(attempt::handle(shared.clone(), delivery, permit));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading the queues failed");
                conn = None;
                drop(held);
                if !backoff.wait(&shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Every reclaim interval until `shutdown` fires: takes over entries of
/// every served queue idle longer than the visibility timeout, including
/// this executor's own undecodable ones, so each redelivery counts.
pub(crate) async fn reclaim_idle(
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    runs: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(shared.config.reclaim_interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn = shared.redis.clone();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        for queue in &shared.config.queues {
            let mut start = "0-0".to_owned();
            loop {
                let Some(mut held) = take_permits(&permits, &shutdown).await else {
                    return;
                };
                let reclaimed = chime_queue::consume::reclaim(
                    &mut conn,
                    &shared.keys,
                    queue,
                    &shared.executor_id,
                    shared.config.visibility_timeout_ms,
                    &start,
                    held.len(),
                )
                .await;
                let reclaimed = match reclaimed {
                    Ok(reclaimed) => reclaimed,
                    Err(err) => {
                        tracing::warn!(queue, error = %err, "reclaiming idle entries failed");
                        break;
                    }
                };
                for delivery in reclaimed.deliveries {
                    tracing::info!(
                        queue,
                        entry_id = %delivery.entry_id,
                        deliveries = delivery.deliveries,
                        "reclaimed an idle entry"
                    );
                    // XAUTOCLAIM returns at most COUNT entries.
                    let Some(permit) = held.pop() else { break };
                    runs.spawn(attempt::handle(shared.clone(), delivery, permit));
                }
                if reclaimed.next_start == "0-0" {
                    break;
                }
                start = reclaimed.next_start;
            }
        }
    }
}

/// Which queues one read covers and its COUNT, which Redis applies to each
/// stream: with at least one permit per queue, every queue gets an equal
/// share; with fewer, only as many queues as permits are read, one entry
/// each, starting at a queue that `rotation` moves on every read.
fn read_plan(queues: &[String], permits: usize, rotation: usize) -> (Vec<String>, usize) {
    if permits >= queues.len() {
        return (queues.to_vec(), permits / queues.len());
    }
    let start = rotation % queues.len();
    let chosen = queues
        .iter()
        .cycle()
        .skip(start)
        .take(permits)
        .cloned()
        .collect();
    (chosen, 1)
}

/// Waits for one free permit, then takes every other free one (up to
/// [`BATCH_MAX`]). `None` when `shutdown` fires first.
async fn take_permits(
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Option<Vec<OwnedSemaphorePermit>> {
    let first = tokio::select! {
        permit = permits.clone().acquire_owned() => permit.ok()?,
        _ = shutdown.cancelled() => return None,
    };
    let mut held = vec![first];
    while held.len() < BATCH_MAX {
        match permits.clone().try_acquire_owned() {
            Ok(permit) => held.push(permit),
            Err(_) => break,
        }
    }
    Some(held)
}

#[cfg(test)]
mod tests {
    use super::read_plan;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_read_never_asks_for_more_entries_than_permits() {
        let queues = names(&["a", "b", "c"]);
        for permits in 1..20 {
            for rotation in 0..5 {
                let (chosen, count) = read_plan(&queues, permits, rotation);
                assert!(!chosen.is_empty());
                assert!(
                    chosen.len() * count <= permits,
                    "{permits} permits: {chosen:?} x {count}"
                );
            }
        }
        assert_eq!(read_plan(&queues, 7, 0), (queues.clone(), 2));
        assert_eq!(read_plan(&queues, 2, 0), (names(&["a", "b"]), 1));
        assert_eq!(read_plan(&queues, 2, 1), (names(&["b", "c"]), 1));
        assert_eq!(read_plan(&queues, 1, 2), (names(&["c"]), 1));
        assert_eq!(read_plan(&names(&["only"]), 16, 3), (names(&["only"]), 16));
    }
}
