//! What a scheduler reads to keep its cache of live jobs current: versions
//! first, full rows only for what changed, so a periodic resync of a
//! million unchanged jobs reads two columns instead of twenty.

use sqlx::{AssertSqlSafe, PgPool, Row};
use uuid::Uuid;

use crate::StoreError;
use crate::jobs::{COLUMNS, StoredJob, from_row};

/// `(id, version)` of live jobs with ids above `after`, in id order, at
/// most `limit`.
pub async fn live_versions_page(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    sqlx::query(
        "SELECT id, version FROM jobs WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after.unwrap_or(Uuid::nil()))
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("id")?, row.try_get("version")?)))
    .collect()
}

/// The live jobs among `ids` (deleted or unknown ids are left out).
pub async fn live_by_ids(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<StoredJob>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ANY($1) AND deleted_at IS NULL");
    sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}
