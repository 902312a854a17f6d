//! A real browser for tests: Debian's headless `chromium`, driven through `chromedriver`
//! over the W3C WebDriver protocol (plain HTTP and JSON, spoken with [`crate::http`]).
//! [`Browser::start`] starts a chromedriver on an ephemeral loopback port and opens a
//! session; dropping the browser ends the session and stops the driver it started.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::http;

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session.
pub struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless chromium `width` × `height` pixels.
    ///
    /// # Panics
    /// If `chromedriver` or `chromium` is missing (`.ci/run` installs both) or the session
    /// cannot start.
    pub fn start(width: u32, height: u32) -> Self {
        let mut driver = Command::new("chromedriver")
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
        let stdout = BufReader::new(driver.stdout.take().expect("piped stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromedriver says its port");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},{height}")],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let (status, answer) =
            http::json(address, "POST", "/session", &capabilities.to_string()).unwrap();
        assert_eq!(status, 200, "new session: {answer}");
        let session = answer["value"]["sessionId"]
            .as_str()
            .expect("a session ID")
            .to_owned();
        Self {
            driver,
            address,
            session,
        }
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = if method == "GET" {
            String::new()
        } else {
            body.to_string()
        };
        let (status, answer) = http::json(self.address, method, &path, &body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({"url": url}));
    }

    /// The first element matching the CSS `selector`.
    pub fn find(&self, selector: &str) -> Element {
        let found = self.command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": selector}),
        );
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {selector:?}: {found}"))
                .to_owned(),
        )
    }

    /// Clicks `element` as a user would (scrolled into view, at its centre).
    pub fn click(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.0), json!({}));
    }

    /// Clears `element` (an input) and types `text` into it.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/clear", element.0), json!({}));
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            json!({"text": text}),
        );
    }

    /// The element `script` (a function body run in the page) returns.
    pub fn find_by_script(&self, script: &str) -> Element {
        let found = self.execute(script, json!([]));
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element from {script}: {found}"))
                .to_owned(),
        )
    }

    /// Chooses the local file at `path` in a file `element`, as a user picking it does.
    pub fn choose_file(&self, element: &Element, path: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            json!({"text": path}),
        );
    }

    /// The rendered text of `element`.
    pub fn text(&self, element: &Element) -> String {
        let text = self.command("GET", &format!("/element/{}/text", element.0), json!({}));
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns
    /// what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Polls `script` until it returns `true`, for up to `timeout`.
    pub fn wait_for(&self, script: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.execute(script, json!([])) == Value::Bool(true) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Writes a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.command("GET", "/screenshot", json!({}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 PNG"))
            .expect("valid base64");
        std::fs::write(path, png).expect("writing the screenshot");
    }

    /// The browser console's messages since the last call (level and text).
    pub fn console(&self) -> Vec<(String, String)> {
        let entries = self.command("POST", "/se/log", json!({"type": "browser"}));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                (
                    entry["level"].as_str().unwrap_or_default().to_owned(),
                    entry["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = http::json(self.address, "DELETE", &path, "");
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
