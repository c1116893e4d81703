//! `chime executor`: claims and runs events from the queues it serves. It
//! needs nothing but Redis.

use anyhow::Context;
use chime_executor::{ExecutorConfig, ExecutorDeps};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, hostname};

/// Flags of `chime executor`; an absent flag keeps `ExecutorConfig`'s default.
#[derive(Debug, Args)]
pub(crate) struct ExecutorArgs {
    /// Queues to serve, comma-separated [default: default]
    #[arg(long, value_delimiter = ',')]
    pub(crate) queues: Option<Vec<String>>,
    /// Runs in flight at once, across all queues [default: 16]
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// Idle time after which any executor reclaims an entry: milliseconds
    /// (`30000`) or a number with a unit (`500ms`, `30s`, `2m`) [default: 30s]
    #[arg(long, value_parser = parse_millis)]
    pub(crate) visibility_timeout: Option<u64>,
    /// An entry delivered more than this many times goes to the dead stream
    /// [default: 5]
    #[arg(long)]
    pub(crate) max_deliveries: Option<u64>,
    /// Milliseconds runs get to finish after SIGTERM before they are killed
    /// and left for another executor [default: 30000]
    #[arg(long)]
    pub(crate) shutdown_grace_ms: Option<u64>,
    /// Milliseconds between SIGTERM and SIGKILL to a run's process group
    /// [default: 5000]
    #[arg(long)]
    pub(crate) kill_grace_ms: Option<u64>,
}

pub(crate) async fn run(
    settings: &Settings,
    args: ExecutorArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = config(settings, args);
    config.validate()?;
    tracing::info!(
        redis_url = %crate::config::redact(&settings.redis_url),
        config = ?config,
        "starting executor"
    );
    let deps = ExecutorDeps {
        redis: chime_queue::connection::client(&settings.redis_url).context("redis_url")?,
        host: hostname(),
        node_id: settings.node_id.clone(),
    };
    chime_executor::run(config, deps, shutdown).await
}

fn config(settings: &Settings, args: ExecutorArgs) -> ExecutorConfig {
    let defaults = ExecutorConfig::default();
    ExecutorConfig {
        prefix: settings.prefix.clone(),
        queues: args.queues.unwrap_or(defaults.queues),
        concurrency: args.concurrency.unwrap_or(defaults.concurrency),
        visibility_timeout_ms: args
            .visibility_timeout
            .unwrap_or(defaults.visibility_timeout_ms),
        max_deliveries: args.max_deliveries.unwrap_or(defaults.max_deliveries),
        shutdown_grace_ms: args.shutdown_grace_ms.unwrap_or(defaults.shutdown_grace_ms),
        kill_grace_ms: args.kill_grace_ms.unwrap_or(defaults.kill_grace_ms),
        ..defaults
    }
}

/// Milliseconds from `1500`, `1500ms`, `30s`, `2m` or `1h`.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 30000, 500ms or 30s"))?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}'; use ms, s, m or h"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("'{text}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

    #[test]
    fn durations_with_and_without_units() {
        assert_eq!(parse_millis("2000"), Ok(2000));
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("2m"), Ok(120_000));
        assert!(parse_millis("").is_err());
        assert!(parse_millis("1.5s").is_err());
        assert!(parse_millis("5d").is_err());
    }
}
