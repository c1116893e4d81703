//! The jobs repository: current definitions, their versions, soft deletion,
//! optimistic concurrency (`expected_version`), idempotent upsert by name and
//! the filtered, name-ordered listing of the API.

use chime_core::RunState;
use chime_core::job::{Catchup, JobSpec, OverlapPolicy, RetryPolicy, Target};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor, PgPool, Row};
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

pub(crate) const COLUMNS: &str = "id, name, version, schedule, timezone, queue, target, timeout_s, retry, \
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
    let job = insert_in(&mut tx, id, spec, now).await?;
    tx.commit().await?;
    Ok(job)
}

async fn insert_in(
    conn: &mut PgConnection,
    id: Uuid,
    spec: &JobSpec,
    now: DateTime<Utc>,
) -> Result<StoredJob, StoreError> {
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
    .fetch_one(&mut *conn)
    .await?;
    let job = from_row(&row)?;
    record_version(&mut *conn, &job).await?;
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

/// The job whose run history `name` refers to: the live job with that
/// name, or else the one deleted last. `None` when no job ever had it.
/// History outlives its job, so reading it must find deleted jobs too.
pub async fn history_id_by_name(pool: &PgPool, name: &str) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM jobs WHERE name = $1 \
         ORDER BY deleted_at IS NULL DESC, deleted_at DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// Whether a job with `id` exists or existed (deleted jobs keep their row).
pub async fn ever_existed(pool: &PgPool, id: Uuid) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
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

/// Replaces a live job's definition and bumps its version. With
/// `expected_version`, the row must still be at that version, else
/// [`StoreError::VersionMismatch`]. A pause reason survives only while the
/// new definition stays paused. `Ok(None)`: no live job has that id.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    expected_version: Option<i64>,
    spec: &JobSpec,
    now: DateTime<Utc>,
) -> Result<Option<StoredJob>, StoreError> {
    let mut tx = pool.begin().await?;
    let Some(job) = update_in(&mut tx, id, expected_version, spec, now).await? else {
        return not_changed(&mut tx, id, expected_version).await;
    };
    tx.commit().await?;
    Ok(Some(job))
}

async fn update_in(
    conn: &mut PgConnection,
    id: Uuid,
    expected_version: Option<i64>,
    spec: &JobSpec,
    now: DateTime<Utc>,
) -> Result<Option<StoredJob>, StoreError> {
    let sql = format!(
        "UPDATE jobs SET name = $2, schedule = $3, timezone = $4, queue = $5, target = $6, \
         timeout_s = $7, retry = $8, overlap = $9, catchup = $10, starting_deadline_s = $11, \
         jitter_s = $12, paused = $13, labels = $14, description = $15, updated_at = $16, \
         paused_reason = CASE WHEN $13 THEN paused_reason END, version = version + 1 \
         WHERE id = $1 AND deleted_at IS NULL AND ($17::bigint IS NULL OR version = $17) \
         RETURNING {COLUMNS}"
    );
    let row = bind_spec(
        sqlx::query(AssertSqlSafe(sql)).bind(id).bind(&spec.name),
        spec,
    )
    .bind(now)
    .bind(expected_version)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let job = from_row(&row)?;
    record_version(&mut *conn, &job).await?;
    Ok(Some(job))
}

/// Pauses (with an optional reason shown to people) or resumes a live job.
/// Either bumps the version, so the scheduler sees the change.
/// `expected_version` and `Ok(None)` work as in [`update`].
pub async fn set_paused(
    pool: &PgPool,
    id: Uuid,
    expected_version: Option<i64>,
    paused: bool,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<StoredJob>, StoreError> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "UPDATE jobs SET paused = $2, paused_reason = $3, updated_at = $4, version = version + 1 \
         WHERE id = $1 AND deleted_at IS NULL AND ($5::bigint IS NULL OR version = $5) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(paused)
        .bind(if paused { reason } else { None })
        .bind(now)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return not_changed(&mut tx, id, expected_version).await;
    };
    let job = from_row(&row)?;
    record_version(&mut *tx, &job).await?;
    tx.commit().await?;
    Ok(Some(job))
}

/// Soft-deletes a live job: `deleted_at` is set and its history stays. The
/// version is bumped too, so every entry on the changes stream carries a
/// version newer than the one before. `expected_version` and `Ok(None)`
/// work as in [`update`].
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<StoredJob>, StoreError> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "UPDATE jobs SET deleted_at = $2, updated_at = $2, version = version + 1 \
         WHERE id = $1 AND deleted_at IS NULL AND ($3::bigint IS NULL OR version = $3) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(now)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return not_changed(&mut tx, id, expected_version).await;
    };
    let job = from_row(&row)?;
    record_version(&mut *tx, &job).await?;
    tx.commit().await?;
    Ok(Some(job))
}

/// Why a conditional change touched no row: the job is gone (`Ok(None)`) or
/// its version moved on.
async fn not_changed(
    conn: &mut PgConnection,
    id: Uuid,
    expected_version: Option<i64>,
) -> Result<Option<StoredJob>, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT version FROM jobs WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match (found, expected_version) {
        (Some(found), Some(expected)) => Err(StoreError::VersionMismatch { expected, found }),
        _ => Ok(None),
    }
}

