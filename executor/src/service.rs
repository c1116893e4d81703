//! The executor's `run`: joins the queues' consumer group, starts the
//! reader, the reclaimer, the claim keeper, the settler, the heartbeat and
//! the control listener, and on shutdown stops claiming, lets runs finish within the
//! grace period, abandons the rest (unacknowledged, for another executor)
//! and leaves the registry.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chime_core::Keys;
use chime_queue::control::ControlSubscription;
use redis::aio::ConnectionManager;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_ms;
use crate::inflight::InFlight;
use crate::settler::{self, Settler};
use crate::{ExecutorConfig, ExecutorError, claim, control, heartbeat, inflight};

/// What the executor needs from its caller besides its config.
#[derive(Debug, Clone)]
pub struct ExecutorDeps {
    /// The Redis to work against.
    pub redis: redis::Client,
    /// This host's name, for the executor id and the registry.
    pub host: String,
    /// The process's node id (`--node-id`), for the registry and logs.
    pub node_id: String,
}

/// State every task of one executor shares.
pub(crate) struct Shared {
    pub(crate) config: ExecutorConfig,
    pub(crate) keys: Keys,
    /// `host:pid:random`: the consumer name in every queue's group.
    pub(crate) executor_id: String,
    pub(crate) host: String,
    pub(crate) node_id: String,
    pub(crate) client: redis::Client,
    /// Short commands from every task share this connection.
    pub(crate) redis: ConnectionManager,
    pub(crate) http: reqwest::Client,
    pub(crate) inflight: InFlight,
    /// Where finished runs hand their settlement.
    pub(crate) settler: Settler,
    /// Fires when the shutdown grace is over: runs still going are killed
    /// and left unacknowledged.
    pub(crate) abandon: CancellationToken,
    pub(crate) kill_grace: Duration,
}

/// Runs an executor until `shutdown` fires and its runs have finished or
/// been abandoned. Fails only at start (bad config, Redis unreachable);
/// later Redis errors are retried with backoff.
pub async fn run(
    config: ExecutorConfig,
    deps: ExecutorDeps,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    config.validate()?;
    let keys = Keys::new(config.prefix.clone());
    let executor_id = format!(
        "{}:{}:{:08x}",
        deps.host,
        std::process::id(),
        rand::random::<u32>()
    );
    let redis = chime_queue::connection::manager(&deps.redis)
        .await
        .context("connecting to redis")?;
    let mut setup = redis.clone();
    for queue in &config.queues {
        chime_queue::consume::ensure_group(&mut setup, &keys, queue)
            .await
            .with_context(|| format!("joining the consumer group of queue '{queue}'"))?;
    }
    let subscription = ControlSubscription::subscribe(&deps.redis, &keys)
        .await
        .context("subscribing to the control channel")?;
    let http = http_client()?;
    let (settler, settlements) = Settler::new();

    let shared = Arc::new(Shared {
        kill_grace: Duration::from_millis(config.kill_grace_ms),
        config,
        keys,
        executor_id,
        host: deps.host,
        node_id: deps.node_id,
        client: deps.redis,
        redis,
        http,
        inflight: InFlight::default(),
        settler,
        abandon: CancellationToken::new(),
    });
    let permits = Arc::new(Semaphore::new(shared.config.concurrency));

    let background = CancellationToken::new();
    let services = TaskTracker::new();
    services.spawn(inflight::keep_fresh(shared.clone(), background.clone()));
    services.spawn(settler::run(
        shared.clone(),
        settlements,
        background.clone(),
    ));
    services.spawn(heartbeat::beat(
        shared.clone(),
        now_ms(),
        background.clone(),
    ));
    services.spawn(control::listen(
        shared.clone(),
        subscription,
        background.clone(),
    ));

    let runs = TaskTracker::new();
    let claimers = TaskTracker::new();
    claimers.spawn(claim::read_new(
        shared.clone(),
        permits.clone(),
        runs.clone(),
        shutdown.clone(),
    ));
    claimers.spawn(claim::reclaim_idle(
        shared.clone(),
        permits,
        runs.clone(),
        shutdown.clone(),
    ));
    tracing::info!(
        executor_id = %shared.executor_id,
        queues = %shared.config.queues.join(","),
        concurrency = shared.config.concurrency,
        visibility_timeout_ms = shared.config.visibility_timeout_ms,
        "executor started"
    );

    shutdown.cancelled().await;
    claimers.close();
    claimers.wait().await;
    runs.close();
    let grace = Duration::from_millis(shared.config.shutdown_grace_ms);
    tracing::info!(
        running = shared.inflight.len(),
        grace_ms = shared.config.shutdown_grace_ms,
        "stopped claiming; waiting for runs"
    );
    if tokio::time::timeout(grace, runs.wait()).await.is_err() {
        tracing::warn!(
            running = shared.inflight.len(),
            "shutdown grace over; abandoning runs"
        );
        shared.abandon.cancel();
        runs.wait().await;
    }
    background.cancel();
    services.close();
    services.wait().await;
    tracing::info!(executor_id = %shared.executor_id, "executor stopped");
    Ok(())
}

/// The HTTP client for `http` targets. The binary installs the rustls
/// crypto provider; without one, building a client would panic.
fn http_client() -> Result<reqwest::Client, ExecutorError> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        return Err(ExecutorError::Startup(
            "no rustls crypto provider installed (the binary installs ring's at start)".to_owned(),
        ));
    }
    reqwest::Client::builder()
        .build()
        .map_err(|e| ExecutorError::Startup(format!("http client: {e}")))
}
