//! The state machine with an injected clock: arming, catch-up on takeover,
//! pause and resume, edits, jitter, one-shots, DST, resyncs and retries.

use chime_core::job::ShellTarget;
use chime_core::{Catchup, CatchupPolicy, JobSpec, Target};
use chime_store::StoredJob;
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::catchup::{Late, MissReason};

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn job(id: u128, schedule: &str, tz: &str, created: DateTime<Utc>) -> StoredJob {
    StoredJob {
        id: Uuid::from_u128(id),
        version: 1,
        spec: JobSpec {
            name: format!("job-{id}"),
            schedule: schedule.to_owned(),
            timezone: tz.to_owned(),
            queue: "default".to_owned(),
            target: Target::Shell(ShellTarget {
                command: vec!["true".to_owned()],
                env: Default::default(),
                cwd: None,
            }),
            timeout_s: 60,
            retry: Default::default(),
            overlap: Default::default(),
            catchup: Catchup {
                policy: CatchupPolicy::All,
                window_s: 3600,
            },
            starting_deadline_s: None,
            jitter_s: 0,
            paused: false,
            labels: [("team".to_owned(), "x".to_owned())].into(),
            description: Some("words".to_owned()),
        },
        paused_reason: None,
        created_at: created,
        updated_at: created,
        deleted_at: None,
    }
}

fn edited(mut stored: StoredJob, f: impl FnOnce(&mut JobSpec)) -> StoredJob {
    stored.version += 1;
    f(&mut stored.spec);
    stored
}

/// A leading engine holding `jobs`, cursors read as `cursor` for every job.
fn leading(jobs: Vec<StoredJob>, cursor: Option<i64>, now: i64) -> Engine {
    let mut engine = Engine::new(1000, 1000);
    engine.begin_resync();
    engine.resync_page(jobs, now);
    engine.end_resync();
    engine.take_over();
    let ids = engine.take_needs_cursor(usize::MAX);
    let cursors: Vec<(Uuid, Option<i64>)> = ids.iter().map(|id| (*id, cursor)).collect();
    engine.cursors_loaded(&cursors, now);
    engine
}

/// Runs the clock from `from` to `until`, emitting and acknowledging what
/// falls due; returns `(emitted at, item)` in order.
fn drive(engine: &mut Engine, from: i64, until: i64) -> Vec<(i64, Late)> {
    let mut out = Vec::new();
    let mut now = from;
    loop {
        for batch in engine.take_due(now, 10_000) {
            out.extend(batch.items.iter().map(|item| (now, *item)));
            engine.acked(batch, true, now);
        }
        match engine.next_wake() {
            Some(wake) if wake <= until => now = now.max(wake),
            _ => return out,
        }
    }
}

fn emitted(items: &[(i64, Late)]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|(_, item)| match item {
            Late::Emit(t) => Some(*t),
            Late::Missed(..) => None,
        })
        .collect()
}

