//! The `shell` target: a program run from argv (no shell unless argv asks
//! for one) in a process group of its own, so a timeout or a cancel kills
//! the whole tree it started: SIGTERM to the group, SIGKILL after a grace
//! period. When the program itself exits, anything it left behind in its
//! group is killed too, so no run leaks processes into the next.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use chime_core::job::ShellTarget;
use chime_core::wire::Event;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::{Ending, Outcome};
use crate::output::Tail;

/// How long output may keep flowing after the process group is gone
/// (a descendant that left the group can hold the pipes open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// Variables of the executor's own environment a job never sees: they
/// name Chime's Redis and Postgres, with their passwords.
const WITHHELD_ENV: [&str; 5] = [
    "CHIME_REDIS_URL",
    "REDIS_URL",
    "CHIME_DATABASE_URL",
    "DATABASE_URL",
    "CHIME_API_TOKENS",
];

/// Runs `shell` for at most `timeout`, or until `stop` fires. The job
/// inherits the executor's environment (less [`WITHHELD_ENV`]) plus
/// `CHIME_RUN_ID`, `CHIME_JOB_ID`, `CHIME_ATTEMPT` and `CHIME_SCHEDULED_AT`
/// (ms), then its own `env`.
pub(super) async fn run(
    shell: &ShellTarget,
    event: &Event,
    timeout: Duration,
    kill_grace: Duration,
    stop: &CancellationToken,
) -> Outcome {
    let Some((program, args)) = shell.command.split_first() else {
        return Outcome::failed("the command is empty");
    };
    let mut command = Command::new(program);
    for name in WITHHELD_ENV {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("CHIME_RUN_ID", event.run_id.to_string())
        .env("CHIME_JOB_ID", event.job_id.to_string())
        .env("CHIME_ATTEMPT", event.attempt.to_string())
        .env("CHIME_SCHEDULED_AT", event.scheduled_at.to_string())
        .envs(&shell.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &shell.cwd {
        command.current_dir(cwd);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return Outcome::failed(format!("cannot start '{program}': {err}")),
    };
    // The child leads its own group, so its pid is the group id.
    let group = child.id().and_then(|id| Pid::from_raw(id as i32));
    let (mut stdout, mut stderr) = (Tail::default(), Tail::default());
    let stdout_pipe = child.stdout.take();
    let stderr_pipe = child.stderr.take();

    let ending;
    let status;
    {
        let readers = async {
            tokio::join!(
                pump(stdout_pipe, &mut stdout),
                pump(stderr_pipe, &mut stderr)
            )
        };
        tokio::pin!(readers);
        let mut drained = false;
        let timer = tokio::time::sleep(timeout);
        tokio::pin!(timer);
        let exited = loop {
            tokio::select! {
                _ = &mut readers, if !drained => drained = true,
                status = child.wait() => break Some(status),
                _ = &mut timer => break None,
                _ = stop.cancelled() => break None,
            }
        };
        (ending, status) = match exited {
            Some(status) => {
                // The leader is gone; whatever it left in its group goes too.
                signal_group(group, Signal::KILL);
                (None, status.ok())
            }
            None => {
                let ending = if stop.is_cancelled() {
                    Ending::Stopped
                } else {
                    Ending::TimedOut
                };
                // Keep reading while the group winds down, so a process that
                // writes as it exits does not block on a full pipe.
                let status = if drained {
                    terminate(&mut child, group, kill_grace).await
                } else {
                    let (status, _) =
                        tokio::join!(terminate(&mut child, group, kill_grace), async {
                            (&mut readers).await;
                            drained = true;
                        });
                    status
                };
                (Some(ending), status)
            }
        };
        if !drained {
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut readers).await;
        }
    }

    let mut outcome = match ending {
        Some(Ending::TimedOut) => Outcome::timed_out(timeout),
        Some(other) => Outcome {
            error: Some("stopped".to_owned()),
            ..Outcome::new(other)
        },
        None => exited_outcome(status),
    };
    outcome.exit_code = status.and_then(|s| s.code());
    outcome.stdout = stdout.into_text();
    outcome.stderr = stderr.into_text();
    outcome
}

fn exited_outcome(status: Option<ExitStatus>) -> Outcome {
    match status {
        Some(status) if status.success() => Outcome::new(Ending::Succeeded),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::failed(format!("exit code {code}")),
            (None, Some(signal)) => Outcome::failed(format!("killed by signal {signal}")),
            (None, None) => Outcome::failed(format!("ended with {status}")),
        },
        None => Outcome::failed("lost track of the process"),
    }
}

/// SIGTERM to the group; SIGKILL to whatever is left after `grace` (or as
/// soon as the leader has exited, for stragglers that ignore SIGTERM).
async fn terminate(child: &mut Child, group: Option<Pid>, grace: Duration) -> Option<ExitStatus> {
    signal_group(group, Signal::TERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            signal_group(group, Signal::KILL);
            child.wait().await.ok()
        }
    };
    signal_group(group, Signal::KILL);
    status
}

/// Signals every process of the group. The group outlives its leader while
/// any member lives, so its id cannot be reused for another group; a group
/// that is already gone (`ESRCH`) is fine.
fn signal_group(group: Option<Pid>, signal: Signal) {
    if let Some(group) = group {
        let _ = kill_process_group(group, signal);
    }
}

/// Copies a pipe into `tail` until it closes.
async fn pump<R: AsyncRead + Unpin>(pipe: Option<R>, tail: &mut Tail) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => tail.push(&buf[..n]),
        }
    }
}
