//! Signals: ctrl-c and SIGTERM cancel the root shutdown token, and each
//! component drains on its own terms; a second signal stops waiting.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Runs `work` to completion, cancelling `shutdown` at the first ctrl-c or
/// SIGTERM. A second signal gives up on the drain and returns an error.
pub(crate) async fn run_until_done<F>(shutdown: CancellationToken, work: F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => return result,
        () = next_signal() => {}
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
    tokio::select! {
        result = &mut work => result,
        () = next_signal() => anyhow::bail!("a second signal: stopping without waiting for the drain"),
    }
}

/// Waits for ctrl-c (SIGINT) or SIGTERM.
async fn next_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; ctrl-c only");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
