//! The recorder: moves run results from `{prefix}:results` into Postgres.
//!
//! Any number of API replicas share the consumer group `recorders`. A batch
//! is committed in one transaction and acknowledged only afterwards, so:
//! while Postgres is down, results wait in the stream (nothing is lost); a
//! recorder that dies between commit and acknowledgement leaves the batch
//! pending, and recording it again changes nothing (the store upserts by
//! `(run_id, attempt)` and never moves a state backwards).

use std::time::{Duration, Instant};

use chime_core::Keys;
use chime_queue::results_reader::{self, ReadFrom, ResultEntry};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Recorder settings.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecorderConfig {
    /// Most results committed in one transaction.
    pub batch_size: usize,
    /// Longest wait for new results in one read, in milliseconds.
    pub block_ms: u64,
    /// After a read that found fewer results than a full batch, how long
    /// to let more gather before committing, in milliseconds. Results come
    /// in bursts at each second's ticks; lingering records a burst in one
    /// transaction after it, instead of many small ones that compete for
    /// the CPU with the executors starting the burst's runs. History lags
    /// by at most this much. 0 commits every read at once.
    pub linger_ms: u64,
    /// Entries another recorder has held this long are taken over, in
    /// milliseconds.
    pub claim_idle_ms: u64,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            batch_size: 500,
            block_ms: 1000,
            linger_ms: 200,
            claim_idle_ms: 30_000,
        }
    }
}

/// What the recorder talks to.
#[derive(Debug, Clone)]
pub struct RecorderDeps {
    /// Run history.
    pub pool: PgPool,
    /// Redis, for the results stream.
    pub redis: redis::Client,
    /// Key names.
    pub keys: Keys,
    /// This recorder's consumer name in the group; unique per process.
    pub consumer: String,
}

/// Records results until `shutdown` is cancelled.
pub async fn run(
    config: RecorderConfig,
    deps: RecorderDeps,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = Backoff::default();
    while !shutdown.is_cancelled() {
        match record_until_error(&config, &deps, &shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "recorder paused; results wait in the stream");
                let delay = backoff.next();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    Ok(())
}

/// Reads, commits and acknowledges until shutdown (`Ok`) or the first
/// failure (`Err`; the caller backs off and starts again from this
/// consumer's pending entries).
async fn record_until_error(
    config: &RecorderConfig,
    deps: &RecorderDeps,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let block = Duration::from_millis(config.block_ms);
    let linger = Duration::from_millis(config.linger_ms);
    let mut conn = chime_queue::connection::blocking(&deps.redis, block).await?;
    results_reader::ensure_group(&mut conn, &deps.keys).await?;
    let mut from = ReadFrom::Pending;
    let mut last_claim = Instant::now();
    let claim_every = Duration::from_millis(config.claim_idle_ms / 3).max(Duration::from_secs(1));
    loop {
        let mut entries = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            entries = results_reader::read(&mut conn, &deps.keys, &deps.consumer, from, config.batch_size, Some(block)) => entries?,
        };
        if from == ReadFrom::Pending && entries.is_empty() {
            from = ReadFrom::New;
            continue;
        }
        if from == ReadFrom::New && linger > Duration::ZERO && entries.len() < config.batch_size {
            tokio::select! {
                // Shutdown commits what was read.
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(linger) => {
                    let more = config.batch_size - entries.len();
                    entries.extend(
                        results_reader::read(&mut conn, &deps.keys, &deps.consumer, from, more, None).await?,
                    );
                }
            }
        }
        commit(deps, &mut conn, entries).await?;
        backoff.reset();
        if last_claim.elapsed() >= claim_every {
            last_claim = Instant::now();
            let claimed = results_reader::claim_abandoned(
                &mut conn,
                &deps.keys,
                &deps.consumer,
                Duration::from_millis(config.claim_idle_ms),
                config.batch_size,
            )
            .await?;
            if !claimed.is_empty() {
                tracing::info!(
                    n_results = claimed.len(),
                    "took over results of a silent recorder"
                );
                commit(deps, &mut conn, claimed).await?;
            }
        }
    }
}

/// Writes one batch to Postgres, then acknowledges it.
async fn commit(
    deps: &RecorderDeps,
    conn: &mut redis::aio::MultiplexedConnection,
    entries: Vec<ResultEntry>,
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut results = Vec::with_capacity(entries.len());
    let mut entry_ids = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.result {
            Ok(result) => results.push(result),
            // A result that cannot be decoded never will be; keeping it would
            // block nothing but would sit pending forever.
            Err(reason) => {
                tracing::warn!(entry_id = %entry.entry_id, %reason, "dropping an undecodable result")
            }
        }
        entry_ids.push(entry.entry_id);
    }
    chime_store::runs::record(&deps.pool, &results).await?;
    results_reader::ack(conn, &deps.keys, &entry_ids).await?;
    tracing::debug!(n_results = results.len(), "recorded results");
    Ok(())
}

/// Exponential backoff from 100 ms to 5 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn reset(&mut self) {
        self.failures = 0;
    }

    fn next(&mut self) -> Duration {
        let delay =
            Duration::from_millis(100 * (1u64 << self.failures.min(6))).min(Duration::from_secs(5));
        self.failures += 1;
        delay
    }
}
