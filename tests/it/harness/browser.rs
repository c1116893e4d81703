//! A headless Chromium driven through chromedriver's W3C WebDriver
//! protocol, for the dashboard's end-to-end tests.
//!
//! WebDriver is plain JSON over HTTP, and the handful of commands the tests
//! use (navigate, find, click, type, read text, run a script, screenshot) fit
//! in this file on top of hyper, which axum already brings. A client crate
//! was measured and rejected: `fantoccini` without TLS still adds about 60
//! crates (the `webdriver` crate with two versions of ICU, `http` 0.2,
//! `cookie`, `time`), `thirtyfour` more; this adds `hyper-util`'s client and
//! `base64`.
//!
//! The browser is Debian's `chromium` with `chromium-driver`
//! (`CHIME_BROWSER_TESTS=1 scripts/services` installs both). When either is
//! missing or will not start, [`Browser::start`] panics saying so: a browser
//! test never skips silently.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element on the page, as WebDriver names it.
#[derive(Debug, Clone)]
pub struct Element(String);

/// One browser session with its own chromedriver and a fresh profile; both
/// go away on drop.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:{port}/session/{id}`.
    session_url: String,
    port: u16,
    session_id: String,
    profile: PathBuf,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A WebDriver command that failed, with the driver's own words.
#[derive(Debug)]
pub struct DriverError {
    /// The W3C error code, e.g. `no such element`.
    pub error: String,
    /// The driver's message.
    pub message: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile and a
    /// 1366x900 window, or panics with what is missing and how to get it.
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "the dashboard tests need Debian's {package} ({path} is missing): run \
                 `CHIME_BROWSER_TESTS=1 scripts/services` or `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = free_port();
        let log_path = std::env::temp_dir().join(format!("chime-chromedriver-{port}.log"));
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {CHROMEDRIVER}: {err}"));
        let profile =
            std::env::temp_dir().join(format!("chime-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("creating a browser profile folder");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mut browser = Browser {
            driver,
            session_url: String::new(),
            port,
            session_id: String::new(),
            profile,
            client,
        };

        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            match browser
                .call(Method::GET, &format!("{base}/status"), None)
                .await
            {
                Ok(v) if v["ready"].as_bool() == Some(true) => break,
                _ if started.elapsed() > Duration::from_secs(20) => panic!(
                    "chromedriver did not become ready within 20 s; its log: {}",
                    log_path.display()
                ),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1366,900".to_owned(),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let session = browser
            .call(Method::POST, &format!("{base}/session"), Some(caps))
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "chromium did not start under chromedriver: {}: {}\n(chromedriver log: {})",
                    err.error,
                    err.message,
                    log_path.display()
                )
            });
        browser.session_id = session["sessionId"]
            .as_str()
            .expect("a new session has an id")
            .to_owned();
        browser.session_url = format!("{base}/session/{}", browser.session_id);
        browser
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.cmd(Method::POST, "/url", json!({ "url": url })).await;
    }

    /// Resizes the window (CSS pixels), to look at the phone layout.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.cmd(
            Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// The first element matching `css`, if any, right now.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        match self.try_cmd(Method::POST, "/element", Some(body)).await {
            Ok(v) => v[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())),
            Err(err) if err.error == "no such element" => None,
            Err(err) => panic!("finding {css}: {}: {}", err.error, err.message),
        }
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let started = Instant::now();
        loop {
            if let Some(el) = self.find(css).await {
                return el;
            }
            if started.elapsed() > timeout {
                panic!(
                    "no element matches {css} after {timeout:?}; the page says:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `timeout` until the text of the first element matching
    /// `css` contains `want`, and returns that text.
    pub async fn wait_for_text(&self, css: &str, want: &str, timeout: Duration) -> String {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            if let Some(el) = self.find(css).await {
                match self.try_text(&el).await {
                    Some(text) if text.contains(want) => return text,
                    Some(text) => last = text,
                    None => {}
                }
            }
            if started.elapsed() > timeout {
                panic!(
                    "{css} never showed {want:?} within {timeout:?} (last text: {last:?}); the page says:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `el`, as a user would (scrolls it into view first).
    pub async fn click(&self, el: &Element) {
        self.cmd(Method::POST, &format!("/element/{}/click", el.0), json!({}))
            .await;
    }

    /// Finds `css` (waiting up to 10 s) and clicks it.
    pub async fn click_css(&self, css: &str) {
        let el = self.wait_for(css, Duration::from_secs(10)).await;
        self.click(&el).await;
    }

    /// Types `text` into `el`.
    pub async fn type_text(&self, el: &Element, text: &str) {
        self.cmd(
            Method::POST,
            &format!("/element/{}/value", el.0),
            json!({"text": text}),
        )
        .await;
    }

    /// Empties an input or textarea.
    pub async fn clear(&self, el: &Element) {
        self.cmd(Method::POST, &format!("/element/{}/clear", el.0), json!({}))
            .await;
    }

    /// The rendered text of `el`.
    pub async fn text(&self, el: &Element) -> String {
        self.try_text(el)
            .await
            .unwrap_or_else(|| panic!("element {el:?} went away"))
    }

    async fn try_text(&self, el: &Element) -> Option<String> {
        match self
            .try_cmd(Method::GET, &format!("/element/{}/text", el.0), None)
            .await
        {
            Ok(v) => Some(v.as_str().unwrap_or_default().to_owned()),
            Err(err) if err.error == "stale element reference" => None,
            Err(err) => panic!("reading text: {}: {}", err.error, err.message),
        }
    }

    /// Whether `el` is enabled (not `disabled`).
    pub async fn is_enabled(&self, el: &Element) -> bool {
        let v = self.cmd_get(&format!("/element/{}/enabled", el.0)).await;
        v.as_bool().unwrap_or(false)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// The page's location.
    pub async fn current_url(&self) -> String {
        self.cmd_get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// All visible text of the page, for failure messages.
    pub async fn page_text(&self) -> String {
        match self
            .try_cmd(
                Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.body.innerText", "args": []})),
            )
            .await
        {
            Ok(v) => v.as_str().unwrap_or_default().to_owned(),
            Err(err) => format!("(cannot read the page: {})", err.message),
        }
    }

    /// Saves a PNG of the viewport at `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.cmd_get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a screenshot is base64 text"))
            .expect("a screenshot decodes");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("creating the screenshot folder");
        }
        std::fs::write(path, png).expect("writing a screenshot");
    }

    /// Saves a PNG of the whole page (not only the viewport) at `path`, by
    /// growing the window to the page's height for the shot.
    pub async fn screenshot_full(&self, path: &Path) {
        let size = self
            .execute(
                "return [document.documentElement.scrollHeight, \
                 window.outerHeight - window.innerHeight]",
                vec![],
            )
            .await;
        let dim = |i: usize| size[i].as_u64().unwrap_or(0) as u32;
        let rect = self.cmd_get("/window/rect").await;
        let (w, h) = (
            rect["width"].as_u64().unwrap_or(1366) as u32,
            rect["height"].as_u64().unwrap_or(900) as u32,
        );
        let full = (dim(0) + dim(1)).clamp(h, 4000);
        self.set_window_size(w, full).await;
        self.screenshot(path).await;
        self.set_window_size(w, h).await;
    }

    async fn cmd_get(&self, path: &str) -> Value {
        self.try_cmd(Method::GET, path, None)
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {}: {}", err.error, err.message))
    }

    async fn cmd(&self, method: Method, path: &str, body: Value) -> Value {
        self.try_cmd(method.clone(), path, Some(body))
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {}: {}", err.error, err.message))
    }

    async fn try_cmd(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, DriverError> {
        let url = format!("{}{path}", self.session_url);
        self.call(method, &url, body).await
    }

    /// One WebDriver request; returns the reply's `value`.
    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, DriverError> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(bytes)))
            .expect("a WebDriver request is well-formed");
        let fail = |error: &str, message: String| DriverError {
            error: error.to_owned(),
            message,
        };
        let res = tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
            .map_err(|_| fail("timeout", format!("chromedriver took over 60 s on {url}")))?
            .map_err(|e| fail("transport", format!("{e}")))?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| fail("transport", format!("{e}")))?
            .to_bytes();
        let reply: Value = serde_json::from_slice(&body).map_err(|e| {
            fail(
                "protocol",
                format!(
                    "{status}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&body)
                ),
            )
        })?;
        let value = reply.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        Err(fail(
            value["error"].as_str().unwrap_or("unknown error"),
            value["message"].as_str().unwrap_or_default().to_owned(),
        ))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver stop Chromium; drop cannot
        // await, so this is one blocking request on a plain socket.
        if !self.session_id.is_empty() {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session_id, self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink);
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
