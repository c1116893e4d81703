//! Signals: Ctrl-C and SIGTERM cancel the root [`CancellationToken`], and
//! every component winds down from there.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first Ctrl-C or SIGTERM. The watcher stops when
/// the returned guard is dropped.
pub(crate) fn cancel_on_signal(token: CancellationToken) -> SignalGuard {
    let task = tokio::spawn(async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %err, "cannot listen for ctrl-c");
                std::future::pending::<()>().await;
            }
        };
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = ctrl_c => tracing::info!("ctrl-c: shutting down"),
            _ = terminate => tracing::info!("SIGTERM: shutting down"),
        }
        token.cancel();
    });
    SignalGuard(task)
}

/// Owns the signal watcher task; aborts it on drop, so it never outlives
/// `main`'s work.
pub(crate) struct SignalGuard(JoinHandle<()>);

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
