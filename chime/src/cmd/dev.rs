//! `chime dev`: the scheduler, one executor, the API and the recorder in one
//! process against the local services, for a laptop and the quick start.
//! `--demo` first loads a realistic set of jobs so the dashboard has
//! something to show at once.

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::cli::{ApiArgs, SchedulerArgs};
use crate::cmd::executor::ExecutorArgs;
use crate::config::Settings;

mod demo;

/// Flags of `chime dev`: the scheduler's and the executor's.
#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    #[command(flatten)]
    scheduler: SchedulerArgs,
    #[command(flatten)]
    executor: ExecutorArgs,
    /// Load (or refresh) a set of demo jobs before starting: dozens of jobs,
    /// some failing, some long-running.
    #[arg(long)]
    demo: bool,
}

pub(crate) async fn run(
    settings: &Settings,
    args: DevArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = settings.database.connect()?;
    if !args.scheduler.no_migrate {
        chime_store::migrate(&pool)
            .await
            .with_context(|| format!("migrating {}", settings.database.redacted_url()))?;
    }
    if args.demo {
        let n_jobs = demo::load(&pool, settings).await?;
        tracing::info!(n_jobs, "demo jobs loaded");
    }
    let scheduler_args = SchedulerArgs {
        no_migrate: true,
        ..args.scheduler
    };
    let base = format!("http://{}", settings.listen);
    println!("Chime dev is starting");
    println!("  dashboard: {base}/");
    println!("  API:       {base}/api/v1  (reference: {base}/docs)");
    println!(
        "  Redis prefix '{}', database {}",
        settings.prefix,
        settings.database.redacted_url()
    );
    println!("Stop with Ctrl-C.");

    // One failing component stops the others: a dev process that half runs
    // is more confusing than one that exits with the reason.
    let stop_all = |result: anyhow::Result<()>, name: &'static str| {
        if result.is_err() {
            shutdown.cancel();
        }
        result.with_context(|| format!("{name} stopped"))
    };
    let (scheduler, executor, api) = tokio::join!(
        async {
            stop_all(
                crate::cmd::scheduler::run(settings, scheduler_args, shutdown.clone()).await,
                "scheduler",
            )
        },
        async {
            stop_all(
                crate::cmd::executor::run(settings, args.executor, shutdown.clone()).await,
                "executor",
            )
        },
        async {
            stop_all(
                crate::cmd::api::run(settings, ApiArgs { no_migrate: true }, shutdown.clone())
                    .await,
                "api",
            )
        },
    );
    scheduler.and(executor).and(api)
}
