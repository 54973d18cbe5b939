//! Shared helpers: locate the real peers installed by `sre-mcp/tests/setup-peers.sh`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sre_mcp::ConnectorConfig;

pub const SETUP: &str = "sre-mcp/tests/setup-peers.sh";

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_dir() -> PathBuf {
    crate_dir().join("tests/peers")
}

pub fn fixtures_dir() -> PathBuf {
    crate_dir().join("tests/fixtures")
}

fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "missing test peer {what} at {}. Install the peers with `bash {SETUP}` \
         (runs `npm ci --prefix sre-mcp/tests/peers` and creates the Python venv); \
         these tests never skip.",
        path.display()
    );
    path
}

/// Node 22 from the `node` npm package in the peers folder.
pub fn node() -> PathBuf {
    require(peers_dir().join("node_modules/node/bin/node"), "node@22")
}

/// server-everything's entry point.
pub fn everything_js() -> PathBuf {
    require(
        peers_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
        "@modelcontextprotocol/server-everything",
    )
}

/// Python of the peers venv (with PyPI's `mcp`).
pub fn python() -> PathBuf {
    require(
        peers_dir().join(".venv/bin/python"),
        "Python venv with `mcp`",
    )
}

pub fn everything_stdio(name: &str) -> ConnectorConfig {
    ConnectorConfig::stdio(
        name,
        node().to_string_lossy(),
        [
            everything_js().to_string_lossy().into_owned(),
            "stdio".to_string(),
        ],
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
pub struct Peer {
    pub child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for_port(port: u16, child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("peer exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("peer did not listen on port {port} within 30s");
}

/// server-everything over Streamable HTTP on `port` (`/mcp`).
pub fn everything_http_on(port: u16) -> Peer {
    let mut child = Command::new(node())
        .arg(everything_js())
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server-everything streamableHttp");
    wait_for_port(port, &mut child);
    Peer { child, port }
}

pub fn everything_http() -> Peer {
    everything_http_on(free_port())
}

/// The Python fixture server requiring a header (`tests/fixtures/auth_server.py`).
pub fn auth_server(expected_header: &str, expected_value: &str) -> Peer {
    auth_server_on(free_port(), expected_header, expected_value)
}

/// Same, on a given port (to restart it in place).
pub fn auth_server_on(port: u16, expected_header: &str, expected_value: &str) -> Peer {
    let mut child = Command::new(python())
        .arg(fixtures_dir().join("auth_server.py"))
        .arg("--port")
        .arg(port.to_string())
        .env("EXPECTED_HEADER", expected_header)
        .env("EXPECTED_VALUE", expected_value)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn auth_server.py");
    wait_for_port(port, &mut child);
    Peer { child, port }
}

/// A stdio fixture script run by the venv's Python.
pub fn python_stdio(name: &str, script: &str, args: &[&str]) -> ConnectorConfig {
    let mut all = vec![fixtures_dir().join(script).to_string_lossy().into_owned()];
    all.extend(args.iter().map(|s| s.to_string()));
    ConnectorConfig::stdio(name, python().to_string_lossy(), all)
}

/// `tests/fixtures/effects_server.py` on `port` with extra arguments (see its docstring).
pub fn effects_server_on(port: u16, args: &[&str]) -> Peer {
    let mut child = Command::new(python())
        .arg(fixtures_dir().join("effects_server.py"))
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn effects_server.py");
    wait_for_port(port, &mut child);
    Peer { child, port }
}

/// Lines of a fixture's log file equal to `line` (0 when the file does not exist yet).
pub fn count_lines(path: &std::path::Path, line: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == line)
        .count()
}

/// `tests/fixtures/elicit_server.cjs` (TypeScript SDK) holding every GET for `get_delay_ms`.
pub fn elicit_server(get_delay_ms: u64) -> Peer {
    let port = free_port();
    let mut child = Command::new(node())
        .arg(fixtures_dir().join("elicit_server.cjs"))
        .env("NODE_PATH", peers_dir().join("node_modules"))
        .env("PORT", port.to_string())
        .env("GET_DELAY_MS", get_delay_ms.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn elicit_server.cjs");
    wait_for_port(port, &mut child);
    Peer { child, port }
}

/// Send `signal` (e.g. "STOP", "CONT") to a peer this test started.
pub fn signal(peer: &Peer, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(peer.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Build `examples/conformance_client.rs` (a generic "connect, list, call every tool"
/// client) and return its path.
pub fn client_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "sre-mcp", "--example", "conformance_client"])
        .current_dir(crate_dir())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the conformance client failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir().join("../target"));
    let bin = target.join("debug/examples/conformance_client");
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}
