//! How long `Schedule::next_after` takes, one bench id per kind of schedule.
//!
//! Each iteration asks from the next of 64 instants spread over 2026 (odd
//! offsets, so they rarely sit on a fire), so a result is an average over
//! many positions in the calendar and not one lucky start.

use std::hint::black_box;
use std::time::Duration;

use chime_core::Schedule;
use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_main};

/// (bench id, expression, time zone).
const SCHEDULES: &[(&str, &str, &str)] = &[
    ("every_5_minutes", "*/5 * * * *", "UTC"),
    ("daily_0230_berlin", "0 30 2 * * *", "Europe/Berlin"),
    ("business_hours", "0 9-17 * * MON-FRI", "UTC"),
    ("leap_day", "0 0 29 2 *", "UTC"),
    ("last_day_of_month", "0 0 L * *", "UTC"),
    ("every_90s", "@every 90s", "UTC"),
    ("every_second", "* * * * * *", "UTC"),
    ("second_monday", "0 0 * * MON#2", "UTC"),
];

fn starts() -> Vec<DateTime<Utc>> {
    let base = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid instant");
    // 5 days, 17 hours, 13 minutes and 7 seconds apart.
    let step = Duration::from_secs(5 * 86_400 + 17 * 3_600 + 13 * 60 + 7);
    (0..64u32).map(|i| base + step * i).collect()
}

fn next_after(c: &mut Criterion) {
    let starts = starts();
    let anchor = starts[0];
    let mut group = c.benchmark_group("next_after");
    for &(id, expr, tz) in SCHEDULES {
        let schedule = Schedule::parse(expr, tz, anchor).expect("valid schedule");
        let mut i = 0;
        group.bench_function(id, |b| {
            b.iter(|| {
                i = (i + 1) % starts.len();
                schedule.next_after(black_box(starts[i]))
            })
        });
    }
    group.finish();
}

/// The group, by hand rather than through `criterion_group!`, whose function
/// carries no doc comment: short warm-up and measurement keep the run under a
/// minute.
fn benches() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    next_after(&mut criterion);
}

criterion_main!(benches);
