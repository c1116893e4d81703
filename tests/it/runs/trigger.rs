//! `POST /jobs/{id}/trigger`: a run is recorded `queued` at once, needs no
//! scheduler, and a real executor takes it to `succeeded` with its output,
//! attempts and lateness readable through `GET /runs/{id}`.

use serde_json::{Value, json};

use super::{WAIT, at, create, shell_job, wait_state};
use crate::harness::{ApiServer, PrivateRedis, TestDb, eventually, redis};

#[tokio::test]
async fn a_triggered_run_is_queued_at_once_and_an_executor_finishes_it() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let job_id = create(&api, &shell_job("hello", "echo hello; echo oops >&2")).await;

    let reply = api.trigger("hello", None).await.expect(202);
    let run_id = reply.body["id"].as_str().expect("a run id").to_owned();
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/runs/{run_id}").as_str())
    );
    let run = &reply.body["run"];
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["state"], "queued", "{run}");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["attempt"], 1);
    assert_eq!(run["job_id"], job_id.as_str());
    assert_eq!(run["job_version"], 1);
    assert_eq!(
        uuid::Uuid::parse_str(&run_id)
            .expect("a UUID")
            .get_version_num(),
        7
    );

    // Readable at once, with no executor and no scheduler running.
    let read = api.get_run(&run_id).await.expect(200);
    assert_eq!(read.body["state"], "queued");
    assert_eq!(read.body["attempts"][0]["state"], "queued");
    assert!(read.body["started_at"].is_null());
    assert!(read.body["lateness_ms"].is_null());
    // And waiting in its queue.
    let cluster = api.cluster().await.expect(200);
    let default = cluster.body["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == "default"))
        .cloned()
        .unwrap_or_else(|| panic!("no default queue: {}", cluster.body));
    assert_eq!(
        (default["length"].as_u64(), default["lag"].as_u64()),
        (Some(1), Some(1)),
        "{default}"
    );

    let _executor = server.executor(&[]);
    let done = wait_state(&api, &run_id, "succeeded").await;
    assert_eq!(done["stdout"], "hello\n");
    assert_eq!(done["stderr"], "oops\n");
    assert_eq!(done["exit_code"], 0);
    assert!(done["error"].is_null(), "{done}");
    let executor_id = done["executor_id"].as_str().expect("an executor id");
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{done}");
    assert_eq!(attempts[0]["state"], "succeeded");
    assert_eq!(attempts[0]["stdout"], "hello\n");
    assert_eq!(attempts[0]["executor_id"], executor_id);
    let (scheduled, emitted, started, finished) = (
        at(&done["scheduled_at"]),
        at(&done["emitted_at"]),
        at(&done["started_at"]),
        at(&done["finished_at"]),
    );
    assert!(
        scheduled <= emitted && emitted <= started && started <= finished,
        "{done}"
    );
    assert_eq!(
        done["lateness_ms"].as_i64(),
        Some((started - scheduled).num_milliseconds()),
        "lateness is started_at - scheduled_at"
    );
    assert_eq!(
        done["duration_ms"].as_i64(),
        Some((finished - started).num_milliseconds())
    );
    // Every instant is RFC 3339 in UTC with milliseconds.
    for field in ["scheduled_at", "emitted_at", "started_at", "finished_at"] {
        let text = done[field].as_str().expect("an instant");
        assert!(
            text.ends_with('Z') && text.len() == "2027-01-01T00:00:00.000Z".len(),
            "{field}: {text}"
        );
    }
    // The executor that ran it is the one the registry lists.
    let executors = api.executors().await.expect(200);
    assert_eq!(executors.body["items"][0]["id"], executor_id);
}

