//! The jobs cache and the emission state machine of each job. Pure: no IO,
//! and "now" is a parameter, so the rules are tested with an injected clock.
//!
//! Every replica keeps every live job here (definitions from Postgres, kept
//! current by the changes stream and periodic resyncs). Only the leader arms
//! timers: on taking over it reads each job's cursor, plans its catch-up,
//! and from then on pops due ticks from the timer heap. A job has at most
//! one batch of ticks in flight; its next tick is armed only once the batch
//! is acknowledged, so a batch that failed can be resent without a later
//! tick overtaking it.

mod schedules;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chime_store::StoredJob;
use chrono::DateTime;
use uuid::Uuid;

use crate::catchup::{self, Late};
use crate::jitter;
use crate::timers::Timers;
use schedules::{Parsed, Schedules};
use spec::Queues;
pub(crate) use spec::Spec;

/// One cached job.
#[derive(Debug)]
pub(crate) struct Job {
    /// What emission needs of the definition.
    pub(crate) spec: Spec,
    /// The parsed schedule, shared between jobs with the same expression.
    schedule: Arc<Parsed>,
    /// The definition version.
    pub(crate) version: i64,
    /// Creation instant (ms): a new job's first tick is the first after it.
    created_at_ms: i64,
    /// The resync generation that last saw the job in Postgres.
    seen: u32,
    /// Leader only: every tick up to here is handled (ms).
    cursor: Option<i64>,
    /// Leader only: where the job is in its emission cycle.
    slot: Slot,
    /// Bumped on every change; timer entries of older generations are stale.
    generation: u32,
    /// The schedule changed while a batch was in flight: go on from now,
    /// not from the old schedule's last tick.
    replan_from_now: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Nothing armed: not leading, paused, or no tick left (a past `@at`).
    Idle,
    /// Waiting for its cursor to be read from Redis.
    NeedsCursor,
    /// Armed in the timer heap.
    Waiting { tick_ms: i64 },
    /// A batch is being emitted.
    InFlight,
}

/// Ticks of one job to hand to the emit script together, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub(crate) job_id: Uuid,
    pub(crate) items: Vec<Late>,
    /// Once the batch is done the job's next tick is the first after this.
    resume_after_ms: i64,
    /// The leadership term the batch belongs to.
    term: u64,
}

/// The cache and the state machine.
#[derive(Debug)]
pub(crate) struct Engine {
    /// Boxed: the map's buckets stay small (a map of a million entries has
    /// two million buckets).
    jobs: HashMap<Uuid, Box<Job>>,
    timers: Timers,
    schedules: Schedules,
    queues: Queues,
    leading: bool,
    term: u64,
    needs_cursor: VecDeque<Uuid>,
    ready: VecDeque<Batch>,
    resync_generation: u32,
    resync_active: bool,
    /// Jobs changed through the changes stream since the resync began: its
    /// pages may hold older rows of them, which must not win.
    touched: HashSet<Uuid>,
    grace_ms: i64,
    cap: usize,
}

