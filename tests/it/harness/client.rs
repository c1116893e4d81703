//! A `chime api` process of the test's own (fresh database, unique Redis
//! prefix, random port) and a typed HTTP client with one method per
//! endpoint. Replies keep status, headers and the JSON body, so tests can
//! assert on any of them.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::{Chime, TestDb, eventually, free_port, redis_url, unique_prefix};

/// A running `chime api` with its own database and key prefix.
pub struct ApiServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The process; killed on drop.
    pub chime: Chime,
    /// Its database, for assertions on what was stored.
    pub db: TestDb,
    /// Its Redis key prefix.
    pub prefix: String,
}

impl ApiServer {
    /// Starts `chime api` with `tokens` (`scope:token`) and waits until
    /// `/healthz` answers.
    pub async fn start(tokens: &[&str]) -> ApiServer {
        let db = TestDb::create().await;
        Self::start_with(db, &redis_url(), tokens).await
    }

    /// Starts `chime api` on `db` and the Redis at `redis_url`.
    pub async fn start_with(db: TestDb, redis_url: &str, tokens: &[&str]) -> ApiServer {
        let prefix = unique_prefix();
        let listen = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
            "api",
            "--listen",
            &listen,
            "--database-url",
            &db.url,
            "--redis-url",
            redis_url,
            "--prefix",
            &prefix,
        ];
        for token in tokens {
            args.extend(["--api-token", token]);
        }
        let chime = Chime::spawn(&args);
        let server = ApiServer {
            base: format!("http://{listen}"),
            chime,
            db,
            prefix,
        };
        let client = server.client(None);
        eventually(
            Duration::from_secs(20),
            "chime api answering /healthz",
            || {
                let client = client.clone();
                async move { client.healthz().await.ok().filter(|r| r.status == 200) }
            },
        )
        .await;
        server
    }

    /// A client sending `token` as a bearer token, or none.
    pub fn client(&self, token: Option<&str>) -> Client {
        // The package's reqwest has rustls without a crypto provider (the
        // executor's `http` targets need TLS, and features unify), so the
        // test process installs ring as `main` does; an error only means it
        // is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the http client"),
            base: self.base.clone(),
            token: token.map(str::to_owned),
        }
    }

    /// The `{prefix}:changes` stream as `(job_id, version, op)`, oldest first.
    pub async fn changes(&self) -> Vec<(String, i64, String)> {
        let mut conn = super::redis().await;
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(format!("{}:changes", self.prefix))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("XRANGE changes");
        reply
            .ids
            .iter()
            .map(|entry| {
                let json: String = entry.get("event").expect("entry has an event field");
                let change: Value = serde_json::from_str(&json).expect("change is JSON");
                (
                    change["job_id"].as_str().expect("job_id").to_owned(),
                    change["version"].as_i64().expect("version"),
                    change["op"].as_str().expect("op").to_owned(),
                )
            })
            .collect()
    }
}

/// An HTTP client for one server and token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A reply: status, headers and the JSON body (`Null` when there is none
/// or it is not JSON; `text` keeps the raw body).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The `ETag` header.
    pub fn etag(&self) -> Option<&str> {
        self.headers.get("etag").and_then(|v| v.to_str().ok())
    }

    /// `error.code` and `error.field` of an error reply.
    pub fn error(&self) -> (&str, Option<&str>) {
        (
            self.body["error"]["code"]
                .as_str()
                .unwrap_or("<no error code>"),
            self.body["error"]["field"].as_str(),
        )
    }

    /// Panics with the body unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "unexpected reply: {}", self.text);
        self
    }
}

/// A request body and its content type.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    Raw(&'a str, Option<&'a str>),
}

