//! `AgentEvent`: every step of the loop, for progress display, audit and tracing.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::agent::StopCause;
use crate::budget::BudgetVerdict;
use crate::hook::{HookAction, HookEvent};
use crate::model::StopReason;
use crate::usage::Usage;

/// One event, tagged with the agent and session that emitted it.
#[derive(Clone, Debug, Serialize)]
pub struct AgentEvent {
    /// Agent name (`parent/child` for subagents).
    pub agent: String,
    /// Session id.
    pub session_id: String,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[non_exhaustive]
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A session started (`startup`) or was resumed (`resume`).
    SessionStarted {
        /// `startup` or `resume`.
        source: String,
        /// The session (and tool call) that started this one, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<crate::agent::SessionParent>,
    },
    /// A turn (one model call) starts.
    TurnStarted {
        /// Turn number, 1-based.
        turn: u32,
    },
    /// A request is about to be sent.
    ModelRequest {
        /// Turn number.
        turn: u32,
        /// Messages in the request.
        messages: usize,
        /// The model asked ([`ModelInfo::name`](crate::ModelInfo)).
        model: String,
        /// Its provider ([`Model::provider`](crate::Model::provider)); empty when unknown.
        provider: String,
        /// The request's output token limit.
        max_tokens: u64,
    },
    /// Streamed answer text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// The model answered.
    ModelResponse {
        /// Turn number.
        turn: u32,
        /// Reported usage.
        usage: Usage,
        /// Why it stopped.
        stop_reason: StopReason,
        /// The provider's id of the response (its request id), when it gave one.
        response_id: Option<String>,
        /// Its cost at the model's prices (US dollars).
        cost_usd: f64,
        /// Whether the prompt was long enough for the provider to cache it.
        cacheable: bool,
        /// Wall time of the call.
        #[serde(with = "duration_ms")]
        duration: Duration,
        /// The answer's text (tool calls excluded).
        text: String,
    },
    /// A model call made on the run's behalf (compaction, a prompt-hook judge); the
    /// event's agent is the ledger row it was counted under (`agent/hook:quality`).
    AuxiliaryModelCall {
        /// Model name.
        model: String,
        /// Its provider, as `gen_ai.provider.name` says it (empty: unknown).
        #[serde(skip_serializing_if = "String::is_empty")]
        provider: String,
        /// Reported usage.
        usage: Usage,
        /// Its cost at the catalogue's prices.
        cost_usd: f64,
        /// Wall time of the call.
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    /// A model call is retried by a retry layer.
    ModelRetry {
        /// Attempt number that failed, 1-based.
        attempt: u32,
        /// Why.
        error: String,
        /// Wait before the next attempt.
        #[serde(with = "duration_ms")]
        delay: Duration,
    },
    /// A tool call starts (after PreToolUse hooks allowed it).
    ToolStarted {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments it runs with.
        input: Value,
    },
    /// A tool call finished.
    ToolFinished {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Whether the result is an error.
        is_error: bool,
        /// Wall time.
        #[serde(with = "duration_ms")]
        duration: Duration,
        /// The full output (before offloading).
        output: Arc<str>,
        /// What entered the transcript (differs when offloaded or withheld).
        recorded: Arc<str>,
    },
    /// A hook decided something other than a plain continue, or continued with output
    /// (failures are [`EventKind::HookFailed`]).
    HookDecision {
        /// Event.
        event: HookEvent,
        /// Hook name, or `merged` for the merged decision.
        hook: String,
        /// The action.
        action: HookAction,
        /// Additional context, if any.
        additional_context: Vec<String>,
        /// Message for the user (`systemMessage`), if any.
        system_message: Option<String>,
        /// What the hook wrote for people (a command hook's stderr, capped), if anything.
        output: Option<String>,
    },
    /// A tool call was not run (blocked by a hook, denied, unknown tool) or its output was
    /// withheld after it ran.
    ToolRefused {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// What the model was told.
        reason: String,
        /// Whether the call ran before its output was withheld (PostToolUse block).
        ran: bool,
    },
    /// A tool call waits for a person's decision: the run parks (see
    /// [`crate::Approval::Park`]).
    ApprovalRequested {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// The stored request's id.
        request: String,
    },
    /// A hook failed (crash, timeout...).
    HookFailed {
        /// Event.
        event: HookEvent,
        /// Hook name.
        hook: String,
        /// What went wrong.
        error: String,
        /// Whether the failure blocked (the hook's fail mode is `block`).
        blocked: bool,
    },
    /// A resumed run found a call that may have changed the world with no recorded
    /// result; it was not run again and the model was told its outcome is unknown.
    ToolOutcomeUnknown {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// The model's answer was cut at the output token limit; the loop asked it to go on.
    OutputContinued {
        /// Turn whose answer was cut.
        turn: u32,
    },
    /// A Stop hook rejected the answer; the reason went back to the agent.
    StopRejected {
        /// The reason.
        reason: String,
        /// Rejections so far in this run.
        count: u32,
    },
    /// The budget pruned or compacted.
    BudgetAction {
        /// What was done.
        verdict: BudgetVerdict,
        /// Estimated tokens before.
        tokens_before: u64,
        /// Estimated tokens after.
        tokens_after: u64,
        /// Note.
        note: String,
    },
    /// A dynamic layer changed; its new text was appended at the tail.
    LayerChanged {
        /// Layer name.
        layer: String,
    },
    /// Something was wrong but the run could go on (e.g. a torn transcript line discarded).
    Warning {
        /// What.
        message: String,
    },
    /// The run ended with an answer (or a limit).
    Finished {
        /// How it ended.
        cause: StopCause,
        /// The final answer, if any.
        answer: Option<String>,
    },
    /// A tool call went to an MCP server (emitted by the MCP tool, before its
    /// `ToolFinished`).
    McpCall {
        /// The tool call's id.
        id: String,
        /// The connector (server) name.
        server: String,
        /// The MCP method (`tools/call`).
        method: String,
        /// The server's own name for the tool.
        tool: String,
        /// `streamable_http` or `stdio`.
        transport: String,
        /// How long the request took.
        #[serde(with = "duration_ms")]
        duration: Duration,
        /// Whether it failed (a transport or protocol error; a tool's own error result is
        /// its `ToolFinished`).
        failed: bool,
    },
    /// The run ended with an error instead of an outcome.
    Failed {
        /// The error's kind (the variant of [`Error`](crate::Error), e.g. `Model`).
        error_type: String,
        /// What it says.
        message: String,
    },
}

mod duration_ms {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

/// Receives events. Must be cheap and must not block: forward to a channel for slow work.
pub trait EventSink: Send + Sync {
    /// Take one event.
    fn emit(&self, event: AgentEvent);

    /// The trace context to send with a request that tool call `call_id` of session
    /// `session_id` makes to another service (an MCP server), when this sink traces the
    /// run; the service's spans then continue the trace. Default: none.
    fn trace_context(&self, session_id: &str, call_id: &str) -> Option<TraceContext> {
        let _ = (session_id, call_id);
        None
    }
}

/// W3C trace context headers for an outgoing request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// `traceparent`: `00-{trace id}-{parent span id}-{flags}`.
    pub traceparent: String,
    /// `tracestate`, if the trace carries one.
    pub tracestate: Option<String>,
}

/// Several sinks as one: each event goes to each in order; the first sink that traces
/// gives the trace context.
///
/// ```
/// use std::sync::Arc;
/// use sre_core::event::{AgentEvent, EventSink, Tee};
/// let printed = |e: AgentEvent| eprintln!("{}", e.agent);
/// let (tx, _rx) = tokio::sync::mpsc::unbounded_channel::<AgentEvent>();
/// let sink = Tee::new(vec![Arc::new(printed), Arc::new(tx)]);
/// assert!(sink.trace_context("s", "call-1").is_none());
/// ```
pub struct Tee(Vec<Arc<dyn EventSink>>);

impl Tee {
    /// Tee to `sinks`.
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Tee(sinks)
    }
}

impl EventSink for Tee {
    fn emit(&self, event: AgentEvent) {
        if let Some((last, rest)) = self.0.split_last() {
            for sink in rest {
                sink.emit(event.clone());
            }
            last.emit(event);
        }
    }

