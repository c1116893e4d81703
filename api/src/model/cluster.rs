//! The bodies of `GET /executors` and `GET /cluster`: who is up, who leads,
//! and how full the queues are.

use serde::Serialize;
use utoipa::ToSchema;

/// An executor with a fresh heartbeat.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Executor {
    /// Its id in the registry (and in runs' `executor_id`).
    pub(crate) id: String,
    /// The host it runs on.
    pub(crate) host: Option<String>,
    /// Its `--node-id`.
    pub(crate) node_id: Option<String>,
    /// Its process id.
    pub(crate) pid: Option<u32>,
    /// The queues it serves.
    pub(crate) queues: Vec<String>,
    /// Runs in flight there now.
    pub(crate) running: Option<u32>,
    /// Most runs it takes at once.
    pub(crate) concurrency: Option<u32>,
    /// Its build's version.
    pub(crate) version: Option<String>,
    /// When it started.
    #[schema(format = DateTime)]
    pub(crate) started_at: Option<String>,
    /// Its last heartbeat (by its own clock).
    #[schema(format = DateTime)]
    pub(crate) last_heartbeat: String,
}

/// The live executors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExecutorList {
    /// Newest heartbeat first.
    pub(crate) items: Vec<Executor>,
    /// Always null: the list is never paged.
    pub(crate) next_cursor: Option<String>,
}

/// The cluster at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Cluster {
    /// The scheduler holding the lease; null while none does.
    pub(crate) leader: Option<Leader>,
    /// Every queue that has received an event, by name.
    pub(crate) queues: Vec<QueueStatus>,
    /// Results written by executors and not yet recorded in Postgres.
    pub(crate) results_backlog: u64,
    /// Entries in the dead-letter stream.
    pub(crate) dead_letters: u64,
}

/// The scheduler that leads.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Leader {
    /// Its `--node-id`.
    pub(crate) node_id: String,
    /// Its fencing epoch: how many times the lease changed hands.
    pub(crate) epoch: u64,
    /// Since when it leads, when known.
    #[schema(format = DateTime)]
    pub(crate) since: Option<String>,
}

/// One queue's figures.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStatus {
    /// The queue's name.
    pub(crate) name: String,
    /// Entries in its stream, read or not (the scheduler trims settled ones).
    pub(crate) length: u64,
    /// Entries an executor has taken and not yet settled.
    pub(crate) pending: u64,
    /// How long ago the oldest of those was queued, in milliseconds; null
    /// when none is pending.
    pub(crate) oldest_pending_age_ms: Option<u64>,
    /// Entries no executor has taken yet; null when Redis cannot tell.
    pub(crate) lag: Option<u64>,
}
