//! The API's typed configuration. The binary builds it from its settings;
//! this crate never reads the environment.

use std::time::Duration;

use serde::Deserialize;

use crate::auth::Token;

/// How the API behaves. Every field has a default, documented on the field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Prefix of every Redis key (`chime`): the changes stream is
    /// `{prefix}:changes`.
    pub prefix: String,
    /// Bearer tokens with their scopes. None: the API is open to anyone who
    /// can reach it.
    pub tokens: Vec<Token>,
    /// Longest time one request may take before it is answered with 503
    /// (10 000 ms).
    pub request_timeout_ms: u64,
    /// Largest request body accepted; larger ones get 413 (1 MiB).
    pub body_limit_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            prefix: "chime".to_owned(),
            tokens: Vec::new(),
            request_timeout_ms: 10_000,
            body_limit_bytes: 1024 * 1024,
        }
    }
}

impl ApiConfig {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}
