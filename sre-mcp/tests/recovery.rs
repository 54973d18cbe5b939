//! A call whose session is lost is sent again only when its tool is annotated read-only or
//! idempotent; any other call fails with a model-visible error and never runs twice.
//! Real servers: `tests/fixtures/effects_server.py` (PyPI `mcp`, logs every execution)
//! and server-everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sre_core::{Tool, ToolContext, ToolError, ToolOutput};
use sre_mcp::{ConnectorConfig, ConnectorStatus, McpConnector};

fn find(tools: &[Arc<dyn Tool>], name: &str) -> Arc<dyn Tool> {
    tools
        .iter()
        .find(|t| t.spec().name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
        .clone()
}

fn connector(port: u16) -> McpConnector {
    McpConnector::new(
        ConnectorConfig::streamable_http("fx", format!("http://127.0.0.1:{port}/mcp"))
            .call_timeout(Duration::from_secs(60)),
    )
    .unwrap()
}

fn call(
    tool: &Arc<dyn Tool>,
    input: serde_json::Value,
) -> tokio::task::JoinHandle<Result<ToolOutput, ToolError>> {
    let tool = tool.clone();
    tokio::spawn(async move { tool.call(input, &ToolContext::detached("s")).await })
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server stops answering (SIGSTOP) while a call runs: the connector's health ping
/// fails. The call that ran (`slow_record`, no annotations) is not sent again and the model
/// is told it may or may not have run; a read-only call (`slow_lookup`) is sent again on a
/// fresh session once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_session_resends_only_calls_safe_to_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let peer = common::effects_server_on(common::free_port(), &["--log", log.to_str().unwrap()]);
    let conn = connector(peer.port);
    let tools = conn.connect().await.unwrap();
    let slow_record = find(&tools, "mcp__fx__slow_record");
    let slow_lookup = find(&tools, "mcp__fx__slow_lookup");
    assert!(!slow_record.annotations().safe_to_repeat());
    assert!(slow_lookup.annotations().read_only);

    // Not safe to repeat: fails, never re-sent (even after the server is back).
    let task = call(&slow_record, json!({"note": "a", "seconds": 2}));
    wait_until("slow_record runs", Duration::from_secs(10), || {
        common::count_lines(&log, "slow_record a") == 1
    })
    .await;
    common::signal(&peer, "STOP");
    let start = Instant::now();
    let waited = tokio::time::timeout(Duration::from_secs(15), async {
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    common::signal(&peer, "CONT");
    let result = task.await.unwrap();
    eprintln!("unsafe call ended after {:?}: {result:?}", start.elapsed());
    assert!(
        waited.is_ok(),
        "the call must fail while the server is stopped"
    );
    match result {
        Err(ToolError::Invalid(msg)) => {
            assert!(msg.contains("may or may not have run"), "{msg}");
            assert!(
                msg.contains("not annotated read-only or idempotent"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // a re-sent call would land by now
    assert_eq!(common::count_lines(&log, "slow_record a"), 1, "ran once");

    // Read-only: sent again on a fresh session, result returned.
    let mut status = conn.subscribe_status();
    let task = call(&slow_lookup, json!({"note": "b", "seconds": 1}));
    wait_until("slow_lookup runs", Duration::from_secs(10), || {
        common::count_lines(&log, "slow_lookup b") == 1
    })
    .await;
    common::signal(&peer, "STOP");
    let reconnecting = tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|s| matches!(s, ConnectorStatus::Connecting)),
    )
    .await
    .is_ok_and(|r| r.is_ok()); // (the guard `wait_for` returns must not be held)
    common::signal(&peer, "CONT");
    assert!(reconnecting, "the connector gives the session up");
    let out = task.await.unwrap().unwrap();
    assert_eq!(out.content, "found b");
    assert_eq!(
        common::count_lines(&log, "slow_lookup b"),
        2,
        "sent again once"
    );
}

/// The server restarts and answers HTTP 404 to the old session (the spec's answer): a
/// read-only call is sent again on a new session; a call with no annotations is not (the
/// server did not run it, and the model is told to call again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_resends_only_calls_safe_to_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let log_arg = log.to_str().unwrap().to_string();
    let port = common::free_port();
    let peer = common::effects_server_on(port, &["--log", &log_arg]);
    let conn = connector(port);
    let tools = conn.connect().await.unwrap();
    let record = find(&tools, "mcp__fx__record");
    let lookup = find(&tools, "mcp__fx__lookup");
    let ctx = ToolContext::detached("s");
    assert_eq!(
        record
            .call(json!({"note": "1"}), &ctx)
            .await
            .unwrap()
            .content,
        "recorded 1"
    );

    drop(peer);
    let peer = common::effects_server_on(port, &["--log", &log_arg]);
    match record.call(json!({"note": "2"}), &ctx).await {
        Err(ToolError::Invalid(msg)) => {
            assert!(msg.contains("HTTP 404"), "{msg}");
            assert!(
                msg.contains("not annotated read-only or idempotent"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(common::count_lines(&log, "record 2"), 0, "not sent again");
    // The next call opens a new session.
    assert_eq!(
        record
            .call(json!({"note": "3"}), &ctx)
            .await
            .unwrap()
            .content,
        "recorded 3"
    );
    assert_eq!(common::count_lines(&log, "record 3"), 1);

    drop(peer);
    let _peer = common::effects_server_on(port, &["--log", &log_arg]);
    let t = Instant::now();
    let out = lookup.call(json!({"note": "4"}), &ctx).await.unwrap();
    assert_eq!(out.content, "found 4");
    assert_eq!(common::count_lines(&log, "lookup 4"), 1);
    eprintln!("read-only call recovered in {:?}", t.elapsed());
}

/// server-everything answers 400 (not 404) to a session it does not know and rmcp's
/// transport then waits forever: the health ping notices. Its read-only `echo` is sent
/// again; `toggle-simulated-logging` (not read-only, not idempotent) is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_restart_resends_only_calls_safe_to_repeat() {
    let port = common::free_port();
    let peer = common::everything_http_on(port);
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("ev", format!("http://127.0.0.1:{port}/mcp"))
            .call_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    let tools = conn.connect().await.unwrap();
    let echo = find(&tools, "mcp__ev__echo");
    let toggle = find(&tools, "mcp__ev__toggle-simulated-logging");
    assert!(!toggle.annotations().safe_to_repeat());
    let ctx = ToolContext::detached("s");
    assert_eq!(
        echo.call(json!({"message": "1"}), &ctx)
            .await
            .unwrap()
            .content,
        "Echo: 1"
    );

    drop(peer);
    let peer = common::everything_http_on(port);
    match toggle.call(json!({}), &ctx).await {
        Err(ToolError::Invalid(msg)) => assert!(msg.contains("may or may not have run"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Next call: new session, at once.
    let t = Instant::now();
    assert_eq!(
        echo.call(json!({"message": "2"}), &ctx)
            .await
            .unwrap()
            .content,
        "Echo: 2"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    drop(peer);
    let _peer = common::everything_http_on(port);
    let out = echo.call(json!({"message": "3"}), &ctx).await.unwrap();
    assert_eq!(out.content, "Echo: 3");
}
