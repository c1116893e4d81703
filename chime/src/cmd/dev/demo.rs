//! The demo data set of `chime dev --demo`: jobs a small operations team
//! might run, with some that fail, some that run long, HTTP and event
//! targets, and a paused one. Loading is an upsert by name, so running
//! `--demo` again changes nothing.

use std::collections::BTreeMap;

use anyhow::Context;
use chime_core::job::{EventTarget, HttpTarget, ShellTarget};
use chime_core::{Catchup, CatchupPolicy, JobSpec, OverlapPolicy, RetryPolicy, Target};

use crate::config::Settings;

/// Upserts the demo jobs and returns how many there are.
pub(crate) async fn load(pool: &sqlx::PgPool, settings: &Settings) -> anyhow::Result<usize> {
    let jobs = jobs(&settings.listen);
    let now = chrono::Utc::now();
    for spec in &jobs {
        spec.validate(now)
            .with_context(|| format!("demo job {} is invalid", spec.name))?;
        chime_store::jobs::upsert_by_name(pool, uuid::Uuid::now_v7(), spec, now)
            .await
            .with_context(|| format!("loading demo job {}", spec.name))?;
    }
    Ok(jobs.len())
}

fn shell(script: &str) -> Target {
    Target::Shell(ShellTarget {
        command: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
        env: BTreeMap::new(),
        cwd: None,
    })
}

fn job(name: &str, schedule: &str, target: Target, team: &str, description: &str) -> JobSpec {
    JobSpec {
        name: name.to_owned(),
        schedule: schedule.to_owned(),
        timezone: "UTC".to_owned(),
        queue: "default".to_owned(),
        target,
        timeout_s: 60,
        retry: RetryPolicy::default(),
        overlap: OverlapPolicy::Forbid,
        catchup: Catchup {
            policy: CatchupPolicy::Latest,
            window_s: 3600,
        },
        starting_deadline_s: None,
        jitter_s: 0,
        paused: false,
        labels: BTreeMap::from([
            ("team".to_owned(), team.to_owned()),
            ("demo".to_owned(), "true".to_owned()),
        ]),
        description: Some(description.to_owned()),
    }
}

fn jobs(listen: &str) -> Vec<JobSpec> {
    let mut jobs = vec![
        job(
            "heartbeat",
            "*/5 * * * * *",
            shell("echo alive"),
            "platform",
            "Says it is alive every five seconds",
        ),
        job(
            "disk-usage",
            "*/15 * * * * *",
            shell("df -h / | tail -n 1"),
            "platform",
            "Samples disk usage",
        ),
        job(
            "flaky-export",
            "*/20 * * * * *",
            shell(
                "test $(( $(date +%s) % 3 )) -ne 0 || { echo 'upstream timed out' >&2; exit 2; }",
            ),
            "billing",
            "Fails about a third of the time",
        ),
        job(
            "always-fails",
            "*/30 * * * * *",
            shell("echo 'missing credentials' >&2; exit 1"),
            "billing",
            "A job that keeps failing, to see failures",
        ),
        job(
            "long-report",
            "0 * * * * *",
            shell("echo building; sleep 25; echo done"),
            "analytics",
            "Runs for 25 seconds every minute",
        ),
        job(
            "slow-and-forbidden",
            "*/10 * * * * *",
            shell("sleep 14"),
            "analytics",
            "Overlaps itself; overlap forbid skips ticks",
        ),
        job(
            "nightly-backup",
            "0 30 2 * * *",
            shell("echo backing up"),
            "platform",
            "Fires at 02:30 Berlin time",
        ),
        job(
            "weekday-standup",
            "0 0 9 * * MON-FRI",
            shell("echo standup"),
            "people",
            "09:00 New York on weekdays",
        ),
        job(
            "month-end-close",
            "0 0 18 L * *",
            shell("echo closing books"),
            "finance",
            "Last day of every month",
        ),
        job(
            "every-90s",
            "@every 90s",
            shell("echo tick"),
            "platform",
            "A fixed interval from creation",
        ),
    ];
    jobs[6].timezone = "Europe/Berlin".to_owned();
    jobs[7].timezone = "America/New_York".to_owned();
    jobs[2].retry = RetryPolicy {
        max_attempts: 3,
        backoff_initial_ms: 1000,
        backoff_max_ms: 5000,
    };
    jobs[4].overlap = OverlapPolicy::Allow;
    let mut health = job(
        "api-health-probe",
        "*/10 * * * * *",
        Target::Http(HttpTarget {
            method: "GET".to_owned(),
            url: format!("http://{listen}/healthz"),
            headers: BTreeMap::new(),
            body: None,
            expect_status: None,
        }),
        "platform",
        "Checks this API over HTTP",
    );
    health.timeout_s = 5;
    jobs.push(health);
    jobs.push(job(
        "billing-cycle-event",
        "*/30 * * * * *",
        Target::Event(EventTarget {
            stream: "billing".to_owned(),
            payload: serde_json::json!({"kind": "cycle", "region": "eu"}),
        }),
        "billing",
        "Publishes an event for other services",
    ));
    let mut paused = job(
        "legacy-sync",
        "*/5 * * * *",
        shell("echo sync"),
        "platform",
        "Paused while the vendor migrates",
    );
    paused.paused = true;
    jobs.push(paused);
    // A spread of small jobs, so the job list has pages and filters matter.
    for (i, team) in ["search", "growth", "ml", "security"]
        .iter()
        .cycle()
        .take(24)
        .enumerate()
    {
        let second = (i * 7) % 60;
        jobs.push(job(
            &format!("{team}-task-{i:02}"),
            &format!("{second} */{} * * * *", 1 + i % 3),
            shell(&format!("echo '{team} task {i}'")),
            team,
            "Routine work",
        ));
    }
    jobs
}