#[tokio::test]
async fn a_payload_overrides_an_event_target_and_is_refused_for_others() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    create(&api, &shell_job("shell", "true")).await;
    create(
        &api,
        &json!({
            "name": "ping",
            "schedule": "@yearly",
            "paused": true,
            "target": {"type": "event", "stream": "pings", "payload": {"from": "definition"}},
        }),
    )
    .await;

    let refused = api
        .trigger("shell", Some(&json!({"payload": {"x": 1}})))
        .await
        .expect(400);
    assert_eq!(refused.error(), ("invalid_value", Some("payload")));
    let refused = api
        .trigger("ping", Some(&json!({"payload": 1, "colour": "red"})))
        .await
        .expect(400);
    assert_eq!(refused.error(), ("unknown_field", Some("colour")));
    assert_eq!(
        api.trigger("no-such-job", None).await.status,
        404,
        "only live jobs can be triggered"
    );

    // A paused job can still be triggered by hand.
    let first = api
        .trigger("ping", Some(&json!({"payload": {"from": "request"}})))
        .await
        .expect(202);
    let second = api.trigger("ping", Some(&json!({}))).await.expect(202);
    let third = api
        .trigger("ping", Some(&json!({"payload": null})))
        .await
        .expect(202);

    let mut conn = redis().await;
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("{}:q:default", server.prefix))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    let events: Vec<Value> = entries
        .ids
        .iter()
        .map(|e| {
            serde_json::from_str(&e.get::<String>("event").expect("an event field")).expect("JSON")
        })
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    let by_run = |reply: &crate::harness::Reply| {
        events
            .iter()
            .find(|e| e["run_id"] == reply.body["id"])
            .cloned()
            .unwrap_or_else(|| panic!("no event for {}", reply.body["id"]))
    };
    let first = by_run(&first);
    assert_eq!(first["target"]["payload"], json!({"from": "request"}));
    assert_eq!(
        (
            first["trigger"].as_str(),
            first["attempt"].as_u64(),
            first["epoch"].as_u64()
        ),
        (Some("manual"), Some(1), Some(0))
    );
    assert_eq!(first["job_name"], "ping");
    assert_eq!(
        by_run(&second)["target"]["payload"],
        json!({"from": "definition"})
    );
    assert_eq!(
        by_run(&third)["target"]["payload"],
        Value::Null,
        "an explicit null is a payload too"
    );
    let queues: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}:queues", server.prefix))
        .query_async(&mut conn)
        .await
        .expect("SMEMBERS");
    assert_eq!(queues, ["default"]);

    // With an executor, the payload lands on the event stream.
    let _executor = server.executor(&[]);
    let id = first["run_id"].as_str().expect("id").to_owned();
    wait_state(&api, &id, "succeeded").await;
    let appended: redis::streams::StreamRangeReply =
        eventually(WAIT, "the payload on the events stream", || {
            let mut conn = conn.clone();
            let key = format!("{}:events:pings", server.prefix);
            async move {
                let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg(key)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                (reply.ids.len() == 3).then_some(reply)
            }
        })
        .await;
    let payloads: Vec<String> = appended
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("payload"))
        .collect();
    assert!(
        payloads.iter().any(|p| p.contains("request")),
        "{payloads:?}"
    );
}

#[tokio::test]
async fn with_redis_down_a_trigger_is_a_503_and_history_says_not_queued() {
    let mut redis = PrivateRedis::start();
    let server = ApiServer::start_with(TestDb::create().await, &redis.url(), &[]).await;
    let api = server.client(None);
    create(&api, &shell_job("stranded", "true")).await;
    redis.stop();

    let refused = api.trigger("stranded", None).await.expect(503);
    assert_eq!(refused.error(), ("unavailable", None));
    assert_eq!(
        refused.body["error"]["message"], "redis is unreachable; retry later",
        "{}",
        refused.body
    );
    // The run was recorded before Redis refused it; it ends `failed`, never
    // a `queued` run that nobody will run.
    let runs = api.list_runs(&[("job", "stranded")]).await.expect(200);
    let items = runs.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", runs.body);
    assert_eq!(items[0]["state"], "failed");
    assert!(
        items[0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("not queued")),
        "{}",
        items[0]
    );
    assert_eq!(api.cluster().await.status, 503);
    assert_eq!(api.executors().await.status, 503);

    redis.restart();
    eventually(WAIT, "triggers to work again", || async {
        (api.trigger("stranded", None).await.status == 202).then_some(())
    })
    .await;
}
