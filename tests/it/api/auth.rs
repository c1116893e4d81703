//! Bearer tokens: 401 without a valid token, 403 with too small a scope,
//! scopes nesting admin ⊃ write ⊃ read, probes and the document open; a
//! malformed token setting stops `chime api` before it starts.

use reqwest::Method;

use super::shell_job;
use crate::harness::{ApiServer, Body, chime_command};

#[tokio::test]
async fn scopes_nest_and_probes_stay_open() {
    let server = ApiServer::start(&["read:r-secret", "write:w-secret", "admin:a-secret"]).await;
    let anonymous = server.client(None);
    let wrong = server.client(Some("not-a-token"));
    let read = server.client(Some("r-secret"));
    let write = server.client(Some("w-secret"));
    let admin = server.client(Some("a-secret"));

    // Reads: any valid token.
    for client in [&anonymous, &wrong] {
        let reply = client.list_jobs(&[]).await.expect(401);
        assert_eq!(reply.error(), ("unauthorized", None));
        assert_eq!(
            reply
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }
    for client in [&read, &write, &admin] {
        client.list_jobs(&[]).await.expect(200);
        client
            .preview(&serde_json::json!({"schedule": "@daily"}))
            .await
            .expect(200);
    }

    // Changes: write or admin.
    let reply = read.create_job(&shell_job("by-reader")).await.expect(403);
    assert_eq!(reply.error(), ("forbidden", None));
    anonymous
        .create_job(&shell_job("by-nobody"))
        .await
        .expect(401);
    write.create_job(&shell_job("by-writer")).await.expect(201);
    admin.create_job(&shell_job("by-admin")).await.expect(201);
    read.delete_job("by-writer", None).await.expect(403);
    read.pause_job("by-writer", None, None).await.expect(403);
    read.upsert_job("by-writer", &shell_job("by-writer"))
        .await
        .expect(403);
    read.get_job("by-writer").await.expect(200);
    admin.delete_job("by-writer", None).await.expect(204);

    // Lowercase scheme and a token in another header do not confuse it.
    let reply = anonymous
        .send(
            Method::GET,
            "/api/v1/jobs",
            &[("authorization", "bearer r-secret")],
            Body::None,
        )
        .await
        .expect("request");
    assert_eq!(reply.status, 200);
    let reply = anonymous
        .send(
            Method::GET,
            "/api/v1/jobs",
            &[("authorization", "Basic r-secret")],
            Body::None,
        )
        .await
        .expect("request");
    assert_eq!(reply.status, 401);

    // Open routes.
    anonymous.readyz().await.expect(200);
    anonymous.metrics().await.expect(200);
    anonymous.openapi().await.expect(200);
    anonymous.healthz().await.expect("healthz").expect(200);

    // Tokens never reach the log.
    let log = server.chime.output();
    for secret in ["r-secret", "w-secret", "a-secret", "not-a-token"] {
        assert!(!log.contains(secret), "the log shows a token: {log}");
    }
}

#[tokio::test]
async fn without_tokens_the_api_is_open_and_says_so() {
    let server = ApiServer::start(&[]).await;
    server
        .client(None)
        .create_job(&shell_job("open"))
        .await
        .expect(201);
    assert!(
        server.chime.output().contains("NO API TOKENS CONFIGURED"),
        "{}",
        server.chime.output()
    );
}

#[test]
fn a_malformed_token_stops_chime_api_before_it_starts() {
    for bad in ["just-a-secret", "root:s3cr3t-value", "write:"] {
        let out = chime_command()
            .args(["api", "--listen", "127.0.0.1:1", "--api-token", bad])
            .output()
            .expect("running chime");
        assert!(!out.status.success(), "{bad} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("api_token"), "stderr: {stderr}");
        assert!(
            !stderr.contains("s3cr3t-value"),
            "stderr shows the token: {stderr}"
        );
    }
    // The same check applies to tokens from the environment.
    let out = chime_command()
        .args(["api", "--listen", "127.0.0.1:1"])
        .env("CHIME_API_TOKENS", "read:fine,superuser:s3cr3t-value")
        .output()
        .expect("running chime");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("api_token"), "stderr: {stderr}");
    assert!(
        !stderr.contains("s3cr3t-value"),
        "stderr shows the token: {stderr}"
    );
}
