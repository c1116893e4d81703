//! Racing writers: one If-Match wins and the rest get 412; racing upserts of
//! one new name make one job at version 1.

use serde_json::json;

use super::shell_job;
use crate::harness::ApiServer;

#[tokio::test]
async fn racing_writers_with_one_etag_one_wins() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let created = api.create_job(&shell_job("raced")).await.expect(201);
    let id = created.body["id"].as_str().expect("id").to_owned();

    let mut writers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let api = api.clone();
        let id = id.clone();
        writers.spawn(async move {
            let mut spec = shell_job("raced");
            spec["jitter_s"] = json!(n);
            api.replace_job(&id, &spec, Some("\"1\"")).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = writers.join_next().await {
        statuses.push(status.expect("writer"));
    }
    statuses.sort();
    assert_eq!(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
    assert_eq!(api.get_job(&id).await.body["version"], 2);
}

#[tokio::test]
async fn racing_upserts_of_a_new_name_make_one_job() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let api = api.clone();
        writers.spawn(async move {
            let reply = api.upsert_job("contested", &shell_job("contested")).await;
            (
                reply.status,
                reply.body["id"].clone(),
                reply.body["version"].clone(),
            )
        });
    }
    let mut replies = Vec::new();
    while let Some(reply) = writers.join_next().await {
        replies.push(reply.expect("writer"));
    }
    let n_created = replies.iter().filter(|r| r.0 == 201).count();
    assert_eq!(n_created, 1, "{replies:?}");
    assert!(
        replies.iter().all(|r| r.0 == 201 || r.0 == 200),
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.1 == replies[0].1 && r.2 == json!(1)),
        "{replies:?}"
    );
    assert_eq!(server.changes().await.len(), 1);
}
