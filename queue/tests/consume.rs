//! The consume and report protocol against a real Redis: group creation,
//! claiming and reclaiming with delivery counts, claim ownership in
//! `touch` and `settle`, and what a settlement writes.

use chime_core::Keys;
use chime_core::job::{EventTarget, RetryPolicy};
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::{EVENT_FIELD, Event, RunResult, WIRE_VERSION};
use chime_core::{RunState, Target, Trigger};
use chime_queue::consume::{Delivery, ensure_group, read_new, reclaim, touch};
use chime_queue::report::{
    Lease, PreparedSettle, Settlement, Start, renew, settle, settle_each, started,
};
use redis::aio::MultiplexedConnection;
use uuid::Uuid;

mod common;
use common::setup;

/// Settles one entry through the batched call.
async fn settle_one(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    queue: &str,
    consumer: &str,
    entry_id: &str,
    settlement: &Settlement<'_>,
) -> bool {
    let prepared = PreparedSettle::new(keys, queue, entry_id, settlement).expect("encode");
    let settled = settle(conn, keys, consumer, &[prepared])
        .await
        .expect("settle");
    assert_eq!(settled.len(), 1);
    settled[0]
}

fn event() -> Event {
    Event {
        v: WIRE_VERSION,
        run_id: Uuid::now_v7(),
        job_id: Uuid::now_v7(),
        job_name: "q".to_owned(),
        job_version: 1,
        trigger: Trigger::Schedule,
        scheduled_at: 1_000,
        emitted_at: 1_000,
        attempt: 1,
        deadline: None,
        timeout_s: 5,
        target: Target::Event(EventTarget {
            stream: "s".to_owned(),
            payload: serde_json::Value::Null,
        }),
        retry: RetryPolicy::default(),
        queue: "default".to_owned(),
        epoch: 0,
    }
}

fn result(event: &Event, state: RunState) -> RunResult {
    RunResult {
        started_at: Some(2_000),
        executor_id: Some("a".to_owned()),
        ..RunResult::about(event, state)
    }
}

async fn push(conn: &mut MultiplexedConnection, keys: &Keys, event: &Event) {
    let json = serde_json::to_string(event).expect("JSON");
    redis::cmd("XADD")
        .arg(keys.queue("default"))
        .arg("*")
        .arg(EVENT_FIELD)
        .arg(json)
        .query_async::<()>(conn)
        .await
        .expect("XADD");
}

/// How many entries of "default" are pending in the executors' group.
async fn pending(conn: &mut MultiplexedConnection, keys: &Keys) -> usize {
    let reply: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(keys.queue("default"))
        .arg(EXECUTOR_GROUP)
        .query_async(conn)
        .await
        .expect("XPENDING");
    reply.count()
}

async fn xlen(conn: &mut MultiplexedConnection, key: String) -> usize {
    redis::cmd("XLEN")
        .arg(key)
        .query_async(conn)
        .await
        .expect("XLEN")
}

/// `n` events queued on "default" (group created), with their leases.
async fn queued(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    n: usize,
) -> (Vec<Event>, Vec<Lease>) {
    ensure_group(conn, keys, "default").await.expect("create");
    let events: Vec<Event> = (0..n).map(|_| event()).collect();
    for ev in &events {
        push(conn, keys, ev).await;
    }
    let leases = events
        .iter()
        .map(|ev| Lease {
            job_id: ev.job_id.to_string(),
            run_id: ev.run_id.to_string(),
        })
        .collect();
    (events, leases)
}

/// A `succeeded` settlement for each delivery, the i-th about `events[i]`.
fn succeeded(
    keys: &Keys,
    deliveries: &[Delivery],
    events: &[Event],
    leases: &[Lease],
) -> Vec<PreparedSettle> {
    deliveries
        .iter()
        .zip(events.iter().zip(leases))
        .map(|(delivery, (ev, lease))| {
            let done = result(ev, RunState::Succeeded);
            let settlement = Settlement {
                result: Some(&done),
                lease: Some(lease),
                ..Settlement::default()
            };
            PreparedSettle::new(keys, "default", &delivery.entry_id, &settlement).expect("encode")
        })
        .collect()
}

