//! `chime scheduler` as real processes against real Redis and Postgres:
//! failover by kill -9 with exactly-once emission and a bounded takeover, a
//! cut-off (SIGSTOPped) leader that must not emit when it wakes, a Redis
//! restart, definition changes (and a lost notification), catch-up
//! policies across downtime, delayed-set promotion and one-shot jobs.
//! Jitter, DST and the finer catch-up rules are pinned by the scheduler's
//! unit tests with an injected clock.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chime_core::job::ShellTarget;
use chime_core::wire::{Change, ChangeOp, EVENT_FIELD, Event, RunResult, WIRE_VERSION};
use chime_core::{Catchup, CatchupPolicy, JobSpec, Keys, RunState, Target, Trigger};
use chime_queue::lease::{self, LeaderInfo};
use chime_queue::{changes, inspect};
use chrono::Utc;
use redis::AsyncTypedCommands;
use redis::aio::MultiplexedConnection;
use uuid::Uuid;

use crate::harness::{Chime, PrivateRedis, TestDb, eventually, redis_url, unique_prefix};

const TTL_MS: i64 = 1000;
const RENEW_MS: i64 = 333;

/// A database, a prefix and a Redis connection for one test.
struct Setup {
    db: TestDb,
    keys: Keys,
    redis_url: String,
    conn: MultiplexedConnection,
}

impl Setup {
    /// Waits until the `default` queue holds an entry appended after
    /// `after_ms` (stream ids start with the append time), tolerating a
    /// Redis that is still coming back.
    async fn wait_for_entry_after(&self, after_ms: i64, deadline: Duration, what: &str) {
        eventually(deadline, what, || {
            let mut conn = self.conn.clone();
            let key = self.keys.queue("default");
            async move {
                let page = inspect::read_page(&mut conn, &key, &format!("{after_ms}-0"), 1)
                    .await
                    .ok()?;
                (!page.is_empty()).then_some(())
            }
        })
        .await;
    }

    /// The leader, once one leads and has emitted (20 s at most).
    async fn emitting_leader(&self, what: &str) -> LeaderInfo {
        eventually(Duration::from_secs(20), what, || {
            let mut conn = self.conn.clone();
            let keys = self.keys.clone();
            async move {
                let leader = lease::current(&mut conn, &keys).await.unwrap()?;
                (conn.xlen(keys.queue("default")).await.unwrap() > 0).then_some(leader)
            }
        })
        .await
    }

