//! `chime bench emit --jobs N`: the scheduler's emission path end to end.
//!
//! Makes a temporary database with N jobs (`--period-s P`: each fires every
//! P seconds, spread so N / P fall due each second), runs one scheduler
//! in-process against a private prefix of the configured Redis, lets it
//! emit for `--seconds`, then reads the queue stream back and reports: time
//! to load the jobs, time to take the lease and arm every timer, how long
//! each second's ticks took to be all appended, sustained events/s,
//! lateness (`emitted_at - scheduled_at`, and the stream entry's own Redis
//! time minus `scheduled_at`), missing or duplicate ticks, and the process's
//! resident memory.
//!
//! The jobs are created a little in the future (an estimate of insert plus
//! load time), so the scheduler meets no catch-up: the measured window is
//! steady-state emission. A run that took longer than the estimate says so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chime_core::job::ShellTarget;
use chime_core::{Catchup, CatchupPolicy, JobSpec, Keys, Target};
use chime_scheduler::{SchedulerConfig, SchedulerDeps, Status};
use chrono::Utc;
use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::common::{ScratchDb, percentile};
use crate::cli::BenchEmitArgs;
use crate::config::Settings;

const QUEUE: &str = "bench";

pub(super) async fn run(settings: &Settings, args: BenchEmitArgs) -> anyhow::Result<()> {
    if args.jobs == 0 || args.jobs > 5_000_000 {
        bail!("--jobs: {} is out of range 1-5000000", args.jobs);
    }
    if args.period_s == 0 || 60 % args.period_s != 0 {
        bail!("--period-s: {} must divide 60", args.period_s);
    }
    if !(1..=600).contains(&args.seconds) {
        bail!("--seconds: {} is out of range 1-600", args.seconds);
    }
    let db = ScratchDb::create(&settings.database.url).await?;
    let result = measure(settings, &args, &db.pool).await;
    db.drop().await;
    let report = result?;
    print!("{report}");
    Ok(())
}

