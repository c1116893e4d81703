//! The lease, the fenced emit script, the delayed-set promotion and stream
//! trimming against a real Redis (`CHIME_TEST_REDIS_URL`, default the local
//! one), each test under a key prefix of its own.

#![allow(clippy::unwrap_used)]

use chime_core::Keys;
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::Control;
use chime_queue::QueueError;
use chime_queue::emit::{EmitTick, TickMode, TickOutcome, cursors, emit_ticks};
use chime_queue::lease::{self, Campaign, LeaderLease};
use chime_queue::promote::{self, Promotion};
use chime_queue::trim::trim_stream;
use redis::AsyncTypedCommands;
use redis::aio::MultiplexedConnection;

mod common;
use common::setup;

async fn lead(conn: &mut MultiplexedConnection, keys: &Keys, node: &str) -> LeaderLease {
    match lease::acquire(conn, keys, node, 5_000)
        .await
        .expect("campaign")
    {
        Campaign::Acquired { lease, .. } => lease,
        held => panic!("expected to win the lease, got {held:?}"),
    }
}

fn tick(job: &str, tick_ms: i64, mode: TickMode) -> EmitTick {
    EmitTick {
        job_id: job.to_owned(),
        tick_ms,
        queue: "default".to_owned(),
        mode,
        event: format!("{{\"job\":\"{job}\",\"tick\":{tick_ms}}}"),
        result: format!("{{\"result\":\"{job}\",\"tick\":{tick_ms}}}"),
    }
}

async fn stream(conn: &mut MultiplexedConnection, key: &str) -> Vec<String> {
    let reply = conn.xrange_all(key).await.expect("XRANGE");
    reply
        .ids
        .iter()
        .map(|e| e.get::<String>("event").expect("an event field"))
        .collect()
}

#[tokio::test]
async fn one_leader_at_a_time_with_increasing_epochs() {
    let (mut conn, keys) = setup().await;
    let first = lead(&mut conn, &keys, "a").await;
    assert_eq!(first.token(), format!("a:{}", first.epoch()));
    match lease::acquire(&mut conn, &keys, "b", 5_000).await.unwrap() {
        Campaign::Held {
            holder,
            remaining_ms,
        } => {
            assert_eq!(holder, first.token());
            assert!(remaining_ms > 0 && remaining_ms <= 5_000);
        }
        other => panic!("b must not win while a holds the lease: {other:?}"),
    }
    lease::renew(&mut conn, &keys, &first, 5_000).await.unwrap();
    let info = lease::current(&mut conn, &keys).await.unwrap().unwrap();
    assert_eq!((info.node_id.as_str(), info.epoch), ("a", first.epoch()));
    assert!(info.since_ms.is_some_and(|s| s > 1_600_000_000_000));

    assert!(lease::release(&mut conn, &keys, &first).await.unwrap());
    assert!(lease::current(&mut conn, &keys).await.unwrap().is_none());
    let second = lead(&mut conn, &keys, "b").await;
    assert_eq!(second.epoch(), first.epoch() + 1);
    // The old holder can neither renew nor release the new lease.
    assert!(matches!(
        lease::renew(&mut conn, &keys, &first, 5_000).await,
        Err(QueueError::LeaseLost)
    ));
    assert!(!lease::release(&mut conn, &keys, &first).await.unwrap());
    assert!(lease::current(&mut conn, &keys).await.unwrap().is_some());
}

