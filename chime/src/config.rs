//! Settings, composed in layers: built-in defaults, then the TOML file named
//! by `--config`, then environment variables, then flags (clap merges the
//! last two). Bad settings stop the process before anything starts, with a
//! message naming the setting.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// The effective settings of this process.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) database: DatabaseSettings,
    pub(crate) redis_url: String,
    pub(crate) prefix: String,
    pub(crate) listen: String,
    pub(crate) api_tokens: Vec<String>,
    pub(crate) node_id: String,
    /// `[scheduler]` of the settings file; flags of `chime scheduler` override it.
    pub(crate) scheduler: chime_scheduler::SchedulerConfig,
    /// `[recorder]` of the settings file.
    pub(crate) recorder: chime_api::recorder::RecorderConfig,
    /// `[retention]` of the settings file.
    pub(crate) retention: chime_api::retention::RetentionConfig,
}

/// Where Postgres is.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseSettings {
    pub(crate) url: String,
}

impl DatabaseSettings {
    /// A lazily connecting pool: a database that is down at start is retried
    /// on first use.
    pub(crate) fn connect(&self) -> anyhow::Result<sqlx::PgPool> {
        chime_store::connect_lazy(&self.url, 10).context("database_url")
    }

    /// The URL without its password, for logs.
    pub(crate) fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// The `--config` file. Every key is optional; unknown keys are an error so
/// typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    redis_url: Option<String>,
    prefix: Option<String>,
    listen: Option<String>,
    api_tokens: Option<Vec<String>>,
    node_id: Option<String>,
    scheduler: Option<chime_scheduler::SchedulerConfig>,
    #[serde(default)]
    recorder: chime_api::recorder::RecorderConfig,
    #[serde(default)]
    retention: chime_api::retention::RetentionConfig,
}

impl Settings {
    pub(crate) fn load(args: &GlobalArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .or_else(|| env("DATABASE_URL"))
            .unwrap_or_else(|| "postgres://chime:chime@127.0.0.1:5432/chime".to_owned());
        let redis_url = args
            .redis_url
            .clone()
            .or(file.redis_url)
            .or_else(|| env("REDIS_URL"))
            .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
        let prefix = args
            .prefix
            .clone()
            .or(file.prefix)
            .unwrap_or_else(|| "chime".to_owned());
        let listen = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let mut api_tokens = args.api_tokens.clone();
        if api_tokens.is_empty() {
            if let Some(list) = env("CHIME_API_TOKENS") {
                api_tokens = list
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect();
            } else if let Some(list) = file.api_tokens {
                api_tokens = list;
            }
        }
        let node_id = args
            .node_id
            .clone()
            .or(file.node_id)
            .unwrap_or_else(default_node_id);

        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            bail!(
                "database_url: '{}' is not a postgres:// URL",
                redact(&database_url)
            );
        }
        if !(redis_url.starts_with("redis://")
            || redis_url.starts_with("rediss://")
            || redis_url.starts_with("unix://"))
        {
            bail!("redis_url: '{}' is not a redis:// URL", redact(&redis_url));
        }
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            bail!("prefix: '{prefix}' must be non-empty and hold no spaces");
        }
        if listen.parse::<std::net::SocketAddr>().is_err() {
            bail!("listen: '{listen}' is not an address such as 127.0.0.1:8080");
        }
        if node_id.is_empty() || node_id.contains(char::is_whitespace) || node_id.contains(':') {
            bail!("node_id: '{node_id}' must be non-empty and hold no spaces or ':'");
        }
        Ok(Settings {
            database: DatabaseSettings { url: database_url },
            redis_url,
            prefix,
            listen,
            api_tokens,
            node_id,
            scheduler: file.scheduler.unwrap_or_default(),
            recorder: file.recorder,
            retention: file.retention,
        })
    }
}

impl Settings {
    /// Logs the effective settings at debug level, secrets redacted.
    pub(crate) fn log_effective(&self) {
        tracing::debug!(
            database_url = %self.database.redacted_url(),
            redis_url = %redact(&self.redis_url),
            prefix = %self.prefix,
            listen = %self.listen,
            api_tokens = self.api_tokens.len(),
            node_id = %self.node_id,
            "effective settings"
        );
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("config: reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config: {}", path.display()))
}

fn default_node_id() -> String {
    format!("{}-{}", hostname(), std::process::id())
}

/// This machine's host name (`host` when unknown), with no ':'.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned())
        .replace(':', "-")
}

/// Hides the password of a URL such as `postgres://user:secret@host/db`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}
