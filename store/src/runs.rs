//! The runs repository: run history written by the recorder, read by the API.
//!
//! Each result is upserted into `run_attempts` by `(run_id, attempt)`, and
//! `runs` is then recomputed from the latest attempt. A state never moves
//! backwards (terminal > running > queued), so a result applied twice, or a
//! `running` that arrives after its terminal state, changes nothing.

use std::collections::HashMap;

use chime_core::RunState;
use chime_core::wire::RunResult;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::StoreError;

/// Writes a batch of results in one transaction. Idempotent.
pub async fn record(pool: &PgPool, results: &[RunResult]) -> Result<(), StoreError> {
    if results.is_empty() {
        return Ok(());
    }
    let merged = merge_batch(results);
    let mut columns = AttemptColumns::default();
    for result in &merged {
        columns.push(result);
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO run_attempts (run_id, attempt, state, executor_id, emitted_at, started_at, \
             finished_at, exit_code, http_status, error, stdout, stderr) \
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], \
             $6::timestamptz[], $7::timestamptz[], $8::int[], $9::int[], $10::text[], $11::text[], \
             $12::text[]) \
         ON CONFLICT (run_id, attempt) DO UPDATE SET \
             state = CASE WHEN chime_state_rank(EXCLUDED.state) >= chime_state_rank(run_attempts.state) \
                          THEN EXCLUDED.state ELSE run_attempts.state END, \
             executor_id = COALESCE(EXCLUDED.executor_id, run_attempts.executor_id), \
             emitted_at = COALESCE(run_attempts.emitted_at, EXCLUDED.emitted_at), \
             started_at = COALESCE(run_attempts.started_at, EXCLUDED.started_at), \
             finished_at = COALESCE(EXCLUDED.finished_at, run_attempts.finished_at), \
             exit_code = COALESCE(EXCLUDED.exit_code, run_attempts.exit_code), \
             http_status = COALESCE(EXCLUDED.http_status, run_attempts.http_status), \
             error = COALESCE(EXCLUDED.error, run_attempts.error), \
             stdout = COALESCE(EXCLUDED.stdout, run_attempts.stdout), \
             stderr = COALESCE(EXCLUDED.stderr, run_attempts.stderr)",
    )
    .bind(&columns.run_id)
    .bind(&columns.attempt)
    .bind(&columns.state)
    .bind(&columns.executor_id)
    .bind(&columns.emitted_at)
    .bind(&columns.started_at)
    .bind(&columns.finished_at)
    .bind(&columns.exit_code)
    .bind(&columns.http_status)
    .bind(&columns.error)
    .bind(&columns.stdout)
    .bind(&columns.stderr)
    .execute(&mut *tx)
    .await?;

    // One row per run, from its newest attempt. Run-level facts (job, tick,
    // trigger) come from the batch; a retry's trigger never replaces the
    // trigger that started the run.
    let mut run_ids = Vec::new();
    let mut job_ids = Vec::new();
    let mut job_versions = Vec::new();
    let mut triggers = Vec::new();
    let mut scheduled = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for result in &merged {
        if seen.insert(result.run_id) {
            run_ids.push(result.run_id);
            job_ids.push(result.job_id);
            job_versions.push(result.job_version);
            triggers.push(result.trigger.as_str().to_owned());
            scheduled.push(millis(result.scheduled_at));
        }
    }
    sqlx::query(
        "INSERT INTO runs (id, job_id, job_version, trigger, state, attempt, scheduled_at, emitted_at, \
             started_at, finished_at, executor_id, exit_code, http_status, error, stdout, stderr, updated_at) \
         SELECT b.id, b.job_id, b.job_version, b.trigger, a.state, a.attempt, b.scheduled_at, \
             a.emitted_at, a.started_at, a.finished_at, a.executor_id, a.exit_code, a.http_status, \
             a.error, a.stdout, a.stderr, now() \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::timestamptz[]) \
             AS b(id, job_id, job_version, trigger, scheduled_at) \
         CROSS JOIN LATERAL (SELECT * FROM run_attempts WHERE run_id = b.id \
             ORDER BY attempt DESC LIMIT 1) a \
         ON CONFLICT (id) DO UPDATE SET \
             state = EXCLUDED.state, attempt = EXCLUDED.attempt, emitted_at = EXCLUDED.emitted_at, \
             started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, \
             executor_id = EXCLUDED.executor_id, exit_code = EXCLUDED.exit_code, \
             http_status = EXCLUDED.http_status, error = EXCLUDED.error, stdout = EXCLUDED.stdout, \
             stderr = EXCLUDED.stderr, updated_at = now(), \
             trigger = CASE WHEN runs.trigger = 'retry' THEN EXCLUDED.trigger ELSE runs.trigger END",
    )
    .bind(&run_ids)
    .bind(&job_ids)
    .bind(&job_versions)
    .bind(&triggers)
    .bind(&scheduled)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Folds results for the same `(run_id, attempt)` into one, as the database
