//! `chime bench e2e --jobs N --duration S`: the whole path, tick to history.
//!
//! Makes a scratch database with N jobs that fire every second (`event`
//! targets: a no-op that still goes through claim, run, report and record),
//! starts the full topology as child processes of this binary (schedulers,
//! executors and API replicas with their recorders) on a private Redis
//! prefix, lets it run for S seconds, stops the schedulers, waits for the
//! queues and the results stream to drain, and reads run history back:
//! fired, expected, missed and duplicate ticks, and lateness
//! (`started_at - scheduled_at`) percentiles.

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chime_core::job::EventTarget;
use chime_core::{Catchup, CatchupPolicy, JobSpec, Keys, OverlapPolicy, Target};
use chrono::{DateTime, Utc};
use clap::Args;
use redis::AsyncTypedCommands;
use tokio::process::{Child, Command};
use uuid::Uuid;

use super::common::{ScratchDb, percentile};
use crate::config::Settings;

/// Arguments of `chime bench e2e`.
#[derive(Debug, Args)]
pub(crate) struct E2eBenchArgs {
    /// Jobs, each firing every second.
    #[arg(long, default_value_t = 1_000)]
    jobs: usize,
    /// Seconds of scheduling to measure.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Scheduler replicas (one leads).
    #[arg(long, default_value_t = 2)]
    schedulers: usize,
    /// Executor processes.
    #[arg(long, default_value_t = 2)]
    executors: usize,
    /// API replicas, each with a recorder.
    #[arg(long, default_value_t = 2)]
    apis: usize,
    /// Runs in flight per executor. Default: enough for one second's ticks
    /// (jobs / executors, at least 64), so the figures measure the path
    /// from tick to start rather than a queue waiting for free slots.
    #[arg(long)]
    concurrency: Option<usize>,
}

impl E2eBenchArgs {
    fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| self.jobs.div_ceil(self.executors).max(64))
    }
}

pub(crate) async fn run(settings: &Settings, args: E2eBenchArgs) -> anyhow::Result<()> {
    if !(1..=200_000).contains(&args.jobs) {
        bail!("--jobs: {} is out of range 1-200000", args.jobs);
    }
    if !(5..=600).contains(&args.duration) {
        bail!("--duration: {} is out of range 5-600", args.duration);
    }
    if args.schedulers == 0 || args.executors == 0 || args.apis == 0 {
        bail!("--schedulers, --executors and --apis must be at least 1");
    }
    if args.concurrency == Some(0) {
        bail!("--concurrency must be at least 1");
    }
    let db = ScratchDb::create(&settings.database.url).await?;
    let prefix = format!("chime-bench-{}", Uuid::new_v4().simple());
    let mut children = Vec::new();
    let result = measure(settings, &args, &db, &prefix, &mut children).await;
    for child in &mut children {
        let _ = child.kill().await;
    }
    if let Ok(client) = chime_queue::connection::client(&settings.redis_url) {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            let _ = chime_queue::inspect::delete_prefix(&mut conn, &prefix).await;
        }
    }
    db.drop().await;
    print!("{}", result?);
    Ok(())
}

