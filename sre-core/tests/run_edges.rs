//! Edges of a run found by review: resumes with hook context, children with odd ids,
//! cancellation outside the model call, answers cut at the output limit, and writes that
//! must be one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::session::LoadedSession;
use sre_core::{
    Agent, AgentLoop, BudgetVerdict, BudgetView, ContentBlock, ContextBudget, Error, Hook,
    HookContext, HookDecision, HookEvent, HookInput, InMemorySessionStore, JsonlSessionStore,
    Model, ModelError, ModelInfo, ModelRequest, ModelResponse, Rewrite, ScriptedModel, Session,
    SessionLock, SessionRecord, SessionStore, StopCause, StopReason, SubagentOptions, Tool,
    ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec, Usage, validate_transcript,
};
use support::{FnHook, RecordingTool};

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap().recording())
}

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the run did not finish")
}

fn messages(records: &[SessionRecord]) -> Vec<sre_core::Message> {
    let mut out = Vec::new();
    for r in records {
        match r {
            SessionRecord::Task { message, .. } | SessionRecord::Message { message, .. } => {
                out.push(message.clone())
            }
            SessionRecord::Rewrite { messages, .. } => out = messages.clone(),
            SessionRecord::StopRejected {
                feedback: Some(f), ..
            } => out.push(f.clone()),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn a_resume_with_session_start_context_answers_the_pending_calls_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let script = "turns:\n  - tool_calls: [{tool: read}]\n  - final: done\n";
    let build = |tool: Arc<RecordingTool>| {
        AgentLoop::builder(model(script))
            .tool(tool)
            .hook(FnHook::new("ctx", HookEvent::SessionStart, |_| {
                HookDecision::allow().with_context("on-call: alice")
            }))
            .session_store(store.clone())
            .build()
            .unwrap()
    };
    build(RecordingTool::reader("read"))
        .run(&Session::new("full"), "go")
        .await
        .unwrap();
    // Crash right after the assistant message that asked for the call.
    let text = std::fs::read_to_string(store.path_of("full").unwrap()).unwrap();
    let cut: String = text
        .lines()
        .take_while(|l| !l.contains("\"role\":\"user\",\"content\":[{\"type\":\"tool_result\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(store.path_of("crashed").unwrap(), cut).unwrap();
    let tool = RecordingTool::reader("read");
    let out = build(tool.clone())
        .resume(&Session::new("crashed"))
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("done"));
    assert_eq!(tool.calls().len(), 1, "the pending call ran");
    let msgs = messages(&store.load("crashed").await.unwrap().records);
    let request = ModelRequest {
        messages: msgs.clone(),
        ..ModelRequest::default()
    };
    validate_transcript(&request.messages).unwrap();
    // The resume's context came with the results.
    let results = &msgs[msgs.len() - 2];
    assert!(results.text().contains("on-call: alice"), "{results:?}");
}

#[tokio::test]
async fn a_spawn_with_an_invalid_child_name_never_bricks_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let script = r#"
turns:
  - tool_calls: [{tool: spawn_subagents, args: {tasks: [{name: "db pool", prompt: x}]}}]
  - final: first
  - final: second
"#;
    let agent = AgentLoop::builder(model(script))
        .session_store(store.clone())
        .subagents(SubagentOptions::default())
        .build()
        .unwrap();
    let first = agent.run(&Session::new("p"), "one").await.unwrap();
    assert_eq!(first.answer.as_deref(), Some("first"));
    let second = agent.run(&Session::new("p"), "two").await.unwrap();
    assert_eq!(second.answer.as_deref(), Some("second"));
}

#[tokio::test]
async fn child_ids_stay_valid_and_unique_for_long_parent_ids() {
    let parent = "p".repeat(195);
    let a = sre_core::subagent::child_session_id(&parent, "call_1", "db");
    let b = sre_core::subagent::child_session_id(&parent, "call_2", "db");
    let other = sre_core::subagent::child_session_id(&"q".repeat(195), "call_1", "db");
    assert!(a.len() <= 200 && b.len() <= 200, "{a}");
    assert_ne!(a, b);
    assert_ne!(a, other);
    let dir = tempfile::tempdir().unwrap();
    let store = JsonlSessionStore::new(dir.path()).unwrap();
    store.path_of(&a).unwrap();
}

/// Waits for the run's cancellation inside a Stop hook.
struct WaitsForCancel(Arc<tokio::sync::Notify>);

#[async_trait]
impl Hook for WaitsForCancel {
    fn name(&self) -> &str {
        "waits"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::Stop
    }
    async fn run(&self, _i: &HookInput, ctx: &HookContext) -> Result<HookDecision, Error> {
        self.0.notify_one();
        ctx.cancel.cancelled().await;
        Err(Error::Cancelled)
    }
}

#[tokio::test]
async fn a_cancel_during_the_stop_hooks_finishes_the_run_and_keeps_the_session_usable() {
    let store = Arc::new(InMemorySessionStore::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let agent = AgentLoop::builder(model("turns:\n  - final: one\n  - final: two\n"))
        .hook(Arc::new(WaitsForCancel(entered.clone())))
        .session_store(store.clone())
        .build()
        .unwrap();
    let session = Session::new("s");
    let run = tokio::spawn({
        let (agent, session) = (agent.clone(), session.clone());
        async move { agent.run(&session, "go").await }
    });
    entered.notified().await;
    session.cancel.cancel();
    assert!(matches!(within(run).await.unwrap(), Err(Error::Cancelled)));
    let records = store.load("s").await.unwrap().records;
    assert!(matches!(
        records.last(),
        Some(SessionRecord::Finished {
            cause: StopCause::Cancelled,
            ..
        })
    ));
    // Not an unfinished run: the next task goes ahead (this loop without the waiting hook).
    let next = AgentLoop::builder(model("turns:\n  - final: one\n  - final: two\n"))
        .session_store(store.clone())
        .build()
        .unwrap()
        .run(&Session::new("s"), "again")
        .await
        .unwrap();
    assert_eq!(next.cause, StopCause::Completed);
}

/// Always asks to compact.
struct AlwaysCompact;

#[async_trait]
impl ContextBudget for AlwaysCompact {
    fn assess(&self, _view: &BudgetView<'_>) -> BudgetVerdict {
        BudgetVerdict::Compact
    }
    async fn prune(&self, _view: &BudgetView<'_>) -> sre_core::Result<Option<Rewrite>> {
        Ok(None)
    }
    async fn compact(&self, _v: &BudgetView<'_>, _m: &dyn Model) -> sre_core::Result<Rewrite> {
        panic!("a PreCompact stop must prevent the compaction")
    }
}

#[tokio::test]
async fn a_pre_compact_stop_ends_the_run_with_its_reason() {
    let agent = AgentLoop::builder(model("turns:\n  - final: never\n"))
        .budget(Arc::new(AlwaysCompact))
        .hook(FnHook::new("guard", HookEvent::PreCompact, |_| {
            HookDecision::stop("do not summarise this incident")
        }))
        .build()
        .unwrap();
    let out = agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(
        out.cause,
        StopCause::StoppedByHook {
            reason: "do not summarise this incident".into()
        }
    );
}

/// PostToolUse hook that waits for the cancellation.
struct PostWaits(Arc<tokio::sync::Notify>);

#[async_trait]
impl Hook for PostWaits {
    fn name(&self) -> &str {
        "post-waits"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PostToolUse
    }
    async fn run(&self, _i: &HookInput, ctx: &HookContext) -> Result<HookDecision, Error> {
        self.0.notify_one();
        ctx.cancel.cancelled().await;
        Err(Error::Cancelled)
    }
}

#[tokio::test]
async fn a_call_that_completed_keeps_its_result_when_the_cancel_comes_after_it() {
    let store = Arc::new(InMemorySessionStore::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let restart = RecordingTool::annotated("restart", ToolAnnotations::unrestricted(), |_| {
        Ok(ToolOutput::ok("restarted pg-orders"))
    });
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: restart}]\n  - final: done\n",
    ))
    .tool(restart.clone())
    .hook(Arc::new(PostWaits(entered.clone())))
    .session_store(store.clone())
    .build()
    .unwrap();
    let session = Session::new("s");
    let run = tokio::spawn({
        let (agent, session) = (agent.clone(), session.clone());
        async move { agent.run(&session, "go").await }
    });
    entered.notified().await;
    session.cancel.cancel();
    assert!(matches!(within(run).await.unwrap(), Err(Error::Cancelled)));
    let records = store.load("s").await.unwrap().records;
    let recorded: Vec<&SessionRecord> = records
        .iter()
        .filter(|r| matches!(r, SessionRecord::CallResult { .. }))
        .collect();
    assert_eq!(recorded.len(), 1);
    let msgs = messages(&records);
    let result = msgs.last().unwrap();
    assert_eq!(
        result.content[0],
        ContentBlock::ToolResult {
            tool_use_id: "call_default_00_0".into(),
            content: "restarted pg-orders".into(),
            is_error: false,
        }
    );
    assert!(matches!(
        records.last(),
        Some(SessionRecord::Finished {
            cause: StopCause::Cancelled,
            ..
        })
    ));
    // `resume` goes on where the cancel stopped the run (a cancel is an interruption, not
    // an answer), and the call that completed is not run again.
    let resumed = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: restart}]\n  - expect: {last_message_contains: [restarted pg-orders]}\n    final: done\n",
    ))
    .tool(restart.clone())
    .session_store(store.clone())
    .build()
    .unwrap()
    .resume(&Session::new("s"))
    .await
    .unwrap();
    assert_eq!(resumed.cause, StopCause::Completed);
    assert_eq!(resumed.answer.as_deref(), Some("done"));
    assert_eq!(restart.calls().len(), 1);
}

