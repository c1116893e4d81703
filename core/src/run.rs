//! Run states and triggers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a run is in its life. `queued -> running -> succeeded | failed |
/// timed_out | cancelled`; also `skipped` (overlap), `missed` (past its
/// starting deadline or skipped by catch-up), `retrying` and `dead`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Emitted, not yet claimed.
    Queued,
    /// Claimed by an executor and started.
    Running,
    /// Finished as expected.
    Succeeded,
    /// Finished with a failure and no attempts left, or no retry asked for.
    Failed,
    /// Killed for running past its timeout.
    TimedOut,
    /// Cancelled on request or replaced by a newer run.
    Cancelled,
    /// Not started because an earlier run was still going (overlap `forbid`).
    Skipped,
    /// Not started in time: past its starting deadline, or skipped by catch-up.
    Missed,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Every attempt failed or the event could not be delivered.
    Dead,
}

impl RunState {
    /// Every state, in life-cycle order.
    pub const ALL: [RunState; 10] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
        RunState::Skipped,
        RunState::Missed,
        RunState::Retrying,
        RunState::Dead,
    ];

    /// The state's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Skipped => "skipped",
            RunState::Missed => "missed",
            RunState::Retrying => "retrying",
            RunState::Dead => "dead",
        }
    }

    /// A state after which nothing more happens to this attempt.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Running)
    }

    /// Order used to settle results that arrive out of order: a terminal
    /// state outranks `running`, which outranks `queued`.
    pub fn rank(self) -> u8 {
        match self {
            RunState::Queued => 0,
            RunState::Running => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown state '{s}'; one of {}", names.join(", "))
            })
    }
}

/// What caused a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A tick of the job's schedule.
    Schedule,
    /// `POST /jobs/{id}/trigger`.
    Manual,
    /// A later attempt of a failed run.
    Retry,
    /// `POST /jobs/{id}/backfill`.
    Backfill,
}

impl Trigger {
    /// The trigger's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::Backfill => "backfill",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "schedule" => Ok(Trigger::Schedule),
            "manual" => Ok(Trigger::Manual),
            "retry" => Ok(Trigger::Retry),
            "backfill" => Ok(Trigger::Backfill),
            _ => Err(format!(
                "unknown trigger '{s}'; one of schedule, manual, retry, backfill"
            )),
        }
    }
}