#[test]
fn a_new_job_fires_from_its_creation_on_and_the_cache_is_slim() {
    let created = utc(2027, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(500);
    let mut engine = leading(vec![], None, ms(created));
    engine.change(
        Uuid::from_u128(1),
        Some(job(1, "*/10 * * * * *", "UTC", created)),
        ms(created),
    );
    assert!(engine.wants_cursors());
    let ids = engine.take_needs_cursor(10);
    engine.cursors_loaded(&[(ids[0], None)], ms(created) + 20);
    let cached = engine.job(&ids[0]).unwrap();
    assert_eq!(
        (&*cached.spec.name, &*cached.spec.queue),
        ("job-1", "default")
    );
    let items = drive(&mut engine, ms(created), ms(utc(2027, 1, 1, 0, 0, 30)));
    assert_eq!(
        items,
        [10, 20, 30]
            .map(|s| {
                let t = ms(utc(2027, 1, 1, 0, 0, s));
                (t, Late::Emit(t))
            })
            .to_vec()
    );
}

#[test]
fn taking_over_catches_up_from_the_cursors() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let now = ms(t0) + 10_000;
    let mut all = job(1, "* * * * * *", "UTC", t0);
    all.spec.catchup.policy = CatchupPolicy::All;
    let mut latest = job(2, "* * * * * *", "UTC", t0);
    latest.spec.catchup.policy = CatchupPolicy::Latest;
    let mut none = job(3, "* * * * * *", "UTC", t0);
    none.spec.catchup.policy = CatchupPolicy::None;
    let mut engine = leading(vec![all, latest, none], Some(ms(t0)), now);
    let mut batches = engine.take_due(now, 10_000);
    batches.sort_by_key(|b| b.job_id);
    // Ticks 1..=9 s are late (grace 1 s); the one at 10 s is on time.
    let ticks = |b: &Batch| -> Vec<(i64, bool)> {
        b.items
            .iter()
            .map(|i| ((i.tick_ms() - ms(t0)) / 1000, matches!(i, Late::Emit(_))))
            .collect()
    };
    assert_eq!(
        ticks(&batches[0]),
        (1..=9).map(|s| (s, true)).collect::<Vec<_>>()
    );
    let mut want: Vec<(i64, bool)> = (1..=8).map(|s| (s, false)).collect();
    want.push((9, true));
    assert_eq!(ticks(&batches[1]), want);
    assert_eq!(
        ticks(&batches[2]),
        (1..=9).map(|s| (s, false)).collect::<Vec<_>>()
    );
    assert!(matches!(
        batches[2].items[0],
        Late::Missed(_, MissReason::Policy)
    ));
    // Nothing else goes out for these jobs until their batches are done.
    assert!(engine.take_due(now + 5000, 10_000).is_empty());
    for batch in batches {
        engine.acked(batch, true, now);
    }
    let next = engine.take_due(now, 10_000);
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|b| b.items == [Late::Emit(now)]));
}

#[test]
fn a_failed_batch_is_sent_again_before_anything_newer() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let mut engine = leading(vec![job(1, "* * * * * *", "UTC", t0)], Some(ms(t0)), ms(t0));
    let first = engine.take_due(ms(t0) + 1000, 10).pop().unwrap();
    engine.acked(first.clone(), false, ms(t0) + 1000);
    // Time passes; the retry comes first and alone.
    let again = engine.take_due(ms(t0) + 3000, 10);
    assert_eq!(again, [first]);
    engine.acked(again[0].clone(), true, ms(t0) + 3000);
    // Then the next tick after it (2 s), not one after the retry's time.
    let next = engine.take_due(ms(t0) + 3000, 10);
    assert_eq!(next[0].items, [Late::Emit(ms(t0) + 2000)]);
}

#[test]
fn pause_stops_emission_and_resume_follows_the_catch_up_policy() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let mut stored = job(1, "* * * * * *", "UTC", t0);
    stored.spec.catchup.policy = CatchupPolicy::Latest;
    let mut engine = leading(vec![stored.clone()], Some(ms(t0)), ms(t0));
    assert_eq!(emitted(&drive(&mut engine, ms(t0), ms(t0) + 2000)).len(), 2);

    let paused = edited(stored, |s| s.paused = true);
    engine.change(paused.id, Some(paused.clone()), ms(t0) + 2500);
    assert!(drive(&mut engine, ms(t0) + 2500, ms(t0) + 20_000).is_empty());

    let resumed = edited(paused, |s| s.paused = false);
    let now = ms(t0) + 20_500;
    engine.change(resumed.id, Some(resumed), now);
    let items = drive(&mut engine, now, now + 1000);
    // Late: 3..=19 s. Latest emits 19 s and reports 3..=18 s; then on time 20 s, 21 s.
    let missed = items
        .iter()
        .filter(|(_, i)| matches!(i, Late::Missed(..)))
        .count();
    assert_eq!(missed, 16);
    assert_eq!(
        emitted(&items),
        [19_000, 20_000, 21_000].map(|d| ms(t0) + d).to_vec()
    );
}

#[test]
fn an_edited_schedule_starts_now_and_other_edits_keep_the_armed_tick() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let stored = job(1, "0 * * * * *", "UTC", t0);
    let mut engine = leading(vec![stored.clone()], Some(ms(t0)), ms(t0));
    // Changing the timeout keeps the 00:01:00 tick.
    let v2 = edited(stored, |s| s.timeout_s = 5);
    engine.change(v2.id, Some(v2.clone()), ms(t0) + 30_000);
    assert_eq!(engine.next_wake(), Some(ms(t0) + 60_000));
    // Every second from 00:00:30 on: no tick between the cursor and now is late.
    let v3 = edited(v2, |s| s.schedule = "* * * * * *".to_owned());
    engine.change(v3.id, Some(v3), ms(t0) + 30_200);
    let items = drive(&mut engine, ms(t0) + 30_200, ms(t0) + 32_000);
    assert_eq!(
        emitted(&items),
        [31_000, 32_000].map(|d| ms(t0) + d).to_vec()
    );
    assert_eq!(engine.job(&Uuid::from_u128(1)).unwrap().version, 3);
}

