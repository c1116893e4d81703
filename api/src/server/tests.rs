//! Handler-level tests through `Router::oneshot`: everything that needs no
//! database (refusals, auth, preview, probes, the document), with Postgres
//! and Redis pointed at closed ports so any access would show as a 503.

// Building a request from literals cannot fail.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{ApiConfig, Deps, router};

fn app(tokens: &[&str]) -> Router {
    let config = ApiConfig {
        prefix: "chime-unit".to_owned(),
        tokens: tokens.iter().map(|t| t.parse().expect("token")).collect(),
        ..ApiConfig::default()
    };
    let deps = Deps {
        // Nothing listens on port 1: a handler that touches a dependency fails.
        pool: chime_store::connect_lazy("postgres://chime:chime@127.0.0.1:1/none", 1)
            .expect("pool"),
        redis: redis::Client::open("redis://127.0.0.1:1").expect("redis url"),
        metrics: PrometheusBuilder::new().build_recorder().handle(),
    };
    router(&config, deps)
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn error_of(body: &Value) -> (&str, Option<&str>) {
    (
        body["error"]["code"].as_str().unwrap_or("<no code>"),
        body["error"]["field"].as_str(),
    )
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let (status, body) = send(app(&[]), Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), ("not_found", None));

    let (status, body) = send(
        app(&[]),
        Request::delete("/api/v1/jobs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_of(&body), ("method_not_allowed", None));
}

#[tokio::test]
async fn bodies_are_checked_before_the_database_is_touched() {
    // (body, content type, status, code, field)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        StatusCode,
        &'a str,
        Option<&'a str>,
    );
    let cases: &[Case<'_>] = &[
        (
            "{",
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            "{}",
            Some("text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            Some("Content-Type"),
        ),
        (
            "{}",
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            Some("Content-Type"),
        ),
        (
            "{}",
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "missing_field",
            Some("name"),
        ),
        (
            r#"{"name":"a","schedule":"* * * * *","target":{"type":"shell","command":["x"]},"colour":1}"#,
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "unknown_field",
            Some("colour"),
        ),
        (
            r#"{"name":"a","schedule":"* * * * *","target":{"type":"shell","command":["x"]},"retry":{"max_attempts":"3"}}"#,
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_type",
            Some("retry.max_attempts"),
        ),
        (
            r#"{"name":"a","schedule":"0 0 32 * *","target":{"type":"shell","command":["x"]}}"#,
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_value",
            Some("schedule"),
        ),
        (
            r#"{"name":"a","schedule":"* * * * *","target":{"type":"http"}}"#,
            Some("application/json"),
            StatusCode::BAD_REQUEST,
            "missing_field",
            Some("target.url"),
        ),
    ];
    for (body, content_type, status, code, field) in cases {
        let mut request = Request::post("/api/v1/jobs");
        if let Some(content_type) = content_type {
            request = request.header("content-type", *content_type);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let (got_status, got) = send(app(&[]), request).await;
        assert_eq!(got_status, *status, "{body}: {got}");
        assert_eq!(error_of(&got), (*code, *field), "{body}: {got}");
    }
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let big = format!(r#"{{"description":"{}"}}"#, "x".repeat(1024 * 1024 + 1));
    let (status, body) = send(app(&[]), post_json("/api/v1/jobs", &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(&body), ("payload_too_large", None));
}

#[tokio::test]
async fn preview_lists_utc_and_local_fires() {
    let request = post_json(
        "/api/v1/schedules/preview",
        r#"{"schedule":"0 30 2 * * *","timezone":"Europe/Berlin","count":2,"after":"2027-01-01T00:00:00Z"}"#,
    );
    let (status, body) = send(app(&[]), request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"fires": [
            {"at": "2027-01-01T01:30:00.000Z", "local": "2027-01-01T02:30:00.000+01:00"},
            {"at": "2027-01-02T01:30:00.000Z", "local": "2027-01-02T02:30:00.000+01:00"},
        ]})
    );
    for (body, field) in [
        (r#"{"schedule":"* * * * *","count":101}"#, "count"),
        (r#"{"schedule":"* * * * *","count":0}"#, "count"),
        (
            r#"{"schedule":"* * * * *","timezone":"Mars/Base"}"#,
            "timezone",
        ),
        (r#"{"schedule":"61 * * * *"}"#, "schedule"),
        (r#"{"schedule":"* * * * *","after":"yesterday"}"#, "after"),
    ] {
        let (status, got) = send(app(&[]), post_json("/api/v1/schedules/preview", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {got}");
        assert_eq!(
            error_of(&got),
            ("invalid_value", Some(field)),
            "{body}: {got}"
        );
    }
}

#[tokio::test]
async fn tokens_are_checked_by_scope_and_probes_stay_open() {
    let tokens = ["read:r-token", "write:w-token"];
    let get = |auth: Option<&str>| {
        let mut request =
            Request::post("/api/v1/schedules/preview").header("content-type", "application/json");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request
            .body(Body::from(r#"{"schedule":"@daily"}"#))
            .unwrap()
    };
    let (status, body) = send(app(&tokens), get(None)).await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (status, _) = send(app(&tokens), get(Some("Bearer nope"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(app(&tokens), get(Some("Bearer r-token"))).await;
    assert_eq!(status, StatusCode::OK);

    // A read token may not change anything; the body is not even looked at.
    let request = Request::post("/api/v1/jobs")
        .header("authorization", "Bearer r-token")
        .body(Body::from("garbage"))
        .unwrap();
    let (status, body) = send(app(&tokens), request).await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    for open in ["/healthz", "/metrics", "/openapi.json"] {
        let response = app(&tokens)
            .oneshot(Request::get(open).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn a_database_that_is_down_is_a_generic_503() {
    let (status, body) = send(
        app(&[]),
        Request::get("/api/v1/jobs/nightly")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_of(&body), ("unavailable", None));
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.contains("127.0.0.1"), "leaks details: {message}");

    let (status, body) = send(
        app(&[]),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_of(&body), ("unavailable", None));
}

#[tokio::test]
async fn the_document_is_generated_openapi_3_1_covering_every_route() {
    let (status, doc) = send(
        app(&[]),
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/by-name/{name}",
        "/api/v1/jobs/{id}/pause",
        "/api/v1/jobs/{id}/resume",
        "/api/v1/schedules/preview",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["JobSpec"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
