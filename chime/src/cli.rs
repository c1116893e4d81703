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
    /// Run a scheduler replica: campaign for leadership and, while leading,
    /// emit due ticks to the queue streams. Run any number of them.
    Scheduler(SchedulerArgs),
    /// Serve the REST API on --listen.
    Api(ApiArgs),
    /// Claim and run events from queues; needs only Redis.
    Executor(crate::cmd::executor::ExecutorArgs),
    /// Measure Chime on this machine.
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

/// Arguments of `chime scheduler`; each overrides `[scheduler]` of the settings file.
#[derive(Debug, Args)]
pub(crate) struct SchedulerArgs {
    /// Leader lease time-to-live in ms (at least 1000) [default: 3000]
    #[arg(long)]
    pub(crate) lease_ttl_ms: Option<u64>,
    /// Lease renewal interval in ms, below half the ttl [default: ttl / 3]
    #[arg(long)]
    pub(crate) renew_interval_ms: Option<u64>,
    /// Full reload of job definitions from Postgres every so many ms [default: 30000]
    #[arg(long)]
    pub(crate) resync_interval_ms: Option<u64>,
    /// Most ticks per job emitted (and most reported missed) in one catch-up [default: 1000]
    #[arg(long)]
    pub(crate) catchup_cap: Option<usize>,
    /// Do not apply database migrations at start.
    #[arg(long)]
    pub(crate) no_migrate: bool,
}

/// Arguments of `chime bench emit`.
#[derive(Debug, Args)]
pub(crate) struct BenchEmitArgs {
    /// How many jobs.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) jobs: usize,
    /// Each job fires every this many seconds (a divisor of 60), the jobs
    /// spread evenly over the seconds, so N / period ticks fall due each second.
    #[arg(long, default_value_t = 1)]
    pub(crate) period_s: u32,
    /// How long to measure sustained emission, in seconds.
    #[arg(long, default_value_t = 5)]
    pub(crate) seconds: u64,
    /// Give every job this jitter, spreading emission over the second(s)
    /// after each tick; lateness is then also reported against the due time.
    #[arg(long, default_value_t = 0)]
    pub(crate) jitter_s: u64,
}