    async fn new(redis_url: String) -> Setup {
        let db = TestDb::create().await;
        let client = redis::Client::open(redis_url.as_str()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        Setup {
            db,
            keys: Keys::new(unique_prefix()),
            redis_url,
            conn,
        }
    }

    /// A scheduler replica with a 1 s lease and `extra` flags.
    fn scheduler(&self, node: &str, extra: &[&str]) -> Chime {
        self.scheduler_with_ttl(node, "1000", extra)
    }

    /// A scheduler replica with a lease of `ttl_ms`.
    fn scheduler_with_ttl(&self, node: &str, ttl_ms: &str, extra: &[&str]) -> Chime {
        let mut args = vec![
            "scheduler",
            "--database-url",
            &self.db.url,
            "--redis-url",
            &self.redis_url,
            "--prefix",
            self.keys.prefix(),
            "--node-id",
            node,
            "--lease-ttl-ms",
            ttl_ms,
        ];
        args.extend_from_slice(extra);
        Chime::spawn(&args)
    }

    /// Creates a job the way the API does: a row, then a change entry.
    async fn add_job(&mut self, name: &str, schedule: &str, policy: CatchupPolicy) -> Uuid {
        self.add_spec(spec(name, schedule, policy)).await
    }

    async fn add_spec(&mut self, spec: JobSpec) -> Uuid {
        let id = Uuid::now_v7();
        chime_store::jobs::insert(&self.db.pool, id, &spec, Utc::now())
            .await
            .unwrap();
        self.publish(id, ChangeOp::Created).await;
        id
    }

    async fn publish(&mut self, job_id: Uuid, op: ChangeOp) {
        let version: i64 = sqlx::query_scalar("SELECT version FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        let change = Change {
            job_id,
            version,
            op,
        };
        changes::publish(&mut self.conn, &self.keys, &change)
            .await
            .unwrap();
    }

    /// Runs `sql` (with the job id as $1) and bumps the version, like an edit.
    async fn edit(&self, job_id: Uuid, set: &str) {
        let sql = format!(
            "UPDATE jobs SET {set}, version = version + 1, updated_at = now() WHERE id = $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .execute(&self.db.pool)
            .await
            .unwrap();
    }

    async fn leader(&mut self) -> Option<LeaderInfo> {
        lease::current(&mut self.conn, &self.keys).await.unwrap()
    }

    /// Every event of `queue`, with the Redis time it was appended.
    async fn events(&mut self, queue: &str) -> Vec<Seen> {
        let mut out = Vec::new();
        let mut after = "-".to_owned();
        loop {
            let page = inspect::read_page(&mut self.conn, &self.keys.queue(queue), &after, 5000)
                .await
                .unwrap();
            let Some((last, _)) = page.last() else {
                return out;
            };
            after = last.clone();
            for (id, json) in page {
                out.push(Seen {
                    appended_ms: inspect::entry_ms(&id).unwrap(),
                    event: serde_json::from_str(&json).unwrap(),
                });
            }
        }
    }

    /// Every result the scheduler wrote.
    async fn results(&mut self) -> Vec<RunResult> {
        let reply = self.conn.xrange_all(self.keys.results()).await.unwrap();
        reply
            .ids
            .iter()
            .map(|e| serde_json::from_str(&e.get::<String>(EVENT_FIELD).unwrap()).unwrap())
            .collect()
    }
}

struct Seen {
    appended_ms: i64,
    event: Event,
}

fn spec(name: &str, schedule: &str, policy: CatchupPolicy) -> JobSpec {
    JobSpec {
        name: name.to_owned(),
        schedule: schedule.to_owned(),
        timezone: "UTC".to_owned(),
        queue: "default".to_owned(),
        target: Target::Shell(ShellTarget {
            command: vec!["true".to_owned()],
            env: Default::default(),
            cwd: None,
        }),
        timeout_s: 60,
        retry: Default::default(),
        overlap: chime_core::OverlapPolicy::Allow,
        catchup: Catchup {
            policy,
            window_s: 3600,
        },
        starting_deadline_s: None,
        jitter_s: 0,
        paused: false,
        labels: Default::default(),
        description: None,
    }
}

/// The ticks of each job, in order.
fn ticks_by_job(events: &[Seen]) -> BTreeMap<Uuid, Vec<i64>> {
    let mut by_job: BTreeMap<Uuid, Vec<i64>> = BTreeMap::new();
    for seen in events {
        by_job
            .entry(seen.event.job_id)
            .or_default()
            .push(seen.event.scheduled_at);
    }
    for ticks in by_job.values_mut() {
        ticks.sort_unstable();
    }
    by_job
}

/// Every run id once, and every second from a job's first tick to its last.
fn assert_exactly_once_without_gaps(events: &[Seen]) {
    let mut runs = HashSet::new();
    for seen in events {
        assert!(
            runs.insert(seen.event.run_id),
            "tick {} of job {} was emitted twice",
            seen.event.scheduled_at,
            seen.event.job_id
        );
    }
    for (job, ticks) in ticks_by_job(events) {
        for pair in ticks.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                1000,
                "job {job}: ticks {} and {} with a gap between",
                pair[0],
                pair[1]
            );
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn index_of(procs: &[(String, Chime)], node: &str) -> usize {
    procs
        .iter()
        .position(|(n, _)| n == node)
        .unwrap_or_else(|| panic!("no process is node {node}"))
}

#[tokio::test]
async fn kill9_failover_emits_every_tick_once_and_takes_at_most_ttl_plus_one_renewal() {
    let mut s = Setup::new(redis_url()).await;
    let mut jobs = Vec::new();
    for i in 0..50 {
        jobs.push(
            s.add_job(
                &format!("every-second-{i}"),
                "* * * * * *",
                CatchupPolicy::All,
            )
            .await,
        );
    }
    let mut procs: Vec<(String, Chime)> = (0..3)
        .map(|i| {
            let node = format!("s{i}");
            let chime = s.scheduler(&node, &[]);
            (node, chime)
        })
        .collect();
    eventually(Duration::from_secs(20), "a leader emitting", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move { (conn.xlen(key).await.unwrap() > 0).then_some(()) }
    })
    .await;

    for round in 0..3u64 {
        // Kill at a different moment of the second each time.
        let offset = 1200 + round * 370 + (Uuid::new_v4().as_u128() % 500) as u64;
        tokio::time::sleep(Duration::from_millis(offset)).await;
        let before = s.leader().await.expect("a leader before the kill");
        let i = index_of(&procs, &before.node_id);
        procs[i].1.kill9();
        let killed_at = now_ms();
        // A supervisor would restart it: keep three replicas.
        let node = format!("s{}", round + 3);
        procs[i] = (node.clone(), s.scheduler(&node, &[]));

        let first = eventually(
            Duration::from_secs(10),
            "the next leader's first emission",
            || {
                let keys = s.keys.clone();
                let mut conn = s.conn.clone();
                async move {
                    let key = keys.queue("default");
                    let page = inspect::read_page(&mut conn, &key, &format!("{killed_at}-0"), 5000)
                        .await
                        .unwrap();
                    page.iter()
                        .filter(|(_, json)| {
                            let event: Event = serde_json::from_str(json).unwrap();
                            event.epoch > before.epoch
                        })
                        .map(|(id, _)| inspect::entry_ms(id).unwrap())
                        .min()
                }
            },
        )
        .await;
        let took = first - killed_at;
        eprintln!("failover {round}: {took} ms from kill -9 to the next emission");
        assert!(
            took <= TTL_MS + RENEW_MS,
            "failover {round} took {took} ms; the bound is ttl + one renewal = {} ms",
            TTL_MS + RENEW_MS
        );
    }

    // Let the last leader run a little, then check every job's ticks.
    let settled = now_ms() + 2000;
    eventually(
        Duration::from_secs(10),
        "ticks after the last failover",
        || {
            let mut conn = s.conn.clone();
            let key = s.keys.queue("default");
            async move {
                let last = inspect::read_page(&mut conn, &key, &format!("{settled}-0"), 1)
                    .await
                    .unwrap();
                (!last.is_empty()).then_some(())
            }
        },
    )
    .await;
    let events = s.events("default").await;
    assert_exactly_once_without_gaps(&events);
    let by_job = ticks_by_job(&events);
    assert_eq!(by_job.len(), jobs.len());
    for ticks in by_job.values() {
        // From the first second after creation to after the last failover.
        assert!(*ticks.last().unwrap() >= settled - 1000);
    }
}

#[tokio::test]
async fn a_sigstopped_leader_emits_nothing_when_it_wakes() {
    let mut s = Setup::new(redis_url()).await;
    for i in 0..5 {
        s.add_job(&format!("job-{i}"), "* * * * * *", CatchupPolicy::All)
            .await;
    }
    let procs = vec![
        ("a".to_owned(), s.scheduler("a", &[])),
        ("b".to_owned(), s.scheduler("b", &[])),
    ];
    let first = s.emitting_leader("a leader").await;
    let i = index_of(&procs, &first.node_id);
    procs[i].1.signal("STOP");
    let second = eventually(Duration::from_secs(10), "another leader", || {
        let mut conn = s.conn.clone();
        let keys = s.keys.clone();
        async move {
            lease::current(&mut conn, &keys)
                .await
                .unwrap()
                .filter(|l| l.epoch > first.epoch)
        }
    })
    .await;
    assert_ne!(second.node_id, first.node_id);
    eventually(Duration::from_secs(5), "the new leader emitting", || {
        let events = s.conn.clone();
        let keys = s.keys.clone();
        async move {
            let mut conn = events;
            let page = inspect::read_page(&mut conn, &keys.queue("default"), "-", 100_000)
                .await
                .unwrap();
            page.iter()
                .any(|(_, json)| json.contains(&format!("\"epoch\":{}", second.epoch)))
                .then_some(())
        }
    })
    .await;
    procs[i].1.signal("CONT");
    let woke_at = now_ms();
    eventually(Duration::from_secs(5), "the old leader to notice", || {
        let output = procs[i].1.output();
        async move { output.contains("lost leadership").then_some(()) }
    })
    .await;
    s.wait_for_entry_after(
        woke_at + 1500,
        Duration::from_secs(5),
        "ticks after the wake",
    )
    .await;

    let events = s.events("default").await;
    assert_exactly_once_without_gaps(&events);
    let takeover = events
        .iter()
        .filter(|e| e.event.epoch == second.epoch)
        .map(|e| e.appended_ms)
        .min()
        .unwrap();
    let stale: Vec<&Seen> = events
        .iter()
        .filter(|e| e.event.epoch == first.epoch && e.appended_ms > takeover)
        .collect();
    assert!(
        stale.is_empty(),
        "{} events of the cut-off leader after the takeover",
        stale.len()
    );
}

#[tokio::test]
async fn schedulers_reconnect_after_a_redis_restart_and_emit_the_ticks_it_missed() {
    let mut redis = PrivateRedis::start();
    let mut s = Setup::new(redis.url()).await;
    for i in 0..3 {
        s.add_job(&format!("job-{i}"), "* * * * * *", CatchupPolicy::All)
            .await;
    }
    let _a = s.scheduler("a", &[]);
    let _b = s.scheduler("b", &[]);
    eventually(Duration::from_secs(20), "emission", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move { (conn.xlen(key).await.unwrap_or(0) >= 6).then_some(()) }
    })
    .await;
    let down_at = now_ms();
    redis.stop();
    // The outage itself: two seconds of ticks fall due while Redis is down.
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restart();
    let up_at = now_ms();
    let client = redis::Client::open(redis.url().as_str()).unwrap();
    s.conn = client.get_multiplexed_async_connection().await.unwrap();
    s.wait_for_entry_after(
        up_at + 2000,
        Duration::from_secs(15),
        "ticks after the restart",
    )
    .await;
    let events = s.events("default").await;
    assert_exactly_once_without_gaps(&events);
    for (job, ticks) in ticks_by_job(&events) {
        let during = ticks
            .iter()
            .filter(|t| **t > down_at && **t < up_at)
            .count();
        assert!(during >= 1, "job {job}: no tick of the outage was emitted");
        assert!(*ticks.first().unwrap() < down_at && *ticks.last().unwrap() > up_at);
    }
}

#[tokio::test]
async fn changes_take_effect_within_a_second_and_a_lost_one_at_the_next_resync() {
    let mut s = Setup::new(redis_url()).await;
    let control = s
        .add_job("control", "* * * * * *", CatchupPolicy::None)
        .await;
    let _scheduler = s.scheduler("a", &["--resync-interval-ms", "2000"]);
    eventually(Duration::from_secs(20), "the control job", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move { (conn.xlen(key).await.unwrap() > 0).then_some(()) }
    })
    .await;

