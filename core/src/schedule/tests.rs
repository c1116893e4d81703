//! Schedule tests: a table of hand-computed fires, refused expressions, and property tests.
//!
//! Every expected instant below was worked out by hand from the calendar and
//! the zone's DST rules, never by running the engine; the comment above each
//! group says which facts it rests on. [`tz_data_has_the_transitions_the_cases_assume`]
//! pins those DST facts down against the bundled tz data, so a tzdata change
//! shows up there and not as a puzzling schedule failure.
//!
//! Calendar facts used throughout: 2026-01-01 is a Thursday, 2027-01-01 a
//! Friday; 2028 and 2032 are leap years, 2100 is not.

use chrono::{DateTime, Offset, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Schedule, ScheduleClass, ScheduleError};

/// The anchor every table case parses with; only `@every` looks at it. Its
/// fraction of a second must be dropped: the grid is 12:00:00 + k * interval.
const ANCHOR: &str = "2026-03-01T12:00:00.900Z";

/// Ends an expectation: the schedule has no fires after the ones listed.
const END: &str = "END";

#[track_caller]
fn at(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("test instant {text:?} is not RFC 3339: {e}"),
    }
}

fn show(instants: &[DateTime<Utc>]) -> Vec<String> {
    instants
        .iter()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .collect()
}

#[track_caller]
fn parse(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, tz, at(ANCHOR))
        .unwrap_or_else(|e| panic!("{expr:?} in {tz} was refused: {e}"))
}

