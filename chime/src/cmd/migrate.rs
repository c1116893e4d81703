//! `chime migrate`: apply the database migrations and exit.

use anyhow::Context;

use crate::config::Settings;

pub(crate) async fn run(settings: &Settings) -> anyhow::Result<()> {
    let pool = settings.database.connect()?;
    chime_store::migrate(&pool)
        .await
        .with_context(|| format!("migrating {}", settings.database.redacted_url()))?;
    tracing::info!("migrations applied");
    Ok(())
}