/// Answers with the given pieces in order.
struct Pieces(ModelInfo, Vec<(Vec<ContentBlock>, StopReason)>, AtomicUsize);

#[async_trait]
impl Model for Pieces {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    async fn complete(&self, _r: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let i = self.2.fetch_add(1, Ordering::SeqCst).min(self.1.len() - 1);
        let (content, stop_reason) = self.1[i].clone();
        Ok(ModelResponse {
            content,
            stop_reason,
            usage: Usage::default(),
            request_id: None,
        })
    }
}

fn pieces(p: Vec<(&str, StopReason)>) -> Arc<Pieces> {
    Arc::new(Pieces(
        ModelInfo::new("pieces", 10_000),
        p.into_iter()
            .map(|(t, r)| {
                let content = if t.is_empty() {
                    vec![]
                } else {
                    vec![ContentBlock::text(t)]
                };
                (content, r)
            })
            .collect(),
        AtomicUsize::new(0),
    ))
}

#[tokio::test]
async fn a_new_task_does_not_inherit_an_answer_cut_before() {
    let store = Arc::new(InMemorySessionStore::new());
    let first = AgentLoop::builder(pieces(vec![("A", StopReason::MaxTokens)]))
        .max_output_continuations(0)
        .session_store(store.clone())
        .build()
        .unwrap()
        .run(&Session::new("s"), "one")
        .await
        .unwrap();
    assert_eq!(first.cause, StopCause::OutputLimit);
    let second = AgentLoop::builder(pieces(vec![("B", StopReason::EndTurn)]))
        .session_store(store.clone())
        .build()
        .unwrap()
        .run(&Session::new("s"), "two")
        .await
        .unwrap();
    assert_eq!(second.answer.as_deref(), Some("B"));
}