impl Client {
    /// Sends any request: the escape hatch for bad input.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> reqwest::Result<Reply> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).expect("header value"));
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request
                .header("content-type", "application/json")
                .body(value.to_string()),
            Body::Raw(text, content_type) => {
                let request = request.body(text.to_owned());
                match content_type {
                    Some(content_type) => request.header("content-type", content_type),
                    None => request,
                }
            }
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
            text,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Reply {
        self.send(method.clone(), path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `POST /api/v1/jobs`.
    pub async fn create_job(&self, spec: &Value) -> Reply {
        self.call(Method::POST, "/api/v1/jobs", &[], Body::Json(spec))
            .await
    }

    /// `GET /api/v1/jobs?...`.
    pub async fn list_jobs(&self, query: &[(&str, &str)]) -> Reply {
        let query: String = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.call(
            Method::GET,
            &format!("/api/v1/jobs?{query}"),
            &[],
            Body::None,
        )
        .await
    }

    /// `GET /api/v1/jobs/{id or name}`.
    pub async fn get_job(&self, key: &str) -> Reply {
        self.call(Method::GET, &format!("/api/v1/jobs/{key}"), &[], Body::None)
            .await
    }

    /// `PUT /api/v1/jobs/{id}`, with `If-Match` when given.
    pub async fn replace_job(&self, key: &str, spec: &Value, if_match: Option<&str>) -> Reply {
        let headers = if_match_header(if_match);
        self.call(
            Method::PUT,
            &format!("/api/v1/jobs/{key}"),
            &headers,
            Body::Json(spec),
        )
        .await
    }

    /// `PATCH /api/v1/jobs/{id}` as `application/merge-patch+json`.
    pub async fn patch_job(&self, key: &str, patch: &Value, if_match: Option<&str>) -> Reply {
        let headers = if_match_header(if_match);
        let text = patch.to_string();
        self.call(
            Method::PATCH,
            &format!("/api/v1/jobs/{key}"),
            &headers,
            Body::Raw(&text, Some("application/merge-patch+json")),
        )
        .await
    }

    /// `DELETE /api/v1/jobs/{id}`.
    pub async fn delete_job(&self, key: &str, if_match: Option<&str>) -> Reply {
        let headers = if_match_header(if_match);
        self.call(
            Method::DELETE,
            &format!("/api/v1/jobs/{key}"),
            &headers,
            Body::None,
        )
        .await
    }

    /// `PUT /api/v1/jobs/by-name/{name}`.
    pub async fn upsert_job(&self, name: &str, spec: &Value) -> Reply {
        self.call(
            Method::PUT,
            &format!("/api/v1/jobs/by-name/{name}"),
            &[],
            Body::Json(spec),
        )
        .await
    }

    /// `POST /api/v1/jobs/{id}/pause`, with `{"reason"}` when given.
    pub async fn pause_job(
        &self,
        key: &str,
        reason: Option<&str>,
        if_match: Option<&str>,
    ) -> Reply {
        let headers = if_match_header(if_match);
        let body = reason.map(|reason| serde_json::json!({ "reason": reason }));
        let body = match &body {
            Some(body) => Body::Json(body),
            None => Body::None,
        };
        self.call(
            Method::POST,
            &format!("/api/v1/jobs/{key}/pause"),
            &headers,
            body,
        )
        .await
    }

    /// `POST /api/v1/jobs/{id}/resume`.
    pub async fn resume_job(&self, key: &str, if_match: Option<&str>) -> Reply {
        let headers = if_match_header(if_match);
        self.call(
            Method::POST,
            &format!("/api/v1/jobs/{key}/resume"),
            &headers,
            Body::None,
        )
        .await
    }

    /// `POST /api/v1/schedules/preview`.
    pub async fn preview(&self, request: &Value) -> Reply {
        self.call(
            Method::POST,
            "/api/v1/schedules/preview",
            &[],
            Body::Json(request),
        )
        .await
    }

    /// `GET /healthz`; an error when nothing listens yet.
    pub async fn healthz(&self) -> reqwest::Result<Reply> {
        self.send(Method::GET, "/healthz", &[], Body::None).await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Reply {
        self.call(Method::GET, "/readyz", &[], Body::None).await
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> Reply {
        self.call(Method::GET, "/metrics", &[], Body::None).await
    }

    /// `GET /openapi.json`.
    pub async fn openapi(&self) -> Reply {
        self.call(Method::GET, "/openapi.json", &[], Body::None)
            .await
    }
}

fn if_match_header(if_match: Option<&str>) -> Vec<(&str, &str)> {
    if_match.map(|v| vec![("if-match", v)]).unwrap_or_default()
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
