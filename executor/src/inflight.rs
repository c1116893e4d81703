//! The runs this executor has in flight, and the keeper that keeps their
//! claims and leases fresh. Each run has a stop token; a cancel request or
//! a lost claim sets its [`StopReason`] and fires it, and the shutdown's
//! abandon token (its parent) fires it with no reason.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chime_queue::report::Lease;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::service::Shared;

/// Why a run was stopped from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// A cancel request on the control channel, with its reason.
    Cancelled(String),
    /// The entry is no longer this executor's: another one reclaimed it and
    /// reports the run, so this one stays silent.
    Lost,
}

/// One run in flight.
#[derive(Debug)]
pub(crate) struct RunHandle {
    pub(crate) queue: String,
    pub(crate) entry_id: String,
    pub(crate) lease: Lease,
    pub(crate) run_id: Uuid,
    /// Fires to stop the run; a child of the executor's abandon token.
    pub(crate) stop: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    /// Set just before the entry is settled: from then on the entry may
    /// leave the pending list at any moment, which is not a lost claim.
    settling: AtomicBool,
}

impl RunHandle {
    /// Why the run was stopped; `None` if it was not, or was abandoned.
    pub(crate) fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Marks the run as being settled (see `settling`).
    pub(crate) fn begin_settling(&self) {
        self.settling.store(true, Ordering::SeqCst);
    }

    fn stop_because(&self, reason: StopReason) {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(reason);
        self.stop.cancel();
    }
}

/// Runs in flight by (queue, entry id).
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    runs: Mutex<HashMap<(String, String), Arc<RunHandle>>>,
}

impl InFlight {
    /// Registers a run; its stop token is a child of `abandon`.
    pub(crate) fn insert(
        &self,
        queue: &str,
        entry_id: &str,
        lease: Lease,
        run_id: Uuid,
        abandon: &CancellationToken,
    ) -> Arc<RunHandle> {
        let handle = Arc::new(RunHandle {
            queue: queue.to_owned(),
            entry_id: entry_id.to_owned(),
            lease,
            run_id,
            stop: abandon.child_token(),
            reason: Mutex::new(None),
            settling: AtomicBool::new(false),
        });
        self.lock()
            .insert((queue.to_owned(), entry_id.to_owned()), handle.clone());
        handle
    }

    pub(crate) fn remove(&self, handle: &RunHandle) {
        self.lock()
            .remove(&(handle.queue.clone(), handle.entry_id.clone()));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Stops the run `run_id` if it is here; returns whether it was.
    pub(crate) fn cancel(&self, run_id: Uuid, reason: &str) -> bool {
        let handles: Vec<Arc<RunHandle>> = self
            .lock()
            .values()
            .filter(|h| h.run_id == run_id)
            .cloned()
            .collect();
        for handle in &handles {
            handle.stop_because(StopReason::Cancelled(reason.to_owned()));
        }
        !handles.is_empty()
    }

    fn snapshot(&self) -> Vec<Arc<RunHandle>> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<RunHandle>>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every `touch_interval` until `token` fires: resets the idle time of every
/// in-flight entry (stopping runs whose entry another executor took over)
/// and pushes their leases to now + visibility timeout.
pub(crate) async fn keep_fresh(shared: Arc<Shared>, token: CancellationToken) {
    let mut ticker = tokio::time::interval(shared.config.touch_interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = token.cancelled() => return,
        }
        let runs = shared.inflight.snapshot();
        if runs.is_empty() {
            continue;
        }
        let mut by_queue: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for run in &runs {
            by_queue
                .entry(run.queue.as_str())
                .or_default()
                .push(run.entry_id.clone());
        }
        let mut conn = shared.redis.clone();
        for (queue, ids) in by_queue {
            match chime_queue::consume::touch(
                &mut conn,
                &shared.keys,
                queue,
                &shared.executor_id,
                &ids,
            )
            .await
            {
                Ok(lost) => {
                    for run in runs.iter().filter(|r| {
                        r.queue == queue
                            && lost.contains(&r.entry_id)
                            && !r.settling.load(Ordering::SeqCst)
                    }) {
                        tracing::warn!(
                            queue,
                            entry_id = %run.entry_id,
                            run_id = %run.run_id,
                            "claim lost to another executor; stopping the run here"
                        );
                        run.stop_because(StopReason::Lost);
                    }
                }
                Err(err) => tracing::warn!(queue, error = %err, "cannot refresh claims"),
            }
        }
        let leases: Vec<Lease> = runs.iter().map(|r| r.lease.clone()).collect();
        let expiry = now_ms() + shared.config.visibility_timeout_ms as i64;
        if let Err(err) = chime_queue::report::renew(&mut conn, &shared.keys, &leases, expiry).await
        {
            tracing::warn!(error = %err, "cannot renew run leases");
        }
    }
}
