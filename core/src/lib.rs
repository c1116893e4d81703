//! Chime's domain: job definitions, schedule math, run states, the wire
//! format of stream messages and Redis key names.
//!
//! Nothing here does IO or reads the clock: every function that needs "now"
//! takes it as a parameter, so the rules can be tested exhaustively.

pub mod ids;
pub mod job;
pub mod keys;
pub mod run;
pub mod schedule;
pub mod wire;

pub use ids::{JobId, RunId};
pub use job::{Catchup, CatchupPolicy, FieldError, JobSpec, OverlapPolicy, RetryPolicy, Target};
pub use keys::Keys;
pub use run::{RunState, Trigger};
pub use schedule::{Fires, Schedule, ScheduleClass, ScheduleError};
