//! The tracing subscriber, built once. Quiet by default: `info` for Chime's
//! own crates, `warn` for everything else; `RUST_LOG` overrides.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

const DEFAULT_FILTER: &str = "warn,chime=info,chime_core=info,chime_store=info,chime_queue=info,\
     chime_scheduler=info,chime_executor=info,chime_api=info";

pub(crate) fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Compact => builder.compact().init(),
        LogFormat::Json => builder.json().init(),
    }
}