    // A new job: its first tick is the first second after its creation.
    let created_at = now_ms();
    let new = s.add_job("new", "* * * * * *", CatchupPolicy::None).await;
    let first = eventually(Duration::from_secs(3), "the new job's first event", || {
        let mut s_conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move {
            let page = inspect::read_page(&mut s_conn, &key, "-", 100_000)
                .await
                .unwrap();
            page.into_iter().find_map(|(id, json)| {
                let event: Event = serde_json::from_str(&json).unwrap();
                (event.job_id == new).then(|| (inspect::entry_ms(&id).unwrap(), event))
            })
        }
    })
    .await;
    assert_eq!(first.1.scheduled_at, created_at / 1000 * 1000 + 1000);
    assert!(
        first.0 - first.1.scheduled_at.max(created_at) <= 1000,
        "the new job's first tick went out {} ms after it was due",
        first.0 - first.1.scheduled_at
    );

    // Edited schedule: every other second from one second after the edit on.
    let edited_at = now_ms();
    s.edit(new, "schedule = '*/2 * * * * *'").await;
    s.publish(new, ChangeOp::Updated).await;
    // Paused, and deleted: nothing after one second.
    let paused = s
        .add_job("paused", "* * * * * *", CatchupPolicy::None)
        .await;
    let deleted = s
        .add_job("deleted", "* * * * * *", CatchupPolicy::None)
        .await;
    let lost = s.add_job("lost", "* * * * * *", CatchupPolicy::None).await;
    // Each of the three fires before it changes.
    let fired_by = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let by_job = ticks_by_job(&s.events("default").await);
        if [paused, deleted, lost]
            .iter()
            .all(|job| by_job.contains_key(job))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < fired_by,
            "the jobs about to change never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paused_at = now_ms();
    s.edit(paused, "paused = true").await;
    s.publish(paused, ChangeOp::Paused).await;
    s.edit(deleted, "deleted_at = now()").await;
    s.publish(deleted, ChangeOp::Deleted).await;
    // A change nobody announces: the resync (2 s here) must find it.
    s.edit(lost, "paused = true").await;

