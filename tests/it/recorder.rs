//! The recorder against real Redis and a Postgres it loses: results wait in
//! the stream while the database is unreachable and land, once each, when it
//! returns.

use std::time::Duration;

use chime_api::recorder::{self, RecorderConfig, RecorderDeps};
use chime_core::wire::{EVENT_FIELD, RunResult, WIRE_VERSION};
use chime_core::{Keys, RunState, Trigger};
use redis::AsyncTypedCommands;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{TcpProxy, TestDb, eventually, redis, redis_url, unique_prefix};

fn result(run_id: Uuid, state: RunState) -> RunResult {
    RunResult {
        v: WIRE_VERSION,
        run_id,
        job_id: Uuid::nil(),
        job_version: 1,
        attempt: 1,
        state,
        trigger: Trigger::Schedule,
        scheduled_at: 1_800_000_000_000,
        emitted_at: Some(1_800_000_000_001),
        started_at: Some(1_800_000_000_002),
        finished_at: state.is_terminal().then_some(1_800_000_000_100),
        executor_id: Some("exec".to_owned()),
        exit_code: state.is_terminal().then_some(0),
        http_status: None,
        error: None,
        stdout: None,
        stderr: None,
    }
}

async fn publish(conn: &mut redis::aio::MultiplexedConnection, keys: &Keys, result: &RunResult) {
    let json = serde_json::to_string(result).unwrap();
    conn.xadd(keys.results(), "*", &[(EVENT_FIELD, json)])
        .await
        .unwrap();
}

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

#[tokio::test]
async fn results_wait_while_postgres_is_unreachable_and_land_once_when_it_returns() {
    let db = TestDb::create().await;
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let proxied_url = db
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let keys = Keys::new(unique_prefix());
    let mut conn = redis().await;
    let shutdown = CancellationToken::new();
    let deps = RecorderDeps {
        pool: chime_store::connect_lazy(&proxied_url, 4).unwrap(),
        redis: redis::Client::open(redis_url()).unwrap(),
        keys: keys.clone(),
        consumer: "recorder-test".to_owned(),
    };
    let config = RecorderConfig {
        block_ms: 200,
        ..RecorderConfig::default()
    };
    let task = tokio::spawn(recorder::run(config, deps, shutdown.clone()));

    let first = Uuid::now_v7();
    publish(&mut conn, &keys, &result(first, RunState::Running)).await;
    publish(&mut conn, &keys, &result(first, RunState::Succeeded)).await;
    eventually(
        Duration::from_secs(10),
        "the first run to be recorded",
        || async {
            (count(
                &db.pool,
                "SELECT count(*) FROM runs WHERE state = 'succeeded'",
            )
            .await
                == 1)
                .then_some(())
        },
    )
    .await;

    proxy.cut();
    let during: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
    for run in &during {
        publish(&mut conn, &keys, &result(*run, RunState::Running)).await;
        publish(&mut conn, &keys, &result(*run, RunState::Succeeded)).await;
    }
    // While the database is away the results stay in the stream, unacknowledged.
    eventually(
        Duration::from_secs(10),
        "the recorder to hold the results pending",
        || {
            let mut conn = conn.clone();
            let keys = keys.clone();
            async move {
                let pending: redis::Value = redis::cmd("XPENDING")
                    .arg(keys.results())
                    .arg("recorders")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                let redis::Value::Array(parts) = pending else {
                    return None;
                };
                let n: i64 = redis::from_redis_value_ref(parts.first()?).ok()?;
                (n > 0).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM runs").await,
        1,
        "nothing lands while cut"
    );
    tokio::time::sleep(Duration::from_secs(3)).await; // the outage under test
    proxy.restore();

    eventually(
        Duration::from_secs(20),
        "every result to land after the outage",
        || async {
            (count(
                &db.pool,
                "SELECT count(*) FROM runs WHERE state = 'succeeded'",
            )
            .await
                == 51)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM run_attempts").await,
        51,
        "no run twice"
    );
    eventually(
        Duration::from_secs(10),
        "the stream to be fully acknowledged",
        || {
            let mut conn = conn.clone();
            let keys = keys.clone();
            async move {
                (chime_queue::results_reader::backlog(&mut conn, &keys)
                    .await
                    .ok()?
                    == 0)
                    .then_some(())
            }
        },
    )
    .await;

    shutdown.cancel();
    task.await.unwrap().unwrap();
    let _: () = redis::cmd("DEL")
        .arg(keys.results())
        .query_async(&mut conn)
        .await
        .unwrap();
}
