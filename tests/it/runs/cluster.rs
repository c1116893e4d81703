//! `GET /executors` and `GET /cluster` against real processes: a running
//! executor is listed with its details and dropped once it stops; the
//! cluster shows queue depth, pending work, the results backlog while
//! Postgres is cut off, and the dead letters.

use std::time::Duration;

use chime_core::wire::{RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use serde_json::Value;
use uuid::Uuid;

use super::{WAIT, at, create, shell_job, wait_state};
use crate::harness::{ApiServer, TcpProxy, TestDb, eventually, redis, redis_url};

#[tokio::test]
async fn executors_are_listed_while_they_heartbeat() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    assert_eq!(
        api.executors().await.expect(200).body["items"],
        serde_json::json!([])
    );

    let mut executor = server.executor(&["--queues", "alpha,beta", "--concurrency", "3"]);
    let listed = eventually(WAIT, "the executor to be listed", || async {
        let reply = api.executors().await;
        let items = reply.body["items"].as_array()?.clone();
        (items.len() == 1).then(|| items[0].clone())
    })
    .await;
    assert_eq!(
        listed["queues"],
        serde_json::json!(["alpha", "beta"]),
        "{listed}"
    );
    assert_eq!(
        listed["pid"].as_u64(),
        Some(u64::from(executor.pid())),
        "{listed}"
    );
    assert_eq!(listed["running"], 0);
    assert_eq!(listed["concurrency"], 3);
    assert_eq!(listed["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        listed["host"].is_string() && listed["id"].is_string(),
        "{listed}"
    );
    let age = chrono::Utc::now() - at(&listed["last_heartbeat"]);
    assert!(age.num_seconds() < 10, "a fresh heartbeat: {listed}");
    assert!(at(&listed["started_at"]) <= at(&listed["last_heartbeat"]));
    assert!(listed.get("next_cursor").is_none());

    // Killed without a chance to leave the registry: dropped once its
    // heartbeat is ten seconds old.
    executor.kill9();
    eventually(
        Duration::from_secs(25),
        "the dead executor to be dropped",
        || async {
            let reply = api.executors().await;
            (reply.body["items"] == serde_json::json!([])).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_cluster_shows_queues_backlog_and_dead_letters() {
    // The API reaches Postgres through a proxy the test can cut.
    let mut db = TestDb::create().await;
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    db.url = db
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let server = ApiServer::start_with(db, &redis_url(), &[]).await;
    let api = server.client(None);

    let empty = api.cluster().await.expect(200).body;
    assert_eq!(empty["queues"], serde_json::json!([]));
    assert_eq!(
        (
            empty["results_backlog"].as_u64(),
            empty["dead_letters"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(empty["leader"].is_null(), "no scheduler runs: {empty}");

    // A scheduler takes the lease: the cluster names it.
    let started = chrono::Utc::now();
    let _scheduler = server.scheduler("scheduler-it-1");
    let leader = eventually(WAIT, "a leader", || async {
        let cluster = api.cluster().await.body;
        (!cluster["leader"].is_null()).then(|| cluster["leader"].clone())
    })
    .await;
    assert_eq!(leader["node_id"], "scheduler-it-1", "{leader}");
    assert!(leader["epoch"].as_u64() >= Some(1), "{leader}");
    let since = at(&leader["since"]);
    assert!(
        since >= started - chrono::Duration::seconds(1) && since <= chrono::Utc::now(),
        "{leader}"
    );

    create(&api, &shell_job("slow", "sleep 5")).await;
    let mut spec = shell_job("other", "true");
    spec["queue"] = "reports".into();
    create(&api, &spec).await;
    let running = api.trigger("slow", None).await.expect(202).body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for _ in 0..2 {
        api.trigger("other", None).await.expect(202);
    }
    let _executor = server.executor(&["--queues", "default"]);
    wait_state(&api, &running, "running").await;
    let cluster = api.cluster().await.expect(200).body;
    let default = queue(&cluster, "default");
    assert_eq!(
        (
            default["length"].as_u64(),
            default["pending"].as_u64(),
            default["lag"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{cluster}"
    );
    assert!(
        default["oldest_pending_age_ms"]
            .as_u64()
            .is_some_and(|age| age < 30_000),
        "{cluster}"
    );
    let reports = queue(&cluster, "reports");
    assert_eq!(
        (
            reports["length"].as_u64(),
            reports["pending"].as_u64(),
            reports["lag"].as_u64()
        ),
        (Some(2), Some(0), Some(2)),
        "{cluster}"
    );
    assert!(reports["oldest_pending_age_ms"].is_null());

    // Postgres cut off: results wait in the stream, and the backlog says so.
    wait_state(&api, &running, "succeeded").await;
    proxy.cut();
    let mut conn = redis().await;
    for _ in 0..3 {
        let result = RunResult {
            v: WIRE_VERSION,
            run_id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            job_version: 1,
            attempt: 1,
            state: RunState::Succeeded,
            trigger: Trigger::Manual,
            scheduled_at: 1_800_000_000_000,
            emitted_at: None,
            started_at: None,
            finished_at: None,
            executor_id: None,
            exit_code: None,
            http_status: None,
            error: None,
            stdout: None,
            stderr: None,
        };
        let _: String = redis::cmd("XADD")
            .arg(format!("{}:results", server.prefix))
            .arg("*")
            .arg("event")
            .arg(serde_json::to_string(&result).expect("JSON"))
            .query_async(&mut conn)
            .await
            .expect("XADD");
    }
    let _: String = redis::cmd("XADD")
        .arg(format!("{}:dead", server.prefix))
        .arg("*")
        .arg("event")
        .arg("{}")
        .arg("reason")
        .arg("test")
        .query_async(&mut conn)
        .await
        .expect("XADD");
    let cluster = api.cluster().await.expect(200).body;
    assert_eq!(cluster["results_backlog"], 3, "{cluster}");
    assert_eq!(cluster["dead_letters"], 1, "{cluster}");

    proxy.restore();
    eventually(
        WAIT,
        "the backlog to drain once Postgres is back",
        || async {
            let cluster = api.cluster().await;
            (cluster.body["results_backlog"] == 0).then_some(())
        },
    )
    .await;
}

fn queue<'a>(cluster: &'a Value, name: &str) -> &'a Value {
    cluster["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == name))
        .unwrap_or_else(|| panic!("no queue {name}: {cluster}"))
}
