//! `GET /runs` and `GET /jobs/{id}/runs` over a few hundred runs recorded
//! straight into the store (the recorder's own call, for speed): filters by
//! job (id and name), state (repeatable), trigger and time range, and
//! cursor pagination newest first, ties included.

use std::collections::BTreeSet;

use chime_core::wire::{RunResult, WIRE_VERSION};
use chime_core::{RunState, Trigger};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{create, shell_job};
use crate::harness::{ApiServer, Client};

struct Seeded {
    job: Uuid,
    state: RunState,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
}

fn result(run_id: Uuid, seeded: &Seeded) -> RunResult {
    let ms = seeded.scheduled_at.timestamp_millis();
    let terminal = seeded.state.is_terminal();
    RunResult {
        v: WIRE_VERSION,
        run_id,
        job_id: seeded.job,
        job_version: 1,
        attempt: 1,
        state: seeded.state,
        trigger: seeded.trigger,
        scheduled_at: ms,
        emitted_at: Some(ms + 1),
        started_at: (seeded.state != RunState::Queued).then_some(ms + 5),
        finished_at: terminal.then_some(ms + 250),
        executor_id: Some("exec-1".to_owned()),
        exit_code: terminal.then_some(0),
        http_status: None,
        error: None,
        stdout: terminal.then(|| "out\n".to_owned()),
        stderr: None,
    }
}

/// Every run across all pages of `query` (page size `limit`), checking
/// that pages are newest first and never repeat.
async fn all_runs(
    api: &Client,
    key: Option<&str>,
    query: &[(&str, &str)],
    limit: usize,
) -> Vec<Value> {
    let limit_text = limit.to_string();
    let mut runs: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params: Vec<(&str, &str)> = query.to_vec();
        params.push(("limit", &limit_text));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let page = match key {
            Some(key) => api.job_runs(key, &params).await,
            None => api.list_runs(&params).await,
        }
        .expect(200);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit);
        runs.extend(items.iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit, "only a full page has a next page");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }
    let keys: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["scheduled_at"].as_str().expect("scheduled_at").to_owned(),
                r["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "newest first by (scheduled_at, id), no repeats"
    );
    for run in &runs {
        assert!(run.get("stdout").is_none(), "lists carry no output: {run}");
    }
    runs
}

