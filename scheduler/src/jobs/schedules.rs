//! Parsed schedules, shared: a cron schedule parsed by croner carries
//! several kilobytes of bit fields, so a million jobs with a few distinct
//! expressions keep one parsed copy per expression and time zone.
//! `@every` schedules depend on the job's creation instant and are not shared.

use std::collections::HashMap;
use std::sync::Arc;

use chime_core::{JobSpec, Schedule, ScheduleError};
use chrono::{DateTime, Utc};

#[derive(Debug, Default)]
pub(super) struct Schedules {
    shared: HashMap<(String, String), Arc<Schedule>>,
}

impl Schedules {
    pub(super) fn get(
        &mut self,
        spec: &JobSpec,
        created_at: DateTime<Utc>,
    ) -> Result<Arc<Schedule>, ScheduleError> {
        let expr = spec.schedule.trim();
        let anchored = expr
            .get(..6)
            .is_some_and(|head| head.eq_ignore_ascii_case("@every"));
        if anchored {
            return Ok(Arc::new(Schedule::parse(expr, &spec.timezone, created_at)?));
        }
        let key = (expr.to_owned(), spec.timezone.clone());
        if let Some(schedule) = self.shared.get(&key) {
            return Ok(schedule.clone());
        }
        let schedule = Arc::new(Schedule::parse(expr, &spec.timezone, created_at)?);
        self.shared.insert(key, schedule.clone());
        Ok(schedule)
    }

    /// Drops schedules no job uses any more.
    pub(super) fn purge_unused(&mut self) {
        self.shared.retain(|_, s| Arc::strong_count(s) > 1);
    }
}
