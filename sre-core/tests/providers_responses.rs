//! The OpenAI Responses provider against an HTTP server on 127.0.0.1 speaking the real
//! wire format: a recorded-shape stream fixture, reasoning round trips, fault injection
//! through the loop, typed errors, and prefix stability over 20 turns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::model::collect_stream;
use sre_core::providers::HttpSettings;
use sre_core::providers::responses::{ResponsesConfig, ResponsesModel};
use sre_core::{
    Agent, AgentLoop, ContentBlock, InMemorySessionStore, Message, Model, ModelError, ModelRequest,
    RetryModel, RetryPolicy, Role, Session, SessionRecord, SessionStore, StopReason, SystemBlock,
    ToolSpec, Usage, prefix_report,
};
use support::http_server::{Reply, TestServer, split_events};
use support::{EventLog, RecordingTool};

const FIXTURE: &str = include_str!("fixtures/openai_responses.sse");
const ENCRYPTED: &str = "gAAAAABosfDDx7Rk2Vq9Lm4tP0zHcJ3uWnYb8eKsAq1fGd5iTjX6oNvRyE2lUwZpQ7hM";

fn model_at(url: &str, name: &str) -> Arc<ResponsesModel> {
    let base = format!("{url}/v1");
    let mut c = ResponsesConfig::new(&base, name);
    c.api_key = Some("sk-openai-test".into());
    c.prompt_cache_key = Some("checkout-api".into());
    c.http = HttpSettings {
        read_timeout: Duration::from_millis(500),
        ..HttpSettings::new(&base)
    };
    Arc::new(ResponsesModel::new(c).unwrap())
}

fn retrying(model: Arc<dyn Model>, events: Arc<EventLog>) -> Arc<dyn Model> {
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        jitter: false,
        ..RetryPolicy::default()
    };
    Arc::new(
        RetryModel::new(model)
            .with_policy(policy)
            .with_events(events),
    )
}

fn request() -> ModelRequest {
    ModelRequest {
        tools: vec![ToolSpec {
            name: "read_file".into(),
            description: "read a file".into(),
            input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        }],
        system: vec![
            SystemBlock {
                name: "system".into(),
                text: "You are an SRE agent.".into(),
            },
            SystemBlock {
                name: "topology".into(),
                text: "eastus2/aks-prod/checkout-api".into(),
            },
        ],
        messages: vec![Message::user("INCIDENT-4711: 503s")],
        max_output_tokens: 1024,
        ..ModelRequest::default()
    }
}

/// A streamed text answer in the Responses format.
fn text_stream(text: &str) -> String {
    let ev = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
    [
        ev(
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_t", "status": "in_progress", "output": []}}),
        ),
        ev(
            "response.output_item.added",
            json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": {"id": "msg_t", "type": "message", "role": "assistant", "content": []}}),
        ),
        ev(
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_t", "output_index": 0, "content_index": 0, "delta": text}),
        ),
        ev(
            "response.completed",
            json!({"type": "response.completed", "sequence_number": 3, "response": {"id": "resp_t", "status": "completed", "output": [],
                "usage": {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 12}}}),
        ),
    ]
    .concat()
}

#[tokio::test]
async fn stream_assembles_reasoning_text_and_interleaved_function_calls() {
    let server =
        TestServer::start(|_, _| Reply::sse(FIXTURE).with_header("x-request-id", "req_7f3a")).await;
    let model = model_at(&server.url(), "gpt-5");
    let response = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        response.content,
        vec![
            ContentBlock::Thinking {
                thinking: "**Comparing the two deploys**\n\nThe 503s began after v1.5.0; read its values and changelog.".into(),
                signature: Some(ENCRYPTED.into()),
            },
            ContentBlock::text("Checking both files."),
            ContentBlock::ToolUse {
                id: "call_Q1w2E3r4T5y6".into(),
                name: "read_file".into(),
                input: json!({"path": "deploy/values.yaml"}),
            },
            ContentBlock::ToolUse {
                id: "call_U7i8O9p0A1s2".into(),
                name: "read_file".into(),
                input: json!({"path": "deploy/CHANGELOG.md"}),
            },
        ]
    );
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 176,
            output_tokens: 161,
            cache_read_tokens: 2944,
            cache_write_tokens: 0
        }
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(response.request_id.as_deref(), Some("req_7f3a"));

    let sent = &server.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/responses")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk-openai-test"));
    let body = sent.json();
    assert_eq!(
        body,
        json!({
            "model": "gpt-5",
            "tools": [{"type": "function", "name": "read_file", "description": "read a file",
                       "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}, "strict": false}],
            "instructions": "You are an SRE agent.\n\neastus2/aks-prod/checkout-api",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "INCIDENT-4711: 503s"}]}],
            "max_output_tokens": 1024,
            "store": false,
            "prompt_cache_key": "checkout-api",
            "include": ["reasoning.encrypted_content"],
            "stream": true
        })
    );
}