async fn measure(
    settings: &Settings,
    args: &E2eBenchArgs,
    db: &ScratchDb,
    prefix: &str,
    children: &mut Vec<Child>,
) -> anyhow::Result<String> {
    let pool = &db.pool;
    let jobs: Vec<(Uuid, JobSpec)> = (0..args.jobs).map(|i| (Uuid::now_v7(), spec(i))).collect();
    chime_store::bulk::insert_jobs(pool, &jobs, Utc::now())
        .await
        .context("inserting the jobs")?;
    // Schedules start once every process is up, so the window is steady state.
    let created_at = Utc::now() + chrono::Duration::seconds(4);
    chime_store::bulk::set_created_at(pool, created_at).await?;
    chime_store::bulk::analyze(pool).await?;
    let database_url = db.url();
    let concurrency = args.concurrency();

    let exe = std::env::current_exe().context("finding the chime binary")?;
    let spawn = |role: &str, node: String, extra: Vec<String>| -> anyhow::Result<Child> {
        Command::new(&exe)
            .args([
                "--database-url",
                &database_url,
                "--redis-url",
                &settings.redis_url,
            ])
            .args(["--prefix", prefix, "--node-id", &node])
            .arg(role)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting chime {role}"))
    };
    let mut schedulers = Vec::new();
    for i in 0..args.schedulers {
        schedulers.push(spawn(
            "scheduler",
            format!("bench-s{i}"),
            vec!["--no-migrate".into()],
        )?);
    }
    for i in 0..args.executors {
        children.push(spawn(
            "executor",
            format!("bench-e{i}"),
            vec!["--concurrency".into(), concurrency.to_string()],
        )?);
    }
    for i in 0..args.apis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        children.push(spawn(
            "api",
            format!("bench-a{i}"),
            vec![
                "--no-migrate".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
            ],
        )?);
    }
    eprintln!(
        "{} jobs at 1 Hz; {} schedulers, {} executors, {} API replicas; measuring {} s",
        args.jobs, args.schedulers, args.executors, args.apis, args.duration
    );

    let end = created_at + chrono::Duration::seconds(args.duration as i64);
    while Utc::now() < end {
        tokio::time::sleep(
            Duration::from_secs(5).min((end - Utc::now()).to_std().unwrap_or_default()),
        )
        .await;
        let n_runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
            .fetch_one(pool)
            .await
            .unwrap_or(-1);
        eprintln!(
            "  {} s left, {n_runs} runs recorded",
            (end - Utc::now()).num_seconds().max(0)
        );
    }
    for scheduler in &schedulers {
        if let Some(pid) = scheduler.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
    for mut scheduler in schedulers {
        let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.wait()).await;
    }

    let client = chime_queue::connection::client(&settings.redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys = Keys::new(prefix);
    let cursors: BTreeMap<String, String> =
        conn.hgetall(keys.cursor()).await?.into_iter().collect();
    let mut expected: HashSet<(Uuid, i64)> = HashSet::new();
    let first_tick = (created_at.timestamp_millis() / 1000 + 1) * 1000;
    for (job_id, _) in &jobs {
        let last: i64 = cursors
            .get(&job_id.to_string())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        for tick in (first_tick..=last).step_by(1000) {
            expected.insert((*job_id, tick));
        }
    }

    eprintln!("schedulers stopped; waiting for executors and recorders to drain");
    let drained = Instant::now();
    loop {
        let terminal: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE state NOT IN ('queued', 'running')",
        )
        .fetch_one(pool)
        .await?;
        if terminal as usize >= expected.len() {
            break;
        }
        if drained.elapsed() > Duration::from_secs(120) {
            eprintln!(
                "  gave up waiting: {terminal} of {} runs finished",
                expected.len()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let rows: Vec<RecordedRun> =
        sqlx::query_as("SELECT job_id, scheduled_at, emitted_at, started_at, state FROM runs")
            .fetch_all(pool)
            .await?;
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut lateness = Vec::with_capacity(rows.len());
    let mut succeeded = 0;
    let mut emission = Vec::with_capacity(rows.len());
    for (job_id, scheduled_at, emitted_at, started_at, state) in &rows {
        if let Some(emitted_at) = emitted_at {
            emission.push((*emitted_at - *scheduled_at).num_milliseconds());
        }
        if !seen.insert((*job_id, scheduled_at.timestamp_millis())) {
            duplicates += 1;
        }
        succeeded += usize::from(state == "succeeded");
        if let Some(started_at) = started_at {
            lateness.push((*started_at - *scheduled_at).num_milliseconds());
        }
    }
    lateness.sort_unstable();
    emission.sort_unstable();
    let fired = seen.intersection(&expected).count();
    let missed = expected.len() - fired;
    let extra = seen.difference(&expected).count();
    let mut out = String::new();
    out += &format!("jobs: {} at 1 Hz for {} s\n", args.jobs, args.duration);
    out += &format!(
        "topology: {} schedulers, {} executors (concurrency {}), {} API replicas\n",
        args.schedulers,
        args.executors,
        args.concurrency(),
        args.apis
    );
    out += &format!("expected ticks: {}\n", expected.len());
    out += &format!("fired (recorded): {fired}, succeeded: {succeeded}\n");
    out += &format!("missed: {missed}\n");
    out += &format!("duplicates: {duplicates}\n");
    out += &format!("runs outside the window: {extra}\n");
    out += &format!(
        "lateness started_at - scheduled_at (ms): p50 {} p90 {} p99 {} max {}\n",
        percentile(&lateness, 50.0),
        percentile(&lateness, 90.0),
        percentile(&lateness, 99.0),
        lateness.last().copied().unwrap_or(0)
    );
    out += &format!(
        "  of which emission, emitted_at - scheduled_at (ms): p50 {} p99 {} max {}\n",
        percentile(&emission, 50.0),
        percentile(&emission, 99.0),
        emission.last().copied().unwrap_or(0)
    );
    Ok(out)
}

/// A run as read back: job, tick, emission, start, state.
type RecordedRun = (
    Uuid,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
);

fn spec(i: usize) -> JobSpec {
    JobSpec {
        name: format!("bench-{i:06}"),
        schedule: "* * * * * *".to_owned(),
        timezone: "UTC".to_owned(),
        queue: "default".to_owned(),
        target: Target::Event(EventTarget {
            stream: "bench-sink".to_owned(),
            payload: serde_json::json!({"n": i}),
        }),
        timeout_s: 30,
        retry: Default::default(),
        overlap: OverlapPolicy::Allow,
        catchup: Catchup {
            policy: CatchupPolicy::All,
            window_s: 3600,
        },
        starting_deadline_s: None,
        jitter_s: 0,
        paused: false,
        labels: Default::default(),
        description: None,
    }
}
