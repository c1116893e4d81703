//! One module per subcommand; each turns settings into a component's `run`.

pub(crate) mod api;
pub(crate) mod bench;
pub(crate) mod executor;
pub(crate) mod migrate;
pub(crate) mod schedule;
pub(crate) mod scheduler;
