//! The campaign: every replica tries for the lease; the winner renews it
//! every `renew_interval_ms` and publishes a [`LeaseHandle`] that the emit
//! loop checks before every write. See `docs/lease.md`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chime_core::Keys;
use chime_queue::QueueError;
use chime_queue::lease::{self, Campaign, LeaderLease};
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::SchedulerConfig;

/// A lease this replica holds, with the monotonic deadline past which it
/// must not act on it.
#[derive(Debug)]
pub(crate) struct LeaseHandle {
    lease: LeaderLease,
    deadline: Mutex<Instant>,
    revoked: AtomicBool,
}

impl LeaseHandle {
    fn new(lease: LeaderLease, deadline: Instant) -> Self {
        LeaseHandle {
            lease,
            deadline: Mutex::new(deadline),
            revoked: AtomicBool::new(false),
        }
    }

    /// The lease, for fenced writes.
    pub(crate) fn lease(&self) -> &LeaderLease {
        &self.lease
    }

    /// Whether the lease may still be acted on: not given up and not past
    /// its local deadline.
    pub(crate) fn is_valid(&self) -> bool {
        !self.revoked.load(Ordering::SeqCst) && Instant::now() < self.deadline()
    }

    /// The local deadline.
    pub(crate) fn deadline(&self) -> Instant {
        // A poisoned lock only means a panic elsewhere; the instant inside is still whole.
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the lease up locally (the emit loop saw it refused, or shutdown).
    pub(crate) fn revoke(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    fn extend(&self, until: Instant) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }
}

/// What the campaign needs.
pub(crate) struct CampaignCtx {
    pub(crate) config: SchedulerConfig,
    pub(crate) conn: ConnectionManager,
    pub(crate) keys: Keys,
    pub(crate) node_id: String,
}

/// Campaigns until `shutdown`, once `ready` says the definitions are loaded;
/// publishes the lease on `leader` while this replica holds it.
pub(crate) async fn campaign(
    mut ctx: CampaignCtx,
    mut ready: watch::Receiver<bool>,
    leader: watch::Sender<Option<Arc<LeaseHandle>>>,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = ready.wait_for(|r| *r) => {}
    }
    let ttl = Duration::from_millis(ctx.config.lease_ttl_ms);
    let renew_every = Duration::from_millis(ctx.config.renew_interval_ms());
    // Redis set the expiry after we sent the command; a fiftieth of the ttl
    // covers the two clocks running at slightly different rates.
    let good_for = ttl - ttl / 50;
    loop {
        let sent = Instant::now();
        let attempt = tokio::time::timeout(
            renew_every,
            lease::acquire(
                &mut ctx.conn,
                &ctx.keys,
                &ctx.node_id,
                ctx.config.lease_ttl_ms,
            ),
        )
        .await;
        let wait = match attempt {
            Ok(Ok(Campaign::Acquired { lease, since_ms })) => {
                tracing::info!(node_id = %ctx.node_id, epoch = lease.epoch(), since_ms, "became leader");
                let handle = Arc::new(LeaseHandle::new(lease, sent + good_for));
                leader.send_replace(Some(handle.clone()));
                let shutting_down = hold(&mut ctx, &handle, renew_every, good_for, &shutdown).await;
                leader.send_replace(None);
                if shutting_down {
                    return;
                }
                Duration::ZERO
            }
            Ok(Ok(Campaign::Held { remaining_ms, .. })) => {
                // Try again right when the lease can expire, and four times
                // per renewal interval meanwhile, so a lease given up on
                // shutdown is taken within a quarter of it (a lease without
                // expiry, -1, is someone's mistake: poll it at that pace too).
                let poll = (renew_every / 4).max(Duration::from_millis(20));
                if remaining_ms < 0 {
                    poll
                } else {
                    Duration::from_millis(remaining_ms as u64 + 1).min(poll)
                }
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "campaign failed; retrying");
                renew_every
            }
            Err(_) => {
                tracing::warn!("campaign timed out; retrying");
                Duration::ZERO
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Renews the lease until it is lost, revoked or shutdown comes; returns
/// whether shutdown came (the lease was then released).
async fn hold(
    ctx: &mut CampaignCtx,
    handle: &LeaseHandle,
    renew_every: Duration,
    good_for: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let lease = handle.lease().clone();
    let fields = |msg: &str| {
        tracing::warn!(node_id = %lease.node_id(), epoch = lease.epoch(), "{msg}");
    };
    let mut next = Instant::now() + renew_every;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                handle.revoke();
                let released = tokio::time::timeout(
                    Duration::from_secs(1),
                    lease::release(&mut ctx.conn, &ctx.keys, &lease),
                )
                .await;
                match released {
                    Ok(Ok(true)) => tracing::info!(
                        node_id = %lease.node_id(), epoch = lease.epoch(), "released the lease"
                    ),
                    _ => fields("could not release the lease; it will expire"),
                }
                return true;
            }
            _ = tokio::time::sleep_until(next) => {}
            _ = tokio::time::sleep_until(handle.deadline()) => {}
        }
        if !handle.is_valid() {
            handle.revoke();
            fields("lost leadership: the lease ran out before it could be renewed");
            return false;
        }
        let sent = Instant::now();
        let left = handle.deadline().saturating_duration_since(sent);
        let renewed = tokio::time::timeout(
            left,
            lease::renew(&mut ctx.conn, &ctx.keys, &lease, ctx.config.lease_ttl_ms),
        )
        .await;
        match renewed {
            Ok(Ok(())) => {
                handle.extend(sent + good_for);
                next = sent + renew_every;
            }
            Ok(Err(QueueError::LeaseLost)) => {
                handle.revoke();
                fields("lost leadership: another node holds the lease");
                return false;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, epoch = lease.epoch(), "lease renewal failed; retrying");
                next = Instant::now() + Duration::from_millis(50).min(renew_every);
            }
            Err(_) => {
                next = Instant::now();
            }
        }
    }
}