/// The next fires of `expr` in `tz` strictly after `after` are exactly
/// `expect` (RFC 3339, compared as UTC instants); a trailing [`END`] says
/// there are no more. Walking back with `prev_before` must meet the same
/// fires, and nothing between `after` and the first one.
#[track_caller]
fn check(expr: &str, tz: &str, after: &str, expect: &[&str]) {
    let schedule = parse(expr, tz);
    let (expect, ends) = match expect.split_last() {
        Some((&END, rest)) => (rest, true),
        _ => (expect, false),
    };
    let want: Vec<DateTime<Utc>> = expect.iter().map(|text| at(text)).collect();
    let got = schedule.next_n(at(after), want.len() + usize::from(ends));
    assert_eq!(
        show(&got),
        show(&want),
        "next fires of {expr:?} in {tz} after {after}"
    );
    for pair in got.windows(2) {
        assert_eq!(
            schedule.prev_before(pair[1]).map(|t| show(&[t])),
            Some(show(&pair[..1])),
            "prev_before({}) of {expr:?} in {tz}",
            pair[1]
        );
    }
    if let Some(first) = got.first() {
        if let Some(prev) = schedule.prev_before(*first) {
            assert!(
                prev <= at(after),
                "prev_before({first}) of {expr:?} in {tz} is {prev}, a fire after {after} that next_after skipped"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// DST. Fixed-time schedules: a time in the gap fires once when the gap ends, a
// time in the repeated range fires once, at its first pass. Interval
// schedules: matches in the gap are skipped, the repeated range fires in both
// passes.
// ---------------------------------------------------------------------------

/// America/New_York 2026: Sunday 8 March 02:00 EST -> 03:00 EDT (07:00Z);
/// Sunday 1 November 02:00 EDT -> 01:00 EST (06:00Z), 01:00-01:59 twice.
#[test]
fn dst_new_york() {
    let ny = "America/New_York";
    // 02:30:30 does not exist on 8 March; the gap ends at 03:00:00 EDT.
    check(
        "30 30 2 * * *",
        ny,
        "2026-03-07T12:00:00Z",
        &["2026-03-08T07:00:00Z", "2026-03-09T06:30:30Z"],
    );
    // Right up to the end of the gap, and from it.
    check(
        "30 30 2 * * *",
        ny,
        "2026-03-08T06:59:59Z",
        &["2026-03-08T07:00:00Z"],
    );
    check(
        "30 30 2 * * *",
        ny,
        "2026-03-08T07:00:00Z",
        &["2026-03-09T06:30:30Z"],
    );
    // 02:00:00 is the first second of the gap.
    check(
        "0 2 * * *",
        ny,
        "2026-03-08T00:00:00Z",
        &["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"],
    );
    // 01:30 on 1 November: first pass only (EDT), not 06:30Z.
    check(
        "0 30 1 * * *",
        ny,
        "2026-10-31T12:00:00Z",
        &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    );
    // From inside the second pass there is no second fire that day.
    check(
        "0 30 1 * * *",
        ny,
        "2026-11-01T06:15:00Z",
        &["2026-11-02T06:30:00Z"],
    );
    // Interval: 02:00 and 02:30 are skipped.
    check(
        "*/30 * * * *",
        ny,
        "2026-03-08T06:00:00Z",
        &[
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:30:00Z",
        ],
    );
    // Interval: 01:00 and 01:30 in both passes.
    check(
        "*/30 * * * *",
        ny,
        "2026-11-01T04:50:00Z",
        &[
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:00:00Z",
        ],
    );
    // An hour range is an interval: 02:00 is skipped in spring ...
    check(
        "0 0-3 * * *",
        ny,
        "2026-03-08T04:00:00Z",
        &[
            "2026-03-08T05:00:00Z",
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T04:00:00Z",
        ],
    );
    // ... and 01:00 fires twice in autumn.
    check(
        "0 0-3 * * *",
        ny,
        "2026-11-01T03:00:00Z",
        &[
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z",
            "2026-11-02T05:00:00Z",
        ],
    );
    // A time outside the changes keeps its wall clock: 09:00 EST, then EDT.
    check(
        "0 9 * * *",
        ny,
        "2026-03-07T00:00:00Z",
        &["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"],
    );
    check(
        "0 9 * * *",
        ny,
        "2026-10-31T00:00:00Z",
        &["2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z"],
    );
}

/// Europe/Berlin 2026: Sunday 29 March 02:00 CET -> 03:00 CEST (01:00Z);
/// Sunday 25 October 03:00 CEST -> 02:00 CET (01:00Z), 02:00-02:59 twice.
#[test]
fn dst_berlin() {
    let berlin = "Europe/Berlin";
    check(
        "0 30 2 * * *",
        berlin,
        "2026-03-28T12:00:00Z",
        &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
    );
    check(
        "0 30 2 * * *",
        berlin,
        "2026-10-24T12:00:00Z",
        &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
    );
    // Interval: 02:00 and 02:30 CET never happen.
    check(
        "0,30 * * * *",
        berlin,
        "2026-03-29T00:15:00Z",
        &[
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
        ],
    );
    // Interval wholly inside the gap: nothing on the 29th.
    check(
        "*/20 2 * * *",
        berlin,
        "2026-03-28T12:00:00Z",
        &[
            "2026-03-30T00:00:00Z",
            "2026-03-30T00:20:00Z",
            "2026-03-30T00:40:00Z",
        ],
    );
    // Interval wholly inside the repeat: both passes.
    check(
        "*/20 2 * * *",
        berlin,
        "2026-10-24T12:00:00Z",
        &[
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:20:00Z",
            "2026-10-25T00:40:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:20:00Z",
            "2026-10-25T01:40:00Z",
            "2026-10-26T01:00:00Z",
        ],
    );
}

/// Australia/Lord_Howe 2026, a 30-minute shift: Sunday 4 October 02:00
/// +10:30 -> 02:30 +11 (3 October 15:30Z); Sunday 5 April 02:00 +11 -> 01:30
/// +10:30 (4 April 15:00Z), 01:30-01:59 twice.
#[test]
fn dst_lord_howe() {
    let lh = "Australia/Lord_Howe";
    // 02:15 is in the half-hour gap.
    check(
        "0 15 2 * * *",
        lh,
        "2026-10-03T00:00:00Z",
        &["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"],
    );
    // 02:30 is the first wall time after the gap, so it is not moved.
    check(
        "0 30 2 * * *",
        lh,
        "2026-10-03T00:00:00Z",
        &["2026-10-03T15:30:00Z", "2026-10-04T15:30:00Z"],
    );
    check(
        "*/10 2 * * *",
        lh,
        "2026-10-03T14:00:00Z",
        &[
            "2026-10-03T15:30:00Z",
            "2026-10-03T15:40:00Z",
            "2026-10-03T15:50:00Z",
            "2026-10-04T15:00:00Z",
        ],
    );
    // 01:45 comes twice; the fixed time fires at the +11 one.
    check(
        "0 45 1 * * *",
        lh,
        "2026-04-04T00:00:00Z",
        &["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"],
    );
    // 01:00 and 01:15 once, 01:30 and 01:45 twice.
    check(
        "*/15 1 * * *",
        lh,
        "2026-04-04T14:00:00Z",
        &[
            "2026-04-04T14:15:00Z",
            "2026-04-04T14:30:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:15:00Z",
            "2026-04-05T14:30:00Z",
        ],
    );
}

/// Pacific/Chatham 2026, +12:45 / +13:45: Sunday 27 September 02:45 ->
/// 03:45 (26 September 14:00Z); Sunday 5 April 03:45 -> 02:45 (4 April
/// 14:00Z), 02:45-03:44 twice.
#[test]
fn dst_chatham() {
    let chatham = "Pacific/Chatham";
    check(
        "0 0 3 * * *",
        chatham,
        "2026-09-26T00:00:00Z",
        &["2026-09-26T14:00:00Z", "2026-09-27T13:15:00Z"],
    );
    // 02:45:00 is the first second of the gap.
    check(
        "0 45 2 * * *",
        chatham,
        "2026-09-26T00:00:00Z",
        &["2026-09-26T14:00:00Z", "2026-09-27T13:00:00Z"],
    );
    check(
        "*/30 * * * *",
        chatham,
        "2026-09-26T13:00:00Z",
        &[
            "2026-09-26T13:15:00Z",
            "2026-09-26T13:45:00Z",
            "2026-09-26T14:15:00Z",
            "2026-09-26T14:45:00Z",
        ],
    );
    check(
        "0 0 3 * * *",
        chatham,
        "2026-04-04T00:00:00Z",
        &["2026-04-04T13:15:00Z", "2026-04-05T14:15:00Z"],
    );
    check(
        "*/30 3 * * *",
        chatham,
        "2026-04-04T12:00:00Z",
        &[
            "2026-04-04T13:15:00Z",
            "2026-04-04T13:45:00Z",
            "2026-04-04T14:15:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-05T14:15:00Z",
        ],
    );
}

/// America/Santiago 2026, southern hemisphere with changes at midnight:
/// DST ends Sunday 5 April 00:00 -03 -> Saturday 23:00 -04 (03:00Z), so 4
/// April 23:00-23:59 comes twice; it starts Sunday 6 September 00:00 -04 ->
/// 01:00 -03 (04:00Z), so 00:00-00:59 that day does not exist.
#[test]
fn dst_santiago() {
    let scl = "America/Santiago";
    check(
        "0 30 0 * * *",
        scl,
        "2026-09-05T12:00:00Z",
        &["2026-09-06T04:00:00Z", "2026-09-07T03:30:00Z"],
    );
    // Midnight itself is in the gap.
    check(
        "@daily",
        scl,
        "2026-09-05T12:00:00Z",
        &["2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"],
    );
    check(
        "*/20 0 * * *",
        scl,
        "2026-09-05T12:00:00Z",
        &[
            "2026-09-07T03:00:00Z",
            "2026-09-07T03:20:00Z",
            "2026-09-07T03:40:00Z",
        ],
    );
    check(
        "0 30 23 * * *",
        scl,
        "2026-04-04T12:00:00Z",
        &["2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"],
    );
    check(
        "0,30 23 * * *",
        scl,
        "2026-04-04T12:00:00Z",
        &[
            "2026-04-05T02:00:00Z",
            "2026-04-05T02:30:00Z",
            "2026-04-05T03:00:00Z",
            "2026-04-05T03:30:00Z",
            "2026-04-06T03:00:00Z",
        ],
    );
    // Midnight of 5 April happens once, at -04: the clock went from 23:59:59
    // -03 back to 23:00 -04, not through 00:00 -03.
    check(
        "@daily",
        scl,
        "2026-04-04T12:00:00Z",
        &["2026-04-05T04:00:00Z", "2026-04-06T04:00:00Z"],
    );
}

// ---------------------------------------------------------------------------
// Calendar: leap days, L, W, #, and the day-of-month / day-of-week OR rule.
// ---------------------------------------------------------------------------

#[test]
fn leap_days() {
    check(
        "0 0 29 2 *",
        "UTC",
        "2027-01-01T00:00:00Z",
        &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
    );
    // 2100 is not a leap year.
    check(
        "0 0 29 2 *",
        "UTC",
        "2096-03-01T00:00:00Z",
        &["2104-02-29T00:00:00Z"],
    );
    check(
        "0 0 L 2 *",
        "UTC",
        "2027-01-01T00:00:00Z",
        &[
            "2027-02-28T00:00:00Z",
            "2028-02-29T00:00:00Z",
            "2029-02-28T00:00:00Z",
        ],
    );
    check(
        "0 0 0 29 2 * 2028,2029,2032",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", END],
    );
}

#[test]
fn last_and_weekday_specials() {
    check(
        "0 0 L * *",
        "UTC",
        "2028-01-15T00:00:00Z",
        &[
            "2028-01-31T00:00:00Z",
            "2028-02-29T00:00:00Z",
            "2028-03-31T00:00:00Z",
            "2028-04-30T00:00:00Z",
        ],
    );
    // Last weekday: 31 January is a Saturday, 28 February too, 31 May a Sunday.
    check(
        "0 0 LW * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-30T00:00:00Z",
            "2026-02-27T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-04-30T00:00:00Z",
            "2026-05-29T00:00:00Z",
        ],
    );
    // The 15th is a Sunday in February and March (-> Monday the 16th).
    check(
        "0 0 15W * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-15T00:00:00Z",
            "2026-02-16T00:00:00Z",
            "2026-03-16T00:00:00Z",
            "2026-04-15T00:00:00Z",
            "2026-05-15T00:00:00Z",
        ],
    );
    // 15 August is a Saturday (-> Friday the 14th).
    check(
        "0 0 15W * *",
        "UTC",
        "2026-07-20T00:00:00Z",
        &["2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z"],
    );
    // 1W never leaves the month: Saturday 1 August -> Monday 3rd, Sunday 1
    // November -> Monday 2nd.
    check(
        "0 0 1W * *",
        "UTC",
        "2026-07-15T00:00:00Z",
        &[
            "2026-08-03T00:00:00Z",
            "2026-09-01T00:00:00Z",
            "2026-10-01T00:00:00Z",
            "2026-11-02T00:00:00Z",
        ],
    );
    // Last Friday.
    check(
        "0 0 * * 5L",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-30T00:00:00Z",
            "2026-02-27T00:00:00Z",
            "2026-03-27T00:00:00Z",
            "2026-04-24T00:00:00Z",
        ],
    );
    check(
        "0 0 * * friL",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"],
    );
    // Last Sunday, written with 7: the EU change days fall on it.
    check(
        "0 0 * * 7L",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-25T00:00:00Z",
            "2026-02-22T00:00:00Z",
            "2026-03-29T00:00:00Z",
        ],
    );
    check(
        "0 0 * * MON#2",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-12T00:00:00Z",
            "2026-02-09T00:00:00Z",
            "2026-03-09T00:00:00Z",
            "2026-04-13T00:00:00Z",
        ],
    );
    check(
        "0 0 * * sun#1",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-04T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "2026-04-05T00:00:00Z",
        ],
    );
    // A fifth Friday: only January, May and July in the first half of 2026.
    check(
        "0 0 * * 5#5",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-30T00:00:00Z",
            "2026-05-29T00:00:00Z",
            "2026-07-31T00:00:00Z",
        ],
    );
}

