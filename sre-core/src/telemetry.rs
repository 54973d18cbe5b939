//! OpenTelemetry from the event stream (feature `otel`): spans and metrics that follow the
//! GenAI semantic conventions, for any backend the host's exporter reaches.
//!
//! [`GenAiTelemetry`] is an [`EventSink`]: give it to a [`Session`](crate::Session) (beside
//! the host's own sink) and each run becomes an `invoke_agent {agent}` span, each model call
//! a `chat {model}` span under it, each tool call an `execute_tool {tool}` span; subagents
//! nest under the tool call that started them, handoff hops under the thread's first agent.
//! Hook decisions, retries, approvals and budget actions are span events. Message and tool
//! content is exported only with [`GenAiTelemetry::capture_content`].
//!
//! ```
//! use sre_core::telemetry::GenAiTelemetry;
//! let telemetry = GenAiTelemetry::new(
//!     opentelemetry::global::tracer("sre-harness"),
//!     &opentelemetry::global::meter("sre-harness"),
//! );
//! let session = sre_core::Session::new("inc-1").with_events(std::sync::Arc::new(telemetry));
//! # let _ = session;
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::agent::SessionParent;
use crate::event::{AgentEvent, EventKind, EventSink, TraceContext};

/// `gen_ai.client.token.usage` bucket boundaries (semantic conventions).
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// `gen_ai.client.operation.duration` bucket boundaries in seconds (semantic conventions);
/// also those of tool call durations.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Sessions kept (ended ones are dropped past this many).
const MAX_SESSIONS: usize = 4096;

/// GenAI spans and metrics from agent events. Spans are started and ended under an internal
/// lock: give it a tracer whose processor does not export inline (the SDK's batch
/// processor, as the reference host does), not a simple processor on the same runtime.
pub struct GenAiTelemetry {
    tracer: BoxedTracer,
    instruments: Instruments,
    content: bool,
    root: Context,
    /// Parents given for particular sessions (the trace context of the request that
    /// started them).
    parents: Mutex<HashMap<String, Context>>,
    state: Mutex<HashMap<String, Spans>>,
}

struct Instruments {
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    tool_duration: Histogram<f64>,
    hook_decisions: Counter<u64>,
    cost: Counter<f64>,
    cacheable_prompt: Counter<u64>,
    cache_read: Counter<u64>,
}

/// One session's open spans.
struct Spans {
    agent: Context,
    agent_name: String,
    chat: Option<Context>,
    tools: HashMap<String, Context>,
    /// MCP client spans started when their request's trace context was asked for, by
    /// tool call id; ended by the call's `McpCall` (or its `ToolFinished`).
    mcp: HashMap<String, Context>,
    model: String,
    provider: String,
    ended: bool,
}

fn kv(key: &'static str, value: impl Into<opentelemetry::Value>) -> KeyValue {
    KeyValue::new(key, value)
}

