//! The wire format of stream messages. This is a compatibility boundary:
//! schedulers, executors and recorders of different versions share streams
//! during a rolling upgrade, so each message carries `v` and these structs
//! change only by adding optional fields.
//!
//! Instants travel as milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::job::{RetryPolicy, Target};
use crate::run::{RunState, Trigger};

/// The wire version this build writes.
pub const WIRE_VERSION: u32 = 1;

/// The stream entry field that holds a message's JSON.
pub const EVENT_FIELD: &str = "event";

/// A run to execute: one entry of `{prefix}:q:{queue}`. Everything an
/// executor needs travels here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Wire version.
    pub v: u32,
    /// The run this event asks for.
    pub run_id: Uuid,
    /// The job it belongs to.
    pub job_id: Uuid,
    /// The job's name, for logs.
    #[serde(default)]
    pub job_name: String,
    /// The definition version the run was emitted from.
    pub job_version: i64,
    /// What caused the run.
    pub trigger: Trigger,
    /// The tick (ms); for a manual run, the request instant.
    pub scheduled_at: i64,
    /// When it was written to the queue (ms).
    pub emitted_at: i64,
    /// Attempt number, from 1. A redelivery after a crash keeps it.
    pub attempt: u32,
    /// A run not started by this instant (ms) is reported `missed`.
    #[serde(default)]
    pub deadline: Option<i64>,
    /// Seconds the run may take.
    pub timeout_s: u64,
    /// What to run.
    pub target: Target,
    /// Retry policy snapshot, so executors can schedule the next attempt.
    pub retry: RetryPolicy,
    /// The queue the event was written to.
    pub queue: String,
    /// The emitting leader's fencing epoch; 0 for API-written runs.
    #[serde(default)]
    pub epoch: u64,
}

/// A change in a run's state: one entry of `{prefix}:results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Wire version.
    pub v: u32,
    /// The run.
    pub run_id: Uuid,
    /// Its job.
    pub job_id: Uuid,
    /// Definition version of the run.
    pub job_version: i64,
    /// The attempt this result is about.
    pub attempt: u32,
    /// The state it reached.
    pub state: RunState,
    /// What caused the run.
    pub trigger: Trigger,
    /// The tick (ms).
    pub scheduled_at: i64,
    /// When the event was written to the queue (ms).
    #[serde(default)]
    pub emitted_at: Option<i64>,
    /// When the attempt started (ms).
    #[serde(default)]
    pub started_at: Option<i64>,
    /// When the attempt ended (ms).
    #[serde(default)]
    pub finished_at: Option<i64>,
    /// Who ran it.
    #[serde(default)]
    pub executor_id: Option<String>,
    /// A shell target's exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// An http target's response status.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Why it failed, in words.
    #[serde(default)]
    pub error: Option<String>,
    /// The tail of stdout (or of an HTTP response body).
    #[serde(default)]
    pub stdout: Option<String>,
    /// The tail of stderr.
    #[serde(default)]
    pub stderr: Option<String>,
}

impl RunResult {
    /// A result about `event`'s attempt reaching `state`, with the run's
    /// identity and timestamps from the event and nothing else filled in.
    pub fn about(event: &Event, state: RunState) -> RunResult {
        RunResult {
            v: WIRE_VERSION,
            run_id: event.run_id,
            job_id: event.job_id,
            job_version: event.job_version,
            attempt: event.attempt,
            state,
            trigger: event.trigger,
            scheduled_at: event.scheduled_at,
            emitted_at: Some(event.emitted_at),
            started_at: None,
            finished_at: None,
            executor_id: None,
            exit_code: None,
            http_status: None,
            error: None,
            stdout: None,
            stderr: None,
        }
    }
}

/// What happened to a job definition: one entry of `{prefix}:changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The job.
    pub job_id: Uuid,
    /// Its version after the change.
    pub version: i64,
    /// What was done.
    pub op: ChangeOp,
}

/// The kinds of definition change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A new job.
    Created,
    /// A new version of the definition.
    Updated,
    /// Paused: emits nothing until resumed.
    Paused,
    /// Resumed after a pause.
    Resumed,
    /// Deleted: no further ticks.
    Deleted,
}

/// A request to executors, published on `{prefix}:control`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Wire version.
    pub v: u32,
    /// What to do.
    pub op: ControlOp,
    /// The run it is about.
    pub run_id: Uuid,
    /// Why, for the run's error text: `requested` (API) or `replaced` (overlap).
    pub reason: String,
}

/// The kinds of control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOp {
    /// Kill the run's process group (or abort its request) and report `cancelled`.
    Cancel,
}

/// The field of a `{prefix}:dead` entry that says why it is there.
pub const REASON_FIELD: &str = "reason";
