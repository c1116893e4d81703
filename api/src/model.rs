//! The bodies the API sends and the small ones it takes besides a
//! [`JobSpec`]. Reply types are separate from the domain types so the
//! document a client sees is stated here, in one place, and the OpenAPI
//! schemas are derived from exactly what is serialized.

mod cluster;
mod run;

use std::collections::BTreeMap;

use chime_core::RunState;
use chime_core::job::{Catchup, JobSpec, OverlapPolicy, RetryPolicy, Target};
use chime_store::StoredJob;
use chime_store::jobs::{LatestRun, ListedJob};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schedules::Schedules;

pub(crate) use cluster::{Cluster, Executor, ExecutorList, Leader, QueueStatus};
pub(crate) use run::{
    BackfillReply, BackfillRequest, CancelReply, CancelRequest, Run, RunList, RunListItem,
    TriggerReply, TriggerRequest,
};

/// How many upcoming fires a job reply lists.
pub(crate) const NEXT_FIRES: usize = 5;

/// A stored job: its definition plus identity and bookkeeping.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Job {
    /// UUIDv7, stable across versions.
    id: Uuid,
    /// Incremented by every change, pause and resume included; the ETag.
    version: i64,
    /// Unique name.
    name: String,
    /// Cron expression, macro, `@every <duration>` or `@at <instant>`.
    schedule: String,
    /// IANA time zone the schedule is read in.
    timezone: String,
    /// Queue whose executors run the job.
    queue: String,
    /// What a run does.
    target: Target,
    /// Seconds a run may take.
    timeout_s: u64,
    /// Attempts and backoff after a failure.
    retry: RetryPolicy,
    /// What happens when a tick comes while a run is still going.
    overlap: OverlapPolicy,
    /// What happens to missed ticks.
    catchup: Catchup,
    /// A run not started this long after its tick is reported `missed`.
    starting_deadline_s: Option<u64>,
    /// Ticks are delayed by a deterministic amount below this.
    jitter_s: u64,
    /// A paused job emits nothing.
    paused: bool,
    /// Free-form tags.
    labels: BTreeMap<String, String>,
    /// Words for people.
    description: Option<String>,
    /// Why it was paused, when it was paused with a reason.
    paused_reason: Option<String>,
    /// When it was created (RFC 3339, UTC, milliseconds).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it last changed.
    #[schema(format = DateTime)]
    updated_at: String,
    /// The next fires (at most 5), UTC; empty while paused or when the
    /// schedule has no fire left.
    next_fires: Vec<String>,
}

impl Job {
    /// The reply for `job`, with its fires after `now`.
    pub(crate) fn new(job: StoredJob, now: DateTime<Utc>, schedules: &Schedules) -> Self {
        // A definition that no longer parses (an older build's rules) has no
        // fires rather than failing the read.
        let next_fires = match schedules.get(&job.spec, job.created_at) {
            Some(schedule) if !job.spec.paused => schedule
                .next_n(now.max(job.created_at), NEXT_FIRES)
                .into_iter()
                .map(instant)
                .collect(),
            _ => Vec::new(),
        };
        // Destructured in full, so a field added to JobSpec fails to compile
        // here until the reply carries it too.
        let JobSpec {
            name,
            schedule,
            timezone,
            queue,
            target,
            timeout_s,
            retry,
            overlap,
            catchup,
            starting_deadline_s,
            jitter_s,
            paused,
            labels,
            description,
        } = job.spec;
        Job {
            id: job.id,
            version: job.version,
            name,
            schedule,
            timezone,
            queue,
            target,
            timeout_s,
            retry,
            overlap,
            catchup,
            starting_deadline_s,
            jitter_s,
            paused,
            labels,
            description,
            paused_reason: job.paused_reason,
            created_at: instant(job.created_at),
            updated_at: instant(job.updated_at),
            next_fires,
        }
    }

    /// The version, for the ETag.
    pub(crate) fn version(&self) -> i64 {
        self.version
    }
}

/// One job of a list page: the job and its newest run.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobListItem {
    #[serde(flatten)]
    job: Job,
    /// Its newest run by tick; null until it has run.
    latest_run: Option<RunSummary>,
}

impl JobListItem {
    pub(crate) fn new(listed: ListedJob, now: DateTime<Utc>, schedules: &Schedules) -> Self {
        JobListItem {
            job: Job::new(listed.job, now, schedules),
            latest_run: listed.latest_run.map(RunSummary::from),
        }
    }
}

/// The newest run of a job, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunSummary {
    /// The run.
    id: Uuid,
    /// Where it is in its life.
    state: RunState,
    /// Its latest attempt, from 1.
    attempt: i32,
    /// Its tick.
    #[schema(format = DateTime)]
    scheduled_at: String,
    /// When it ended, if it has.
    #[schema(format = DateTime)]
    finished_at: Option<String>,
}

impl From<LatestRun> for RunSummary {
    fn from(run: LatestRun) -> Self {
        RunSummary {
            id: run.id,
            state: run.state,
            attempt: run.attempt,
            scheduled_at: instant(run.scheduled_at),
            finished_at: run.finished_at.map(instant),
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobList {
    /// Jobs in name order.
    pub(crate) items: Vec<JobListItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// The optional body of `POST /jobs/{id}/pause`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseRequest {
    /// Why, for people (at most 1024 characters).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub(crate) reason: Option<String>,
}

/// A schedule to preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    /// Cron expression, macro, `@every <duration>` or `@at <instant>`.
    pub(crate) schedule: String,
    /// IANA time zone; UTC when absent.
    #[serde(default = "utc")]
    pub(crate) timezone: String,
    /// How many fires, 1-100; 10 when absent.
    #[serde(default = "ten")]
    #[schema(minimum = 1, maximum = 100)]
    pub(crate) count: u32,
    /// Start after this RFC 3339 instant instead of now; also the `@every` anchor.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub(crate) after: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}
fn ten() -> u32 {
    10
}

/// Upcoming fires of a schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreviewReply {
    /// Oldest first; fewer than asked when the schedule runs out.
    pub(crate) fires: Vec<Fire>,
}

/// One fire, as a UTC instant and as wall-clock time in the schedule's zone.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Fire {
    /// UTC, such as `2027-01-01T01:30:00.000Z`.
    #[schema(format = DateTime)]
    pub(crate) at: String,
    /// Local time with its offset, such as `2027-01-01T02:30:00.000+01:00`.
    #[schema(format = DateTime)]
    pub(crate) local: String,
}

/// A `/readyz` reply.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ok` or the reason Postgres is not ready.
    pub(crate) postgres: String,
    /// `ok` or the reason Redis is not ready.
    pub(crate) redis: String,
}

/// An instant as the API writes it: RFC 3339, UTC, milliseconds.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