#[test]
fn day_of_month_or_day_of_week() {
    // The 1st and every Monday: 1 July 2026 is a Wednesday.
    check(
        "0 0 1 * MON",
        "UTC",
        "2026-06-20T00:00:00Z",
        &[
            "2026-06-22T00:00:00Z",
            "2026-06-29T00:00:00Z",
            "2026-07-01T00:00:00Z",
            "2026-07-06T00:00:00Z",
        ],
    );
    // 31 February never comes, but the Mondays of February do.
    check(
        "0 0 31 2 MON",
        "UTC",
        "2026-01-25T00:00:00Z",
        &[
            "2026-02-02T00:00:00Z",
            "2026-02-09T00:00:00Z",
            "2026-02-16T00:00:00Z",
            "2026-02-23T00:00:00Z",
            "2027-02-01T00:00:00Z",
        ],
    );
    // `?` leaves a field unrestricted, so the other one alone decides.
    check(
        "0 0 1 * ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"],
    );
    check(
        "0 0 ? * MON",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"],
    );
    check(
        "0 0 31 * *",
        "UTC",
        "2026-01-31T00:00:00Z",
        &[
            "2026-03-31T00:00:00Z",
            "2026-05-31T00:00:00Z",
            "2026-07-31T00:00:00Z",
            "2026-08-31T00:00:00Z",
        ],
    );
    // 30 February never comes but 30 January does.
    check(
        "0 0 30 1,2 *",
        "UTC",
        "2026-01-30T00:00:00Z",
        &["2027-01-30T00:00:00Z"],
    );
}

// ---------------------------------------------------------------------------
// Syntax: field counts, names, Sunday, steps, macros.
// ---------------------------------------------------------------------------

#[test]
fn field_counts() {
    check(
        "30 9 * * *",
        "UTC",
        "2026-05-01T09:30:00Z",
        &["2026-05-02T09:30:00Z", "2026-05-03T09:30:00Z"],
    );
    // Six fields: seconds first.
    check(
        "15 30 9 * * *",
        "UTC",
        "2026-05-01T09:30:15Z",
        &["2026-05-02T09:30:15Z", "2026-05-03T09:30:15Z"],
    );
    // Seven fields: year last.
    check(
        "0 0 12 1 1 * 2030",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2030-01-01T12:00:00Z", END],
    );
    check(
        "0 0 0 1 1 * 2027-2028",
        "UTC",
        "2026-06-01T00:00:00Z",
        &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", END],
    );
    check(
        "0 0 0 * * * 2026",
        "UTC",
        "2026-12-30T12:00:00Z",
        &["2026-12-31T00:00:00Z", END],
    );
    // Sub-second `after`: the next fire is the next whole second.
    check(
        "* * * * * *",
        "UTC",
        "2026-01-01T00:00:00.500Z",
        &["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"],
    );
    check(
        "59 23 31 12 *",
        "UTC",
        "2026-12-31T23:59:00Z",
        &["2027-12-31T23:59:00Z"],
    );
    // Half-hour zone offset.
    check(
        "0 9 * * *",
        "Asia/Kolkata",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z"],
    );
}

#[test]
fn names_are_case_insensitive() {
    // Mondays of January: 5, 12, 19, 26 in 2026, then 4 January 2027.
    check(
        "0 12 * jan Mon",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-05T12:00:00Z",
            "2026-01-12T12:00:00Z",
            "2026-01-19T12:00:00Z",
            "2026-01-26T12:00:00Z",
            "2027-01-04T12:00:00Z",
        ],
    );
    check(
        "0 0 1 JAN-mar *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ],
    );
    check(
        "0 0 * * sat,SUN",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-03T00:00:00Z",
            "2026-01-04T00:00:00Z",
            "2026-01-10T00:00:00Z",
            "2026-01-11T00:00:00Z",
        ],
    );
    // WED holds a W, which is no nearest-weekday mark here.
    check(
        "0 0 * * wed",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-07T00:00:00Z", "2026-01-14T00:00:00Z"],
    );
    check(
        "0 0 * * SUN-WED",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-04T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-01-06T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "2026-01-11T00:00:00Z",
        ],
    );
    check(
        "0 0 * * Mon-Fri",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-02T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-01-06T00:00:00Z",
        ],
    );
}

#[test]
fn sunday_is_0_and_7() {
    check(
        "0 0 * * 0",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    );
    check(
        "0 0 * * 7",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    );
    check(
        "0 0 * * 5-7",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-02T00:00:00Z",
            "2026-01-03T00:00:00Z",
            "2026-01-04T00:00:00Z",
            "2026-01-09T00:00:00Z",
        ],
    );
}

#[test]
fn steps() {
    check(
        "*/15 * * * *",
        "UTC",
        "2026-01-01T00:07:00Z",
        &[
            "2026-01-01T00:15:00Z",
            "2026-01-01T00:30:00Z",
            "2026-01-01T00:45:00Z",
            "2026-01-01T01:00:00Z",
        ],
    );
    check(
        "10-50/20 * * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T00:10:00Z",
            "2026-01-01T00:30:00Z",
            "2026-01-01T00:50:00Z",
            "2026-01-01T01:10:00Z",
        ],
    );
    // `5/15` runs from 5 to the end of the field.
    check(
        "5/15 * * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:20:00Z",
            "2026-01-01T00:35:00Z",
            "2026-01-01T00:50:00Z",
            "2026-01-01T01:05:00Z",
        ],
    );
    check(
        "*/20 * * * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T00:00:20Z",
            "2026-01-01T00:00:40Z",
            "2026-01-01T00:01:00Z",
        ],
    );
    check(
        "0 0 */6 * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T06:00:00Z",
            "2026-01-01T12:00:00Z",
            "2026-01-01T18:00:00Z",
            "2026-01-02T00:00:00Z",
        ],
    );
    check(
        "0 9-17/4 * * *",
        "UTC",
        "2026-01-01T10:00:00Z",
        &[
            "2026-01-01T13:00:00Z",
            "2026-01-01T17:00:00Z",
            "2026-01-02T09:00:00Z",
        ],
    );
    check(
        "0 0,30 1 * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T01:00:00Z",
            "2026-01-01T01:30:00Z",
            "2026-01-02T01:00:00Z",
        ],
    );
    check(
        "0 0 1 */3 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &[
            "2026-04-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
            "2026-10-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ],
    );
    // Days 1, 11, 21, 31: February has no 31st.
    check(
        "0 0 */10 * *",
        "UTC",
        "2026-01-25T00:00:00Z",
        &[
            "2026-01-31T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-02-11T00:00:00Z",
            "2026-02-21T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ],
    );
}

