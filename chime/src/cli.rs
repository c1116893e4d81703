//! The command line: global connection flags (accepted before or after the
//! subcommand) and one subcommand per component.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Chime: a distributed cron and scheduled-event orchestrator.
#[derive(Debug, Parser)]
#[command(name = "chime", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// Postgres URL [env: CHIME_DATABASE_URL, then DATABASE_URL]
    /// [default: postgres://chime:chime@127.0.0.1:5432/chime]
    #[arg(long, global = true, env = "CHIME_DATABASE_URL", hide_env = true)]
    pub(crate) database_url: Option<String>,
    /// Redis URL [env: CHIME_REDIS_URL, then REDIS_URL] [default: redis://127.0.0.1:6379]
    #[arg(long, global = true, env = "CHIME_REDIS_URL", hide_env = true)]
    pub(crate) redis_url: Option<String>,
    /// Prefix of every Redis key [env: CHIME_PREFIX] [default: chime]
    #[arg(long, global = true, env = "CHIME_PREFIX", hide_env = true)]
    pub(crate) prefix: Option<String>,
    /// Address the API listens on [env: CHIME_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "CHIME_LISTEN", hide_env = true)]
    pub(crate) listen: Option<String>,
    /// A TOML settings file [env: CHIME_CONFIG]
    #[arg(long, global = true, env = "CHIME_CONFIG", hide_env = true)]
    pub(crate) config: Option<std::path::PathBuf>,
    /// API token as <scope>:<token>, scope read, write or admin; repeatable
    /// [env: CHIME_API_TOKENS, comma-separated]
    #[arg(long = "api-token", global = true, value_name = "SCOPE:TOKEN")]
    pub(crate) api_tokens: Vec<String>,
    /// This process's name in leases, logs and the executor registry
    /// [env: CHIME_NODE_ID] [default: hostname-pid]
    #[arg(long, global = true, env = "CHIME_NODE_ID", hide_env = true)]
    pub(crate) node_id: Option<String>,
    /// Log format; RUST_LOG sets the levels
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Compact, env = "CHIME_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// One readable line per event.
    Compact,
    /// One JSON object per event, for log collectors.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Apply the database migrations and exit.
    Migrate,
    /// Work with schedule expressions.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Serve the REST API on --listen.
    Api(ApiArgs),
    /// Claim and run events from queues; needs only Redis.
    Executor(crate::cmd::executor::ExecutorArgs),
    /// Measure Chime's components against the configured Redis.
    #[command(subcommand)]
    Bench(crate::cmd::bench::BenchCommand),
}

/// Arguments of `chime api`.
#[derive(Debug, Args)]
pub(crate) struct ApiArgs {
    /// Do not apply pending database migrations at start.
    #[arg(long)]
    pub(crate) no_migrate: bool,
}

/// `chime schedule ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Print the next fire times of an expression, one per line: the UTC
    /// instant, then the local time with its offset.
    Next(ScheduleNextArgs),
}

/// Arguments of `chime schedule next`.
#[derive(Debug, Args)]
pub(crate) struct ScheduleNextArgs {
    /// A cron expression (5, 6 or 7 fields), a macro, `@every 90s` or `@at <instant>`.
    pub(crate) expression: String,
    /// IANA time zone the expression is read in.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// How many fires to print (1-1000).
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub(crate) count: usize,
    /// Start after this RFC 3339 instant instead of now; also the `@every` anchor.
    #[arg(long)]
    pub(crate) after: Option<String>,
}