#[tokio::test]
async fn an_empty_cut_response_is_not_part_of_the_answer() {
    let agent = AgentLoop::builder(pieces(vec![
        ("", StopReason::MaxTokens),
        ("the pool is exhausted", StopReason::EndTurn),
    ]))
    .build()
    .unwrap();
    let out = agent.run(&Session::new("s"), "why?").await.unwrap();
    assert_eq!(out.answer.as_deref(), Some("the pool is exhausted"));
}

/// Records the batches of records appended, by kind.
#[derive(Default)]
struct Batches {
    inner: InMemorySessionStore,
    batches: Mutex<Vec<Vec<String>>>,
}

#[async_trait]
impl SessionStore for Batches {
    async fn load(&self, id: &str) -> sre_core::Result<LoadedSession> {
        self.inner.load(id).await
    }
    async fn append(&self, id: &str, records: &[SessionRecord]) -> sre_core::Result<()> {
        self.batches.lock().unwrap().push(
            records
                .iter()
                .map(|r| {
                    serde_json::to_value(r).unwrap()["record"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect(),
        );
        self.inner.append(id, records).await
    }
    async fn lock(&self, id: &str) -> sre_core::Result<SessionLock> {
        self.inner.lock(id).await
    }
}

#[tokio::test]
async fn a_hooks_stop_is_written_with_the_results_it_ends() {
    let store = Arc::new(Batches::default());
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: read}]\n  - final: never\n",
    ))
    .tool(RecordingTool::reader("read"))
    .hook(FnHook::new("halt", HookEvent::PreToolUse, |_| {
        HookDecision::stop("incident closed")
    }))
    .session_store(store.clone())
    .build()
    .unwrap();
    let out = agent.run(&Session::new("s"), "go").await.unwrap();
    assert!(matches!(out.cause, StopCause::StoppedByHook { .. }));
    let batches = store.batches.lock().unwrap().clone();
    assert_eq!(
        batches.last().unwrap(),
        &["message".to_string(), "finished".to_string()],
        "{batches:?}"
    );
}

/// A per-session counter that is not idempotent.
struct Counter(ToolSpec, Mutex<HashMap<String, u64>>);

#[async_trait]
impl Tool for Counter {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.restore(&ctx.session_id, &input);
        Ok(ToolOutput::ok(format!(
            "count {}",
            self.1.lock().unwrap()[&ctx.session_id]
        )))
    }
    fn restore(&self, session_id: &str, input: &Value) {
        *self.1.lock().unwrap().entry(session_id.into()).or_default() +=
            input["add"].as_u64().unwrap_or(0);
    }
}

