//! The `http` target: one request with the job's method, URL, headers and
//! body. The run succeeds when the status falls in the expected range
//! (default 200-299); the status and the first 64 KiB of the response body
//! (as stdout) are recorded either way.

use std::time::Duration;

use chime_core::job::HttpTarget;
use reqwest::Method;
use tokio_util::sync::CancellationToken;

use super::{Ending, Outcome, chain};
use crate::output::{OUTPUT_LIMIT, text};

/// Success range when the job names none.
const DEFAULT_EXPECT: [u16; 2] = [200, 299];

/// Sends the request and reads the response within `timeout`, or until
/// `stop` fires (the request is then dropped, which aborts it).
pub(super) async fn run(
    client: &reqwest::Client,
    http: &HttpTarget,
    timeout: Duration,
    stop: &CancellationToken,
) -> Outcome {
    tokio::select! {
        outcome = tokio::time::timeout(timeout, request(client, http)) => match outcome {
            Ok(outcome) => outcome,
            Err(_) => Outcome::timed_out(timeout),
        },
        _ = stop.cancelled() => Outcome {
            error: Some("stopped".to_owned()),
            ..Outcome::new(Ending::Stopped)
        },
    }
}

async fn request(client: &reqwest::Client, http: &HttpTarget) -> Outcome {
    let method = match Method::from_bytes(http.method.as_bytes()) {
        Ok(method) => method,
        Err(_) => return Outcome::failed(format!("'{}' is not an HTTP method", http.method)),
    };
    let mut request = client.request(method, &http.url);
    for (name, value) in &http.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &http.body {
        request = request.body(body.clone());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(err) => return Outcome::failed(format!("request failed: {}", chain(&err))),
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut read_error = None;
    while body.len() < OUTPUT_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = OUTPUT_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(err) => {
                read_error = Some(format!("reading the response body: {}", chain(&err)));
                break;
            }
        }
    }
    let [low, high] = http.expect_status.unwrap_or(DEFAULT_EXPECT);
    let mut outcome = if !(low..=high).contains(&status) {
        Outcome::failed(format!("status {status} is outside {low}-{high}"))
    } else if let Some(error) = read_error {
        Outcome::failed(error)
    } else {
        Outcome::new(Ending::Succeeded)
    };
    outcome.http_status = Some(status);
    outcome.stdout = text(&body);
    outcome
}
