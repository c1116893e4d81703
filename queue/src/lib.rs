//! Chime's Redis layer: queue streams and consumer groups, the delayed set,
//! the running sets, the leader lease with its fencing token, and the results,
//! dead-letter, changes and control channels. Every Redis command Chime sends
//! lives in this crate; Lua scripts live in `queue/scripts/`.

pub mod changes;
pub mod connection;
pub mod consume;
pub mod control;
pub mod emit;
mod error;
pub mod events;
pub mod inspect;
pub mod lease;
pub mod promote;
pub mod registry;
pub mod report;
pub mod results_reader;
pub mod trim;

pub use error::QueueError;
