//! Garbage in, precise refusals out: a table of bad requests, each with the
//! status, error code and field it must get. Nothing a client sends may
//! produce a 5xx, and no refused request may change anything.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ApiServer, Body};

/// A valid definition to break one field of.
fn valid() -> Value {
    json!({
        "name": "bad-input",
        "schedule": "*/5 * * * *",
        "target": {"type": "shell", "command": ["/bin/true"]},
    })
}

/// `valid()` with the member at JSON pointer `pointer` set to `value`.
fn with(pointer: &str, value: Value) -> String {
    let mut body = valid();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    body.pointer_mut(parent).expect("the parent exists")[key] = value;
    body.to_string()
}

fn without(member: &str) -> String {
    let mut body = valid();
    body.as_object_mut().expect("object").remove(member);
    body.to_string()
}

struct Case {
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    method: Method,
    path: &'static str,
    body: impl Into<String>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    let body = body.into();
    Case {
        method,
        path,
        content_type: (!body.is_empty()).then_some("application/json"),
        headers: Vec::new(),
        body,
        status,
        code,
        field,
    }
}

fn create(body: impl Into<String>, code: &'static str, field: Option<&'static str>) -> Case {
    case(Method::POST, "/api/v1/jobs", body, 400, code, field)
}

fn cases() -> Vec<Case> {
    let post = Method::POST;
    let get = Method::GET;
    let long = |n: usize| "x".repeat(n);
    let many_labels: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = vec![
        // The body as a whole.
        create(r#"{"name":"#, "invalid_json", None),
        create(r#"{} {}"#, "invalid_json", None),
        create("[]", "invalid_type", None),
        create("\"a string\"", "invalid_type", None),
        Case { content_type: None, ..create(valid().to_string(), "", None) }.refused(415, "unsupported_media_type", Some("Content-Type")),
        Case { content_type: Some("text/plain"), ..create(valid().to_string(), "", None) }.refused(415, "unsupported_media_type", Some("Content-Type")),
        Case { content_type: Some("application/xml"), ..create("<job/>", "", None) }.refused(415, "unsupported_media_type", Some("Content-Type")),
        Case { content_type: Some("application/json"), ..create("", "", None) }.refused(400, "invalid_json", None),
        create(format!(r#"{{"description":"{}"}}"#, long(1024 * 1024 + 10)), "", None).refused(413, "payload_too_large", None),
        // Required and unknown members.
        create(without("name"), "missing_field", Some("name")),
        create(without("schedule"), "missing_field", Some("schedule")),
        create(without("target"), "missing_field", Some("target")),
        create(with("/colour", json!("blue")), "unknown_field", Some("colour")),
        create(with("/retry", json!({"max": 3})), "unknown_field", Some("retry.max")),
        create(with("/catchup", json!({"policy": "all", "window": 5})), "unknown_field", Some("catchup.window")),
        // Types.
        create(with("/name", json!(5)), "invalid_type", Some("name")),
        create(with("/timeout_s", json!("60")), "invalid_type", Some("timeout_s")),
        create(with("/paused", json!("yes")), "invalid_type", Some("paused")),
        create(with("/labels", json!(["a"])), "invalid_type", Some("labels")),
        create(with("/labels", json!({"team": 1})), "invalid_type", Some("labels.team")),
        create(with("/retry", json!({"max_attempts": 2.5})), "invalid_type", Some("retry.max_attempts")),
        // Names.
        create(with("/name", json!("")), "invalid_value", Some("name")),
        create(with("/name", json!("-leading-dash")), "invalid_value", Some("name")),
        create(with("/name", json!("has space")), "invalid_value", Some("name")),
        create(with("/name", json!(long(129))), "invalid_value", Some("name")),
        create(with("/name", json!("0190a3c2-7f00-7000-8000-000000000000")), "invalid_value", Some("name")),
        // Schedules and zones.
        create(with("/schedule", json!("61 * * * *")), "invalid_value", Some("schedule")),
        create(with("/schedule", json!("0 0 31 2 *")), "invalid_value", Some("schedule")),
        create(with("/schedule", json!("")), "invalid_value", Some("schedule")),
        create(with("/schedule", json!("@every 0s")), "invalid_value", Some("schedule")),
        create(with("/schedule", json!("@at tomorrow")), "invalid_value", Some("schedule")),
        create(with("/timezone", json!("Mars/Olympus_Mons")), "invalid_value", Some("timezone")),
        create(with("/timezone", json!("")), "invalid_value", Some("timezone")),
        // Limits.
        create(with("/timeout_s", json!(0)), "invalid_value", Some("timeout_s")),
        create(with("/timeout_s", json!(7 * 86400 + 1)), "invalid_value", Some("timeout_s")),
        create(with("/timeout_s", json!(-1)), "invalid_value", Some("timeout_s")),
        create(with("/retry", json!({"max_attempts": 0})), "invalid_value", Some("retry.max_attempts")),
        create(with("/retry", json!({"max_attempts": 101})), "invalid_value", Some("retry.max_attempts")),
        create(with("/retry", json!({"backoff_initial_ms": 86_400_001u64, "backoff_max_ms": 86_400_001u64})), "invalid_value", Some("retry.backoff_initial_ms")),
        create(with("/retry", json!({"backoff_initial_ms": 5000, "backoff_max_ms": 1000})), "invalid_value", Some("retry.backoff_max_ms")),
        create(with("/overlap", json!("sometimes")), "invalid_value", Some("overlap")),
        create(with("/catchup", json!({"policy": "most"})), "invalid_value", Some("catchup.policy")),
        create(with("/jitter_s", json!(86401)), "invalid_value", Some("jitter_s")),
        create(with("/queue", json!("")), "invalid_value", Some("queue")),
        create(with("/queue", json!("a queue")), "invalid_value", Some("queue")),
        create(with("/description", json!(long(4097))), "invalid_value", Some("description")),
        create(with("/labels", Value::Object(many_labels)), "invalid_value", Some("labels")),
        create(with("/labels", json!({"bad key": "v"})), "invalid_value", Some("labels.bad key")),
        create(with("/labels", json!({"team": long(256)})), "invalid_value", Some("labels.team")),
        // Targets.
        create(with("/target", json!({"command": ["x"]})), "missing_field", Some("target.type")),
        create(with("/target", json!({"type": "ftp"})), "invalid_value", Some("target.type")),
        create(with("/target/command", json!([])), "invalid_value", Some("target.command")),
        create(with("/target/command", json!("true")), "invalid_type", Some("target.command")),
        create(with("/target/shell", json!("bash")), "unknown_field", Some("target.shell")),
        create(with("/target", json!({"type": "http"})), "missing_field", Some("target.url")),
        create(with("/target", json!({"type": "http", "url": "ftp://example.com/x"})), "invalid_value", Some("target.url")),
        create(with("/target", json!({"type": "http", "url": "/relative"})), "invalid_value", Some("target.url")),
        create(with("/target", json!({"type": "http", "url": "http://h/", "method": "get"})), "invalid_value", Some("target.method")),
        create(with("/target", json!({"type": "http", "url": "http://h/", "expect_status": [99, 200]})), "invalid_value", Some("target.expect_status")),
        create(with("/target", json!({"type": "event", "stream": "bad stream"})), "invalid_value", Some("target.stream")),
        // A taken name.
        case(post.clone(), "/api/v1/jobs", json!({"name": "existing", "schedule": "@daily", "target": {"type": "shell", "command": ["x"]}}).to_string(), 409, "conflict", Some("name")),
        // Routes and methods.
        case(get.clone(), "/api/v1/nope", "", 404, "not_found", None),
        case(get.clone(), "/api/v2/jobs", "", 404, "not_found", None),
        case(Method::DELETE, "/api/v1/jobs", "", 405, "method_not_allowed", None),
        case(Method::PATCH, "/api/v1/schedules/preview", "", 405, "method_not_allowed", None),
        case(post.clone(), "/healthz", "", 405, "method_not_allowed", None),
        case(get.clone(), "/api/v1/jobs/no-such-job", "", 404, "not_found", None),
        case(get.clone(), "/api/v1/jobs/0190a3c2-7f00-7000-8000-000000000000", "", 404, "not_found", None),
        case(get.clone(), "/api/v1/jobs/%FF%FE", "", 400, "invalid_value", Some("id")),
        // Query parameters.
        case(get.clone(), "/api/v1/jobs?limit=0", "", 400, "invalid_value", Some("limit")),
        case(get.clone(), "/api/v1/jobs?limit=501", "", 400, "invalid_value", Some("limit")),
        case(get.clone(), "/api/v1/jobs?limit=ten", "", 400, "invalid_value", Some("limit")),
        case(get.clone(), "/api/v1/jobs?paused=maybe", "", 400, "invalid_value", Some("paused")),
        case(get.clone(), "/api/v1/jobs?label=nocolon", "", 400, "invalid_value", Some("label")),
        case(get.clone(), "/api/v1/jobs?label=:value", "", 400, "invalid_value", Some("label")),
        case(get.clone(), "/api/v1/jobs?cursor=%21%21%21", "", 400, "invalid_value", Some("cursor")),
        case(get.clone(), "/api/v1/jobs?colour=red", "", 400, "unknown_parameter", Some("colour")),
        // Changes to an existing job.
        Case { headers: vec![("if-match", "\"9\"")], ..case(Method::PUT, "/api/v1/jobs/existing", json!({"name": "existing", "schedule": "@daily", "target": {"type": "shell", "command": ["x"]}}).to_string(), 412, "precondition_failed", Some("If-Match")) },
        Case { headers: vec![("if-match", "version one")], ..case(Method::DELETE, "/api/v1/jobs/existing", "", 400, "invalid_value", Some("If-Match")) },
        case(Method::PUT, "/api/v1/jobs/existing", with("/timeout_s", json!(0)), 400, "invalid_value", Some("timeout_s")),
        case(Method::PATCH, "/api/v1/jobs/existing", r#"{"timeout_s": 0}"#, 400, "invalid_value", Some("timeout_s")),
        case(Method::PATCH, "/api/v1/jobs/existing", r#"{"id": "x"}"#, 400, "unknown_field", Some("id")),
        case(Method::PATCH, "/api/v1/jobs/existing", r#"{"target": {"command": null}}"#, 400, "missing_field", Some("target.command")),
        case(Method::PATCH, "/api/v1/jobs/existing", "[1]", 400, "invalid_type", None),
        case(Method::PATCH, "/api/v1/jobs/existing", "{", 400, "invalid_json", None),
        Case { content_type: Some("text/plain"), ..case(Method::PATCH, "/api/v1/jobs/existing", "{}", 415, "unsupported_media_type", Some("Content-Type")) },
        case(Method::PATCH, "/api/v1/jobs/no-such-job", "{}", 404, "not_found", None),
        case(Method::PUT, "/api/v1/jobs/by-name/other", json!({"name": "existing", "schedule": "@daily", "target": {"type": "shell", "command": ["x"]}}).to_string(), 400, "invalid_value", Some("name")),
        case(Method::PUT, "/api/v1/jobs/by-name/0190a3c2-7f00-7000-8000-000000000000", valid().to_string(), 400, "invalid_value", Some("name")),
        case(post.clone(), "/api/v1/jobs/existing/pause", r#"{"reason": 5}"#, 400, "invalid_type", Some("reason")),
        case(post.clone(), "/api/v1/jobs/existing/pause", r#"{"why": "x"}"#, 400, "unknown_field", Some("why")),
        case(post.clone(), "/api/v1/jobs/existing/pause", json!({"reason": long(1025)}).to_string(), 400, "invalid_value", Some("reason")),
        Case { content_type: Some("text/plain"), ..case(post.clone(), "/api/v1/jobs/existing/pause", "reason", 415, "unsupported_media_type", Some("Content-Type")) },
        case(post.clone(), "/api/v1/jobs/no-such-job/resume", "", 404, "not_found", None),
        // Previews.
        case(post.clone(), "/api/v1/schedules/preview", r#"{"schedule": "@daily", "count": 101}"#, 400, "invalid_value", Some("count")),
        case(post.clone(), "/api/v1/schedules/preview", r#"{"schedule": "@daily", "count": 0}"#, 400, "invalid_value", Some("count")),
        case(post.clone(), "/api/v1/schedules/preview", r#"{"schedule": "@daily", "count": -3}"#, 400, "invalid_value", Some("count")),
        case(post.clone(), "/api/v1/schedules/preview", r#"{"schedule": "@daily", "after": "yesterday"}"#, 400, "invalid_value", Some("after")),
        case(post.clone(), "/api/v1/schedules/preview", r#"{"timezone": "UTC"}"#, 400, "missing_field", Some("schedule")),
        case(post.clone(), "/api/v1/schedules/preview", r#"{"schedule": "* * *"}"#, 400, "invalid_value", Some("schedule")),
        case(post, "/api/v1/schedules/preview", r#"{"schedule": "@daily", "tz": "UTC"}"#, 400, "unknown_field", Some("tz")),
    ];
    cases
}

impl Case {
    fn refused(self, status: u16, code: &'static str, field: Option<&'static str>) -> Case {
        Case {
            status,
            code,
            field,
            ..self
        }
    }
}

#[tokio::test]
async fn each_bad_request_gets_its_status_code_and_field() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    api.create_job(&json!({"name": "existing", "schedule": "@daily", "target": {"type": "shell", "command": ["x"]}}))
        .await
        .expect(201);
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut headers = case.headers.clone();
        if let Some(content_type) = case.content_type {
            headers.push(("content-type", content_type));
        }
        let reply = api
            .send(
                case.method.clone(),
                case.path,
                &headers,
                Body::Raw(&case.body, None),
            )
            .await
            .expect("the server answers");
        let shown: String = case.body.chars().take(120).collect();
        if reply.status != case.status || reply.error() != (case.code, case.field) {
            failures.push(format!(
                "{} {} {shown}\n  want {} {} {:?}\n  got  {} {}",
                case.method,
                case.path,
                case.status,
                case.code,
                case.field,
                reply.status,
                reply.text.chars().take(300).collect::<String>()
            ));
        }
        assert!(
            reply.status < 500,
            "{} {}: {}",
            case.method,
            case.path,
            reply.text
        );
        let content_type = reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            content_type,
            Some("application/json"),
            "{} {}",
            case.method,
            case.path
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing refused changed anything: one job at version 1, one change.
    let existing = api.get_job("existing").await.expect(200);
    assert_eq!(existing.body["version"], 1);
    assert_eq!(
        api.list_jobs(&[]).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(server.changes().await.len(), 1);
}