#[tokio::test]
async fn an_expired_lease_can_be_taken_and_the_stale_token_is_fenced() {
    let (mut conn, keys) = setup().await;
    let old = match lease::acquire(&mut conn, &keys, "old", 50).await.unwrap() {
        Campaign::Acquired { lease, .. } => lease,
        other => panic!("{other:?}"),
    };
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let new = lead(&mut conn, &keys, "new").await;
    assert!(new.epoch() > old.epoch());

    let refused = emit_ticks(
        &mut conn,
        &keys,
        &old,
        0,
        &[tick("j", 1000, TickMode::Allow)],
    )
    .await;
    assert!(matches!(refused, Err(QueueError::LeaseLost)), "{refused:?}");
    assert!(stream(&mut conn, &keys.queue("default")).await.is_empty());
    assert_eq!(
        cursors(&mut conn, &keys, &["j".to_owned()]).await.unwrap(),
        [None]
    );

    let accepted = emit_ticks(
        &mut conn,
        &keys,
        &new,
        0,
        &[tick("j", 1000, TickMode::Allow)],
    )
    .await;
    assert_eq!(accepted.unwrap(), [TickOutcome::Emitted]);
}

#[tokio::test]
async fn the_cursor_prevents_a_second_emission_and_batches_go_in_order() {
    let (mut conn, keys) = setup().await;
    let lease = lead(&mut conn, &keys, "a").await;
    let batch: Vec<EmitTick> = (1..=3)
        .flat_map(|t| {
            ["j1", "j2"]
                .into_iter()
                .map(move |job| tick(job, t * 1000, TickMode::Allow))
        })
        .collect();
    let out = emit_ticks(&mut conn, &keys, &lease, 0, &batch)
        .await
        .unwrap();
    assert_eq!(out, vec![TickOutcome::Emitted; 6]);
    // The same batch again, and an older tick: all duplicates.
    let again = emit_ticks(&mut conn, &keys, &lease, 0, &batch)
        .await
        .unwrap();
    assert_eq!(again, vec![TickOutcome::Duplicate; 6]);
    let older = [tick("j1", 500, TickMode::Allow)];
    let older = emit_ticks(&mut conn, &keys, &lease, 0, &older).await;
    assert_eq!(older.unwrap(), [TickOutcome::Duplicate]);

    let events = stream(&mut conn, &keys.queue("default")).await;
    assert_eq!(events.len(), 6);
    assert_eq!(events[0], "{\"job\":\"j1\",\"tick\":1000}");
    assert_eq!(events[5], "{\"job\":\"j2\",\"tick\":3000}");
    assert_eq!(
        cursors(&mut conn, &keys, &["j1".into(), "j2".into(), "j3".into()])
            .await
            .unwrap(),
        [Some(3000), Some(3000), None]
    );
    // The stream has its executors group and is listed among the queues.
    let groups: redis::Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(keys.queue("default"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(format!("{groups:?}").contains(EXECUTOR_GROUP));
    let queues = conn.smembers(keys.queues()).await.unwrap();
    assert!(queues.contains("default"));
}

#[tokio::test]
async fn a_large_batch_goes_out_in_one_call() {
    let (mut conn, keys) = setup().await;
    let lease = lead(&mut conn, &keys, "a").await;
    let batch: Vec<EmitTick> = (0..5000)
        .map(|i| tick(&format!("job-{i}"), 60_000, TickMode::Forbid))
        .collect();
    let out = emit_ticks(&mut conn, &keys, &lease, 0, &batch)
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == TickOutcome::Emitted));
    assert_eq!(conn.xlen(keys.queue("default")).await.unwrap(), 5000);
}