/// would, because one statement cannot touch a row twice.
fn merge_batch(results: &[RunResult]) -> Vec<RunResult> {
    let mut index: HashMap<(Uuid, u32), usize> = HashMap::new();
    let mut merged: Vec<RunResult> = Vec::with_capacity(results.len());
    for result in results {
        match index.get(&(result.run_id, result.attempt)) {
            None => {
                index.insert((result.run_id, result.attempt), merged.len());
                merged.push(result.clone());
            }
            Some(&i) => {
                let (old, new) = (merged[i].clone(), result);
                let newer_state = new.state.rank() >= old.state.rank();
                merged[i] = RunResult {
                    state: if newer_state { new.state } else { old.state },
                    emitted_at: old.emitted_at.or(new.emitted_at),
                    started_at: old.started_at.or(new.started_at),
                    finished_at: new.finished_at.or(old.finished_at),
                    executor_id: new.executor_id.clone().or(old.executor_id),
                    exit_code: new.exit_code.or(old.exit_code),
                    http_status: new.http_status.or(old.http_status),
                    error: new.error.clone().or(old.error),
                    stdout: new.stdout.clone().or(old.stdout),
                    stderr: new.stderr.clone().or(old.stderr),
                    ..old
                };
            }
        }
    }
    merged
}

#[derive(Default)]
struct AttemptColumns {
    run_id: Vec<Uuid>,
    attempt: Vec<i32>,
    state: Vec<String>,
    executor_id: Vec<Option<String>>,
    emitted_at: Vec<Option<DateTime<Utc>>>,
    started_at: Vec<Option<DateTime<Utc>>>,
    finished_at: Vec<Option<DateTime<Utc>>>,
    exit_code: Vec<Option<i32>>,
    http_status: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    stdout: Vec<Option<String>>,
    stderr: Vec<Option<String>>,
}

impl AttemptColumns {
    fn push(&mut self, result: &RunResult) {
        self.run_id.push(result.run_id);
        self.attempt
            .push(i32::try_from(result.attempt).unwrap_or(i32::MAX));
        self.state.push(result.state.as_str().to_owned());
        self.executor_id.push(result.executor_id.clone());
        self.emitted_at.push(result.emitted_at.map(millis));
        self.started_at.push(result.started_at.map(millis));
        self.finished_at.push(result.finished_at.map(millis));
        self.exit_code.push(result.exit_code);
        self.http_status.push(result.http_status.map(i32::from));
        self.error.push(result.error.as_deref().map(strip_nul));
        self.stdout.push(result.stdout.as_deref().map(strip_nul));
        self.stderr.push(result.stderr.as_deref().map(strip_nul));
    }
}

/// Postgres text cannot hold NUL; program output can.
fn strip_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// One run as history shows it: its latest attempt's state and details.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRow {
    /// Run id.
    pub id: Uuid,
    /// Its job.
    pub job_id: Uuid,
    /// Definition version it ran from.
    pub job_version: i64,
    /// What caused it.
    pub trigger: String,
    /// Latest attempt's state.
    pub state: String,
    /// Latest attempt number.
    pub attempt: i32,
    /// The tick.
    pub scheduled_at: DateTime<Utc>,
    /// When it was queued.
    pub emitted_at: Option<DateTime<Utc>>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the latest attempt ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Who ran it.
    pub executor_id: Option<String>,
    /// A shell target's exit code.
    pub exit_code: Option<i32>,
    /// An HTTP target's status.
    pub http_status: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// Output excerpt.
    pub stdout: Option<String>,
    /// Error output excerpt.
    pub stderr: Option<String>,
}

/// One attempt of a run.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AttemptRow {
    /// Attempt number, from 1.
    pub attempt: i32,
    /// Its state.
    pub state: String,
    /// Who ran it.
    pub executor_id: Option<String>,
    /// When it was queued.
    pub emitted_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// HTTP status.
    pub http_status: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// Output excerpt.
    pub stdout: Option<String>,
    /// Error output excerpt.
    pub stderr: Option<String>,
}