#[test]
fn jitter_delays_emission_but_not_the_tick() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let mut stored = job(1, "0 * * * * *", "UTC", t0);
    stored.spec.jitter_s = 30;
    let id = stored.id;
    let mut engine = leading(vec![stored], Some(ms(t0)), ms(t0));
    let tick = ms(t0) + 60_000;
    let delay = jitter::delay_ms(id, tick, 30);
    assert!((0..30_000).contains(&delay));
    assert_eq!(engine.next_wake(), Some(tick + delay));
    if delay > 0 {
        assert!(engine.take_due(tick + delay - 1, 10).is_empty());
    }
    let batch = engine.take_due(tick + delay, 10);
    assert_eq!(batch[0].items, [Late::Emit(tick)]);
}

#[test]
fn a_one_shot_fires_once() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let stored = job(1, "@at 2027-01-01T00:00:05Z", "UTC", t0);
    let mut engine = leading(vec![stored], None, ms(t0));
    let items = drive(&mut engine, ms(t0), ms(t0) + 3_600_000);
    assert_eq!(emitted(&items), [ms(t0) + 5000]);
    assert_eq!(engine.next_wake(), None);
    // A new leader with the cursor at the shot does not fire it again.
    let stored = job(1, "@at 2027-01-01T00:00:05Z", "UTC", t0);
    let mut engine = leading(vec![stored], Some(ms(t0) + 5000), ms(t0) + 10_000);
    assert!(drive(&mut engine, ms(t0) + 10_000, ms(t0) + 3_600_000).is_empty());
}

#[test]
fn fixed_time_jobs_fire_once_across_dst_changes_and_interval_jobs_follow_the_clock() {
    // New York springs forward on 2027-03-14 (02:00 -> 03:00) and falls back
    // on 2027-11-07 (02:00 -> 01:00).
    let t0 = utc(2027, 3, 12, 0, 0, 0);
    let fixed = job(1, "0 30 2 * * *", "America/New_York", t0);
    let mut engine = leading(vec![fixed], None, ms(t0));
    let items = drive(&mut engine, ms(t0), ms(utc(2027, 3, 16, 0, 0, 0)));
    assert_eq!(
        emitted(&items),
        [
            utc(2027, 3, 12, 7, 30, 0),
            utc(2027, 3, 13, 7, 30, 0),
            // The gap: once, when it ends (03:00 EDT).
            utc(2027, 3, 14, 7, 0, 0),
            utc(2027, 3, 15, 6, 30, 0),
        ]
        .map(ms)
        .to_vec()
    );

    let t1 = utc(2027, 11, 7, 4, 0, 0);
    let fixed = job(2, "0 30 1 * * *", "America/New_York", t1);
    let interval = job(3, "0 0,30 1 * * *", "America/New_York", t1);
    let mut engine = leading(vec![fixed, interval], None, ms(t1));
    let items = drive(&mut engine, ms(t1), ms(utc(2027, 11, 7, 12, 0, 0)));
    let mut ticks: Vec<i64> = emitted(&items);
    ticks.sort();
    assert_eq!(
        ticks,
        [
            utc(2027, 11, 7, 5, 0, 0),  // 01:00 EDT, interval
            utc(2027, 11, 7, 5, 30, 0), // 01:30 EDT, interval and fixed-time
            utc(2027, 11, 7, 5, 30, 0),
            utc(2027, 11, 7, 6, 0, 0),  // 01:00 EST, interval only
            utc(2027, 11, 7, 6, 30, 0), // 01:30 EST, interval only
        ]
        .map(ms)
        .to_vec()
    );
}

