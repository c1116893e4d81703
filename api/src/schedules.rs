//! A cache of parsed schedules. Every job reply lists the next fires, and
//! parsing a cron expression costs more than the rest of a `GET /jobs/{id}`
//! in this process, so parsed schedules are kept by their text, zone and
//! `@every` anchor (which together decide a schedule completely).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chime_core::{JobSpec, Schedule};
use chrono::{DateTime, Utc};

/// Past this many entries the cache starts over; far more distinct
/// schedules than one deployment is expected to have, and cheap to refill.
const CAPACITY: usize = 10_000;

type Key = (String, String, DateTime<Utc>);

/// Parsed schedules, shared by every request.
#[derive(Default)]
pub(crate) struct Schedules {
    parsed: Mutex<HashMap<Key, Arc<Schedule>>>,
}

impl Schedules {
    /// The schedule of `spec` anchored at `created_at`, or `None` when it no
    /// longer parses (a definition stored under an older build's rules).
    pub(crate) fn get(&self, spec: &JobSpec, created_at: DateTime<Utc>) -> Option<Arc<Schedule>> {
        let key = (spec.schedule.clone(), spec.timezone.clone(), created_at);
        if let Some(schedule) = self.lock().get(&key) {
            return Some(schedule.clone());
        }
        // Parsed outside the lock: the critical section stays a map lookup.
        let schedule = Arc::new(Schedule::parse(&spec.schedule, &spec.timezone, created_at).ok()?);
        let mut parsed = self.lock();
        if parsed.len() >= CAPACITY {
            parsed.clear();
        }
        parsed.insert(key, schedule.clone());
        Some(schedule)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Schedule>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (each operation is one map call), so a poisoned lock is still good.
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chime_core::job::{ShellTarget, Target};

    use super::*;

    fn spec(schedule: &str) -> JobSpec {
        serde_json::from_value(serde_json::json!({
            "name": "cached",
            "schedule": schedule,
            "target": Target::Shell(ShellTarget {
                command: vec!["x".into()],
                env: Default::default(),
                cwd: None,
            }),
        }))
        .expect("a valid spec")
    }

    #[test]
    fn parses_once_per_schedule_and_anchor() {
        let schedules = Schedules::default();
        let anchor = DateTime::<Utc>::UNIX_EPOCH;
        let first = schedules.get(&spec("@every 90s"), anchor).expect("parses");
        let again = schedules.get(&spec("@every 90s"), anchor).expect("parses");
        assert!(Arc::ptr_eq(&first, &again));
        let other_anchor = anchor + chrono::Duration::seconds(30);
        let moved = schedules
            .get(&spec("@every 90s"), other_anchor)
            .expect("parses");
        assert!(!Arc::ptr_eq(&first, &moved));
        assert_eq!(
            moved.next_after(other_anchor),
            Some(other_anchor + chrono::Duration::seconds(90))
        );
        assert!(schedules.get(&spec("61 * * * *"), anchor).is_none());
    }
}
