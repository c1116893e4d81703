//! Parsed schedules, shared: a cron schedule parsed by croner carries
//! several kilobytes of bit fields, so a million jobs with a few distinct
//! expressions keep one parsed copy per expression and time zone.
//! `@every` schedules depend on the job's creation instant and are not shared.

use std::collections::HashMap;
use std::sync::Arc;

use chime_core::{Schedule, ScheduleError};
use chrono::{DateTime, Utc};

/// A parsed schedule with the text it came from (edits compare the text).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) schedule: Schedule,
    pub(crate) expr: String,
    pub(crate) timezone: String,
}

#[derive(Debug, Default)]
pub(super) struct Schedules {
    shared: HashMap<(String, String), Arc<Parsed>>,
}

impl Schedules {
    pub(super) fn get(
        &mut self,
        expr: &str,
        timezone: &str,
        created_at: DateTime<Utc>,
    ) -> Result<Arc<Parsed>, ScheduleError> {
        let parse = || -> Result<Arc<Parsed>, ScheduleError> {
            Ok(Arc::new(Parsed {
                schedule: Schedule::parse(expr, timezone, created_at)?,
                expr: expr.to_owned(),
                timezone: timezone.to_owned(),
            }))
        };
        let anchored = expr
            .trim()
            .get(..6)
            .is_some_and(|head| head.eq_ignore_ascii_case("@every"));
        if anchored {
            return parse();
        }
        let key = (expr.to_owned(), timezone.to_owned());
        if let Some(parsed) = self.shared.get(&key) {
            return Ok(parsed.clone());
        }
        let parsed = parse()?;
        self.shared.insert(key, parsed.clone());
        Ok(parsed)
    }

    /// Drops schedules no job uses any more.
    pub(super) fn purge_unused(&mut self) {
        self.shared.retain(|_, s| Arc::strong_count(s) > 1);
    }
}
