//! `chime api`: serve the REST API. Checks the tokens, applies migrations
//! (unless `--no-migrate`), installs the metrics recorder, binds `--listen`
//! and runs `chime_api::run` until the root token is cancelled.

use std::time::Duration;

use anyhow::{Context, anyhow};
use chime_api::{ApiConfig, Deps, Token};
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
    let deps = Deps {
        pool,
        redis,
        metrics,
    };
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
