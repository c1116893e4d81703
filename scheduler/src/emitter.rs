//! The scheduler's main loop, and its entry point [`run`]. One task owns the
//! jobs cache: it applies updates from the loaders, follows the lease from
//! the campaign, and while it leads reads cursors, emits due ticks in
//! batches (several script calls in flight), promotes the delayed set and
//! trims the streams.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chime_core::Keys;
use chime_core::keys::{EXECUTOR_GROUP, RECORDER_GROUP};
use chime_queue::emit::{self, TickOutcome};
use chime_queue::promote::{self, Promotion};
use chime_queue::{QueueError, connection, trim};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::campaign::{self, CampaignCtx, LeaseHandle};
use crate::catchup::Late;
use crate::jobs::{Batch, Engine};
use crate::sync::{self, Update};
use crate::{SchedulerConfig, payload};

/// What the scheduler runs on.
pub struct SchedulerDeps {
    /// Postgres, read only: job definitions.
    pub pool: PgPool,
    /// Redis: the lease, cursors, queues.
    pub redis: redis::Client,
    /// Key names under this deployment's prefix.
    pub keys: Keys,
    /// This replica's name in the lease and the logs (no ':').
    pub node_id: String,
    /// Where the scheduler publishes its [`Status`]; subscribe before `run`.
    pub status: watch::Sender<Status>,
}

/// What the scheduler is doing, for probes, tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Jobs in the cache.
    pub jobs: usize,
    /// The first full load is done.
    pub loaded: bool,
    /// The fencing epoch while this replica leads.
    pub epoch: Option<u64>,
    /// Ticks emitted to queues by this replica.
    pub emitted: u64,
    /// Ticks reported `skipped` (overlap forbid).
    pub skipped: u64,
    /// Ticks reported `missed` (catch-up).
    pub missed: u64,
    /// Ticks another leader had already handled.
    pub duplicates: u64,
    /// Delayed-set members promoted.
    pub promoted: u64,
}

