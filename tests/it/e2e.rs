//! End to end: jobs defined through the API run on executors and their
//! history is complete and exact, in `chime dev` and in the full topology,
//! while processes are killed with SIGKILL and Postgres goes away.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncTypedCommands;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{
    Chime, Client, TcpProxy, TestDb, eventually, free_port, redis, redis_url, unique_prefix,
};

/// A run's tick, its emitted, started and finished instants, state and stdout.
type RunTimes = (
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
    Option<String>,
);

/// A job at `schedule` running `echo hello` on `queue`.
fn echo_job(name: &str, schedule: &str, queue: &str) -> Value {
    json!({
        "name": name,
        "schedule": schedule,
        "queue": queue,
        "target": {"type": "shell", "command": ["echo", "hello"]},
        "overlap": "allow",
        "catchup": {"policy": "all", "window_s": 3600},
        "timeout_s": 30,
    })
}

async fn wait_healthy(base: &str) {
    let client = Client::new(base, None);
    eventually(
        Duration::from_secs(30),
        "the API answering /healthz",
        || {
            let client = client.clone();
            async move { client.healthz().await.ok().filter(|r| r.status == 200) }
        },
    )
    .await;
}

/// `(job_id, scheduled_at, state)` of every run.
async fn runs(pool: &sqlx::PgPool) -> Vec<(Uuid, DateTime<Utc>, String)> {
    sqlx::query_as("SELECT job_id, scheduled_at, state FROM runs ORDER BY job_id, scheduled_at")
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}

/// Every whole-second tick of a `* * * * * *` job after `created_at` up to
/// and including `last_ms`.
fn every_second(created_at: DateTime<Utc>, last_ms: i64) -> BTreeSet<i64> {
    let first = (created_at.timestamp_millis() / 1000 + 1) * 1000;
    (first..=last_ms).step_by(1000).collect()
}

#[tokio::test]
async fn dev_mode_runs_a_two_second_job_and_records_every_run() {
    let db = TestDb::create().await;
    let prefix = unique_prefix();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let _dev = Chime::spawn(&[
        "dev",
        "--database-url",
        &db.url,
        "--redis-url",
        &redis_url(),
        "--prefix",
        &prefix,
        "--listen",
        &listen,
    ]);
    wait_healthy(&base).await;
    let client = Client::new(&base, None);
    let job = client
        .create_job(&echo_job("hello-every-2s", "*/2 * * * * *", "default"))
        .await
        .expect(201);
    let job_id: Uuid = job.body["id"].as_str().unwrap().parse().unwrap();

    let rows: Vec<RunTimes> =
        eventually(Duration::from_secs(40), "nine succeeded runs", || async {
            let rows: Vec<_> = sqlx::query_as(
                "SELECT scheduled_at, emitted_at, started_at, finished_at, state, stdout FROM runs \
                 WHERE job_id = $1 AND state = 'succeeded' ORDER BY scheduled_at",
            )
            .bind(job_id)
            .fetch_all(&db.pool)
            .await
            .ok()?;
            (rows.len() >= 9).then_some(rows)
        })
        .await;
    let mut ticks = BTreeSet::new();
    for (scheduled, emitted, started, finished, _, stdout) in &rows {
        assert_eq!(stdout.as_deref(), Some("hello\n"));
        let (emitted, started, finished) = (emitted.unwrap(), started.unwrap(), finished.unwrap());
        assert!(
            *scheduled <= emitted && emitted <= started && started <= finished,
            "timestamps out of order"
        );
        assert_eq!(scheduled.timestamp() % 2, 0, "a */2 tick on an even second");
        assert!(ticks.insert(*scheduled), "a tick ran twice");
    }
}

