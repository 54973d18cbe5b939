//! What the `sre serve` tests share: a server as a child process, raw HTTP/1.1 requests,
//! event stream followers, the test home.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// One HTTP/1.1 request; the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A refused large body may be answered before it is all sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    /// What it wrote on stderr.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn start(home: &Path, token: &str) -> Server {
    start_with(home, token, &[])
}

pub fn start_with(home: &Path, token: &str, env: &[(&str, &str)]) -> Server {
    start_on(home, token, env, "127.0.0.1:0")
}

/// A server listening on `listen` (a fixed port: a restart comes back where it was).
pub fn start_on(home: &Path, token: &str, env: &[(&str, &str)], listen: &str) -> Server {
    start_full(home, token, env, listen, &[])
}

/// A server with more arguments (`--learn`...).
pub fn start_full(
    home: &Path,
    token: &str,
    env: &[(&str, &str)],
    listen: &str,
    args: &[&str],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sre"));
    cmd.args([
        "serve",
        home.to_str().unwrap(),
        "--listen",
        listen,
        "--script",
    ])
    .arg(home.join("script.yaml"))
    .args(args)
    .env("SRE_API_TOKEN", token)
    .envs(env.iter().copied());
    start_command(cmd)
}

/// `sre serve` as `cmd` says (its arguments, environment, token): started, its stderr
/// read in the background, its address once it listens.
pub fn start_command(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_string());
            }
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the server did not start:\n{}", log.lock().unwrap()));
    Server { child, addr, log }
}

/// The `data:` lines of a thread's event stream, read in the background.
pub struct Follower(pub std::sync::mpsc::Receiver<String>);

impl Follower {
    /// Everything read until a line satisfies `done` (bounded wait).
    pub fn until(&self, done: impl Fn(&str) -> bool) -> String {
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = self.0.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&line);
                seen.push('\n');
                if done(&line) {
                    return seen;
                }
            }
        }
        panic!("the stream never said it:\n{seen}");
    }
}

pub fn follow(addr: &str, thread: &str) -> Follower {
    follow_query(addr, &format!("{thread}/events"))
}

/// Follow `/api/threads/{path}`: its `data:` lines, and its `id:` lines as `id N`.
pub fn follow_query(addr: &str, path: &str) -> Follower {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "GET /api/threads/{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(s).lines().map_while(Result::ok);
        // The server subscribes before it answers: the status line means it listens.
        let status = lines.next().unwrap_or_default();
        let _ = ready_tx.send(status);
        for line in lines {
            let forward = match (line.strip_prefix("data:"), line.strip_prefix("id:")) {
                (Some(data), _) => data.trim().to_string(),
                (_, Some(id)) => format!("id {}", id.trim()),
                _ => continue,
            };
            if tx.send(forward).is_err() {
                return;
            }
        }
    });
    let status = ready.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    Follower(rx)
}

pub fn wait_for(addr: &str, thread: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http(
            addr,
            "GET",
            &format!("/api/threads/{thread}"),
            Some(TOKEN),
            b"",
        );
        if code == 200 {
            let t = json_of(&body);
            if t["status"] == status {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "thread {thread} never became {status}: {t}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/fixer.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: fixer\n  system_prompt: You fix checkout.\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: log\n      event: PostToolUse\n      type: command\n      matcher: '*'\n      activation: on-demand\n      command: '{ cat; echo; } >> scratch/hook.log'\n",
    )
    .unwrap();
    std::fs::write(
        h.join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: checkout}\nspec:\n  incidentPlatform: Prometheus\n  impactedService: checkout\n  handlingAgent: fixer\n  customInstructions: Fix it in scratch.\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  fixer:\n    - expect: {last_message_contains: [\"Investigate incident inc-1 from alertmanager\", \"Instructions: Fix it in scratch.\"]}\n      tool_calls:\n        - {tool: shell, args: {command: 'cat /etc/hostname'}}\n        - {tool: shell, args: {command: 'echo fixed >> scratch/fix.txt'}}\n    - final: fixed it\n    - expect: {last_message_contains: [\"check it again\"]}\n      tool_calls:\n        - {tool: shell, args: {command: 'cat scratch/fix.txt'}}\n    - final: checked again\n",
    )
    .unwrap();
    dir
}

pub fn firing() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "sre", "groupKey": "g",
        "alerts": [{"status": "firing", "labels": {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout"},
                    "annotations": {"summary": "5xx above 5%"}, "startsAt": "2026-11-30T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "f1"}]
    }))
    .unwrap()
}

/// `sre ARGS` with the API token in the environment: status and stdout (stderr on failure).
pub fn sre(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(args)
        .env("SRE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    (out.status.code().unwrap_or(-1), text)
}

/// Wait until thread `id` waits for exactly `requests`.
pub fn wait_parked_on(addr: &str, thread: &str, requests: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = json_of(
            &http(
                addr,
                "GET",
                &format!("/api/threads/{thread}"),
                Some(TOKEN),
                b"",
            )
            .1,
        );
        if t["status"] == "parked" && t["waiting_for"] == json!(requests) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{thread} never waited for {requests:?}: {t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
