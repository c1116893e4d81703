//! Listening on `{prefix}:control` for cancel requests: a request naming a
//! run in flight here stops it (its process group is killed) and the run
//! is reported `cancelled`. Requests for runs elsewhere are ignored.

use std::sync::Arc;

use chime_core::wire::ControlOp;
use chime_queue::control::ControlSubscription;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::service::Shared;

/// Handles control messages until `token` fires, subscribing again after
/// a lost connection. `subscription` is the one made at start, so no run
/// can begin before the executor listens.
pub(crate) async fn listen(
    shared: Arc<Shared>,
    subscription: ControlSubscription,
    token: CancellationToken,
) {
    let mut subscription = Some(subscription);
    let mut backoff = Backoff::new();
    loop {
        let mut current = match subscription.take() {
            Some(current) => current,
            None => {
                let subscribed = tokio::select! {
                    subscribed = ControlSubscription::subscribe(&shared.client, &shared.keys) => subscribed,
                    _ = token.cancelled() => return,
                };
                match subscribed {
                    Ok(current) => current,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot subscribe to the control channel");
                        if !backoff.wait(&token).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        backoff.reset();
        loop {
            let message = tokio::select! {
                message = current.next() => message,
                _ = token.cancelled() => return,
            };
            match message {
                None => {
                    tracing::warn!("control channel connection lost; subscribing again");
                    break;
                }
                Some(Err(err)) => tracing::warn!(error = %err, "ignoring a control message"),
                Some(Ok(control)) => match control.op {
                    ControlOp::Cancel => {
                        if shared.inflight.cancel(control.run_id, &control.reason) {
                            tracing::info!(run_id = %control.run_id, reason = control.reason, "cancelling run");
                        }
                    }
                },
            }
        }
        if !backoff.wait(&token).await {
            return;
        }
    }
}
