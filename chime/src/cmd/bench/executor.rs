//! `chime bench executor`: how many no-op events one `chime executor`
//! process runs per second at a given concurrency, and how long an event
//! waits from being queued to being started at a steady 1,000 events/s.
//!
//! The no-op is an `event` target (one XADD to a sink stream): the cheapest
//! real target, so the figure is the executor's own overhead (claim,
//! `running` report, target, settlement). The executor is a child process
//! of this command, on a fresh key prefix that is deleted at the end; the
//! figures come from the timestamps in the executor's own results.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chime_core::job::{EventTarget, RetryPolicy};
use chime_core::wire::{EVENT_FIELD, Event, RunResult, WIRE_VERSION};
use chime_core::{Keys, RunState, Target, Trigger};
use clap::Args;
use redis::aio::MultiplexedConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;

/// Flags of `chime bench executor`.
#[derive(Debug, Args)]
pub(crate) struct ExecutorBenchArgs {
    /// Events queued up front for the throughput phase
    #[arg(long, default_value_t = 50_000)]
    events: usize,
    /// The executor's `--concurrency`
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per second in the latency phase
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds the latency phase lasts
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
}

const THROUGHPUT_QUEUE: &str = "bench";
const LATENCY_QUEUE: &str = "latency";
const SINK: &str = "bench-sink";