#[test]
fn macros() {
    check(
        "@yearly",
        "UTC",
        "2026-05-01T00:00:00Z",
        &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"],
    );
    check(
        "@annually",
        "UTC",
        "2026-05-01T00:00:00Z",
        &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"],
    );
    check(
        "@monthly",
        "UTC",
        "2026-05-15T00:00:00Z",
        &["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"],
    );
    // Sundays at midnight.
    check(
        "@weekly",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"],
    );
    check(
        "@daily",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
    );
    check(
        "@midnight",
        "UTC",
        "2026-01-01T12:00:00Z",
        &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
    );
    check(
        "@hourly",
        "UTC",
        "2026-01-01T00:30:00Z",
        &["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"],
    );
    // Midnight in Tokyo (+09:00, no DST).
    check(
        "@DAILY",
        "Asia/Tokyo",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T15:00:00Z", "2026-01-02T15:00:00Z"],
    );
}

/// `@every` counts from [`ANCHOR`] truncated to 12:00:00, k >= 1.
#[test]
fn every() {
    // From before the anchor: the first fire is anchor + 1 interval.
    check(
        "@every 90s",
        "UTC",
        "2026-03-01T11:00:00Z",
        &[
            "2026-03-01T12:01:30Z",
            "2026-03-01T12:03:00Z",
            "2026-03-01T12:04:30Z",
        ],
    );
    // The anchor itself is not a fire.
    check(
        "@every 90s",
        "UTC",
        "2026-03-01T12:00:00.900Z",
        &["2026-03-01T12:01:30Z", "2026-03-01T12:03:00Z"],
    );
    check(
        "@every 90s",
        "UTC",
        "2026-03-01T12:01:29.999Z",
        &["2026-03-01T12:01:30Z"],
    );
    check(
        "@every 90s",
        "UTC",
        "2026-03-01T12:01:30Z",
        &["2026-03-01T12:03:00Z", "2026-03-01T12:04:30Z"],
    );
    // 12 hours after the anchor is the 8th fire of 1h30m.
    check(
        "@every 1h30m",
        "UTC",
        "2026-03-02T00:00:00Z",
        &["2026-03-02T01:30:00Z", "2026-03-02T03:00:00Z"],
    );
    check(
        "@EVERY 45m",
        "UTC",
        "2026-03-01T12:44:59Z",
        &["2026-03-01T12:45:00Z", "2026-03-01T13:30:00Z"],
    );
    // A fixed interval ignores the 29 March change: still 12:00Z each day.
    check(
        "@every 1d",
        "Europe/Berlin",
        "2026-03-28T00:00:00Z",
        &[
            "2026-03-28T12:00:00Z",
            "2026-03-29T12:00:00Z",
            "2026-03-30T12:00:00Z",
        ],
    );
}

#[test]
fn at_once() {
    check(
        "@at 2026-12-01T09:00:00Z",
        "UTC",
        "2026-06-01T00:00:00Z",
        &["2026-12-01T09:00:00Z", END],
    );
    check(
        "@at 2026-12-01T10:00:00+01:00",
        "Europe/Berlin",
        "2026-12-01T08:59:59Z",
        &["2026-12-01T09:00:00Z", END],
    );
    // In the past, or exactly now: no fire.
    check(
        "@at 2026-12-01T09:00:00Z",
        "UTC",
        "2027-01-01T00:00:00Z",
        &[END],
    );
    check(
        "@at 2026-12-01T09:00:00Z",
        "UTC",
        "2026-12-01T09:00:00Z",
        &[END],
    );
}

// ---------------------------------------------------------------------------
// prev_before, fires_between, class.
// ---------------------------------------------------------------------------

#[test]
fn prev_before() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        // The gap fire happened at 03:00:00 EDT.
        (
            "30 30 2 * * *",
            "America/New_York",
            "2026-03-08T12:00:00Z",
            Some("2026-03-08T07:00:00Z"),
        ),
        // Strictly before: from the gap fire itself, the day before.
        (
            "30 30 2 * * *",
            "America/New_York",
            "2026-03-08T07:00:00Z",
            Some("2026-03-07T07:30:30Z"),
        ),
        // The repeated 01:30 fired once, at its first pass, also seen from
        // inside the second pass.
        (
            "0 30 1 * * *",
            "America/New_York",
            "2026-11-01T12:00:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            "0 30 1 * * *",
            "America/New_York",
            "2026-11-01T06:45:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            "*/30 * * * *",
            "America/New_York",
            "2026-11-01T06:15:00Z",
            Some("2026-11-01T06:00:00Z"),
        ),
        (
            "*/30 * * * *",
            "America/New_York",
            "2026-11-01T06:00:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            "0 0 L * *",
            "UTC",
            "2028-03-01T00:00:00Z",
            Some("2028-02-29T00:00:00Z"),
        ),
        (
            "0 0 * * MON#2",
            "UTC",
            "2026-03-01T00:00:00Z",
            Some("2026-02-09T00:00:00Z"),
        ),
        (
            "0 0 29 2 *",
            "UTC",
            "2031-01-01T00:00:00Z",
            Some("2028-02-29T00:00:00Z"),
        ),
        (
            "* * * * * *",
            "UTC",
            "2026-01-01T00:00:00.500Z",
            Some("2026-01-01T00:00:00Z"),
        ),
        ("0 0 0 1 1 * 2030", "UTC", "2030-01-01T00:00:00Z", None),
        (
            "@every 90s",
            "UTC",
            "2026-03-01T12:03:00Z",
            Some("2026-03-01T12:01:30Z"),
        ),
        ("@every 90s", "UTC", "2026-03-01T12:01:30Z", None),
        // A fraction of a millisecond past a fire still has it before.
        (
            "@every 90s",
            "UTC",
            "2026-03-01T12:01:30.0005Z",
            Some("2026-03-01T12:01:30Z"),
        ),
        (
            "@every 90s",
            "UTC",
            "2026-03-01T12:03:00.000000001Z",
            Some("2026-03-01T12:03:00Z"),
        ),
        (
            "@at 2026-12-01T09:00:00Z",
            "UTC",
            "2026-12-01T09:00:00Z",
            None,
        ),
        (
            "@at 2026-12-01T09:00:00Z",
            "UTC",
            "2026-12-01T09:00:01Z",
            Some("2026-12-01T09:00:00Z"),
        ),
    ];
    for &(expr, tz, before, expect) in cases {
        let got = parse(expr, tz).prev_before(at(before));
        assert_eq!(
            got.map(|t| show(&[t])),
            expect.map(|e| show(&[at(e)])),
            "prev_before({before}) of {expr:?} in {tz}"
        );
    }
}