    let until = paused_at + 4500;
    s.wait_for_entry_after(until, Duration::from_secs(10), "the control job to go on")
        .await;
    let by_job = ticks_by_job(&s.events("default").await);
    let after_edit: Vec<i64> = by_job[&new]
        .iter()
        .copied()
        .filter(|t| *t > edited_at + 1000)
        .collect();
    assert!(after_edit.len() >= 2, "{after_edit:?}");
    assert!(
        after_edit.iter().all(|t| (t / 1000) % 2 == 0),
        "odd seconds after the schedule edit: {after_edit:?}"
    );
    for (job, name, bound) in [
        (paused, "paused", paused_at + 1000),
        (deleted, "deleted", paused_at + 1000),
        (lost, "lost", paused_at + 2000 + 1000),
    ] {
        let ticks = by_job.get(&job).cloned().unwrap_or_default();
        assert!(!ticks.is_empty(), "{name} never fired");
        let late: Vec<i64> = ticks.into_iter().filter(|t| *t > bound).collect();
        assert!(late.is_empty(), "{name} fired after its change: {late:?}");
    }
    assert!(by_job[&control].len() >= 5);
}

#[tokio::test]
async fn catch_up_policies_across_downtime() {
    let mut s = Setup::new(redis_url()).await;
    let none = s.add_job("none", "* * * * * *", CatchupPolicy::None).await;
    let latest = s
        .add_job("latest", "* * * * * *", CatchupPolicy::Latest)
        .await;
    let all = s.add_job("all", "* * * * * *", CatchupPolicy::All).await;
    let mut first = s.scheduler("a", &[]);
    eventually(Duration::from_secs(20), "emission", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move { (conn.xlen(key).await.unwrap() >= 6).then_some(()) }
    })
    .await;
    first.kill9();
    let down_at = now_ms();
    // Downtime: four seconds of ticks fall due with no scheduler at all.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _second = s.scheduler("b", &[]);
    let up_at = now_ms();
    s.wait_for_entry_after(
        up_at + 2000,
        Duration::from_secs(15),
        "emission after the restart",
    )
    .await;
    let events = s.events("default").await;
    let results = s.results().await;
    let by_job = ticks_by_job(&events);
    for (job, name) in [(none, "none"), (latest, "latest"), (all, "all")] {
        let emitted = by_job[&job].clone();
        let missed: Vec<i64> = results
            .iter()
            .filter(|r| r.job_id == job)
            .map(|r| {
                assert_eq!(r.state, RunState::Missed);
                r.scheduled_at
            })
            .collect();
        // Every tick is accounted for exactly once: emitted or reported.
        let mut every: Vec<i64> = emitted.iter().chain(&missed).copied().collect();
        every.sort_unstable();
        for pair in every.windows(2) {
            assert_eq!(pair[1] - pair[0], 1000, "{name}: {pair:?}");
        }
        // Ticks more than the grace (1 s) late went through catch-up.
        let late_emits = events
            .iter()
            .filter(|e| e.event.job_id == job && e.appended_ms - e.event.scheduled_at >= 1000)
            .count();
        match name {
            "all" => assert!(missed.is_empty() && late_emits >= 3, "{name}: {late_emits}"),
            "latest" => assert!(missed.len() >= 2 && late_emits == 1, "{name}: {late_emits}"),
            _ => assert!(missed.len() >= 3 && late_emits == 0, "{name}: {late_emits}"),
        }
        assert!(
            missed
                .iter()
                .all(|t| *t > down_at - 1000 && *t < up_at + 1000)
        );
    }
}

