//! Running a target: one module per kind. Each returns an [`Outcome`];
//! a failing job is an outcome, not an error.

mod event;
mod http;
mod shell;

use std::time::Duration;

use chime_core::Target;
use chime_core::wire::Event;
use tokio_util::sync::CancellationToken;

use crate::service::Shared;

/// How an attempt's target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Finished as expected.
    Succeeded,
    /// Finished with a failure (exit code, status, refused connection...).
    Failed,
    /// Ran past its timeout and was stopped.
    TimedOut,
    /// Stopped from outside (cancel, shutdown); the caller knows why.
    Stopped,
}

/// What running a target produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) ending: Ending,
    pub(crate) exit_code: Option<i32>,
    pub(crate) http_status: Option<u16>,
    pub(crate) error: Option<String>,
    pub(crate) stdout: Option<String>,
    pub(crate) stderr: Option<String>,
}

impl Outcome {
    pub(crate) fn new(ending: Ending) -> Self {
        Outcome {
            ending,
            exit_code: None,
            http_status: None,
            error: None,
            stdout: None,
            stderr: None,
        }
    }

    pub(crate) fn failed(error: impl Into<String>) -> Self {
        Outcome {
            error: Some(error.into()),
            ..Outcome::new(Ending::Failed)
        }
    }

    pub(crate) fn timed_out(timeout: Duration) -> Self {
        Outcome {
            error: Some(format!("timed out after {} s", timeout.as_secs_f64())),
            ..Outcome::new(Ending::TimedOut)
        }
    }
}

/// Runs `event`'s target with its timeout until it ends or `stop` fires.
pub(crate) async fn execute(shared: &Shared, event: &Event, stop: &CancellationToken) -> Outcome {
    let timeout = Duration::from_secs(event.timeout_s.max(1));
    // Boxed: the kinds' futures differ in size by kilobytes (reqwest's is
    // large), and every run task would otherwise carry, and tokio copy,
    // the largest.
    match &event.target {
        Target::Shell(shell) => {
            Box::pin(shell::run(shell, event, timeout, shared.kill_grace, stop)).await
        }
        Target::Http(http) => Box::pin(http::run(&shared.http, http, timeout, stop)).await,
        Target::Event(target) => Box::pin(event::run(shared, target, event, timeout, stop)).await,
    }
}

/// An error with its causes on one line, like `{:#}` of anyhow.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
