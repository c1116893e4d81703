//! Targets: what a run does. A snapshot of the target travels inside each
//! queue event, so executors never read the database.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{FieldError, validate_token};

/// What a run does.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// Run a program.
    Shell(ShellTarget),
    /// Make an HTTP request.
    Http(HttpTarget),
    /// Append a payload to a stream for other services.
    Event(EventTarget),
}

/// Run a program: argv, with no shell unless argv asks for one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellTarget {
    /// Program and arguments; `["sh", "-c", "..."]` for a shell.
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; the executor's own when absent.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// Make an HTTP request and check its status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// Request method, `GET` when absent.
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Inclusive range of statuses that count as success; 200-299 when absent.
    #[serde(default)]
    pub expect_status: Option<[u16; 2]>,
}

/// Append a payload to `{prefix}:events:{stream}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTarget {
    /// Stream name, `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    pub stream: String,
    /// Any JSON value.
    #[serde(default)]
    pub payload: serde_json::Value,
}

fn default_method() -> String {
    "GET".to_owned()
}

impl Target {
    /// The target's kind: `shell`, `http` or `event`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Shell(_) => "shell",
            Target::Http(_) => "http",
            Target::Event(_) => "event",
        }
    }

    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        match self {
            Target::Shell(shell) => {
                if shell.command.is_empty() {
                    return Err(FieldError::new(
                        "target.command",
                        "must name a program: a non-empty argv list",
                    ));
                }
                if shell.command[0].is_empty() {
                    return Err(FieldError::new(
                        "target.command",
                        "the program name is empty",
                    ));
                }
                if shell.command.iter().any(|arg| arg.contains('\0')) {
                    return Err(FieldError::new(
                        "target.command",
                        "arguments must not contain NUL",
                    ));
                }
                if let Some(bad) = shell
                    .env
                    .keys()
                    .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
                {
                    return Err(FieldError::new(
                        format!("target.env.{bad}"),
                        "variable names are non-empty and hold no '=' or NUL",
                    ));
                }
                if shell.env.values().any(|v| v.contains('\0')) {
                    return Err(FieldError::new("target.env", "values must not contain NUL"));
                }
                if shell
                    .cwd
                    .as_deref()
                    .is_some_and(|cwd| cwd.is_empty() || cwd.contains('\0'))
                {
                    return Err(FieldError::new(
                        "target.cwd",
                        "must be a non-empty path or null",
                    ));
                }
            }
            Target::Http(http) => {
                let method_ok = !http.method.is_empty()
                    && http.method.len() <= 16
                    && http.method.bytes().all(|b| b.is_ascii_uppercase());
                if !method_ok {
                    return Err(FieldError::new(
                        "target.method",
                        format!(
                            "'{}' is not an HTTP method such as GET or POST",
                            http.method
                        ),
                    ));
                }
                validate_url(&http.url).map_err(|m| FieldError::new("target.url", m))?;
                for (name, value) in &http.headers {
                    let name_ok = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                    if !name_ok {
                        return Err(FieldError::new(
                            format!("target.headers.{name}"),
                            "is not a valid header name",
                        ));
                    }
                    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                        return Err(FieldError::new(
                            format!("target.headers.{name}"),
                            "header values must not contain CR, LF or NUL",
                        ));
                    }
                }
                if let Some([low, high]) = http.expect_status {
                    if !(100..=599).contains(&low) || !(100..=599).contains(&high) || low > high {
                        return Err(FieldError::new(
                            "target.expect_status",
                            "must be [low, high] with 100 <= low <= high <= 599",
                        ));
                    }
                }
            }
            Target::Event(event) => {
                validate_token(&event.stream).map_err(|m| FieldError::new("target.stream", m))?;
            }
        }
        Ok(())
    }
}

/// An absolute `http://` or `https://` URL with a host.
fn validate_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("'{url}' must be an absolute http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("'{url}' has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("'{url}' contains spaces or control characters"));
    }
    Ok(())
}