/// Filters for [`list`]; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this job's runs.
    pub job_id: Option<Uuid>,
    /// Only runs in one of these states (any, when empty).
    pub states: Vec<RunState>,
    /// Only runs with this trigger.
    pub trigger: Option<String>,
    /// `scheduled_at >= since`.
    pub since: Option<DateTime<Utc>>,
    /// `scheduled_at < until`.
    pub until: Option<DateTime<Utc>>,
}

/// Where a page of runs starts: after this `(scheduled_at, id)`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCursor {
    /// The last row's tick.
    pub scheduled_at: DateTime<Utc>,
    /// The last row's id.
    pub id: Uuid,
}

/// Runs matching `filter`, newest first, at most `limit`, after `cursor`.
/// Rows come without their output (`stdout` and `stderr` are `None`): a page
/// of 500 runs with 64 KiB of output each would be 64 MB; [`get`] has it.
pub async fn list(
    pool: &PgPool,
    filter: &RunFilter,
    cursor: Option<RunCursor>,
    limit: i64,
) -> Result<Vec<RunRow>, StoreError> {
    // Only the conditions in use go into the statement: a generic plan of
    // `($1 IS NULL OR job_id = $1)` cannot use the job's index, and Postgres
    // switches to generic plans after five runs of a prepared statement.
    let mut query = QueryBuilder::<Postgres>::new(
        "SELECT id, job_id, job_version, trigger, state, attempt, scheduled_at, emitted_at, \
             started_at, finished_at, executor_id, exit_code, http_status, error, \
             NULL::text AS stdout, NULL::text AS stderr \
         FROM runs WHERE true",
    );
    if let Some(job_id) = filter.job_id {
        query.push(" AND job_id = ").push_bind(job_id);
    }
    if !filter.states.is_empty() {
        let states: Vec<String> = filter
            .states
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        query.push(" AND state = ANY(").push_bind(states).push(")");
    }
    if let Some(trigger) = &filter.trigger {
        query.push(" AND trigger = ").push_bind(trigger.clone());
    }
    if let Some(since) = filter.since {
        query.push(" AND scheduled_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND scheduled_at < ").push_bind(until);
    }
    if let Some(cursor) = cursor {
        query
            .push(" AND (scheduled_at, id) < (")
            .push_bind(cursor.scheduled_at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    query
        .push(" ORDER BY scheduled_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    let rows = query.build_query_as::<RunRow>().fetch_all(pool).await?;
    Ok(rows)
}

/// One run with every attempt, oldest attempt first.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<(RunRow, Vec<AttemptRow>)>, StoreError> {
    let Some(run) = sqlx::query_as::<_, RunRow>(
        "SELECT id, job_id, job_version, trigger, state, attempt, scheduled_at, emitted_at, started_at, \
             finished_at, executor_id, exit_code, http_status, error, stdout, stderr \
         FROM runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let attempts = sqlx::query_as::<_, AttemptRow>(
        "SELECT attempt, state, executor_id, emitted_at, started_at, finished_at, exit_code, \
             http_status, error, stdout, stderr \
         FROM run_attempts WHERE run_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some((run, attempts)))
}

/// Deletes, in batches of at most `batch` rows, runs scheduled before
/// `older_than` and runs beyond the newest `max_per_job` of their job.
/// Returns how many runs were deleted; call again until it returns 0.
pub async fn prune_batch(
    pool: &PgPool,
    older_than: DateTime<Utc>,
    max_per_job: i64,
    batch: i64,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let deleted: Vec<Uuid> = sqlx::query_scalar(
        // Jobs over the cap come from a grouped scan of the (job_id, ...)
        // index; each one's surplus is then read newest-first from that
        // index, skipping the runs it keeps. No sort of the whole table.
        "WITH over_cap AS ( \
             SELECT job_id FROM runs GROUP BY job_id HAVING count(*) > $2 LIMIT $3 \
         ), doomed AS ( \
             (SELECT id FROM runs WHERE scheduled_at < $1 LIMIT $3) \
             UNION \
             (SELECT surplus.id FROM over_cap CROSS JOIN LATERAL ( \
                  SELECT id FROM runs WHERE runs.job_id = over_cap.job_id \
                  ORDER BY scheduled_at DESC, id DESC OFFSET $2 LIMIT $3) surplus \
              LIMIT $3) \
         ) \
         DELETE FROM runs WHERE id IN (SELECT id FROM doomed LIMIT $3) RETURNING id",
    )
    .bind(older_than)
    .bind(max_per_job)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM run_attempts WHERE run_id = ANY($1)")
        .bind(&deleted)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted.len() as u64)
}