#[tokio::test]
async fn groups_are_created_once_and_read_from_the_start() {
    let (mut conn, keys) = setup().await;
    let queues = vec!["default".to_owned()];
    let early = event();
    push(&mut conn, &keys, &early).await;
    ensure_group(&mut conn, &keys, "default")
        .await
        .expect("create");
    ensure_group(&mut conn, &keys, "default")
        .await
        .expect("BUSYGROUP is success");
    let got = read_new(&mut conn, &keys, &queues, "a", 10, Some(100))
        .await
        .expect("read");
    assert_eq!(
        got.len(),
        1,
        "an entry written before the group existed is read"
    );
    assert_eq!(got[0].deliveries, 1);
    assert_eq!(got[0].queue, "default");
    let decoded: Event =
        serde_json::from_str(got[0].payload.as_deref().expect("payload")).expect("decode");
    assert_eq!(decoded, early);
    let none = read_new(&mut conn, &keys, &queues, "a", 10, Some(50))
        .await
        .expect("read");
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_reclaimed_entry_belongs_to_its_new_owner_only() {
    let (mut conn, keys) = setup().await;
    let queues = vec!["default".to_owned()];
    let (events, leases) = queued(&mut conn, &keys, 1).await;
    let (ev, lease) = (&events[0], &leases[0]);
    let got = read_new(&mut conn, &keys, &queues, "a", 10, Some(100))
        .await
        .expect("read");
    let entry_id = got[0].entry_id.clone();
    let running = result(ev, RunState::Running);
    let start = Start {
        result: &running,
        lease,
    };
    let cancel_asked = started(&mut conn, &keys, &[start], 10_000)
        .await
        .expect("started");
    assert_eq!(cancel_asked, [false]);
    assert!(
        touch(
            &mut conn,
            &keys,
            "default",
            "a",
            std::slice::from_ref(&entry_id)
        )
        .await
        .expect("touch")
        .is_empty()
    );

    // Not idle long enough: nothing to reclaim.
    let early = reclaim(&mut conn, &keys, "default", "b", 60_000, "0-0", 10)
        .await
        .expect("reclaim");
    assert!(early.deliveries.is_empty());
    let taken = reclaim(&mut conn, &keys, "default", "b", 0, "0-0", 10)
        .await
        .expect("reclaim");
    assert_eq!(taken.deliveries.len(), 1);
    assert_eq!(taken.deliveries[0].deliveries, 2);
    assert_eq!(taken.next_start, "0-0");

    // The old owner can neither refresh nor settle it.
    let lost = touch(
        &mut conn,
        &keys,
        "default",
        "a",
        std::slice::from_ref(&entry_id),
    )
    .await
    .expect("touch");
    assert_eq!(lost, std::slice::from_ref(&entry_id));
    let mut done = result(ev, RunState::Succeeded);
    done.finished_at = Some(3_000);
    let settlement = Settlement {
        result: Some(&done),
        lease: Some(lease),
        ..Settlement::default()
    };
    assert!(!settle_one(&mut conn, &keys, "default", "a", &entry_id, &settlement).await);
    assert_eq!(
        xlen(&mut conn, keys.results()).await,
        1,
        "only the running result"
    );

    // The new owner settles: result, ack and lease removal in one step.
    assert!(settle_one(&mut conn, &keys, "default", "b", &entry_id, &settlement).await);
    assert_eq!(xlen(&mut conn, keys.results()).await, 2);
    assert_eq!(pending(&mut conn, &keys).await, 0);
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.running(&lease.job_id))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("ZRANGE");
    assert!(members.is_empty());
    // A late renewal does not bring a settled lease back.
    renew(&mut conn, &keys, std::slice::from_ref(lease), 99_000)
        .await
        .expect("renew");
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.running(&lease.job_id))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("ZRANGE");
    assert!(members.is_empty());
}

