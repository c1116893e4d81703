//! Bulk loading of job definitions, many rows per statement: for
//! benchmarks and imports, where inserting a million jobs one transaction
//! at a time would take a quarter of an hour.

use chime_core::JobSpec;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

use crate::StoreError;

/// Rows per statement: 20 parameters a row stays under Postgres's 65535.
const ROWS: usize = 1000;

/// Inserts `jobs` at version 1, created at `now`, each chunk of rows in one
/// transaction with its `job_versions` rows. The specs are not validated:
/// callers pass definitions they built themselves.
pub async fn insert_jobs(
    pool: &PgPool,
    jobs: &[(Uuid, JobSpec)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in jobs.chunks(ROWS) {
        let mut tx = pool.begin().await?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO jobs (id, name, version, schedule, timezone, queue, target, timeout_s, \
             retry, overlap, catchup, starting_deadline_s, jitter_s, paused, paused_reason, labels, \
             description, created_at, updated_at, deleted_at) ",
        );
        insert.push_values(chunk, |mut row, (id, spec)| {
            row.push_bind(*id)
                .push_bind(&spec.name)
                .push_bind(1i64)
                .push_bind(&spec.schedule)
                .push_bind(&spec.timezone)
                .push_bind(&spec.queue)
                .push_bind(Json(&spec.target))
                .push_bind(spec.timeout_s as i64)
                .push_bind(Json(&spec.retry))
                .push_bind(spec.overlap.as_str())
                .push_bind(Json(&spec.catchup))
                .push_bind(spec.starting_deadline_s.map(|s| s as i64))
                .push_bind(spec.jitter_s as i64)
                .push_bind(spec.paused)
                .push_bind(None::<String>)
                .push_bind(Json(&spec.labels))
                .push_bind(spec.description.as_deref())
                .push_bind(now)
                .push_bind(now)
                .push_bind(None::<DateTime<Utc>>);
        });
        insert.build().execute(&mut *tx).await?;
        let mut versions = QueryBuilder::new(
            "INSERT INTO job_versions (job_id, version, definition, created_at) ",
        );
        versions.push_values(chunk, |mut row, (id, spec)| {
            row.push_bind(*id)
                .push_bind(1i64)
                .push_bind(Json(spec))
                .push_bind(now);
        });
        versions.build().execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Sets every job's creation instant (where its first tick is counted
/// from), for a benchmark that loads its jobs first and decides when their
/// schedules start afterwards, before any scheduler has read them.
pub async fn set_created_at(pool: &PgPool, at: DateTime<Utc>) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE jobs SET created_at = $1, updated_at = $1")
        .bind(at)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Refreshes the planner's statistics of `jobs` after a bulk load. Without
/// them a freshly filled table can get a sequential scan and sort for every
/// page of `list_live_page`, which turns loading a million jobs from
/// seconds into minutes; autovacuum would get there, later.
pub async fn analyze(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("ANALYZE jobs").execute(pool).await?;
    Ok(())
}
