//! The jobs repository: current definitions, their versions, soft deletion.

use chime_core::job::{Catchup, JobSpec, OverlapPolicy, RetryPolicy, Target};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgExecutor, PgPool, Row};
use uuid::Uuid;

use crate::StoreError;

/// A job as stored: its definition plus identity and bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    /// UUIDv7, stable across versions.
    pub id: Uuid,
    /// Incremented by every change, pause and resume included.
    pub version: i64,
    /// The definition.
    pub spec: JobSpec,
    /// Why it was paused, when it was paused with a reason.
    pub paused_reason: Option<String>,
    /// When it was created; `@every` intervals count from here.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deleted; deleted jobs keep their history.
    pub deleted_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, version, schedule, timezone, queue, target, timeout_s, retry, \
     overlap, catchup, starting_deadline_s, jitter_s, paused, paused_reason, labels, \
     description, created_at, updated_at, deleted_at";

/// Inserts a new job at version 1. A live job with the same name is a
/// [`StoreError::Conflict`].
pub async fn insert(
    pool: &PgPool,
    id: Uuid,
    spec: &JobSpec,
    now: DateTime<Utc>,
) -> Result<StoredJob, StoreError> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "INSERT INTO jobs ({COLUMNS}) VALUES \
         ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15, $16, $16, NULL) \
         RETURNING {COLUMNS}"
    );
    let row = bind_spec(
        sqlx::query(AssertSqlSafe(sql)).bind(id).bind(&spec.name),
        spec,
    )
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let job = from_row(&row)?;
    record_version(&mut *tx, &job).await?;
    tx.commit().await?;
    Ok(job)
}

/// Looks a live job up by id.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<StoredJob>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND deleted_at IS NULL");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// Looks a live job up by name.
pub async fn get_by_name(pool: &PgPool, name: &str) -> Result<Option<StoredJob>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE name = $1 AND deleted_at IS NULL");
    sqlx::query(AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// Live jobs with ids above `after`, in id order, at most `limit`: the
/// scheduler loads every job in such pages.
pub async fn list_live_page(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoredJob>, StoreError> {
    // `id > $1` alone (nil for the first page) keeps the primary key range
    // scan in Postgres's generic plan; `$1 IS NULL OR id > $1` made each
    // page a full scan and sort, quadratic over a million jobs.
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Writes a version's definition into `job_versions`.
pub(crate) async fn record_version<'e>(
    executor: impl PgExecutor<'e>,
    job: &StoredJob,
) -> Result<(), StoreError> {
    let definition =
        serde_json::to_value(&job.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO job_versions (job_id, version, definition, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(job.id)
    .bind(job.version)
    .bind(definition)
    .bind(job.updated_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Binds the definition's columns after `id` and `name`, in [`COLUMNS`] order
/// from `schedule` to `description` (paused_reason excluded).
pub(crate) fn bind_spec<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    spec: &'q JobSpec,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&spec.schedule)
        .bind(&spec.timezone)
        .bind(&spec.queue)
        .bind(sqlx::types::Json(&spec.target))
        .bind(spec.timeout_s as i64)
        .bind(sqlx::types::Json(&spec.retry))
        .bind(spec.overlap.as_str())
        .bind(sqlx::types::Json(&spec.catchup))
        .bind(spec.starting_deadline_s.map(|s| s as i64))
        .bind(spec.jitter_s as i64)
        .bind(spec.paused)
        .bind(sqlx::types::Json(&spec.labels))
        .bind(spec.description.as_deref())
}

/// Decodes a row selected with [`COLUMNS`].
pub(crate) fn from_row(row: &PgRow) -> Result<StoredJob, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("jobs.{what}: {e}"));
    let overlap: String = row.try_get("overlap")?;
    let overlap = match overlap.as_str() {
        "allow" => OverlapPolicy::Allow,
        "forbid" => OverlapPolicy::Forbid,
        "replace" => OverlapPolicy::Replace,
        other => return Err(corrupt("overlap", &other)),
    };
    let target: sqlx::types::Json<Target> =
        row.try_get("target").map_err(|e| corrupt("target", &e))?;
    let retry: sqlx::types::Json<RetryPolicy> =
        row.try_get("retry").map_err(|e| corrupt("retry", &e))?;
    let catchup: sqlx::types::Json<Catchup> =
        row.try_get("catchup").map_err(|e| corrupt("catchup", &e))?;
    let labels: sqlx::types::Json<std::collections::BTreeMap<String, String>> =
        row.try_get("labels").map_err(|e| corrupt("labels", &e))?;
    let starting_deadline_s: Option<i64> = row.try_get("starting_deadline_s")?;
    let spec = JobSpec {
        name: row.try_get("name")?,
        schedule: row.try_get("schedule")?,
        timezone: row.try_get("timezone")?,
        queue: row.try_get("queue")?,
        target: target.0,
        timeout_s: row.try_get::<i64, _>("timeout_s")?.max(0) as u64,
        retry: retry.0,
        overlap,
        catchup: catchup.0,
        starting_deadline_s: starting_deadline_s.map(|s| s.max(0) as u64),
        jitter_s: row.try_get::<i64, _>("jitter_s")?.max(0) as u64,
        paused: row.try_get("paused")?,
        labels: labels.0,
        description: row.try_get("description")?,
    };
    Ok(StoredJob {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        spec,
        paused_reason: row.try_get("paused_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}
