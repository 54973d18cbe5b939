//! Fault tests: crash mid-call, silence, garbage, 500 paginated tools, stale HTTP session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use sre_core::{ToolContext, ToolError};
use sre_mcp::{ConnectorConfig, ConnectorStatus, FailureKind, McpConnector, ToolFilter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tools_over_pagination() {
    let conn = McpConnector::new(common::python_stdio("many", "raw_server.py", &["many"])).unwrap();
    let tools = conn.connect().await.unwrap();
    assert_eq!(tools.len(), 500);
    let mut names: Vec<_> = tools.iter().map(|t| t.spec().name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 500);
    assert!(names.contains(&"mcp__many__tool_499".to_string()));
    let out = tools[7]
        .call(json!({"message": "x"}), &ToolContext::detached("a"))
        .await
        .unwrap();
    assert!(out.content.ends_with(": x"), "{}", out.content);
    assert_eq!(conn.manifest().tool_count, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_filters_apply() {
    let conn = McpConnector::new(
        common::python_stdio("many", "raw_server.py", &["many"]).tools(ToolFilter {
            allow: vec!["tool_0*".into()],
            deny: vec!["tool_00*".into()],
        }),
    )
    .unwrap();
    let tools = conn.connect().await.unwrap();
    assert_eq!(tools.len(), 90); // tool_010..tool_099
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_call_errors_then_restarts() {
    let conn = McpConnector::new(common::python_stdio("raw", "raw_server.py", &["crash"])).unwrap();
    let tools = conn.connect().await.unwrap();
    let crash = tools
        .iter()
        .find(|t| t.spec().name == "mcp__raw__crash")
        .unwrap();
    let echo = tools
        .iter()
        .find(|t| t.spec().name == "mcp__raw__echo")
        .unwrap();
    let ctx = ToolContext::detached("c");
    let started = Instant::now();
    let r = crash.call(json!({}), &ctx).await;
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    match r {
        Err(ToolError::Invalid(msg)) => {
            assert!(msg.contains("`raw`"), "{msg}");
            assert!(msg.contains("exited") || msg.contains("closed"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // The supervisor restarts it (with backoff); the next calls succeed.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match echo.call(json!({"message": "back"}), &ctx).await {
            Ok(out) => {
                assert_eq!(out.content, "echo: back");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for restart: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("not restarted: {e}"),
        }
    }
    assert!(conn.restarts() >= 1);
    assert!(matches!(conn.status(), ConnectorStatus::Connected { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_tool_times_out_without_hanging_others() {
    let conn = McpConnector::new(
        common::python_stdio("raw", "raw_server.py", &["hang"])
            .call_timeout(Duration::from_millis(700)),
    )
    .unwrap();
    let tools = conn.connect().await.unwrap();
    let hang = tools
        .iter()
        .find(|t| t.spec().name == "mcp__raw__hang")
        .unwrap();
    let echo = tools
        .iter()
        .find(|t| t.spec().name == "mcp__raw__echo")
        .unwrap();
    let ctx = ToolContext::detached("h");
    let (a, b) = tokio::join!(
        hang.call(json!({}), &ctx),
        echo.call(json!({"message": "ok"}), &ctx)
    );
    match a {
        Err(ToolError::Invalid(msg)) => assert!(
            msg.contains("timed out") && msg.contains("call_timeout_secs"),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.unwrap().content, "echo: ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_fails_startup_with_timeout() {
    let conn = McpConnector::new(
        common::python_stdio("silent", "silent_server.py", &[])
            .startup_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let started = Instant::now();
    let err = conn.connect().await.err().expect("connect must fail");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), Some(FailureKind::Timeout), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("`silent`") && msg.contains("startup_timeout_secs"),
        "{msg}"
    );
    assert!(matches!(
        conn.status(),
        ConnectorStatus::Failed {
            kind: FailureKind::Timeout,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_stdout_is_a_clear_error() {
    let conn = McpConnector::new(
        common::python_stdio("garbage", "garbage_server.py", &[])
            .startup_timeout(Duration::from_secs(3)),
    )
    .unwrap();
    let started = Instant::now();
    let err = conn.connect().await.err().expect("connect must fail");
    assert!(started.elapsed() < Duration::from_secs(8));
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("`garbage`"), "{msg}");
    assert!(
        matches!(
            err.kind(),
            Some(FailureKind::Protocol | FailureKind::Closed | FailureKind::Timeout)
        ),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_command_is_a_spawn_error() {
    let conn = McpConnector::new(ConnectorConfig::stdio(
        "nope",
        "/nonexistent/mcp-server",
        ["x"],
    ))
    .unwrap();
    let err = conn.connect().await.err().expect("connect must fail");
    assert_eq!(err.kind(), Some(FailureKind::Spawn), "{err}");
    assert!(err.to_string().contains("PATH"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_names_the_fix() {
    let port = common::free_port();
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("dd", format!("http://127.0.0.1:{port}/mcp"))
            .startup_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let err = conn.connect().await.err().expect("connect must fail");
    let msg = err.to_string();
    assert_eq!(err.kind(), Some(FailureKind::ConnectionRefused), "{msg}");
    assert!(
        msg.contains("`dd`") && msg.contains("host and port"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_path_is_not_found() {
    let peer = common::everything_http();
    let conn = McpConnector::new(ConnectorConfig::streamable_http(
        "ev",
        format!("http://127.0.0.1:{}/wrong-path", peer.port),
    ))
    .unwrap();
    let err = conn.connect().await.err().expect("connect must fail");
    let msg = err.to_string();
    assert_eq!(err.kind(), Some(FailureKind::NotFound), "{msg}");
    assert!(msg.contains("regional host"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_plain_http_port_is_a_tls_error() {
    let peer = common::everything_http();
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("ev", format!("https://127.0.0.1:{}/mcp", peer.port))
            .startup_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let err = conn.connect().await.err().expect("connect must fail");
    assert_eq!(err.kind(), Some(FailureKind::Tls), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_restart_reinitialises_the_session() {
    let port = common::free_port();
    let peer = common::everything_http_on(port);
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("ev", format!("http://127.0.0.1:{port}/mcp"))
            .call_timeout(Duration::from_secs(20)),
    )
    .unwrap();
    let tools = conn.connect().await.unwrap();
    let echo = tools
        .iter()
        .find(|t| t.spec().name == "mcp__ev__echo")
        .unwrap();
    let ctx = ToolContext::detached("s");
    assert_eq!(
        echo.call(json!({"message": "1"}), &ctx)
            .await
            .unwrap()
            .content,
        "Echo: 1"
    );
    drop(peer); // server forgets every session
    let _peer = common::everything_http_on(port);
    // The old Mcp-Session-Id is unknown to the new process: the connector re-initialises
    // and retries once, so the very first call succeeds.
    let t = Instant::now();
    let out = echo.call(json!({"message": "2"}), &ctx).await.unwrap();
    assert_eq!(out.content, "Echo: 2");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "recovered in {:?}",
        t.elapsed()
    );
    assert_eq!(
        echo.call(json!({"message": "3"}), &ctx)
            .await
            .unwrap()
            .content,
        "Echo: 3"
    );
}
