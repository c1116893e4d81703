//! Chime's Postgres layer: job definitions and run history.
//!
//! Postgres is the source of truth for what jobs exist and what ran. This
//! crate owns every SQL statement; callers see typed repositories.

pub mod bulk;
mod error;
pub mod jobs;
pub mod runs;
pub mod sync;

pub use error::StoreError;
pub use jobs::{LatestRun, ListFilter, ListedJob, StoredJob, Upserted};

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `../migrations`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects a pool to `url`. Connections are opened lazily, so a database
/// that is down at start is retried on first use instead of failing startup.
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e: sqlx::Error| StoreError::Config(format!("database url: {e}")))?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await.map_err(StoreError::Migrate)
}
