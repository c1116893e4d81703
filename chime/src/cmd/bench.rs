//! `chime bench ...`: measurements on this machine, one module per bench.
//! Each bench works on a temporary database and a private Redis prefix and
//! removes both when it ends.

mod emit;

use crate::cli::BenchCommand;
use crate::config::Settings;

pub(crate) async fn run(settings: &Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Emit(args) => emit::run(settings, args).await,
    }
}
