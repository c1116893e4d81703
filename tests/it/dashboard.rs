//! The dashboard in a real headless Chromium: sign in, see a job listed, read
//! its definition, trigger it and watch the run succeed without a reload,
//! pause it, and see the engine's error for an invalid schedule in the edit
//! form. Screenshots of every page land in `target/dashboard-screenshots/`.
//!
//! The `/api/v1` endpoints come from `fake_api` until the real API is merged
//! into this branch; only [`start_dashboard`] knows that, so moving to a
//! `chime api` process changes that function and nothing else.

mod fake_api;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::harness::{Browser, eventually};
use fake_api::{READ_TOKEN, WRITE_TOKEN};

/// A dashboard and API being served for one test; stops on drop.
struct Dashboard {
    /// `http://127.0.0.1:{port}`, no trailing slash.
    base_url: String,
    fake: fake_api::Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves the dashboard router and the API on a random port.
async fn start_dashboard() -> Dashboard {
    let fake: fake_api::Shared = Arc::new(Mutex::new(fake_api::FakeState::default()));
    fake_api::seed(&fake);
    let app = chime_api::dashboard::router().merge(fake_api::router(fake.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a port for the dashboard");
    let base_url = format!("http://{}", listener.local_addr().expect("bound address"));
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("serving the dashboard");
    });
    Dashboard {
        base_url,
        fake,
        server,
    }
}

/// One JSON request to the API with a bearer token.
async fn api(method: Method, url: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .expect("a well-formed request");
    let res = client.request(req).await.expect("the API answers");
    let status = res.status();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("reading the reply")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("dashboard-screenshots")
}

/// Generous: CI runs this next to the rest of the suite on two cores.
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_end_to_end() {
    let dash = start_dashboard().await;
    let shots = screenshot_dir();
    let base = &dash.base_url;

    // A job made through the API, as a user would.
    let (status, job) = api(
        Method::POST,
        &format!("{base}/api/v1/jobs"),
        WRITE_TOKEN,
        Some(json!({
            "name": "nightly-report",
            "schedule": "0 30 2 * * *",
            "timezone": "Europe/Berlin",
            "target": {"type": "shell", "command": ["/usr/bin/env", "report", "--yesterday"], "env": {}, "cwd": null},
            "labels": {"team": "billing"},
            "description": "Builds yesterday's report",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let job_id = job["id"]
        .as_str()
        .expect("a created job has an id")
        .to_owned();

    let browser = Browser::start().await;

    // The API wants a token: the dashboard asks for one.
    browser.goto(&format!("{base}/#/jobs")).await;
    browser
        .wait_for_text("#signin-reason", "needs a token", WAIT)
        .await;
    browser.screenshot(&shots.join("signin.png")).await;
    let input = browser.wait_for("#token-input", WAIT).await;
    browser.type_text(&input, READ_TOKEN).await;
    browser.click_css("#signin-submit").await;

    // Jobs: the new job is listed, with its schedule in words.
    let table = browser
        .wait_for_text("#job-table", "nightly-report", WAIT)
        .await;
    assert!(table.contains("every day at 02:30"), "{table}");
    assert!(table.contains("Europe/Berlin"), "{table}");
    browser
        .wait_for("[data-testid=run-strip][aria-label^='Last']", WAIT)
        .await;
    browser.screenshot_full(&shots.join("jobs.png")).await;

    // Job page: the definition.
    browser
        .click_css(&format!("tr[data-job-id='{job_id}'] a.jobname"))
        .await;
    let definition = browser
        .wait_for_text("#job-definition", "0 30 2 * * *", WAIT)
        .await;
    for want in [
        "Europe/Berlin",
        "/usr/bin/env report --yesterday",
        "Builds yesterday's report",
        "team:billing",
    ] {
        assert!(
            definition.contains(want),
            "definition lacks {want:?}: {definition}"
        );
    }

    // A read-only token may look but not act.
    browser.click_css("#trigger-btn").await;
    browser
        .wait_for_text("#banner", "Read-only token", WAIT)
        .await;
    let trigger = browser.wait_for("#trigger-btn", WAIT).await;
    assert!(
        !browser.is_enabled(&trigger).await,
        "actions are disabled for a read-only token"
    );
    browser.screenshot(&shots.join("job-read-only.png")).await;
    assert_eq!(
        dash.fake.lock().expect("fake state").calls,
        ["POST /jobs"],
        "a read-only token changed nothing"
    );

    // Sign in again with a write token; the job page comes back.
    browser.click_css("#switch-token").await;
    let input = browser.wait_for("#token-input", WAIT).await;
    browser.type_text(&input, WRITE_TOKEN).await;
    browser.click_css("#signin-submit").await;
    browser
        .wait_for_text("#job-definition", "0 30 2 * * *", WAIT)
        .await;
    browser.screenshot_full(&shots.join("job.png")).await;

    // Trigger now: the run page follows the run to `succeeded`, no reload.
    browser
        .execute("window.__sameDocument = 'yes'; return true", vec![])
        .await;
    let trigger = browser.wait_for("#trigger-btn", WAIT).await;
    assert!(browser.is_enabled(&trigger).await, "a write token may act");
    browser.click(&trigger).await;
    let first_state = browser
        .wait_for_text("[data-testid=run-state]", "", WAIT)
        .await;
    assert!(
        ["queued", "running"].contains(&first_state.as_str()),
        "a fresh run starts queued or running, not {first_state:?}"
    );
    browser
        .wait_for_text("[data-testid=run-state]", "succeeded", WAIT)
        .await;
    let same = browser
        .execute("return window.__sameDocument || null", vec![])
        .await;
    assert_eq!(same, json!("yes"), "the run page updated without a reload");
    let url = browser.current_url().await;
    assert!(url.contains("#/runs/"), "{url}");
    browser
        .wait_for_text("#run-stdout", "wrote /srv/reports/daily.csv", WAIT)
        .await;
    let timeline = browser
        .wait_for_text("#run-timeline", "Finished", WAIT)
        .await;
    assert!(timeline.contains("after started"), "{timeline}");
    assert!(
        dash.fake
            .lock()
            .expect("fake state")
            .calls
            .contains(&format!("POST /jobs/{job_id}/trigger")),
        "the button called the trigger endpoint"
    );
    browser.screenshot_full(&shots.join("run.png")).await;

    // Pause with a reason.
    browser.goto(&format!("{base}/#/jobs/{job_id}")).await;
    browser.click_css("#pause-btn").await;
    let reason = browser.wait_for("#pause-reason", WAIT).await;
    browser.type_text(&reason, "upstream maintenance").await;
    browser.click_css("#pause-confirm").await;
    browser.wait_for_text("#job-status", "paused", WAIT).await;
    browser
        .wait_for_text("#paused-reason", "upstream maintenance", WAIT)
        .await;
    browser.wait_for("#resume-btn", WAIT).await;
    browser.screenshot(&shots.join("job-paused.png")).await;
    let (_, stored) = api(
        Method::GET,
        &format!("{base}/api/v1/jobs/{job_id}"),
        READ_TOKEN,
        None,
    )
    .await;
    assert_eq!(stored["paused"], json!(true), "{stored}");
    assert_eq!(stored["paused_reason"], json!("upstream maintenance"));

    // The edit form previews fires as you type and shows the engine's error.
    browser.click_css("#edit-btn").await;
    browser.wait_for_text("#schedule-preview", "", WAIT).await;
    let schedule = browser.wait_for("#edit-schedule", WAIT).await;
    browser.clear(&schedule).await;
    browser.type_text(&schedule, "0 0 32 * *").await;
    let message = browser
        .wait_for_text(
            "[data-testid=schedule-error]",
            "day-of-month: 32 is out of range 1-31",
            WAIT,
        )
        .await;
    assert_eq!(message, "day-of-month: 32 is out of range 1-31");
    let invalid = browser
        .execute(
            "return document.getElementById('edit-schedule').getAttribute('aria-invalid')",
            vec![],
        )
        .await;
    assert_eq!(invalid, json!("true"));
    browser
        .execute(
            "document.getElementById('edit-card').scrollIntoView(); return true",
            vec![],
        )
        .await;
    browser.screenshot(&shots.join("edit-invalid.png")).await;

    // A valid schedule clears the error and lists the next 10 fires.
    browser.clear(&schedule).await;
    browser.type_text(&schedule, "0 9 * * 1-5").await;
    let n_fires = eventually(WAIT, "ten previewed fires", || async {
        let n = browser
            .execute(
                "return document.querySelectorAll('#schedule-preview li time').length",
                vec![],
            )
            .await;
        (n == json!(10)).then_some(n)
    })
    .await;
    assert_eq!(n_fires, json!(10));
    browser
        .wait_for_text("#schedule-words", "at 09:00 on weekdays", WAIT)
        .await;
    let error_hidden = browser
        .execute(
            "return document.getElementById('schedule-error').hidden",
            vec![],
        )
        .await;
    assert_eq!(error_hidden, json!(true));
    browser.screenshot(&shots.join("edit-valid.png")).await;

    // A job with a history: its runs table and duration chart fill in.
    browser.goto(&format!("{base}/#/jobs/flaky-webhook")).await;
    browser.wait_for_text("#run-table", "failed", WAIT).await;
    browser.wait_for("svg#job-chart", WAIT).await;
    browser
        .screenshot_full(&shots.join("job-history.png"))
        .await;

    // Backfill, dry run: the ticks of the range are listed, nothing queued.
    browser.click_css("#backfill-btn").await;
    browser.wait_for("#backfill-from", WAIT).await;
    browser.click_css("#backfill-submit").await;
    let listed = browser
        .wait_for_text("#backfill-result", "ticks in that range (dry run", WAIT)
        .await;
    // The form's default range is the last 24 hours: 720 ticks of `*/2 * * * *`.
    assert!(listed.starts_with("720 ticks"), "{listed}");
    let (_, backfilled) = api(
        Method::GET,
        &format!("{base}/api/v1/runs?job=flaky-webhook&trigger=backfill"),
        READ_TOKEN,
        None,
    )
    .await;
    assert_eq!(backfilled["items"], json!([]), "a dry run queues nothing");

    // Delete, after a confirmation.
    browser.goto(&format!("{base}/#/jobs/cache-warmup")).await;
    browser.click_css("#delete-btn").await;
    browser.click_css("#delete-confirm").await;
    eventually(WAIT, "the jobs list after a delete", || async {
        browser
            .current_url()
            .await
            .ends_with("#/jobs")
            .then_some(())
    })
    .await;
    let table = browser
        .wait_for_text("#job-table", "nightly-report", WAIT)
        .await;
    assert!(!table.contains("cache-warmup"), "{table}");

    // Overview and executors render what the API reports.
    browser.goto(&format!("{base}/#/")).await;
    browser
        .wait_for_text("#leader-card", "scheduler-a-4242", WAIT)
        .await;
    browser.wait_for("#runs-chart", WAIT).await;
    browser
        .wait_for_text("#recent-failures", "flaky-webhook", WAIT)
        .await;
    browser
        .wait_for_text("#hour-counts", "succeeded", WAIT)
        .await;
    browser.screenshot_full(&shots.join("overview.png")).await;

    browser.goto(&format!("{base}/#/executors")).await;
    let executors = browser
        .wait_for_text("#executor-table", "worker-1", WAIT)
        .await;
    assert!(executors.contains("worker-3"), "{executors}");
    browser.screenshot(&shots.join("executors.png")).await;

    // A phone-sized window still shows the jobs.
    browser.set_window_size(390, 844).await;
    browser.goto(&format!("{base}/#/jobs")).await;
    browser
        .wait_for_text("#job-table", "nightly-report", WAIT)
        .await;
    browser.screenshot(&shots.join("jobs-phone.png")).await;
}