#[test]
fn fires_between() {
    let quarter = parse("*/15 * * * *", "UTC");
    let (after, until) = (at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"));
    let all = [
        "2026-01-01T00:15:00Z",
        "2026-01-01T00:30:00Z",
        "2026-01-01T00:45:00Z",
        "2026-01-01T01:00:00Z",
    ];
    let want =
        |n: usize| -> Vec<String> { all[..n].iter().map(|t| show(&[at(t)])[0].clone()).collect() };
    // (after, until]: `until` itself is in, `after` is not.
    for (cap, fires, truncated) in [(10, 4, false), (4, 4, false), (3, 3, true), (0, 0, true)] {
        let got = quarter.fires_between(after, until, cap);
        assert_eq!(
            (show(&got.fires), got.truncated),
            (want(fires), truncated),
            "cap {cap}"
        );
    }
    let empty = quarter.fires_between(until, until, 10);
    assert!(empty.fires.is_empty() && !empty.truncated);

    // Both passes of New York's repeated 01:00, hourly in UTC.
    let hourly = parse("0 * * * *", "America/New_York");
    let got = hourly.fires_between(at("2026-11-01T04:00:00Z"), at("2026-11-01T08:00:00Z"), 10);
    assert_eq!(
        (show(&got.fires), got.truncated),
        (
            show(&[
                at("2026-11-01T05:00:00Z"),
                at("2026-11-01T06:00:00Z"),
                at("2026-11-01T07:00:00Z"),
                at("2026-11-01T08:00:00Z"),
            ]),
            false
        )
    );
    // A daily 02:00 across the spring change: 8 March fires at 03:00 EDT.
    let daily = parse("0 2 * * *", "America/New_York");
    let got = daily.fires_between(at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"), 10);
    assert_eq!(
        show(&got.fires),
        show(&[
            at("2026-03-07T07:00:00Z"),
            at("2026-03-08T07:00:00Z"),
            at("2026-03-09T06:00:00Z"),
        ])
    );
    // A one-shot inside the range, and a cap it does not reach.
    let once = parse("@at 2026-12-01T09:00:00Z", "UTC");
    let got = once.fires_between(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"), 1);
    assert_eq!(
        (show(&got.fires), got.truncated),
        (show(&[at("2026-12-01T09:00:00Z")]), false)
    );
}

#[test]
fn class() {
    for (expr, class) in [
        ("0 30 2 * * *", ScheduleClass::FixedTime),
        ("30 2 * * *", ScheduleClass::FixedTime),
        ("@daily", ScheduleClass::FixedTime),
        ("0 0 L * *", ScheduleClass::FixedTime),
        ("*/15 * * * *", ScheduleClass::Interval),
        ("0 0,30 1 * * *", ScheduleClass::Interval),
        ("0 0-3 * * *", ScheduleClass::Interval),
        ("@hourly", ScheduleClass::Interval),
        ("@every 90s", ScheduleClass::Interval),
        ("@at 2026-12-01T09:00:00Z", ScheduleClass::OneShot),
    ] {
        assert_eq!(parse(expr, "UTC").class(), class, "{expr:?}");
    }
}

// ---------------------------------------------------------------------------
// Refused input: the message names the field and the reason.
// ---------------------------------------------------------------------------

#[test]
fn refused() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // Out of range, field by field.
        (
            "60 * * * * *",
            "UTC",
            "schedule",
            "second: 60 is out of range 0-59",
        ),
        (
            "60 * * * *",
            "UTC",
            "schedule",
            "minute: 60 is out of range 0-59",
        ),
        (
            "0 24 * * *",
            "UTC",
            "schedule",
            "hour: 24 is out of range 0-23",
        ),
        (
            "0 0 32 * *",
            "UTC",
            "schedule",
            "day-of-month: 32 is out of range 1-31",
        ),
        (
            "0 0 * 13 *",
            "UTC",
            "schedule",
            "month: 13 is out of range 1-12",
        ),
        (
            "0 0 * * 8",
            "UTC",
            "schedule",
            "day-of-week: 8 is out of range 0-7",
        ),
        (
            "0 0 0 1 1 * 1969",
            "UTC",
            "schedule",
            "year: 1969 is out of range 1970-2999",
        ),
        (
            "0 0 32W * *",
            "UTC",
            "schedule",
            "day-of-month: 32 is out of range 1-31",
        ),
        // Days that never come.
        (
            "0 0 31 2 *",
            "UTC",
            "schedule",
            "day-of-month: 31 never occurs in February, so the expression never fires",
        ),
        (
            "0 0 30 2 *",
            "UTC",
            "schedule",
            "day-of-month: 30 never occurs in February, so the expression never fires",
        ),
        (
            "0 0 31 4,6,9,11 *",
            "UTC",
            "schedule",
            "day-of-month: 31 never occurs in April or June or September or November",
        ),
        (
            "0 0 30 FEB ?",
            "UTC",
            "schedule",
            "day-of-month: 30 never occurs in February",
        ),
        // Valid fields that together never fire: 2027 is no leap year, and
        // February 2027 starts on a Monday, so it has four.
        (
            "0 0 0 29 2 * 2027",
            "UTC",
            "schedule",
            "the expression never fires",
        ),
        (
            "0 0 0 * 2 MON#5 2027",
            "UTC",
            "schedule",
            "the expression never fires",
        ),
        // Malformed fields.
        (
            "*/0 * * * *",
            "UTC",
            "schedule",
            "minute: a step of 0 never advances",
        ),
        (
            "*/61 * * * *",
            "UTC",
            "schedule",
            "minute: step 61 is larger than the field's range 0-59",
        ),
        (
            "*/x * * * *",
            "UTC",
            "schedule",
            "minute: step 'X' is not a whole number",
        ),
        (
            "1,,2 * * * *",
            "UTC",
            "schedule",
            "minute: empty list item in '1,,2'",
        ),
        (
            "5-1 * * * *",
            "UTC",
            "schedule",
            "minute: range 5-1 runs backwards",
        ),
        (
            "? * * * *",
            "UTC",
            "schedule",
            "minute: '?' is not a number",
        ),
        (
            "0 0 * foo *",
            "UTC",
            "schedule",
            "month: 'FOO' is neither a number nor a name (JAN, FEB,",
        ),
        (
            "0 0 * * FRI-SUN",
            "UTC",
            "schedule",
            "day-of-week: range FRI-SUN runs backwards",
        ),
        (
            "0 0 5L * *",
            "UTC",
            "schedule",
            "day-of-month: '5L' is not valid here; day-of-month takes L, LW or nW",
        ),
        (
            "0 0 * * 5W",
            "UTC",
            "schedule",
            "day-of-week: '5W' is not valid here; W belongs to day-of-month",
        ),
        (
            "0 0 * * MON#6",
            "UTC",
            "schedule",
            "day-of-week: #6 is out of range 1-5",
        ),
        (
            "0 0 * * MON#x",
            "UTC",
            "schedule",
            "day-of-week: '#X' must be a number from 1 to 5",
        ),
        // Field counts.
        ("", "UTC", "schedule", "expression is empty"),
        ("   ", "UTC", "schedule", "expression is empty"),
        (
            "* * * *",
            "UTC",
            "schedule",
            "expected 5, 6 (leading seconds) or 7 (trailing year) fields, found 4",
        ),
        (
            "0 0 0 1 1 * 2030 5",
            "UTC",
            "schedule",
            "expected 5, 6 (leading seconds) or 7 (trailing year) fields, found 8",
        ),
        // Macros.
        (
            "@fortnightly",
            "UTC",
            "schedule",
            "unknown macro '@fortnightly'",
        ),
        ("@daily 5", "UTC", "schedule", "unknown macro '@daily 5'"),
        ("@every", "UTC", "schedule", "@every needs a duration"),
        (
            "@every 0s",
            "UTC",
            "schedule",
            "@every: the interval must be at least 1s",
        ),
        (
            "@every 90",
            "UTC",
            "schedule",
            "@every: '90' ends in a number without a unit",
        ),
        (
            "@every 1m1h",
            "UTC",
            "schedule",
            "@every: '1m1h' repeats a unit or puts them out of order",
        ),
        (
            "@every 5x",
            "UTC",
            "schedule",
            "@every: '5x' is not a duration",
        ),
        (
            "@every h",
            "UTC",
            "schedule",
            "@every: 'h' has a unit without a number",
        ),
        (
            "@every 4000d",
            "UTC",
            "schedule",
            "@every: '4000d' is longer than ten years",
        ),
        (
            "@at tomorrow",
            "UTC",
            "schedule",
            "@at: 'tomorrow' is not an RFC 3339 instant",
        ),
        (
            "@at 2026-12-01T09:00:00",
            "UTC",
            "schedule",
            "@at: '2026-12-01T09:00:00' is not an RFC 3339 instant",
        ),
        (
            "@at",
            "UTC",
            "schedule",
            "@at: '' is not an RFC 3339 instant",
        ),
        // Time zones, checked first.
        ("0 0 * * *", "", "timezone", "time zone must not be empty"),
        ("0 0 32 * *", "", "timezone", "time zone must not be empty"),
        (
            "0 0 * * *",
            "Mars/Olympus_Mons",
            "timezone",
            "'Mars/Olympus_Mons' is not an IANA time zone name",
        ),
    ];
    for &(expr, tz, field, message) in cases {
        let started = std::time::Instant::now();
        let err: ScheduleError = match Schedule::parse(expr, tz, at(ANCHOR)) {
            Ok(schedule) => panic!("{expr:?} in {tz:?} was accepted: {schedule:?}"),
            Err(err) => err,
        };
        // A hang guard, not a benchmark: refusing is a bounded search.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "refusing {expr:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            err.field(),
            field,
            "field of the error for {expr:?} in {tz:?}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(message),
            "error for {expr:?} in {tz:?}\n  is: {text}\nwant: {message}..."
        );
    }
}

