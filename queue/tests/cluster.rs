//! The API's side of the queues against a real Redis: writing events
//! straight to a queue (`enqueue`), the cluster figures of `GET /cluster`
//! and the executor registry as `GET /executors` reads it.

use chime_core::Keys;
use chime_core::job::{EventTarget, RetryPolicy};
use chime_core::keys::EXECUTOR_GROUP;
use chime_core::wire::{EVENT_FIELD, Event, WIRE_VERSION};
use chime_core::{Target, Trigger};
use chime_queue::consume::read_new;
use chime_queue::{cluster, enqueue, registry};
use redis::aio::MultiplexedConnection;
use uuid::Uuid;

mod common;
use common::setup;

fn event(queue: &str) -> Event {
    Event {
        v: WIRE_VERSION,
        run_id: Uuid::now_v7(),
        job_id: Uuid::now_v7(),
        job_name: "q".to_owned(),
        job_version: 1,
        trigger: Trigger::Manual,
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
        queue: queue.to_owned(),
        epoch: 0,
    }
}

async fn cleanup(conn: &mut MultiplexedConnection, keys: &Keys, extra: &[String]) {
    let mut all = vec![
        keys.queue("a"),
        keys.queue("b"),
        keys.queues(),
        keys.dead(),
        keys.executors(),
    ];
    all.extend_from_slice(extra);
    let _: () = redis::cmd("DEL")
        .arg(all)
        .query_async(conn)
        .await
        .expect("DEL");
}

#[tokio::test]
async fn enqueued_events_are_read_by_executors_and_counted_by_the_cluster_figures() {
    let (mut conn, keys) = setup().await;
    let events = [event("a"), event("b"), event("a")];
    let ids = enqueue::enqueue(&mut conn, &keys, &events)
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 3);

    // The group was made before the entries were written, so an executor
    // reads every one of them.
    let queues = ["a".to_owned(), "b".to_owned()];
    let read = read_new(&mut conn, &keys, &queues, "exec", 10, None)
        .await
        .expect("read");
    assert_eq!(read.len(), 3);
    let mut run_ids: Vec<Uuid> = read
        .iter()
        .map(|d| {
            serde_json::from_str::<Event>(d.payload.as_deref().expect("payload"))
                .expect("an event")
                .run_id
        })
        .collect();
    run_ids.sort();
    let mut want: Vec<Uuid> = events.iter().map(|e| e.run_id).collect();
    want.sort();
    assert_eq!(run_ids, want);

    // One of queue a's two entries is acknowledged; the other stays pending.
    let a_first = read.iter().find(|d| d.queue == "a").expect("an entry of a");
    let _: i64 = redis::cmd("XACK")
        .arg(keys.queue("a"))
        .arg(EXECUTOR_GROUP)
        .arg(&a_first.entry_id)
        .query_async(&mut conn)
        .await
        .expect("XACK");
    let _: String = redis::cmd("XADD")
        .arg(keys.dead())
        .arg("*")
        .arg(EVENT_FIELD)
        .arg("{}")
        .query_async(&mut conn)
        .await
        .expect("XADD dead");
    // A queue named in the set whose stream was never made shows as empty.
    let _: i64 = redis::cmd("SADD")
        .arg(keys.queues())
        .arg("ghost")
        .query_async(&mut conn)
        .await
        .expect("SADD");

    let figures = cluster::queues(&mut conn, &keys).await.expect("figures");
    let names: Vec<&str> = figures.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "ghost"]);
    let (a, b, ghost) = (&figures[0], &figures[1], &figures[2]);
    assert_eq!((a.length, a.pending, a.lag), (2, 1, Some(0)), "{a:?}");
    assert!(
        a.oldest_pending_age_ms.is_some_and(|age| age < 60_000),
        "{a:?}"
    );
    assert_eq!((b.length, b.pending), (1, 1), "{b:?}");
    assert_eq!(
        (
            ghost.length,
            ghost.pending,
            ghost.oldest_pending_age_ms,
            ghost.lag
        ),
        (0, 0, None, None)
    );
    assert_eq!(
        cluster::dead_letters(&mut conn, &keys).await.expect("dead"),
        1
    );

    // Entries written after the read are lag: not yet read by anyone.
    enqueue::enqueue(&mut conn, &keys, &[event("b")])
        .await
        .expect("enqueue");
    let figures = cluster::queues(&mut conn, &keys).await.expect("figures");
    assert_eq!(figures[1].lag, Some(1), "{:?}", figures[1]);

    cleanup(&mut conn, &keys, &[keys.queue("ghost")]).await;
}

#[tokio::test]
async fn the_registry_lists_fresh_executors_with_their_details() {
    let (mut conn, keys) = setup().await;
    let details = [("host", "h1".to_owned()), ("queues", "a,b".to_owned())];
    registry::heartbeat(&mut conn, &keys, "fresh", &details, 10_000, 60_000)
        .await
        .expect("heartbeat");
    registry::heartbeat(&mut conn, &keys, "stale", &details, 5_000, 60_000)
        .await
        .expect("heartbeat");
    // In the set, but its details hash has expired.
    let _: i64 = redis::cmd("ZADD")
        .arg(keys.executors())
        .arg(9_000)
        .arg("hashless")
        .query_async(&mut conn)
        .await
        .expect("ZADD");

    let live = registry::live(&mut conn, &keys, 8_000).await.expect("live");
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].id, "fresh");
    assert_eq!(live[0].last_heartbeat_ms, 10_000);
    assert_eq!(live[0].details.get("host").map(String::as_str), Some("h1"));

    let all = registry::live(&mut conn, &keys, 0).await.expect("live");
    let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["fresh", "stale"], "newest heartbeat first");

    cleanup(
        &mut conn,
        &keys,
        &[keys.executor("fresh"), keys.executor("stale")],
    )
    .await;
}
