//! `chime executor` as a black box: real processes against the suite's
//! Redis under a prefix of their own. Each test writes events to a queue
//! stream as the scheduler would and reads `{prefix}:results`, the running
//! sets, the delayed set and the dead stream as the recorder would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chime_core::job::{EventTarget, HttpTarget, RetryPolicy, ShellTarget};
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::{
    Control, ControlOp, EVENT_FIELD, Event, REASON_FIELD, RunResult, WIRE_VERSION,
};
use chime_core::{Keys, RunState, Target, Trigger};
use redis::aio::MultiplexedConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::harness::{Chime, chime_command, eventually, redis, redis_url, unique_prefix};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_run_of_a_killed_executor_is_finished_by_another_exactly_once() {
    let t = Fixture::new().await;
    let mut a = t.executor(&["--visibility-timeout", "2s"]);
    let event = t.event(
        "default",
        shell(&["sh", "-c", "sleep 5; echo finished"]),
        30,
    );
    t.push(&event).await;
    let running = t.wait_state(event.run_id, RunState::Running).await;
    let a_id = running.executor_id.clone().expect("executor id");

    let _b = t.executor(&["--visibility-timeout", "2s"]);
    a.kill9();

    let done = t.wait_terminal(event.run_id).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    assert_ne!(done.executor_id.as_deref(), Some(a_id.as_str()));
    assert_eq!(done.attempt, 1, "a redelivery keeps its attempt number");
    assert_eq!(done.stdout.as_deref(), Some("finished\n"));
    let terminal: Vec<RunResult> = t
        .results_for(event.run_id)
        .await
        .into_iter()
        .filter(|r| r.state.is_terminal())
        .collect();
    assert_eq!(terminal.len(), 1, "{terminal:?}");
    assert_eq!(t.pending("default").await, 0);
    assert_eq!(t.running_members(event.job_id).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_tree() {
    let t = Fixture::new().await;
    let _executor = t.executor(&["--kill-grace-ms", "500"]);
    let marker = marker();
    let script = format!("sleep {marker} & sleep {marker}; echo never");
    let event = t.event("default", shell(&["sh", "-c", &script]), 2);
    t.push(&event).await;
    let running = t.wait_state(event.run_id, RunState::Running).await;
    assert!(!running.state.is_terminal());
    eventually(WAIT, "both sleeps to start", || async {
        (processes_with(&marker).len() >= 2).then_some(())
    })
    .await;

    let done = t.wait_terminal(event.run_id).await;
    assert_eq!(done.state, RunState::TimedOut, "{done:?}");
    assert!(
        done.error.as_deref().unwrap_or("").contains("timed out"),
        "{done:?}"
    );
    processes_gone(&marker, "no process of the tree to survive").await;
}

#[tokio::test]
async fn a_failed_run_is_retried_with_backoff_and_then_succeeds() {
    let t = Fixture::new().await;
    let _executor = t.executor(&[]);
    let flag = std::env::temp_dir().join(format!("chime-it-retry-{}", Uuid::new_v4().simple()));
    let script = format!(
        "if [ -e {0} ]; then echo second $CHIME_ATTEMPT $CHIME_RUN_ID ${{REDIS_URL:-withheld}}; \
         else touch {0}; echo first >&2; exit 7; fi",
        flag.display()
    );
    let mut event = t.event("default", shell(&["sh", "-c", &script]), 10);
    event.retry = RetryPolicy {
        max_attempts: 3,
        backoff_initial_ms: 300,
        backoff_max_ms: 1_000,
    };
    t.push(&event).await;

    let first = t.wait_terminal(event.run_id).await;
    assert_eq!(first.state, RunState::Retrying, "{first:?}");
    assert_eq!(first.exit_code, Some(7));
    assert_eq!(first.stderr.as_deref(), Some("first\n"));
    let delayed = t.delayed().await;
    assert_eq!(delayed.len(), 1, "{delayed:?}");
    let (next, due) = &delayed[0];
    assert_eq!(
        (next.run_id, next.attempt, next.trigger),
        (event.run_id, 2, Trigger::Retry)
    );
    let finished = first.finished_at.expect("finished_at");
    assert!(
        (finished..=finished + 300).contains(due),
        "due {due} is not within the first backoff ceiling (300 ms) after {finished}"
    );

    let second = eventually(WAIT, "the second attempt to end", || async {
        t.promote_due().await;
        t.results_for(event.run_id)
            .await
            .into_iter()
            .find(|r| r.attempt == 2 && r.state.is_terminal())
    })
    .await;
    let _ = std::fs::remove_file(&flag);
    assert_eq!(second.state, RunState::Succeeded, "{second:?}");
    assert_eq!(second.trigger, Trigger::Retry);
    assert_eq!(
        second.stdout,
        Some(format!("second 2 {} withheld\n", event.run_id)),
        "the job sees its attempt and run id, never the executor's Redis URL"
    );
    assert!(t.delayed().await.is_empty());
    assert!(t.dead().await.is_empty());
}

#[tokio::test]
async fn exhausted_retries_end_dead_with_a_copy_on_the_dead_stream() {
    let t = Fixture::new().await;
    let _executor = t.executor(&[]);
    let mut event = t.event("default", shell(&["false"]), 10);
    event.retry = RetryPolicy {
        max_attempts: 2,
        backoff_initial_ms: 100,
        backoff_max_ms: 100,
    };
    t.push(&event).await;

    let last = eventually(WAIT, "the last attempt to end", || async {
        t.promote_due().await;
        t.results_for(event.run_id)
            .await
            .into_iter()
            .find(|r| r.attempt == 2 && r.state.is_terminal())
    })
    .await;
    assert_eq!(last.state, RunState::Dead, "{last:?}");
    assert_eq!(last.exit_code, Some(1));
    let states: Vec<(u32, RunState)> = t
        .results_for(event.run_id)
        .await
        .iter()
        .map(|r| (r.attempt, r.state))
        .collect();
    assert_eq!(
        states,
        [
            (1, RunState::Running),
            (1, RunState::Retrying),
            (2, RunState::Running),
            (2, RunState::Dead)
        ]
    );
    let dead = t.dead().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (raw, reason) = &dead[0];
    let copy: Event = serde_json::from_str(raw).expect("the dead entry holds the event");
    assert_eq!((copy.run_id, copy.attempt), (event.run_id, 2));
    assert!(reason.contains("attempts exhausted"), "{reason}");
    assert_eq!(t.pending("default").await, 0);
}

#[tokio::test]
async fn a_poison_entry_goes_dead_after_max_deliveries_while_work_goes_on() {
    let t = Fixture::new().await;
    let _executor = t.executor(&["--visibility-timeout", "1s", "--max-deliveries", "2"]);
    t.push_raw("default", "{this is not an event").await;
    let before = t.event("default", shell(&["true"]), 10);
    t.push(&before).await;
    assert_eq!(
        t.wait_terminal(before.run_id).await.state,
        RunState::Succeeded
    );

    let dead = eventually(WAIT, "the poison entry to be dead-lettered", || async {
        let dead = t.dead().await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "{this is not an event");
    assert!(dead[0].1.contains("does not decode"), "{}", dead[0].1);
    assert!(dead[0].1.contains("delivered 3 times"), "{}", dead[0].1);
    assert_eq!(t.pending("default").await, 0);

    let after = t.event("default", shell(&["true"]), 10);
    t.push(&after).await;
    assert_eq!(
        t.wait_terminal(after.run_id).await.state,
        RunState::Succeeded
    );
}

#[tokio::test]
async fn a_run_redis_refuses_holds_up_no_other_run_of_its_claim() {
    let t = Fixture::new().await;
    let good = t.event("default", shell(&["true"]), 10);
    let refused = t.event("default", shell(&["true"]), 10);
    // The refused run's running set is a string: its ZADD fails WRONGTYPE.
    let running_key = t.keys.running(&refused.job_id.to_string());
    let mut conn = t.conn.clone();
    redis::cmd("SET")
        .arg(&running_key)
        .arg("not a sorted set")
        .query_async::<()>(&mut conn)
        .await
        .expect("SET");
    // Both are queued before the executor starts, so one read claims both.
    t.push(&refused).await;
    t.push(&good).await;
    let _executor = t.executor(&[]);

    assert_eq!(
        t.wait_terminal(good.run_id).await.state,
        RunState::Succeeded
    );
    // Its `running` result may be in (the pipeline is not atomic), its
    // end is not: the run has not started.
    assert!(
        t.results_for(refused.run_id)
            .await
            .iter()
            .all(|result| result.state == RunState::Running),
        "the refused run did not end"
    );
    assert_eq!(t.pending("default").await, 1, "the refused entry waits");

    // Once Redis takes its report, the refused run goes on by itself.
    redis::cmd("DEL")
        .arg(&running_key)
        .query_async::<()>(&mut conn)
        .await
        .expect("DEL");
    assert_eq!(
        t.wait_terminal(refused.run_id).await.state,
        RunState::Succeeded
    );
    assert_eq!(t.pending("default").await, 0);
}

#[tokio::test]
async fn a_settlement_redis_refuses_holds_up_no_other() {
    let t = Fixture::new().await;
    let refused = t.event("default", shell(&["sleep", "1"]), 10);
    let good: Vec<Event> = (0..10)
        .map(|_| t.event("default", shell(&["sleep", "1"]), 10))
        .collect();
    t.push(&refused).await;
    for event in &good {
        t.push(event).await;
    }
    let _executor = t.executor(&[]);
    t.wait_state(refused.run_id, RunState::Running).await;
    for event in &good {
        t.wait_state(event.run_id, RunState::Running).await;
    }
    // While they run, the refused run's running set becomes a string: its
    // settlement's ZREM fails WRONGTYPE. Runs ending together may share a
    // settle call (`queue`'s tests pin that case down); either way the ten
    // others must not wait with it.
    let running_key = t.keys.running(&refused.job_id.to_string());
    let mut conn = t.conn.clone();
    redis::pipe()
        .del(&running_key)
        .ignore()
        .set(&running_key, "not a sorted set")
        .ignore()
        .query_async::<()>(&mut conn)
        .await
        .expect("replacing the running set");

    eventually(WAIT, "the ten good entries to be acknowledged", || async {
        (t.pending("default").await == 1).then_some(())
    })
    .await;
    for event in &good {
        assert_eq!(
            t.wait_terminal(event.run_id).await.state,
            RunState::Succeeded
        );
    }

    redis::cmd("DEL")
        .arg(&running_key)
        .query_async::<()>(&mut conn)
        .await
        .expect("DEL");
    eventually(WAIT, "the refused entry to be settled too", || async {
        (t.pending("default").await == 0).then_some(())
    })
    .await;
    assert_eq!(
        t.wait_terminal(refused.run_id).await.state,
        RunState::Succeeded
    );
}

#[tokio::test]
async fn an_executor_runs_only_the_queues_it_serves() {
    let t = Fixture::new().await;
    let on_b = t.event("b", shell(&["true"]), 10);
    t.push(&on_b).await;
    let _a = t.executor(&["--queues", "a"]);
    let on_a = t.event("a", shell(&["true"]), 10);
    t.push(&on_a).await;
    let done_a = t.wait_terminal(on_a.run_id).await;
    assert_eq!(done_a.state, RunState::Succeeded);
    let a_id = done_a.executor_id.clone().expect("executor id");
    assert!(
        t.results_for(on_b.run_id).await.is_empty(),
        "queue b was served by a"
    );

    // The registry names the executor and its queues.
    let mut conn = t.conn.clone();
    let info: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(t.keys.executor(&a_id))
        .query_async(&mut conn)
        .await
        .expect("reading the registry");
    assert_eq!(
        info.get("queues").map(String::as_str),
        Some("a"),
        "{info:?}"
    );
    assert!(
        info.contains_key("pid") && info.contains_key("started_at"),
        "{info:?}"
    );
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(t.keys.executors())
        .arg(&a_id)
        .query_async(&mut conn)
        .await
        .expect("reading the registry");
    assert!(score.is_some());

    let _b = t.executor(&["--queues", "b"]);
    let done_b = t.wait_terminal(on_b.run_id).await;
    assert_eq!(done_b.state, RunState::Succeeded);
    assert_ne!(done_b.executor_id, Some(a_id));
}

#[tokio::test]
async fn concurrency_bounds_runs_in_flight_across_queues() {
    let t = Fixture::new().await;
    let events: Vec<Event> = (0..6)
        .map(|i| {
            let queue = if i % 2 == 0 { "a" } else { "b" };
            t.event(queue, shell(&["sleep", "0.5"]), 10)
        })
        .collect();
    for event in &events {
        t.push(event).await;
    }
    let _executor = t.executor(&["--queues", "a,b", "--concurrency", "2"]);
    let mut spans = Vec::new();
    for event in &events {
        let done = t.wait_terminal(event.run_id).await;
        assert_eq!(done.state, RunState::Succeeded, "{done:?}");
        spans.push((
            done.started_at.expect("started_at"),
            done.finished_at.expect("finished_at"),
        ));
    }
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, f)| s <= start && start < f)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(most, 2, "runs in flight at once: {spans:?}");
}

#[tokio::test]
async fn http_targets_send_the_request_and_record_status_and_body() {
    let t = Fixture::new().await;
    let server = TestServer::start().await;
    let _executor = t.executor(&[]);

    let mut post = HttpTarget {
        method: "POST".to_owned(),
        url: format!("{}/ok", server.url),
        headers: BTreeMap::from([("X-Chime".to_owned(), "yes".to_owned())]),
        body: Some("hello".to_owned()),
        expect_status: None,
    };
    let ok = t.event("default", Target::Http(post.clone()), 10);
    t.push(&ok).await;
    let done = t.wait_terminal(ok.run_id).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");
    assert_eq!(done.http_status, Some(201));
    assert_eq!(done.stdout.as_deref(), Some("created hello"));
    let request = server
        .request_to("/ok")
        .expect("the server saw the request");
    assert!(request.starts_with("POST /ok HTTP/1.1\r\n"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("\r\nx-chime: yes\r\n"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\nhello"), "{request}");

    post.url = format!("{}/fail", server.url);
    post.method = "GET".to_owned();
    post.body = None;
    let fail = t.event("default", Target::Http(post.clone()), 10);
    t.push(&fail).await;
    let done = t.wait_terminal(fail.run_id).await;
    assert_eq!(done.state, RunState::Failed, "{done:?}");
    assert_eq!(done.http_status, Some(500));
    assert_eq!(done.stdout.as_deref(), Some("boom"));
    assert!(
        done.error.as_deref().unwrap_or("").contains("500"),
        "{done:?}"
    );

    post.expect_status = Some([500, 500]);
    let expected = t.event("default", Target::Http(post.clone()), 10);
    t.push(&expected).await;
    assert_eq!(
        t.wait_terminal(expected.run_id).await.state,
        RunState::Succeeded
    );

    post.url = format!("{}/slow", server.url);
    post.expect_status = None;
    let slow = t.event("default", Target::Http(post), 1);
    t.push(&slow).await;
    let done = t.wait_terminal(slow.run_id).await;
    assert_eq!(done.state, RunState::TimedOut, "{done:?}");
    assert_eq!(done.http_status, None);
}

#[tokio::test]
async fn event_targets_append_the_payload_with_run_metadata() {
    let t = Fixture::new().await;
    let _executor = t.executor(&[]);
    let target = Target::Event(EventTarget {
        stream: "orders".to_owned(),
        payload: serde_json::json!({"report": "daily", "n": 3}),
    });
    let event = t.event("default", target, 10);
    t.push(&event).await;
    let done = t.wait_terminal(event.run_id).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:?}");

    let mut conn = t.conn.clone();
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(t.keys.events("orders"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("reading the event stream");
    assert_eq!(entries.ids.len(), 1);
    let entry = &entries.ids[0];
    let payload: String = entry.get("payload").expect("payload field");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&payload).expect("payload is JSON"),
        serde_json::json!({"report": "daily", "n": 3})
    );
    assert_eq!(
        entry.get::<String>("run_id"),
        Some(event.run_id.to_string())
    );
    assert_eq!(
        entry.get::<String>("job_id"),
        Some(event.job_id.to_string())
    );
    assert_eq!(
        entry.get::<String>("scheduled_at"),
        Some(event.scheduled_at.to_string())
    );
}

#[tokio::test]
async fn a_cancel_request_kills_the_run_and_reports_cancelled() {
    let t = Fixture::new().await;
    let _executor = t.executor(&["--kill-grace-ms", "500"]);
    let marker = marker();
    let event = t.event(
        "default",
        shell(&["sh", "-c", &format!("sleep {marker}")]),
        600,
    );
    t.push(&event).await;
    t.wait_state(event.run_id, RunState::Running).await;
    eventually(WAIT, "the job to start", || async {
        (!processes_with(&marker).is_empty()).then_some(())
    })
    .await;

    let control = Control {
        v: WIRE_VERSION,
        op: ControlOp::Cancel,
        run_id: event.run_id,
        reason: "requested".to_owned(),
    };
    let mut conn = t.conn.clone();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(t.keys.control())
        .arg(serde_json::to_string(&control).expect("control JSON"))
        .query_async(&mut conn)
        .await
        .expect("publishing");
    assert_eq!(receivers, 1);

    let done = t.wait_terminal(event.run_id).await;
    assert_eq!(done.state, RunState::Cancelled, "{done:?}");
    assert!(
        done.error.as_deref().unwrap_or("").contains("requested"),
        "{done:?}"
    );
    processes_gone(&marker, "the job's processes to be gone").await;
    assert_eq!(t.pending("default").await, 0);
}

#[tokio::test]
async fn an_event_claimed_after_its_deadline_is_missed_not_run() {
    let t = Fixture::new().await;
    let _executor = t.executor(&[]);
    let flag = std::env::temp_dir().join(format!("chime-it-missed-{}", Uuid::new_v4().simple()));
    let mut event = t.event(
        "default",
        shell(&["touch", &flag.display().to_string()]),
        10,
    );
    event.deadline = Some(event.scheduled_at - 1_000);
    t.push(&event).await;
    let done = t.wait_terminal(event.run_id).await;
    assert_eq!(done.state, RunState::Missed, "{done:?}");
    assert!(!flag.exists(), "a missed run must not start");
    let states: Vec<RunState> = t
        .results_for(event.run_id)
        .await
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(states, [RunState::Missed]);
    assert_eq!(t.pending("default").await, 0);
}

#[tokio::test]
async fn sigterm_lets_short_runs_finish_and_leaves_long_ones_unacknowledged() {
    let t = Fixture::new().await;
    let mut executor = t.executor(&["--shutdown-grace-ms", "3000", "--kill-grace-ms", "500"]);
    let marker = marker();
    let short = t.event("default", shell(&["sh", "-c", "sleep 1; echo short"]), 30);
    let long = t.event(
        "default",
        shell(&["sh", "-c", &format!("sleep {marker}")]),
        600,
    );
    t.push(&short).await;
    t.push(&long).await;
    t.wait_state(short.run_id, RunState::Running).await;
    t.wait_state(long.run_id, RunState::Running).await;

    executor.signal("TERM");
    let status = eventually(Duration::from_secs(15), "the executor to exit", || {
        let status = executor.try_wait();
        async move { status }
    })
    .await;
    assert!(status.success(), "exit status {status:?}");

    let short_done = t.wait_terminal(short.run_id).await;
    assert_eq!(short_done.state, RunState::Succeeded, "{short_done:?}");
    let long_results: Vec<RunState> = t
        .results_for(long.run_id)
        .await
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(
        long_results,
        [RunState::Running],
        "the long run has no terminal result"
    );
    assert_eq!(
        t.pending("default").await,
        1,
        "the long run stays pending for another executor"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "the abandoned run was killed"
    );
    let mut conn = t.conn.clone();
    let registered: i64 = redis::cmd("ZCARD")
        .arg(t.keys.executors())
        .query_async(&mut conn)
        .await
        .expect("reading the registry");
    assert_eq!(registered, 0, "a stopped executor leaves the registry");
}

#[test]
fn bad_executor_flags_stop_it_before_it_starts() {
    for (args, expected) in [
        (
            &["executor", "--concurrency", "0"][..],
            "concurrency: 0 is out of range",
        ),
        (
            &["executor", "--visibility-timeout", "5x"][..],
            "unknown unit 'x'",
        ),
        (&["executor", "--queues", "a,a"][..], "'a' is named twice"),
        (
            &["executor", "--queues", "no spaces"][..],
            "is not a queue name",
        ),
    ] {
        let out = chime_command()
            .args(["--redis-url", "redis://127.0.0.1:1"])
            .args(args)
            .output()
            .expect("running chime");
        assert!(!out.status.success(), "{args:?} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// A test's view of Redis under its own prefix.
struct Fixture {
    prefix: String,
    keys: Keys,
    conn: MultiplexedConnection,
}

impl Fixture {
    async fn new() -> Fixture {
        let prefix = unique_prefix();
        Fixture {
            keys: Keys::new(prefix.clone()),
            prefix,
            conn: redis().await,
        }
    }

    /// A `chime executor` on this prefix with `args` after the subcommand.
    /// The Redis URL goes in through `REDIS_URL`, as it often does in
    /// production, so a test can check that jobs never see it.
    fn executor(&self, args: &[&str]) -> Chime {
        let url = redis_url();
        let mut all = vec!["--prefix", self.prefix.as_str(), "executor"];
        all.extend_from_slice(args);
        Chime::spawn_with_env(&all, &[("REDIS_URL", url.as_str())])
    }

    fn event(&self, queue: &str, target: Target, timeout_s: u64) -> Event {
        let now = chrono::Utc::now().timestamp_millis();
        Event {
            v: WIRE_VERSION,
            run_id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            job_name: "it".to_owned(),
            job_version: 1,
            trigger: Trigger::Manual,
            scheduled_at: now,
            emitted_at: now,
            attempt: 1,
            deadline: None,
            timeout_s,
            target,
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            queue: queue.to_owned(),
            epoch: 0,
        }
    }

    async fn push(&self, event: &Event) {
        let json = serde_json::to_string(event).expect("event JSON");
        self.push_raw(&event.queue, &json).await;
    }

    async fn push_raw(&self, queue: &str, payload: &str) {
        let mut conn = self.conn.clone();
        redis::cmd("XADD")
            .arg(self.keys.queue(queue))
            .arg("*")
            .arg(EVENT_FIELD)
            .arg(payload)
            .query_async::<()>(&mut conn)
            .await
            .expect("XADD to the queue");
    }

    async fn results_for(&self, run_id: Uuid) -> Vec<RunResult> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.results())
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("reading results");
        reply
            .ids
            .iter()
            .filter_map(|entry| entry.get::<String>(EVENT_FIELD))
            .map(|json| serde_json::from_str::<RunResult>(&json).expect("a result decodes"))
            .filter(|result| result.run_id == run_id)
            .collect()
    }

    async fn wait_state(&self, run_id: Uuid, state: RunState) -> RunResult {
        eventually(WAIT, &format!("run {run_id} to be {state}"), || async {
            self.results_for(run_id)
                .await
                .into_iter()
                .find(|r| r.state == state)
        })
        .await
    }

    /// The first terminal result of the run.
    async fn wait_terminal(&self, run_id: Uuid) -> RunResult {
        eventually(WAIT, &format!("run {run_id} to end"), || async {
            self.results_for(run_id)
                .await
                .into_iter()
                .find(|r| r.state.is_terminal())
        })
        .await
    }

    async fn pending(&self, queue: &str) -> usize {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg(self.keys.queue(queue))
            .arg(EXECUTOR_GROUP)
            .query_async(&mut conn)
            .await
            .expect("XPENDING");
        reply.count()
    }

    async fn running_members(&self, job_id: Uuid) -> Vec<String> {
        let mut conn = self.conn.clone();
        redis::cmd("ZRANGE")
            .arg(self.keys.running(&job_id.to_string()))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .expect("ZRANGE running")
    }

    async fn delayed(&self) -> Vec<(Event, i64)> {
        let mut conn = self.conn.clone();
        let members: Vec<(String, i64)> = redis::cmd("ZRANGE")
            .arg(self.keys.delayed())
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .expect("ZRANGE delayed");
        members
            .into_iter()
            .map(|(json, due)| {
                (
                    serde_json::from_str(&json).expect("a delayed event decodes"),
                    due,
                )
            })
            .collect()
    }

    /// What the leader's promoter does (built elsewhere): moves due members
    /// of the delayed set into their queues.
    async fn promote_due(&self) {
        let mut conn = self.conn.clone();
        let now = chrono::Utc::now().timestamp_millis();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.delayed())
            .arg("-inf")
            .arg(now)
            .query_async(&mut conn)
            .await
            .expect("ZRANGEBYSCORE delayed");
        for json in due {
            let removed: i64 = redis::cmd("ZREM")
                .arg(self.keys.delayed())
                .arg(&json)
                .query_async(&mut conn)
                .await
                .expect("ZREM delayed");
            if removed == 1 {
                let event: Event = serde_json::from_str(&json).expect("a delayed event decodes");
                self.push_raw(&event.queue, &json).await;
            }
        }
    }

    async fn dead(&self) -> Vec<(String, String)> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.dead())
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("reading the dead stream");
        reply
            .ids
            .iter()
            .map(|entry| {
                (
                    entry.get::<String>(EVENT_FIELD).unwrap_or_default(),
                    entry.get::<String>(REASON_FIELD).unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn shell(argv: &[&str]) -> Target {
    Target::Shell(ShellTarget {
        command: argv.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::new(),
        cwd: None,
    })
}

/// A `sleep` duration no other process uses (`100.<random digits>`
/// seconds), so the test can find the job's processes in /proc.
fn marker() -> String {
    format!("100.{}", Uuid::new_v4().as_u128() % 10_000_000_000)
}

/// Waits (5 s at most) until no process carries `marker`.
async fn processes_gone(marker: &str, what: &str) {
    eventually(Duration::from_secs(5), what, || async {
        processes_with(marker).is_empty().then_some(())
    })
    .await;
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(marker)
                .then_some(pid)
        })
        .collect()
}

/// A tiny HTTP/1.1 server: `/ok` answers 201 `created <body>`, `/fail`
/// 500 `boom`, `/slow` nothing for a minute. It keeps every request it saw.
struct TestServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the test server");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    seen.lock().expect("lock").push(request.clone());
                    let path = request.split(' ').nth(1).unwrap_or("").to_owned();
                    let body = request.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                    let (status, text) = match path.as_str() {
                        "/ok" => ("201 Created", format!("created {body}")),
                        "/slow" => {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            ("200 OK", String::new())
                        }
                        _ => ("500 Internal Server Error", "boom".to_owned()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        TestServer {
            url,
            requests,
            task,
        }
    }

    fn request_to(&self, path: &str) -> Option<String> {
        let prefix = format!(" {path} ");
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .find(|r| r.contains(&prefix))
            .cloned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request: the head, then `content-length` bytes of body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text);
            }
        }
    }
}