#[tokio::test]
async fn reasoning_calls_and_results_go_back_as_input_items_in_order() {
    let server = TestServer::start(|_, _| Reply::sse(&text_stream("ok"))).await;
    let mut req = request();
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Thinking {
                thinking: "Pool errors first.".into(),
                signature: Some(ENCRYPTED.into()),
            },
            ContentBlock::text("Looking."),
            ContentBlock::ToolUse {
                id: "call_1".into(),
                name: "read_file".into(),
                input: json!({"path": "a.log"}),
            },
        ],
    });
    req.messages.push(Message {
        role: Role::User,
        content: vec![
            ContentBlock::ToolResult {
                tool_use_id: "call_1".into(),
                content: "no such file".into(),
                is_error: true,
            },
            ContentBlock::text("Also check b.log."),
        ],
    });
    collect_stream(
        model_at(&server.url(), "gpt-5").stream(&req).await.unwrap(),
        |_| {},
    )
    .await
    .unwrap();
    let input = server.requests()[0].json()["input"].clone();
    assert_eq!(
        input,
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "INCIDENT-4711: 503s"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Pool errors first."}], "encrypted_content": ENCRYPTED},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
            {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"a.log\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "[error] no such file"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Also check b.log."}]}
        ])
    );
    // A model that is not a reasoning model gets no include and no reasoning items.
    let other = model_at(&server.url(), "gpt-4.1");
    let body: Value = serde_json::from_slice(&other.request_body(&req, false).unwrap()).unwrap();
    assert!(body.get("include").is_none());
    assert!(!body.to_string().contains("\"reasoning\""), "{body}");
}

#[tokio::test]
async fn non_streamed_responses_parse_and_incomplete_is_max_tokens() {
    let complete = json!({"id": "resp_9", "object": "response", "status": "completed", "error": null, "incomplete_details": null,
        "output": [
            {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "enc9"},
            {"type": "message", "id": "msg_9", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Root cause: pool.", "annotations": []}]},
            {"type": "function_call", "id": "fc_9", "call_id": "call_9", "name": "read_file", "arguments": "{\"path\":\"x\"}", "status": "completed"}],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 19,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 119}});
    let server = TestServer::start(move |_, _| {
        Reply::json(200, &complete).with_header("x-request-id", "req_abc")
    })
    .await;
    let r = model_at(&server.url(), "gpt-5")
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(
        r.content,
        vec![
            ContentBlock::Thinking {
                thinking: String::new(),
                signature: Some("enc9".into())
            },
            ContentBlock::text("Root cause: pool."),
            ContentBlock::ToolUse {
                id: "call_9".into(),
                name: "read_file".into(),
                input: json!({"path": "x"})
            },
        ]
    );
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 40,
            output_tokens: 19,
            cache_read_tokens: 60,
            cache_write_tokens: 0
        }
    );
    assert_eq!(r.request_id.as_deref(), Some("req_abc"));
    assert_eq!(server.requests()[0].json().get("stream"), None);

    // Cut at the output cap: HTTP 200, status incomplete.
    let incomplete = json!({"id": "resp_i", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "The root cau"}]}],
        "usage": {"input_tokens": 10, "output_tokens": 1024}});
    let stream = format!(
        "event: response.output_text.delta\ndata: {}\n\nevent: response.incomplete\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "output_index": 0, "delta": "The root cau"}),
        json!({"type": "response.incomplete", "response": incomplete})
    );
    let server = TestServer::start(move |_, r| {
        if r.json()["stream"] == json!(true) {
            Reply::sse(&stream)
        } else {
            Reply::json(200, &incomplete)
        }
    })
    .await;
    let model = model_at(&server.url(), "gpt-5");
    let r = model.complete(&request()).await.unwrap();
    assert_eq!(r.stop_reason, StopReason::MaxTokens);
    assert_eq!(r.content, vec![ContentBlock::text("The root cau")]);
    let r = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap();
    assert_eq!(r.stop_reason, StopReason::MaxTokens);
    assert_eq!(r.usage.output_tokens, 1024);
}

