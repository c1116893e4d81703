//! Chime's black-box suite: real `chime` processes against real Redis and
//! Postgres. Each test gets a database and a Redis key prefix of its own
//! (see `harness`), so tests run in parallel and never meet user data.

// Tests unwrap freely: a failure is a panic with the cause either way.
#![allow(clippy::unwrap_used)]

mod harness;

mod api;
mod bad_input;
mod cli;
mod dashboard;
mod executor;
mod recorder;
mod scheduler;
mod tidy;