#[tokio::test]
async fn delayed_runs_are_promoted_and_one_shots_fire_once() {
    let mut s = Setup::new(redis_url()).await;
    let control = s
        .add_job("control", "* * * * * *", CatchupPolicy::None)
        .await;
    let shot_at = (now_ms() / 1000 + 4) * 1000;
    let at = chrono::DateTime::from_timestamp_millis(shot_at).unwrap();
    let shot = s
        .add_job(
            "shot",
            &format!("@at {}", at.to_rfc3339()),
            CatchupPolicy::Latest,
        )
        .await;
    let _scheduler = s.scheduler("a", &[]);
    let leader = eventually(Duration::from_secs(20), "a leader", || {
        let mut conn = s.conn.clone();
        let keys = s.keys.clone();
        async move { lease::current(&mut conn, &keys).await.unwrap() }
    })
    .await;

    // A retry as an executor would write it.
    let retry = Event {
        v: WIRE_VERSION,
        run_id: Uuid::now_v7(),
        job_id: control,
        job_name: "control".to_owned(),
        job_version: 1,
        trigger: Trigger::Retry,
        scheduled_at: now_ms(),
        emitted_at: 0,
        attempt: 2,
        deadline: None,
        timeout_s: 60,
        target: spec("x", "* * * * *", CatchupPolicy::None).target,
        retry: Default::default(),
        queue: "retries".to_owned(),
        epoch: 0,
    };
    let member = serde_json::to_string(&retry).unwrap();
    let due = now_ms() + 300;
    s.conn.zadd(s.keys.delayed(), &member, due).await.unwrap();
    let promoted = eventually(Duration::from_secs(5), "the retry in its queue", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("retries");
        async move {
            let page = inspect::read_page(&mut conn, &key, "-", 10).await.unwrap();
            page.first().map(|(id, json)| {
                (
                    inspect::entry_ms(id).unwrap(),
                    serde_json::from_str::<Event>(json).unwrap(),
                )
            })
        }
    })
    .await;
    assert!(promoted.0 >= due);
    assert_eq!(promoted.1.run_id, retry.run_id);
    assert_eq!(promoted.1.epoch, leader.epoch);
    assert!(promoted.1.emitted_at >= due);
    assert_eq!(s.conn.zcard(s.keys.delayed()).await.unwrap(), 0);

    // The one-shot: once, at its instant, and never again.
    let after = shot_at + 3000;
    s.wait_for_entry_after(after, Duration::from_secs(15), "ticks past the shot")
        .await;
    let by_job = ticks_by_job(&s.events("default").await);
    assert_eq!(by_job[&shot], [shot_at]);
}

