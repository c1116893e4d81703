//! The control channel `{prefix}:control`: cancel requests published to
//! every executor. Pub/sub is fire-and-forget, so a request reaches the
//! executors subscribed at that moment; the run's owner is among them
//! unless it is disconnected, and then its run is reclaimed anyway.

use chime_core::Keys;
use chime_core::wire::Control;
use futures::StreamExt;
use redis::AsyncTypedCommands;

use crate::QueueError;

/// Publishes `control`; returns how many subscribers received it.
pub async fn publish<C>(conn: &mut C, keys: &Keys, control: &Control) -> Result<usize, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let json = serde_json::to_string(control).map_err(|e| QueueError::Protocol(e.to_string()))?;
    Ok(conn.publish(keys.control(), json).await?)
}

/// A subscription to the control channel on a connection of its own.
pub struct ControlSubscription {
    messages: redis::aio::PubSubStream,
}

impl ControlSubscription {
    /// Subscribes to `{prefix}:control`.
    pub async fn subscribe(client: &redis::Client, keys: &Keys) -> Result<Self, QueueError> {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(keys.control()).await?;
        Ok(ControlSubscription {
            messages: pubsub.into_on_message(),
        })
    }

    /// The next message: `Some(Err(..))` for one that does not decode, and
    /// `None` when the connection is gone (subscribe again).
    pub async fn next(&mut self) -> Option<Result<Control, QueueError>> {
        let message = self.messages.next().await?;
        Some(
            message
                .get_payload::<String>()
                .map_err(QueueError::from)
                .and_then(|json| {
                    serde_json::from_str(&json).map_err(|e| QueueError::Protocol(e.to_string()))
                }),
        )
    }
}
