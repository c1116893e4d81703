//! Listing 1,200 jobs: filters by label, queue, paused and name prefix,
//! cursor pagination, and the latest-run summary.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::shell_job;
use crate::harness::{ApiServer, Client};

const N_JOBS: usize = 1200;

fn spec(i: usize) -> Value {
    let mut spec = shell_job(&format!("job-{i:04}"));
    let team = ["a", "b", "c"][i % 3];
    spec["labels"] = json!({
        "team": team,
        "tier": if i % 2 == 0 { "gold" } else { "silver" },
    });
    spec["queue"] = json!(if i % 4 == 0 { "batch" } else { "default" });
    spec["paused"] = json!(i % 10 == 0);
    spec
}

/// Every name across all pages of `query` with page size `limit`, checking
/// that pages are in order and never repeat.
async fn all_names(api: &Client, query: &[(&str, &str)], limit: usize) -> Vec<String> {
    let limit_text = limit.to_string();
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params: Vec<(&str, &str)> = query.to_vec();
        params.push(("limit", &limit_text));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let page = api.list_jobs(&params).await.expect(200);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit);
        names.extend(
            items
                .iter()
                .map(|i| i["name"].as_str().expect("name").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit, "only a full page has a next page");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }
    let sorted: Vec<String> = {
        let mut sorted = names.clone();
        sorted.sort();
        sorted
    };
    assert_eq!(names, sorted, "pages come in name order");
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        names.len(),
        "no name twice"
    );
    names
}

fn expected(filter: impl Fn(usize) -> bool) -> Vec<String> {
    (0..N_JOBS)
        .filter(|i| filter(*i))
        .map(|i| format!("job-{i:04}"))
        .collect()
}

#[tokio::test]
async fn filters_and_pages_across_1200_jobs() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);

    // Created by 8 concurrent writers.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let api = api.clone();
        writers.spawn(async move {
            for i in (w..N_JOBS).step_by(8) {
                api.create_job(&spec(i)).await.expect(201);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer finished");
    }

    // Everything, in pages of 500: 500 + 500 + 200.
    assert_eq!(all_names(&api, &[], 500).await, expected(|_| true));
    // The default page is 50 and every item carries its next fire.
    let page = api.list_jobs(&[]).await.expect(200);
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["name"], "job-0000");
    assert!(page.body["next_cursor"].is_string());
    for item in items {
        let paused = item["paused"].as_bool().expect("paused");
        let n_fires = item["next_fires"].as_array().expect("next_fires").len();
        assert_eq!(n_fires, if paused { 0 } else { 5 }, "{item}");
        assert_eq!(item["latest_run"], json!(null));
    }

    // Each filter, and all of them together, with odd page sizes.
    // (query, the names it must list)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<String>);
    let cases: Vec<Case<'_>> = vec![
        (vec![("label", "team:a")], expected(|i| i % 3 == 0)),
        (
            vec![("label", "team:a"), ("label", "tier:gold")],
            expected(|i| i % 6 == 0),
        ),
        (vec![("label", "team:a"), ("label", "team:b")], vec![]),
        (vec![("label", "team:nobody")], vec![]),
        (vec![("queue", "batch")], expected(|i| i % 4 == 0)),
        (vec![("paused", "true")], expected(|i| i % 10 == 0)),
        (vec![("paused", "false")], expected(|i| i % 10 != 0)),
        (
            vec![("q", "job-11")],
            expected(|i| (1100..1200).contains(&i)),
        ),
        (vec![("q", "job-00")], expected(|i| i < 100)),
        (
            vec![
                ("q", "job-0"),
                ("label", "team:b"),
                ("paused", "false"),
                ("queue", "default"),
            ],
            expected(|i| i < 1000 && i % 3 == 1 && i % 10 != 0 && i % 4 != 0),
        ),
    ];
    for (query, want) in cases {
        for limit in [7, 500] {
            let got = all_names(&api, &query, limit).await;
            assert_eq!(got, want, "query {query:?}, limit {limit}");
        }
    }

    // A deleted job leaves the list.
    api.delete_job("job-0003", None).await.expect(204);
    let got = all_names(&api, &[("q", "job-000")], 500).await;
    assert_eq!(got, expected(|i| i < 10 && i != 3));
}

#[tokio::test]
async fn items_show_their_newest_run() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let created = api.create_job(&shell_job("with-runs")).await.expect(201);
    api.create_job(&shell_job("without-runs")).await.expect(201);
    let job_id = uuid::Uuid::parse_str(created.body["id"].as_str().expect("id")).expect("uuid");

    // Runs come from the recorder, which has no API of its own to drive
    // here, so they are written straight into the table it fills.
    for (minute, state, finished) in [
        (1, "succeeded", true),
        (3, "running", false),
        (2, "failed", true),
    ] {
        sqlx::query(
            "INSERT INTO runs (id, job_id, job_version, trigger, state, attempt, scheduled_at, finished_at) \
             VALUES ($1, $2, 1, 'schedule', $3, 1, \
                     '2027-01-01T00:00:00Z'::timestamptz + make_interval(mins => $4), \
                     CASE WHEN $5 THEN '2027-01-01T01:00:00Z'::timestamptz END)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(job_id)
        .bind(state)
        .bind(minute)
        .bind(finished)
        .execute(&server.db.pool)
        .await
        .expect("inserting a run");
    }
    let page = api.list_jobs(&[]).await.expect(200);
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let with = &items[0];
    assert_eq!(with["name"], "with-runs");
    assert_eq!(with["latest_run"]["state"], "running");
    assert_eq!(
        with["latest_run"]["scheduled_at"],
        "2027-01-01T00:03:00.000Z"
    );
    assert_eq!(with["latest_run"]["finished_at"], json!(null));
    assert_eq!(with["latest_run"]["attempt"], 1);
    assert_eq!(items[1]["latest_run"], json!(null));
}
