//! Retention through `chime_api::retention::prune_once` on the database a
//! `chime api` serves: runs past `retention_days` and beyond
//! `max_runs_per_job` go, in small batches, and the API stops showing them.

use chime_api::retention::{RetentionConfig, prune_once};
use chime_core::wire::{RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chrono::{Duration, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{create, shell_job};
use crate::harness::ApiServer;

fn result(job: Uuid, age: Duration) -> RunResult {
    let ms = (Utc::now() - age).timestamp_millis();
    RunResult {
        v: WIRE_VERSION,
        run_id: Uuid::now_v7(),
        job_id: job,
        job_version: 1,
        attempt: 1,
        state: RunState::Succeeded,
        trigger: Trigger::Schedule,
        scheduled_at: ms,
        emitted_at: Some(ms),
        started_at: Some(ms),
        finished_at: Some(ms + 10),
        executor_id: None,
        exit_code: Some(0),
        http_status: None,
        error: None,
        stdout: None,
        stderr: None,
    }
}

#[tokio::test]
async fn pruning_drops_old_runs_and_runs_beyond_the_per_job_cap() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let busy: Uuid = create(&api, &shell_job("busy", "true"))
        .await
        .parse()
        .unwrap();
    let quiet: Uuid = create(&api, &shell_job("quiet", "true"))
        .await
        .parse()
        .unwrap();

    // busy: 40 recent runs (one a minute) and 10 from 40 days ago;
    // quiet: 5 recent runs and 5 from 31 days ago.
    let mut results: Vec<RunResult> = (0..40)
        .map(|i| result(busy, Duration::minutes(i)))
        .collect();
    let old_busy: Vec<RunResult> = (0..10)
        .map(|i| result(busy, Duration::days(40) + Duration::minutes(i)))
        .collect();
    let old_quiet: Vec<RunResult> = (0..5)
        .map(|i| result(quiet, Duration::days(31) + Duration::minutes(i)))
        .collect();
    results.extend(old_busy.iter().cloned());
    results.extend(old_quiet.iter().cloned());
    results.extend((0..5).map(|i| result(quiet, Duration::minutes(i))));
    chime_store::runs::record(&server.db.pool, &results)
        .await
        .expect("recording");
    let newest_busy: Vec<String> = results[..25].iter().map(|r| r.run_id.to_string()).collect();

    let config = RetentionConfig {
        retention_days: 30,
        max_runs_per_job: 25,
        batch_size: 4,
        ..RetentionConfig::default()
    };
    let deleted = prune_once(&config, &server.db.pool, &CancellationToken::new())
        .await
        .expect("pruning");
    // busy loses its 10 old runs and 15 recent ones beyond the newest 25;
    // quiet loses its 5 old runs.
    assert_eq!(deleted, 30);

    let busy_runs = api.job_runs("busy", &[("limit", "500")]).await.expect(200);
    let left: Vec<String> = busy_runs.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(left, newest_busy, "the newest 25 stay, newest first");
    let quiet_runs = api.job_runs("quiet", &[]).await.expect(200);
    assert_eq!(quiet_runs.body["items"].as_array().map(Vec::len), Some(5));
    for gone in old_busy.iter().chain(&old_quiet) {
        api.get_run(&gone.run_id.to_string()).await.expect(404);
    }
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM run_attempts")
        .fetch_one(&server.db.pool)
        .await
        .expect("count");
    assert_eq!(attempts, 30, "attempts go with their runs");

    // A second pass finds nothing left to do.
    assert_eq!(
        prune_once(&config, &server.db.pool, &CancellationToken::new())
            .await
            .expect("pruning"),
        0
    );
}
