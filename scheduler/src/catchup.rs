//! Catch-up: what to do with ticks that fell due while no leader emitted
//! them (a failover, a restart, a paused job resumed, a job loaded late).
//! Pure: the caller passes the cursor and "now".
//!
//! A tick is *late* when it lies more than the grace (plus the job's largest
//! jitter) in the past; ticks less late than that are emitted as usual.
//! Late ticks follow the job's [`CatchupPolicy`]: `none` reports each as
//! `missed`; `latest` emits the newest one inside the window and reports the
//! older ones; `all` emits every one inside the window, newest `cap` at
//! most, and reports the rest. At most `cap` ticks are reported one by one
//! per catch-up; beyond that they are counted in a log line only, so a job
//! that ticks every second and was paused for a month does not write
//! millions of results.

use chime_core::{Catchup, CatchupPolicy, Schedule};
use chrono::{DateTime, Utc};

/// Why a tick was not emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissReason {
    /// The policy is `none`, or `latest` and a newer tick was emitted.
    Policy,
    /// Older than the catch-up window.
    Window,
    /// Past the per-recovery cap of `all`.
    Cap,
}

/// One late tick and its fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Late {
    /// Emit it now.
    Emit(i64),
    /// Report it `missed`.
    Missed(i64, MissReason),
}

impl Late {
    pub(crate) fn tick_ms(self) -> i64 {
        match self {
            Late::Emit(t) | Late::Missed(t, _) => t,
        }
    }
}

/// The catch-up of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Late ticks, oldest first.
    pub(crate) late: Vec<Late>,
    /// Late ticks neither emitted nor reported (past the cap).
    pub(crate) unreported: bool,
    /// Where the schedule goes on from: the next tick is the first after it.
    pub(crate) resume_after_ms: i64,
}