/// What [`upsert_by_name`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upserted {
    /// No live job had the name: created at version 1.
    Created(StoredJob),
    /// The definition differed: a new version.
    Updated(StoredJob),
    /// The stored definition equals the given one: nothing written.
    Unchanged(StoredJob),
}

/// Creates the live job named `spec.name`, or replaces its definition when
/// it differs, so applying the same document twice makes one version
/// (configuration kept in git). `new_id` is used only when creating. Two
/// racing creations of one name end in [`StoreError::Conflict`] for one of
/// them; calling again then finds the row.
pub async fn upsert_by_name(
    pool: &PgPool,
    new_id: Uuid,
    spec: &JobSpec,
    now: DateTime<Utc>,
) -> Result<Upserted, StoreError> {
    let mut tx = pool.begin().await?;
    let sql =
        format!("SELECT {COLUMNS} FROM jobs WHERE name = $1 AND deleted_at IS NULL FOR UPDATE");
    let current = sqlx::query(AssertSqlSafe(sql))
        .bind(&spec.name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| from_row(&row))
        .transpose()?;
    let upserted = match current {
        None => Upserted::Created(insert_in(&mut tx, new_id, spec, now).await?),
        Some(job) if job.spec == *spec => Upserted::Unchanged(job),
        Some(job) => match update_in(&mut tx, job.id, Some(job.version), spec, now).await? {
            Some(job) => Upserted::Updated(job),
            // The row is locked, so it cannot have changed under us.
            None => return Err(StoreError::Conflict("job changed during upsert".to_owned())),
        },
    };
    tx.commit().await?;
    Ok(upserted)
}

/// Filters of [`list`]; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only jobs on this queue.
    pub queue: Option<String>,
    /// Only paused (`true`) or only active (`false`) jobs.
    pub paused: Option<bool>,
    /// Only jobs whose name starts with this.
    pub name_prefix: Option<String>,
    /// Only jobs carrying every one of these labels.
    pub labels: Vec<(String, String)>,
}

/// The newest run of a job, for list pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestRun {
    /// The run.
    pub id: Uuid,
    /// Its state.
    pub state: RunState,
    /// Its latest attempt.
    pub attempt: i32,
    /// Its tick.
    pub scheduled_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One row of [`list`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListedJob {
    /// The job.
    pub job: StoredJob,
    /// Its newest run by tick, once it has one.
    pub latest_run: Option<LatestRun>,
}

/// Live jobs matching `filter` with names after `after_name`, in name
/// order, at most `limit`: the API's paginated listing.
pub async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    after_name: Option<&str>,
    limit: i64,
) -> Result<Vec<ListedJob>, StoreError> {
    // Two filters on one label key with different values can never both
    // hold; one containment object could not say that, so answer directly.
    let mut labels = serde_json::Map::new();
    for (key, value) in &filter.labels {
        let value = serde_json::Value::String(value.clone());
        if labels.get(key).is_some_and(|old| *old != value) {
            return Ok(Vec::new());
        }
        labels.insert(key.clone(), value);
    }
    let labels = (!labels.is_empty()).then_some(serde_json::Value::Object(labels));
    // The lateral subquery renames its columns, so the job columns stay
    // unambiguous.
    let sql = format!(
        "SELECT {COLUMNS}, r.run_id, r.run_state, r.run_attempt, r.run_scheduled_at, \
         r.run_finished_at FROM jobs \
         LEFT JOIN LATERAL (SELECT id AS run_id, state AS run_state, attempt AS run_attempt, \
           scheduled_at AS run_scheduled_at, finished_at AS run_finished_at FROM runs \
           WHERE runs.job_id = jobs.id ORDER BY scheduled_at DESC, id DESC LIMIT 1) r ON true \
         WHERE deleted_at IS NULL \
           AND ($1::text IS NULL OR name > $1) \
           AND ($2::text IS NULL OR queue = $2) \
           AND ($3::bool IS NULL OR paused = $3) \
           AND ($4::text IS NULL OR starts_with(name, $4)) \
           AND ($5::jsonb IS NULL OR labels @> $5) \
         ORDER BY name LIMIT $6"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(after_name)
        .bind(filter.queue.as_deref())
        .bind(filter.paused)
        .bind(filter.name_prefix.as_deref())
        .bind(labels)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let job = from_row(row)?;
            let run_id: Option<Uuid> = row.try_get("run_id")?;
            let latest_run = match run_id {
                None => None,
                Some(id) => {
                    let state: String = row.try_get("run_state")?;
                    Some(LatestRun {
                        id,
                        state: state
                            .parse()
                            .map_err(|e: String| StoreError::Corrupt(format!("runs.state: {e}")))?,
                        attempt: row.try_get("run_attempt")?,
                        scheduled_at: row.try_get("run_scheduled_at")?,
                        finished_at: row.try_get("run_finished_at")?,
                    })
                }
            };
            Ok(ListedJob { job, latest_run })
        })
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
