//! An in-memory stand-in for the `/api/v1` endpoints the dashboard reads and
//! calls, with the reply shapes of DESIGN.md and issues 3 and 6.
//!
//! It exists only until the real API is merged into this branch; then
//! `dashboard::base_url` starts `chime api` instead and this file goes.
//! Schedules are checked and previewed by the real engine
//! (`chime_core::Schedule`), so the error text the dashboard shows is the
//! engine's. Runs move on by themselves as they are read: a triggered run is
//! `queued`, `running` after 0.8 s and `succeeded` after 2.5 s.

// Handlers return a ready `Response` as their error: this is a test fake,
// and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chime_core::Schedule;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// A token that may read.
pub(crate) const READ_TOKEN: &str = "reader-0123456789";
/// A token that may read and change.
pub(crate) const WRITE_TOKEN: &str = "writer-0123456789";

/// What the fake holds; shared between the server and the test.
#[derive(Default)]
pub(crate) struct FakeState {
    jobs: Vec<Value>,
    runs: Vec<FakeRun>,
    /// Every changing request, as `METHOD /path`, for the test to check.
    pub(crate) calls: Vec<String>,
}

struct FakeRun {
    run: Value,
    /// Set for runs that move on by themselves (manual and backfill).
    live_since: Option<Instant>,
}

/// The fake's state, for assertions.
pub(crate) type Shared = Arc<Mutex<FakeState>>;

/// The `/api/v1` routes, behind bearer tokens: [`READ_TOKEN`] reads,
/// [`WRITE_TOKEN`] also changes.
pub(crate) fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/jobs", get(list_jobs).post(create_job))
        .route(
            "/jobs/{id}",
            get(get_job).patch(patch_job).delete(delete_job),
        )
        .route("/jobs/{id}/pause", post(pause_job))
        .route("/jobs/{id}/resume", post(resume_job))
        .route("/jobs/{id}/trigger", post(trigger_job))
        .route("/jobs/{id}/backfill", post(backfill_job))
        .route("/schedules/preview", post(preview))
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/cancel", post(cancel_run))
        .route("/executors", get(executors))
        .route("/cluster", get(cluster))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route", None) })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state);
    Router::new().nest("/api/v1", api)
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn auth(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if token != READ_TOKEN && token != WRITE_TOKEN {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
            None,
        );
    }
    let changes = req.method() != Method::GET && req.uri().path() != "/schedules/preview";
    if changes && token != WRITE_TOKEN {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token has read scope; this needs write",
            None,
        );
    }
    if changes {
        lock(&state)
            .calls
            .push(format!("{} {}", req.method(), req.uri().path()));
    }
    next.run(req).await
}

fn error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "field": field}})),
    )
        .into_response()
}

fn ts(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn parse_ts(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `a=1&b=2&b=3` into pairs, percent-decoded.
fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let Ok(b) =
                    u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
                {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn first<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn page(list: Vec<Value>, q: &[(String, String)], default_limit: usize) -> Result<Value, Response> {
    let limit = match first(q, "limit") {
        None => default_limit,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_limit",
                    "limit must be 1-500",
                    Some("limit"),
                ));
            }
        },
    };
    let offset: usize = first(q, "cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = list.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset + limit < list.len()).then(|| (offset + limit).to_string());
    Ok(json!({"items": items, "next_cursor": next}))
}

// ---------------------------------------------------------------- jobs

fn find_job(st: &FakeState, key: &str) -> Option<usize> {
    st.jobs
        .iter()
        .position(|j| j["id"].as_str() == Some(key) || j["name"].as_str() == Some(key))
}

fn validate(job: &Value) -> Result<Schedule, Response> {
    let schedule = job["schedule"].as_str().unwrap_or_default();
    let tz = job["timezone"].as_str().unwrap_or("UTC");
    let created = parse_ts(&job["created_at"]).unwrap_or_else(Utc::now);
    Schedule::parse(schedule, tz, created).map_err(|e| {
        let code = if e.field() == "schedule" {
            "invalid_schedule"
        } else {
            "invalid_timezone"
        };
        error(
            StatusCode::BAD_REQUEST,
            code,
            &e.to_string(),
            Some(e.field()),
        )
    })
}

