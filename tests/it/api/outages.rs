//! Dependencies going away: Postgres unreachable is a 503 with a generic
//! JSON error (and `/readyz` says so); Redis unreachable costs only the
//! change announcement, never the write.

use std::time::Duration;

use super::shell_job;
use crate::harness::{ApiServer, PrivateRedis, TcpProxy, TestDb, eventually, redis_url};

/// `host:port` of a `postgres://user:pass@host:port/db` URL.
fn host_port(url: &str) -> &str {
    let after_at = url.rsplit_once('@').map(|(_, rest)| rest).unwrap_or(url);
    after_at.split('/').next().unwrap_or(after_at)
}

#[tokio::test]
async fn postgres_unreachable_is_a_503_and_recovers() {
    let mut db = TestDb::create().await;
    let target = host_port(&db.url).to_owned();
    let proxy = TcpProxy::start(&target).await;
    let direct_url = db.url.clone();
    db.url = direct_url.replace(&target, &format!("127.0.0.1:{}", proxy.port));
    let server = ApiServer::start_with(db, &redis_url(), &[]).await;
    let api = server.client(None);
    api.create_job(&shell_job("before")).await.expect(201);

    proxy.cut();
    let reply = api.get_job("before").await.expect(503);
    assert_eq!(reply.error(), ("unavailable", None));
    let message = reply.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        !message.contains("127.0.0.1"),
        "a 5xx body is generic: {message}"
    );
    let reply = api.create_job(&shell_job("during")).await.expect(503);
    assert_eq!(reply.error(), ("unavailable", None));
    let ready = api.readyz().await.expect(503);
    assert_eq!(ready.error(), ("unavailable", None));
    assert!(
        ready.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("postgres")
    );

    proxy.restore();
    eventually(Duration::from_secs(15), "reads to work again", || {
        let api = api.clone();
        async move { (api.get_job("before").await.status == 200).then_some(()) }
    })
    .await;
    api.readyz().await.expect(200);
}

#[tokio::test]
async fn redis_down_costs_the_announcement_not_the_write() {
    let mut redis = PrivateRedis::start();
    let db = TestDb::create().await;
    let server = ApiServer::start_with(db, &redis.url(), &[]).await;
    let api = server.client(None);
    api.create_job(&shell_job("first")).await.expect(201);

    redis.stop();
    api.create_job(&shell_job("second")).await.expect(201);
    api.pause_job("first", None, None).await.expect(200);
    api.readyz().await.expect(503);

    redis.restart();
    eventually(
        Duration::from_secs(15),
        "readiness after Redis returns",
        || {
            let api = api.clone();
            async move { (api.readyz().await.status == 200).then_some(()) }
        },
    )
    .await;
    api.resume_job("first", None).await.expect(200);
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("private redis");
    let n: usize = redis::cmd("XLEN")
        .arg(format!("{}:changes", server.prefix))
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    // "first" created before the outage (kept by the append-only file) and
    // resumed after it; the two changes during the outage were not announced.
    assert_eq!(n, 2);
    assert!(server.chime.output().contains("change not announced"));
}
