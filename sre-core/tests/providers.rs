//! Providers against an HTTP server on 127.0.0.1 speaking the real wire formats:
//! recorded-shape stream fixtures, fault injection, typed errors, cache breakpoints.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::model::collect_stream;
use sre_core::providers::HttpSettings;
use sre_core::providers::anthropic::{AnthropicConfig, AnthropicModel};
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{
    Agent, AgentLoop, ContentBlock, InMemorySessionStore, Message, Model, ModelError, ModelRequest,
    RetryModel, RetryPolicy, Role, Session, SessionRecord, SessionStore, StopReason, SystemBlock,
    ToolSpec, Usage, prefix_report,
};
use support::http_server::{Reply, TestServer, split_events};
use support::{EventLog, RecordingTool};

const ANTHROPIC_FIXTURE: &str = include_str!("fixtures/anthropic_tool_use.sse");
const OPENAI_FIXTURE: &str = include_str!("fixtures/openai_tool_calls.sse");

fn http(url: &str) -> HttpSettings {
    HttpSettings {
        read_timeout: Duration::from_millis(500),
        ..HttpSettings::new(url)
    }
}

fn anthropic(url: &str) -> Arc<AnthropicModel> {
    let mut c = AnthropicConfig::new("sk-ant-test", "claude-sonnet-4-5");
    c.http = http(url);
    Arc::new(AnthropicModel::new(c).unwrap())
}

fn openai(url: &str) -> Arc<OpenAiModel> {
    let mut c = OpenAiConfig::new(format!("{url}/v1"), "gpt-4.1");
    c.api_key = Some("sk-openai-test".into());
    c.prompt_cache_key = Some("checkout-api".into());
    c.http = http(&format!("{url}/v1"));
    Arc::new(OpenAiModel::new(c).unwrap())
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
            name: "grep".into(),
            description: "search".into(),
            input_schema: json!({"type": "object", "properties": {"pattern": {"type": "string"}}}),
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
        agent: "t".into(),
        session_id: "s".into(),
        temperature: None,
        call: Default::default(),
    }
}

fn anthropic_text_stream(text: &str) -> String {
    format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_1\",\"usage\":{{\"input_tokens\":50,\"output_tokens\":1}}}}}}\n\n\
         event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
         event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}\n\n\
         event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
         event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":12}}}}\n\n\
         event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
        json!(text)
    )
}

#[tokio::test]
async fn anthropic_stream_assembles_thinking_text_and_split_tool_arguments() {
    let server = TestServer::start(|_, _| Reply::sse(ANTHROPIC_FIXTURE)).await;
    let model = anthropic(&server.url());
    let response = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        response.content,
        vec![
            ContentBlock::Thinking {
                thinking: "The 503s began right after the v1.5.0 rollout; check the pool errors."
                    .into(),
                signature: Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds".into()),
            },
            ContentBlock::text("Let me count the pool timeouts."),
            ContentBlock::ToolUse {
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "grep".into(),
                input: json!({"pattern": "PoolTimeoutError", "path": "logs/checkout-api.log"}),
            },
        ]
    );
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 472,
            output_tokens: 89,
            cache_read_tokens: 2048,
            cache_write_tokens: 0
        }
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);

    let sent = &server.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = sent.json();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(
        body["tools"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        body["system"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(body["system"][0].get("cache_control").is_none());
    assert_eq!(
        body["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[tokio::test]
async fn anthropic_thinking_blocks_are_sent_back_unchanged() {
    let server = TestServer::start(|_, _| Reply::sse(&anthropic_text_stream("ok"))).await;
    let model = anthropic(&server.url());
    let mut req = request();
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Thinking {
                thinking: "hmm".into(),
                signature: Some("sig==".into()),
            },
            ContentBlock::ToolUse {
                id: "toolu_1".into(),
                name: "grep".into(),
                input: json!({"pattern": "x"}),
            },
        ],
    });
    req.messages.push(Message {
        role: Role::User,
        content: vec![ContentBlock::ToolResult {
            tool_use_id: "toolu_1".into(),
            content: "3 lines".into(),
            is_error: false,
        }],
    });
    model.complete(&req).await.err(); // non-stream parse of an SSE body fails; we only check what was sent
    let body = server.requests()[0].json();
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": "hmm", "signature": "sig=="})
    );
    assert_eq!(
        body["messages"][2]["content"][0]["type"],
        json!("tool_result")
    );
}

#[tokio::test]
async fn openai_stream_assembles_interleaved_tool_calls_and_cached_usage() {
    let server = TestServer::start(|_, _| Reply::sse(OPENAI_FIXTURE)).await;
    let model = openai(&server.url());
    let response = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        response.content,
        vec![
            ContentBlock::text("Checking both files."),
            ContentBlock::ToolUse {
                id: "call_q1w2e3".into(),
                name: "read_file".into(),
                input: json!({"path": "deploy/values.yaml"})
            },
            ContentBlock::ToolUse {
                id: "call_r4t5y6".into(),
                name: "read_file".into(),
                input: json!({"path": "deploy/CHANGELOG.md"})
            },
        ]
    );
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 176,
            output_tokens: 61,
            cache_read_tokens: 2944,
            cache_write_tokens: 0
        }
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-openai-test"));
    let body = sent.json();
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["prompt_cache_key"], json!("checkout-api"));
    assert_eq!(body["tools"][0]["type"], json!("function"));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "You are an SRE agent."})
    );
}

