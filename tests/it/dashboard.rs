//! The dashboard in a real headless Chromium against a real `chime api`,
//! `chime executor` and `chime scheduler` (fresh database, own Redis
//! prefix): sign in, see a job
//! listed, read its definition, trigger it and watch the run succeed without
//! a reload, pause it, and see the engine's error for an invalid schedule in
//! the edit form. Screenshots of every page land in
//! `target/dashboard-screenshots/`.
//!
//! Manual runs and backfills need no scheduler; it runs so the overview has
//! a leader to show.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::harness::{ApiServer, Browser, Chime, Client, eventually};

/// A token that may read.
const READ_TOKEN: &str = "reader-0123456789";
/// A token that may read and change.
const WRITE_TOKEN: &str = "writer-0123456789";

/// A dashboard and API being served for one test, with an executor and a
/// scheduler; the processes stop on drop.
struct Dashboard {
    /// `http://127.0.0.1:{port}`, no trailing slash.
    base_url: String,
    server: ApiServer,
    executor: Chime,
    scheduler: Chime,
    /// A client with the write token.
    api: Client,
}

/// The scheduler's node id, shown as the leader.
const SCHEDULER: &str = "scheduler-dash-1";

/// Starts `chime api` with a read and a write token, one executor and one
/// scheduler.
async fn start_dashboard() -> Dashboard {
    let server = ApiServer::start(&[
        &format!("read:{READ_TOKEN}"),
        &format!("write:{WRITE_TOKEN}"),
    ])
    .await;
    let executor = server.executor(&[]);
    let scheduler = server.scheduler(SCHEDULER);
    let api = server.client(Some(WRITE_TOKEN));
    Dashboard {
        base_url: server.base.clone(),
        server,
        executor,
        scheduler,
        api,
    }
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
    let api = &dash.api;

    // Jobs made through the API, as a user would: the one under test, one
    // that fails (for history and the overview's failures), one to delete.
    let job = api
        .create_job(&json!({
            "name": "nightly-report",
            "schedule": "0 30 2 * * *",
            "timezone": "Europe/Berlin",
            "target": {"type": "shell", "command": ["sh", "-c", "echo preparing report for yesterday; sleep 2; echo wrote /srv/reports/daily.csv"], "env": {}, "cwd": null},
            "retry": {"max_attempts": 1},
            "labels": {"team": "billing"},
            "description": "Builds yesterday's report",
        }))
        .await
        .expect(201);
    let job_id = job.body["id"]
        .as_str()
        .expect("a created job has an id")
        .to_owned();
    let flaky = api
        .create_job(&json!({
        "name": "flaky-webhook",
        "schedule": "*/2 * * * *",
        "paused": true,
        "target": {"type": "shell", "command": ["sh", "-c", "echo 'upstream said 502' >&2; exit 3"]},
        "retry": {"max_attempts": 1},
    }))
    .await
    .expect(201);
    let flaky_id = flaky.body["id"].as_str().expect("an id").to_owned();
    api.create_job(&json!({
        "name": "cache-warmup",
        "schedule": "@hourly",
        "target": {"type": "shell", "command": ["true"]},
    }))
    .await
    .expect(201);
    for _ in 0..2 {
        let run = api.trigger("flaky-webhook", None).await.expect(202);
        let id = run.body["id"].as_str().expect("a run id").to_owned();
        eventually(WAIT, "the flaky run to fail", || {
            let id = id.clone();
            async move { (api.get_run(&id).await.body["state"] == "failed").then_some(()) }
        })
        .await;
    }

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
    // The failing job's latest run shows in its row.
    browser
        .wait_for_text(&format!("tr[data-job-id='{flaky_id}']"), "failed", WAIT)
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
        "sh -c echo preparing report",
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
    let manual = api
        .list_runs(&[("job", "nightly-report")])
        .await
        .expect(200);
    assert_eq!(
        manual.body["items"],
        json!([]),
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
    let run_id = url
        .rsplit_once("#/runs/")
        .map(|(_, id)| id.to_owned())
        .unwrap_or_else(|| panic!("not on a run page: {url}"));
    browser
        .wait_for_text("#run-stdout", "wrote /srv/reports/daily.csv", WAIT)
        .await;
    let timeline = browser
        .wait_for_text("#run-timeline", "Finished", WAIT)
        .await;
    assert!(timeline.contains("after started"), "{timeline}");
    let executor_id = browser.wait_for_text("#run-executor", "", WAIT).await;
    let run = api.get_run(&run_id).await.expect(200);
    assert_eq!(
        (run.body["trigger"].as_str(), run.body["job_id"].as_str()),
        (Some("manual"), Some(job_id.as_str())),
        "the button called the trigger endpoint: {}",
        run.body
    );
    assert_eq!(run.body["executor_id"].as_str(), Some(executor_id.as_str()));
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
    let stored = api.get_job(&job_id).await.expect(200);
    assert_eq!(stored.body["paused"], json!(true), "{}", stored.body);
    assert_eq!(stored.body["paused_reason"], json!("upstream maintenance"));

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
    let backfilled = api
        .list_runs(&[("job", "flaky-webhook"), ("trigger", "backfill")])
        .await
        .expect(200);
    assert_eq!(
        backfilled.body["items"],
        json!([]),
        "a dry run queues nothing"
    );

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
    api.get_job("cache-warmup").await.expect(404);

    // Overview and executors render what the API reports.
    browser.goto(&format!("{base}/#/")).await;
    browser.wait_for_text("#leader-card", SCHEDULER, WAIT).await;
    browser.wait_for_text("#leader-epoch", "1", WAIT).await;
    browser.wait_for("#runs-chart", WAIT).await;
    browser
        .wait_for_text("#recent-failures", "flaky-webhook", WAIT)
        .await;
    browser
        .wait_for_text("#hour-counts", "succeeded", WAIT)
        .await;
    browser.wait_for_text("#executors-up", "1", WAIT).await;
    // Every run was taken: nothing waits in the default queue.
    let queue = browser
        .wait_for_text("tr[data-queue='default']", "default", WAIT)
        .await;
    assert!(
        queue.starts_with("default\t0\t0") || queue.starts_with("default 0 0"),
        "{queue:?}"
    );
    browser.screenshot_full(&shots.join("overview.png")).await;

    browser.goto(&format!("{base}/#/executors")).await;
    let executors = browser
        .wait_for_text("#executor-table", &executor_id, WAIT)
        .await;
    assert!(executors.contains("default"), "{executors}");
    browser.screenshot(&shots.join("executors.png")).await;

    // A phone-sized window still shows the jobs.
    browser.set_window_size(390, 844).await;
    browser.goto(&format!("{base}/#/jobs")).await;
    browser
        .wait_for_text("#job-table", "nightly-report", WAIT)
        .await;
    browser.screenshot(&shots.join("jobs-phone.png")).await;
    drop(dash.scheduler);
    drop(dash.executor);
    drop(dash.server);
}