/// The job as the API shows it: definition, bookkeeping, next fires and a
/// summary of its latest run.
fn view(st: &FakeState, job: &Value) -> Value {
    let mut out = job.clone();
    let next: Vec<Value> = match (job["paused"].as_bool(), validate(job)) {
        (Some(false) | None, Ok(s)) => s.next_n(Utc::now(), 5).into_iter().map(ts).collect(),
        _ => vec![],
    };
    out["next_fires"] = Value::Array(next);
    let latest = st
        .runs
        .iter()
        .map(run_now)
        .filter(|r| r["job_id"] == job["id"])
        .max_by_key(|r| r["scheduled_at"].as_str().unwrap_or_default().to_owned());
    out["last_run"] = latest.map_or(Value::Null, |r| {
        json!({"id": r["id"], "state": r["state"], "scheduled_at": r["scheduled_at"], "finished_at": r["finished_at"]})
    });
    out
}

async fn list_jobs(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw);
    let st = lock(&state);
    let mut list: Vec<Value> = st
        .jobs
        .iter()
        .filter(|j| {
            first(&q, "q").is_none_or(|p| j["name"].as_str().unwrap_or_default().starts_with(p))
        })
        .filter(|j| first(&q, "queue").is_none_or(|p| j["queue"].as_str() == Some(p)))
        .filter(|j| first(&q, "paused").is_none_or(|p| j["paused"].as_bool() == Some(p == "true")))
        .filter(|j| {
            q.iter().filter(|(k, _)| k == "label").all(|(_, l)| {
                let (k, v) = l.split_once(':').unwrap_or((l, ""));
                j["labels"][k].as_str() == Some(v)
            })
        })
        .map(|j| view(&st, j))
        .collect();
    list.sort_by_key(|j| j["name"].as_str().unwrap_or_default().to_owned());
    match page(list, &q, 50) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

fn insert_job(
    st: &mut FakeState,
    mut def: Value,
    created: DateTime<Utc>,
) -> Result<Value, Response> {
    let defaults = json!({
        "timezone": "UTC", "queue": "default", "timeout_s": 3600,
        "retry": {"max_attempts": 1, "backoff_initial_ms": 1000, "backoff_max_ms": 60000},
        "overlap": "forbid", "catchup": {"policy": "latest", "window_s": 3600},
        "starting_deadline_s": 300, "jitter_s": 0, "paused": false, "labels": {}, "description": "",
    });
    for (k, v) in defaults.as_object().into_iter().flatten() {
        if def.get(k).is_none() {
            def[k] = v.clone();
        }
    }
    def["id"] = json!(Uuid::now_v7());
    def["version"] = json!(1);
    def["created_at"] = ts(created);
    def["updated_at"] = ts(created);
    def["paused_reason"] = Value::Null;
    validate(&def)?;
    let name = def["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "name: required",
            Some("name"),
        ));
    }
    if find_job(st, name).is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            "name_taken",
            "a job with this name exists",
            Some("name"),
        ));
    }
    st.jobs.push(def.clone());
    Ok(def)
}

async fn create_job(State(state): State<Shared>, Json(def): Json<Value>) -> Response {
    let mut st = lock(&state);
    match insert_job(&mut st, def, Utc::now()) {
        Ok(job) => (StatusCode::CREATED, Json(view(&st, &job))).into_response(),
        Err(r) => r,
    }
}

fn with_job(
    state: &Shared,
    id: &str,
    change: impl FnOnce(&mut Value) -> Result<(), Response>,
) -> Response {
    let mut st = lock(state);
    let Some(i) = find_job(&st, id) else {
        return error(StatusCode::NOT_FOUND, "job_not_found", "no such job", None);
    };
    let mut job = st.jobs[i].clone();
    if let Err(r) = change(&mut job) {
        return r;
    }
    if job != st.jobs[i] {
        job["version"] = json!(job["version"].as_i64().unwrap_or(0) + 1);
        job["updated_at"] = ts(Utc::now());
        st.jobs[i] = job.clone();
    }
    let mut res = Json(view(&st, &job)).into_response();
    if let Ok(etag) = format!("\"{}\"", job["version"]).parse() {
        res.headers_mut().insert("etag", etag);
    }
    res
}

async fn get_job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    with_job(&state, &id, |_| Ok(()))
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else if v.is_object() && t.get(k).is_some_and(Value::is_object) {
                merge(t.get_mut(k).expect("checked"), v);
            } else {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

async fn patch_job(State(state): State<Shared>, Path(id): Path<String>, body: String) -> Response {
    let Ok(patch) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "body is not JSON",
            None,
        );
    };
    with_job(&state, &id, |job| {
        merge(job, &patch);
        validate(job).map(|_| ())
    })
}

