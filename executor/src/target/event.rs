//! The `event` target: appends the job's payload, with the run's metadata,
//! to `{prefix}:events:{stream}` for any consumer to read. Fields: `payload`
//! (JSON), `run_id`, `job_id`, `job_name`, `scheduled_at` (ms), `attempt`
//! and `trigger`. A redelivered run may append twice (at-least-once);
//! consumers deduplicate by `run_id` and `attempt`.

use std::time::Duration;

use chime_core::job::EventTarget;
use chime_core::wire::Event;
use tokio_util::sync::CancellationToken;

use super::{Ending, Outcome, chain};
use crate::service::Shared;

/// Appends the payload within `timeout`, or until `stop` fires.
pub(super) async fn run(
    shared: &Shared,
    target: &EventTarget,
    event: &Event,
    timeout: Duration,
    stop: &CancellationToken,
) -> Outcome {
    let payload = match serde_json::to_string(&target.payload) {
        Ok(payload) => payload,
        Err(err) => return Outcome::failed(format!("payload: {err}")),
    };
    let fields = [
        ("payload", payload),
        ("run_id", event.run_id.to_string()),
        ("job_id", event.job_id.to_string()),
        ("job_name", event.job_name.clone()),
        ("scheduled_at", event.scheduled_at.to_string()),
        ("attempt", event.attempt.to_string()),
        ("trigger", event.trigger.to_string()),
    ];
    let mut conn = shared.redis.clone();
    let append = chime_queue::events::append(&mut conn, &shared.keys, &target.stream, &fields);
    tokio::select! {
        appended = tokio::time::timeout(timeout, append) => match appended {
            Ok(Ok(id)) => Outcome {
                stdout: Some(format!("appended {id} to {}", shared.keys.events(&target.stream))),
                ..Outcome::new(Ending::Succeeded)
            },
            Ok(Err(err)) => Outcome::failed(format!("appending to the event stream: {}", chain(&err))),
            Err(_) => Outcome::timed_out(timeout),
        },
        _ = stop.cancelled() => Outcome {
            error: Some("stopped".to_owned()),
            ..Outcome::new(Ending::Stopped)
        },
    }
}
