//! What the benches share: a scratch database, percentiles.

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// The nearest-rank percentile `p` (0-100) of sorted values; 0 when empty.
pub(super) fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A database of the bench's own, dropped at the end.
pub(super) struct ScratchDb {
    pub(super) pool: PgPool,
    name: String,
    admin_url: String,
}

impl ScratchDb {
    /// The scratch database's URL, for child processes.
    pub(super) fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        format!("{base}/{}", self.name)
    }

    pub(super) async fn create(admin_url: &str) -> anyhow::Result<ScratchDb> {
        let name = format!("chime_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .context("connecting to Postgres")?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .context("creating a scratch database (does the role have CREATEDB?)")?;
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("the database URL has no database name")?;
        let url = format!("{base}/{name}");
        let pool = chime_store::connect_lazy(&url, 8)?;
        chime_store::migrate(&pool).await?;
        Ok(ScratchDb {
            pool,
            name,
            admin_url: admin_url.to_owned(),
        })
    }

    pub(super) async fn drop(self) {
        self.pool.close().await;
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}
