//! What the scheduler keeps of a definition: the fields emission reads,
//! with the queue name shared between jobs. Labels and description stay in
//! Postgres; a million jobs fit in a few hundred megabytes.

use std::collections::HashSet;
use std::sync::Arc;

use chime_core::{Catchup, JobSpec, OverlapPolicy, RetryPolicy, Target};

/// The emission-relevant part of a [`JobSpec`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub(crate) name: Box<str>,
    pub(crate) queue: Arc<str>,
    pub(crate) target: Target,
    pub(crate) timeout_s: u64,
    pub(crate) retry: RetryPolicy,
    pub(crate) overlap: OverlapPolicy,
    pub(crate) catchup: Catchup,
    pub(crate) starting_deadline_s: Option<u64>,
    pub(crate) jitter_s: u64,
    pub(crate) paused: bool,
}

/// Shared queue names.
#[derive(Debug, Default)]
pub(super) struct Queues {
    names: HashSet<Arc<str>>,
}

impl Queues {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(shared.clone());
        shared
    }

    /// Drops names no job uses any more.
    pub(super) fn purge_unused(&mut self) {
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

impl Spec {
    pub(super) fn new(spec: JobSpec, queues: &mut Queues) -> Spec {
        Spec {
            name: spec.name.into_boxed_str(),
            queue: queues.get(&spec.queue),
            target: spec.target,
            timeout_s: spec.timeout_s,
            retry: spec.retry,
            overlap: spec.overlap,
            catchup: spec.catchup,
            starting_deadline_s: spec.starting_deadline_s,
            jitter_s: spec.jitter_s,
            paused: spec.paused,
        }
    }
}
