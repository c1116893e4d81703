//! `chime bench`: measurements of Chime's components against the configured
//! Redis, each under a fresh key prefix that is deleted afterwards.

mod executor;

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

/// `chime bench ...`
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Throughput and pickup latency of one `chime executor` process.
    Executor(executor::ExecutorBenchArgs),
}

pub(crate) async fn run(
    settings: &Settings,
    command: BenchCommand,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    match command {
        BenchCommand::Executor(args) => executor::run(settings, args, shutdown).await,
    }
}
