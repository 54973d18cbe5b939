//! A local OpenAI-compatible Chat Completions server with the faults a provider really
//! shows, each from a real cause rather than at random:
//!
//! - **400** when a tool's JSON schema is invalid (an `array` without `items`), in the
//!   provider's words;
//! - **429** with `retry-after` past 10 requests in one minute of the caller's clock (the
//!   `x-lab-time` header: the lab replays a day in seconds);
//! - **slow answers** for long prompts (over 2,500 bytes of messages: 1.5 s before the
//!   first byte), which a short client timeout turns into timeouts;
//! - **streams cut mid-response** for one request in ten (by a hash of its body), on its
//!   first attempt only, as a connection reset after the first chunk.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Requests per minute of the caller's clock.
pub const RATE_LIMIT_PER_MINUTE: u64 = 10;
/// Prompts longer than this (bytes of message text) are answered slowly.
pub const SLOW_PROMPT_BYTES: usize = 2500;
/// How slowly.
pub const SLOW_ANSWER: Duration = Duration::from_millis(1500);

#[derive(Default)]
pub struct Faults {
    seq: AtomicU64,
    /// Requests per minute of the caller's clock.
    minutes: Mutex<HashMap<String, u64>>,
    /// Bodies whose stream was cut once.
    cut: Mutex<HashSet<u64>>,
}

fn error(status: StatusCode, message: &str, kind: &str, n: u64) -> Response {
    (
        status,
        [("x-request-id", format!("req_lab_{n:05}"))],
        axum::Json(
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        ),
    )
        .into_response()
}

/// The first array schema without `items` in a tool's parameters, as the provider names it.
fn invalid_schema(schema: &Value, context: &mut Vec<String>) -> Option<String> {
    if schema["type"] == "array" && schema.get("items").is_none() {
        let path = context
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return Some(format!("In context=({path}), array schema missing items."));
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            context.extend(["properties".to_string(), name.clone()]);
            if let Some(e) = invalid_schema(sub, context) {
                return Some(e);
            }
            context.truncate(context.len() - 2);
        }
    }
    None
}

fn prompt_bytes(body: &Value) -> usize {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["content"].as_str().map_or(0, str::len))
        .sum()
}

fn chunk(n: u64, model: &str, choices: Value, usage: Option<Value>) -> Bytes {
    let mut c = json!({"id": format!("chatcmpl-lab-{n:05}"), "object": "chat.completion.chunk",
        "created": 0, "model": model, "choices": choices});
    if let Some(u) = usage {
        c["usage"] = u;
    }
    Bytes::from(format!("data: {c}\n\n"))
}

async fn completions(State(f): State<Arc<Faults>>, headers: HeaderMap, raw: Bytes) -> Response {
    let n = f.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            n,
        );
    };
    let model = body["model"].as_str().unwrap_or("unknown").to_string();
    for tool in body["tools"].as_array().into_iter().flatten() {
        if let Some(e) = invalid_schema(&tool["function"]["parameters"], &mut Vec::new()) {
            let name = tool["function"]["name"].as_str().unwrap_or("?");
            let message = format!("Invalid schema for function '{name}': {e}");
            return error(
                StatusCode::BAD_REQUEST,
                &message,
                "invalid_request_error",
                n,
            );
        }
    }
    let minute = headers
        .get("x-lab-time")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.chars().take(16).collect::<String>())
        .unwrap_or_default();
    let used = {
        let mut minutes = f.minutes.lock().await;
        let used = minutes.entry(minute).or_default();
        *used += 1;
        *used
    };
    if used > RATE_LIMIT_PER_MINUTE {
        let message = format!(
            "Rate limit reached for {model} in organization org-lab on requests per min (RPM): Limit {RATE_LIMIT_PER_MINUTE}, Used {RATE_LIMIT_PER_MINUTE}, Requested 1. Please try again in 6s."
        );
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, &message, "requests", n);
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("6"));
        return r;
    }
    if prompt_bytes(&body) > SLOW_PROMPT_BYTES {
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    let answer = "Summary: the customer reports the issue in the ticket; next step for the on-call engineer is to check the linked service.";
    let usage = json!({"prompt_tokens": prompt_bytes(&body) / 4, "completion_tokens": 24,
        "total_tokens": prompt_bytes(&body) / 4 + 24});
    if body["stream"] != json!(true) {
        return (
            [("x-request-id", format!("req_lab_{n:05}"))],
            axum::Json(json!({"id": format!("chatcmpl-lab-{n:05}"), "object": "chat.completion",
                "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": usage})),
        )
            .into_response();
    }
    let mut h = DefaultHasher::new();
    raw.hash(&mut h);
    let key = h.finish();
    let cut = key % 10 == 0 && f.cut.lock().await.insert(key);
    let (first, rest) = answer.split_at(answer.len() / 2);
    let mut items: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(chunk(
            n,
            &model,
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            None,
        )),
        Ok(chunk(
            n,
            &model,
            json!([{"index": 0, "delta": {"content": first}, "finish_reason": null}]),
            None,
        )),
    ];
    if cut {
        items.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "stream cut by the lab",
        )));
    } else {
        items.push(Ok(chunk(
            n,
            &model,
            json!([{"index": 0, "delta": {"content": rest}, "finish_reason": null}]),
            None,
        )));
        items.push(Ok(chunk(
            n,
            &model,
            json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            None,
        )));
        items.push(Ok(chunk(n, &model, json!([]), Some(usage))));
        items.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header("x-request-id", format!("req_lab_{n:05}"))
        .body(Body::from_stream(futures::StreamExt::then(
            futures::stream::iter(items),
            // The chunks before a cut reach the client first: the cut is mid-response.
            |item| async move {
                if item.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                item
            },
        )))
        .unwrap_or_else(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response",
                "server_error",
                n,
            )
        })
}

/// Serve on 127.0.0.1 (a free port); returns the base URL (`http://127.0.0.1:P/v1`).
pub async fn serve() -> Result<String, String> {
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(Arc::new(Faults::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}
