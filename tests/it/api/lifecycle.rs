//! A job's whole life through the API: create, read by id and by name,
//! replace, patch, pause, resume, delete, and reuse of the name.

use serde_json::json;

use super::shell_job;
use crate::harness::{ApiServer, Body};

#[tokio::test]
async fn a_job_lives_and_dies_through_the_api() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);

    // Create.
    let mut spec = shell_job("nightly-report");
    spec["schedule"] = json!("0 30 2 * * *");
    spec["timezone"] = json!("Europe/Berlin");
    spec["labels"] = json!({"team": "billing"});
    spec["description"] = json!("Builds yesterday's report");
    let created = api.create_job(&spec).await.expect(201);
    let job = &created.body;
    let id = job["id"].as_str().expect("id").to_owned();
    let uuid = uuid::Uuid::parse_str(&id).expect("id is a UUID");
    assert_eq!(uuid.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(job["version"], 1);
    assert_eq!(created.etag(), Some("\"1\""));
    assert_eq!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );
    assert_eq!(job["created_at"], job["updated_at"]);
    assert!(
        job["created_at"]
            .as_str()
            .expect("created_at")
            .ends_with('Z')
    );
    assert_eq!(job["paused_reason"], json!(null));
    // Defaults are filled in and shown.
    assert_eq!(job["queue"], "default");
    assert_eq!(job["overlap"], "forbid");
    assert_eq!(job["timeout_s"], 3600);
    let fires = job["next_fires"].as_array().expect("next_fires");
    assert_eq!(fires.len(), 5);
    // 02:30 in Berlin is 00:30 or 01:30 UTC, depending on the season.
    for fire in fires {
        let fire = fire.as_str().expect("a fire is a string");
        assert!(
            fire.ends_with("T00:30:00.000Z") || fire.ends_with("T01:30:00.000Z"),
            "{fire}"
        );
    }

    // Read by id and by name: the same job.
    let by_id = api.get_job(&id).await.expect(200);
    let by_name = api.get_job("nightly-report").await.expect(200);
    assert_eq!(by_id.etag(), Some("\"1\""));
    assert_eq!(by_id.body, by_name.body);
    assert_eq!(by_id.body, created.body);

    // Replace in full: fields left out go back to their defaults.
    let mut replacement = shell_job("nightly-report");
    replacement["schedule"] = json!("@hourly");
    let replaced = api.replace_job(&id, &replacement, None).await.expect(200);
    assert_eq!(replaced.body["version"], 2);
    assert_eq!(replaced.etag(), Some("\"2\""));
    assert_eq!(replaced.body["schedule"], "@hourly");
    assert_eq!(replaced.body["labels"], json!({}));
    assert_eq!(replaced.body["description"], json!(null));
    assert_eq!(replaced.body["created_at"], job["created_at"]);
    assert_ne!(replaced.body["updated_at"], job["updated_at"]);

    // Merge patch, both content types; null resets a member.
    let patched = api
        .patch_job(
            &id,
            &json!({"labels": {"team": "ops"}, "retry": {"max_attempts": 3}}),
            None,
        )
        .await
        .expect(200);
    assert_eq!(patched.body["version"], 3);
    assert_eq!(patched.body["labels"], json!({"team": "ops"}));
    assert_eq!(patched.body["retry"]["max_attempts"], 3);
    assert_eq!(patched.body["retry"]["backoff_max_ms"], 60000);
    let patched = api
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/jobs/{id}"),
            &[],
            Body::Raw(
                r#"{"labels": {"team": null, "tier": "gold"}}"#,
                Some("application/json"),
            ),
        )
        .await
        .expect("patch")
        .expect(200);
    assert_eq!(patched.body["version"], 4);
    assert_eq!(patched.body["labels"], json!({"tier": "gold"}));
    // A patch that changes nothing makes no version.
    let same = api
        .patch_job(&id, &json!({"labels": {"tier": "gold"}}), None)
        .await
        .expect(200);
    assert_eq!(same.body["version"], 4);

    // Pause with a reason, then resume: each is a version.
    let paused = api
        .pause_job(&id, Some("maintenance window"), None)
        .await
        .expect(200);
    assert_eq!(paused.body["version"], 5);
    assert_eq!(paused.body["paused"], true);
    assert_eq!(paused.body["paused_reason"], "maintenance window");
    assert_eq!(paused.body["next_fires"], json!([]));
    let resumed = api.resume_job("nightly-report", None).await.expect(200);
    assert_eq!(resumed.body["version"], 6);
    assert_eq!(resumed.body["paused"], false);
    assert_eq!(resumed.body["paused_reason"], json!(null));
    assert_eq!(resumed.body["next_fires"].as_array().map(Vec::len), Some(5));
    // Pause without a body.
    let paused = api.pause_job(&id, None, None).await.expect(200);
    assert_eq!(paused.body["paused_reason"], json!(null));
    assert_eq!(paused.body["version"], 7);

    // A second live job cannot take the name.
    let duplicate = api
        .create_job(&shell_job("nightly-report"))
        .await
        .expect(409);
    assert_eq!(duplicate.error(), ("conflict", Some("name")));

    // Delete: 204, gone from reads and lists, history kept.
    let deleted = api.delete_job(&id, None).await.expect(204);
    assert!(deleted.text.is_empty());
    assert_eq!(
        api.get_job(&id).await.expect(404).error(),
        ("not_found", None)
    );
    assert_eq!(api.get_job("nightly-report").await.status, 404);
    assert_eq!(api.delete_job(&id, None).await.status, 404);
    assert_eq!(
        api.list_jobs(&[]).await.expect(200).body["items"],
        json!([])
    );
    let (deleted_at, version): (Option<chrono::DateTime<chrono::Utc>>, i64) =
        sqlx::query_as("SELECT deleted_at, version FROM jobs WHERE id = $1")
            .bind(uuid)
            .fetch_one(&server.db.pool)
            .await
            .expect("the row stays");
    assert!(deleted_at.is_some());
    assert_eq!(version, 8);
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM job_versions WHERE job_id = $1 ORDER BY version")
            .bind(uuid)
            .fetch_all(&server.db.pool)
            .await
            .expect("versions");
    assert_eq!(
        versions,
        (1..=8).collect::<Vec<i64>>(),
        "every change is a recorded version"
    );

    // The name is free again, for a new job with a new id.
    let again = api
        .create_job(&shell_job("nightly-report"))
        .await
        .expect(201);
    assert_ne!(again.body["id"], json!(id));
    assert_eq!(again.body["version"], 1);
}