/// The DST facts the tables above rest on, read from chrono-tz's data (not
/// from the engine): the UTC instant of each change and the offsets either
/// side of it, in seconds east of UTC.
#[test]
fn tz_data_has_the_transitions_the_cases_assume() {
    let h = 3600;
    for (zone, change, before, after) in [
        ("America/New_York", "2026-03-08T07:00:00Z", -5 * h, -4 * h),
        ("America/New_York", "2026-11-01T06:00:00Z", -4 * h, -5 * h),
        ("Europe/Berlin", "2026-03-29T01:00:00Z", h, 2 * h),
        ("Europe/Berlin", "2026-10-25T01:00:00Z", 2 * h, h),
        (
            "Australia/Lord_Howe",
            "2026-10-03T15:30:00Z",
            10 * h + 1800,
            11 * h,
        ),
        (
            "Australia/Lord_Howe",
            "2026-04-04T15:00:00Z",
            11 * h,
            10 * h + 1800,
        ),
        (
            "Pacific/Chatham",
            "2026-09-26T14:00:00Z",
            12 * h + 2700,
            13 * h + 2700,
        ),
        (
            "Pacific/Chatham",
            "2026-04-04T14:00:00Z",
            13 * h + 2700,
            12 * h + 2700,
        ),
        ("America/Santiago", "2026-09-06T04:00:00Z", -4 * h, -3 * h),
        ("America/Santiago", "2026-04-05T03:00:00Z", -3 * h, -4 * h),
    ] {
        let tz: Tz = zone.parse().unwrap_or_else(|e| panic!("{zone}: {e}"));
        let offset = |t: DateTime<Utc>| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let change = at(change);
        assert_eq!(
            (
                offset(change - chrono::Duration::seconds(1)),
                offset(change)
            ),
            (before, after),
            "{zone} around {change}"
        );
    }
}

/// Property tests: random expressions, zones and instants.
mod props {
    use std::collections::BTreeSet;
    use std::sync::OnceLock;

    use chrono::{
        DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone,
        Timelike, Utc,
    };
    use chrono_tz::Tz;
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    use super::super::{Schedule, ScheduleClass};

    const ZONES: &[&str] = &[
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Europe/London",
        "Australia/Lord_Howe",
        "Australia/Adelaide",
        "Pacific/Chatham",
        "America/Santiago",
        "America/St_Johns",
        "Asia/Tehran",
        "Asia/Kathmandu",
        "Asia/Kolkata",
    ];

    /// 2000-01-01T00:00:00Z and 2041-01-01T00:00:00Z.
    const FROM: i64 = 946_684_800;
    const UNTIL: i64 = 2_240_611_200;

