//! A local OpenAI-compatible Chat Completions server with the faults a provider really
//! shows, each from a real cause rather than at random:
//!
//! - **400** (`invalid_function_parameters`) when a tool's JSON schema has an `array`
//!   without `items`, in the provider's words;
//! - **429** (`rate_limit_exceeded`, with `retry-after`) past 10 requests in one minute of
//!   the caller's clock (the `x-lab-time` header, as the lab replays a day in seconds;
//!   without it, the server's own);
//! - **slow answers** for long prompts (over 2,500 bytes of messages: 1.5 s before the
//!   first byte), which a short client timeout turns into timeouts;
//! - **streams cut mid-response** for one request in ten (chosen by the SHA-256 of its body,
//!   so the same day cuts the same streams on every machine), on its first attempt only, as
//!   a connection reset after the first chunks.

use std::collections::{HashMap, HashSet};
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
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::wire::{chat_request, error};

/// Requests per minute of the caller's clock.
pub const RATE_LIMIT_PER_MINUTE: u64 = 10;
/// Prompts longer than this (bytes of message text) are answered slowly.
pub const SLOW_PROMPT_BYTES: usize = 2500;
/// How slowly.
pub const SLOW_ANSWER: Duration = Duration::from_millis(1500);

/// The server's state: requests so far, per minute, and the bodies whose stream was cut.
#[derive(Default)]
pub struct Faults {
    seq: AtomicU64,
    minutes: Mutex<HashMap<String, u64>>,
    cut: Mutex<HashSet<[u8; 32]>>,
}

/// The first `array` schema without `items` in a tool's parameters, named as the provider
/// names it (`In context=('properties', 'tags'), array schema missing items.`).
fn invalid_schema(schema: &Value, context: &mut Vec<String>) -> Option<String> {
    if schema["type"] == "array" && schema.get("items").is_none() {
        let path = context
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return Some(format!("In context=({path}), array schema missing items."));
    }
    let mut nested: Vec<(Vec<String>, &Value)> = Vec::new();
    for key in ["properties", "$defs", "definitions"] {
        for (name, sub) in schema[key].as_object().into_iter().flatten() {
            nested.push((vec![key.to_string(), name.clone()], sub));
        }
    }
    if schema["items"].is_object() {
        nested.push((vec!["items".to_string()], &schema["items"]));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for (i, sub) in schema[key].as_array().into_iter().flatten().enumerate() {
            nested.push((vec![key.to_string(), i.to_string()], sub));
        }
    }
    for (path, sub) in nested {
        let depth = context.len();
        context.extend(path);
        let found = invalid_schema(sub, context);
        context.truncate(depth);
        if found.is_some() {
            return found;
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

/// The minute a request counts in: the caller's (`x-lab-time`, RFC 3339) in UTC, else now.
fn minute_of(headers: &HeaderMap) -> String {
    let caller = headers
        .get("x-lab-time")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    caller
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
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
    let id = format!("req_lab_{n:05}");
    let body = match chat_request(&raw, &id) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let model = body["model"].as_str().unwrap_or_default().to_string();
    for (i, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if let Some(e) = invalid_schema(&tool["function"]["parameters"], &mut Vec::new()) {
            let name = tool["function"]["name"].as_str().unwrap_or("?");
            let message = format!("Invalid schema for function '{name}': {e}");
            let param = format!("tools[{i}].function.parameters");
            return error(
                StatusCode::BAD_REQUEST,
                &id,
                &message,
                "invalid_request_error",
                Some(&param),
                Some("invalid_function_parameters"),
            );
        }
    }
    let used = {
        let mut minutes = f.minutes.lock().await;
        let used = minutes.entry(minute_of(&headers)).or_default();
        *used += 1;
        *used
    };
    if used > RATE_LIMIT_PER_MINUTE {
        let message = format!(
            "Rate limit reached for {model} in organization org-lab on requests per min (RPM): Limit {RATE_LIMIT_PER_MINUTE}, Used {RATE_LIMIT_PER_MINUTE}, Requested 1. Please try again in 6s."
        );
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            &id,
            &message,
            "requests",
            None,
            Some("rate_limit_exceeded"),
        );
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
            [("x-request-id", id)],
            axum::Json(json!({"id": format!("chatcmpl-lab-{n:05}"), "object": "chat.completion",
                "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": usage})),
        )
            .into_response();
    }
    let key: [u8; 32] = Sha256::digest(&raw).into();
    let cut = key[0].is_multiple_of(10) && f.cut.lock().await.insert(key);
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
        if body["stream_options"]["include_usage"] == json!(true) {
            items.push(Ok(chunk(n, &model, json!([]), Some(usage))));
        }
        items.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    let stream = futures::StreamExt::then(futures::stream::iter(items), |item| async move {
        // The chunks before a cut reach the client first: the cut is mid-response.
        if item.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        item
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header("x-request-id", &id)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &id,
                "response",
                "server_error",
                None,
                None,
            )
        })
}

/// Serve on 127.0.0.1 (a free port); returns the base URL (`http://127.0.0.1:P/v1`).
pub async fn serve() -> Result<String, String> {
    crate::wire::serve(
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(Arc::new(Faults::default())),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_without_items_is_found_wherever_it_is_nested() {
        let ok = json!({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(invalid_schema(&ok, &mut Vec::new()), None);
        for (schema, context) in [
            (
                json!({"type": "object", "properties": {"tags": {"type": "array"}}}),
                "'properties', 'tags'",
            ),
            (
                json!({"type": "array", "items": {"type": "object", "properties": {"x": {"type": "array"}}}}),
                "'items', 'properties', 'x'",
            ),
            (
                json!({"anyOf": [{"type": "string"}, {"type": "array"}]}),
                "'anyOf', '1'",
            ),
            (json!({"$defs": {"T": {"type": "array"}}}), "'$defs', 'T'"),
        ] {
            assert_eq!(
                invalid_schema(&schema, &mut Vec::new()),
                Some(format!(
                    "In context=({context}), array schema missing items."
                )),
                "{schema}"
            );
        }
    }

    #[test]
    fn a_request_counts_in_the_callers_minute_in_utc() {
        let mut h = HeaderMap::new();
        h.insert("x-lab-time", "2026-11-15T07:00:59+05:00".parse().unwrap());
        assert_eq!(minute_of(&h), "2026-11-15T02:00");
        h.insert("x-lab-time", "garbage".parse().unwrap());
        let now = || chrono::Utc::now().format("%Y-%m-%dT%H:%M").to_string();
        let (before, got, after) = (now(), minute_of(&h), now());
        assert!(got == before || got == after, "{got}");
    }
}
