//! Runs the official MCP conformance suite (`@modelcontextprotocol/conformance`, client
//! mode) against `examples/conformance_client.rs` for every non-auth client scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

const SCENARIOS: &[&str] = &[
    "initialize",
    "tools_call",
    "elicitation-sep1034-client-defaults",
    "sse-retry",
];

#[test]
fn conformance_client_scenarios() {
    let node = common::node();
    let suite =
        common::peers_dir().join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        suite.exists(),
        "missing conformance suite; run `bash {}`",
        common::SETUP
    );
    let client = common::client_binary();
    let mut failed = Vec::new();
    for scenario in SCENARIOS {
        let out = Command::new(&node)
            .arg(&suite)
            .args(["client", "--command"])
            .arg(&client)
            .args(["--scenario", scenario])
            .output()
            .expect("run conformance");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let passed = out.status.success() && text.contains("OVERALL: PASSED");
        eprintln!("{scenario}: {}", if passed { "PASSED" } else { "FAILED" });
        if !passed {
            failed.push(format!("{scenario}:\n{text}"));
        }
    }
    assert!(
        failed.is_empty(),
        "failed scenarios:\n{}",
        failed.join("\n\n")
    );
}