#[tokio::test]
async fn a_settlement_can_schedule_a_retry_and_dead_letter() {
    let (mut conn, keys) = setup().await;
    let queues = vec!["default".to_owned()];
    let (events, _) = queued(&mut conn, &keys, 1).await;
    let ev = &events[0];
    let got = read_new(&mut conn, &keys, &queues, "a", 10, Some(100))
        .await
        .expect("read");
    let mut next = ev.clone();
    next.attempt = 2;
    let raw = got[0].payload.clone().expect("payload");
    let settlement = Settlement {
        retry: Some((&next, 5_000)),
        dead: Some((&raw, "because")),
        ..Settlement::default()
    };
    assert!(
        settle_one(
            &mut conn,
            &keys,
            "default",
            "a",
            &got[0].entry_id,
            &settlement
        )
        .await
    );
    let delayed: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(keys.delayed())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .expect("ZRANGE");
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].1, 5_000);
    assert_eq!(
        serde_json::from_str::<Event>(&delayed[0].0).expect("decode"),
        next
    );
    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.dead())
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    assert_eq!(dead.ids.len(), 1);
    assert_eq!(dead.ids[0].get::<String>("event"), Some(raw));
    assert_eq!(
        dead.ids[0].get::<String>("reason"),
        Some("because".to_owned())
    );
    assert_eq!(
        xlen(&mut conn, keys.results()).await,
        0,
        "no result was asked for"
    );
}

#[tokio::test]
async fn a_batch_reports_and_settles_each_entry_on_its_own() {
    let (mut conn, keys) = setup().await;
    let queues = vec!["default".to_owned()];
    let (events, leases) = queued(&mut conn, &keys, 3).await;
    // Consumer "a" reads the first two, "b" the third.
    let mut got = read_new(&mut conn, &keys, &queues, "a", 2, Some(100))
        .await
        .expect("read");
    got.extend(
        read_new(&mut conn, &keys, &queues, "b", 1, Some(100))
            .await
            .expect("read"),
    );
    assert_eq!(got.len(), 3);
    // A cancel asked while the second run was queued is seen as it starts.
    redis::cmd("SET")
        .arg(keys.cancel(&leases[1].run_id))
        .arg("requested")
        .query_async::<()>(&mut conn)
        .await
        .expect("SET");
    let running: Vec<RunResult> = events
        .iter()
        .map(|ev| result(ev, RunState::Running))
        .collect();
    let starts: Vec<Start<'_>> = running
        .iter()
        .zip(&leases)
        .map(|(result, lease)| Start { result, lease })
        .collect();
    let cancel_asked = started(&mut conn, &keys, &starts, 10_000)
        .await
        .expect("started");
    assert_eq!(cancel_asked, [false, true, false]);
    assert_eq!(xlen(&mut conn, keys.results()).await, 3);

    // "a" settles all three in one call: only its own two are settled.
    let prepared = succeeded(&keys, &got, &events, &leases);
    let settled = settle(&mut conn, &keys, "a", &prepared)
        .await
        .expect("settle");
    assert_eq!(settled, [true, true, false]);
    assert_eq!(xlen(&mut conn, keys.results()).await, 5);
    assert_eq!(pending(&mut conn, &keys).await, 1, "b's entry is still b's");
    assert!(
        settle(&mut conn, &keys, "a", &[])
            .await
            .expect("empty settle")
            .is_empty()
    );
}

#[tokio::test]
async fn an_entry_redis_refuses_fails_alone_in_its_batch() {
    let (mut conn, keys) = setup().await;
    let queues = vec!["default".to_owned()];
    let (events, leases) = queued(&mut conn, &keys, 3).await;
    let got = read_new(&mut conn, &keys, &queues, "a", 3, Some(100))
        .await
        .expect("read");
    // The middle run's running set is a string: its ZREM fails WRONGTYPE.
    redis::cmd("SET")
        .arg(keys.running(&leases[1].job_id))
        .arg("not a sorted set")
        .query_async::<()>(&mut conn)
        .await
        .expect("SET");
    let prepared = succeeded(&keys, &got, &events, &leases);
    assert!(
        settle(&mut conn, &keys, "a", &prepared).await.is_err(),
        "the whole call fails"
    );
    let outcomes = settle_each(&mut conn, &keys, "a", &prepared).await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[1].is_err(), "{:?}", outcomes[1]);
    // The first entry was settled by the failed call already, so alone it
    // is no longer pending; the third is settled now.
    assert_eq!(outcomes[0].as_ref().ok(), Some(&false));
    assert_eq!(outcomes[2].as_ref().ok(), Some(&true));
    assert_eq!(
        pending(&mut conn, &keys).await,
        1,
        "only the refused entry waits"
    );
}
