//! Test helpers: small real tools and hooks built on the public contracts.
#![allow(dead_code, clippy::type_complexity)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use sre_core::{
    AgentEvent, EventSink, Hook, HookDecision, HookEvent, HookInput, ModelRequest, Tool,
    ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec,
};

/// A tool that records the inputs it ran with and answers from a closure.
pub mod http_server;

pub struct RecordingTool {
    spec: ToolSpec,
    annotations: ToolAnnotations,
    pub calls: Mutex<Vec<Value>>,
    answer: Box<dyn Fn(&Value) -> Result<ToolOutput, ToolError> + Send + Sync>,
}

impl RecordingTool {
    /// A tool that may change the world (the default annotations).
    pub fn new(
        name: &str,
        answer: impl Fn(&Value) -> Result<ToolOutput, ToolError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::annotated(name, ToolAnnotations::default(), answer)
    }

    pub fn annotated(
        name: &str,
        annotations: ToolAnnotations,
        answer: impl Fn(&Value) -> Result<ToolOutput, ToolError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(RecordingTool {
            spec: ToolSpec {
                name: name.into(),
                description: format!("test tool {name}"),
                input_schema: serde_json::json!({"type": "object"}),
            },
            annotations,
            calls: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        })
    }

    /// Echoes its input; may change the world (not repeatable on resume).
    pub fn echo(name: &str) -> Arc<Self> {
        Self::new(name, |input| {
            Ok(ToolOutput::ok(format!("ran with {input}")))
        })
    }

    /// Echoes its input; read-only (repeatable on resume).
    pub fn reader(name: &str) -> Arc<Self> {
        Self::annotated(name, ToolAnnotations::read_only(), |input| {
            Ok(ToolOutput::ok(format!("ran with {input}")))
        })
    }

    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Tool for RecordingTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.calls.lock().unwrap().push(input.clone());
        (self.answer)(&input)
    }
}

/// A tool that waits on a shared barrier: a turn with N calls completes only if they overlap.
pub struct BarrierTool {
    spec: ToolSpec,
    barrier: Arc<tokio::sync::Barrier>,
    pub entered: AtomicUsize,
}

impl BarrierTool {
    pub fn new(name: &str, parties: usize) -> Arc<Self> {
        Arc::new(BarrierTool {
            spec: ToolSpec {
                name: name.into(),
                description: "waits for its peers".into(),
                input_schema: serde_json::json!({"type": "object"}),
            },
            barrier: Arc::new(tokio::sync::Barrier::new(parties)),
            entered: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Tool for BarrierTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.barrier.wait().await;
        Ok(ToolOutput::ok(format!("passed the barrier with {input}")))
    }
}

/// An in-process hook from a closure, for one event (and optionally one tool name).
pub struct FnHook {
    name: String,
    event: HookEvent,
    tool: Option<String>,
    decide: Box<dyn Fn(&HookInput) -> HookDecision + Send + Sync>,
    pub seen: Mutex<Vec<HookInput>>,
}

impl FnHook {
    pub fn new(
        name: &str,
        event: HookEvent,
        decide: impl Fn(&HookInput) -> HookDecision + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(FnHook {
            name: name.into(),
            event,
            tool: None,
            decide: Box::new(decide),
            seen: Mutex::new(Vec::new()),
        })
    }

    pub fn for_tool(
        name: &str,
        event: HookEvent,
        tool: &str,
        decide: impl Fn(&HookInput) -> HookDecision + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(FnHook {
            name: name.into(),
            event,
            tool: Some(tool.into()),
            decide: Box::new(decide),
            seen: Mutex::new(Vec::new()),
        })
    }

    pub fn seen(&self) -> Vec<HookInput> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl Hook for FnHook {
    fn name(&self) -> &str {
        &self.name
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == self.event
            && self
                .tool
                .as_deref()
                .is_none_or(|t| input.tool_name() == Some(t))
    }
    async fn run(
        &self,
        input: &HookInput,
        _ctx: &sre_core::HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        self.seen.lock().unwrap().push(input.clone());
        Ok((self.decide)(input))
    }
}

/// Collects events.
#[derive(Default)]
pub struct EventLog(pub Mutex<Vec<AgentEvent>>);

impl EventSink for EventLog {
    fn emit(&self, event: AgentEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl EventLog {
    pub fn kinds(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                serde_json::to_value(&e.kind).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

/// Every tool_use in the request has exactly one tool_result after it.
pub fn assert_every_tool_use_answered(request: &ModelRequest) {
    use sre_core::ContentBlock;
    let mut uses = Vec::new();
    let mut results = Vec::new();
    for m in &request.messages {
        for b in &m.content {
            match b {
                ContentBlock::ToolUse { id, .. } => uses.push(id.clone()),
                ContentBlock::ToolResult { tool_use_id, .. } => results.push(tool_use_id.clone()),
                _ => {}
            }
        }
    }
    uses.sort();
    results.sort();
    assert_eq!(uses, results, "every tool use must have exactly one result");
}
