//! Tool-call round-trip latency against server-everything's `echo`, over stdio and
//! Streamable HTTP, side by side with PyPI's `mcp` client in the same run.
//!
//! Needs the peers (`bash sre-mcp/tests/setup-peers.sh`). Run:
//! `cargo bench -p sre-mcp --bench roundtrip` (env `ROUNDTRIP_ITERS`, default 300).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sre_mcp::{ConnectorConfig, McpConnector};

fn peers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn measure(config: ConnectorConfig, n: usize) -> f64 {
    let conn = McpConnector::new(config).unwrap();
    conn.connect().await.unwrap();
    for _ in 0..20 {
        conn.call("echo", json!({"message": "hi"})).await.unwrap();
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.call("echo", json!({"message": "hi"})).await.unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    conn.shutdown().await;
    median(samples)
}

fn main() {
    let n: usize = std::env::var("ROUNDTRIP_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let node = peers().join("node_modules/node/bin/node");
    let js = peers().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let python = peers().join(".venv/bin/python");
    for p in [&node, &js, &python] {
        assert!(
            p.exists(),
            "missing {}: run `bash sre-mcp/tests/setup-peers.sh`",
            p.display()
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(&node)
        .arg(&js)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}/mcp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stdio_cfg = ConnectorConfig::stdio(
        "ev",
        node.to_string_lossy(),
        [js.to_string_lossy().into_owned(), "stdio".into()],
    );
    let rust_stdio = rt.block_on(measure(stdio_cfg, n));
    let rust_http = rt.block_on(measure(
        ConnectorConfig::streamable_http("ev", url.clone()),
        n,
    ));
    let out = Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench_client.py"))
        .arg(&node)
        .arg(&js)
        .arg(&url)
        .arg(n.to_string())
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "python bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let py_stdio = py["stdio_median_us"].as_f64().unwrap();
    let py_http = py["http_median_us"].as_f64().unwrap();
    println!("echo round trip, median of {n} calls (µs)");
    println!("| transport | sre-mcp (rmcp) | PyPI mcp | ratio py/rust |");
    println!("|---|---|---|---|");
    println!(
        "| stdio | {rust_stdio:.0} | {py_stdio:.0} | {:.2} |",
        py_stdio / rust_stdio
    );
    println!(
        "| streamable HTTP | {rust_http:.0} | {py_http:.0} | {:.2} |",
        py_http / rust_http
    );
}
