//! Connections to Redis. Short commands share one auto-reconnecting
//! [`ConnectionManager`]; every blocking reader (`XREADGROUP ... BLOCK`) gets
//! a connection of its own with no response timeout, because a blocked
//! command on a shared multiplexed connection stalls everything behind it and
//! trips the client's default 500 ms response timeout.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo};

use crate::QueueError;

/// How long a short command may take before it counts as a failure.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis client for `url`; connecting happens later. Its TCP connections
/// set `TCP_NODELAY`, as most Redis clients do (redis-rs leaves Nagle's
/// algorithm on): small commands sent one after another on a connection
/// should not wait for the ACK of the previous ones.
pub fn client(url: &str) -> Result<Client, QueueError> {
    let info = url
        .into_connection_info()
        .map_err(|e| QueueError::Protocol(format!("redis url: {e}")))?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    Client::open(info.set_tcp_settings(tcp))
        .map_err(|e| QueueError::Protocol(format!("redis url: {e}")))
}

/// The shared, auto-reconnecting connection for short commands.
pub async fn manager(client: &Client) -> Result<ConnectionManager, QueueError> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    Ok(client.get_connection_manager_with_config(config).await?)
}

/// A dedicated connection for one blocking reader. `block` is the longest
/// BLOCK the reader uses; the response timeout sits safely above it.
pub async fn blocking(
    client: &Client,
    block: Duration,
) -> Result<MultiplexedConnection, QueueError> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(block + RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    Ok(client
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}
