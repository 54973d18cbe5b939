//! Against the real `@modelcontextprotocol/server-everything` (stdio and Streamable HTTP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sre_core::{Tool, ToolContext, ToolError};
use sre_mcp::{ConnectorConfig, ConnectorStatus, McpConnector};

fn find<'a>(tools: &'a [Arc<dyn Tool>], name: &str) -> &'a Arc<dyn Tool> {
    tools
        .iter()
        .find(|t| t.spec().name == name)
        .unwrap_or_else(|| {
            panic!(
                "no tool {name}; have {:?}",
                tools
                    .iter()
                    .map(|t| t.spec().name.clone())
                    .collect::<Vec<_>>()
            )
        })
}

async fn exercise(config: ConnectorConfig) {
    let conn = McpConnector::new(config).unwrap();
    let tools = conn.connect().await.unwrap();
    assert!(tools.len() >= 10, "{} tools", tools.len());
    match conn.status() {
        ConnectorStatus::Connected {
            tools: n,
            protocol_version,
        } => {
            assert_eq!(n, tools.len());
            assert_eq!(protocol_version, "2025-11-25");
        }
        other => panic!("status {other:?}"),
    }
    let ctx = ToolContext::detached("t1");

    // echo
    let echo = find(&tools, "mcp__ev__echo");
    assert_eq!(echo.spec().input_schema["type"], "object");
    assert!(echo.annotations().read_only, "echo is readOnlyHint");
    let out = echo.call(json!({"message": "hi"}), &ctx).await.unwrap();
    assert_eq!(out.content, "Echo: hi");
    assert!(!out.is_error);

    // get-sum
    let sum = find(&tools, "mcp__ev__get-sum");
    let out = sum.call(json!({"a": 2, "b": 3}), &ctx).await.unwrap();
    assert!(out.content.contains('5'), "{}", out.content);

    // structured content
    let sc = find(&tools, "mcp__ev__get-structured-content");
    let out = sc.call(json!({"location": "Chicago"}), &ctx).await.unwrap();
    assert!(out.content.contains("temperature"), "{}", out.content);

    // image placeholder
    let img = find(&tools, "mcp__ev__get-tiny-image");
    let out = img.call(json!({}), &ctx).await.unwrap();
    assert!(
        out.content.contains("[image: image/png, "),
        "{}",
        out.content
    );
    assert!(
        !out.content.contains("iVBOR"),
        "base64 must not reach the model"
    );

    // resource links
    let links = find(&tools, "mcp__ev__get-resource-links");
    let out = links.call(json!({"count": 2}), &ctx).await.unwrap();
    assert!(out.content.contains("[resource link: "), "{}", out.content);

    // long-running with progress
    let before = conn.progress_notifications();
    let lr = find(&tools, "mcp__ev__trigger-long-running-operation");
    let out = lr
        .call(json!({"duration": 1, "steps": 3}), &ctx)
        .await
        .unwrap();
    assert!(out.content.contains("completed"), "{}", out.content);
    // Notifications are handled on their own task; give the last ones a moment.
    let waited = std::time::Instant::now();
    while conn.progress_notifications() < before + 3 && waited.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        conn.progress_notifications() >= before + 3,
        "progress notifications seen: {}",
        conn.progress_notifications() - before
    );

    // errors: invalid arguments => model-visible
    let err = echo.call(json!({"message": 42}), &ctx).await;
    match err {
        Ok(out) => assert!(out.is_error, "{out:?}"),
        Err(ToolError::Invalid(msg)) => assert!(msg.contains("ev"), "{msg}"),
        Err(e) => panic!("{e:?}"),
    }
    // non-object arguments
    assert!(matches!(
        echo.call(json!([1]), &ctx).await,
        Err(ToolError::Invalid(_))
    ));

    // cancellation
    let cctx = ToolContext::detached("t2");
    let cancel = cctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    let r = lr.call(json!({"duration": 10, "steps": 10}), &cctx).await;
    assert!(matches!(r, Err(ToolError::Cancelled)), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // still usable after a cancelled call
    let out = echo.call(json!({"message": "again"}), &ctx).await.unwrap();
    assert_eq!(out.content, "Echo: again");

    let manifest = conn.manifest();
    assert_eq!(manifest.tool_count, tools.len());
    conn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_stdio() {
    exercise(common::everything_stdio("ev")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_streamable_http() {
    let peer = common::everything_http();
    let url = format!("http://127.0.0.1:{}/mcp?toolsets=core,apm", peer.port);
    exercise(ConnectorConfig::streamable_http("ev", url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_is_a_model_visible_error() {
    let conn =
        McpConnector::new(common::everything_stdio("ev").call_timeout(Duration::from_millis(500)))
            .unwrap();
    let tools = conn.connect().await.unwrap();
    let lr = find(&tools, "mcp__ev__trigger-long-running-operation");
    let started = std::time::Instant::now();
    let r = lr
        .call(
            json!({"duration": 5, "steps": 5}),
            &ToolContext::detached("x"),
        )
        .await;
    match r {
        Err(ToolError::Invalid(msg)) => {
            assert!(
                msg.contains("timed out") || msg.contains("no result within"),
                "{msg}"
            );
            assert!(msg.contains("`ev`"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// `protocol: auto` probes the stateless 2026-07-28 `server/discover` and falls back to the
/// 2025-11-25 `initialize` handshake; either way tools work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_protocol_mode_over_http() {
    let peer = common::everything_http();
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("ev", format!("http://127.0.0.1:{}/mcp", peer.port))
            .protocol(sre_mcp::ProtocolMode::Auto)
            .startup_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    conn.connect().await.unwrap();
    let version = conn.manifest().protocol_version.unwrap();
    eprintln!("server-everything negotiated {version} in auto mode");
    assert!(
        ["2026-07-28", "2025-11-25"].contains(&version.as_str()),
        "{version}"
    );
    assert_eq!(
        conn.call("echo", json!({"message": "a"}))
            .await
            .unwrap()
            .content,
        "Echo: a"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_protocol_mode_against_python_sdk() {
    let peer = common::auth_server("X-Key", "v");
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("py", format!("http://127.0.0.1:{}/mcp", peer.port))
            .header("X-Key", "v")
            .protocol(sre_mcp::ProtocolMode::Auto)
            .startup_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    conn.connect().await.unwrap();
    let version = conn.manifest().protocol_version.unwrap();
    eprintln!("PyPI mcp server negotiated {version} in auto mode");
    // PyPI `mcp` 2.3.0 speaks the stateless revision.
    assert_eq!(version, "2026-07-28");
    let out = conn.call("add", json!({"a": 1, "b": 2})).await.unwrap();
    assert!(out.content.contains('3'), "{}", out.content);
}