impl Engine {
    pub(crate) fn new(grace_ms: u64, cap: usize) -> Self {
        Engine {
            jobs: HashMap::new(),
            timers: Timers::default(),
            schedules: Schedules::default(),
            queues: Queues::default(),
            leading: false,
            term: 0,
            needs_cursor: VecDeque::new(),
            ready: VecDeque::new(),
            resync_generation: 0,
            resync_active: false,
            touched: HashSet::new(),
            grace_ms: grace_ms as i64,
            cap,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    pub(crate) fn job(&self, id: &Uuid) -> Option<&Job> {
        self.jobs.get(id).map(|job| &**job)
    }

    // ---- keeping the cache current ----

    /// Starts a full reload: jobs absent from every page until
    /// [`Engine::end_resync`] are removed then.
    pub(crate) fn begin_resync(&mut self) {
        self.resync_generation = self.resync_generation.wrapping_add(1);
        self.resync_active = true;
        self.touched.clear();
    }

    /// One page of a full reload.
    pub(crate) fn resync_page(&mut self, page: Vec<StoredJob>, now_ms: i64) {
        for stored in page {
            if self.touched.contains(&stored.id) {
                continue;
            }
            self.upsert(stored, now_ms);
        }
    }

    /// One page of `(id, version)` of a reload: marks the jobs cached at
    /// that version as seen and returns the ids whose rows must be fetched
    /// (unknown here, or newer in Postgres).
    pub(crate) fn resync_versions(&mut self, page: &[(Uuid, i64)]) -> Vec<Uuid> {
        let generation = self.resync_generation;
        let mut stale = Vec::new();
        for (id, version) in page {
            if self.touched.contains(id) {
                continue;
            }
            match self.jobs.get_mut(id) {
                Some(job) if job.version >= *version => job.seen = generation,
                _ => stale.push(*id),
            }
        }
        stale
    }

    /// Ends a full reload; returns how many jobs it removed.
    pub(crate) fn end_resync(&mut self) -> usize {
        if !self.resync_active {
            return 0;
        }
        self.resync_active = false;
        let generation = self.resync_generation;
        let gone: Vec<Uuid> = self
            .jobs
            .iter()
            .filter(|(id, job)| job.seen != generation && !self.touched.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.remove(*id);
        }
        self.touched.clear();
        self.schedules.purge_unused();
        self.queues.purge_unused();
        gone.len()
    }

    /// A reload that failed half way: removes nothing.
    pub(crate) fn abort_resync(&mut self) {
        self.resync_active = false;
        self.touched.clear();
    }

    /// A change read from the changes stream: the job's current row, or
    /// `None` when it is deleted.
    pub(crate) fn change(&mut self, id: Uuid, current: Option<StoredJob>, now_ms: i64) {
        if self.resync_active {
            self.touched.insert(id);
        }
        match current {
            Some(stored) => self.upsert(stored, now_ms),
            None => self.remove(id),
        }
    }

    /// Adds or updates a job from its row; an older version than the one
    /// cached is ignored.
    pub(crate) fn upsert(&mut self, stored: StoredJob, now_ms: i64) {
        let id = stored.id;
        let generation = self.resync_generation;
        if let Some(job) = self.jobs.get_mut(&id) {
            if job.version >= stored.version {
                job.seen = generation;
                return;
            }
        }
        let schedule = match self.schedules.get(
            &stored.spec.schedule,
            &stored.spec.timezone,
            stored.created_at,
        ) {
            Ok(schedule) => schedule,
            Err(err) => {
                tracing::warn!(job_id = %id, error = %err, "job has an invalid schedule; ignoring it");
                self.remove(id);
                return;
            }
        };
        let spec = Spec::new(stored.spec, &mut self.queues);
        let Some(job) = self.jobs.get_mut(&id) else {
            let slot = if self.leading && !spec.paused {
                self.needs_cursor.push_back(id);
                Slot::NeedsCursor
            } else {
                Slot::Idle
            };
            self.jobs.insert(
                id,
                Box::new(Job {
                    spec,
                    schedule,
                    version: stored.version,
                    created_at_ms: stored.created_at.timestamp_millis(),
                    seen: generation,
                    cursor: None,
                    slot,
                    generation: 0,
                    replan_from_now: false,
                }),
            );
            return;
        };
        let was_paused = job.spec.paused;
        let schedule_changed =
            job.schedule.expr != schedule.expr || job.schedule.timezone != schedule.timezone;
        job.spec = spec;
        job.schedule = schedule;
        job.version = stored.version;
        job.seen = generation;
        job.generation = job.generation.wrapping_add(1);
        if !self.leading {
            return;
        }
        match job.slot {
            Slot::InFlight => job.replan_from_now |= schedule_changed,
            Slot::NeedsCursor => {}
            Slot::Idle | Slot::Waiting { .. } => {
                job.slot = Slot::Idle;
                if job.spec.paused {
                    return;
                }
                match job.cursor {
                    None => {
                        job.slot = Slot::NeedsCursor;
                        self.needs_cursor.push_back(id);
                    }
                    // Resumed: the paused time is handled like downtime.
                    Some(cursor) if was_paused => self.catch_up(id, cursor, now_ms),
                    // A new schedule starts now: its ticks before now were
                    // never due.
                    Some(cursor) if schedule_changed => self.arm(id, cursor.max(now_ms)),
                    Some(cursor) => self.arm(id, cursor),
                }
            }
        }
        self.compact_timers();
    }

    /// Forgets a job; its armed timer goes stale and an in-flight batch's
    /// acknowledgement is ignored.
    pub(crate) fn remove(&mut self, id: Uuid) {
        self.jobs.remove(&id);
    }

    // ---- leadership ----

    /// This replica now leads: every unpaused job needs its cursor read.
    pub(crate) fn take_over(&mut self) {
        self.step_down();
        self.leading = true;
        self.term += 1;
        for (id, job) in &mut self.jobs {
            if !job.spec.paused {
                job.slot = Slot::NeedsCursor;
                self.needs_cursor.push_back(*id);
            }
        }
    }

    /// This replica no longer leads: drop every timer and batch.
    pub(crate) fn step_down(&mut self) {
        self.leading = false;
        self.timers.clear();
        self.ready.clear();
        self.needs_cursor.clear();
        for job in self.jobs.values_mut() {
            job.slot = Slot::Idle;
            job.cursor = None;
            job.replan_from_now = false;
        }
    }

    /// Up to `limit` jobs whose cursor must be read.
    pub(crate) fn take_needs_cursor(&mut self, limit: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        while ids.len() < limit {
            let Some(id) = self.needs_cursor.pop_front() else {
                break;
            };
            if self
                .jobs
                .get(&id)
                .is_some_and(|j| j.slot == Slot::NeedsCursor)
            {
                ids.push(id);
            }
        }
        ids
    }

    /// Reading these jobs' cursors failed: they wait for another try.
    pub(crate) fn cursors_failed(&mut self, ids: &[Uuid]) {
        self.needs_cursor.extend(ids.iter().copied());
    }

    /// Cursors read from Redis (`None`: the job never emitted): plans each
    /// job's catch-up and arms its timer.
    pub(crate) fn cursors_loaded(&mut self, cursors: &[(Uuid, Option<i64>)], now_ms: i64) {
        if !self.leading {
            return;
        }
        for (id, cursor) in cursors {
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            if job.slot != Slot::NeedsCursor {
                continue;
            }
            // A job that never emitted starts at its creation, but no
            // further back than its catch-up window: a job created long
            // before this deployment (or whose cursor Redis lost) has no
            // ticks anyone waited for, and reporting each as missed since
            // its creation would flood the results stream.
            let window_start =
                now_ms.saturating_sub((job.spec.catchup.window_s as i64).saturating_mul(1000));
            let cursor = cursor.unwrap_or(job.created_at_ms.max(window_start));
            job.cursor = Some(cursor);
            job.slot = Slot::Idle;
            if !job.spec.paused {
                self.catch_up(*id, cursor, now_ms);
            }
        }
    }

    // ---- emission ----

    /// Batches to emit now: catch-ups first, then due ticks, about
    /// `max_ticks` ticks in all. Their jobs are in flight until acknowledged.
    pub(crate) fn take_due(&mut self, now_ms: i64, max_ticks: usize) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut n_ticks = 0;
        if !self.leading {
            return out;
        }
        while n_ticks < max_ticks {
            let Some(batch) = self.ready.pop_front() else {
                break;
            };
            let live = self
                .jobs
                .get(&batch.job_id)
                .is_some_and(|j| !j.spec.paused && j.slot == Slot::InFlight);
            if !live {
                if let Some(job) = self.jobs.get_mut(&batch.job_id) {
                    job.slot = Slot::Idle;
                }
                continue;
            }
            n_ticks += batch.items.len();
            out.push(batch);
        }
        while n_ticks < max_ticks {
            let Some((id, generation)) = self.timers.pop_due(now_ms) else {
                break;
            };
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            let Slot::Waiting { tick_ms } = job.slot else {
                continue;
            };
            if job.generation != generation || job.spec.paused {
                continue;
            }
            job.slot = Slot::InFlight;
            n_ticks += 1;
            out.push(Batch {
                job_id: id,
                items: vec![Late::Emit(tick_ms)],
                resume_after_ms: tick_ms,
                term: self.term,
            });
        }
        out
    }

    /// The emit script handled `batch` (`done`), or it failed and must be
    /// sent again (`!done`: it goes back to the front of the line).
    pub(crate) fn acked(&mut self, batch: Batch, done: bool, now_ms: i64) {
        if !self.leading || batch.term != self.term {
            return;
        }
        let Some(job) = self.jobs.get_mut(&batch.job_id) else {
            return;
        };
        if job.slot != Slot::InFlight {
            return;
        }
        if !done {
            self.ready.push_front(batch);
            return;
        }
        let handled = job.cursor.unwrap_or(i64::MIN).max(batch.resume_after_ms);
        job.cursor = Some(handled);
        job.slot = Slot::Idle;
        if job.spec.paused {
            return;
        }
        let after = if std::mem::take(&mut job.replan_from_now) {
            handled.max(now_ms)
        } else {
            handled
        };
        self.arm(batch.job_id, after);
    }

    /// When the loop should next look for due work (ms); `None`: nothing armed.
    pub(crate) fn next_wake(&self) -> Option<i64> {
        if !self.ready.is_empty() {
            return Some(i64::MIN);
        }
        self.timers.next_due()
    }

    /// Whether cursors are waiting to be read.
    pub(crate) fn wants_cursors(&self) -> bool {
        !self.needs_cursor.is_empty()
    }

    // ---- helpers ----

    fn catch_up(&mut self, id: Uuid, cursor_ms: i64, now_ms: i64) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let jitter_ms = (job.spec.jitter_s as i64).saturating_mul(1000);
        let late_until = now_ms - self.grace_ms - jitter_ms;
        let plan = catchup::plan(
            &job.schedule.schedule,
            job.spec.catchup,
            cursor_ms,
            late_until,
            now_ms,
            self.cap,
        );
        if plan.unreported {
            tracing::debug!(
                job_id = %id,
                cap = self.cap,
                "more late ticks than the catch-up cap; the oldest are skipped without a result each"
            );
        }
        if plan.late.is_empty() {
            self.arm(id, plan.resume_after_ms);
            return;
        }
        job.slot = Slot::InFlight;
        self.ready.push_back(Batch {
            job_id: id,
            items: plan.late,
            resume_after_ms: plan.resume_after_ms,
            term: self.term,
        });
    }

    /// Arms the job's first tick after `after_ms`.
    fn arm(&mut self, id: Uuid, after_ms: i64) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let after = DateTime::from_timestamp_millis(after_ms).unwrap_or_default();
        match job.schedule.schedule.next_after(after) {
            Some(tick) => {
                let tick_ms = tick.timestamp_millis();
                let due_ms = tick_ms + jitter::delay_ms(id, tick_ms, job.spec.jitter_s);
                job.slot = Slot::Waiting { tick_ms };
                self.timers.push(due_ms, id, job.generation);
            }
            None => job.slot = Slot::Idle,
        }
    }

    fn compact_timers(&mut self) {
        if self.timers.len() <= 2 * self.jobs.len() + 1024 {
            return;
        }
        let live = self.jobs.iter().filter_map(|(id, job)| match job.slot {
            Slot::Waiting { tick_ms } => Some((
                tick_ms + jitter::delay_ms(*id, tick_ms, job.spec.jitter_s),
                *id,
                job.generation,
            )),
            _ => None,
        });
        self.timers.rebuild(live);
    }
}
