//! The REST API over real HTTP: a `chime api` process per test on a random
//! port, against real Postgres and Redis.

mod auth;
mod changes;
mod concurrency;
mod lifecycle;
mod listing;
mod outages;
mod preview;
mod shutdown;

use serde_json::{Value, json};

/// A minimal valid definition named `name`.
fn shell_job(name: &str) -> Value {
    json!({
        "name": name,
        "schedule": "*/5 * * * *",
        "target": {"type": "shell", "command": ["/bin/true"]},
    })
}
