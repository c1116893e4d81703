//! `chime`: the one binary. Parses the command line, builds the settings,
//! installs the tracing subscriber and signal handlers, and hands off to a
//! component's `run`.

mod cli;
mod cmd;
mod config;
mod signals;
mod telemetry;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // One crypto provider for the whole binary (reqwest's rustls has none
    // of its own); an error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    telemetry::init(cli.global.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        // Ctrl-C and SIGTERM cancel this token; every component stops on it.
        let shutdown = tokio_util::sync::CancellationToken::new();
        let _signals = signals::cancel_on_signal(shutdown.clone());
        let settings = config::Settings::load(&cli.global)?;
        settings.log_effective();
        match cli.command {
            Command::Migrate => cmd::migrate::run(&settings).await,
            Command::Schedule(args) => cmd::schedule::run(args),
            Command::Api(args) => cmd::api::run(&settings, args, shutdown).await,
            Command::Executor(args) => cmd::executor::run(&settings, args, shutdown).await,
            Command::Scheduler(args) => cmd::scheduler::run(&settings, args, shutdown).await,
            Command::Bench(command) => cmd::bench::run(&settings, command, shutdown).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
