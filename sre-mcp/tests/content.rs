//! A result that carries the same text as `content` and inside `structuredContent` reaches
//! the model once (real server: `tests/fixtures/effects_server.py`, which answers a file
//! read in the shape of the filesystem server's `read_text_file`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};
use sre_mcp::{ConnectorConfig, McpConnector, SAME_AS_TEXT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_repeated_as_structured_content_reaches_the_model_once() {
    let peer = common::effects_server_on(common::free_port(), &[]);
    let conn = McpConnector::new(ConnectorConfig::streamable_http(
        "fx",
        format!("http://127.0.0.1:{}/mcp", peer.port),
    ))
    .unwrap();
    conn.connect().await.unwrap();
    let size = 29_000;

    // The server really sends the text twice.
    let raw = conn
        .call_raw("read_text", json!({"size": size}), &Default::default())
        .await
        .unwrap();
    let text = raw["content"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(text.len(), size);
    assert_eq!(raw["structuredContent"], json!({"content": text}));

    // The model reads it once.
    let out = conn.call("read_text", json!({"size": size})).await.unwrap();
    assert_eq!(out.content, text, "{} bytes", out.content.len());

    // Other structured facts stay; the repeated text is replaced by a marker.
    let out = conn.call("stat_text", json!({"size": size})).await.unwrap();
    let (head, structured) = out.content.split_once("\nstructured content:\n").unwrap();
    assert_eq!(head, text);
    let structured: Value = serde_json::from_str(structured).unwrap();
    assert_eq!(structured, json!({"content": SAME_AS_TEXT, "size": size}));
    assert!(
        out.content.len() < size + 200,
        "{} bytes",
        out.content.len()
    );
}

/// server-everything's `get-structured-content` sends the JSON both as text and as
/// `structuredContent`: shown once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_text_equal_to_structured_content_is_shown_once() {
    let conn = McpConnector::new(common::everything_stdio("ev")).unwrap();
    conn.connect().await.unwrap();
    let raw = conn
        .call_raw(
            "get-structured-content",
            json!({"location": "Chicago"}),
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(raw["structuredContent"].is_object(), "{raw}");
    let out = conn
        .call("get-structured-content", json!({"location": "Chicago"}))
        .await
        .unwrap();
    assert_eq!(
        out.content.matches("temperature").count(),
        1,
        "{}",
        out.content
    );
}
