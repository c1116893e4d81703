//! Retention: keeps run history for `retention_days` and at most
//! `max_runs_per_job` runs per job, pruning in the background in small
//! batches so no statement holds locks for long.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How much history to keep.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Runs scheduled longer ago than this many days are deleted.
    pub retention_days: u32,
    /// Beyond this many newest runs of a job, older ones are deleted.
    pub max_runs_per_job: u32,
    /// Rows deleted per statement.
    pub batch_size: u32,
    /// Pause between two passes, in seconds.
    pub interval_s: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            retention_days: 30,
            max_runs_per_job: 10_000,
            batch_size: 1_000,
            interval_s: 300,
        }
    }
}

/// Prunes every `interval_s` until `shutdown` is cancelled. Any replica may
/// run it; two replicas pruning at once only delete the same rows once.
pub async fn run(config: RetentionConfig, pool: PgPool, shutdown: CancellationToken) {
    loop {
        match prune_once(&config, &pool, &shutdown).await {
            Ok(0) => {}
            Ok(n_runs) => tracing::info!(n_runs, "pruned run history"),
            Err(err) => tracing::warn!(error = %err, "pruning run history failed; will try again"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(config.interval_s.max(1))) => {}
        }
    }
}

/// One pass: batches until nothing is left to delete. Returns the count.
pub async fn prune_once(
    config: &RetentionConfig,
    pool: &PgPool,
    shutdown: &CancellationToken,
) -> Result<u64, chime_store::StoreError> {
    let older_than = chrono::Utc::now() - chrono::Duration::days(i64::from(config.retention_days));
    let mut total = 0;
    while !shutdown.is_cancelled() {
        let n = chime_store::runs::prune_batch(
            pool,
            older_than,
            i64::from(config.max_runs_per_job),
            i64::from(config.batch_size.max(1)),
        )
        .await?;
        total += n;
        if n == 0 {
            break;
        }
        // Let other writers in between batches.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(total)
}
