//! The routes, one module per resource, each exporting `router()` with its
//! handlers beside it.

pub(crate) mod docs;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod schedules;

use axum::Router;

use crate::state::AppState;

/// Every route: the versioned API under `/api/v1`, probes, metrics, the
/// API document and the dashboard at the root.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .nest("/api/v1", jobs::router().merge(schedules::router()))
        .merge(health::router())
        .merge(docs::router())
        .merge(crate::dashboard::router())
}