#[test]
fn a_resync_removes_vanished_jobs_and_never_resurrects_a_deleted_one() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let (a, b, c) = (
        job(1, "* * * * * *", "UTC", t0),
        job(2, "* * * * * *", "UTC", t0),
        job(3, "* * * * * *", "UTC", t0),
    );
    let mut engine = Engine::new(1000, 1000);
    engine.begin_resync();
    engine.resync_page(vec![a.clone(), b.clone(), c.clone()], ms(t0));
    assert_eq!(engine.end_resync(), 0);
    assert_eq!(engine.len(), 3);

    // Next resync: its page was read before `b` was deleted, and `c` is gone
    // from Postgres (a lost notification).
    engine.begin_resync();
    engine.change(b.id, None, ms(t0));
    engine.resync_page(vec![a.clone(), b.clone()], ms(t0));
    assert_eq!(engine.end_resync(), 1);
    assert!(engine.job(&a.id).is_some());
    assert!(engine.job(&b.id).is_none());
    assert!(engine.job(&c.id).is_none());

    // An older version never replaces a newer one.
    let a2 = edited(a.clone(), |s| s.timeout_s = 9);
    engine.change(a2.id, Some(a2), ms(t0));
    engine.upsert(a, ms(t0));
    assert_eq!(engine.job(&Uuid::from_u128(1)).unwrap().spec.timeout_s, 9);
}

#[test]
fn stepping_down_drops_everything_armed_and_stale_acks_are_ignored() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let mut engine = leading(vec![job(1, "* * * * * *", "UTC", t0)], Some(ms(t0)), ms(t0));
    let batch = engine.take_due(ms(t0) + 1000, 10).pop().unwrap();
    engine.step_down();
    assert!(engine.take_due(ms(t0) + 5000, 10).is_empty());
    engine.take_over();
    engine.acked(batch, true, ms(t0) + 5000);
    assert_eq!(engine.next_wake(), None);
    assert_eq!(engine.take_needs_cursor(10), [Uuid::from_u128(1)]);
}

#[test]
fn shared_schedules_are_parsed_once() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let jobs: Vec<StoredJob> = (0..100).map(|i| job(i, "*/5 * * * *", "UTC", t0)).collect();
    let engine = leading(jobs, None, ms(t0));
    let first = &engine.job(&Uuid::from_u128(0)).unwrap().schedule;
    let last = &engine.job(&Uuid::from_u128(99)).unwrap().schedule;
    assert!(Arc::ptr_eq(first, last));
}

#[test]
fn a_version_resync_fetches_only_what_changed_and_drops_what_vanished() {
    let t0 = utc(2027, 1, 1, 0, 0, 0);
    let (a, b, c) = (
        job(1, "* * * * * *", "UTC", t0),
        job(2, "* * * * * *", "UTC", t0),
        job(3, "* * * * * *", "UTC", t0),
    );
    let mut engine = Engine::new(1000, 1000);
    engine.begin_resync();
    engine.resync_page(vec![a.clone(), b.clone(), c.clone()], ms(t0));
    engine.end_resync();

    // In Postgres now: a unchanged, b at version 2, c gone, d new.
    let d = job(4, "* * * * * *", "UTC", t0);
    engine.begin_resync();
    let stale = engine.resync_versions(&[(a.id, 1), (b.id, 2), (d.id, 1)]);
    assert_eq!(stale, [b.id, d.id]);
    let b2 = edited(b, |s| s.timeout_s = 7);
    engine.resync_page(vec![b2, d.clone()], ms(t0));
    assert_eq!(engine.end_resync(), 1);
    assert!(engine.job(&c.id).is_none());
    assert_eq!(engine.job(&Uuid::from_u128(2)).unwrap().spec.timeout_s, 7);
    assert!(engine.job(&a.id).is_some() && engine.job(&d.id).is_some());
}

#[test]
fn a_job_without_a_cursor_looks_back_no_further_than_its_window() {
    // Created a day ago, never emitted (a first deployment, or lost cursors).
    let now = utc(2027, 1, 2, 0, 0, 0);
    let mut stored = job(1, "0 * * * * *", "UTC", now - chrono::Duration::days(1));
    stored.spec.catchup = Catchup {
        policy: CatchupPolicy::None,
        window_s: 300,
    };
    let mut engine = leading(vec![stored], None, ms(now));
    let batches = engine.take_due(ms(now), 100_000);
    // Only the minutes of the last five are reported, not a day's 1440.
    let missed: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.items.iter().map(|i| i.tick_ms()))
        .collect();
    assert_eq!(
        missed,
        (1..=4)
            .rev()
            .map(|m| ms(now) - m * 60_000)
            .collect::<Vec<_>>()
    );
}
