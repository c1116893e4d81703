//! The fixture every queue test file shares: a connection to the suite's
//! Redis and a key prefix no other test uses.

use chime_core::Keys;
use redis::aio::MultiplexedConnection;

/// A connection to `CHIME_TEST_REDIS_URL` (default the local Redis) and
/// fresh keys, or a panic that says how to start Redis.
pub(crate) async fn setup() -> (MultiplexedConnection, Keys) {
    let url = std::env::var("CHIME_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let client = redis::Client::open(url.as_str()).expect("a redis url");
    let conn = match client.get_multiplexed_async_connection().await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "cannot reach Redis at {url}: {err}\nstart the services with `scripts/services` \
             (or set CHIME_TEST_REDIS_URL)"
        ),
    };
    let prefix = format!("chime-test-{}", uuid::Uuid::new_v4().simple());
    (conn, Keys::new(prefix))
}
