//! Reference agent (a): the postgres-analyst of `examples/team` over a real PostgreSQL whose
//! connection pool is exhausted (`examples/team/lab/postgres-lab.sh`: 17 sessions idle in
//! transaction hold every slot an application may use). Offline, with the scripted model of
//! `examples/scripts/team-postgres-lab.yaml`: the agent measures with real queries, is
//! refused a restart by the allowlist, remediates with the one script it permits, measures
//! again; its three hooks run (the Stop quality gate, the PostToolUse allowlist, the audit
//! hook switched on). Every figure of its answer is asserted in what the tools returned,
//! and the database is checked afterwards: the remediation happened.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod pglab;

use std::time::Instant;

use common::*;
use pglab::{Lab, psql};

/// What a command printed, its status line left out.
fn printed(output: &str) -> &str {
    output.split_once('\n').map_or("", |(_, rest)| rest).trim()
}

#[test]
fn postgres_analyst_finds_the_exhausted_pool_remediates_and_verifies_on_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    let port = free_port();
    let _lab = Lab::start(&dir.path().join("lab"), port, &workspace);
    // The pool really is exhausted for the application.
    assert!(
        psql(port, "orders_app", "SELECT 1").contains("remaining connection slots are reserved")
    );
    let script = std::fs::read_to_string(repo().join("examples/scripts/team-postgres-lab.yaml"))
        .unwrap()
        .replace("@PORT@", &port.to_string());
    let script_path = dir.path().join("script.yaml");
    std::fs::write(&script_path, script).unwrap();
    let ran = Instant::now();
    let (code, stdout, stderr) = output(
        sre()
            .args(["run", "--agent", "postgres-analyst", "--json"])
            .args(["--approve", "none", "--enable-hook", "audit", "--script"])
            .arg(&script_path)
            .arg("--workspace")
            .arg(&workspace)
            .arg(team_home())
            .arg(format!(
                "pg-orders (database orders at 127.0.0.1:{port}) refuses new connections from the orders service. Investigate and remediate."
            )),
    );
    let wall = ran.elapsed();
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let events = events(&stdout);
    // (command, output) of each call that ran.
    let calls: Vec<(String, String)> = finished_calls(&events)
        .into_iter()
        .map(|c| {
            (
                c.input["command"].as_str().unwrap_or_default().to_string(),
                c.output,
            )
        })
        .collect();
    let find = |needle: &str| -> Vec<&str> {
        calls
            .iter()
            .filter(|(c, _)| c.contains(needle))
            .map(|(_, o)| printed(o))
            .collect()
    };
    // Before and after, as the server said.
    let states = find("GROUP BY state");
    assert_eq!(states, ["active|1\nidle in transaction|17", "active|1"]);
    assert_eq!(find("current_setting"), ["20|3"]);
    let app = find("orders_app connected");
    assert_eq!(app.len(), 2);
    assert!(
        app[0].contains("remaining connection slots are reserved"),
        "{app:?}"
    );
    assert_eq!(app[1], "orders_app connected");
    assert_eq!(
        find("application_name"),
        ["orders-worker|orders_app|17|17|t"]
    );
    assert_eq!(
        find("terminate-idle"),
        ["terminated 17 sessions idle in transaction for more than 5 s"]
    );
    // The restart was refused before it ran.
    let refused = of_type(&events, "tool_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["kind"]["reason"]
            .as_str()
            .unwrap()
            .contains("not in the allowlist")
    );
    // The Python PostToolUse allowlist and the audit hook judged every call that ran.
    let by_hook = |hook: &str| {
        events
            .iter()
            .filter(|e| e["kind"]["type"] == "hook_decision" && e["kind"]["hook"] == hook)
            .count()
    };
    assert_eq!(by_hook("command-allowlist"), calls.len());
    assert_eq!(by_hook("audit"), calls.len());
    // The answer's figures are the ones measured, and it passed the quality gate.
    let answer = answer(&events, "postgres-analyst");
    for figure in [
        "idle in transaction|17",
        "active|1",
        "20|3",
        "orders-worker|orders_app",
        "terminated 17 sessions",
        &format!("127.0.0.1:{port}"),
    ] {
        assert!(answer.contains(figure), "{figure} not in:\n{answer}");
    }
    assert!(
        !events.iter().any(|e| e["kind"]["type"] == "stop_rejected"),
        "the quality gate rejected the answer"
    );
    // And the server agrees: nothing idle in transaction, the application connects.
    assert_eq!(
        psql(
            port,
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
        )
        .trim(),
        "0"
    );
    assert_eq!(psql(port, "orders_app", "SELECT 1").trim(), "1");
    // The figures of this reference agent (tokens estimated by the scripted model: bytes/4).
    let (mut input, mut output_tokens, mut turns) = (0, 0, 0);
    for e in &events {
        if e["kind"]["type"] == "model_response" && e["agent"] == "postgres-analyst" {
            turns += 1;
            input += e["kind"]["usage"]["input_tokens"].as_u64().unwrap();
            output_tokens += e["kind"]["usage"]["output_tokens"].as_u64().unwrap();
        }
    }
    println!(
        "reference agent (a) postgres-analyst, offline: {:.2} s wall, {turns} model turns, {} tool calls ({} refused), {input} input + {output_tokens} output tokens (estimated, bytes/4)",
        wall.as_secs_f64(),
        calls.len() + refused.len(),
        refused.len()
    );
}
