//! Event streams `{prefix}:events:{name}`: where `event` targets append a
//! job's payload for any consumer to read. Chime never trims them; their
//! consumers own them.

use chime_core::Keys;
use redis::AsyncTypedCommands;

use crate::QueueError;

/// Appends one entry with `fields` to `{prefix}:events:{stream}` and
/// returns its id.
pub async fn append<C>(
    conn: &mut C,
    keys: &Keys,
    stream: &str,
    fields: &[(&str, String)],
) -> Result<String, QueueError>
where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let id = conn.xadd(keys.events(stream), "*", fields).await?;
    id.ok_or_else(|| QueueError::Protocol("XADD returned no id".to_owned()))
}
