//! Cancellable exponential backoff for loops that retry Redis after an
//! error: 100 ms doubling to 2 s, reset after a success.

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