#[tokio::test]
async fn overlap_forbid_skips_and_replace_cancels_live_runs_only() {
    let (mut conn, keys) = setup().await;
    let lease = lead(&mut conn, &keys, "a").await;
    let now = 1_000_000;
    // A live run (lease expiry after now) and an expired one.
    conn.zadd(keys.running("jf"), "live-f", now + 30_000)
        .await
        .unwrap();
    conn.zadd(
        keys.running("jr"),
        "11111111-1111-1111-1111-111111111111",
        now + 30_000,
    )
    .await
    .unwrap();
    conn.zadd(
        keys.running("jr"),
        "22222222-2222-2222-2222-222222222222",
        now - 1,
    )
    .await
    .unwrap();
    conn.zadd(keys.running("jx"), "dead", now - 1)
        .await
        .unwrap();

    let url = std::env::var("CHIME_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(keys.control()).await.unwrap();

    let out = emit_ticks(
        &mut conn,
        &keys,
        &lease,
        now,
        &[
            tick("jf", 1000, TickMode::Forbid),
            tick("jx", 1000, TickMode::Forbid),
            tick("jr", 1000, TickMode::Replace),
            tick("jm", 1000, TickMode::Missed),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        [
            TickOutcome::Skipped,
            TickOutcome::Emitted,
            TickOutcome::Replaced,
            TickOutcome::Missed
        ]
    );
    assert_eq!(
        stream(&mut conn, &keys.queue("default")).await,
        [
            "{\"job\":\"jx\",\"tick\":1000}",
            "{\"job\":\"jr\",\"tick\":1000}"
        ]
    );
    assert_eq!(
        stream(&mut conn, &keys.results()).await,
        [
            "{\"result\":\"jf\",\"tick\":1000}",
            "{\"result\":\"jm\",\"tick\":1000}"
        ]
    );
    // Skipped and missed ticks advance the cursor too.
    assert_eq!(
        cursors(&mut conn, &keys, &["jf".into(), "jm".into()])
            .await
            .unwrap(),
        [Some(1000), Some(1000)]
    );
    let message = next_message(&mut pubsub).await;
    let control: Control = serde_json::from_str(&message).expect("a wire::Control");
    assert_eq!(
        control.run_id.to_string(),
        "11111111-1111-1111-1111-111111111111"
    );
    assert_eq!(control.reason, "replaced");
}

async fn next_message(pubsub: &mut redis::aio::PubSub) -> String {
    use futures::StreamExt;
    let mut stream = pubsub.on_message();
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("a control message within 5 s")
        .expect("the subscription is open");
    message.get_payload().expect("a text payload")
}

#[tokio::test]
async fn delayed_members_are_promoted_once_and_only_by_the_leader() {
    let (mut conn, keys) = setup().await;
    let old = lead(&mut conn, &keys, "old").await;
    conn.zadd(keys.delayed(), "e1", 100).await.unwrap();
    conn.zadd(keys.delayed(), "e2", 200).await.unwrap();
    conn.zadd(keys.delayed(), "e3", 10_000).await.unwrap();
    let due = promote::due(&mut conn, &keys, 500, 100).await.unwrap();
    assert_eq!(due, ["e1", "e2"]);
    assert_eq!(
        promote::next_due(&mut conn, &keys).await.unwrap(),
        Some(100)
    );
    let promotions: Vec<Promotion> = due
        .iter()
        .map(|m| Promotion {
            member: m.clone(),
            queue: "retries".into(),
            event: format!("{m}'"),
        })
        .collect();

    lease::release(&mut conn, &keys, &old).await.unwrap();
    let new = lead(&mut conn, &keys, "new").await;
    assert!(matches!(
        promote::promote(&mut conn, &keys, &old, &promotions).await,
        Err(QueueError::LeaseLost)
    ));
    assert_eq!(
        promote::promote(&mut conn, &keys, &new, &promotions)
            .await
            .unwrap(),
        [true, true]
    );
    assert_eq!(
        promote::promote(&mut conn, &keys, &new, &promotions)
            .await
            .unwrap(),
        [false, false]
    );
    assert_eq!(
        stream(&mut conn, &keys.queue("retries")).await,
        ["e1'", "e2'"]
    );
    assert_eq!(conn.zcard(keys.delayed()).await.unwrap(), 1);
}

#[tokio::test]
async fn trimming_keeps_unread_and_pending_entries() {
    let (mut conn, keys) = setup().await;
    let lease = lead(&mut conn, &keys, "a").await;
    let batch: Vec<EmitTick> = (0..3000)
        .map(|i| tick(&format!("job-{i}"), 1000, TickMode::Allow))
        .collect();
    emit_ticks(&mut conn, &keys, &lease, 0, &batch)
        .await
        .unwrap();
    let key = keys.queue("default");
    // Nothing read yet: nothing may go.
    assert_eq!(
        trim_stream(&mut conn, &key, EXECUTOR_GROUP).await.unwrap(),
        0
    );

    // Read 2000, acknowledge all but the 1000th: that one stays pending.
    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(EXECUTOR_GROUP)
        .arg("c1")
        .arg("COUNT")
        .arg(2000)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let ids: Vec<String> = reply.keys[0].ids.iter().map(|e| e.id.clone()).collect();
    let pending_id = ids[999].clone();
    let acked: Vec<&String> = ids.iter().filter(|id| **id != pending_id).collect();
    let _: i64 = redis::cmd("XACK")
        .arg(&key)
        .arg(EXECUTOR_GROUP)
        .arg(&acked)
        .query_async(&mut conn)
        .await
        .unwrap();

    let removed = trim_stream(&mut conn, &key, EXECUTOR_GROUP).await.unwrap();
    assert!(removed <= 999, "removed {removed}");
    let left = conn.xrange_all(&key).await.unwrap();
    let first = &left.ids[0].id;
    let less = |a: &str, b: &str| {
        let p = |s: &str| {
            let (ms, seq) = s.split_once('-').unwrap();
            (ms.parse::<u64>().unwrap(), seq.parse::<u64>().unwrap())
        };
        p(a) <= p(b)
    };
    assert!(less(first, &pending_id), "the pending entry was trimmed");
    assert!(left.ids.len() >= 2001);
    // A stream without the group is left alone.
    assert_eq!(
        trim_stream(&mut conn, &keys.results(), "recorders")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_skipped_result_is_built_from_the_event_when_none_is_given() {
    use chime_core::wire::{Event, RunResult, WIRE_VERSION};
    use chime_core::{RunState, Trigger};
    let (mut conn, keys) = setup().await;
    let lease = lead(&mut conn, &keys, "a").await;
    let job = uuid::Uuid::now_v7();
    let event = Event {
        v: WIRE_VERSION,
        run_id: uuid::Uuid::now_v7(),
        job_id: job,
        job_name: "j".into(),
        job_version: 4,
        trigger: Trigger::Schedule,
        scheduled_at: 1_798_761_600_000,
        emitted_at: 1_798_761_600_003,
        attempt: 1,
        deadline: None,
        timeout_s: 60,
        target: serde_json::from_str(r#"{"type":"shell","command":["true"]}"#).unwrap(),
        retry: Default::default(),
        queue: "default".into(),
        epoch: lease.epoch(),
    };
    let now = 1_798_761_600_005;
    conn.zadd(keys.running(&job.to_string()), "live", now + 10_000)
        .await
        .unwrap();
    let tick = EmitTick {
        job_id: job.to_string(),
        tick_ms: event.scheduled_at,
        queue: "default".into(),
        mode: TickMode::Forbid,
        event: serde_json::to_string(&event).unwrap(),
        result: String::new(),
    };
    let out = emit_ticks(&mut conn, &keys, &lease, now, &[tick])
        .await
        .unwrap();
    assert_eq!(out, [TickOutcome::Skipped]);
    let results = stream(&mut conn, &keys.results()).await;
    let skipped: RunResult = serde_json::from_str(&results[0]).expect("a wire::RunResult");
    assert_eq!(skipped.state, RunState::Skipped);
    assert_eq!(
        (
            skipped.run_id,
            skipped.job_id,
            skipped.job_version,
            skipped.attempt
        ),
        (event.run_id, job, 4, 1)
    );
    assert_eq!(skipped.trigger, Trigger::Schedule);
    assert_eq!(skipped.scheduled_at, event.scheduled_at);
    assert_eq!(skipped.finished_at, Some(now));
}