impl GenAiTelemetry {
    /// Spans from `tracer`, metrics on `meter`.
    pub fn new(tracer: BoxedTracer, meter: &Meter) -> Self {
        GenAiTelemetry {
            tracer,
            instruments: Instruments {
                duration: meter
                    .f64_histogram("gen_ai.client.operation.duration")
                    .with_boundaries(SECONDS_BUCKETS.to_vec())
                    .with_unit("s")
                    .with_description("GenAI operation duration")
                    .build(),
                tokens: meter
                    .u64_histogram("gen_ai.client.token.usage")
                    .with_boundaries(TOKEN_BUCKETS.to_vec())
                    .with_unit("{token}")
                    .with_description("Measures number of input and output tokens used")
                    .build(),
                tool_duration: meter
                    .f64_histogram("sre.tool.duration")
                    .with_boundaries(SECONDS_BUCKETS.to_vec())
                    .with_unit("s")
                    .with_description("Tool call duration, by tool and outcome")
                    .build(),
                hook_decisions: meter
                    .u64_counter("sre.hook.decisions")
                    .with_description("Hook decisions, by hook, event and action")
                    .build(),
                cost: meter
                    .f64_counter("sre.cost")
                    .with_unit("USD")
                    .with_description("Model cost at the catalogue's prices")
                    .build(),
                cacheable_prompt: meter
                    .u64_counter("sre.cache.cacheable_prompt_tokens")
                    .with_unit("{token}")
                    .with_description("Prompt tokens of requests long enough to be cached")
                    .build(),
                cache_read: meter
                    .u64_counter("sre.cache.read_tokens")
                    .with_unit("{token}")
                    .with_description("Prompt tokens read from the cache, of those requests")
                    .build(),
            },
            content: false,
            root: Context::new(),
            parents: Mutex::new(HashMap::new()),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Export message and tool content too (prompts' answers, tool inputs and outputs).
    /// Off by default: they may hold what the workspace holds.
    pub fn capture_content(mut self, on: bool) -> Self {
        self.content = on;
        self
    }

    /// Root the runs' spans under `parent` (e.g. the trace context of the webhook that
    /// started the investigation).
    pub fn with_parent(mut self, parent: Context) -> Self {
        self.root = parent;
        self
    }

    /// Root session `session`'s spans under `parent` (e.g. the trace context of the webhook
    /// that opened the thread); its subagents and hops follow.
    pub fn set_parent(&self, session: &str, parent: Context) {
        let mut parents = self.parents.lock().unwrap_or_else(|p| p.into_inner());
        if parents.len() >= MAX_SESSIONS {
            parents.clear();
        }
        parents.insert(session.to_string(), parent);
    }

    /// The parent of a new session's span: the parent given for it (the trace context
    /// of the request that started or resumed it; for a hop, also one given for the thread
    /// it continues, whose own first hop may not run again), else the tool call that
    /// started it (a subagent), else the session it continues (a handoff hop), else the
    /// root.
    fn parent_of(
        &self,
        state: &HashMap<String, Spans>,
        session: &str,
        from: Option<&SessionParent>,
    ) -> Context {
        {
            // Taken once: the first run of the session continues that trace.
            let mut given = self.parents.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cx) = given.remove(session) {
                return cx;
            }
            if let Some(from) = from.filter(|f| f.call_id.is_none())
                && let Some(cx) = given.remove(&from.session_id)
            {
                return cx;
            }
        }
        match from.and_then(|f| Some((f, state.get(&f.session_id)?))) {
            Some((from, spans)) => from
                .call_id
                .as_ref()
                .and_then(|call| spans.tools.get(call))
                .unwrap_or(&spans.agent)
                .clone(),
            None => self.root.clone(),
        }
    }

    fn start(
        &self,
        name: String,
        kind: SpanKind,
        parent: &Context,
        attrs: Vec<KeyValue>,
    ) -> Context {
        let span: BoxedSpan = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attrs)
            .start_with_context(&self.tracer, parent);
        parent.with_span(span)
    }

    fn spans<'a>(
        &self,
        state: &'a mut HashMap<String, Spans>,
        e: &AgentEvent,
    ) -> Option<&'a mut Spans> {
        // Only a run's start opens its span: a warning before it, or an event of a run
        // that already ended, opens nothing.
        if !state.contains_key(&e.session_id)
            && let EventKind::SessionStarted { parent, .. } = &e.kind
        {
            let parent = self.parent_of(state, &e.session_id, parent.as_ref());
            let agent = self.start(
                format!("invoke_agent {}", e.agent),
                SpanKind::Internal,
                &parent,
                vec![
                    kv("gen_ai.operation.name", "invoke_agent"),
                    kv("gen_ai.agent.name", e.agent.clone()),
                    kv("gen_ai.agent.id", e.agent.clone()),
                    kv("gen_ai.conversation.id", e.session_id.clone()),
                ],
            );
            state.insert(
                e.session_id.clone(),
                Spans {
                    agent,
                    agent_name: e.agent.clone(),
                    chat: None,
                    tools: HashMap::new(),
                    mcp: HashMap::new(),
                    model: String::new(),
                    provider: String::new(),
                    ended: false,
                },
            );
        }
        state.get_mut(&e.session_id)
    }

    fn on(&self, e: AgentEvent) {
        if matches!(e.kind, EventKind::TextDelta { .. }) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let content = self.content;
        let ins = &self.instruments;
        let session = e.session_id.clone();
        // A session that starts again (resume, follow-up, a retried attempt) gets a new
        // span; one whose run never said how it ended is closed as abandoned.
        if matches!(e.kind, EventKind::SessionStarted { .. })
            && let Some(mut old) = state.remove(&session)
            && !old.ended
        {
            old.close("abandoned", "the run ended without saying how");
        }
        let Some(s) = self.spans(&mut state, &e) else {
            return;
        };
        match &e.kind {
            EventKind::ModelRequest {
                model,
                provider,
                max_tokens,
                ..
            } => {
                s.model = model.clone();
                s.provider = provider.clone();
                let mut attrs = vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.request.model", model.clone()),
                    kv("gen_ai.request.max_tokens", *max_tokens as i64),
                    kv("gen_ai.conversation.id", session.clone()),
                    kv("gen_ai.agent.name", s.agent_name.clone()),
                ];
                if !provider.is_empty() {
                    attrs.push(kv("gen_ai.provider.name", provider.clone()));
                    s.agent
                        .span()
                        .set_attribute(kv("gen_ai.provider.name", provider.clone()));
                }
                if let Some(old) = s.chat.take() {
                    old.span().end();
                }
                let parent = s.agent.clone();
                s.chat =
                    Some(self.start(format!("chat {model}"), SpanKind::Client, &parent, attrs));
            }
            EventKind::ModelRetry { attempt, error, .. } => {
                if let Some(chat) = &s.chat {
                    let mut attrs = vec![kv("sre.retry.attempt", i64::from(*attempt))];
                    // A provider's error may echo what it was sent.
                    if content {
                        attrs.push(kv("error.message", error.clone()));
                    }
                    chat.span().add_event("sre.model.retry", attrs);
                }
            }
            EventKind::ModelResponse {
                usage,
                stop_reason,
                response_id,
                duration,
                text,
                cost_usd,
                cacheable,
                ..
            } => {
                let finish = finish_reason(stop_reason);
                let mut metric_attrs = vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.request.model", s.model.clone()),
                ];
                if !s.provider.is_empty() {
                    metric_attrs.push(kv("gen_ai.provider.name", s.provider.clone()));
                }
                ins.duration.record(duration.as_secs_f64(), &metric_attrs);
                ins.cost.add(*cost_usd, &metric_attrs);
                // The cache hit rate counts only requests long enough to be cached.
                if *cacheable {
                    ins.cacheable_prompt
                        .add(usage.prompt_tokens(), &metric_attrs);
                    ins.cache_read.add(usage.cache_read_tokens, &metric_attrs);
                }
                for (kind, n) in [
                    ("input", usage.prompt_tokens()),
                    ("output", usage.output_tokens),
                ] {
                    let mut a = metric_attrs.clone();
                    a.push(kv("gen_ai.token.type", kind));
                    ins.tokens.record(n, &a);
                }
                if let Some(chat) = s.chat.take() {
                    let span = chat.span();
                    span.set_attribute(kv("gen_ai.response.model", s.model.clone()));
                    span.set_attribute(kv(
                        "gen_ai.response.finish_reasons",
                        opentelemetry::Value::Array(
                            vec![opentelemetry::StringValue::from(finish)].into(),
                        ),
                    ));
                    if let Some(id) = response_id {
                        span.set_attribute(kv("gen_ai.response.id", id.clone()));
                    }
                    span.set_attribute(kv(
                        "gen_ai.usage.input_tokens",
                        usage.prompt_tokens() as i64,
                    ));
                    span.set_attribute(kv(
                        "gen_ai.usage.output_tokens",
                        usage.output_tokens as i64,
                    ));
                    span.set_attribute(kv(
                        "gen_ai.usage.cache_read.input_tokens",
                        usage.cache_read_tokens as i64,
                    ));
                    span.set_attribute(kv(
                        "gen_ai.usage.cache_creation.input_tokens",
                        usage.cache_write_tokens as i64,
                    ));
                    if content && !text.is_empty() {
                        let messages = serde_json::json!([{"role": "assistant",
                            "parts": [{"type": "text", "content": text}]}]);
                        span.set_attribute(kv("gen_ai.output.messages", messages.to_string()));
                    }
                    span.end();
                }
            }
            EventKind::AuxiliaryModelCall {
                model,
                provider,
                usage,
                cost_usd,
                duration,
            } => {
                // A judge or compaction call: a finished chat span of its own, and in the
                // metrics too (a judge's tokens and cost are the run's).
                let mut attrs = vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.request.model", model.clone()),
                ];
                if !provider.is_empty() {
                    attrs.push(kv("gen_ai.provider.name", provider.clone()));
                }
                let start = SystemTime::now()
                    .checked_sub(*duration)
                    .unwrap_or_else(SystemTime::now);
                let mut span_attrs = attrs.clone();
                span_attrs.extend([
                    kv("gen_ai.usage.input_tokens", usage.prompt_tokens() as i64),
                    kv("gen_ai.usage.output_tokens", usage.output_tokens as i64),
                    kv("sre.auxiliary", true),
                ]);
                let mut span: BoxedSpan = self
                    .tracer
                    .span_builder(format!("chat {model}"))
                    .with_kind(SpanKind::Client)
                    .with_start_time(start)
                    .with_attributes(span_attrs)
                    .start_with_context(&self.tracer, &s.agent);
                span.end();
                ins.duration.record(duration.as_secs_f64(), &attrs);
                ins.cost.add(*cost_usd, &attrs);
                for (kind, n) in [
                    ("input", usage.prompt_tokens()),
                    ("output", usage.output_tokens),
                ] {
                    let mut a = attrs.clone();
                    a.push(kv("gen_ai.token.type", kind));
                    ins.tokens.record(n, &a);
                }
            }
            EventKind::McpCall {
                id,
                server,
                method,
                tool,
                transport,
                duration,
                failed,
            } => {
                // The MCP conventions' client span, `{mcp.method.name} {target}`, under the
                // tool call it served.
                let mut attrs = vec![
                    kv("mcp.method.name", method.clone()),
                    kv("gen_ai.tool.name", tool.clone()),
                    kv("gen_ai.operation.name", "execute_tool"),
                    kv(
                        "network.transport",
                        if transport == "stdio" { "pipe" } else { "tcp" },
                    ),
                    kv("sre.mcp.server", server.clone()),
                ];
                if *failed {
                    attrs.push(kv("error.type", "mcp_error"));
                }
                let name = format!("{method} {tool}");
                if let Some(cx) = s.mcp.remove(id) {
                    // Started when the request went out (its context went with it).
                    let span = cx.span();
                    span.update_name(name);
                    span.set_attributes(attrs);
                    span.end();
                    return;
                }
                let parent = s.tools.get(id).cloned().unwrap_or_else(|| s.agent.clone());
                let start = SystemTime::now()
                    .checked_sub(*duration)
                    .unwrap_or_else(SystemTime::now);
                let mut span: BoxedSpan = self
                    .tracer
                    .span_builder(name)
                    .with_kind(SpanKind::Client)
                    .with_start_time(start)
                    .with_attributes(attrs)
                    .start_with_context(&self.tracer, &parent);
                span.end();
            }
            EventKind::ToolStarted { id, name, input } => {
                let mut attrs = tool_attrs(id, name);
                if content {
                    attrs.push(kv("gen_ai.tool.call.arguments", clip(&input.to_string())));
                }
                let parent = s.agent.clone();
                let cx = self.start(
                    format!("execute_tool {name}"),
                    SpanKind::Internal,
                    &parent,
                    attrs,
                );
                s.tools.insert(id.clone(), cx);
            }
            EventKind::ToolFinished {
                id,
                name,
                is_error,
                duration,
                recorded,
                ..
            } => {
                let mut attrs = vec![kv("gen_ai.tool.name", name.clone())];
                if *is_error {
                    attrs.push(kv("error.type", "tool_error"));
                }
                ins.tool_duration.record(duration.as_secs_f64(), &attrs);
                if let Some(cx) = s.mcp.remove(id) {
                    // Its request never said how it went (cancelled, or out of time).
                    cx.span().set_attribute(kv("error.type", "interrupted"));
                    cx.span().end();
                }
                if let Some(cx) = s.tools.remove(id) {
                    let span = cx.span();
                    if *is_error {
                        span.set_attribute(kv("error.type", "tool_error"));
                        span.set_status(Status::error("the tool answered an error"));
                    }
                    if content {
                        // What the transcript keeps (an offloaded output is its preview).
                        span.set_attribute(kv("gen_ai.tool.call.result", clip(recorded)));
                    }
                    span.end();
                }
            }
            EventKind::ToolRefused {
                id, name, reason, ..
            } => {
                let cx = match s.tools.remove(id) {
                    Some(cx) => cx,
                    None => {
                        let parent = s.agent.clone();
                        self.start(
                            format!("execute_tool {name}"),
                            SpanKind::Internal,
                            &parent,
                            tool_attrs(id, name),
                        )
                    }
                };
                let span = cx.span();
                span.set_attribute(kv("error.type", "refused"));
                // The reason may quote the call or the workspace.
                let why = if content {
                    reason.clone()
                } else {
                    "refused".to_string()
                };
                span.set_status(Status::error(why));
                span.end();
            }
            EventKind::HookDecision {
                event,
                hook,
                action,
                ..
            } => {
                let event = event.as_str();
                // The kind only: a reason is content, and as a label it would be unbounded.
                let action = action.kind();
                let attrs = [
                    kv("sre.hook.name", hook.clone()),
                    kv("sre.hook.event", event),
                    kv("sre.hook.action", action),
                ];
                ins.hook_decisions.add(1, &attrs);
                s.agent
                    .span()
                    .add_event("sre.hook.decision", attrs.to_vec());
            }
            EventKind::HookFailed {
                event,
                hook,
                error,
                blocked,
            } => {
                let mut attrs = vec![
                    kv("sre.hook.name", hook.clone()),
                    kv("sre.hook.event", event.as_str()),
                    kv("sre.hook.blocked", *blocked),
                ];
                // A command hook's stderr is content.
                if content {
                    attrs.push(kv("error.message", error.clone()));
                }
                s.agent.span().add_event("sre.hook.failed", attrs);
            }
            EventKind::BudgetAction {
                verdict,
                tokens_before,
                tokens_after,
                ..
            } => s.agent.span().add_event(
                "sre.budget",
                vec![
                    kv("sre.budget.verdict", format!("{verdict:?}")),
                    kv("sre.budget.tokens_before", *tokens_before as i64),
                    kv("sre.budget.tokens_after", *tokens_after as i64),
                ],
            ),
            EventKind::ApprovalRequested { id, name, request } => s.agent.span().add_event(
                "sre.approval.requested",
                vec![
                    kv("gen_ai.tool.call.id", id.clone()),
                    kv("gen_ai.tool.name", name.clone()),
                    kv("sre.approval.id", request.clone()),
                ],
            ),
            EventKind::Finished { cause, .. } => {
                let kind = cause.kind();
                s.agent.span().set_attribute(kv("sre.stop_cause", kind));
                // A hop handing off, a memory command or a wait for a person ended well.
                let fine = matches!(
                    kind,
                    "Completed" | "AwaitingApproval" | "Handoff" | "MemoryCommand"
                );
                let why = if content {
                    format!("{cause:?}")
                } else {
                    kind.to_string()
                };
                if fine {
                    s.close_ok();
                } else {
                    s.close(kind, &why);
                }
                self.prune(&mut state);
            }
            EventKind::Failed {
                error_type,
                message,
            } => {
                let why = if content {
                    message.clone()
                } else {
                    error_type.clone()
                };
                s.close(error_type, &why);
                self.prune(&mut state);
            }
            _ => {}
        }
    }
}