#[tokio::test]
async fn non_streamed_responses_parse_for_both_apis() {
    let a = json!({"id": "msg_9", "type": "message", "role": "assistant", "content": [
        {"type": "text", "text": "Root cause: pool."},
        {"type": "tool_use", "id": "toolu_9", "name": "grep", "input": {"pattern": "x"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 0}});
    let server =
        TestServer::start(move |_, _| Reply::json(200, &a).with_header("request-id", "req_abc"))
            .await;
    let r = anthropic(&server.url()).complete(&request()).await.unwrap();
    assert_eq!(r.usage.cache_write_tokens, 3000);
    assert_eq!(r.request_id.as_deref(), Some("req_abc"));
    assert_eq!(r.content.len(), 2);

    let o = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "All good."}}], "usage": {"prompt_tokens": 100, "completion_tokens": 4}});
    let server = TestServer::start(move |_, _| Reply::json(200, &o)).await;
    let r = openai(&server.url()).complete(&request()).await.unwrap();
    assert_eq!(r.content, vec![ContentBlock::text("All good.")]);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 100,
            output_tokens: 4,
            ..Usage::default()
        }
    );
    assert_eq!(r.stop_reason, StopReason::EndTurn);
}

/// A fault on the first attempt, a good stream on the second.
fn fault(name: &str) -> Reply {
    let err = |status: u16, kind: &str| {
        Reply::json(
            status,
            &json!({"type": "error", "error": {"type": kind, "message": "try later"}}),
        )
    };
    match name {
        "429" => err(429, "rate_limit_error").with_header("retry-after-ms", "5"),
        "408" => err(408, "timeout"),
        "409" => err(409, "conflict"),
        "500" => err(500, "api_error"),
        "503" => err(503, "api_error"),
        "529" => err(529, "overloaded_error"),
        "reset" => Reply::Close,
        "timeout" => Reply::Hang,
        "broken-stream" => {
            let partial = anthropic_text_stream("Partial answ");
            let mut chunks = split_events(&partial);
            chunks.truncate(3); // message_start, block start, first delta; then the connection drops
            Reply::Chunked {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                chunks,
                complete: false,
            }
        }
        "error-event" => Reply::sse(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n\
             event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
             event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Partial answ\"}}\n\n\
             event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        ),
        other => panic!("unknown fault {other}"),
    }
}

#[tokio::test]
async fn every_retryable_fault_is_retried_and_nothing_partial_reaches_the_transcript() {
    for name in [
        "429",
        "408",
        "409",
        "500",
        "503",
        "529",
        "reset",
        "timeout",
        "broken-stream",
        "error-event",
    ] {
        let server = TestServer::start(move |i, _| {
            if i == 0 {
                fault(name)
            } else {
                Reply::sse(&anthropic_text_stream("Root Cause: pool exhausted."))
            }
        })
        .await;
        let events = Arc::new(EventLog::default());
        let model = retrying(anthropic(&server.url()), events.clone());
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
async fn openai_faults_are_retried_too() {
    let good = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"done\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    for first in [
        Reply::json(
            429,
            &json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        )
        .with_header("retry-after", "0.01"),
        Reply::Chunked {
            status: 200,
            headers: vec![],
            chunks: vec![
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"do\"}}]}\n\n".to_vec(),
            ],
            complete: false,
        },
    ] {
        let first = std::sync::Mutex::new(Some(first));
        let server = TestServer::start(move |i, _| {
            if i == 0 {
                first.lock().unwrap().take().unwrap()
            } else {
                Reply::sse(good)
            }
        })
        .await;
        let model = retrying(openai(&server.url()), Arc::new(EventLog::default()));
        let agent = AgentLoop::builder(model).streaming(true).build().unwrap();
        assert_eq!(
            agent
                .run(&Session::new("o"), "hi")
                .await
                .unwrap()
                .answer
                .as_deref(),
            Some("done")
        );
        assert_eq!(server.requests().len(), 2);
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_name_status_message_and_request_id() {
    for status in [400u16, 401, 403, 404] {
        let server = TestServer::start(move |_, _| {
            Reply::json(status, &json!({"type": "error", "error": {"type": "invalid_request_error", "message": format!("bad thing {status}")}}))
                .with_header("request-id", "req_011CXYZ")
        })
        .await;
        let model = retrying(anthropic(&server.url()), Arc::new(EventLog::default()));
        let err = model.complete(&request()).await.unwrap_err();
        assert_eq!(
            err,
            ModelError::Status {
                status,
                message: format!("invalid_request_error: bad thing {status}"),
                request_id: Some("req_011CXYZ".into()),
                retry_after_ms: None
            }
        );
        assert!(
            err.to_string().contains(&format!("HTTP {status}"))
                && err.to_string().contains("req_011CXYZ")
        );
        assert_eq!(
            server.requests().len(),
            1,
            "HTTP {status} must not be retried"
        );

        let server = TestServer::start(move |_, _| {
            Reply::json(status, &json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}))
                .with_header("x-request-id", "req_oai_1")
        })
        .await;
        let err = retrying(openai(&server.url()), Arc::new(EventLog::default()))
            .complete(&request())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ModelError::Status { status: s, request_id: Some(r), .. } if *s == status && r == "req_oai_1"),
            "{err}"
        );
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn attempts_are_bounded() {
    let server =
        TestServer::start(|_, _| Reply::json(500, &json!({"error": {"message": "boom"}}))).await;
    let events = Arc::new(EventLog::default());
    let err = retrying(anthropic(&server.url()), events.clone())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelError::Status { status: 500, .. }));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(events.kinds().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let addr = {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let err = anthropic(&format!("http://{addr}"))
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ModelError::Transport { message } if message.contains("cannot connect")),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_requests_fail_locally_before_sending() {
    let server = TestServer::start(|_, _| Reply::json(200, &json!({}))).await;
    let model = anthropic(&server.url());
    let mut req = request();
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![ContentBlock::ToolUse {
            id: "t1".into(),
            name: "grep".into(),
            input: json!({}),
        }],
    });
    let err = model.complete(&req).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidRequest { message } if message.contains("`t1`")),
        "{err}"
    );
    let mut req = request();
    req.messages[0].content.push(ContentBlock::text(""));
    assert!(matches!(
        model.complete(&req).await,
        Err(ModelError::InvalidRequest { .. })
    ));
    let mut req = request();
    req.tools[0].input_schema = json!({"type": "string"});
    assert!(matches!(
        model.complete(&req).await,
        Err(ModelError::InvalidRequest { .. })
    ));
    assert!(
        server.requests().is_empty(),
        "nothing may reach the provider"
    );
}

