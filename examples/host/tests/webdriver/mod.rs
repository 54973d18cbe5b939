//! A small W3C WebDriver client (JSON over HTTP) for a real headless Chromium driven by
//! chromedriver (Debian's `chromium` and `chromium-driver`, installed by the test command).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One JSON request to chromedriver; its JSON answer (None: not reachable). Read by
/// `Content-Length`: chromedriver keeps the connection open.
fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    let port = addr.rsplit(':').next().unwrap_or_default();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut reader = BufReader::new(s);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut json = vec![0u8; length];
    reader.read_exact(&mut json).ok()?;
    serde_json::from_slice(&json).ok()
}

impl Browser {
    /// chromedriver on a free port, and a headless Chromium session.
    pub fn start() -> Browser {
        let port = crate::common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/test.sh installs it)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while request(&addr, "GET", "/status", None).is_none() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            }
        }}});
        // A Chromium that exits while starting (seen on a loaded 2-core machine, with other
        // browsers starting in parallel tests) is tried again, up to three times.
        let mut attempt = 0;
        let session = loop {
            attempt += 1;
            let r = request(&addr, "POST", "/session", Some(&caps)).expect("a session");
            match r["value"]["sessionId"].as_str() {
                Some(id) => break id.to_string(),
                None if attempt < 3 && r["value"]["error"] == "session not created" => {
                    std::thread::sleep(Duration::from_millis(500));
                }
                None => panic!("no session after {attempt} attempts: {r}"),
            }
        };
        Browser {
            driver,
            addr,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = match method {
            "GET" => None,
            _ => Some(body.unwrap_or(json!({}))),
        };
        let v = request(&self.addr, method, &path, body.as_ref())
            .unwrap_or_else(|| panic!("chromedriver did not answer {method} {path}"));
        v["value"].clone()
    }

    /// `call`, refusing a WebDriver error (a stale element, a bad script...).
    fn checked(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.call(method, path, body);
        if let Some(e) = v.get("error") {
            panic!("{method} {path}: {e}: {}", v["message"]);
        }
        v
    }

    pub fn goto(&self, url: &str) {
        self.checked("POST", "/url", Some(json!({"url": url})));
    }

    /// The first element matching `css`, waiting up to `secs`.
    pub fn wait(&self, css: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            // An element reference: {"element-6066-...": id}.
            if let Some(id) = v
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.starts_with("element-")))
                .and_then(|(_, id)| id.as_str())
            {
                return id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no `{css}` within {secs}s; the page says: {}",
                self.exec("return document.body.innerText", json!([]))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn text(&self, element: &str) -> String {
        self.checked("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn click(&self, element: &str) {
        self.checked("POST", &format!("/element/{element}/click"), None);
    }

    /// Click the first element matching `css`, found again if the page redrew it.
    pub fn click_on(&self, css: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let element = self.wait(css, secs);
            let v = self.call("POST", &format!("/element/{element}/click"), None);
            match v.get("error").and_then(Value::as_str) {
                None => return,
                Some("stale element reference") if Instant::now() < deadline => continue,
                Some(e) => panic!("click on `{css}`: {e}: {}", v["message"]),
            }
        }
    }

    pub fn type_text(&self, element: &str, text: &str) {
        self.checked(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Run `script` in the page (`return ...` gives the value).
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.checked(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Run `script` in the page, which calls `arguments[arguments.length - 1](value)` when
    /// done; its value.
    pub fn exec_async(&self, script: &str) -> Value {
        self.checked(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Downloads go to `dir` (Chromium's own download, through the DevTools protocol).
    pub fn downloads_to(&self, dir: &std::path::Path) {
        self.checked(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Browser.setDownloadBehavior",
                        "params": {"behavior": "allow", "downloadPath": dir.to_str().unwrap()}})),
        );
    }

    /// Resize the window (a phone's screen: 390 x 844).
    pub fn resize(&self, width: u32, height: u32) {
        self.checked(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Send keys (WebDriver key codes, e.g. `\u{E007}` for Enter) to an element, focusing it.
    pub fn keys(&self, element: &str, keys: &str) {
        self.type_text(element, keys);
    }

    /// Wait until `script` returns true. A script error counts as "not yet"
    /// (the page may be between two renders) and is shown if it never holds.
    pub fn until(&self, script: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let body = json!({"script": script, "args": []});
        loop {
            let v = self.call("POST", "/execute/sync", Some(body.clone()));
            if v == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{script}` never held (last answer: {v}); the page says: {}",
                self.exec("return document.body.innerText", json!([]))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the page, saved at `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let v = self.checked("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}
