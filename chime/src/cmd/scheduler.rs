//! `chime scheduler`: one scheduler replica.

use anyhow::Context;
use chime_core::Keys;
use chime_scheduler::{SchedulerConfig, SchedulerDeps, Status};
use tokio_util::sync::CancellationToken;

use crate::cli::SchedulerArgs;
use crate::config::Settings;

pub(crate) async fn run(
    settings: &Settings,
    args: SchedulerArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = config(settings, &args);
    // Bad settings stop the process before anything starts.
    config.validate()?;
    tracing::debug!(?config, "scheduler settings");
    let pool = settings.database.connect()?;
    if !args.no_migrate {
        chime_store::migrate(&pool)
            .await
            .with_context(|| format!("migrating {}", settings.database.redacted_url()))?;
    }
    let redis = chime_queue::connection::client(&settings.redis_url).context("redis_url")?;
    let (status, _) = tokio::sync::watch::channel(Status::default());
    let deps = SchedulerDeps {
        pool,
        redis,
        keys: Keys::new(settings.prefix.clone()),
        node_id: settings.node_id.clone(),
        status,
    };
    chime_scheduler::run(config, deps, shutdown).await
}

/// The settings file's `[scheduler]`, overridden by flags.
fn config(settings: &Settings, args: &SchedulerArgs) -> SchedulerConfig {
    let mut config = settings.scheduler.clone();
    if let Some(ttl) = args.lease_ttl_ms {
        config.lease_ttl_ms = ttl;
    }
    if let Some(renew) = args.renew_interval_ms {
        config.renew_interval_ms = Some(renew);
    }
    if let Some(resync) = args.resync_interval_ms {
        config.resync_interval_ms = resync;
    }
    if let Some(cap) = args.catchup_cap {
        config.catchup_cap = cap;
    }
    config
}
