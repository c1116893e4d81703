//! `chime bench`: measurements on this machine, one module per bench. Each
//! bench works under a fresh Redis key prefix (and, where it needs Postgres,
//! a temporary database) and removes them when it ends.

mod emit;
mod executor;

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

/// `chime bench ...`
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Load N jobs into a temporary database and measure the scheduler:
    /// load time, time to emit N simultaneous ticks, sustained events/s,
    /// lateness and memory.
    Emit(crate::cli::BenchEmitArgs),
    /// Throughput and pickup latency of one `chime executor` process.
    Executor(executor::ExecutorBenchArgs),
}

pub(crate) async fn run(
    settings: &Settings,
    command: BenchCommand,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    match command {
        BenchCommand::Emit(args) => emit::run(settings, args).await,
        BenchCommand::Executor(args) => executor::run(settings, args, shutdown).await,
    }
}
