//! The command line itself: `chime schedule next`, `chime migrate`, and
//! refusal of bad settings before anything starts.

use std::process::Output;

use crate::harness::{TestDb, chime_command};

fn run(args: &[&str]) -> Output {
    chime_command().args(args).output().expect("running chime")
}

#[test]
fn schedule_next_prints_utc_and_local_times() {
    let out = run(&[
        "schedule",
        "next",
        "0 30 2 * * *",
        "--tz",
        "America/New_York",
        "-n",
        "3",
        "--after",
        "2027-03-13T00:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "2027-03-13T07:30:00Z  2027-03-13T02:30:00-05:00",
            // Spring forward: 02:30 does not exist; a fixed-time job fires when the gap ends.
            "2027-03-14T07:00:00Z  2027-03-14T03:00:00-04:00",
            "2027-03-15T06:30:00Z  2027-03-15T02:30:00-04:00",
        ]
    );
}

#[test]
fn schedule_next_refuses_a_bad_expression_with_the_engines_message() {
    let out = run(&["schedule", "next", "0 0 32 * *"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("day-of-month: 32 is out of range 1-31"),
        "stderr: {stderr}"
    );
}

#[test]
fn schedule_next_refuses_an_unknown_time_zone() {
    let out = run(&["schedule", "next", "* * * * *", "--tz", "Mars/Olympus"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("timezone: 'Mars/Olympus' is not an IANA time zone"),
        "stderr: {stderr}"
    );
}

#[test]
fn bad_settings_stop_before_anything_starts_and_name_the_setting() {
    let out = run(&["--redis-url", "http://nope", "migrate"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("redis_url"), "stderr: {stderr}");
}

#[tokio::test]
async fn migrate_applies_the_schema_to_an_empty_database_and_is_idempotent() {
    let db = TestDb::create_empty().await;
    for _ in 0..2 {
        // Global flags stand after the subcommand too.
        let out = run(&["migrate", "--database-url", &db.url]);
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("listing tables");
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "job_versions",
            "jobs",
            "run_attempts",
            "runs"
        ]
    );
}
