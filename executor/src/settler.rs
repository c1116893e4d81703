//! Settling entries in batches. Run tasks hand their settlement to the one
//! settler task, which sends everything waiting in one script call (each
//! entry's settlement stays atomic). Under a burst this turns hundreds of
//! round trips into a few; a lone settlement goes out at once, because
//! nothing waits for a batch to fill.
//!
//! The settler never retries. When a batch fails, it tries each entry on
//! its own once (`queue::report::settle_each`), so an entry Redis refuses
//! (a key of the wrong type, say) fails alone instead of holding up every
//! settlement behind it; each run retries its own with backoff.

use std::sync::Arc;

use chime_queue::report::PreparedSettle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
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
    /// The answer, or the refusal with the settlement handed back for the
    /// run to retry.
    settled: oneshot::Sender<Result<bool, Refused>>,
}

#[derive(Debug)]
struct Refused {
    error: String,
    settlement: PreparedSettle,
}

impl Settler {
    pub(crate) fn new() -> (Settler, Requests) {
        let (requests, receiver) = mpsc::unbounded_channel();
        (Settler { requests }, Requests(receiver))
    }

    /// Whether the entry was settled (`false`: another executor reclaimed it
    /// first), retrying Redis errors with backoff; `None` when the executor
    /// abandoned its runs first, so the entry stays pending for another
    /// executor.
    pub(crate) async fn settle(
        &self,
        mut settlement: PreparedSettle,
        abandon: &CancellationToken,
    ) -> Option<bool> {
        let mut backoff = Backoff::new();
        loop {
            let (settled, answer) = oneshot::channel();
            self.requests
                .send(Request {
                    settlement,
                    settled,
                })
                .ok()?;
            match answer.await.ok()? {
                Ok(settled) => return Some(settled),
                Err(refused) => {
                    tracing::warn!(error = %refused.error, "settling the entry failed; retrying");
                    if !backoff.wait(abandon).await {
                        return None;
                    }
                    settlement = refused.settlement;
                }
            }
        }
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
        let (settlements, answers): (Vec<PreparedSettle>, Vec<_>) = waiting
            .drain(..)
            .map(|request| (request.settlement, request.settled))
            .unzip();
        let mut conn = shared.redis.clone();
        let outcomes = chime_queue::report::settle_each(
            &mut conn,
            &shared.keys,
            &shared.executor_id,
            &settlements,
        )
        .await;
        for ((answer, settlement), outcome) in answers.into_iter().zip(settlements).zip(outcomes) {
            let _ = answer.send(outcome.map_err(|err| Refused {
                error: err.to_string(),
                settlement,
            }));
        }
    }
}