#[tokio::test]
async fn a_recorded_result_reused_on_resume_restores_the_tools_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let script = "turns:\n  - tool_calls: [{tool: count, args: {add: 2}}]\n  - final: done\n";
    let counter = || {
        Arc::new(Counter(
            ToolSpec {
                name: "count".into(),
                description: "counts".into(),
                input_schema: json!({"type": "object"}),
            },
            Mutex::new(HashMap::new()),
        ))
    };
    AgentLoop::builder(model(script))
        .tool(counter())
        .session_store(store.clone())
        .build()
        .unwrap()
        .run(&Session::new("full"), "go")
        .await
        .unwrap();
    let text = std::fs::read_to_string(store.path_of("full").unwrap()).unwrap();
    let cut: String = text
        .lines()
        .take_while(|l| !l.starts_with("{\"record\":\"message\",\"message\":{\"role\":\"user\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(cut.contains("call_result"));
    std::fs::write(store.path_of("crashed").unwrap(), cut).unwrap();
    let tool = counter();
    AgentLoop::builder(model(script))
        .tool(tool.clone())
        .session_store(store.clone())
        .build()
        .unwrap()
        .resume(&Session::new("crashed"))
        .await
        .unwrap();
    assert_eq!(tool.1.lock().unwrap()["crashed"], 2);
}

/// Says it was cancelled though nobody cancelled the run (e.g. an interrupted syscall).
struct Interrupted(ToolSpec);

#[async_trait]
impl Tool for Interrupted {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Cancelled)
    }
}

#[tokio::test]
async fn a_tool_that_says_cancelled_without_a_cancel_is_a_model_visible_error() {
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: flaky}]\n  - expect: {last_message_contains: [interrupted]}\n    final: retried\n",
    ))
    .tool(Arc::new(Interrupted(ToolSpec {
        name: "flaky".into(),
        description: "gets interrupted".into(),
        input_schema: json!({"type": "object"}),
    })))
    .build()
    .unwrap();
    let out = agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(out.answer.as_deref(), Some("retried"));
}

/// A tool stuck in a call that ignores cancellation (a read blocked in the kernel, say),
/// or that honours it; `cancelled` says whether it saw its token cancelled.
struct Stuck {
    spec: ToolSpec,
    honours_cancel: bool,
    cancelled: Arc<AtomicUsize>,
    /// Released by the test when it is done (the blocked thread then ends).
    gate: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
}

#[async_trait]
impl Tool for Stuck {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, _input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if self.honours_cancel {
            ctx.cancel.cancelled().await;
            self.cancelled.fetch_add(1, Ordering::SeqCst);
            return Err(ToolError::Cancelled);
        }
        // Blocks a thread the runtime cannot interrupt.
        let gate = self.gate.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = gate
                .lock()
                .map(|rx| rx.recv_timeout(Duration::from_secs(30)));
        })
        .await;
        Ok(ToolOutput::ok("late"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_its_deadline_is_stopped_and_the_turn_goes_on() {
    let m = model(
        "turns:\n  - tool_calls: [{tool: stuck}, {tool: polite}]\n  - expect: {last_message_contains: ['`stuck` did not finish within its deadline of 300ms', '`polite` did not finish']}\n    final: moved on\n",
    );
    let cancelled = Arc::new(AtomicUsize::new(0));
    let (release, gate) = std::sync::mpsc::channel();
    let gate = Arc::new(Mutex::new(gate));
    let stuck = |name: &str, honours_cancel: bool| {
        Arc::new(Stuck {
            spec: ToolSpec {
                name: name.into(),
                description: "blocks".into(),
                input_schema: json!({"type": "object"}),
            },
            honours_cancel,
            cancelled: cancelled.clone(),
            gate: gate.clone(),
        })
    };
    let store = Arc::new(InMemorySessionStore::new());
    let agent = AgentLoop::builder(m)
        .tool(stuck("stuck", false))
        .tool(stuck("polite", true))
        .tool_deadline(Duration::from_millis(300))
        .session_store(store.clone())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let out = within(agent.run(&Session::new("deadline"), "go"))
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("moved on"));
    // The stuck call cost its deadline and the grace, not its 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The polite one was told to stop through its token.
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    // The transcript holds both results, so a resume never runs them again.
    let records = store.load("deadline").await.unwrap().records;
    let stopped = records
        .iter()
        .filter(|r| {
            matches!(r, SessionRecord::CallResult { content, .. }
                if content.contains("did not finish within its deadline"))
        })
        .count();
    assert_eq!(stopped, 2, "{records:?}");
    validate_transcript(&messages(&records)).unwrap();
    let _ = release.send(());
}