/// Two schedulers, two executors serving two queues, two API replicas: every
/// tick of every job runs exactly once and ends in a terminal state, while
/// the leader, one executor and one API replica are killed with SIGKILL.
#[tokio::test]
async fn full_topology_runs_every_tick_once_through_sigkills() {
    let db = TestDb::create().await;
    let prefix = unique_prefix();
    let redis_url = redis_url();
    // A dead API replica's unacknowledged results are taken over after 2 s.
    let config_path =
        std::env::temp_dir().join(format!("chime-e2e-{}.toml", Uuid::new_v4().simple()));
    std::fs::write(
        &config_path,
        "[recorder]\nclaim_idle_ms = 2000\nblock_ms = 200\n",
    )
    .unwrap();
    let config = config_path.to_string_lossy().into_owned();
    let common = |cmd: &'static str, node: &str| -> Vec<String> {
        [
            cmd,
            "--database-url",
            &db.url,
            "--redis-url",
            &redis_url,
            "--prefix",
            &prefix,
            "--node-id",
            node,
            "--config",
            &config,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let spawn =
        |args: Vec<String>| Chime::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let mut schedulers: BTreeMap<String, Chime> = ["s1", "s2"]
        .iter()
        .map(|n| {
            let mut args = common("scheduler", n);
            args.extend(["--lease-ttl-ms".into(), "1000".into()]);
            (n.to_string(), spawn(args))
        })
        .collect();
    let mut executors: Vec<Chime> = ["e1", "e2"]
        .iter()
        .map(|n| {
            let mut args = common("executor", n);
            args.extend([
                "--queues".into(),
                "a,b".into(),
                "--visibility-timeout".into(),
                "2s".into(),
            ]);
            spawn(args)
        })
        .collect();
    let mut apis = Vec::new();
    let mut bases = Vec::new();
    for n in ["a1", "a2"] {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut args = common("api", n);
        args.extend(["--listen".into(), listen.clone()]);
        apis.push(spawn(args));
        bases.push(format!("http://{listen}"));
    }
    for base in &bases {
        wait_healthy(base).await;
    }

    let client = Client::new(&bases[1], None);
    let mut created = BTreeMap::new();
    for i in 0..20 {
        let queue = if i % 2 == 0 { "a" } else { "b" };
        let reply = client
            .create_job(&echo_job(&format!("e2e-{i:02}"), "* * * * * *", queue))
            .await
            .expect(201);
        let id: Uuid = reply.body["id"].as_str().unwrap().parse().unwrap();
        let at: DateTime<Utc> = reply.body["created_at"].as_str().unwrap().parse().unwrap();
        created.insert(id, at);
    }

    let mut conn = redis().await;
    let leader_key = format!("{prefix}:leader");
    let count_runs = || async { runs(&db.pool).await.len() };
    eventually(Duration::from_secs(20), "runs being recorded", || async {
        (count_runs().await >= 60).then_some(())
    })
    .await;

    // Kill the leader, one executor and one API replica, all with SIGKILL.
    let leader: String = conn
        .get(&leader_key)
        .await
        .unwrap()
        .expect("a leader holds the lease");
    let leader_node = leader.split(':').next().unwrap().to_owned();
    schedulers
        .get_mut(&leader_node)
        .expect("the leader is one of ours")
        .kill9();
    executors[0].kill9();
    apis[0].kill9();
    let before = count_runs().await;
    eventually(
        Duration::from_secs(20),
        "runs continuing after the kills",
        || async { (count_runs().await >= before + 100).then_some(()) },
    )
    .await;

    // Stop emitting: SIGTERM the surviving scheduler and wait until it exits,
    // then the cursors say which ticks were emitted.
    let survivor = schedulers
        .keys()
        .find(|n| **n != leader_node)
        .unwrap()
        .clone();
    let survivor = schedulers.get_mut(&survivor).unwrap();
    survivor.signal("TERM");
    eventually(Duration::from_secs(10), "the scheduler to exit", || {
        let exited = survivor.try_wait().is_some();
        async move { exited.then_some(()) }
    })
    .await;
    let cursors: BTreeMap<String, i64> = conn
        .hgetall(format!("{prefix}:cursor"))
        .await
        .unwrap()
        .into_iter()
        .map(|(k, v): (String, String)| (k, v.parse().unwrap()))
        .collect();
    let mut expected: BTreeMap<Uuid, BTreeSet<i64>> = BTreeMap::new();
    for (job, created_at) in &created {
        let last = cursors[&job.to_string()];
        expected.insert(*job, every_second(*created_at, last));
    }
    let n_expected: usize = expected.values().map(BTreeSet::len).sum();
    assert!(
        n_expected >= 20 * 8,
        "the run lasted long enough: {n_expected} ticks"
    );

    let history = eventually(
        Duration::from_secs(45),
        "every emitted tick to end in a terminal state",
        || async {
            let rows = runs(&db.pool).await;
            let terminal = rows.iter().filter(|(_, _, s)| s == "succeeded").count();
            (rows.len() >= n_expected && terminal == rows.len()).then_some(rows)
        },
    )
    .await;
    let mut seen: BTreeMap<Uuid, BTreeSet<i64>> = BTreeMap::new();
    for (job, scheduled_at, _) in &history {
        assert!(
            seen.entry(*job)
                .or_default()
                .insert(scheduled_at.timestamp_millis()),
            "job {job} ran tick {scheduled_at} twice"
        );
    }
    assert_eq!(
        seen, expected,
        "every tick exactly once, none missing, none extra"
    );
    let _ = std::fs::remove_file(&config_path);
}

/// Postgres unreachable for 20 s while `chime dev` runs a job every second:
/// the scheduler keeps firing from its cache, results wait in Redis, and
/// afterwards history holds every run once.
#[tokio::test]
async fn postgres_outage_loses_no_run_and_records_none_twice() {
    let db = TestDb::create().await;
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let proxied = db
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let prefix = unique_prefix();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let dev = Chime::spawn(&[
        "dev",
        "--database-url",
        &proxied,
        "--redis-url",
        &redis_url(),
        "--prefix",
        &prefix,
        "--listen",
        &listen,
    ]);
    wait_healthy(&base).await;
    let job = Client::new(&base, None)
        .create_job(&echo_job("through-outage", "* * * * * *", "default"))
        .await
        .expect(201);
    let job_id: Uuid = job.body["id"].as_str().unwrap().parse().unwrap();
    let created_at: DateTime<Utc> = job.body["created_at"].as_str().unwrap().parse().unwrap();
    let succeeded = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs WHERE state = 'succeeded'")
            .fetch_one(&db.pool)
            .await
            .unwrap_or(0)
    };
    eventually(Duration::from_secs(20), "the first runs", || async {
        (succeeded().await >= 3).then_some(())
    })
    .await;

    proxy.cut();
    let during = succeeded().await;
    tokio::time::sleep(Duration::from_secs(20)).await; // the outage under test
    assert!(
        succeeded().await <= during + 1,
        "nothing is recorded while Postgres is cut off"
    );
    proxy.restore();
    // Every tick from the job's creation until a few seconds after the
    // outage must end up in history exactly once, succeeded.
    let checked_until = Utc::now().timestamp_millis() + 5_000;
    let expected = every_second(created_at, checked_until - checked_until % 1000);
    let history = eventually(
        Duration::from_secs(40),
        "every tick through the outage to be recorded",
        || async {
            let rows: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
                "SELECT scheduled_at, state FROM runs WHERE job_id = $1 AND scheduled_at <= $2 \
                 ORDER BY scheduled_at",
            )
            .bind(job_id)
            .bind(DateTime::from_timestamp_millis(checked_until).unwrap())
            .fetch_all(&db.pool)
            .await
            .ok()?;
            let done = rows
                .iter()
                .filter(|(_, state)| state == "succeeded")
                .count();
            (done >= expected.len()).then_some(rows)
        },
    )
    .await;
    let mut seen = BTreeSet::new();
    for (scheduled_at, state) in &history {
        assert!(
            seen.insert(scheduled_at.timestamp_millis()),
            "tick {scheduled_at} recorded twice"
        );
        assert_eq!(state, "succeeded");
    }
    assert_eq!(seen, expected, "every tick through the outage, once");
    assert!(expected.len() >= 25, "the run spanned the outage");
    dev.signal("TERM");
}