    fn config() -> Config {
        Config {
            cases: 256,
            // Never write regression files into the source tree.
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Every offset change of each zone in [`ZONES`] between 2000 and 2040,
    /// found from chrono-tz's offsets alone.
    fn transitions() -> &'static [Vec<i64>] {
        static CACHE: OnceLock<Vec<Vec<i64>>> = OnceLock::new();
        CACHE.get_or_init(|| {
            ZONES
                .iter()
                .map(|zone| {
                    let tz: Tz = zone.parse().expect("zone in the list");
                    let offset = |s: i64| {
                        let t = DateTime::from_timestamp(s, 0).expect("in range");
                        tz.offset_from_utc_datetime(&t.naive_utc())
                            .fix()
                            .local_minus_utc()
                    };
                    let mut found = Vec::new();
                    let step = 12 * 3600;
                    let mut s = FROM;
                    while s < UNTIL {
                        if offset(s) != offset(s + step) {
                            // The first second with the new offset.
                            let (mut lo, mut hi) = (s, s + step);
                            while hi - lo > 1 {
                                let mid = lo + (hi - lo) / 2;
                                if offset(mid) == offset(lo) {
                                    lo = mid;
                                } else {
                                    hi = mid;
                                }
                            }
                            found.push(hi);
                        }
                        s += step;
                    }
                    found
                })
                .collect()
        })
    }

    /// A zone and an instant in 2000-2040: most of them up to a day and a
    /// half before one of the zone's offset changes, where the interesting
    /// cases live.
    fn zone_and_instant() -> impl Strategy<Value = (usize, DateTime<Utc>)> {
        (
            0..ZONES.len(),
            prop::bool::weighted(0.75),
            any::<prop::sample::Index>(),
            FROM..UNTIL,
            -36 * 3600i64..2 * 3600,
            prop_oneof![Just(0u32), 0..1_000_000_000u32],
        )
            .prop_map(|(zone, near, pick, uniform, delta, nanos)| {
                let changes = &transitions()[zone];
                let secs = if near && !changes.is_empty() {
                    changes[pick.index(changes.len())] + delta
                } else {
                    uniform
                };
                (
                    zone,
                    DateTime::from_timestamp(secs, nanos).expect("in range"),
                )
            })
    }

    /// One time field: its text and the values it allows.
    type Plain = (String, BTreeSet<u32>);

    fn plain(min: u32, max: u32) -> BoxedStrategy<Plain> {
        let size = max - min + 1;
        let max_step = size.min(12);
        prop_oneof![
            2 => Just(("*".to_owned(), (min..=max).collect())),
            3 => (min..=max).prop_map(|v| (v.to_string(), BTreeSet::from([v]))),
            2 => (min..=max, min..=max).prop_map(|(a, b)| {
                let (a, b) = (a.min(b), a.max(b));
                (format!("{a}-{b}"), (a..=b).collect())
            }),
            2 => (1..=max_step).prop_map(move |s| {
                (format!("*/{s}"), (min..=max).step_by(s as usize).collect())
            }),
            1 => (min..=max, 1..=max_step).prop_map(move |(a, s)| {
                (format!("{a}/{s}"), (a..=max).step_by(s as usize).collect())
            }),
            1 => (min..=max, min..=max, 1..=max_step).prop_map(|(a, b, s)| {
                let (a, b) = (a.min(b), a.max(b));
                (format!("{a}-{b}/{s}"), (a..=b).step_by(s as usize).collect())
            }),
            2 => prop::collection::btree_set(min..=max, 1..=4).prop_map(|set| {
                let text = set.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                (text, set)
            }),
        ]
        .boxed()
    }

    fn with_case(name: &str, lower: bool) -> String {
        if lower {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        }
    }

    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    fn month() -> BoxedStrategy<Plain> {
        prop_oneof![
            4 => plain(1, 12),
            1 => (1..=12u32, any::<bool>()).prop_map(|(m, lower)| {
                (with_case(MONTHS[m as usize - 1], lower), BTreeSet::from([m]))
            }),
            1 => (1..=12u32, 1..=12u32, any::<bool>()).prop_map(|(a, b, lower)| {
                let (a, b) = (a.min(b), a.max(b));
                let text = format!(
                    "{}-{}",
                    with_case(MONTHS[a as usize - 1], lower),
                    with_case(MONTHS[b as usize - 1], !lower)
                );
                (text, (a..=b).collect())
            }),
        ]
        .boxed()
    }

    #[derive(Debug, Clone)]
    enum Dom {
        Set(BTreeSet<u32>),
        Last,
        LastWeekday,
        Nearest(u32),
    }

    #[derive(Debug, Clone)]
    enum Dow {
        /// Days from Sunday = 0.
        Set(BTreeSet<u32>),
        Last(u32),
        Nth(u32, u32),
    }

    fn dom() -> BoxedStrategy<(String, Dom)> {
        prop_oneof![
            6 => plain(1, 31).prop_map(|(text, set)| (text, Dom::Set(set))),
            1 => Just(("L".to_owned(), Dom::Last)),
            1 => Just(("LW".to_owned(), Dom::LastWeekday)),
            1 => (1..=28u32).prop_map(|n| (format!("{n}W"), Dom::Nearest(n))),
        ]
        .boxed()
    }

    fn dow() -> BoxedStrategy<(String, Dow)> {
        let sunday_is_0 = |set: BTreeSet<u32>| set.into_iter().map(|d| d % 7).collect();
        prop_oneof![
            6 => plain(0, 7).prop_map(move |(text, set)| (text, Dow::Set(sunday_is_0(set)))),
            1 => (0..=6u32, 0..=6u32, any::<bool>()).prop_map(|(a, b, lower)| {
                let (a, b) = (a.min(b), a.max(b));
                let text = format!("{}-{}", with_case(DAYS[a as usize], lower), DAYS[b as usize]);
                (text, Dow::Set((a..=b).collect()))
            }),
            1 => (0..=7u32).prop_map(|d| (format!("{d}L"), Dow::Last(d % 7))),
            1 => (0..=7u32, 1..=5u32).prop_map(|(d, n)| (format!("{d}#{n}"), Dow::Nth(d % 7, n))),
            1 => (0..=6u32, 1..=5u32, any::<bool>()).prop_map(|(d, n, lower)| {
                (format!("{}#{n}", with_case(DAYS[d as usize], lower)), Dow::Nth(d, n))
            }),
        ]
        .boxed()
    }

    /// A random valid-looking cron expression and an independent matcher.
    #[derive(Debug, Clone)]
    struct Expr {
        text: String,
        second: BTreeSet<u32>,
        minute: BTreeSet<u32>,
        hour: BTreeSet<u32>,
        dom: Dom,
        dom_star: bool,
        month: BTreeSet<u32>,
        dow: Dow,
        dow_star: bool,
    }

    /// Mostly arbitrary expressions, and as many again aimed at DST: single
    /// or few times in the hours where zones change (00-03, 23), on any day.
    fn expr() -> impl Strategy<Value = Expr> {
        let any_time = (
            any::<bool>(),
            plain(0, 59),
            plain(0, 59),
            plain(0, 23),
            dom(),
            month(),
            dow(),
        );
        let single =
            |min: u32, max: u32| (min..=max).prop_map(|v| (v.to_string(), BTreeSet::from([v])));
        let change_hours = prop_oneof![
            3 => prop::sample::select(vec![0u32, 1, 2, 2, 2, 3, 23]).prop_map(|h| (h.to_string(), BTreeSet::from([h]))),
            1 => (0..=3u32, 0..=3u32).prop_map(|(a, b)| {
                let (a, b) = (a.min(b), a.max(b));
                (format!("{a}-{b}"), (a..=b).collect())
            }),
        ];
        let star = |min: u32, max: u32| ("*".to_owned(), (min..=max).collect::<BTreeSet<u32>>());
        let around_changes = (
            any::<bool>(),
            prop_oneof![3 => single(0, 59), 1 => plain(0, 59)],
            prop_oneof![3 => single(0, 59), 1 => plain(0, 59)],
            change_hours,
            prop_oneof![4 => Just(("*".to_owned(), Dom::Set((1..=31).collect()))), 1 => dom()],
            prop_oneof![4 => Just(star(1, 12)), 1 => month()],
            prop_oneof![4 => Just(("*".to_owned(), Dow::Set((0..=6).collect()))), 1 => dow()],
        );
        prop_oneof![any_time, around_changes].prop_map(
            |(with_seconds, second, minute, hour, dom, month, dow)| {
                let second = if with_seconds {
                    second
                } else {
                    ("0".to_owned(), BTreeSet::from([0]))
                };
                let mut fields = Vec::new();
                if with_seconds {
                    fields.push(second.0.as_str());
                }
                fields.extend([
                    minute.0.as_str(),
                    hour.0.as_str(),
                    dom.0.as_str(),
                    month.0.as_str(),
                    dow.0.as_str(),
                ]);
                Expr {
                    text: fields.join(" "),
                    dom_star: dom.0 == "*",
                    dow_star: dow.0 == "*",
                    second: second.1,
                    minute: minute.1,
                    hour: hour.1,
                    dom: dom.1,
                    month: month.1,
                    dow: dow.1,
                }
            },
        )
    }

    fn days_in_month(year: i32, month: u32) -> u32 {
        let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }
        .expect("valid month");
        (next - first).num_days() as u32
    }

    /// Days from Sunday = 0 of a day of the same month.
    fn weekday(year: i32, month: u32, day: u32) -> u32 {
        NaiveDate::from_ymd_opt(year, month, day)
            .expect("valid day")
            .weekday()
            .num_days_from_sunday()
    }