async fn delete_job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut st = lock(&state);
    match find_job(&st, &id) {
        Some(i) => {
            st.jobs.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "job_not_found", "no such job", None),
    }
}

async fn pause_job(State(state): State<Shared>, Path(id): Path<String>, body: String) -> Response {
    let reason = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|b| b["reason"].as_str().map(str::to_owned));
    with_job(&state, &id, |job| {
        job["paused"] = json!(true);
        job["paused_reason"] = json!(reason);
        Ok(())
    })
}

async fn resume_job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    with_job(&state, &id, |job| {
        job["paused"] = json!(false);
        job["paused_reason"] = Value::Null;
        Ok(())
    })
}

fn new_run(job: &Value, trigger: &str, scheduled_at: DateTime<Utc>) -> Value {
    json!({
        "id": Uuid::now_v7(), "job_id": job["id"], "job_version": job["version"], "trigger": trigger,
        "state": "queued", "attempt": 1, "scheduled_at": ts(scheduled_at), "emitted_at": ts(scheduled_at + Duration::milliseconds(3)),
        "started_at": null, "finished_at": null, "executor_id": null, "exit_code": null, "http_status": null,
        "error": null, "stdout": null, "stderr": null,
    })
}

async fn trigger_job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut st = lock(&state);
    let Some(i) = find_job(&st, &id) else {
        return error(StatusCode::NOT_FOUND, "job_not_found", "no such job", None);
    };
    let run = new_run(&st.jobs[i], "manual", Utc::now());
    st.runs.push(FakeRun {
        run: run.clone(),
        live_since: Some(Instant::now()),
    });
    (StatusCode::ACCEPTED, Json(run)).into_response()
}

async fn backfill_job(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let Some(i) = find_job(&st, &id) else {
        return error(StatusCode::NOT_FOUND, "job_not_found", "no such job", None);
    };
    let (Some(from), Some(to)) = (parse_ts(&body["from"]), parse_ts(&body["to"])) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_range",
            "from and to are RFC 3339 instants",
            Some("from"),
        );
    };
    let schedule = match validate(&st.jobs[i]) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fires = schedule.fires_between(
        from - Duration::milliseconds(1),
        to - Duration::milliseconds(1),
        1000,
    );
    let ticks: Vec<Value> = fires.fires.iter().map(|t| ts(*t)).collect();
    if body["dry_run"].as_bool() == Some(true) {
        return Json(json!({"dry_run": true, "count": ticks.len(), "ticks": ticks}))
            .into_response();
    }
    let job = st.jobs[i].clone();
    let runs: Vec<Value> = fires
        .fires
        .iter()
        .map(|t| new_run(&job, "backfill", *t))
        .collect();
    for r in &runs {
        st.runs.push(FakeRun {
            run: r.clone(),
            live_since: Some(Instant::now()),
        });
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"dry_run": false, "count": runs.len(), "runs": runs})),
    )
        .into_response()
}

async fn preview(Json(body): Json<Value>) -> Response {
    let count = body["count"].as_u64().unwrap_or(5).min(100) as usize;
    let job = json!({"schedule": body["schedule"], "timezone": body["timezone"].as_str().unwrap_or("UTC")});
    match validate(&job) {
        Ok(s) => {
            let tz = s.timezone();
            let fires: Vec<Value> = s
                .next_n(Utc::now(), count)
                .into_iter()
                .map(|t| json!({"at": ts(t), "local": t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false)}))
                .collect();
            Json(json!({"fires": fires})).into_response()
        }
        Err(r) => r,
    }
}

// ---------------------------------------------------------------- runs

/// A run as it stands now: live runs move on with time.
fn run_now(r: &FakeRun) -> Value {
    let mut run = r.run.clone();
    let Some(since) = r.live_since else {
        return run;
    };
    if run["state"] != "queued" && run["state"] != "running" {
        return run;
    }
    let elapsed = since.elapsed().as_millis() as i64;
    let created = parse_ts(&run["emitted_at"]).unwrap_or_else(Utc::now);
    if elapsed >= 800 {
        run["state"] = json!("running");
        run["started_at"] = ts(created + Duration::milliseconds(800));
        run["executor_id"] = json!("worker-1-3141");
        run["stdout"] = json!("preparing report for yesterday\n");
    }
    if elapsed >= 2500 {
        run["state"] = json!("succeeded");
        run["finished_at"] = ts(created + Duration::milliseconds(2500));
        run["exit_code"] = json!(0);
        run["stdout"] = json!(
            "preparing report for yesterday\nwrote /srv/reports/daily.csv (1,204 rows)\ndone\n"
        );
        run["stderr"] = json!("");
    }
    run
}

