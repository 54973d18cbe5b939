//! Shared by the host's integration tests: the `sre` binary, the peers' Python (with PyPI's
//! `mcp` and `cryptography`, installed by `sre-mcp/tests/setup-peers.sh`), local servers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference team.
pub fn team_home() -> PathBuf {
    repo().join("examples/team")
}

/// A fixture of this crate's tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Python of the MCP peers' venv (PyPI `mcp`, `uvicorn`, `cryptography`). The test suite
/// installs it (scripts/test.sh); a missing venv fails the test, it never skips.
pub fn peers_python() -> PathBuf {
    let p = repo().join("sre-mcp/tests/peers/.venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash sre-mcp/tests/setup-peers.sh` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// One Python environment cache shared by the tests (dependencies install once per run of
/// the suite, as they would once per machine).
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sre-host-python-cache")
}

/// The `sre` binary, with the shared cache.
pub fn sre() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sre"));
    c.env("SRE_CACHE_DIR", shared_cache())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_API_KEY");
    c
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed (with its output reader) on drop.
pub struct Server {
    pub child: Child,
    /// The first line it printed, when it was asked for.
    pub first_line: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `cmd` and wait for its first line on stdout.
pub fn start_reading_line(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    assert!(!line.trim().is_empty(), "the server printed nothing");
    Server {
        child,
        first_line: line,
    }
}

/// Start `cmd` and wait until it listens on `port`.
pub fn start_listening(mut cmd: Command, port: u16) -> Server {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server starts");
    let mut server = Server {
        child,
        first_line: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the server on port {port} exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Run `cmd` to the end: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON lines of `sre run --json`.
pub fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The events of kind `ty`.
pub fn of_type<'a>(events: &'a [serde_json::Value], ty: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["kind"]["type"] == ty).collect()
}

/// The answer of the last `finished` event of agent `agent`.
pub fn answer(events: &[serde_json::Value], agent: &str) -> String {
    of_type(events, "finished")
        .into_iter()
        .rev()
        .find(|e| e["agent"] == agent)
        .and_then(|e| e["kind"]["answer"].as_str())
        .unwrap_or_else(|| panic!("no answer of {agent}"))
        .to_string()
}

/// What `git -C repo args...` prints (trimmed); it must succeed.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A tool call that finished, from a run's events: its name, its input, its output.
pub struct FinishedCall {
    /// The tool's name.
    pub name: String,
    /// The call's input.
    pub input: serde_json::Value,
    /// What it returned (empty when the event left it out).
    pub output: String,
}

/// The tool calls of `events` that finished, in the order they finished.
pub fn finished_calls(events: &[serde_json::Value]) -> Vec<FinishedCall> {
    let mut started = std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in events {
        let k = &e["kind"];
        match k["type"].as_str() {
            Some("tool_started") => {
                started.insert(k["id"].to_string(), (k["name"].clone(), k["input"].clone()));
            }
            Some("tool_finished") => {
                let (name, input) = started.remove(&k["id"].to_string()).unwrap_or_default();
                out.push(FinishedCall {
                    name: name.as_str().unwrap_or_default().to_string(),
                    input,
                    output: k["output"].as_str().unwrap_or_default().to_string(),
                });
            }
            _ => {}
        }
    }
    out
}