    fn trace_context(&self, session_id: &str, call_id: &str) -> Option<TraceContext> {
        self.0
            .iter()
            .find_map(|s| s.trace_context(session_id, call_id))
    }
}

impl<F: Fn(AgentEvent) + Send + Sync> EventSink for F {
    fn emit(&self, event: AgentEvent) {
        self(event)
    }
}

impl EventSink for tokio::sync::mpsc::UnboundedSender<AgentEvent> {
    fn emit(&self, event: AgentEvent) {
        // A closed receiver means nobody listens any more; that is not an error of the run.
        let _ = self.send(event);
    }
}

/// In an event's JSON, leave out a tool output that differs from what entered the
/// transcript (offloaded, withheld), giving its size as `output_bytes`: for readers that
/// should not copy large outputs (a console's stream, a Python event queue). Any other
/// value (another event, a damaged log row) is left as it is.
///
/// ```
/// let mut e = serde_json::json!({"kind": {"type": "tool_finished", "output": "whole", "recorded": "preview"}});
/// sre_core::event::leave_out_unseen_output(&mut e);
/// assert_eq!(e["kind"]["output"], serde_json::Value::Null);
/// assert_eq!(e["kind"]["output_bytes"], 5);
/// ```
pub fn leave_out_unseen_output(event: &mut Value) {
    let Some(kind) = event.get_mut("kind").filter(|k| k.is_object()) else {
        return;
    };
    if kind["type"] != "tool_finished" || kind["output"] == kind["recorded"] {
        return;
    }
    if let Some(full) = kind.get_mut("output").map(Value::take) {
        kind["output_bytes"] = full.as_str().map_or(0, str::len).into();
    }
}