impl GenAiTelemetry {
    /// Ended sessions stay for their hops and children to find; a long-running host does not
    /// keep them all.
    fn prune(&self, state: &mut HashMap<String, Spans>) {
        if state.len() > MAX_SESSIONS {
            state.retain(|_, s| !s.ended);
        }
    }
}

impl Spans {
    /// End the run's open spans and its own, well.
    fn close_ok(&mut self) {
        for (_, cx) in self.mcp.drain().chain(self.tools.drain()) {
            cx.span().end();
        }
        if let Some(chat) = self.chat.take() {
            chat.span().end();
        }
        self.agent.span().end();
        self.ended = true;
    }

    /// End the run's open spans and its own as failed with `error_type`.
    fn close(&mut self, error_type: &str, why: &str) {
        let open: Vec<Context> = self
            .mcp
            .drain()
            .chain(self.tools.drain())
            .map(|(_, cx)| cx)
            .chain(self.chat.take())
            .collect();
        for cx in open {
            let span = cx.span();
            span.set_attribute(kv("error.type", error_type.to_string()));
            span.end();
        }
        let span = self.agent.span();
        span.set_attribute(kv("error.type", error_type.to_string()));
        span.set_status(Status::error(why.to_string()));
        span.end();
        self.ended = true;
    }
}