async fn list_runs(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw);
    let st = lock(&state);
    let job_filter = first(&q, "job")
        .map(|j| find_job(&st, j).map_or_else(|| json!(j), |i| st.jobs[i]["id"].clone()));
    let states: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "state")
        .map(|(_, v)| v.as_str())
        .collect();
    let since = first(&q, "since").and_then(|s| parse_ts(&json!(s)));
    let until = first(&q, "until").and_then(|s| parse_ts(&json!(s)));
    let mut list: Vec<Value> = st
        .runs
        .iter()
        .map(run_now)
        .filter(|r| job_filter.as_ref().is_none_or(|j| &r["job_id"] == j))
        .filter(|r| states.is_empty() || states.iter().any(|s| r["state"] == *s))
        .filter(|r| first(&q, "trigger").is_none_or(|t| r["trigger"] == t))
        .filter(|r| since.is_none_or(|s| parse_ts(&r["scheduled_at"]).is_some_and(|t| t >= s)))
        .filter(|r| until.is_none_or(|u| parse_ts(&r["scheduled_at"]).is_some_and(|t| t < u)))
        .collect();
    list.sort_by_key(|r| {
        std::cmp::Reverse(r["scheduled_at"].as_str().unwrap_or_default().to_owned())
    });
    match page(list, &q, 50) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn get_run(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let st = lock(&state);
    match st
        .runs
        .iter()
        .find(|r| r.run["id"].as_str() == Some(id.as_str()))
    {
        Some(r) => Json(run_now(r)).into_response(),
        None => error(StatusCode::NOT_FOUND, "run_not_found", "no such run", None),
    }
}

async fn cancel_run(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut st = lock(&state);
    let Some(r) = st
        .runs
        .iter_mut()
        .find(|r| r.run["id"].as_str() == Some(id.as_str()))
    else {
        return error(StatusCode::NOT_FOUND, "run_not_found", "no such run", None);
    };
    let mut now = run_now(r);
    now["state"] = json!("cancelled");
    now["finished_at"] = ts(Utc::now());
    now["error"] = json!("cancelled by request");
    r.run = now;
    r.live_since = None;
    StatusCode::ACCEPTED.into_response()
}

// ---------------------------------------------------------------- cluster

async fn executors() -> Response {
    let now = Utc::now();
    Json(json!({"items": [
        {"id": "worker-1-3141", "host": "worker-1", "queues": ["default", "billing"], "running": 2, "last_heartbeat": ts(now - Duration::milliseconds(700)), "version": "0.1.0"},
        {"id": "worker-2-2718", "host": "worker-2", "queues": ["default"], "running": 0, "last_heartbeat": ts(now - Duration::milliseconds(1900)), "version": "0.1.0"},
        {"id": "worker-3-1618", "host": "worker-3", "queues": ["reports"], "running": 1, "last_heartbeat": ts(now - Duration::seconds(24)), "version": "0.0.9"},
    ], "next_cursor": null}))
    .into_response()
}

async fn cluster() -> Response {
    let now = Utc::now();
    Json(json!({
        "leader": {"node_id": "scheduler-a-4242", "epoch": 7, "since": ts(now - Duration::minutes(183))},
        "queues": [
            {"name": "default", "length": 3, "pending": 1, "oldest_pending_age_ms": 1240},
            {"name": "billing", "length": 0, "pending": 0, "oldest_pending_age_ms": null},
            {"name": "reports", "length": 12, "pending": 4, "oldest_pending_age_ms": 95000},
        ],
        "results_backlog": 0,
        "dead_letters": 2,
    }))
    .into_response()
}

// ---------------------------------------------------------------- demo data

