//! Extractors that refuse bad input with our JSON errors, never axum's plain
//! text ones: a JSON body (content type, size, syntax, and the exact field
//! at fault through `serde_path_to_error`), a job reference in the path, and
//! the `If-Match` precondition.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use chime_core::job::{EventTarget, HttpTarget, ShellTarget};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::error::Category;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body, parsed into `T`. Takes `application/json` and
/// `application/merge-patch+json`.
pub(crate) struct Json<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that may be absent: an empty body is `None`.
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        check_content_type(&headers)?;
        parse_json(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(ApiError::unsupported_media_type(
            "send the body as JSON with Content-Type: application/json",
        ));
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence == "application/merge-patch+json" {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(
            "Content-Type must be application/json (or application/merge-patch+json)",
        ))
    }
}

async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if is_length_limit(&rejection) {
            ApiError::payload_too_large(state.body_limit)
        } else {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        }
    })
}

fn is_length_limit(rejection: &BytesRejection) -> bool {
    // axum reports an over-long body as a buffering failure whose source is
    // a length-limit error; 413 is the status it carries.
    rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE
}

/// Parses `bytes` as one JSON object into `T`, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so a document with trailing garbage is called malformed
    // rather than blamed on its first field.
    if let Err(err) = serde_json::from_slice::<IgnoredAny>(bytes) {
        return Err(ApiError::bad_request(
            "invalid_json",
            format!("malformed JSON: {err}"),
        ));
    }
    // Every body this API takes is an object; serde would also accept a
    // struct written as an array of its fields, which nobody means.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "invalid_type",
            "the body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        json_error(bytes, &path, err.into_inner())
    })?;
    de.end().map_err(|_| {
        ApiError::bad_request(
            "invalid_json",
            "malformed JSON: characters after the end of the document",
        )
    })?;
    Ok(value)
}

/// Turns a serde error at `path` ("." for the root) into a 400 that names
/// the field, with a code for the kind of fault.
fn json_error(bytes: &[u8], path: &str, err: serde_json::Error) -> ApiError {
    if !matches!(err.classify(), Category::Data) {
        return ApiError::bad_request("invalid_json", format!("malformed JSON: {err}"));
    }
    let mut path = path.to_owned();
    let mut message = without_position(&err.to_string());
    // `target` is an internally tagged enum: serde buffers it and loses the
    // path inside. Parse it again as its variant to find the inner field.
    if path == "target" {
        if let Some((inner_path, inner_message)) = target_fault(bytes) {
            if inner_path != "." {
                path = format!("target.{inner_path}");
            }
            message = inner_message;
        } else if message.starts_with("unknown variant") {
            path = "target.type".to_owned();
        }
    }
    let join = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let (code, field) = if let Some(name) = backticked(&message, "unknown field `") {
        // serde_path_to_error already counts the unknown key in the path.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            join(name)
        };
        ("unknown_field", Some(field))
    } else if let Some(name) = backticked(&message, "missing field `") {
        ("missing_field", Some(join(name)))
    } else if message.starts_with("invalid type") {
        ("invalid_type", (path != ".").then(|| path.clone()))
    } else {
        ("invalid_value", (path != ".").then(|| path.clone()))
    };
    let error = ApiError::bad_request(code, message);
    match field {
        Some(field) => error.with_field(field),
        None => error,
    }
}

/// The path inside `target` ("." for the target itself) and the message of
/// its fault, found by parsing the target object as the variant its `type`
/// names.
fn target_fault(bytes: &[u8]) -> Option<(String, String)> {
    let body: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut target = body.get("target")?.as_object()?.clone();
    let kind = target.remove("type")?;
    let target = serde_json::Value::Object(target);
    let err = match kind.as_str()? {
        "shell" => serde_path_to_error::deserialize::<_, ShellTarget>(target).err()?,
        "http" => serde_path_to_error::deserialize::<_, HttpTarget>(target).err()?,
        "event" => serde_path_to_error::deserialize::<_, EventTarget>(target).err()?,
        _ => return None,
    };
    Some((
        err.path().to_string(),
        without_position(&err.into_inner().to_string()),
    ))
}

fn backticked<'a>(message: &'a str, after: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(after)?;
    rest.split('`').next()
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A job named in the path: a UUID is an id, anything else a name (names
/// never parse as UUIDs).
#[derive(Debug, Clone)]
pub(crate) enum JobKey {
    Id(Uuid),
    Name(String),
}

impl FromRequestParts<AppState> for JobKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(key) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::invalid(
                    "invalid_value",
                    "id",
                    "the job id or name in the path is not valid UTF-8",
                )
            })?;
        Ok(match Uuid::parse_str(&key) {
            Ok(id) => JobKey::Id(id),
            Err(_) => JobKey::Name(key),
        })
    }
}

/// The version an `If-Match` header asks for; `None` without the header or
/// with `*` (any version).
pub(crate) struct IfMatch(pub(crate) Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text);
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i64>().ok())
            .map(|version| IfMatch(Some(version)))
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_value",
                    "If-Match",
                    "If-Match must be one ETag of this API, such as \"3\", or *",
                )
            })
    }
}
