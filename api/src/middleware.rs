//! Layers around every route: a span per request carrying `matched_path`,
//! request metrics, and a last net that gives JSON bodies to error replies
//! made outside our handlers (axum's 405, the timeout layer's 503).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::Span;

use crate::error::ApiError;

/// The route template of a request (`/api/v1/jobs/{id}`), or `unmatched`:
/// never the raw path, so spans and metric labels stay few.
fn matched_path(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// Makes the request span: method and matched path, never the query or
/// headers (tokens live there).
#[derive(Clone, Copy)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let matched_path = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or("unmatched");
        tracing::info_span!("http", method = %request.method(), matched_path)
    }
}

/// The tracing layer. Failures are not logged here: [`ApiError`] logs its
/// cause once, where it is handled.
pub(crate) fn trace()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), (), (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(())
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Counts requests and times them, by method, matched path and status.
pub(crate) async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = matched_path(&request);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "chime_http_requests_total",
        "method" => method.clone(),
        "path" => path.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "chime_http_request_duration_seconds",
        "method" => method,
        "path" => path
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Gives every error reply the API's JSON body. Replies our handlers made
/// are JSON already and pass untouched.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), "request failed outside a handler");
    }
    let mut replacement = ApiError::for_status(status).into_response();
    // Keep what tells the client how to proceed, such as `Allow` on a 405.
    for name in [
        HeaderName::from_static("allow"),
        HeaderName::from_static("retry-after"),
    ] {
        if let Some(value) = response.headers().get(&name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    replacement
}
