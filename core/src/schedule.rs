//! Schedules: when a job fires.
//!
//! A [`Schedule`] is parsed once from the user's text and a time zone, then
//! answers "when next?" without stepping second by second. Three kinds:
//!
//! - **cron**, 5 fields (`m h dom mon dow`), 6 (leading seconds) or 7
//!   (trailing year), with names, ranges, steps, lists, `?`, `L`, `W` and `#`.
//!   When both day-of-month and day-of-week are restricted a day matches if
//!   *either* matches (the Vixie cron rule): `0 0 1 * MON` fires on the 1st and
//!   on every Monday.
//! - **`@every <duration>`**, a fixed interval anchored to an instant (the
//!   job's creation, truncated to the second): it fires at `anchor + k *
//!   interval` for k >= 1.
//! - **`@at <RFC 3339 instant>`**, one run at one instant.
//!
//! Cron is evaluated in the schedule's IANA time zone and follows the Open Cron
//! Pattern Specification around DST, as croner implements it. A *fixed-time*
//! schedule (a single value in each of second, minute and hour) whose time
//! falls into a spring-forward gap fires once when the gap ends, and fires once,
//! at the first pass, in a repeated hour. An *interval* schedule skips matches
//! inside a gap and fires at every wall-clock match in both passes of a
//! repeated hour.

mod every;
mod fields;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::CronParser;
use croner::{Cron, JobType};

pub use every::parse_duration;

/// A parsed, valid schedule in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    tz: Tz,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<Cron>),
    Every {
        anchor: DateTime<Utc>,
        interval_ms: i64,
    },
    At(DateTime<Utc>),
}

/// Why a schedule or its time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is malformed or can never fire.
    #[error("{0}")]
    Expression(String),
    /// The time zone is empty or not an IANA name.
    #[error("{0}")]
    TimeZone(String),
}

impl ScheduleError {
    /// The request field the error is about: `schedule` or `timezone`.
    pub fn field(&self) -> &'static str {
        match self {
            ScheduleError::Expression(_) => "schedule",
            ScheduleError::TimeZone(_) => "timezone",
        }
    }
}

/// Whether a cron schedule names single instants of the day or repeats
/// within it; the two behave differently around DST changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleClass {
    /// One value in each of second, minute and hour: `0 30 2 * * *`.
    FixedTime,
    /// Any wildcard, step, range or list in those fields; also `@every`.
    Interval,
    /// `@at`: fires once.
    OneShot,
}

impl Schedule {
    /// Parses `expr` in the IANA zone `timezone`; `anchor` is where an
    /// `@every` interval starts counting (the job's creation instant).
    pub fn parse(expr: &str, timezone: &str, anchor: DateTime<Utc>) -> Result<Self, ScheduleError> {
        let tz = parse_timezone(timezone)?;
        let expr = expr.trim();
        let kind = if let Some(rest) = strip_macro(expr, "@every") {
            let interval = parse_duration(rest).map_err(ScheduleError::Expression)?;
            Kind::Every {
                anchor: truncate_to_second(anchor),
                interval_ms: interval.as_millis() as i64,
            }
        } else if let Some(rest) = strip_macro(expr, "@at") {
            let at = DateTime::parse_from_rfc3339(rest.trim()).map_err(|e| {
                ScheduleError::Expression(format!(
                    "@at: '{}' is not an RFC 3339 instant ({e})",
                    rest.trim()
                ))
            })?;
            Kind::At(at.with_timezone(&Utc))
        } else {
            Kind::Cron(Box::new(parse_cron(expr)?))
        };
        Ok(Schedule { kind, tz })
    }

    /// The schedule's time zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// How the schedule behaves around DST changes.
    pub fn class(&self) -> ScheduleClass {
        match &self.kind {
            Kind::Cron(cron) => match cron.determine_job_type() {
                JobType::FixedTime => ScheduleClass::FixedTime,
                JobType::IntervalWildcard => ScheduleClass::Interval,
            },
            Kind::Every { .. } => ScheduleClass::Interval,
            Kind::At(_) => ScheduleClass::OneShot,
        }
    }