#[tokio::test]
async fn sigterm_hands_leadership_over_long_before_the_lease_would_expire() {
    let mut s = Setup::new(redis_url()).await;
    s.add_job("job", "* * * * * *", CatchupPolicy::All).await;
    // A 10 s lease: a takeover within a few seconds can only come from the release.
    let mut procs = vec![
        ("a".to_owned(), s.scheduler_with_ttl("a", "10000", &[])),
        ("b".to_owned(), s.scheduler_with_ttl("b", "10000", &[])),
    ];
    let first = s.emitting_leader("a leader emitting").await;
    let i = index_of(&procs, &first.node_id);
    procs[i].1.signal("TERM");
    let termed_at = now_ms();
    let status = eventually(Duration::from_secs(5), "the old leader to exit", || {
        let status = procs[i].1.try_wait();
        async move { status }
    })
    .await;
    assert!(status.success(), "exit status {status:?}");
    assert!(procs[i].1.output().contains("released the lease"));
    let second = eventually(Duration::from_secs(5), "the standby to lead", || {
        let mut conn = s.conn.clone();
        let keys = s.keys.clone();
        async move {
            lease::current(&mut conn, &keys)
                .await
                .unwrap()
                .filter(|l| l.epoch > first.epoch)
        }
    })
    .await;
    // Within a quarter of a renewal interval (833 ms here) of the release,
    // where waiting for expiry would take up to 10 s.
    let events = eventually(
        Duration::from_secs(5),
        "the new leader's first emission",
        || {
            let mut conn = s.conn.clone();
            let key = s.keys.queue("default");
            async move {
                let page = inspect::read_page(&mut conn, &key, "-", 100_000)
                    .await
                    .unwrap();
                page.iter()
                    .filter(|(_, json)| json.contains(&format!("\"epoch\":{}", second.epoch)))
                    .map(|(id, _)| inspect::entry_ms(id).unwrap())
                    .min()
            }
        },
    )
    .await;
    assert!(
        events - termed_at < 833 + 700,
        "took {} ms after SIGTERM",
        events - termed_at
    );
    assert_exactly_once_without_gaps(&s.events("default").await);
}