#[tokio::test]
async fn a_failed_response_is_a_typed_error() {
    let failed = json!({"id": "resp_f", "status": "failed", "error": {"code": "server_error", "message": "The model failed."}, "output": []});
    let server = TestServer::start(move |_, _| Reply::json(200, &failed)).await;
    let err = model_at(&server.url(), "gpt-5")
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ModelError::Status {
            status: 500,
            message: "server_error: The model failed.".into(),
            request_id: None,
            retry_after_ms: None
        }
    );
}

/// A fault on the first attempt, a good stream on the second.
fn fault(name: &str) -> Reply {
    let err = |status: u16, kind: &str| {
        Reply::json(
            status,
            &json!({"error": {"message": "try later", "type": kind, "param": null, "code": null}}),
        )
    };
    match name {
        "429" => err(429, "requests").with_header("retry-after", "0.005"),
        "500" => err(500, "server_error"),
        "503" => err(503, "server_error"),
        "cut-stream" => {
            let mut chunks = split_events(FIXTURE);
            chunks.truncate(12); // reasoning done, text under way; then the connection drops
            Reply::Chunked {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                chunks,
                complete: false,
            }
        }
        "error-event" => {
            let mut chunks = split_events(FIXTURE);
            chunks.truncate(12);
            chunks.push(
                b"event: error\ndata: {\"type\":\"error\",\"sequence_number\":12,\"code\":\"server_error\",\"message\":\"The server had an error\",\"param\":null}\n\n"
                    .to_vec(),
            );
            Reply::Chunked {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                chunks,
                complete: true,
            }
        }
        "failed-event" => Reply::sse(&format!(
            "event: response.failed\ndata: {}\n\n",
            json!({"type": "response.failed", "response": {"id": "resp_x", "status": "failed",
                "error": {"code": "rate_limit_exceeded", "message": "slow down"}, "output": []}})
        )),
        other => panic!("unknown fault {other}"),
    }
}

