//! Chime's REST API, dashboard and recorder.

pub mod recorder;
pub mod retention;
