//! `POST /runs/{id}/cancel`: the executor running the run kills it and
//! reports `cancelled`; a run that has ended is a 409 naming `state`.

use super::{create, shell_job, wait_state};
use crate::harness::{ApiServer, redis};

#[tokio::test]
async fn cancelling_a_long_shell_run_ends_it_cancelled() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    create(
        &api,
        &shell_job("long", "echo started; sleep 30; echo never"),
    )
    .await;
    let _executor = server.executor(&["--kill-grace-ms", "500"]);

    let run_id = api.trigger("long", None).await.expect(202).body["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    wait_state(&api, &run_id, "running").await;

    let reply = api.cancel_run(&run_id).await.expect(202);
    assert_eq!(reply.body["id"], run_id.as_str());
    assert_eq!(reply.body["state"], "running");
    assert!(
        reply.body["executors_notified"].as_u64() >= Some(1),
        "{}",
        reply.body
    );
    let cancelled = wait_state(&api, &run_id, "cancelled").await;
    assert!(
        cancelled["error"]
            .as_str()
            .is_some_and(|e| e.contains("requested")),
        "{cancelled}"
    );
    assert!(cancelled["finished_at"].is_string());
    assert_eq!(cancelled["attempts"][0]["state"], "cancelled");
    let finished = super::at(&cancelled["finished_at"]) - super::at(&cancelled["started_at"]);
    assert!(
        finished.num_seconds() < 20,
        "killed, not run to the end: {cancelled}"
    );

    // The request is remembered for executors that claim a run later.
    let mut conn = redis().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}:cancel:{run_id}", server.prefix))
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(ttl > 0, "the cancel key has a time to live: {ttl}");

    // An ended run cannot be cancelled.
    let again = api.cancel_run(&run_id).await.expect(409);
    assert_eq!(again.error(), ("conflict", Some("state")));
    let unknown = api
        .cancel_run("0190a3c2-7f00-7000-8000-000000000000")
        .await
        .expect(404);
    assert_eq!(unknown.error().0, "not_found");
}

#[tokio::test]
async fn a_run_cancelled_while_queued_is_never_started() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    // The script would leave a mark if it ever ran.
    let marker =
        std::env::temp_dir().join(format!("chime-cancel-{}", uuid::Uuid::new_v4().simple()));
    create(
        &api,
        &shell_job(
            "queued-then-cancelled",
            &format!("touch {}", marker.display()),
        ),
    )
    .await;
    // No executor yet: the run waits in the queue, and the cancel request
    // reaches nobody over pub/sub.
    let run_id = api
        .trigger("queued-then-cancelled", None)
        .await
        .expect(202)
        .body["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let reply = api.cancel_run(&run_id).await.expect(202);
    assert_eq!(reply.body["executors_notified"], 0, "{}", reply.body);

    let _executor = server.executor(&[]);
    let cancelled = wait_state(&api, &run_id, "cancelled").await;
    assert_eq!(cancelled["attempts"][0]["state"], "cancelled");
    assert!(
        !marker.exists(),
        "the cancelled run must not have started its command"
    );
}