#[test]
fn bad_scheduler_settings_stop_it_before_it_starts() {
    for (args, field) in [
        (&["--lease-ttl-ms", "500"][..], "lease_ttl_ms"),
        (
            &["--lease-ttl-ms", "1000", "--renew-interval-ms", "600"][..],
            "renew_interval_ms",
        ),
    ] {
        let out = crate::harness::chime_command()
            .arg("scheduler")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(field), "stderr: {stderr}");
    }
}

#[tokio::test]
async fn real_executors_run_the_ticks_and_overlap_policies_hold_against_their_running_sets() {
    use chime_core::OverlapPolicy;
    let mut s = Setup::new(redis_url()).await;
    let shell = |argv: &[&str]| {
        Target::Shell(ShellTarget {
            command: argv.iter().map(|a| a.to_string()).collect(),
            env: Default::default(),
            cwd: None,
        })
    };
    let quick = s.add_job("quick", "* * * * * *", CatchupPolicy::None).await;
    let mut forbid = spec("slow-forbid", "* * * * * *", CatchupPolicy::None);
    forbid.overlap = OverlapPolicy::Forbid;
    forbid.target = shell(&["sleep", "3"]);
    let forbid = s.add_spec(forbid).await;
    let mut replace = spec("slow-replace", "* * * * * *", CatchupPolicy::None);
    replace.overlap = OverlapPolicy::Replace;
    replace.target = shell(&["sleep", "30"]);
    let replace = s.add_spec(replace).await;

    let _scheduler = s.scheduler("a", &[]);
    let _executor = Chime::spawn(&[
        "executor",
        "--redis-url",
        &s.redis_url,
        "--prefix",
        s.keys.prefix(),
        "--queues",
        "default",
        "--concurrency",
        "16",
    ]);
    let results = eventually(
        Duration::from_secs(30),
        "succeeded, skipped and cancelled runs",
        || {
            let mut conn = s.conn.clone();
            let key = s.keys.results();
            async move {
                let reply = conn.xrange_all(key).await.unwrap();
                let results: Vec<RunResult> = reply
                    .ids
                    .iter()
                    .map(|e| serde_json::from_str(&e.get::<String>(EVENT_FIELD).unwrap()).unwrap())
                    .collect();
                let count = |job: Uuid, state: RunState| {
                    results
                        .iter()
                        .filter(|r| r.job_id == job && r.state == state)
                        .count()
                };
                (count(quick, RunState::Succeeded) >= 2
                    && count(forbid, RunState::Skipped) >= 2
                    && count(replace, RunState::Cancelled) >= 1)
                    .then_some(results)
            }
        },
    )
    .await;
    // A forbidden tick is never also run, and every run id is one tick's.
    let skipped: HashSet<Uuid> = results
        .iter()
        .filter(|r| r.job_id == forbid && r.state == RunState::Skipped)
        .map(|r| r.run_id)
        .collect();
    assert!(
        results
            .iter()
            .filter(|r| r.state == RunState::Running)
            .all(|r| !skipped.contains(&r.run_id)),
        "a skipped tick was also started"
    );
    let cancelled = results
        .iter()
        .find(|r| r.job_id == replace && r.state == RunState::Cancelled)
        .unwrap();
    assert!(
        cancelled
            .error
            .as_deref()
            .is_some_and(|e| e.contains("replaced")),
        "{cancelled:?}"
    );
}

