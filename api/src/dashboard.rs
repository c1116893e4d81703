//! The web dashboard: `api/assets/` (plain HTML, CSS and JavaScript, no
//! build step) embedded into the binary at compile time and served at `/`
//! and `/assets/{file}`.
//!
//! The assets are embedded with `include_bytes!` and a small table of
//! name, content type and content hash, rather than with rust-embed. With
//! three files the table is a few lines, while rust-embed brings a proc macro,
//! `walkdir`, `sha2` and `mime_guess` into every build of the API, and in
//! debug builds reads the files from disk at run time instead of embedding
//! them, so what a test serves would differ from what ships. Here the
//! bytes and their FNV-1a hashes are fixed at compile time, so every replica
//! built from the same source sends the same `ETag`.
//!
//! Caching: `index.html` refers to each asset as `/assets/{file}?v={hash}`
//! and is itself served with `Cache-Control: no-cache` (revalidated through
//! its `ETag` on every load, a cheap 304). An asset asked for with the hash
//! of the embedded bytes is immutable and cached for a year; one asked for
//! without it (or with a stale hash) is `no-cache`. A new build therefore
//! reaches browsers at their next page load, never a mix of old and new files.
//!
//! The index carries a strict Content Security Policy: scripts, styles and
//! API calls come from this origin only, so a value shown on the dashboard can
//! never run as code even if it slipped past the DOM-building code.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

/// The dashboard's routes: `GET /` (the single-page app) and
/// `GET /assets/{file}`. `HEAD` is answered too. Merge it into the API's
/// router; it needs no state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

/// One embedded file.
struct Asset {
    name: &'static str,
    bytes: &'static [u8],
    /// FNV-1a of `bytes`, computed at compile time.
    hash: u64,
}

macro_rules! asset {
    ($name:literal) => {
        Asset {
            name: $name,
            bytes: include_bytes!(concat!("../assets/", $name)),
            hash: fnv1a(include_bytes!(concat!("../assets/", $name))),
        }
    };
}

/// Every file of `api/assets/` except `index.html` (a test checks the table
/// against the folder).
const ASSETS: &[Asset] = &[asset!("app.js"), asset!("app.css"), asset!("favicon.svg")];

const INDEX_HTML: &str = include_str!("../assets/index.html");

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// `index.html` with every asset reference pinned to its content hash.
struct Index {
    body: String,
    etag: HeaderValue,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let mut body = INDEX_HTML.to_owned();
    for asset in ASSETS {
        let plain = format!("/assets/{}\"", asset.name);
        let pinned = format!("/assets/{}?v={:016x}\"", asset.name, asset.hash);
        body = body.replace(&plain, &pinned);
    }
    let etag = etag_value(fnv1a(body.as_bytes()));
    Index { body, etag }
});

async fn index(headers: HeaderMap) -> Response {
    let index = &*INDEX;
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, index.etag.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if not_modified(&headers, &index.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        index.body.as_str(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

async fn asset(
    Path(file): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return not_found();
    };
    let etag = etag_value(asset.hash);
    let pinned = version.v.as_deref() == Some(format!("{:016x}", asset.hash).as_str());
    let cache = if pinned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::ETAG, etag.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if not_modified(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type: (HeaderName, HeaderValue) = (
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.name)),
    );
    (common, [content_type], asset.bytes).into_response()
}

/// The API's error shape, so a client sees one format everywhere.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"code":"not_found","message":"no such dashboard asset","field":null}}"#,
    )
        .into_response()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Whether `If-None-Match` names `etag` (weak or strong) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(want) = etag.to_str().ok() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == want)
}

fn etag_value(hash: u64) -> HeaderValue {
    // A quoted hex string is always a valid header value.
    HeaderValue::from_str(&format!("\"{hash:016x}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// 64-bit FNV-1a: tiny, `const`, and plenty to tell two builds of a file apart.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::*;

    async fn get(uri: &str, if_none_match: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut req = Request::get(uri);
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        let res = router()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn header_str(headers: &HeaderMap, name: HeaderName) -> &str {
        headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing {name}"))
    }

    #[tokio::test]
    async fn root_serves_the_html_page() {
        let (status, headers, body) = get("/", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header_str(&headers, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_str(&headers, header::CACHE_CONTROL), "no-cache");
        assert!(
            header_str(&headers, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'")
        );
        assert!(body.starts_with("<!doctype html>"), "{body}");
        let app_js = format!(
            "/assets/app.js?v={:016x}\"",
            fnv1a(include_bytes!("../assets/app.js"))
        );
        assert!(
            body.contains(&app_js),
            "index pins app.js to its hash: {body}"
        );
    }

    #[tokio::test]
    async fn app_js_is_javascript() {
        let (status, headers, body) = get("/assets/app.js", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header_str(&headers, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_str(&headers, header::CACHE_CONTROL), "no-cache");
        assert!(body.contains("'use strict'"));
        let (_, headers, _) = get("/assets/app.css", None).await;
        assert_eq!(
            header_str(&headers, header::CONTENT_TYPE),
            "text/css; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn pinned_assets_are_immutable_and_etags_revalidate() {
        let hash = format!("{:016x}", fnv1a(include_bytes!("../assets/app.css")));
        let (status, headers, _) = get(&format!("/assets/app.css?v={hash}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header_str(&headers, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        let etag = header_str(&headers, header::ETAG).to_owned();
        assert_eq!(etag, format!("\"{hash}\""));

        let (status, _, body) = get("/assets/app.css", Some(&format!("W/{etag}"))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());

        let (_, headers, _) = get("/", None).await;
        let index_etag = header_str(&headers, header::ETAG).to_owned();
        let (status, _, _) = get("/", Some(&format!("\"x\", {index_etag}"))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        let (status, _, _) = get("/", Some("\"stale\"")).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_assets_are_a_json_404() {
        let (status, headers, body) = get("/assets/nope.js", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            header_str(&headers, header::CONTENT_TYPE),
            "application/json"
        );
        assert!(body.contains("\"code\":\"not_found\""));
        let (status, _, _) = get("/assets/..%2FCargo.toml", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn every_file_in_the_assets_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        for entry in std::fs::read_dir(&dir).expect("api/assets exists") {
            let name = entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name == "index.html" {
                continue;
            }
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "api/assets/{name} is not in dashboard::ASSETS"
            );
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
