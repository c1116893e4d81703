//! The one error type of the API. Every non-2xx reply has the body
//! `{"error":{"code","message","field"}}`. Client faults are 4xx and say what
//! to fix; server faults are 5xx with a generic message, and the cause is
//! logged here, once, inside the request's span.

use std::borrow::Cow;

use axum::Json;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chime_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Scope;

/// A reply that is not a success.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    field: Option<String>,
    /// The cause of a 5xx, for the log; never sent.
    cause: Option<String>,
}

/// The body of every error reply.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorReply {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable code such as `invalid_value` or `not_found`.
    code: String,
    /// What is wrong, in words a user can act on.
    message: String,
    /// The request field, query parameter or header at fault, when there is
    /// one: a JSON path such as `retry.max_attempts`.
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            cause: None,
        }
    }

    /// Names the field at fault.
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// A 400 about one field: `code` says what kind of fault.
    pub(crate) fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    /// A 400 with no single field to blame.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn conflict(field: &str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", message).with_field(field)
    }

    pub(crate) fn precondition_failed(expected: i64, found: i64) -> Self {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "If-Match asked for version {expected} but the job is at version {found}; \
                 read it again and retry"
            ),
        )
        .with_field("If-Match")
    }

    pub(crate) fn unauthorized(message: &'static str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub(crate) fn forbidden(needed: Scope) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs a token with scope '{needed}' or more"),
        )
    }

    pub(crate) fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
        .with_field("Content-Type")
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// A 503: a dependency is down; the client may retry later.
    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is temporarily unavailable; retry later",
        );
        error.cause = Some(format!("{cause:#}"));
        error
    }

    /// A 503 whose message names what is down (the reason stays generic:
    /// no addresses or driver errors).
    pub(crate) fn unavailable_because(message: String) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A 500: a bug or corrupt data. The client sees nothing of the cause.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        );
        error.cause = Some(format!("{cause:#}"));
        error
    }

    /// The generic body for a status produced outside our handlers (axum's
    /// own 404 and 405, the timeout layer), so every error reply has one shape.
    pub(crate) fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "this route does not take that method")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => (
                "unavailable",
                "the service is temporarily unavailable; retry later",
            ),
            status if status.is_server_error() => ("internal", "internal error"),
            _ => ("bad_request", "the request was refused"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ApiError::unavailable(err),
            StoreError::VersionMismatch { expected, found } => {
                ApiError::precondition_failed(expected, found)
            }
            StoreError::Conflict(_) => {
                ApiError::conflict("name", "a live job with that name already exists")
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            if self.status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(cause = %cause, "request failed: dependency unavailable");
            } else {
                tracing::error!(cause = %cause, "request failed");
            }
        }
        let body = ErrorReply {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.into_owned(),
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