#[tokio::test]
async fn twenty_turns_place_breakpoints_keep_the_prefix_and_sum_the_ledger_exactly() {
    // The server plays the model: 19 tool calls then an answer, with cache usage growing.
    let server = TestServer::start(|i, _| {
        let usage = json!({"input_tokens": 7 + i, "output_tokens": 20, "cache_read_input_tokens": 1500 * i, "cache_creation_input_tokens": 300});
        let content = if i < 19 {
            json!([{"type": "tool_use", "id": format!("toolu_{i:02}"), "name": "grep", "input": {"pattern": format!("p{i}")}}])
        } else {
            json!([{"type": "text", "text": "Root Cause: done."}])
        };
        Reply::json(200, &json!({"id": format!("msg_{i}"), "content": content, "stop_reason": if i < 19 {"tool_use"} else {"end_turn"}, "usage": usage}))
    })
    .await;
    let model = anthropic(&server.url());
    let agent = AgentLoop::builder(model)
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
    for (n, r) in sent.iter().enumerate() {
        let text = String::from_utf8_lossy(&r.body);
        let marks = text.matches("\"cache_control\"").count();
        assert!(marks <= 4, "turn {n}: {marks} breakpoints");
        let body = r.json();
        assert!(
            body["tools"][0]["cache_control"].is_object(),
            "turn {n}: after the tools"
        );
        assert!(
            body["system"][0]["cache_control"].is_object(),
            "turn {n}: after the system blocks"
        );
        let messages = body["messages"].as_array().unwrap();
        let last = messages.last().unwrap()["content"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert!(
            last["cache_control"].is_object(),
            "turn {n}: on the last message"
        );
        if n > 0 {
            assert_eq!(
                marks, 4,
                "turn {n}: the previous turn's last user message is marked too"
            );
        }
    }
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
    // The ledger equals the sum of what the server reported.
    let total = outcome.usage.total();
    assert_eq!(total.requests, 20);
    assert_eq!(
        total.usage.input_tokens,
        (0..20).map(|i| 7 + i).sum::<u64>()
    );
    assert_eq!(
        total.usage.cache_read_tokens,
        (0..20).map(|i| 1500 * i).sum::<u64>()
    );
    assert_eq!(total.usage.cache_write_tokens, 20 * 300);
    assert_eq!(total.usage.output_tokens, 20 * 20);
    let pricing = sre_core::providers::catalog::model_info("claude-sonnet-4-5").pricing;
    let expected_cost = total.usage.cost_usd(&pricing);
    assert!((total.cost_usd - expected_cost).abs() < 1e-9);
    // The first request (7 + 0 + 300 tokens) is below the 1024-token minimum: uncacheable.
    assert_eq!(total.cacheable_requests, 19);
}

#[test]
fn a_prefix_report_names_the_first_difference() {
    let a = json!({"model": "m", "system": [{"type": "text", "text": "A"}], "messages": [{"role": "user", "content": "x"}]});
    let b = json!({"model": "m", "system": [{"type": "text", "text": "B"}], "messages": [{"role": "user", "content": "x"}]});
    let r = prefix_report(a.to_string().as_bytes(), b.to_string().as_bytes());
    assert_eq!(r.first_difference.as_deref(), Some("system[0].text"));
    assert!(r.reuse_ratio() < 0.5);
    let grown = json!({"model": "m", "system": [{"type": "text", "text": "A"}], "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]});
    let r = prefix_report(a.to_string().as_bytes(), grown.to_string().as_bytes());
    assert_eq!(r.first_difference, None);
    let _: Value = a;
}

#[test]
fn reasoning_models_get_max_completion_tokens_and_the_developer_role() {
    let body = |model: &str, tweak: fn(&mut OpenAiConfig)| -> Value {
        let mut c = OpenAiConfig::new("http://127.0.0.1:9/v1", model);
        tweak(&mut c);
        let bytes = OpenAiModel::new(c)
            .unwrap()
            .request_body(&request(), false)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    for m in ["gpt-5", "gpt-5-mini", "gpt-5.1", "o4-mini", "o3", "o1"] {
        let b = body(m, |_| {});
        assert_eq!(b["max_completion_tokens"], json!(1024), "{m}");
        assert!(b.get("max_tokens").is_none(), "{m}: {b}");
        assert!(
            b.get("temperature").is_none(),
            "{m}: no sampling parameters"
        );
        assert_eq!(b["messages"][0]["role"], json!("developer"), "{m}");
    }
    for m in ["gpt-4.1", "gpt-4o", "qwen3-32b"] {
        let b = body(m, |_| {});
        assert_eq!(b["max_tokens"], json!(1024), "{m}");
        assert!(b.get("max_completion_tokens").is_none(), "{m}");
        assert_eq!(b["messages"][0]["role"], json!("system"), "{m}");
    }
    // The configuration overrides the catalogue, both ways.
    let b = body("gpt-4.1", |c| c.max_completion_tokens = true);
    assert_eq!(b["max_completion_tokens"], json!(1024));
    assert!(b.get("max_tokens").is_none());
    let b = body("gpt-5", |c| {
        c.max_completion_tokens = false;
        c.developer_role = false;
    });
    assert_eq!(b["max_tokens"], json!(1024));
    assert_eq!(b["messages"][0]["role"], json!("system"));
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_the_server_is_up() {
    // Reserve a port and close it again: the first attempt is refused.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The server comes up when the retry layer reports the refused attempt, i.e. during its
    // backoff, so the second attempt connects (no sleep decides the order).
    let server: Arc<std::sync::Mutex<Option<TestServer>>> = Arc::default();
    let slot = server.clone();
    let sink = Arc::new(move |e: sre_core::AgentEvent| {
        if let sre_core::EventKind::ModelRetry { error, .. } = &e.kind {
            assert!(error.contains("cannot connect"), "{error}");
            let mut s = slot.lock().unwrap();
            if s.is_none() {
                let listener = std::net::TcpListener::bind(addr).unwrap();
                *s = Some(TestServer::on(listener, |_, _| {
                    Reply::sse(&anthropic_text_stream("up again"))
                }));
            }
        }
    });
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        jitter: false,
        ..RetryPolicy::default()
    };
    let model = RetryModel::new(anthropic(&format!("http://{addr}")))
        .with_policy(policy)
        .with_events(sink);
    let response = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap();
    assert_eq!(response.content, vec![ContentBlock::text("up again")]);
    assert_eq!(server.lock().unwrap().as_ref().unwrap().requests().len(), 1);
}
