//! Every committed change puts exactly one `{job_id, version, op}` entry on
//! `{prefix}:changes`; refused requests and no-op writes put none.

use serde_json::json;

use super::shell_job;
use crate::harness::ApiServer;

#[tokio::test]
async fn one_entry_per_committed_change_and_none_for_refusals() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);

    let created = api.create_job(&shell_job("announced")).await.expect(201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    api.replace_job(&id, &shell_job("announced"), None)
        .await
        .expect(200);
    api.patch_job(&id, &json!({"jitter_s": 5}), None)
        .await
        .expect(200);
    api.pause_job(&id, Some("why not"), None).await.expect(200);
    api.resume_job(&id, None).await.expect(200);

    // Refused or changing nothing: no entry.
    api.create_job(&shell_job("announced")).await.expect(409);
    api.patch_job(&id, &json!({"timeout_s": 0}), None)
        .await
        .expect(400);
    api.patch_job(&id, &json!({"jitter_s": 5}), None)
        .await
        .expect(200);
    api.replace_job(&id, &shell_job("announced"), Some("\"1\""))
        .await
        .expect(412);
    api.create_job(&json!({"name": "broken"})).await.expect(400);

    api.delete_job(&id, None).await.expect(204);
    let upserted = api
        .upsert_job("other", &shell_job("other"))
        .await
        .expect(201);
    api.upsert_job("other", &shell_job("other"))
        .await
        .expect(200);
    let other = upserted.body["id"].as_str().expect("id").to_owned();

    let expected: Vec<(String, i64, String)> = [
        (&id, 1, "created"),
        (&id, 2, "updated"),
        (&id, 3, "updated"),
        (&id, 4, "paused"),
        (&id, 5, "resumed"),
        (&id, 6, "deleted"),
        (&other, 1, "created"),
    ]
    .into_iter()
    .map(|(id, version, op)| (id.clone(), version, op.to_owned()))
    .collect();
    assert_eq!(server.changes().await, expected);
}