/// Plans the catch-up of a job whose last handled tick is `cursor_ms`.
/// Ticks up to `late_until_ms` are late; `now_ms` anchors the window.
pub(crate) fn plan(
    schedule: &Schedule,
    catchup: Catchup,
    cursor_ms: i64,
    late_until_ms: i64,
    now_ms: i64,
    cap: usize,
) -> Plan {
    if cursor_ms >= late_until_ms {
        return Plan {
            late: Vec::new(),
            unreported: false,
            resume_after_ms: cursor_ms,
        };
    }
    let window_start = now_ms.saturating_sub((catchup.window_s as i64).saturating_mul(1000));
    let floor = cursor_ms.max(window_start);
    let mut emits: Vec<i64> = Vec::new();
    match catchup.policy {
        CatchupPolicy::None => {}
        CatchupPolicy::Latest => {
            if let Some(t) = schedule.prev_before(at(late_until_ms + 1)) {
                let t = t.timestamp_millis();
                if t > floor {
                    emits.push(t);
                }
            }
        }
        CatchupPolicy::All => {
            let mut before = late_until_ms + 1;
            while emits.len() < cap {
                let Some(t) = schedule.prev_before(at(before)) else {
                    break;
                };
                let t = t.timestamp_millis();
                if t <= floor {
                    break;
                }
                emits.push(t);
                before = t;
            }
            emits.reverse();
        }
    }
    // Everything late before the first emitted tick is reported missed.
    let missed_until = emits.first().map_or(late_until_ms, |first| first - 1);
    let fires = schedule.fires_between(at(cursor_ms), at(missed_until), cap);
    let mut late: Vec<Late> = fires
        .fires
        .iter()
        .map(|t| {
            let t = t.timestamp_millis();
            let reason = if t <= window_start {
                MissReason::Window
            } else if catchup.policy == CatchupPolicy::All {
                MissReason::Cap
            } else {
                MissReason::Policy
            };
            Late::Missed(t, reason)
        })
        .collect();
    late.extend(emits.into_iter().map(Late::Emit));
    Plan {
        late,
        unreported: fires.truncated,
        resume_after_ms: late_until_ms,
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;
    /// 2027-01-01T00:00:00Z.
    const T0: i64 = 1_798_761_600_000;

    fn every_second() -> Schedule {
        Schedule::parse("* * * * * *", "UTC", at(T0)).unwrap()
    }

    fn catchup(policy: CatchupPolicy, window_s: u64) -> Catchup {
        Catchup { policy, window_s }
    }

    fn check(policy: CatchupPolicy, window_s: u64, cap: usize) -> Plan {
        // Cursor at T0, now at T0 + 10 s, ticks up to T0 + 9 s are late.
        plan(
            &every_second(),
            catchup(policy, window_s),
            T0,
            T0 + 9 * S,
            T0 + 10 * S,
            cap,
        )
    }

    fn emitted(plan: &Plan) -> Vec<i64> {
        plan.late
            .iter()
            .filter_map(|l| match l {
                Late::Emit(t) => Some((t - T0) / S),
                Late::Missed(..) => None,
            })
            .collect()
    }

    fn missed(plan: &Plan) -> Vec<(i64, MissReason)> {
        plan.late
            .iter()
            .filter_map(|l| match l {
                Late::Missed(t, r) => Some(((t - T0) / S, *r)),
                Late::Emit(_) => None,
            })
            .collect()
    }

    #[test]
    fn nothing_late_means_nothing_to_do() {
        let p = plan(
            &every_second(),
            catchup(CatchupPolicy::All, 60),
            T0 + 9 * S,
            T0 + 9 * S,
            T0 + 10 * S,
            10,
        );
        assert!(p.late.is_empty());
        assert_eq!(p.resume_after_ms, T0 + 9 * S);
    }

    #[test]
    fn none_reports_every_late_tick_missed() {
        let p = check(CatchupPolicy::None, 3600, 1000);
        assert!(emitted(&p).is_empty());
        let m: Vec<i64> = missed(&p).iter().map(|(t, _)| *t).collect();
        assert_eq!(m, (1..=9).collect::<Vec<_>>());
        assert!(missed(&p).iter().all(|(_, r)| *r == MissReason::Policy));
        assert_eq!(p.resume_after_ms, T0 + 9 * S);
        assert!(!p.unreported);
    }

    #[test]
    fn latest_emits_the_newest_and_reports_the_rest() {
        let p = check(CatchupPolicy::Latest, 3600, 1000);
        assert_eq!(emitted(&p), [9]);
        assert_eq!(missed(&p).len(), 8);
        // Oldest first, emitted last, so the cursor only moves forward.
        assert_eq!(p.late.last(), Some(&Late::Emit(T0 + 9 * S)));
    }

    #[test]
    fn all_emits_every_tick_inside_the_window() {
        let p = check(CatchupPolicy::All, 3600, 1000);
        assert_eq!(emitted(&p), (1..=9).collect::<Vec<_>>());
        assert!(missed(&p).is_empty());
    }

    #[test]
    fn the_window_bounds_what_is_emitted() {
        // Window 4 s before now (T0 + 10): ticks 7, 8, 9 are inside (6 is on
        // the edge and counts as outside).
        let p = check(CatchupPolicy::All, 4, 1000);
        assert_eq!(emitted(&p), [7, 8, 9]);
        let m = missed(&p);
        assert_eq!(m.len(), 6);
        assert!(m.iter().all(|(_, r)| *r == MissReason::Window));
        let p = check(CatchupPolicy::Latest, 0, 1000);
        assert!(emitted(&p).is_empty());
        assert_eq!(missed(&p).len(), 9);
    }

    #[test]
    fn the_cap_keeps_the_newest_and_reports_the_rest_up_to_the_cap() {
        let p = check(CatchupPolicy::All, 3600, 3);
        assert_eq!(emitted(&p), [7, 8, 9]);
        // Six older ticks are late; three are reported, the rest only counted.
        assert_eq!(
            missed(&p),
            [
                (1, MissReason::Cap),
                (2, MissReason::Cap),
                (3, MissReason::Cap)
            ]
        );
        assert!(p.unreported);
        assert_eq!(p.resume_after_ms, T0 + 9 * S);
    }
}