#[tokio::test]
async fn if_match_guards_every_change() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let created = api.create_job(&shell_job("guarded")).await.expect(201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let etag = created.etag().expect("etag").to_owned();

    let mut spec = shell_job("guarded");
    spec["timeout_s"] = json!(60);
    let replaced = api.replace_job(&id, &spec, Some(&etag)).await.expect(200);
    assert_eq!(replaced.etag(), Some("\"2\""));

    // The old ETag no longer matches anything.
    for reply in [
        api.replace_job(&id, &spec, Some(&etag)).await,
        api.patch_job(&id, &json!({"timeout_s": 30}), Some(&etag))
            .await,
        api.pause_job(&id, None, Some(&etag)).await,
        api.resume_job(&id, Some(&etag)).await,
        api.delete_job(&id, Some(&etag)).await,
    ] {
        assert_eq!(reply.status, 412, "{}", reply.text);
        assert_eq!(reply.error(), ("precondition_failed", Some("If-Match")));
    }
    assert_eq!(api.get_job(&id).await.expect(200).body["version"], 2);

    // The current one does, weak or strong, and `*` matches any version.
    let patched = api
        .patch_job(&id, &json!({"timeout_s": 30}), Some("W/\"2\""))
        .await
        .expect(200);
    assert_eq!(patched.etag(), Some("\"3\""));
    api.pause_job(&id, None, Some("\"3\"")).await.expect(200);
    api.resume_job(&id, Some("*")).await.expect(200);
    api.delete_job(&id, Some("\"5\"")).await.expect(204);
}

#[tokio::test]
async fn upsert_by_name_is_idempotent() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let spec = shell_job("from-git");

    let first = api.upsert_job("from-git", &spec).await.expect(201);
    assert_eq!(first.body["version"], 1);
    let id = first.body["id"].clone();
    // The same document again: no new version, same job.
    let second = api.upsert_job("from-git", &spec).await.expect(200);
    assert_eq!(second.body["version"], 1);
    assert_eq!(second.body["id"], id);
    assert_eq!(second.etag(), Some("\"1\""));
    // Defaults written out in full are the same document too.
    let mut explicit = spec.clone();
    explicit["timezone"] = json!("UTC");
    explicit["queue"] = json!("default");
    explicit["target"]["env"] = json!({});
    api.upsert_job("from-git", &explicit).await.expect(200);
    assert_eq!(api.get_job("from-git").await.body["version"], 1);

    // A changed document is one new version, however often it is applied.
    let mut changed = spec.clone();
    changed["schedule"] = json!("@daily");
    for _ in 0..3 {
        let reply = api.upsert_job("from-git", &changed).await.expect(200);
        assert_eq!(reply.body["version"], 2);
        assert_eq!(reply.body["id"], id);
    }
    let n_versions: i64 = sqlx::query_scalar("SELECT count(*) FROM job_versions")
        .fetch_one(&server.db.pool)
        .await
        .expect("count");
    assert_eq!(n_versions, 2);
    let ops: Vec<String> = server.changes().await.into_iter().map(|c| c.2).collect();
    assert_eq!(ops, ["created", "updated"]);

    // The body must name the job the path names.
    let mismatch = api.upsert_job("other-name", &spec).await.expect(400);
    assert_eq!(mismatch.error(), ("invalid_value", Some("name")));
}
