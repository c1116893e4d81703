//! The executor's entry in the registry: a heartbeat every
//! `heartbeat_interval_ms` into `{prefix}:executors` and the details hash
//! `{prefix}:executor:{id}` (host, pid, version, queues, running,
//! started_at), which expires after five missed heartbeats.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::service::Shared;

/// Missed heartbeats before the details hash expires.
const TTL_HEARTBEATS: u64 = 5;

/// Heartbeats until `token` fires, then removes the entry.
pub(crate) async fn beat(shared: Arc<Shared>, started_at: i64, token: CancellationToken) {
    let interval = std::time::Duration::from_millis(shared.config.heartbeat_interval_ms);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn = shared.redis.clone();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = token.cancelled() => break,
        }
        let details = [
            ("host", shared.host.clone()),
            ("node_id", shared.node_id.clone()),
            ("pid", std::process::id().to_string()),
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ("queues", shared.config.queues.join(",")),
            ("concurrency", shared.config.concurrency.to_string()),
            ("running", shared.inflight.len().to_string()),
            ("started_at", started_at.to_string()),
        ];
        let ttl_ms = shared.config.heartbeat_interval_ms * TTL_HEARTBEATS;
        if let Err(err) = chime_queue::registry::heartbeat(
            &mut conn,
            &shared.keys,
            &shared.executor_id,
            &details,
            now_ms(),
            ttl_ms,
        )
        .await
        {
            tracing::warn!(error = %err, "heartbeat failed");
        }
    }
    if let Err(err) =
        chime_queue::registry::deregister(&mut conn, &shared.keys, &shared.executor_id).await
    {
        tracing::warn!(error = %err, "cannot leave the executor registry; the entry expires");
    }
}