/// Jobs with an hour of history, so every page has something to show.
pub(crate) fn seed(state: &Shared) {
    let mut st = lock(state);
    let now = Utc::now();
    let created = now - Duration::days(12);
    let jobs = [
        json!({"name": "billing-sync", "schedule": "*/5 * * * *", "queue": "billing", "labels": {"team": "billing"},
               "target": {"type": "http", "method": "POST", "url": "https://billing.internal/sync", "headers": {}, "body": "", "expect_status": [200, 299]},
               "description": "Pushes new invoices to the ledger"}),
        json!({"name": "cache-warmup", "schedule": "0 */15 * * * *", "timezone": "Europe/Berlin", "labels": {"team": "web"},
               "target": {"type": "shell", "command": ["/usr/local/bin/warm", "--all"], "env": {}, "cwd": null}}),
        json!({"name": "db-backup", "schedule": "0 0 3 * * *", "timezone": "America/New_York", "labels": {"team": "infra", "tier": "critical"}, "timeout_s": 7200,
               "target": {"type": "shell", "command": ["pg_dumpall"], "env": {}, "cwd": null}}),
        json!({"name": "flaky-webhook", "schedule": "*/2 * * * *", "labels": {"team": "integrations"},
               "retry": {"max_attempts": 3, "backoff_initial_ms": 1000, "backoff_max_ms": 30000},
               "target": {"type": "http", "method": "POST", "url": "https://partner.example/hook", "headers": {}, "body": "{}", "expect_status": [200, 299]}}),
        json!({"name": "heartbeat-ping", "schedule": "@every 30s", "queue": "default",
               "target": {"type": "event", "stream": "heartbeats", "payload": {"from": "chime"}}}),
        json!({"name": "quarterly-close", "schedule": "0 6 1 1,4,7,10 *", "timezone": "Europe/London", "queue": "reports", "labels": {"team": "finance"},
               "target": {"type": "shell", "command": ["close-books", "--quarter"], "env": {}, "cwd": null}}),
        json!({"name": "weekly-digest", "schedule": "0 9 * * MON", "timezone": "Asia/Tokyo", "queue": "reports",
               "target": {"type": "shell", "command": ["digest", "--send"], "env": {}, "cwd": null}}),
    ];
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut histories: HashMap<String, Vec<Value>> = HashMap::new();
    for def in jobs {
        let Ok(mut job) = insert_job(&mut st, def, created) else {
            continue;
        };
        if job["name"] == "quarterly-close" {
            job["paused"] = json!(true);
            job["paused_reason"] =
                json!("waiting for finance sign-off on the new chart of accounts");
            if let Some(stored) = st.jobs.last_mut() {
                *stored = job.clone();
            }
        }
        let Ok(schedule) = validate(&job) else {
            continue;
        };
        let name = job["name"].as_str().unwrap_or_default().to_owned();
        let since = if name == "db-backup" || name == "weekly-digest" {
            now - Duration::days(9)
        } else {
            now - Duration::minutes(62)
        };
        let fires = schedule.fires_between(since, now, 200).fires;
        let runs = histories.entry(name.clone()).or_default();
        for at in fires {
            let mut run = new_run(&job, "schedule", at);
            let late = 2 + (rand() % 25) as i64;
            let dur = match name.as_str() {
                "db-backup" => 600_000 + (rand() % 300_000) as i64,
                "cache-warmup" => 20_000 + (rand() % 15_000) as i64,
                _ => 80 + (rand() % 900) as i64,
            };
            let start = at + Duration::milliseconds(late);
            run["emitted_at"] = ts(at + Duration::milliseconds(1));
            run["started_at"] = ts(start);
            run["finished_at"] = ts(start + Duration::milliseconds(dur));
            run["executor_id"] = json!(["worker-1-3141", "worker-2-2718"][(rand() % 2) as usize]);
            let roll = rand() % 100;
            if name == "flaky-webhook" && roll < 35 {
                run["state"] = json!(if roll < 5 { "timed_out" } else { "failed" });
                run["http_status"] = json!(503);
                run["error"] = json!("expected status 200-299, got 503 Service Unavailable");
                run["attempt"] = json!(3);
            } else if name == "db-backup" && roll < 15 {
                run["state"] = json!("failed");
                run["exit_code"] = json!(1);
                run["stderr"] = json!("pg_dumpall: error: connection to server failed\n");
                run["error"] = json!("exit status 1");
            } else {
                run["state"] = json!("succeeded");
                if job["target"]["type"] == "http" {
                    run["http_status"] = json!(200);
                } else {
                    run["exit_code"] = json!(0);
                    run["stdout"] = json!("ok\n");
                }
            }
            runs.push(run);
        }
    }
    for runs in histories.into_values() {
        for run in runs {
            st.runs.push(FakeRun {
                run,
                live_since: None,
            });
        }
    }
}