/// The attributes of a tool call's span.
fn tool_attrs(id: &str, name: &str) -> Vec<KeyValue> {
    vec![
        kv("gen_ai.operation.name", "execute_tool"),
        kv("gen_ai.tool.name", name.to_string()),
        kv("gen_ai.tool.call.id", id.to_string()),
        kv("gen_ai.tool.type", "function"),
    ]
}

/// Content exported on opt-in, cut at 16 KiB (a collector refuses huge requests, and the
/// whole batch with them).
fn clip(text: &str) -> String {
    const MAX: usize = 16 * 1024;
    if text.len() <= MAX {
        return text.to_string();
    }
    let end = crate::text::floor_char_boundary(text, MAX);
    format!("{}... [cut at {MAX} bytes of {}]", &text[..end], text.len())
}

/// A stop reason as the conventions name finish reasons.
fn finish_reason(reason: &crate::model::StopReason) -> String {
    use crate::model::StopReason;
    match reason {
        StopReason::EndTurn | StopReason::StopSequence => "stop".into(),
        StopReason::ToolUse => "tool_call".into(),
        StopReason::MaxTokens => "length".into(),
        other => match serde_json::to_value(other) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Object(o)) => o
                .values()
                .next()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "other".into()),
            _ => "other".into(),
        },
    }
}

impl EventSink for GenAiTelemetry {
    fn emit(&self, event: AgentEvent) {
        self.on(event);
    }

    /// Starts the MCP client span of the request tool call `call_id` is about to send, and
    /// returns its context (the server's spans become its children).
    fn trace_context(&self, session_id: &str, call_id: &str) -> Option<TraceContext> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = state.get_mut(session_id).filter(|s| !s.ended)?;
        if !s.mcp.contains_key(call_id) {
            let parent = s.tools.get(call_id).unwrap_or(&s.agent).clone();
            let cx = self.start(
                "tools/call".into(),
                SpanKind::Client,
                &parent,
                vec![kv("mcp.method.name", "tools/call")],
            );
            s.mcp.insert(call_id.to_string(), cx);
        }
        let span = s.mcp[call_id].span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let state = sc.trace_state().header();
        Some(TraceContext {
            traceparent: format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
            tracestate: (!state.is_empty()).then_some(state),
        })
    }
}
