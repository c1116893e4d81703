//! Chime's REST API, dashboard and recorder: job definitions over HTTP, backed by Postgres through
//! `chime-store`, with each committed change announced on the Redis changes
//! stream so the scheduler reacts at once.
//!
//! [`run`] serves the API on a listener the caller bound, until the caller's
//! shutdown token is cancelled. [`router`] builds the same service without a
//! socket, for handler tests. The OpenAPI document is generated from the
//! handlers and types here (`openapi.rs`), never written by hand.

mod auth;
mod config;
pub mod dashboard;
mod error;
mod extract;
mod merge_patch;
mod middleware;
mod model;
mod notify;
mod openapi;
pub mod recorder;
pub mod retention;
mod routes;
mod schedules;
mod server;
mod state;

pub use auth::{Scope, Token, TokenError};
pub use config::ApiConfig;
pub use server::{Deps, router, run};