/// Runs a scheduler replica until `shutdown`: loads and follows the job
/// definitions, campaigns, and emits while it leads. On shutdown it stops
/// emitting and releases the lease so a standby takes over at once.
pub async fn run(
    config: SchedulerConfig,
    deps: SchedulerDeps,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    config.validate().context("scheduler settings")?;
    let SchedulerDeps {
        pool,
        redis,
        keys,
        node_id,
        status,
    } = deps;
    let Some(mut conn) = connect(&redis, &shutdown).await else {
        return Ok(());
    };
    let Some(campaign_conn) = connect(&redis, &shutdown).await else {
        return Ok(());
    };
    let Some(start_id) = sync::start_id(&mut conn, &keys, &shutdown).await else {
        return Ok(());
    };
    tracing::info!(
        node_id = %node_id,
        lease_ttl_ms = config.lease_ttl_ms,
        renew_interval_ms = config.renew_interval_ms(),
        resync_interval_ms = config.resync_interval_ms,
        "scheduler starting"
    );

    let tracker = TaskTracker::new();
    let (updates_tx, updates_rx) = mpsc::channel(64);
    tracker.spawn(sync::resync(
        pool.clone(),
        config.load_page,
        Duration::from_millis(config.resync_interval_ms),
        updates_tx.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(sync::follow(
        redis.clone(),
        pool,
        keys.clone(),
        start_id,
        updates_tx,
        shutdown.clone(),
    ));
    let (ready_tx, ready_rx) = watch::channel(false);
    let (leader_tx, leader_rx) = watch::channel(None);
    tracker.spawn(campaign::campaign(
        CampaignCtx {
            config: config.clone(),
            conn: campaign_conn,
            keys: keys.clone(),
            node_id: node_id.clone(),
        },
        ready_rx,
        leader_tx,
        shutdown.clone(),
    ));
    tracker.close();

    let now = Instant::now();
    let mut emitter = Emitter {
        engine: Engine::new(config.catchup_grace_ms, config.catchup_cap),
        config,
        keys,
        conn,
        status,
        node_id,
        handle: None,
        retry_at: None,
        next_promote: now,
        next_trim: now,
        load_started: now,
        takeover_started: None,
    };
    emitter
        .run(updates_rx, leader_rx, ready_tx, &shutdown)
        .await;
    tracker.wait().await;
    tracing::info!(node_id = %emitter.node_id, "scheduler stopped");
    Ok(())
}

/// A connection manager, retried until Redis answers or shutdown.
async fn connect(
    client: &redis::Client,
    shutdown: &CancellationToken,
) -> Option<ConnectionManager> {
    loop {
        match connection::manager(client).await {
            Ok(conn) => return Some(conn),
            Err(err) => tracing::warn!(error = %err, "cannot connect to Redis; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

struct Emitter {
    config: SchedulerConfig,
    keys: Keys,
    conn: ConnectionManager,
    engine: Engine,
    status: watch::Sender<Status>,
    node_id: String,
    /// The lease while this replica leads.
    handle: Option<Arc<LeaseHandle>>,
    /// After a Redis failure, no writes before this.
    retry_at: Option<Instant>,
    next_promote: Instant,
    next_trim: Instant,
    load_started: Instant,
    /// Set on taking over until every job's cursor is read, for the log.
    takeover_started: Option<Instant>,
}

/// Ticks one pass of the loop takes from the engine at most.
const WAVE: usize = 20_000;
/// Pages of cursors read per pass while taking over.
const CURSOR_PAGES: usize = 20;
const CURSOR_PAGE: usize = 1000;

impl Emitter {
    async fn run(
        &mut self,
        mut updates: mpsc::Receiver<Update>,
        mut leader: watch::Receiver<Option<Arc<LeaseHandle>>>,
        ready: watch::Sender<bool>,
        shutdown: &CancellationToken,
    ) {
        let mut campaign_alive = true;
        let mut loaders_alive = true;
        loop {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                changed = leader.changed(), if campaign_alive => match changed {
                    Ok(()) => {
                        let handle = leader.borrow_and_update().clone();
                        self.set_leader(handle);
                    }
                    Err(_) => campaign_alive = false,
                },
                update = updates.recv(), if loaders_alive => match update {
                    Some(update) => {
                        self.apply(update, &ready);
                        // Drain what else is waiting, without starving emission.
                        for _ in 0..256 {
                            let Ok(update) = updates.try_recv() else { break };
                            self.apply(update, &ready);
                        }
                    }
                    None => loaders_alive = false,
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
            self.work().await;
        }
        if let Some(handle) = self.handle.take() {
            handle.revoke();
        }
        self.engine.step_down();
        self.status.send_modify(|s| s.epoch = None);
    }

    fn apply(&mut self, update: Update, ready: &watch::Sender<bool>) {
        let now = now_ms();
        match update {
            Update::ResyncBegin => {
                self.load_started = Instant::now();
                self.engine.begin_resync();
            }
            Update::Page(page) => self.engine.resync_page(page, now),
            Update::Versions(page, reply) => {
                // The resync task waits for the answer; if it is gone, so is the reload.
                let _ = reply.send(self.engine.resync_versions(&page));
            }
            Update::ResyncEnd => {
                let removed = self.engine.end_resync();
                let first = !*ready.borrow();
                if first {
                    tracing::info!(
                        jobs = self.engine.len(),
                        load_ms = self.load_started.elapsed().as_millis() as u64,
                        "job definitions loaded"
                    );
                    ready.send_replace(true);
                } else if removed > 0 {
                    tracing::info!(removed, "resync removed jobs that no longer exist");
                }
                let jobs = self.engine.len();
                self.status.send_modify(|s| {
                    s.jobs = jobs;
                    s.loaded = true;
                });
                metrics::gauge!("chime_scheduler_jobs").set(jobs as f64);
            }
            Update::ResyncAbort => self.engine.abort_resync(),
            Update::Job(id, current) => {
                tracing::debug!(job_id = %id, deleted = current.is_none(), "job changed");
                self.engine.change(id, current.map(|job| *job), now);
                let jobs = self.engine.len();
                self.status.send_modify(|s| s.jobs = jobs);
                metrics::gauge!("chime_scheduler_jobs").set(jobs as f64);
            }
        }
    }

    fn set_leader(&mut self, handle: Option<Arc<LeaseHandle>>) {
        match handle {
            Some(handle) => {
                let epoch = handle.lease().epoch();
                self.handle = Some(handle);
                self.engine.take_over();
                self.takeover_started = Some(Instant::now());
                self.retry_at = None;
                self.status.send_modify(|s| s.epoch = Some(epoch));
                metrics::gauge!("chime_scheduler_leader").set(1.0);
                metrics::gauge!("chime_scheduler_epoch").set(epoch as f64);
            }
            None => self.step_down(),
        }
    }

    fn step_down(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.revoke();
            tracing::info!(node_id = %self.node_id, epoch = handle.lease().epoch(), "stopped emitting");
        }
        self.engine.step_down();
        self.status.send_modify(|s| s.epoch = None);
        metrics::gauge!("chime_scheduler_leader").set(0.0);
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let far = now + Duration::from_secs(3600);
        let Some(handle) = &self.handle else {
            return far;
        };
        let mut wake = handle.deadline().min(self.next_promote).min(self.next_trim);
        if let Some(retry_at) = self.retry_at {
            return wake.min(retry_at).max(now);
        }
        if self.engine.wants_cursors() {
            return now;
        }
        if let Some(due) = self.engine.next_wake() {
            // In microseconds: whole milliseconds of the wall clock would
            // wake up to a millisecond late, on top of the millisecond
            // tokio's timer may add.
            let ahead_us = (due.saturating_mul(1000) - now_us()).max(0) as u64;
            wake = wake.min(now + Duration::from_micros(ahead_us));
        }
        wake.min(far)
    }

    async fn work(&mut self) {
        let Some(handle) = self.handle.clone() else {
            return;
        };
        if !handle.is_valid() {
            tracing::warn!(node_id = %self.node_id, epoch = handle.lease().epoch(), "lease expired locally");
            self.step_down();
            return;
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.retry_at = None;
        let result = self.lead(&handle).await;
        match result {
            Ok(()) => {}
            Err(QueueError::LeaseLost) => {
                if handle.is_valid() {
                    tracing::warn!(node_id = %self.node_id, epoch = handle.lease().epoch(), "lease lost: a write was refused");
                }
                // Otherwise the campaign gave the lease up (shutdown) or saw
                // it expire, and says so itself.
                self.step_down();
            }
            Err(err) => {
                tracing::warn!(error = %err, "redis write failed; retrying");
                self.retry_at = Some(Instant::now() + Duration::from_millis(200));
            }
        }
    }

    async fn lead(&mut self, handle: &Arc<LeaseHandle>) -> Result<(), QueueError> {
        // Up to CURSOR_PAGES pages of cursors per pass, read concurrently
        // (pipelined on the one connection): a takeover is bound by round
        // trips, not by Redis or by planning.
        let ids = self.engine.take_needs_cursor(CURSOR_PAGES * CURSOR_PAGE);
        if !ids.is_empty() {
            let fields: Vec<String> = ids.iter().map(Uuid::to_string).collect();
            let reads = fields.chunks(CURSOR_PAGE).map(|page| {
                let mut conn = self.conn.clone();
                let keys = &self.keys;
                async move { emit::cursors(&mut conn, keys, page).await }
            });
            match futures::future::try_join_all(reads).await {
                Ok(pages) => {
                    let pairs: Vec<(Uuid, Option<i64>)> =
                        ids.into_iter().zip(pages.into_iter().flatten()).collect();
                    self.engine.cursors_loaded(&pairs, now_ms());
                }
                Err(err) => {
                    // They wait for the next pass.
                    self.engine.cursors_failed(&ids);
                    return Err(err);
                }
            }
        }
        if !self.engine.wants_cursors() {
            if let Some(started) = self.takeover_started.take() {
                tracing::info!(
                    node_id = %self.node_id,
                    epoch = handle.lease().epoch(),
                    jobs = self.engine.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "read every cursor and planned catch-up"
                );
            }
        }
        loop {
            let batches = self.engine.take_due(now_ms(), WAVE);
            if batches.is_empty() {
                break;
            }
            let n_ticks: usize = batches.iter().map(|b| b.items.len()).sum();
            self.emit_wave(handle, batches).await?;
            if n_ticks < WAVE {
                break;
            }
        }
        let now = Instant::now();
        if now >= self.next_promote {
            self.next_promote = now + Duration::from_millis(self.config.delayed_poll_ms);
            self.promote_due(handle).await?;
        }
        if now >= self.next_trim {
            self.next_trim = now + Duration::from_millis(self.config.trim_interval_ms);
            self.trim().await;
        }
        Ok(())
    }

    /// Emits `batches` in script calls of about `emit_batch` ticks, several
    /// in flight. A job's batch is never split, and a failed call's batches
    /// go back to the front of the line.
    async fn emit_wave(
        &mut self,
        handle: &Arc<LeaseHandle>,
        batches: Vec<Batch>,
    ) -> Result<(), QueueError> {
        let mut chunks: Vec<Vec<Batch>> = Vec::new();
        let mut size = 0;
        for batch in batches {
            if chunks.is_empty() || size >= self.config.emit_batch {
                chunks.push(Vec::new());
                size = 0;
            }
            size += batch.items.len();
            if let Some(chunk) = chunks.last_mut() {
                chunk.push(batch);
            }
        }
        let epoch = handle.lease().epoch();
        let engine = &self.engine;
        let keys = &self.keys;
        let conn = &self.conn;
        // Each chunk's events are built when its call is first polled, not
        // when the stream hands the call over: `buffered` takes all the
        // calls it may run before polling the first, so building in the map
        // would hold the first chunk back until the last was built. Built
        // lazily, Redis runs one chunk while the next is being encoded.
        let results: Vec<Sent> = futures::stream::iter(chunks.into_iter().map(|chunk| {
                let mut conn = conn.clone();
                let handle = handle.clone();
                async move {
                    let now = now_ms();
                    let mut ticks = Vec::with_capacity(chunk.len());
                    for batch in &chunk {
                        let Some(job) = engine.job(&batch.job_id) else {
                            continue;
                        };
                        for item in &batch.items {
                            match payload::tick(batch.job_id, job.version, &job.spec, *item, now, epoch)
                            {
                                Ok(tick) => ticks.push(tick),
                                Err(err) => {
                                    tracing::error!(job_id = %batch.job_id, error = %err, "cannot encode an event");
                                }
                            }
                        }
                    }
                    if !handle.is_valid() {
                        return (chunk, now, Err(QueueError::LeaseLost));
                    }
                    let result =
                        emit::emit_ticks(&mut conn, keys, handle.lease(), now, &ticks).await;
                    (chunk, now, result)
                }
            }))
            .buffered(self.config.emit_concurrency)
            .collect()
            .await;

        let mut failure = None;
        let mut counts = [0u64; 4];
        for (chunk, now, result) in results {
            match result {
                Ok(outcomes) => {
                    let late = metrics::histogram!("chime_scheduler_emit_lateness_seconds");
                    for item in chunk.iter().flat_map(|b| &b.items) {
                        if let Late::Emit(tick_ms) = item {
                            late.record((now - tick_ms).max(0) as f64 / 1000.0);
                        }
                    }
                    for outcome in outcomes {
                        let slot = match outcome {
                            TickOutcome::Emitted | TickOutcome::Replaced => 0,
                            TickOutcome::Skipped => 1,
                            TickOutcome::Missed => 2,
                            TickOutcome::Duplicate => 3,
                        };
                        counts[slot] += 1;
                    }
                    for batch in chunk {
                        self.engine.acked(batch, true, now);
                    }
                }
                Err(err) => {
                    for batch in chunk {
                        self.engine.acked(batch, false, now);
                    }
                    if failure.is_none() || matches!(err, QueueError::LeaseLost) {
                        failure = Some(err);
                    }
                }
            }
        }
        self.status.send_modify(|s| {
            s.emitted += counts[0];
            s.skipped += counts[1];
            s.missed += counts[2];
            s.duplicates += counts[3];
        });
        for (outcome, n) in ["emitted", "skipped", "missed", "duplicate"]
            .into_iter()
            .zip(counts)
        {
            if n > 0 {
                metrics::counter!("chime_scheduler_ticks_total", "outcome" => outcome).increment(n);
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    async fn promote_due(&mut self, handle: &Arc<LeaseHandle>) -> Result<(), QueueError> {
        const LIMIT: usize = 500;
        loop {
            let now = now_ms();
            let members = promote::due(&mut self.conn, &self.keys, now, LIMIT).await?;
            if members.is_empty() {
                return Ok(());
            }
            let epoch = handle.lease().epoch();
            let promotions: Vec<Promotion> = members
                .iter()
                .filter_map(|member| {
                    let (queue, event) = payload::promoted(member, now, epoch)?;
                    Some(Promotion {
                        member: member.clone(),
                        queue,
                        event,
                    })
                })
                .collect();
            if promotions.len() < members.len() {
                tracing::warn!(
                    n = members.len() - promotions.len(),
                    "delayed set holds members that are not events; leaving them"
                );
            }
            if !handle.is_valid() {
                return Err(QueueError::LeaseLost);
            }
            let done = promote::promote(&mut self.conn, &self.keys, handle.lease(), &promotions)
                .await?
                .into_iter()
                .filter(|p| *p)
                .count() as u64;
            self.status.send_modify(|s| s.promoted += done);
            metrics::counter!("chime_scheduler_promoted_total").increment(done);
            if members.len() < LIMIT || promotions.is_empty() {
                return Ok(());
            }
        }
    }

    /// Trims every queue behind `executors` and the results behind
    /// `recorders`; failures only delay the next trim.
    async fn trim(&mut self) {
        let queues = match trim::queues(&mut self.conn, &self.keys).await {
            Ok(queues) => queues,
            Err(err) => {
                tracing::debug!(error = %err, "cannot list queues to trim");
                return;
            }
        };
        let mut streams: Vec<(String, &str)> = queues
            .iter()
            .map(|q| (self.keys.queue(q), EXECUTOR_GROUP))
            .collect();
        streams.push((self.keys.results(), RECORDER_GROUP));
        for (stream, group) in streams {
            if let Err(err) = trim::trim_stream(&mut self.conn, &stream, group).await {
                tracing::debug!(error = %err, stream, "trim failed");
            }
        }
    }
}

/// One script call's batches, its "now", and what the script answered.
type Sent = (Vec<Batch>, i64, Result<Vec<TickOutcome>, QueueError>);

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Wall-clock microseconds since the epoch.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}
