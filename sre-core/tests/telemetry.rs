//! GenAiTelemetry's span tree on hand-made event streams, collected with the official SDK:
//! the MCP client span a request's trace context names, the spans of calls that never said
//! how they went, and parents given for threads and their hops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use sre_core::telemetry::GenAiTelemetry;
use sre_core::{AgentEvent, EventKind, EventSink, SessionParent};

/// Keeps what it is given.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn telemetry() -> (GenAiTelemetry, Kept, SdkTracerProvider) {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let tracer = BoxedTracer::new(
        provider.boxed_tracer(opentelemetry::InstrumentationScope::builder("test").build()),
    );
    let meter = opentelemetry::global::meter("test");
    (GenAiTelemetry::new(tracer, &meter), kept, provider)
}

fn event(session: &str, kind: EventKind) -> AgentEvent {
    AgentEvent {
        agent: "lead".into(),
        session_id: session.into(),
        kind,
    }
}

fn started(parent: Option<SessionParent>) -> EventKind {
    EventKind::SessionStarted {
        source: "startup".into(),
        parent,
    }
}

fn tool_started(id: &str) -> EventKind {
    EventKind::ToolStarted {
        id: id.into(),
        name: "mcp__dd__query".into(),
        input: serde_json::json!({}),
    }
}

fn tool_finished(id: &str) -> EventKind {
    EventKind::ToolFinished {
        id: id.into(),
        name: "mcp__dd__query".into(),
        is_error: true,
        duration: Duration::from_millis(5),
        output: "".into(),
        recorded: "".into(),
    }
}

fn finished() -> EventKind {
    EventKind::Finished {
        cause: sre_core::StopCause::Completed,
        answer: None,
    }
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[test]
fn a_request_that_never_reports_ends_its_client_span_as_interrupted() {
    let (t, kept, _p) = telemetry();
    t.emit(event("s", started(None)));
    t.emit(event("s", tool_started("c1")));
    let cx = t.trace_context("s", "c1").expect("a trace context");
    // Asked again for the same call: the same span.
    assert_eq!(t.trace_context("s", "c1").unwrap(), cx);
    // The call was cancelled: no McpCall, only its end.
    t.emit(event("s", tool_finished("c1")));
    t.emit(event("s", finished()));
    let spans = kept.0.lock().unwrap().clone();
    let mcp = named(&spans, "tools/call");
    let tool = named(&spans, "execute_tool mcp__dd__query");
    assert_eq!(mcp.parent_span_id, tool.span_context.span_id());
    assert_eq!(attr(mcp, "error.type").as_deref(), Some("interrupted"));
    assert_eq!(
        cx.traceparent,
        format!(
            "00-{}-{}-01",
            mcp.span_context.trace_id(),
            mcp.span_context.span_id()
        )
    );
    assert_eq!(cx.tracestate, None);
}

#[test]
fn an_mcp_call_ends_the_span_its_request_carried() {
    let (t, kept, _p) = telemetry();
    t.emit(event("s", started(None)));
    t.emit(event("s", tool_started("c1")));
    let cx = t.trace_context("s", "c1").unwrap();
    t.emit(event(
        "s",
        EventKind::McpCall {
            id: "c1".into(),
            server: "dd".into(),
            method: "tools/call".into(),
            tool: "query".into(),
            transport: "streamable_http".into(),
            duration: Duration::from_millis(3),
            failed: false,
        },
    ));
    t.emit(event("s", tool_finished("c1")));
    t.emit(event("s", finished()));
    let spans = kept.0.lock().unwrap().clone();
    let mcp = named(&spans, "tools/call query");
    assert!(
        cx.traceparent
            .contains(&mcp.span_context.span_id().to_string())
    );
    assert_eq!(attr(mcp, "error.type"), None);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.name.starts_with("tools/call"))
            .count(),
        1
    );
}

#[test]
fn no_trace_context_for_a_session_that_is_not_running() {
    let (t, _kept, _p) = telemetry();
    assert_eq!(t.trace_context("nobody", "c1"), None);
    t.emit(event("s", started(None)));
    t.emit(event("s", finished()));
    assert_eq!(t.trace_context("s", "c1"), None);
}

#[test]
fn a_hop_takes_the_context_given_for_a_thread_whose_first_hop_did_not_run_again() {
    let (t, kept, _p) = telemetry();
    let remote = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    t.set_parent(
        "thread-1",
        opentelemetry::Context::new().with_remote_span_context(remote.clone()),
    );
    // Resuming: hop 1 ended in a handoff long ago and replays nothing; hop 2 runs.
    let hop = "thread-1.0123456789abcdef--handoff1-expert";
    t.emit(event(
        hop,
        started(Some(SessionParent {
            session_id: "thread-1".into(),
            call_id: None,
        })),
    ));
    t.emit(event(hop, finished()));
    // A later follow-up on hop 1 without a trace of its own starts a trace of its own.
    t.emit(event("thread-1", started(None)));
    t.emit(event("thread-1", finished()));
    let spans = kept.0.lock().unwrap().clone();
    let second = spans
        .iter()
        .find(|s| attr(s, "gen_ai.conversation.id").as_deref() == Some(hop))
        .unwrap();
    assert_eq!(second.span_context.trace_id(), remote.trace_id());
    assert_eq!(second.parent_span_id, remote.span_id());
    let first = spans
        .iter()
        .find(|s| attr(s, "gen_ai.conversation.id").as_deref() == Some("thread-1"))
        .unwrap();
    assert_ne!(first.span_context.trace_id(), remote.trace_id());
}

#[test]
fn a_subagent_nests_under_the_call_named_by_its_parent_whatever_its_id() {
    let (t, kept, _p) = telemetry();
    t.emit(event("s", started(None)));
    t.emit(event("s", tool_started("c7")));
    t.emit(event(
        "an-id-that-says-nothing",
        started(Some(SessionParent {
            session_id: "s".into(),
            call_id: Some("c7".into()),
        })),
    ));
    t.emit(event("an-id-that-says-nothing", finished()));
    t.emit(event("s", tool_finished("c7")));
    t.emit(event("s", finished()));
    let spans = kept.0.lock().unwrap().clone();
    let child = spans
        .iter()
        .find(|s| attr(s, "gen_ai.conversation.id").as_deref() == Some("an-id-that-says-nothing"))
        .unwrap();
    let tool = named(&spans, "execute_tool mcp__dd__query");
    assert_eq!(child.parent_span_id, tool.span_context.span_id());
}
