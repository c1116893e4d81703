//! `chime schedule next`: show when an expression fires.

use anyhow::{Context, bail};
use chime_core::Schedule;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::cli::{ScheduleCommand, ScheduleNextArgs};

pub(crate) fn run(command: ScheduleCommand) -> anyhow::Result<()> {
    match command {
        ScheduleCommand::Next(args) => next(args),
    }
}

fn next(args: ScheduleNextArgs) -> anyhow::Result<()> {
    if !(1..=1000).contains(&args.count) {
        bail!("--count: {} is out of range 1-1000", args.count);
    }
    let after = match &args.after {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--after: '{text}' is not an RFC 3339 instant"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let schedule = Schedule::parse(&args.expression, &args.tz, after)
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.field()))?;
    let tz = schedule.timezone();
    let mut out = String::new();
    for fire in schedule.next_n(after, args.count) {
        out.push_str(&format!(
            "{}  {}\n",
            fire.to_rfc3339_opts(SecondsFormat::Secs, true),
            fire.with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        ));
    }
    print!("{out}");
    Ok(())
}