#[tokio::test]
async fn a_failed_run_goes_through_the_delayed_set_and_the_leader_promotes_its_retry() {
    let mut s = Setup::new(redis_url()).await;
    let marker = std::env::temp_dir().join(format!("chime-retry-{}", Uuid::new_v4().simple()));
    let marker = marker.to_string_lossy().into_owned();
    let at = chrono::DateTime::from_timestamp_millis((now_ms() / 1000 + 3) * 1000).unwrap();
    let mut flaky = spec(
        "flaky",
        &format!("@at {}", at.to_rfc3339()),
        CatchupPolicy::All,
    );
    // Fails the first time, succeeds the second.
    flaky.target = Target::Shell(ShellTarget {
        command: vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!("test -f {marker} && exit 0; touch {marker}; exit 1"),
        ],
        env: Default::default(),
        cwd: None,
    });
    flaky.retry = chime_core::RetryPolicy {
        max_attempts: 2,
        backoff_initial_ms: 200,
        backoff_max_ms: 200,
    };
    let job = s.add_spec(flaky).await;
    let _scheduler = s.scheduler("a", &[]);
    let _executor = Chime::spawn(&[
        "executor",
        "--redis-url",
        &s.redis_url,
        "--prefix",
        s.keys.prefix(),
        "--queues",
        "default",
    ]);
    let results = eventually(Duration::from_secs(20), "the retry to succeed", || {
        let mut conn = s.conn.clone();
        let key = s.keys.results();
        async move {
            let reply = conn.xrange_all(key).await.unwrap();
            let results: Vec<RunResult> = reply
                .ids
                .iter()
                .map(|e| serde_json::from_str(&e.get::<String>(EVENT_FIELD).unwrap()).unwrap())
                .collect();
            results
                .iter()
                .any(|r| r.job_id == job && r.attempt == 2 && r.state == RunState::Succeeded)
                .then_some(results)
        }
    })
    .await;
    let _ = std::fs::remove_file(&marker);
    let first = results
        .iter()
        .find(|r| r.job_id == job && r.attempt == 1 && r.state.is_terminal())
        .expect("a terminal result for attempt 1");
    assert_ne!(first.state, RunState::Succeeded);
    let second = results
        .iter()
        .find(|r| r.job_id == job && r.attempt == 2 && r.state == RunState::Succeeded)
        .unwrap();
    // The same run, its retry promoted by the leader into the queue.
    assert_eq!(second.run_id, first.run_id);
    assert_eq!(second.trigger, Trigger::Retry);
    let events = s.events("default").await;
    let promoted = events
        .iter()
        .find(|e| e.event.job_id == job && e.event.attempt == 2)
        .expect("the retry in the queue");
    let leader = s.leader().await.expect("a leader");
    assert_eq!(promoted.event.epoch, leader.epoch);
}

#[tokio::test]
async fn a_new_job_is_armed_within_a_fraction_of_a_second_of_its_change_entry() {
    let mut s = Setup::new(redis_url()).await;
    s.add_job("control", "* * * * * *", CatchupPolicy::None)
        .await;
    let _scheduler = s.scheduler("a", &[]);
    eventually(Duration::from_secs(20), "the control job", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move { (conn.xlen(key).await.unwrap() > 0).then_some(()) }
    })
    .await;
    // A one-shot 250 ms after its change entry: on time only if the leader
    // fetched and armed it well within that.
    let at_ms = now_ms() + 250;
    let at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap();
    let shot = s
        .add_spec(spec(
            "shot",
            &format!(
                "@at {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            CatchupPolicy::All,
        ))
        .await;
    let appended = eventually(Duration::from_secs(5), "the one-shot", || {
        let mut conn = s.conn.clone();
        let key = s.keys.queue("default");
        async move {
            let page = inspect::read_page(&mut conn, &key, "-", 100_000)
                .await
                .unwrap();
            page.iter().find_map(|(id, json)| {
                let event: Event = serde_json::from_str(json).unwrap();
                (event.job_id == shot).then(|| inspect::entry_ms(id).unwrap())
            })
        }
    })
    .await;
    eprintln!(
        "one-shot appended {} ms after its instant",
        appended - at_ms
    );
    assert!(
        appended - at_ms < 150,
        "the one-shot went out {} ms after its instant",
        appended - at_ms
    );
}
