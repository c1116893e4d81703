//! Claiming work: the reader takes new entries from every served queue with
//! one blocking `XREADGROUP`, and the reclaimer takes over entries other
//! consumers left idle past the visibility timeout (`XAUTOCLAIM`). Both
//! claim only as many entries as there are free concurrency permits, and
//! hand each claim (entries with their permits) to a task that starts it.

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
/// Between reads of part of the queues (concurrency below the number of
/// queues) that found nothing.
const PARTIAL_READ_PAUSE: Duration = Duration::from_millis(10);

/// Reads new entries until `shutdown` fires.
pub(crate) async fn read_new(
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    runs: TaskTracker,
    shutdown: CancellationToken,
) {
    let queues = &shared.config.queues;
    // One permit per queue (when concurrency allows) before each read, so a
    // read covers every queue and never blocks on an empty one while
    // another has work.
    let at_least = queues.len().min(shared.config.concurrency);
    let mut conn = None;
    let mut backoff = Backoff::new();
    let mut rotation = 0;
    loop {
        let Some(mut held) = take_permits(&permits, at_least, &shutdown).await else {
            return;
        };
        let plan = read_plan(queues, held.num_permits(), rotation);
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
            &plan.queues,
            &shared.executor_id,
            plan.count,
            plan.block.then_some(BLOCK.as_millis() as usize),
        )
        .await;
        match read {
            Ok(deliveries) => {
                backoff.reset();
                let idle = deliveries.is_empty();
                let mut claimed = Vec::with_capacity(deliveries.len());
                for delivery in deliveries {
                    // The plan reads at most as many entries as permits held;
                    // should Redis hand over more, they wait for a permit
                    // rather than sit claimed and unrun.
                    let permit = match held.split(1) {
                        Some(permit) => permit,
                        None => match permits.clone().acquire_owned().await {
                            Ok(permit) => permit,
                            Err(_) => return,
                        },
                    };
                    claimed.push((delivery, permit));
                }
                drop(held);
                if !claimed.is_empty() {
                    runs.spawn(attempt::start(shared.clone(), claimed, runs.clone()));
                }
                if idle && !plan.block {
                    // A partial read found nothing: try the next queues soon.
                    tokio::select! {
                        _ = tokio::time::sleep(PARTIAL_READ_PAUSE) => {}
                        _ = shutdown.cancelled() => return,
                    }
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
                let Some(mut held) = take_permits(&permits, 1, &shutdown).await else {
                    return;
                };
                let reclaimed = chime_queue::consume::reclaim(
                    &mut conn,
                    &shared.keys,
                    queue,
                    &shared.executor_id,
                    shared.config.visibility_timeout_ms,
                    &start,
                    held.num_permits(),
                )
                .await;
                let reclaimed = match reclaimed {
                    Ok(reclaimed) => reclaimed,
                    Err(err) => {
                        tracing::warn!(queue, error = %err, "reclaiming idle entries failed");
                        break;
                    }
                };
                let mut claimed = Vec::with_capacity(reclaimed.deliveries.len());
                for delivery in reclaimed.deliveries {
                    tracing::info!(
                        queue,
                        entry_id = %delivery.entry_id,
                        deliveries = delivery.deliveries,
                        "reclaimed an idle entry"
                    );
                    // XAUTOCLAIM returns at most COUNT entries.
                    let Some(permit) = held.split(1) else { break };
                    claimed.push((delivery, permit));
                }
                if !claimed.is_empty() {
                    runs.spawn(attempt::start(shared.clone(), claimed, runs.clone()));
                }
                if reclaimed.next_start == "0-0" {
                    break;
                }
                start = reclaimed.next_start;
            }
        }
    }
}

/// What one read covers.
#[derive(Debug, PartialEq, Eq)]
struct ReadPlan {
    queues: Vec<String>,
    /// COUNT, which Redis applies to each stream.
    count: usize,
    /// Whether to BLOCK: only a read that covers every queue may wait.
    block: bool,
}

/// With at least one permit per queue, every queue gets an equal share and
/// the read may block. With fewer (concurrency below the number of
/// queues), only as many queues as permits are read, one entry each,
/// starting at a queue that `rotation` moves on every read, without
/// blocking.
fn read_plan(queues: &[String], permits: usize, rotation: usize) -> ReadPlan {
    if permits >= queues.len() {
        return ReadPlan {
            queues: queues.to_vec(),
            count: permits / queues.len(),
            block: true,
        };
    }
    let start = rotation % queues.len();
    ReadPlan {
        queues: queues
            .iter()
            .cycle()
            .skip(start)
            .take(permits)
            .cloned()
            .collect(),
        count: 1,
        block: false,
    }
}

/// Waits for `at_least` free permits, then takes every other free one (up
/// to [`BATCH_MAX`]) into one permit to split per entry. `None` when
/// `shutdown` fires first.
async fn take_permits(
    permits: &Arc<Semaphore>,
    at_least: usize,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    let at_least = u32::try_from(at_least.max(1)).unwrap_or(u32::MAX);
    let mut held = tokio::select! {
        permit = permits.clone().acquire_many_owned(at_least) => permit.ok()?,
        _ = shutdown.cancelled() => return None,
    };
    while held.num_permits() < BATCH_MAX {
        match permits.clone().try_acquire_owned() {
            Ok(permit) => held.merge(permit),
            Err(_) => break,
        }
    }
    Some(held)
}

#[cfg(test)]
mod tests {
    use super::{ReadPlan, read_plan};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_read_never_asks_for_more_entries_than_permits() {
        let queues = names(&["a", "b", "c"]);
        for permits in 1..20 {
            for rotation in 0..5 {
                let plan = read_plan(&queues, permits, rotation);
                assert!(!plan.queues.is_empty());
                assert!(
                    plan.queues.len() * plan.count <= permits,
                    "{permits}: {plan:?}"
                );
                assert_eq!(plan.block, plan.queues.len() == queues.len());
            }
        }
        let plan = |queues: &[&str], count, block| ReadPlan {
            queues: names(queues),
            count,
            block,
        };
        assert_eq!(read_plan(&queues, 7, 0), plan(&["a", "b", "c"], 2, true));
        assert_eq!(read_plan(&queues, 2, 0), plan(&["a", "b"], 1, false));
        assert_eq!(read_plan(&queues, 2, 1), plan(&["b", "c"], 1, false));
        assert_eq!(read_plan(&queues, 1, 2), plan(&["c"], 1, false));
        assert_eq!(
            read_plan(&names(&["only"]), 16, 3),
            plan(&["only"], 16, true)
        );
    }
}
