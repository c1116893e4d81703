//! Bearer tokens and scopes. Scopes nest: `admin` can do what `write` can,
//! which can do what `read` can. Reads need `read`, changes need `write`.
//! Tokens are compared in constant time and never logged or echoed.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// What a token may do; ordered so a larger scope includes the smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// GET requests and schedule previews.
    Read,
    /// Also every change to job definitions.
    Write,
    /// Everything; reserved for cluster operations.
    Admin,
}

impl FromStr for Scope {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(TokenError::Scope(other.to_owned())),
        }
    }
}

/// An API token with its scope, parsed from `<scope>:<token>`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Token {
    scope: Scope,
    secret: Vec<u8>,
}

/// Why a `<scope>:<token>` string was refused. Messages never contain the
/// token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `:` separates scope and token.
    #[error("expected <scope>:<token>, with scope read, write or admin")]
    Shape,
    /// The scope is not one of ours.
    #[error("scope '{0}' is not read, write or admin")]
    Scope(String),
    /// The token part is empty.
    #[error("the token after '<scope>:' is empty")]
    Empty,
}

impl FromStr for Token {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scope, secret) = s.split_once(':').ok_or(TokenError::Shape)?;
        let scope = scope.parse()?;
        if secret.is_empty() {
            return Err(TokenError::Empty);
        }
        Ok(Token {
            scope,
            secret: secret.as_bytes().to_vec(),
        })
    }
}

impl TryFrom<String> for Token {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl Token {
    /// The token's scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }
}

// Hand-written so the secret never reaches a log line through `{:?}`.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("scope", &self.scope)
            .field("secret", &"***")
            .finish()
    }
}

/// The configured tokens, or none (an open API).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens(Vec<Token>);

impl Tokens {
    pub(crate) fn new(tokens: Vec<Token>) -> Self {
        Tokens(tokens)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// The scope `presented` grants, if it is a known token. Every token is
    /// compared, each in constant time, so timing tells nothing about which
    /// one (or how much of one) matched.
    fn scope_of(&self, presented: &[u8]) -> Option<Scope> {
        self.0.iter().fold(None, |best, token| {
            let matches: bool = token.secret.ct_eq(presented).into();
            if matches {
                best.max(Some(token.scope))
            } else {
                best
            }
        })
    }

    /// Checks the request's `Authorization` header against `needed`.
    pub(crate) fn check(&self, parts: &Parts, needed: Scope) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        match self.scope_of(presented.as_bytes()) {
            None => Err(ApiError::unauthorized("the bearer token is not valid")),
            Some(scope) if scope < needed => Err(ApiError::forbidden(needed)),
            Some(_) => Ok(()),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        })
    }
}

/// A scope a handler needs, as a type.
pub(crate) trait Needs {
    const SCOPE: Scope;
}

/// Marker: the handler reads.
pub(crate) struct Reads;
/// Marker: the handler changes definitions.
pub(crate) struct Writes;

impl Needs for Reads {
    const SCOPE: Scope = Scope::Read;
}
impl Needs for Writes {
    const SCOPE: Scope = Scope::Write;
}

/// Extractor that admits the request only with a token of scope `N` or more.
/// Handlers take it first, so a caller without access learns nothing about
/// its request's other faults.
pub(crate) struct Access<N>(PhantomData<N>);

impl<N: Needs + Send> FromRequestParts<AppState> for Access<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.tokens.check(parts, N::SCOPE)?;
        Ok(Access(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(list: &[&str]) -> Tokens {
        Tokens::new(
            list.iter()
                .map(|t| t.parse().expect("valid token"))
                .collect(),
        )
    }

    #[test]
    fn parses_scopes_and_refuses_bad_shapes_without_echoing_the_token() {
        assert_eq!(
            "read:abc".parse::<Token>().map(|t| t.scope()),
            Ok(Scope::Read)
        );
        assert_eq!(
            "admin:a:b".parse::<Token>().map(|t| t.scope()),
            Ok(Scope::Admin)
        );
        assert_eq!("abc".parse::<Token>().err(), Some(TokenError::Shape));
        assert_eq!(
            "root:s3cret".parse::<Token>().err(),
            Some(TokenError::Scope("root".into()))
        );
        assert_eq!("write:".parse::<Token>().err(), Some(TokenError::Empty));
        let debug = format!("{:?}", "read:s3cret".parse::<Token>());
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn the_largest_matching_scope_wins_and_scopes_nest() {
        let tokens = tokens(&["read:r", "write:w", "admin:a", "write:r"]);
        assert_eq!(tokens.scope_of(b"r"), Some(Scope::Write));
        assert_eq!(tokens.scope_of(b"a"), Some(Scope::Admin));
        assert_eq!(tokens.scope_of(b"x"), None);
        assert_eq!(tokens.scope_of(b""), None);
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
    }
}