    impl Expr {
        fn day_matches(&self, date: NaiveDate) -> bool {
            let (y, m, d) = (date.year(), date.month(), date.day());
            let len = days_in_month(y, m);
            let wd = weekday(y, m, d);
            let dom = match &self.dom {
                Dom::Set(set) => set.contains(&d),
                Dom::Last => d == len,
                Dom::LastWeekday => {
                    d == match weekday(y, m, len) {
                        6 => len - 1,
                        0 => len - 2,
                        _ => len,
                    }
                }
                Dom::Nearest(n) => {
                    d == match weekday(y, m, *n) {
                        6 if *n == 1 => 3,
                        6 => n - 1,
                        0 if *n == len => n - 2,
                        0 => n + 1,
                        _ => *n,
                    }
                }
            };
            let dow = match &self.dow {
                Dow::Set(set) => set.contains(&wd),
                Dow::Last(day) => wd == *day && d + 7 > len,
                Dow::Nth(day, n) => wd == *day && (d - 1) / 7 + 1 == *n,
            };
            let day = if self.dom_star || self.dow_star {
                dom && dow
            } else {
                dom || dow
            };
            day && self.month.contains(&m)
        }

        fn matches(&self, local: NaiveDateTime) -> bool {
            self.second.contains(&local.second())
                && self.minute.contains(&local.minute())
                && self.hour.contains(&local.hour())
                && self.day_matches(local.date())
        }

        /// Whether some month allowed has a plain day-of-month allowed; only
        /// meaningful when day-of-week is unrestricted.
        fn some_plain_day_exists(&self) -> bool {
            match &self.dom {
                Dom::Set(days) => self
                    .month
                    .iter()
                    .any(|&m| days.iter().any(|&d| d <= days_in_month(2028, m))),
                _ => true,
            }
        }
    }

    fn offset(tz: Tz, t: DateTime<Utc>) -> i32 {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    proptest! {
        #![proptest_config(config())]

        /// Next fires are strictly after `t`, increase strictly, match the
        /// expression on the local wall clock (or are the end of the DST gap
        /// that swallowed a fixed time), and prev_before retraces them.
        #[test]
        fn cron_fires_match_and_increase(e in expr(), (zone, t) in zone_and_instant()) {
            let tz: Tz = ZONES[zone].parse().expect("zone in the list");
            let schedule = match Schedule::parse(&e.text, ZONES[zone], t) {
                Ok(schedule) => schedule,
                Err(err) => {
                    // Only a day-of-month that no allowed month has is refused.
                    prop_assert!(e.dow_star && !e.some_plain_day_exists(), "{:?} refused: {}", e.text, err);
                    prop_assert!(err.to_string().starts_with("day-of-month: "), "{}", err);
                    return Ok(());
                }
            };
            let fires = schedule.next_n(t, 6);
            prop_assert_eq!(fires.len(), 6, "{:?} in {} ran out of fires after {}", e.text, ZONES[zone], t);
            let mut last = t;
            for &fire in &fires {
                prop_assert!(fire > last, "{:?} in {}: {} does not come after {}", e.text, ZONES[zone], fire, last);
                prop_assert_eq!(fire.timestamp_subsec_nanos(), 0);
                last = fire;
                let local = fire.with_timezone(&tz).naive_local();
                if e.matches(local) {
                    if schedule.class() == ScheduleClass::FixedTime {
                        // A repeated wall time fires at its first pass only.
                        if let LocalResult::Ambiguous(first, _) = tz.from_local_datetime(&local) {
                            prop_assert_eq!(first.with_timezone(&Utc), fire, "{:?} in {}", e.text, ZONES[zone]);
                        }
                    }
                    continue;
                }
                // Otherwise the fire must end a gap that swallowed the fixed time.
                prop_assert_eq!(schedule.class(), ScheduleClass::FixedTime, "{:?} in {} fired at {} (local {})", e.text, ZONES[zone], fire, local);
                let just_before = fire - Duration::seconds(1);
                prop_assert!(offset(tz, just_before) < offset(tz, fire), "{:?} in {}: {} (local {}) is no gap end", e.text, ZONES[zone], fire, local);
                let (h, m, s) = (first(&e.hour), first(&e.minute), first(&e.second));
                let scheduled = local.date().and_hms_opt(h, m, s).expect("valid time");
                prop_assert!(matches!(tz.from_local_datetime(&scheduled), LocalResult::None), "{:?} in {}: {} exists", e.text, ZONES[zone], scheduled);
                prop_assert!(just_before.with_timezone(&tz).naive_local() < scheduled && scheduled < local);
                prop_assert!(e.matches(scheduled));
            }
            for pair in fires.windows(2) {
                prop_assert_eq!(schedule.prev_before(pair[1]), Some(pair[0]), "{:?} in {}", e.text, ZONES[zone]);
            }
            let prev = schedule.prev_before(fires[0]);
            prop_assert!(prev.is_some_and(|p| p <= t), "{:?} in {}: prev_before({}) = {:?}, after {}", e.text, ZONES[zone], fires[0], prev, t);
            prop_assert_eq!(schedule.prev_before(t).and_then(|p| schedule.next_after(p)).map(|n| n >= t), Some(true));
        }

        /// `@every` fires on the grid anchor + k * interval, k >= 1, anchor
        /// truncated to the second, and prev_before walks the same grid.
        #[test]
        fn every_fires_on_the_anchor_grid(
            interval in 1i64..=200_000,
            anchor in FROM..UNTIL,
            anchor_nanos in 0..1_000_000_000u32,
            t in FROM..UNTIL,
            t_nanos in prop_oneof![Just(0u32), 0..1_000_000_000u32],
        ) {
            let anchor_at = DateTime::from_timestamp(anchor, anchor_nanos).expect("in range");
            let t = DateTime::from_timestamp(t, t_nanos).expect("in range");
            let schedule = Schedule::parse(&format!("@every {interval}s"), "UTC", anchor_at).expect("valid");
            let grid = DateTime::from_timestamp(anchor, 0).expect("in range");
            let step = Duration::seconds(interval);
            let next = schedule.next_after(t).expect("@every never ends");
            prop_assert!(next > t);
            let k = (next - grid).num_seconds() / interval;
            prop_assert!(k >= 1);
            prop_assert_eq!(grid + Duration::seconds(interval * k), next);
            prop_assert!(k == 1 || next - step <= t);
            let prev = schedule.prev_before(next);
            prop_assert_eq!(prev, (k > 1).then(|| next - step));
            if let Some(prev) = schedule.prev_before(t) {
                prop_assert!(prev < t && prev + step >= t && prev > grid);
            } else {
                prop_assert!(t <= grid + step);
            }
        }
    }

    fn first(set: &BTreeSet<u32>) -> u32 {
        *set.iter().next().expect("non-empty")
    }

    #[test]
    fn transitions_found() {
        // New York changes twice a year from 2007 on (and twice before).
        let ny = ZONES
            .iter()
            .position(|z| *z == "America/New_York")
            .expect("listed");
        assert_eq!(transitions()[ny].len(), 82);
        let utc = ZONES.iter().position(|z| *z == "UTC").expect("listed");
        assert!(transitions()[utc].is_empty());
        assert!(transitions()[ny].contains(&(at_unix("2026-03-08T07:00:00Z"))));
    }

    fn at_unix(text: &str) -> i64 {
        super::at(text).timestamp()
    }
}
