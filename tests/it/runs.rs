//! Runs end to end over real HTTP: a `chime api` (with its recorder) and,
//! where a run must really happen, a `chime executor` on the same prefix.
//! Manual runs and backfills need no scheduler: the API writes them
//! straight to the queue.

mod backfill;
mod cancel;
mod cluster;
mod listing;
mod retention;
mod trigger;

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Client, eventually};

/// Generous: the suite runs on two shared cores.
const WAIT: Duration = Duration::from_secs(30);

/// A shell job named `name` running `script` with `sh -c`, on a schedule
/// far enough away (and paused) that only the test starts its runs.
fn shell_job(name: &str, script: &str) -> Value {
    json!({
        "name": name,
        "schedule": "0 0 1 1 *",
        "target": {"type": "shell", "command": ["sh", "-c", script]},
        "retry": {"max_attempts": 1},
        "timeout_s": 60,
    })
}

/// Creates `spec` through the API and returns the job's id.
async fn create(api: &Client, spec: &Value) -> String {
    let reply = api.create_job(spec).await.expect(201);
    reply.body["id"].as_str().expect("an id").to_owned()
}

/// Polls `GET /runs/{id}` until its state is `state`; returns the run.
async fn wait_state(api: &Client, id: &str, state: &str) -> Value {
    eventually(WAIT, &format!("run {id} to be {state}"), || async move {
        let reply = api.get_run(id).await;
        (reply.status == 200 && reply.body["state"] == state).then_some(reply.body)
    })
    .await
}

/// An RFC 3339 instant as a UTC `DateTime`.
fn at(text: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(
        text.as_str()
            .unwrap_or_else(|| panic!("{text} is not a string")),
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"))
    .with_timezone(&chrono::Utc)
}