pub(crate) async fn run(
    settings: &Settings,
    args: ExecutorBenchArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if args.events == 0 || args.rate == 0 || args.latency_secs == 0 {
        bail!("--events, --rate and --latency-secs must be positive");
    }
    let prefix = format!(
        "{}-bench-{}",
        settings.prefix,
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let keys = Keys::new(prefix.clone());
    let client = chime_queue::connection::client(&settings.redis_url).context("redis_url")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to redis")?;
    let job_id = Uuid::now_v7();

    let outcome = async {
        // Throughput: the whole batch is queued before the executor starts.
        let fill_started = Instant::now();
        for chunk_start in (0..args.events).step_by(1_000) {
            let mut pipe = redis::pipe();
            let now = now_ms();
            for n in chunk_start..(chunk_start + 1_000).min(args.events) {
                pipe.xadd(keys.queue(THROUGHPUT_QUEUE), "*", &[(EVENT_FIELD, event_json(job_id, n, now, THROUGHPUT_QUEUE)?)])
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await.context("queueing events")?;
        }
        eprintln!(
            "queued {} events in {:.2} s; starting the executor (concurrency {})",
            args.events,
            fill_started.elapsed().as_secs_f64(),
            args.concurrency
        );
        let mut executor = tokio::process::Command::new(std::env::current_exe().context("finding the chime binary")?)
            .args(["--redis-url", &settings.redis_url, "--prefix", &prefix, "executor", "--queues"])
            .arg(format!("{THROUGHPUT_QUEUE},{LATENCY_QUEUE}"))
            .args(["--concurrency", &args.concurrency.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chime executor")?;

        let executor_pid = executor.id().context("the executor's pid")?;
        let redis_cpu_before = redis_cpu_secs(&mut conn).await?;
        let (results, last_id) = wait_for_results(&mut conn, &keys, "-", args.events * 2, &shutdown).await?;
        let executor_cpu = process_cpu_secs(executor_pid)?;
        let redis_cpu = redis_cpu_secs(&mut conn).await? - redis_cpu_before;
        let mut first_start = i64::MAX;
        let mut last_finish = i64::MIN;
        let mut succeeded = 0;
        for result in results.iter().filter(|r| r.state.is_terminal()) {
            succeeded += usize::from(result.state == RunState::Succeeded);
            first_start = first_start.min(result.started_at.unwrap_or(i64::MAX));
            last_finish = last_finish.max(result.finished_at.unwrap_or(i64::MIN));
        }
        if succeeded != args.events {
            bail!("{succeeded} of {} runs succeeded", args.events);
        }
        let secs = ((last_finish - first_start).max(1)) as f64 / 1000.0;
        let throughput = args.events as f64 / secs;

        // Latency: a steady rate into an otherwise idle executor.
        let total = (args.rate * args.latency_secs) as usize;
        let period = Duration::from_secs_f64(1.0 / args.rate as f64);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for n in 0..total {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.cancelled() => bail!("interrupted"),
            }
            let json = event_json(job_id, args.events + n, now_ms(), LATENCY_QUEUE)?;
            redis::cmd("XADD")
                .arg(keys.queue(LATENCY_QUEUE))
                .arg("*")
                .arg(EVENT_FIELD)
                .arg(json)
                .query_async::<()>(&mut conn)
                .await
                .context("queueing an event")?;
        }
        let after = format!("({last_id}");
        let (results, _) =
            wait_for_results(&mut conn, &keys, &after, args.events * 2 + total * 2, &shutdown).await?;
        let mut pickups: Vec<i64> = results
            .iter()
            .filter(|r| r.state == RunState::Running)
            .filter_map(|r| Some(r.started_at? - r.emitted_at?))
            .collect();
        pickups.sort_unstable();
        let _ = executor.start_kill();
        let _ = executor.wait().await;

        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        println!("chime bench executor ({cores} cores; no-op = `event` target, one XADD to a sink stream)");
        println!(
            "throughput: {} events at concurrency {} in {secs:.2} s = {throughput:.0} events/s (first start to last finish)",
            args.events, args.concurrency
        );
        println!(
            "cpu during the throughput phase: executor {:.0} ms per 1,000 events (startup included), redis {:.0} ms per 1,000 events; \
             {:.0} events/s per fully used core for the executor alone",
            executor_cpu * 1e6 / args.events as f64,
            redis_cpu * 1e6 / args.events as f64,
            args.events as f64 / executor_cpu.max(1e-9)
        );
        println!(
            "load average at the end: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
        );
        println!(
            "pickup latency (started_at - emitted_at, ms resolution) at {} events/s over {} s ({} events): p50 {} ms, p99 {} ms, max {} ms",
            args.rate,
            args.latency_secs,
            pickups.len(),
            percentile(&pickups, 50.0),
            percentile(&pickups, 99.0),
            pickups.last().copied().unwrap_or(0)
        );
        anyhow::Ok(())
    }
    .await;

    cleanup(&mut conn, &prefix).await;
    outcome
}

/// Waits until `{prefix}:results` holds `total` entries, then returns the
/// ones after `after` (an XRANGE start; `-` for all) decoded, with the last
/// id. While waiting it only polls XLEN, so the bench does not compete with
/// the executor for Redis.
async fn wait_for_results(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    after: &str,
    total: usize,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Vec<RunResult>, String)> {
    let mut seen = 0;
    let mut last_progress = Instant::now();
    loop {
        let len: usize = redis::cmd("XLEN")
            .arg(keys.results())
            .query_async(conn)
            .await
            .context("XLEN results")?;
        if len >= total {
            break;
        }
        if len > seen {
            seen = len;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > Duration::from_secs(30) {
            bail!("no progress for 30 s: {len} of {total} results");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.cancelled() => bail!("interrupted"),
        }
    }
    let mut results = Vec::new();
    let mut start = after.to_owned();
    let mut last_id = after.trim_start_matches('(').to_owned();
    loop {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(keys.results())
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(10_000)
            .query_async(conn)
            .await
            .context("reading results")?;
        if reply.ids.is_empty() {
            return Ok((results, last_id));
        }
        for entry in reply.ids {
            if let Some(json) = entry.get::<String>(EVENT_FIELD) {
                results.push(serde_json::from_str(&json).context("decoding a result")?);
            }
            last_id = entry.id;
        }
        start = format!("({last_id}");
    }
}

fn event_json(job_id: Uuid, n: usize, now: i64, queue: &str) -> anyhow::Result<String> {
    let event = Event {
        v: WIRE_VERSION,
        run_id: Uuid::now_v7(),
        job_id,
        job_name: "bench".to_owned(),
        job_version: 1,
        trigger: Trigger::Manual,
        scheduled_at: now,
        emitted_at: now,
        attempt: 1,
        deadline: None,
        timeout_s: 10,
        target: Target::Event(EventTarget {
            stream: SINK.to_owned(),
            payload: serde_json::json!({ "n": n }),
        }),
        retry: RetryPolicy::default(),
        queue: queue.to_owned(),
        epoch: 0,
    };
    Ok(serde_json::to_string(&event)?)
}

/// User plus system CPU seconds a process has used, from /proc.
fn process_cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/<pid>/stat")?;
    // Fields after the command name (which may hold spaces) start at state;
    // utime and stime are the 14th and 15th fields of the whole line.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports these in USER_HZ, 100 on every mainstream build.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// User plus system CPU seconds the Redis server has used (INFO cpu).
async fn redis_cpu_secs(conn: &mut MultiplexedConnection) -> anyhow::Result<f64> {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .context("INFO cpu")?;
    Ok(info
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| *name == "used_cpu_sys" || *name == "used_cpu_user")
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .sum())
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Deletes every key under the bench's prefix.
async fn cleanup(conn: &mut MultiplexedConnection, prefix: &str) {
    let pattern = format!("{prefix}:*");
    let mut cursor = 0u64;
    loop {
        let scanned: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async(conn)
            .await;
        let Ok((next, found)) = scanned else { return };
        if !found.is_empty() {
            let _ = redis::cmd("DEL").arg(&found).query_async::<()>(conn).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