#[tokio::test]
async fn every_retryable_fault_is_retried_and_nothing_partial_reaches_the_transcript() {
    for name in [
        "429",
        "500",
        "503",
        "cut-stream",
        "error-event",
        "failed-event",
    ] {
        let server = TestServer::start(move |i, _| {
            if i == 0 {
                fault(name)
            } else {
                Reply::sse(&text_stream("Root Cause: pool exhausted."))
            }
        })
        .await;
        let events = Arc::new(EventLog::default());
        let model = retrying(model_at(&server.url(), "gpt-5"), events.clone());
        let store = Arc::new(InMemorySessionStore::new());
        let agent = AgentLoop::builder(model)
            .streaming(true)
            .session_store(store.clone())
            .build()
            .unwrap();
        let outcome = agent
            .run(&Session::new("s"), "why?")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            outcome.answer.as_deref(),
            Some("Root Cause: pool exhausted."),
            "{name}"
        );
        assert_eq!(server.requests().len(), 2, "{name}: attempts");
        assert_eq!(
            events.kinds(),
            vec!["model_retry"],
            "{name}: one retry event"
        );
        let records = store.load("s").await.unwrap().records;
        let assistant: Vec<&Message> = records
            .iter()
            .filter_map(|r| match r {
                SessionRecord::Message { message, .. } if message.role == Role::Assistant => {
                    Some(message)
                }
                _ => None,
            })
            .collect();
        assert_eq!(assistant.len(), 1, "{name}: exactly one assistant message");
        assert_eq!(
            assistant[0].content,
            vec![ContentBlock::text("Root Cause: pool exhausted.")],
            "{name}: no partial content"
        );
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_name_status_message_and_request_id() {
    for status in [400u16, 401, 403, 404] {
        let server = TestServer::start(move |_, _| {
            Reply::json(
                status,
                &json!({"error": {"message": format!("bad thing {status}"),
                "type": "invalid_request_error", "param": null, "code": null}}),
            )
            .with_header("x-request-id", "req_oai_1")
        })
        .await;
        let err = retrying(
            model_at(&server.url(), "gpt-5"),
            Arc::new(EventLog::default()),
        )
        .complete(&request())
        .await
        .unwrap_err();
        assert_eq!(
            err,
            ModelError::Status {
                status,
                message: format!("invalid_request_error: bad thing {status}"),
                request_id: Some("req_oai_1".into()),
                retry_after_ms: None
            }
        );
        assert_eq!(
            server.requests().len(),
            1,
            "HTTP {status} must not be retried"
        );
    }
}

#[tokio::test]
async fn twenty_turns_keep_the_prefix_and_sum_the_ledger_exactly() {
    // The server plays the model: reasoning and a call for 19 turns, then an answer.
    let server = TestServer::start(|i, _| {
        // Each turn reads from the cache what the previous turn sent.
        let cached = if i == 0 { 0 } else { 1800 + 100 * i };
        let usage = json!({"input_tokens": 2000 + 100 * i, "input_tokens_details": {"cached_tokens": cached}, "output_tokens": 20});
        let output = if i < 19 {
            json!([
                {"type": "reasoning", "id": format!("rs_{i}"), "summary": [], "encrypted_content": format!("enc-{i}")},
                {"type": "function_call", "id": format!("fc_{i}"), "call_id": format!("call_{i:02}"), "name": "grep",
                 "arguments": json!({"pattern": format!("p{i}")}).to_string(), "status": "completed"}])
        } else {
            json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Root Cause: done."}]}])
        };
        Reply::json(200, &json!({"id": format!("resp_{i}"), "status": "completed", "output": output, "usage": usage}))
    })
    .await;
    let agent = AgentLoop::builder(model_at(&server.url(), "gpt-5"))
        .system_prompt("You are an SRE agent.")
        .tool(RecordingTool::echo("grep"))
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("cache"), "INCIDENT-4711")
        .await
        .unwrap();
    assert_eq!(outcome.answer.as_deref(), Some("Root Cause: done."));
    let sent = server.requests();
    assert_eq!(sent.len(), 20);
    for (n, pair) in sent.windows(2).enumerate() {
        let report = prefix_report(&pair[0].body, &pair[1].body);
        assert_eq!(
            report.first_difference,
            None,
            "turn {} -> {}: {report:?}",
            n + 1,
            n + 2
        );
        assert!(report.reuse_ratio() > 0.99, "turn {}: {report:?}", n + 1);
    }
    // Every turn's reasoning goes back, in place, before its call.
    let last = sent[19].json();
    let input = last["input"].as_array().unwrap();
    assert_eq!(input.len(), 1 + 19 * 3);
    assert_eq!(input[1]["encrypted_content"], json!("enc-0"));
    assert_eq!(input[2]["call_id"], json!("call_00"));
    // The ledger equals the sum of what the server reported.
    let total = outcome.usage.total();
    assert_eq!(total.requests, 20);
    assert_eq!(
        total.usage.cache_read_tokens,
        (1..20).map(|i| 1800 + 100 * i).sum::<u64>()
    );
    assert_eq!(total.usage.input_tokens, 2000 + 19 * 200, "uncached input");
    assert_eq!(total.usage.output_tokens, 20 * 20);
}
