//! Cancellable exponential backoff for loops that retry Redis after an
//! error: 100 ms doubling to 2 s, reset after a success; and [`retry_redis`],
//! which retries one step with it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(2);

/// The delay before the next retry.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST }
    }

    /// After a success: the next failure waits the shortest delay again.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST;
    }

    /// Sleeps the current delay and doubles it. Returns `false` at once
    /// when `token` is cancelled first.
    pub(crate) async fn wait(&mut self, token: &CancellationToken) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX);
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = token.cancelled() => false,
        }
    }
}

/// Runs `op` until it succeeds, backing off between Redis errors; `None`
/// if `give_up` fires first (the executor abandons its runs).
pub(crate) async fn retry_redis<T, F, Fut>(
    give_up: &CancellationToken,
    what: &str,
    mut op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, chime_queue::QueueError>>,
{
    let mut backoff = Backoff::new();
    loop {
        match op().await {
            Ok(value) => return Some(value),
            Err(err) => {
                tracing::warn!(error = %err, "{what} failed; retrying");
                if !backoff.wait(give_up).await {
                    return None;
                }
            }
        }
    }
}