    /// The first fire strictly after `after`, or `None` when there is none
    /// (an `@at` in the past, a year field that has run out).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(cron) => {
                // Fires fall on whole seconds; from a fraction of a second the
                // next one is the one after the second it lies in.
                let start = truncate_to_second(after).with_timezone(&self.tz);
                cron.find_next_occurrence(&start, false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            Kind::Every {
                anchor,
                interval_ms,
            } => {
                let elapsed = (after - *anchor).num_milliseconds();
                let k = if elapsed < 0 {
                    1
                } else {
                    elapsed / interval_ms + 1
                };
                Some(*anchor + chrono::Duration::milliseconds(k * interval_ms))
            }
            Kind::At(at) => (*at > after).then_some(*at),
        }
    }

    /// The last fire strictly before `before`.
    pub fn prev_before(&self, before: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(cron) => {
                // A fraction past a whole second still has that second before it.
                let start = if before.nanosecond() == 0 {
                    before
                } else {
                    truncate_to_second(before) + chrono::Duration::seconds(1)
                };
                cron.find_previous_occurrence(&start.with_timezone(&self.tz), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            Kind::Every {
                anchor,
                interval_ms,
            } => {
                // Fires fall on whole seconds, as for cron: counting from the
                // next whole second keeps a sub-millisecond fraction past a
                // fire from being lost to millisecond truncation.
                let before = if before.nanosecond() == 0 {
                    before
                } else {
                    truncate_to_second(before) + chrono::Duration::seconds(1)
                };
                let elapsed = (before - *anchor).num_milliseconds();
                if elapsed <= *interval_ms {
                    return None;
                }
                let k = (elapsed - 1) / interval_ms;
                Some(*anchor + chrono::Duration::milliseconds(k * interval_ms))
            }
            Kind::At(at) => (*at < before).then_some(*at),
        }
    }

    /// The next `n` fires strictly after `after`.
    pub fn next_n(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.iter_after(after).take(n).collect()
    }

    /// Fires in `(after, until]`, at most `cap` of them; `truncated` says
    /// whether more fires lie in the range. Catch-up and backfill use it.
    pub fn fires_between(&self, after: DateTime<Utc>, until: DateTime<Utc>, cap: usize) -> Fires {
        let mut fires = Vec::new();
        for fire in self.iter_after(after) {
            if fire > until {
                return Fires {
                    fires,
                    truncated: false,
                };
            }
            if fires.len() == cap {
                return Fires {
                    fires,
                    truncated: true,
                };
            }
            fires.push(fire);
        }
        Fires {
            fires,
            truncated: false,
        }
    }

    /// Fires strictly after `after`, in order.
    pub fn iter_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut cursor = Some(after);
        std::iter::from_fn(move || {
            let next = self.next_after(cursor?);
            cursor = next;
            next
        })
    }
}

/// Fires in a range, with a flag for a range that held more than the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fires {
    /// The fires, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// More fires lay in the range than the cap allowed.
    pub truncated: bool,
}

/// Parses an IANA time zone name; an empty name is an error, not UTC.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    if name.is_empty() {
        return Err(ScheduleError::TimeZone(
            "time zone must not be empty; use \"UTC\" for UTC".to_owned(),
        ));
    }
    Tz::from_str(name).map_err(|_| {
        ScheduleError::TimeZone(format!(
            "'{name}' is not an IANA time zone name (for example Europe/Berlin)"
        ))
    })
}

fn strip_macro<'a>(expr: &'a str, name: &str) -> Option<&'a str> {
    let head = expr.get(..name.len())?;
    let rest = &expr[name.len()..];
    (head.eq_ignore_ascii_case(name) && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
        .then_some(rest)
}

fn parse_cron(expr: &str) -> Result<Cron, ScheduleError> {
    let expanded = expand_macro(expr)?;
    let validated = fields::validate(expanded).map_err(ScheduleError::Expression)?;
    if let Some(days) = &validated.plain_days {
        check_days_exist(days, &validated.months)?;
    }
    let cron = CronParser::builder()
        .build()
        .parse(&validated.normalized)
        .map_err(|e| ScheduleError::Expression(format!("invalid cron expression: {e}")))?;
    // A pattern whose parts are each valid can still name no real instant
    // (`0 0 0 29 2 * 2100`). croner gives up after a bounded search; asking
    // once here turns that into a validation error instead of a silent job.
    let probe = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
    if let Err(croner::errors::CronError::TimeSearchLimitExceeded) =
        cron.find_next_occurrence(&probe, false)
    {
        return Err(ScheduleError::Expression(
            "the expression never fires: no date matches all of its fields".to_owned(),
        ));
    }
    Ok(cron)
}

fn expand_macro(expr: &str) -> Result<&str, ScheduleError> {
    if !expr.starts_with('@') {
        return Ok(expr);
    }
    Ok(match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(ScheduleError::Expression(format!(
                "unknown macro '{expr}'; use @yearly, @annually, @monthly, @weekly, @daily, \
                 @midnight, @hourly, @every <duration> or @at <RFC 3339 instant>"
            )));
        }
    })
}

/// Refuses day-of-month values that no allowed month has (`31` in April).
fn check_days_exist(days: &[u32], months: &[u32]) -> Result<(), ScheduleError> {
    const MONTH_NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days_in = |month: u32| match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let Some(&first_day) = days.first() else {
        return Ok(());
    };
    if months.iter().any(|&m| first_day <= days_in(m)) {
        return Ok(());
    }
    let names: Vec<&str> = months
        .iter()
        .map(|&m| MONTH_NAMES[(m as usize).saturating_sub(1) % 12])
        .collect();
    Err(ScheduleError::Expression(format!(
        "day-of-month: {first_day} never occurs in {}, so the expression never fires",
        names.join(" or ")
    )))
}

fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

impl fmt::Display for ScheduleClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScheduleClass::FixedTime => "fixed-time",
            ScheduleClass::Interval => "interval",
            ScheduleClass::OneShot => "one-shot",
        })
    }
}