fn ids(runs: &[Value]) -> BTreeSet<String> {
    runs.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn filters_and_pagination_over_hundreds_of_runs() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let alpha: Uuid = create(&api, &shell_job("alpha", "true"))
        .await
        .parse()
        .unwrap();
    let beta: Uuid = create(&api, &shell_job("beta", "true"))
        .await
        .parse()
        .unwrap();

    let states = [
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Succeeded,
        RunState::Cancelled,
        RunState::Running,
    ];
    let mut seeded: Vec<(Uuid, Seeded)> = (0..300)
        .map(|i: i64| {
            let trigger = if i % 7 == 0 {
                Trigger::Backfill
            } else if i % 11 == 0 {
                Trigger::Manual
            } else {
                Trigger::Schedule
            };
            (
                Uuid::now_v7(),
                Seeded {
                    job: if i % 3 == 0 { beta } else { alpha },
                    state: states[(i % 6) as usize],
                    trigger,
                    scheduled_at: t0() + Duration::seconds(i),
                },
            )
        })
        .collect();
    // Twenty runs on one instant: the cursor must break ties by id.
    seeded.extend((0..20).map(|_| {
        (
            Uuid::now_v7(),
            Seeded {
                job: alpha,
                state: RunState::Succeeded,
                trigger: Trigger::Manual,
                scheduled_at: t0() + Duration::seconds(150),
            },
        )
    }));
    let results: Vec<RunResult> = seeded.iter().map(|(id, s)| result(*id, s)).collect();
    chime_store::runs::record(&server.db.pool, &results)
        .await
        .expect("recording runs");
    let want = |pred: &dyn Fn(&Seeded) -> bool| -> BTreeSet<String> {
        seeded
            .iter()
            .filter(|(_, s)| pred(s))
            .map(|(id, _)| id.to_string())
            .collect()
    };

    // Everything, in pages of 37 and in one page of 500.
    let everything = all_runs(&api, None, &[], 37).await;
    assert_eq!(ids(&everything), want(&|_| true));
    let one_page = api.list_runs(&[("limit", "500")]).await.expect(200);
    assert_eq!(one_page.body["items"].as_array().map(Vec::len), Some(320));
    assert!(one_page.body["next_cursor"].is_null());
    let default_page = api.list_runs(&[]).await.expect(200);
    assert_eq!(
        default_page.body["items"].as_array().map(Vec::len),
        Some(50)
    );
    assert_eq!(
        default_page.body["items"][0]["scheduled_at"],
        "2027-01-01T00:04:59.000Z"
    );

    // By job: id and name in the query, and the job's own path, agree.
    let alpha_runs = want(&|s| s.job == alpha);
    assert_eq!(alpha_runs.len(), 220);
    let by_id = all_runs(&api, None, &[("job", &alpha.to_string())], 50).await;
    assert_eq!(ids(&by_id), alpha_runs);
    let by_name = all_runs(&api, None, &[("job", "alpha")], 50).await;
    assert_eq!(by_name, by_id);
    assert_eq!(all_runs(&api, Some("alpha"), &[], 50).await, by_id);
    assert_eq!(
        all_runs(&api, Some(&alpha.to_string()), &[], 50).await,
        by_id
    );
    let empty = api.list_runs(&[("job", "nobody")]).await.expect(200);
    assert_eq!(empty.body["items"], json!([]));
    assert_eq!(api.job_runs("nobody", &[]).await.status, 404);

    // State, repeatable.
    let failed = all_runs(
        &api,
        None,
        &[("state", "failed"), ("state", "timed_out")],
        40,
    )
    .await;
    assert_eq!(
        ids(&failed),
        want(&|s| matches!(s.state, RunState::Failed | RunState::TimedOut))
    );
    let beta_running = all_runs(&api, Some("beta"), &[("state", "running")], 10).await;
    assert_eq!(
        ids(&beta_running),
        want(&|s| s.job == beta && s.state == RunState::Running)
    );

    // Trigger.
    for (name, trigger) in [
        ("backfill", Trigger::Backfill),
        ("manual", Trigger::Manual),
        ("schedule", Trigger::Schedule),
    ] {
        let runs = all_runs(&api, None, &[("trigger", name)], 100).await;
        assert_eq!(ids(&runs), want(&|s| s.trigger == trigger), "{name}");
    }

    // since is inclusive, until exclusive, on scheduled_at; offsets count.
    let since = "2027-01-01T00:01:40Z"; // t0 + 100 s
    let until = "2027-01-01T02:03:20+02:00"; // t0 + 200 s
    let window = all_runs(&api, None, &[("since", since), ("until", until)], 25).await;
    assert_eq!(
        ids(&window),
        want(&|s| s.scheduled_at >= t0() + Duration::seconds(100)
            && s.scheduled_at < t0() + Duration::seconds(200))
    );
    assert_eq!(
        window.last().expect("runs")["scheduled_at"],
        "2027-01-01T00:01:40.000Z"
    );
    assert_eq!(window[0]["scheduled_at"], "2027-01-01T00:03:19.000Z");

    // Everything at once: job by name, two states, a trigger and a range.
    let combined = all_runs(
        &api,
        None,
        &[
            ("job", "alpha"),
            ("state", "succeeded"),
            ("state", "cancelled"),
            ("trigger", "schedule"),
            ("since", since),
        ],
        7,
    )
    .await;
    assert_eq!(
        ids(&combined),
        want(&|s| s.job == alpha
            && matches!(s.state, RunState::Succeeded | RunState::Cancelled)
            && s.trigger == Trigger::Schedule
            && s.scheduled_at >= t0() + Duration::seconds(100))
    );

    // List items carry what the detail has, minus output and attempts.
    let (id, _) = &seeded[4];
    let detail = api.get_run(&id.to_string()).await.expect(200).body;
    let item = everything
        .iter()
        .find(|r| r["id"] == id.to_string())
        .expect("listed");
    for field in [
        "job_id",
        "job_version",
        "trigger",
        "state",
        "attempt",
        "scheduled_at",
        "started_at",
        "finished_at",
        "lateness_ms",
        "duration_ms",
        "executor_id",
        "exit_code",
    ] {
        assert_eq!(item[field], detail[field], "{field}");
    }
    assert_eq!(detail["lateness_ms"], 5);
    assert_eq!(detail["duration_ms"], 245);
    assert_eq!(detail["stdout"], "out\n");

    // A deleted job's history stays readable, by id and by name.
    api.delete_job("beta", None).await.expect(204);
    let beta_runs = want(&|s| s.job == beta);
    assert_eq!(
        ids(&all_runs(&api, Some("beta"), &[], 500).await),
        beta_runs
    );
    assert_eq!(
        ids(&all_runs(&api, None, &[("job", "beta")], 500).await),
        beta_runs
    );
    assert_eq!(
        ids(&all_runs(&api, Some(&beta.to_string()), &[], 500).await),
        beta_runs
    );
}
