//! OpenTelemetry over OTLP/HTTP to a real receiver: `sre run` with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set exports GenAI spans and metrics; the receiver decodes
//! them with the official protobuf definitions (`opentelemetry-proto`). The span tree of a
//! run with a subagent and a refused call, its attributes, usage equal to the run's own
//! events, no content or secret by default, content on opt-in, and the trace of a webhook
//! continued by the investigation it opens in `sre serve`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod server;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

#[derive(Default)]
struct Received {
    spans: Vec<(Span, HashMap<String, String>)>,
    metrics: Vec<String>,
    service: Option<String>,
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(Any::ArrayValue(a)) => a
            .values
            .iter()
            .map(|v| text(&Some(v.clone())))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

/// An OTLP/HTTP receiver on 127.0.0.1: what it decoded.
async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let got: Arc<Mutex<Received>> = Arc::default();
    let (traces, metrics) = (got.clone(), got.clone());
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| async move {
                let req = ExportTraceServiceRequest::decode(body).unwrap();
                let mut g = traces.lock().unwrap();
                for rs in req.resource_spans {
                    if let Some(r) = &rs.resource {
                        for a in &r.attributes {
                            if a.key == "service.name" {
                                g.service = Some(text(&a.value));
                            }
                        }
                    }
                    for ss in rs.scope_spans {
                        for s in ss.spans {
                            let attrs = s
                                .attributes
                                .iter()
                                .map(|a| (a.key.clone(), text(&a.value)))
                                .collect();
                            g.spans.push((s, attrs));
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }),
        )
        .route(
            "/v1/metrics",
            axum::routing::post(move |body: Bytes| async move {
                let req = ExportMetricsServiceRequest::decode(body).unwrap();
                let mut g = metrics.lock().unwrap();
                for rm in req.resource_metrics {
                    for sm in rm.scope_metrics {
                        g.metrics.extend(sm.metrics.into_iter().map(|m| m.name));
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn home(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("agents")).unwrap();
    std::fs::write(
        dir.join("agents/lead.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: You lead.\n  agent_type: Autonomous\n  agents_as_tools: [reader]\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("agents/reader.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: reader\n  system_prompt: You read.\n  agent_type: ReadOnly\n",
    )
    .unwrap();
    // Writes are blocked by a hook.
    std::fs::write(
        dir.join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: no-writes\n      event: PreToolUse\n      type: command\n      matcher: shell\n      command: 'echo no writes here >&2; exit 2'\n",
    )
    .unwrap();
    // The reader's long answer fills the lead's small window: its context is compacted.
    let long: Vec<String> = (0..1500).map(|i| format!("line{i}")).collect();
    std::fs::write(
        dir.join("script.yaml"),
        format!(
            "model: {{context_window: 6000}}\nagents:\n  lead:\n    - tool_calls:\n        - {{tool: ask_reader, args: {{task: 'what files are there?'}}}}\n    - tool_calls:\n        - {{tool: shell, args: {{command: 'echo secret-content-4711 > scratch/x.txt'}}}}\n    - final: done\n  ask_reader:\n    - final: 'only notes.md: {}'\n  compactor:\n    - final: 'The reader found only notes.md.'\n",
            long.join(" ")
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_exports_genai_spans_and_metrics_over_otlp() {
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("home");
    home(&h);
    let ws = dir.path().join("ws");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sre"))
            .args([
                "run",
                "--agent",
                "lead",
                "--json",
                "--approve",
                "none",
                "--session",
                "t-1",
            ])
            .arg("--script")
            .arg(h.join("script.yaml"))
            .arg("--workspace")
            .arg(&ws)
            .arg(&h)
            .arg("look around")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
            .env("OTEL_SERVICE_NAME", "sre-test")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "60000")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The exporters flush at exit.
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().metrics.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = got.lock().unwrap();
    assert_eq!(got.service.as_deref(), Some("sre-test"));
    let by_name = |name: &str| -> Vec<&(Span, HashMap<String, String>)> {
        got.spans.iter().filter(|(s, _)| s.name == name).collect()
    };
    let names: Vec<&str> = got.spans.iter().map(|(s, _)| s.name.as_str()).collect();
    let lead = by_name("invoke_agent lead");
    assert_eq!(lead.len(), 1, "{names:?}");
    let (lead, lead_attrs) = lead[0];
    assert_eq!(lead_attrs["gen_ai.operation.name"], "invoke_agent");
    assert_eq!(lead_attrs["gen_ai.conversation.id"], "t-1");
    assert_eq!(lead_attrs["sre.stop_cause"], "Completed");
    // One trace; the model calls and tool calls under the lead's span.
    assert!(got.spans.iter().all(|(s, _)| s.trace_id == lead.trace_id));
    let chats: Vec<_> = got
        .spans
        .iter()
        .filter(|(s, a)| {
            s.name.starts_with("chat ")
                && a.get("gen_ai.conversation.id").map(String::as_str) == Some("t-1")
        })
        .collect();
    assert_eq!(chats.len(), 3, "{names:?}");
    for (s, a) in &chats {
        assert_eq!(s.parent_span_id, lead.span_id);
        assert_eq!(a["gen_ai.operation.name"], "chat");
        assert_eq!(a["gen_ai.provider.name"], "sre.scripted");
        assert!(
            a.contains_key("gen_ai.usage.input_tokens")
                && a.contains_key("gen_ai.response.finish_reasons"),
            "{a:?}"
        );
        assert_eq!(s.kind, 3, "chat spans are CLIENT spans");
    }
    let ask = by_name("execute_tool ask_reader");
    assert_eq!(ask.len(), 1, "{names:?}");
    let (ask, ask_attrs) = ask[0];
    assert_eq!(ask.parent_span_id, lead.span_id);
    assert_eq!(ask_attrs["gen_ai.tool.type"], "function");
    // The subagent's run nests under the call that started it.
    let reader = got
        .spans
        .iter()
        .find(|(s, _)| s.name.starts_with("invoke_agent lead/"))
        .unwrap_or_else(|| panic!("no reader span in {names:?}"));
    assert_eq!(reader.0.parent_span_id, ask.span_id, "{names:?}");
    // The write the hook blocked: refused, and said so; the hook's decision is an event.
    let shell = by_name("execute_tool shell");
    assert_eq!(shell.len(), 1, "{names:?}");
    assert_eq!(shell[0].1["error.type"], "refused");
    assert!(
        lead.events.iter().any(|e| e.name == "sre.hook.decision"),
        "{:?}",
        lead.events
    );
    // The compaction: a budget event on the lead's span, and its model call a chat span
    // of its own under it (marked auxiliary).
    let budget: Vec<_> = lead
        .events
        .iter()
        .filter(|e| e.name == "sre.budget")
        .collect();
    assert_eq!(budget.len(), 1, "{:?}", lead.events);
    assert!(
        budget[0]
            .attributes
            .iter()
            .any(|a| a.key == "sre.budget.verdict" && text(&a.value) == "Compact"),
        "{:?}",
        budget[0]
    );
    let compaction: Vec<_> = got
        .spans
        .iter()
        .filter(|(s, a)| s.name.starts_with("chat ") && a.contains_key("sre.auxiliary"))
        .collect();
    assert_eq!(compaction.len(), 1, "{names:?}");
    assert_eq!(compaction[0].0.parent_span_id, lead.span_id);
    assert_eq!(compaction[0].1["gen_ai.provider.name"], "sre.scripted");
    // Usage in the spans equals the run's own accounting (its events).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (mut input, mut output) = (0u64, 0u64);
    for line in stdout.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["kind"]["type"] == "model_response" {
            let u = &e["kind"]["usage"];
            input += u["input_tokens"].as_u64().unwrap()
                + u["cache_read_tokens"].as_u64().unwrap()
                + u["cache_write_tokens"].as_u64().unwrap();
            output += u["output_tokens"].as_u64().unwrap();
        }
    }
    let sum = |key: &str| -> u64 {
        got.spans
            .iter()
            .filter(|(s, a)| s.name.starts_with("chat ") && !a.contains_key("sre.auxiliary"))
            .map(|(_, a)| a[key].parse::<u64>().unwrap())
            .sum()
    };
    assert!(input > 0);
    assert_eq!(
        (
            sum("gen_ai.usage.input_tokens"),
            sum("gen_ai.usage.output_tokens")
        ),
        (input, output)
    );
    // By default no content leaves: no message or tool text, nothing of the command.
    for (s, a) in &got.spans {
        for (k, v) in a {
            assert!(
                !k.contains("arguments") && !k.contains("result") && !k.contains("messages"),
                "{} has {k}",
                s.name
            );
            assert!(
                !v.contains("secret-content-4711"),
                "{} exports {k}={v}",
                s.name
            );
        }
        let status = s
            .status
            .as_ref()
            .map(|st| st.message.clone())
            .unwrap_or_default();
        assert!(
            !status.contains("no writes here"),
            "{} status {status}",
            s.name
        );
        for e in &s.events {
            for a in &e.attributes {
                assert!(
                    !text(&a.value).contains("no writes here"),
                    "{} event {}",
                    s.name,
                    e.name
                );
                assert!(
                    !text(&a.value).contains("secret-content-4711"),
                    "{} event {}",
                    s.name,
                    e.name
                );
            }
        }
    }
    // Metrics: the GenAI ones and ours.
    for m in [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "sre.tool.duration",
    ] {
        assert!(
            got.metrics.iter().any(|n| n == m),
            "{m} not in {:?}",
            got.metrics
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_leaves_only_on_opt_in() {
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("home");
    home(&h);
    let ws = dir.path().join("ws");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sre"))
            .args(["run", "--agent", "lead", "--script"])
            .arg(h.join("script.yaml"))
            // A thread id too long to keep whole in its subagents' ids.
            .args(["--session", &"t".repeat(190)])
            .arg("--workspace")
            .arg(&ws)
            .arg(&h)
            .arg("look around")
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{url}/v1/traces"),
            )
            .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = got.lock().unwrap();
    let ask = got
        .spans
        .iter()
        .find(|(s, _)| s.name == "execute_tool ask_reader")
        .expect("an ask_reader span");
    assert!(
        ask.1["gen_ai.tool.call.arguments"].contains("what files are there?"),
        "{:?}",
        ask.1
    );
    assert!(
        ask.1["gen_ai.tool.call.result"].contains("only notes.md"),
        "{:?}",
        ask.1
    );
    // The subagent's id is cut and hashed; its span still nests under the call.
    let reader = got
        .spans
        .iter()
        .find(|(s, _)| s.name.starts_with("invoke_agent lead/"))
        .expect("a reader span");
    assert!(
        reader.1["gen_ai.conversation.id"].contains(".")
            && reader.1["gen_ai.conversation.id"].len() <= 200
    );
    assert_eq!(reader.0.parent_span_id, ask.0.span_id);
    assert!(got.spans.iter().any(|(_, a)| {
        a.get("gen_ai.output.messages")
            .is_some_and(|m| m.contains("done"))
    }));
    // Only traces were asked for.
    assert!(got.metrics.is_empty(), "{:?}", got.metrics);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhooks_trace_continues_into_the_investigation_it_opens() {
    use std::io::{Read, Write};
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().to_path_buf();
    std::fs::write(
        h.join("agent.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: triage\n  system_prompt: You triage.\n  tools: [Read]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("plan.yaml"),
        "kind: IncidentFilter\nmetadata: {name: all}\nspec:\n  incidentPlatform: Trigger\n  handlingAgent: triage\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  triage:\n    - final: nothing to do\n    - final: still nothing\n",
    )
    .unwrap();
    let server = tokio::task::spawn_blocking({
        let (h, url) = (h.clone(), url.clone());
        move || {
            server::start_with(
                &h,
                server::TOKEN,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
                    ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                ],
            )
        }
    })
    .await
    .unwrap();
    let (trace_id, parent_id) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let addr = server.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let body = br#"{"title": "checkout slow"}"#;
        write!(
            s,
            "POST /triggers/probe HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\ntraceparent: 00-{trace_id}-{parent_id}-01\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server::TOKEN,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let _ = server::wait_for(&addr, "thread-1", "completed");
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = got
            .lock()
            .unwrap()
            .spans
            .iter()
            .find(|(s, _)| s.name == "invoke_agent triage")
            .map(|(s, _)| (hex(&s.trace_id), hex(&s.parent_span_id)));
        if let Some(ids) = found {
            assert_eq!(ids, (trace_id.to_string(), parent_id.to_string()));
            break;
        }
        assert!(Instant::now() < deadline, "no triage span arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A follow-up message through the API continues the trace of its own request.
    let (trace_2, parent_2) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let addr = server.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let body = br#"{"text": "and now?"}"#;
        write!(
            s,
            "POST /api/threads/thread-1/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\ntraceparent: 00-{trace_2}-{parent_2}-01\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server::TOKEN,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<_> = got
            .lock()
            .unwrap()
            .spans
            .iter()
            .filter(|(s, _)| s.name == "invoke_agent triage")
            .map(|(s, _)| (hex(&s.trace_id), hex(&s.parent_span_id)))
            .collect();
        if found.len() == 2 {
            assert!(
                found.contains(&(trace_2.to_string(), parent_2.to_string())),
                "{found:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no second triage span: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OpenAI-compatible model that fails its first `failures` calls with `status` (a 503 is
/// retried by the provider's retry layer, a 400 is not) and then answers.
async fn flaky_model(failures: usize, status: u16) -> String {
    use axum::response::IntoResponse;
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: Bytes| {
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures {
                    return (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("retry-after-ms", "10")],
                        r#"{"error": {"message": "overloaded"}}"#,
                    )
                        .into_response();
                }
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let usage = serde_json::json!({"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127});
                if req["stream"] == true {
                    let chunk = serde_json::json!({"id": "r-2", "object": "chat.completion.chunk", "model": "flaky",
                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "all quiet"}, "finish_reason": "stop"}]});
                    let tail = serde_json::json!({"id": "r-2", "object": "chat.completion.chunk", "model": "flaky",
                        "choices": [], "usage": usage});
                    let text = format!("data: {chunk}\n\ndata: {tail}\n\ndata: [DONE]\n\n");
                    return ([("content-type", "text/event-stream")], text).into_response();
                }
                axum::Json(serde_json::json!({"id": "r-2", "object": "chat.completion", "model": "flaky",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "all quiet"}, "finish_reason": "stop"}],
                    "usage": usage}))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_model_call_is_one_chat_span_with_its_retry_and_usage() {
    let (url, got) = receiver().await;
    let model = flaky_model(1, 503).await;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("home");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(
        h.join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: quiet\n  system_prompt: You check.\n  tools: [Read]\n",
    )
    .unwrap();
    let ws = dir.path().join("ws");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sre"))
            .args(["run", "--agent", "quiet", "--workspace"])
            .arg(&ws)
            .arg(&h)
            .arg("anything?")
            .env("OPENAI_BASE_URL", &model)
            .env("OPENAI_API_KEY", "sk-test-never-exported-123")
            .env("SRE_MODEL", "flaky")
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{url}/v1/traces"),
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = got.lock().unwrap();
    let chats: Vec<_> = got
        .spans
        .iter()
        .filter(|(s, _)| s.name == "chat flaky")
        .collect();
    assert_eq!(
        chats.len(),
        1,
        "{:?}",
        got.spans.iter().map(|(s, _)| &s.name).collect::<Vec<_>>()
    );
    let (chat, attrs) = chats[0];
    assert_eq!(attrs["gen_ai.provider.name"], "openai");
    assert_eq!(attrs["gen_ai.response.finish_reasons"], "stop");
    assert_eq!(attrs["gen_ai.usage.input_tokens"], "120");
    assert_eq!(attrs["gen_ai.usage.output_tokens"], "7");
    let retry = chat
        .events
        .iter()
        .find(|e| e.name == "sre.model.retry")
        .expect("the retry is an event of the chat span");
    let attempt = retry
        .attributes
        .iter()
        .find(|a| a.key == "sre.retry.attempt")
        .map(|a| text(&a.value));
    assert_eq!(attempt.as_deref(), Some("1"));
    // The provider's error text is content: not without the opt-in.
    assert!(!retry.attributes.iter().any(|a| a.key == "error.message"));
    // The API key is nowhere.
    for (s, a) in got.spans.iter() {
        assert!(
            !a.values().any(|v| v.contains("sk-test-never-exported-123")),
            "{}",
            s.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_fails_still_ends_its_spans_as_failed() {
    let (url, got) = receiver().await;
    let model = flaky_model(usize::MAX, 400).await;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("home");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(
        h.join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: quiet\n  system_prompt: You check.\n",
    )
    .unwrap();
    let ws = dir.path().join("ws");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sre"))
            .args(["run", "--agent", "quiet", "--workspace"])
            .arg(&ws)
            .arg(&h)
            .arg("anything?")
            .env("OPENAI_BASE_URL", &model)
            .env("OPENAI_API_KEY", "sk-test")
            .env("SRE_MODEL", "flaky")
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{url}/v1/traces"),
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = got.lock().unwrap();
    let names: Vec<&str> = got.spans.iter().map(|(s, _)| s.name.as_str()).collect();
    // Both spans arrived (a span that never ends is never exported), marked as failed.
    let agent = got
        .spans
        .iter()
        .find(|(s, _)| s.name == "invoke_agent quiet")
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(agent.1["error.type"], "Model");
    assert_eq!(
        agent.0.status.as_ref().map(|s| s.code),
        Some(2),
        "an error status"
    );
    let chat = got
        .spans
        .iter()
        .find(|(s, _)| s.name == "chat flaky")
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(chat.1["error.type"], "Model");
    assert_eq!(chat.0.parent_span_id, agent.0.span_id);
}

#[test]
fn an_otlp_protocol_other_than_http_protobuf_or_grpc_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("home");
    home(&h);
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(["run", "--agent", "lead", "--script"])
        .arg(h.join("script.yaml"))
        .arg("--workspace")
        .arg(dir.path().join("ws"))
        .arg(&h)
        .arg("look around")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/json: http/protobuf (the default) or grpc"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_calls_are_client_spans_under_their_tool_calls() {
    let (url, got) = receiver().await;
    let dd_port = common::free_port();
    let pd_port = common::free_port(); // nothing listens: that connector fails
    let mut dd = Command::new(common::peers_python());
    dd.arg(common::fixture("vendor_mcp.py"))
        .args(["--flavor", "datadog", "--port", &dd_port.to_string()])
        .env("DD_API_KEY", "dd-api-test")
        .env("DD_APPLICATION_KEY", "dd-app-test");
    let dir = tempfile::tempdir().unwrap();
    let trace_log = dir.path().join("traces.jsonl");
    dd.env("TRACE_LOG", &trace_log);
    let _dd = common::start_listening(dd, dd_port);
    let ws = dir.path().join("ws");
    let out = tokio::task::spawn_blocking(move || {
        common::sre()
            .args([
                "run",
                "--agent",
                "incident-orchestrator",
                "--session",
                &format!("inc-{}", "1".repeat(190)),
            ])
            .arg("--script")
            .arg(common::repo().join("examples/scripts/team-incident.yaml"))
            .arg("--workspace")
            .arg(&ws)
            .arg(common::team_home())
            .arg("checkout-api returns HTTP 503 on POST /payments since 14:02Z. Investigate.")
            .env("DATADOG_MCP_URL", format!("http://127.0.0.1:{dd_port}/mcp"))
            .env("DD_API_KEY", "dd-api-test")
            .env("DD_APPLICATION_KEY", "dd-app-test")
            .env(
                "PAGERDUTY_MCP_URL",
                format!("http://127.0.0.1:{pd_port}/mcp"),
            )
            .env("PAGERDUTY_API_TOKEN", "pd-test")
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{url}/v1/traces"),
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = got.lock().unwrap();
    let names: Vec<&str> = got.spans.iter().map(|(s, _)| s.name.as_str()).collect();
    let mcp: Vec<_> = got
        .spans
        .iter()
        .filter(|(s, _)| s.name == "tools/call query_metrics")
        .collect();
    assert_eq!(mcp.len(), 2, "{names:?}");
    for (span, attrs) in &mcp {
        assert_eq!(span.kind, 3, "a CLIENT span");
        assert_eq!(attrs["mcp.method.name"], "tools/call");
        assert_eq!(attrs["network.transport"], "tcp");
        assert_eq!(attrs["sre.mcp.server"], "datadog-mcp");
        let parent = got
            .spans
            .iter()
            .find(|(s, _)| s.span_id == span.parent_span_id)
            .unwrap_or_else(|| panic!("no parent in {names:?}"));
        assert_eq!(
            parent.0.name,
            "execute_tool mcp__datadog-mcp__query_metrics"
        );
    }
    // The handoff's hop (its id cut and hashed) nests under the thread's first hop.
    let first = got
        .spans
        .iter()
        .find(|(s, _)| s.name == "invoke_agent incident-orchestrator")
        .unwrap_or_else(|| panic!("{names:?}"));
    let hop = got
        .spans
        .iter()
        .find(|(s, a)| {
            s.name.starts_with("invoke_agent ")
                && a["gen_ai.conversation.id"].contains("--handoff1-")
        })
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(hop.0.parent_span_id, first.0.span_id, "{}", hop.0.name);
    // The trace went on in the server: each tools/call carried the context of its client
    // span, as a `traceparent` header and in `_meta` (SEP-414).
    let received: Vec<serde_json::Value> = std::fs::read_to_string(&trace_log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["tool"] == "query_metrics")
        .collect();
    assert_eq!(received.len(), 2, "{received:?}");
    let mut sent: Vec<String> = mcp
        .iter()
        .map(|(s, _)| format!("00-{}-{}-01", hex(&s.trace_id), hex(&s.span_id)))
        .collect();
    let mut got_headers: Vec<String> = received
        .iter()
        .map(|r| {
            assert_eq!(r["header"], r["meta"], "{r}");
            r["header"].as_str().unwrap().to_string()
        })
        .collect();
    sent.sort();
    got_headers.sort();
    assert_eq!(got_headers, sent);
    // The connector's secrets are nowhere.
    for (s, a) in got.spans.iter() {
        assert!(
            !a.values()
                .any(|v| v.contains("dd-app-test") || v.contains("dd-api-test")),
            "{}",
            s.name
        );
    }
}
