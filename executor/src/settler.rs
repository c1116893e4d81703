//! Settling entries in batches. Run tasks hand their settlement to the one
//! settler task, which sends everything waiting in one script call (each
//! entry's settlement stays atomic). Under a burst this
//! turns hundreds of round trips into a few; a lone settlement goes out at
//! once, because nothing waits for a batch to fill.

use std::sync::Arc;

use chime_queue::report::PreparedSettle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::backoff::retry_redis;
use crate::service::Shared;

/// The most settlements in one round trip.
const BATCH_MAX: usize = 512;

/// The run tasks' side: hands a settlement over and waits for its answer.
#[derive(Debug, Clone)]
pub(crate) struct Settler {
    requests: mpsc::UnboundedSender<Request>,
}

/// The settler task's side.
pub(crate) struct Requests(mpsc::UnboundedReceiver<Request>);

#[derive(Debug)]
struct Request {
    settlement: PreparedSettle,
    settled: oneshot::Sender<bool>,
}

impl Settler {
    pub(crate) fn new() -> (Settler, Requests) {
        let (requests, receiver) = mpsc::unbounded_channel();
        (Settler { requests }, Requests(receiver))
    }

    /// Whether the entry was settled (`false`: another executor reclaimed it
    /// first); `None` when the executor abandoned its runs before Redis took
    /// the settlement, so the entry stays pending for another executor.
    pub(crate) async fn settle(&self, settlement: PreparedSettle) -> Option<bool> {
        let (settled, answer) = oneshot::channel();
        self.requests
            .send(Request {
                settlement,
                settled,
            })
            .ok()?;
        answer.await.ok()
    }
}

/// Sends waiting settlements until `token` fires (after every run ended).
pub(crate) async fn run(shared: Arc<Shared>, mut requests: Requests, token: CancellationToken) {
    let mut waiting = Vec::with_capacity(BATCH_MAX);
    loop {
        tokio::select! {
            received = requests.0.recv_many(&mut waiting, BATCH_MAX) => {
                if received == 0 {
                    return;
                }
            }
            _ = token.cancelled() => return,
        }
        let (settlements, answers): (Vec<PreparedSettle>, Vec<oneshot::Sender<bool>>) = waiting
            .drain(..)
            .map(|request| (request.settlement, request.settled))
            .unzip();
        let settled = retry_redis(&shared.abandon, "settling entries", || {
            let mut conn = shared.redis.clone();
            let (shared, settlements) = (&shared, &settlements);
            async move {
                chime_queue::report::settle(
                    &mut conn,
                    &shared.keys,
                    &shared.executor_id,
                    settlements,
                )
                .await
            }
        })
        .await;
        // Abandoned: the answers are dropped and every run of the batch
        // leaves its entry pending.
        for (answer, settled) in answers.into_iter().zip(settled.unwrap_or_default()) {
            let _ = answer.send(settled);
        }
    }
}
