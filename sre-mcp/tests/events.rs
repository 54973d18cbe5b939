//! No call goes out before the session's background event stream (GET SSE) is open: a
//! server on the official TypeScript SDK sends requests it makes during a call
//! (elicitation) on that stream and drops them when it is not open yet. This made the
//! conformance suite's elicitation scenario fail about 1 run in 15 under CPU load; the
//! fixture holds every GET for 800 ms so that calling too early fails every time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sre_mcp::{ConnectorConfig, ElicitationPolicy, McpConnector, process_env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_call_waits_for_the_event_stream() {
    let peer = common::elicit_server(800);
    let conn = McpConnector::with_options(
        ConnectorConfig::streamable_http("el", format!("http://127.0.0.1:{}/mcp", peer.port))
            .call_timeout(Duration::from_secs(10)),
        Arc::new(process_env),
        ElicitationPolicy::AcceptDefaults,
    )
    .unwrap();
    conn.connect().await.unwrap();
    let out = conn.call("ask", json!({})).await.unwrap();
    assert_eq!(out.content, r#"accept: {"name":"Ada","pages":3}"#);
}
