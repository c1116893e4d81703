//! Chime's black-box suite: real `chime` processes against real Redis and
//! Postgres. Each test gets a database and a Redis key prefix of its own
//! (see `harness`), so tests run in parallel and never meet user data.

mod harness;

mod api;
mod bad_input;
mod cli;
