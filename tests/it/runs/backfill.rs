//! `POST /jobs/{id}/backfill`: a dry run lists exactly the ticks of
//! `[from, to)`; a real one queues one run per tick with trigger
//! `backfill`, fresh ids each time; too long a range is refused.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::create;
use crate::harness::{ApiServer, redis};

#[tokio::test]
async fn backfill_lists_exact_ticks_then_queues_one_run_per_tick() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let job_id = create(
        &api,
        &json!({
            "name": "quarter-hourly",
            "schedule": "0 */15 * * * *",
            "timezone": "Europe/Berlin",
            "paused": true,
            "target": {"type": "shell", "command": ["true"]},
        }),
    )
    .await;
    let range = json!({"from": "2027-01-01T00:00:00Z", "to": "2027-01-01T02:00:00Z"});
    let want: Vec<String> = (0..8)
        .map(|i| format!("2027-01-01T{:02}:{:02}:00.000Z", i / 4, (i % 4) * 15))
        .collect();

    // Dry run: `from` is inclusive, `to` exclusive; nothing is queued.
    let mut dry = range.clone();
    dry["dry_run"] = json!(true);
    let listed = api.backfill("quarter-hourly", &dry).await.expect(200);
    assert_eq!(listed.body["dry_run"], true);
    assert_eq!(listed.body["count"], 8);
    assert_eq!(listed.body["ticks"], json!(want));
    assert_eq!(listed.body["runs"], json!([]));
    assert_eq!(
        api.list_runs(&[("trigger", "backfill")])
            .await
            .expect(200)
            .body["items"],
        json!([])
    );

    // A real backfill: one queued run per tick, in tick order.
    let queued = api.backfill(&job_id, &range).await.expect(202);
    assert_eq!(queued.body["dry_run"], false);
    assert_eq!(queued.body["ticks"], json!(want));
    let runs: Vec<String> = queued.body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r.as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(runs.len(), 8);
    for (run_id, tick) in runs.iter().zip(&want) {
        let run = api.get_run(run_id).await.expect(200).body;
        assert_eq!(
            (
                run["state"].as_str(),
                run["trigger"].as_str(),
                run["scheduled_at"].as_str()
            ),
            (Some("queued"), Some("backfill"), Some(tick.as_str())),
            "{run}"
        );
    }
    let listed = api
        .list_runs(&[("job", "quarter-hourly"), ("trigger", "backfill")])
        .await
        .expect(200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(8));

    // The queue holds one event per tick, as the executor will read them.
    let events = queue_events(&server.prefix).await;
    assert_eq!(events.len(), 8);
    let ticks: Vec<i64> = events
        .iter()
        .map(|e| e["scheduled_at"].as_i64().expect("ms"))
        .collect();
    let want_ms: Vec<i64> = want
        .iter()
        .map(|t| super::at(&json!(t)).timestamp_millis())
        .collect();
    assert_eq!(ticks, want_ms);
    assert!(
        events
            .iter()
            .all(|e| e["trigger"] == "backfill" && e["attempt"] == 1)
    );

    // Backfilling the same range again queues new runs: never deduplicated.
    let again = api.backfill("quarter-hourly", &range).await.expect(202);
    let mut all: BTreeSet<String> = runs.into_iter().collect();
    for id in again.body["runs"].as_array().expect("runs") {
        assert!(
            all.insert(id.as_str().expect("id").to_owned()),
            "{id} reused"
        );
    }
    assert_eq!(all.len(), 16);
    assert_eq!(queue_events(&server.prefix).await.len(), 16);
}

#[tokio::test]
async fn too_long_a_range_is_refused_with_its_tick_count() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    create(
        &api,
        &json!({"name": "every-second", "schedule": "* * * * * *", "paused": true,
                "target": {"type": "shell", "command": ["true"]}}),
    )
    .await;
    let refused = api
        .backfill(
            "every-second",
            &json!({"from": "2027-01-01T00:00:00Z", "to": "2027-01-01T00:25:00Z", "dry_run": true}),
        )
        .await
        .expect(400);
    assert_eq!(refused.error(), ("too_many_ticks", Some("to")));
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("1500 ticks"), "{message}");
    let refused = api
        .backfill(
            "every-second",
            &json!({"from": "2027-01-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"}),
        )
        .await
        .expect(400);
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("more than 10000"), "{message}");
    // Exactly 1,000 is allowed.
    let allowed = api
        .backfill(
            "every-second",
            &json!({"from": "2027-01-01T00:00:00.000Z", "to": "2027-01-01T00:16:40Z", "dry_run": true}),
        )
        .await
        .expect(200);
    assert_eq!(allowed.body["count"], 1000);
    assert!(queue_events(&server.prefix).await.is_empty());
}

async fn queue_events(prefix: &str) -> Vec<Value> {
    let mut conn = redis().await;
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("{prefix}:q:default"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    entries
        .ids
        .iter()
        .map(|e| {
            serde_json::from_str(&e.get::<String>("event").expect("an event field")).expect("JSON")
        })
        .collect()
}
