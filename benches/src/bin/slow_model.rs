//! A scripted OpenAI-compatible model server that answers after a fixed delay, for the
//! concurrency bench (`run_concurrency_bench.sh`): every conversation makes `--calls`
//! model calls, the first `--calls - 1` asking for one tool call (`--tool`, `--args`), the
//! last answering `done`. Non-streaming and streaming (`"stream": true`, SSE) chat
//! completions, as both the sre-harness provider and the Python `openai` client send them.
//!
//! ```text
//! slow_model --delay-ms 500 --calls 10 --tool lookup --args '{"step": 1}' --port-file /tmp/port
//! curl http://127.0.0.1:$(cat /tmp/port)/stats   # {"requests": N, "max_in_flight": M}
//! ```
//!
//! The turn is the number of `tool` messages in the request, so one server serves any
//! number of conversations at once without state per conversation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use benches::flag;
use serde_json::{Value, json};

struct Script {
    delay: Duration,
    calls: usize,
    tool: String,
    args: String,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let script = Arc::new(Script {
        delay: Duration::from_millis(flag(&args, "--delay-ms", "500").parse()?),
        calls: flag(&args, "--calls", "10").parse::<usize>()?.max(1),
        tool: flag(&args, "--tool", "lookup"),
        args: flag(&args, "--args", "{\"step\": 1}"),
        requests: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    serde_json::from_str::<Value>(&script.args).map_err(|e| format!("--args: {e}"))?;
    let port_file = flag(&args, "--port-file", "");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        if port_file.is_empty() {
            println!("{port}");
        } else {
            std::fs::write(&port_file, port.to_string())?;
        }
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/stats", get(stats))
            .with_state(script);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn stats(State(s): State<Arc<Script>>) -> Json<Value> {
    Json(json!({
        "requests": s.requests.load(Ordering::Relaxed),
        "max_in_flight": s.max_in_flight.load(Ordering::Relaxed),
    }))
}

/// Counts a request in flight while it lives.
struct InFlight(Arc<Script>);

impl InFlight {
    fn new(s: Arc<Script>) -> Self {
        let now = s.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        s.max_in_flight.fetch_max(now, Ordering::Relaxed);
        s.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(s)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn chat(State(s): State<Arc<Script>>, body: Bytes) -> Response {
    let _counted = InFlight::new(s.clone());
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "the body is not JSON"}})),
        )
            .into_response();
    };
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let done = messages.iter().filter(|m| m["role"] == "tool").count();
    let model = request["model"]
        .as_str()
        .unwrap_or("slow-model")
        .to_string();
    tokio::time::sleep(s.delay).await;
    let call = (done + 1 < s.calls).then(|| {
        json!([{"id": format!("call_{done}"), "type": "function",
                "function": {"name": s.tool, "arguments": s.args}}])
    });
    let usage = json!({"prompt_tokens": 100 + 20 * done, "completion_tokens": 10,
                       "total_tokens": 110 + 20 * done});
    let id = format!("chatcmpl-{}", s.requests.load(Ordering::Relaxed));
    if request["stream"] == true {
        let delta = match &call {
            Some(calls) => {
                let mut c = calls.clone();
                c[0]["index"] = json!(0);
                json!({"role": "assistant", "content": null, "tool_calls": c})
            }
            None => json!({"role": "assistant", "content": "done"}),
        };
        let finish = if call.is_some() { "tool_calls" } else { "stop" };
        let chunk = |choices: Value, usage: Value| {
            json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": choices, "usage": usage})
        };
        let mut text = String::new();
        for c in [
            chunk(
                json!([{"index": 0, "delta": delta, "finish_reason": null}]),
                Value::Null,
            ),
            chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
                Value::Null,
            ),
            chunk(json!([]), usage),
        ] {
            text.push_str(&format!("data: {c}\n\n"));
        }
        text.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], text).into_response();
    }
    let (message, finish) = match call {
        Some(calls) => (
            json!({"role": "assistant", "content": null, "tool_calls": calls}),
            "tool_calls",
        ),
        None => (json!({"role": "assistant", "content": "done"}), "stop"),
    };
    Json(json!({
        "id": id, "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }))
    .into_response()
}
