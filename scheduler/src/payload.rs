//! The wire messages the leader writes: a `wire::Event` per emitted tick, a
//! `wire::RunResult` per tick reported `skipped` or `missed`.

use chime_core::job::OverlapPolicy;
use chime_core::wire::{Event, RunResult, WIRE_VERSION};
use chime_core::{JobId, RunId, RunState, Trigger};
use chime_queue::emit::{EmitTick, TickMode};
use chrono::DateTime;
use uuid::Uuid;

use crate::catchup::{Late, MissReason};
use crate::jobs::Spec;

/// What the emit script needs for one tick of a job at `version`.
pub(crate) fn tick(
    job_id: Uuid,
    version: i64,
    spec: &Spec,
    late: Late,
    now_ms: i64,
    epoch: u64,
) -> Result<EmitTick, serde_json::Error> {
    let tick_ms = late.tick_ms();
    let run_id = RunId::for_tick(
        JobId(job_id),
        DateTime::from_timestamp_millis(tick_ms).unwrap_or_default(),
    )
    .0;
    let (mode, event, result) = match late {
        Late::Missed(_, reason) => {
            let why = match reason {
                MissReason::Policy => "missed: not emitted by the job's catch-up policy",
                MissReason::Window => "missed: older than the job's catch-up window",
                MissReason::Cap => "missed: past the catch-up cap of one recovery",
            };
            let result = result(
                job_id,
                run_id,
                version,
                tick_ms,
                now_ms,
                RunState::Missed,
                why,
            );
            (
                TickMode::Missed,
                String::new(),
                serde_json::to_string(&result)?,
            )
        }
        Late::Emit(_) => {
            let event = Event {
                v: WIRE_VERSION,
                run_id,
                job_id,
                job_name: spec.name.to_string(),
                job_version: version,
                trigger: Trigger::Schedule,
                scheduled_at: tick_ms,
                emitted_at: now_ms,
                attempt: 1,
                deadline: spec
                    .starting_deadline_s
                    .map(|s| tick_ms.saturating_add((s as i64).saturating_mul(1000))),
                timeout_s: spec.timeout_s,
                target: spec.target.clone(),
                retry: spec.retry,
                queue: spec.queue.to_string(),
                epoch,
            };
            let event = serde_json::to_string(&event)?;
            match spec.overlap {
                OverlapPolicy::Allow => (TickMode::Allow, event, String::new()),
                OverlapPolicy::Replace => (TickMode::Replace, event, String::new()),
                // The script builds the `skipped` result from the event in
                // the rare case it needs one.
                OverlapPolicy::Forbid => (TickMode::Forbid, event, String::new()),
            }
        }
    };
    Ok(EmitTick {
        job_id: job_id.to_string(),
        tick_ms,
        queue: spec.queue.to_string(),
        mode,
        event,
        result,
    })
}

fn result(
    job_id: Uuid,
    run_id: Uuid,
    version: i64,
    tick_ms: i64,
    now_ms: i64,
    state: RunState,
    why: &str,
) -> RunResult {
    RunResult {
        v: WIRE_VERSION,
        run_id,
        job_id,
        job_version: version,
        attempt: 1,
        state,
        trigger: Trigger::Schedule,
        scheduled_at: tick_ms,
        emitted_at: None,
        started_at: None,
        finished_at: Some(now_ms),
        executor_id: None,
        exit_code: None,
        http_status: None,
        error: Some(why.to_owned()),
        stdout: None,
        stderr: None,
    }
}

/// A delayed-set member made ready to append: `emitted_at` rewritten to now
/// and `epoch` to the promoting leader's. `None` for a member that is not an
/// event this build understands.
pub(crate) fn promoted(member: &str, now_ms: i64, epoch: u64) -> Option<(String, String)> {
    let mut event: Event = serde_json::from_str(member).ok()?;
    event.emitted_at = now_ms;
    event.epoch = epoch;
    let json = serde_json::to_string(&event).ok()?;
    Some((event.queue, json))
}

#[cfg(test)]
mod tests {
    use chime_core::job::ShellTarget;
    use chime_core::{Catchup, Target};

    use super::*;

    fn spec(overlap: OverlapPolicy) -> Spec {
        Spec {
            name: "report".into(),
            queue: "billing".into(),
            target: Target::Shell(ShellTarget {
                command: vec!["true".to_owned()],
                env: Default::default(),
                cwd: None,
            }),
            timeout_s: 60,
            retry: Default::default(),
            overlap,
            catchup: Catchup::default(),
            starting_deadline_s: Some(30),
            jitter_s: 0,
            paused: false,
        }
    }

    #[test]
    fn an_emitted_tick_carries_everything_an_executor_needs() {
        let job = Uuid::from_u128(42);
        let t = tick(
            job,
            7,
            &spec(OverlapPolicy::Forbid),
            Late::Emit(60_000),
            60_010,
            3,
        )
        .unwrap();
        assert_eq!(
            (t.mode, t.queue.as_str(), t.tick_ms),
            (TickMode::Forbid, "billing", 60_000)
        );
        let event: Event = serde_json::from_str(&t.event).unwrap();
        assert_eq!(
            event.run_id,
            RunId::for_tick(JobId(job), DateTime::from_timestamp_millis(60_000).unwrap()).0
        );
        assert_eq!((event.job_version, event.attempt, event.epoch), (7, 1, 3));
        assert_eq!((event.scheduled_at, event.emitted_at), (60_000, 60_010));
        assert_eq!(event.deadline, Some(90_000));
        assert_eq!(event.trigger, Trigger::Schedule);
        assert!(t.result.is_empty(), "the script builds the skipped result");
    }

    #[test]
    fn a_missed_tick_is_a_result_only() {
        let t = tick(
            Uuid::from_u128(1),
            1,
            &spec(OverlapPolicy::Allow),
            Late::Missed(5000, MissReason::Window),
            9000,
            1,
        )
        .unwrap();
        assert_eq!(t.mode, TickMode::Missed);
        assert!(t.event.is_empty());
        let missed: RunResult = serde_json::from_str(&t.result).unwrap();
        assert_eq!(
            (missed.state, missed.scheduled_at),
            (RunState::Missed, 5000)
        );
    }

    #[test]
    fn promotion_rewrites_emitted_at_and_epoch() {
        let t = tick(
            Uuid::from_u128(1),
            1,
            &spec(OverlapPolicy::Allow),
            Late::Emit(1000),
            1000,
            0,
        )
        .unwrap();
        let (queue, json) = promoted(&t.event, 5000, 9).unwrap();
        let event: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (queue.as_str(), event.emitted_at, event.epoch),
            ("billing", 5000, 9)
        );
        assert!(promoted("not json", 0, 0).is_none());
    }
}
