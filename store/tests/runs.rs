//! The runs repository against a real Postgres: idempotent recording,
//! out-of-order results, attempts, filters, pagination and pruning.

#![allow(clippy::unwrap_used)]

use chime_core::wire::{RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chime_store::runs::{self, RunCursor, RunFilter};
use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
}

fn result(
    run_id: Uuid,
    job_id: Uuid,
    attempt: u32,
    state: RunState,
    at: DateTime<Utc>,
) -> RunResult {
    let ms = at.timestamp_millis();
    RunResult {
        v: WIRE_VERSION,
        run_id,
        job_id,
        job_version: 1,
        attempt,
        state,
        trigger: if attempt == 1 {
            Trigger::Schedule
        } else {
            Trigger::Retry
        },
        scheduled_at: ms,
        emitted_at: Some(ms + 1),
        started_at: (state != RunState::Queued).then_some(ms + 2),
        finished_at: state.is_terminal().then_some(ms + 50),
        executor_id: Some("exec-1".to_owned()),
        exit_code: state
            .is_terminal()
            .then_some(if state == RunState::Succeeded { 0 } else { 1 }),
        http_status: None,
        error: None,
        stdout: state.is_terminal().then(|| "hello\n".to_owned()),
        stderr: None,
    }
}

#[sqlx::test(migrator = "chime_store::MIGRATOR")]
async fn recording_the_same_results_twice_changes_nothing(pool: PgPool) {
    let (run, job) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = [
        result(run, job, 1, RunState::Running, t0()),
        result(run, job, 1, RunState::Succeeded, t0()),
    ];
    runs::record(&pool, &batch).await.unwrap();
    let first = runs::get(&pool, run).await.unwrap().unwrap();
    runs::record(&pool, &batch).await.unwrap();
    runs::record(&pool, &batch[..1]).await.unwrap();
    let second = runs::get(&pool, run).await.unwrap().unwrap();
    assert_eq!(first.0.state, "succeeded");
    assert_eq!(first.0.stdout.as_deref(), Some("hello\n"));
    assert_eq!(first.1.len(), 1);
    assert_eq!(second.0.state, first.0.state);
    assert_eq!(second.0.started_at, first.0.started_at);
    assert_eq!(second.0.finished_at, first.0.finished_at);
    assert_eq!(second.1, first.1);
}

#[sqlx::test(migrator = "chime_store::MIGRATOR")]
async fn a_terminal_state_arriving_before_running_wins(pool: PgPool) {
    let (run, job) = (Uuid::now_v7(), Uuid::now_v7());
    runs::record(&pool, &[result(run, job, 1, RunState::Failed, t0())])
        .await
        .unwrap();
    runs::record(&pool, &[result(run, job, 1, RunState::Running, t0())])
        .await
        .unwrap();
    let (row, attempts) = runs::get(&pool, run).await.unwrap().unwrap();
    assert_eq!(row.state, "failed");
    assert_eq!(row.exit_code, Some(1));
    assert_eq!(attempts.len(), 1);
}

#[sqlx::test(migrator = "chime_store::MIGRATOR")]
async fn a_run_shows_its_latest_attempt_and_keeps_every_attempt(pool: PgPool) {
    let (run, job) = (Uuid::now_v7(), Uuid::now_v7());
    runs::record(
        &pool,
        &[
            result(run, job, 1, RunState::Running, t0()),
            result(run, job, 1, RunState::Retrying, t0()),
            result(run, job, 2, RunState::Running, t0()),
        ],
    )
    .await
    .unwrap();
    runs::record(&pool, &[result(run, job, 2, RunState::Succeeded, t0())])
        .await
        .unwrap();
    let (row, attempts) = runs::get(&pool, run).await.unwrap().unwrap();
    assert_eq!((row.attempt, row.state.as_str()), (2, "succeeded"));
    // A retry never replaces the trigger that started the run.
    assert_eq!(row.trigger, "schedule");
    let states: Vec<(i32, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.state.as_str()))
        .collect();
    assert_eq!(states, [(1, "retrying"), (2, "succeeded")]);
}

#[sqlx::test(migrator = "chime_store::MIGRATOR")]
async fn listing_filters_and_pages_newest_first(pool: PgPool) {
    let (job_a, job_b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut batch = Vec::new();
    for i in 0..25 {
        let at = t0() + Duration::seconds(i);
        let state = if i % 5 == 0 {
            RunState::Failed
        } else {
            RunState::Succeeded
        };
        batch.push(result(Uuid::now_v7(), job_a, 1, state, at));
        batch.push(result(Uuid::now_v7(), job_b, 1, RunState::Succeeded, at));
    }
    runs::record(&pool, &batch).await.unwrap();

    let filter = RunFilter {
        job_id: Some(job_a),
        ..RunFilter::default()
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = runs::list(&pool, &filter, cursor, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(RunCursor {
            scheduled_at: last.scheduled_at,
            id: last.id,
        });
        seen.extend(page.into_iter().map(|r| r.scheduled_at));
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let failed = RunFilter {
        job_id: Some(job_a),
        states: vec![RunState::Failed],
        ..RunFilter::default()
    };
    assert_eq!(
        runs::list(&pool, &failed, None, 100).await.unwrap().len(),
        5
    );

    // since is inclusive, until exclusive.
    let window = RunFilter {
        job_id: Some(job_b),
        since: Some(t0() + Duration::seconds(10)),
        until: Some(t0() + Duration::seconds(20)),
        ..RunFilter::default()
    };
    let rows = runs::list(&pool, &window, None, 100).await.unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(
        rows.last().unwrap().scheduled_at,
        t0() + Duration::seconds(10)
    );
}

#[sqlx::test(migrator = "chime_store::MIGRATOR")]
async fn pruning_removes_old_runs_and_runs_beyond_the_per_job_cap(pool: PgPool) {
    let job = Uuid::now_v7();
    let batch: Vec<RunResult> = (0..30)
        .map(|i| {
            result(
                Uuid::now_v7(),
                job,
                1,
                RunState::Succeeded,
                t0() + Duration::seconds(i),
            )
        })
        .collect();
    runs::record(&pool, &batch).await.unwrap();
    // Older than t0+5s: 5 runs; beyond the newest 20: 10 runs (overlapping).
    let mut deleted = 0;
    loop {
        let n = runs::prune_batch(&pool, t0() + Duration::seconds(5), 20, 3)
            .await
            .unwrap();
        assert!(n <= 3, "batches stay small");
        if n == 0 {
            break;
        }
        deleted += n;
    }
    assert_eq!(deleted, 10);
    let left = runs::list(&pool, &RunFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(left.len(), 20);
    assert_eq!(
        left.last().unwrap().scheduled_at,
        t0() + Duration::seconds(10)
    );
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM run_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 20);
}
