//! `chime api`: serve the REST API. Checks the tokens, applies migrations
//! (unless `--no-migrate`), installs the metrics recorder, binds `--listen`
//! and runs `chime_api::run` until the root token is cancelled.

use std::time::Duration;

use anyhow::{Context, anyhow};
use chime_api::recorder::{self, RecorderDeps};
use chime_api::{ApiConfig, Deps, Token, retention};
use chime_core::Keys;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::ApiArgs;
use crate::config::Settings;

/// How long in-flight requests may take to finish after shutdown begins;
/// each is bounded by the API's own request timeout well before this.
const DRAIN_DEADLINE: Duration = Duration::from_secs(15);

pub(crate) async fn run(
    settings: &Settings,
    args: ApiArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tokens = settings
        .api_tokens
        .iter()
        .map(|text| text.parse::<Token>().map_err(|e| anyhow!("api_token: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pool = settings.database.connect()?;
    if !args.no_migrate {
        chime_store::migrate(&pool)
            .await
            .with_context(|| format!("migrating {}", settings.database.redacted_url()))?;
    }
    let redis = chime_queue::connection::client(&settings.redis_url).context("redis_url")?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("listen: cannot bind {}", settings.listen))?;
    let address = listener.local_addr().context("listen: local address")?;
    tracing::info!(
        url = %format!("http://{address}"),
        node_id = %settings.node_id,
        n_tokens = tokens.len(),
        "api listening"
    );
    let config = ApiConfig {
        prefix: settings.prefix.clone(),
        tokens,
        ..ApiConfig::default()
    };
    let background = spawn_recorder_and_retention(settings, &pool, &redis, &shutdown);
    let deps = Deps {
        pool,
        redis,
        metrics,
    };
    let served = serve(config, deps, listener, shutdown.clone()).await;
    shutdown.cancel();
    background.close();
    if tokio::time::timeout(DRAIN_DEADLINE, background.wait())
        .await
        .is_err()
    {
        tracing::warn!("the recorder did not stop by the drain deadline");
    }
    served
}

/// The recorder and the retention pruner run beside the API in every replica:
/// results are recorded as long as one API replica is up.
pub(crate) fn spawn_recorder_and_retention(
    settings: &Settings,
    pool: &sqlx::PgPool,
    redis: &redis::Client,
    shutdown: &CancellationToken,
) -> TaskTracker {
    let tracker = TaskTracker::new();
    let deps = RecorderDeps {
        pool: pool.clone(),
        redis: redis.clone(),
        keys: Keys::new(settings.prefix.clone()),
        consumer: settings.node_id.clone(),
    };
    tracker.spawn(recorder::run(
        settings.recorder.clone(),
        deps,
        shutdown.clone(),
    ));
    tracker.spawn(retention::run(
        settings.retention.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    tracker
}

/// Serves until shutdown, then drains in-flight requests up to the deadline.
async fn serve(
    config: ApiConfig,
    deps: Deps,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let serve = chime_api::run(config, deps, listener, shutdown.clone());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN_DEADLINE).await;
    };
    tokio::select! {
        served = serve => served,
        _ = deadline => {
            tracing::warn!(deadline = ?DRAIN_DEADLINE, "requests still in flight at the drain deadline; stopping");
            Ok(())
        }
    }
}
