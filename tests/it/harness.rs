//! What every black-box test stands on: a private database, a private Redis
//! key prefix, `chime` processes that die with the test, waiting on
//! conditions with a deadline, and faults on purpose (a private Redis server,
//! a TCP proxy the test can cut).

// Not every test module uses every tool, and the set grows with the suite.
#![allow(dead_code, unused_imports, unreachable_pub)]

mod browser;
mod client;
mod db;
mod process;
mod proxy;
mod redis_server;
mod wait;

pub use browser::{Browser, Element};
pub use client::{ApiServer, Body, Client, Reply};
pub use db::TestDb;
pub use process::{Chime, chime_command};
pub use proxy::TcpProxy;
pub use redis_server::PrivateRedis;
pub use wait::eventually;

/// Base URL of the Redis server the suite may use (keys under a test prefix only).
pub fn redis_url() -> String {
    std::env::var("CHIME_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Redis key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("chime-test-{}", uuid::Uuid::new_v4().simple())
}

/// A Redis connection to the suite's server, or a panic that says how to
/// start it.
pub async fn redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).expect("CHIME_TEST_REDIS_URL is a redis URL");
    match client.get_multiplexed_async_connection().await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "cannot reach Redis at {url}: {err}\nstart the services with `scripts/services` \
             (or set CHIME_TEST_REDIS_URL)"
        ),
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port")
}
