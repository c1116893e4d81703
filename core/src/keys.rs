//! Redis key names. Every key Chime touches is built here from one prefix,
//! so tests can give each run its own prefix and never meet user data.

/// Builds key names under one prefix (default `chime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

/// The consumer group of executors on each queue stream.
pub const EXECUTOR_GROUP: &str = "executors";
/// The consumer group of recorders on the results stream.
pub const RECORDER_GROUP: &str = "recorders";

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{p}:leader`: `node_id:epoch` of the leader, with a PX ttl.
    pub fn leader(&self) -> String {
        format!("{}:leader", self.prefix)
    }

    /// `{p}:leader:epoch`: incremented on every acquisition; the fencing token.
    pub fn leader_epoch(&self) -> String {
        format!("{}:leader:epoch", self.prefix)
    }

    /// `{p}:cursor`: hash of job id to the last emitted tick (ms).
    pub fn cursor(&self) -> String {
        format!("{}:cursor", self.prefix)
    }

    /// `{p}:q:{queue}`: the event stream of one queue.
    pub fn queue(&self, queue: &str) -> String {
        format!("{}:q:{queue}", self.prefix)
    }

    /// `{p}:queues`: set of queue names that have ever received an event.
    pub fn queues(&self) -> String {
        format!("{}:queues", self.prefix)
    }

    /// `{p}:delayed`: sorted set of retries and one-shot runs by due time.
    pub fn delayed(&self) -> String {
        format!("{}:delayed", self.prefix)
    }

    /// `{p}:running:{job_id}`: sorted set of run ids by lease expiry.
    pub fn running(&self, job_id: &str) -> String {
        format!("{}:running:{job_id}", self.prefix)
    }

    /// `{p}:results`: stream of run state changes.
    pub fn results(&self) -> String {
        format!("{}:results", self.prefix)
    }

    /// `{p}:dead`: events that exhausted their deliveries or attempts.
    pub fn dead(&self) -> String {
        format!("{}:dead", self.prefix)
    }

    /// `{p}:executors`: sorted set of executor ids by last heartbeat (ms).
    pub fn executors(&self) -> String {
        format!("{}:executors", self.prefix)
    }

    /// `{p}:executor:{id}`: hash of one executor's details.
    pub fn executor(&self, executor_id: &str) -> String {
        format!("{}:executor:{executor_id}", self.prefix)
    }

    /// `{p}:changes`: stream of job definition changes.
    pub fn changes(&self) -> String {
        format!("{}:changes", self.prefix)
    }

    /// `{p}:control`: pub/sub channel of cancel requests.
    pub fn control(&self) -> String {
        format!("{}:control", self.prefix)
    }

    /// `{p}:cancel:{run_id}`: a short-lived record that a cancel was asked
    /// for, so an executor that claims the run later can see it (a pub/sub
    /// message reaches only the executors listening at that moment).
    pub fn cancel(&self, run_id: &str) -> String {
        format!("{}:cancel:{run_id}", self.prefix)
    }

    /// `{p}:events:{stream}`: where `event` targets append their payloads.
    pub fn events(&self, stream: &str) -> String {
        format!("{}:events:{stream}", self.prefix)
    }

    /// `{p}:leader:since`: when the current leader took the lease (ms), set
    /// with the lease; meaningful only while `{p}:leader` exists.
    pub fn leader_since(&self) -> String {
        format!("{}:leader:since", self.prefix)
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new("chime")
    }
}