async fn measure(
    settings: &Settings,
    args: &BenchEmitArgs,
    pool: &PgPool,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let n = args.jobs;
    let period = args.period_s;
    let jobs: Vec<(Uuid, JobSpec)> = (0..n)
        .map(|i| (Uuid::now_v7(), spec(i, period, args.jitter_s)))
        .collect();
    let t = Instant::now();
    chime_store::bulk::insert_jobs(pool, &jobs, Utc::now())
        .await
        .context("inserting the jobs")?;
    drop(jobs);
    out += &format!(
        "jobs: {n}, every {period} s ({} ticks each second), jitter {} s\n",
        n / period as usize,
        args.jitter_s
    );
    out += &format!("insert into Postgres: {:.2} s\n", t.elapsed().as_secs_f64());
    // The schedules start once the scheduler has had time to load (about
    // 15 us a job here, doubled), so the window meets no catch-up.
    let lead = Duration::from_millis(3000 + (n as u64) * 30 / 1000);
    let created_at = Utc::now() + chrono::Duration::from_std(lead)?;
    chime_store::bulk::set_created_at(pool, created_at).await?;
    chime_store::bulk::analyze(pool).await?;

    let prefix = format!("chime-bench-{}", Uuid::new_v4().simple());
    let keys = Keys::new(prefix.clone());
    let redis = chime_queue::connection::client(&settings.redis_url)?;
    let (status_tx, mut status) = tokio::sync::watch::channel(Status::default());
    let config = SchedulerConfig {
        resync_interval_ms: 3_600_000,
        ..SchedulerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let rss_before = rss_kib();
    let started = Instant::now();
    let scheduler = tokio::spawn(chime_scheduler::run(
        config,
        SchedulerDeps {
            pool: pool.clone(),
            redis: redis.clone(),
            keys: keys.clone(),
            node_id: format!("bench-{}", std::process::id()),
            status: status_tx,
        },
        shutdown.clone(),
    ));
    status.wait_for(|s| s.loaded).await?;
    let loaded = started.elapsed();
    status.wait_for(|s| s.epoch.is_some()).await?;
    let leading = started.elapsed();
    let rss_loaded = rss_kib();
    out += &format!("load into the scheduler: {:.2} s\n", loaded.as_secs_f64());
    out += &format!("lease taken: {:.2} s after start\n", leading.as_secs_f64());

    // The window: whole seconds from the first tick on.
    let first_tick = created_at.timestamp_millis() / 1000 * 1000 + 1000;
    if Utc::now().timestamp_millis() > first_tick {
        out += "note: the scheduler was ready only after the first tick; the window includes catch-up\n";
    }
    let start_ms = first_tick + 1000;
    let end_ms = start_ms + args.seconds as i64 * 1000;
    // Wait for the window to pass plus a margin for late appends.
    let wait_ms = (end_ms + 3000 - Utc::now().timestamp_millis()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let rss_end = rss_kib();
    let counters = status.borrow().clone();
    shutdown.cancel();
    scheduler.await.context("the scheduler task")??;

    let mut conn = chime_queue::connection::manager(&redis).await?;
    let stats = read_window(&mut conn, &keys, start_ms, end_ms, args.jitter_s).await;
    chime_queue::inspect::delete_prefix(&mut conn, &prefix).await?;
    let stats = stats?;

    // Job i fires at seconds s with s % period == i % period.
    let expected: usize = (0..args.seconds as i64)
        .map(|k| {
            let phase = ((start_ms / 1000 + k) % period as i64) as usize;
            n / period as usize + usize::from(phase < n % period as usize)
        })
        .sum();
    out += &format!(
        "window: {} s, {} ticks expected, {} emitted, {} missing, {} duplicates\n",
        args.seconds,
        expected,
        stats.count,
        expected.saturating_sub(stats.count),
        stats.duplicates
    );
    out += &format!(
        "sustained: {:.0} events/s\n",
        stats.count as f64 / args.seconds as f64
    );
    let mut bursts = stats.burst_ms.clone();
    bursts.sort_unstable();
    out += &format!(
        "all of a second's {} ticks appended within: median {} ms, max {} ms (after the tick)\n",
        n / period as usize,
        percentile(&bursts, 50.0),
        bursts.last().copied().unwrap_or_default()
    );
    for (name, mut values) in [
        ("lateness emitted_at - scheduled_at", stats.emitted_late),
        ("lateness appended - scheduled_at", stats.appended_late),
        ("lateness appended - due (tick + jitter)", stats.due_late),
    ] {
        values.sort_unstable();
        out += &format!(
            "{name}: p50 {} ms, p99 {} ms, max {} ms\n",
            percentile(&values, 50.0),
            percentile(&values, 99.0),
            values.last().copied().unwrap_or_default()
        );
    }
    out += &format!(
        "scheduler counters: emitted {}, skipped {}, missed {}, duplicates {}\n",
        counters.emitted, counters.skipped, counters.missed, counters.duplicates
    );
    out += &format!(
        "resident memory: {} MiB before start, {} MiB loaded, {} MiB at the end\n",
        rss_before / 1024,
        rss_loaded / 1024,
        rss_end / 1024
    );
    Ok(out)
}

fn spec(i: usize, period: u32, jitter_s: u64) -> JobSpec {
    let second = i as u32 % period;
    let schedule = if period == 1 {
        "* * * * * *".to_owned()
    } else {
        format!("{second}/{period} * * * * *")
    };
    JobSpec {
        name: format!("bench-{i}"),
        schedule,
        timezone: "UTC".to_owned(),
        queue: QUEUE.to_owned(),
        target: Target::Shell(ShellTarget {
            command: vec!["true".to_owned()],
            env: Default::default(),
            cwd: None,
        }),
        timeout_s: 60,
        retry: Default::default(),
        overlap: Default::default(),
        catchup: Catchup {
            policy: CatchupPolicy::None,
            window_s: 60,
        },
        starting_deadline_s: None,
        jitter_s,
        paused: false,
        labels: Default::default(),
        description: None,
    }
}

#[derive(Debug, Default)]
struct Window {
    count: usize,
    duplicates: usize,
    emitted_late: Vec<i64>,
    appended_late: Vec<i64>,
    /// Appended minus due (the tick plus its jitter).
    due_late: Vec<i64>,
    /// Per second of the window: the last append after the tick (ms).
    burst_ms: Vec<i64>,
}

/// The fields of an event the bench looks at.
#[derive(Deserialize)]
struct Seen {
    run_id: Uuid,
    job_id: Uuid,
    scheduled_at: i64,
    emitted_at: i64,
}

async fn read_window(
    conn: &mut redis::aio::ConnectionManager,
    keys: &Keys,
    start_ms: i64,
    end_ms: i64,
    jitter_s: u64,
) -> anyhow::Result<Window> {
    let stream = keys.queue(QUEUE);
    let mut window = Window::default();
    let seconds = ((end_ms - start_ms) / 1000) as usize;
    let mut last_append = vec![i64::MIN; seconds];
    let mut runs = HashSet::new();
    let mut after = "-".to_owned();
    loop {
        let page = chime_queue::inspect::read_page(conn, &stream, &after, 10_000).await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = last.clone();
        for (id, json) in page {
            let seen: Seen = serde_json::from_str(&json).context("an event in the stream")?;
            if seen.scheduled_at < start_ms || seen.scheduled_at >= end_ms {
                continue;
            }
            if !runs.insert(seen.run_id) {
                window.duplicates += 1;
                continue;
            }
            let appended = chime_queue::inspect::entry_ms(&id).unwrap_or(seen.emitted_at);
            window.count += 1;
            window
                .emitted_late
                .push(seen.emitted_at - seen.scheduled_at);
            window.appended_late.push(appended - seen.scheduled_at);
            let due = seen.scheduled_at
                + chime_scheduler::jitter_delay_ms(seen.job_id, seen.scheduled_at, jitter_s);
            window.due_late.push(appended - due);
            let slot = ((seen.scheduled_at - start_ms) / 1000) as usize;
            last_append[slot] = last_append[slot].max(appended - seen.scheduled_at);
        }
    }
    window.burst_ms = last_append.into_iter().filter(|v| *v != i64::MIN).collect();
    Ok(window)
}

/// This process's resident memory (KiB), from /proc.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_default()
}
