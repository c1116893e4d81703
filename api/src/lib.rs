//! Chime's REST API, dashboard and recorder.

pub mod dashboard;
pub mod recorder;
pub mod retention;
