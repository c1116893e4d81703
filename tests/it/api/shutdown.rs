//! SIGTERM stops `chime api` cleanly: it stops accepting, finishes what is
//! in flight and exits 0.

use std::time::Duration;

use crate::harness::{ApiServer, eventually};

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let mut server = ApiServer::start(&[]).await;
    server.client(None).list_jobs(&[]).await.expect(200);
    server.chime.signal("TERM");
    let status = eventually(Duration::from_secs(10), "chime api to exit", || {
        let status = server.chime.try_wait();
        async move { status }
    })
    .await;
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.chime.output()
    );
    assert!(server.chime.output().contains("api stopped"));
}
