//! The API document: `/openapi.json` (generated, see `openapi.rs`) and a
//! small reference page at `/docs` that renders it in the browser with no
//! assets from elsewhere.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::openapi;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
}

async fn openapi_json() -> Response {
    // The document never changes while the process runs: build it once.
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(openapi::document);
    ([(CONTENT_TYPE, "application/json")], document.as_str()).into_response()
}

async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
