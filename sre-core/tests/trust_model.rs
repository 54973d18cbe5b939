//! Cost and the model layer: every model call of the agent tree reaches the ledger and the
//! event stream (compaction and judges included, across resume), retries report to the
//! run and stop on cancel, answers cut at the output limit are continued, a hard cost cap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use sre_core::{
    Agent, AgentLoop, BudgetVerdict, BudgetView, ContentBlock, ContextBudget, CostCap, Error,
    EventKind, Hook, HookContext, HookDecision, HookEvent, HookInput, JsonlSessionStore, Message,
    Model, ModelError, ModelInfo, ModelRequest, ModelResponse, RetryModel, RetryPolicy, Rewrite,
    ScriptedModel, Session, SessionStore, StopCause, StopReason, SubagentOptions, Usage,
};
use support::{EventLog, RecordingTool};

/// Sums the usage of every response of the wrapped model.
struct Tally {
    inner: Arc<dyn Model>,
    total: Mutex<Usage>,
    calls: AtomicU32,
}

impl Tally {
    fn new(inner: Arc<dyn Model>) -> Arc<Self> {
        Arc::new(Tally {
            inner,
            total: Mutex::new(Usage::default()),
            calls: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl Model for Tally {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let r = self.inner.complete(request).await?;
        *self.total.lock().unwrap() += r.usage;
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(r)
    }
}

/// Compacts once, before the third model call, with a model summary.
struct CompactOnce(AtomicU32);

#[async_trait]
impl ContextBudget for CompactOnce {
    fn assess(&self, view: &BudgetView<'_>) -> BudgetVerdict {
        let assistant = view
            .request
            .messages
            .iter()
            .filter(|m| m.role == sre_core::Role::Assistant)
            .count();
        if assistant == 2 && self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            BudgetVerdict::Compact
        } else {
            BudgetVerdict::Fits
        }
    }
    async fn prune(&self, _view: &BudgetView<'_>) -> sre_core::Result<Option<Rewrite>> {
        Ok(None)
    }
    async fn compact(&self, view: &BudgetView<'_>, model: &dyn Model) -> sre_core::Result<Rewrite> {
        let mut request = view.request.clone();
        request.agent = "compactor".into();
        request.messages.push(Message::user("<compaction-request>"));
        let summary = model.complete(&request).await?;
        let text = Message {
            role: sre_core::Role::Assistant,
            content: summary.content,
        }
        .text();
        Ok(Rewrite {
            messages: vec![Message::user(format!(
                "<handoff-summary>{text}</handoff-summary>"
            ))],
            tokens_before: 0,
            tokens_after: 0,
            note: "compacted".into(),
        })
    }
}

/// A Stop hook that asks a judge model, metered through its context.
struct Judge(Arc<dyn Model>);

#[async_trait]
impl Hook for Judge {
    fn name(&self) -> &str {
        "judge"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::Stop
    }
    async fn run(&self, input: &HookInput, ctx: &HookContext) -> Result<HookDecision, Error> {
        let model = ctx.metered(self.0.clone(), "hook:judge");
        let request = ModelRequest {
            messages: vec![Message::user(input.to_json().to_string())],
            max_output_tokens: 100,
            agent: format!("{}/hook:judge", ctx.agent),
            session_id: input.session_id.clone(),
            call: ctx.call_context(),
            ..ModelRequest::default()
        };
        let answer = model.complete(&request).await?;
        let ok = answer
            .content
            .iter()
            .any(|b| matches!(b, ContentBlock::Text { text } if text.contains("true")));
        Ok(if ok {
            HookDecision::allow()
        } else {
            HookDecision::block("needs numbers")
        })
    }
}

const TREE_SCRIPT: &str = r#"
turns:
  - tool_calls: [{tool: read}]
  - tool_calls: [{tool: spawn_subagents, args: {tasks: [{name: db, prompt: "check the pool"}]}}]
  - final: "The pool is small."
  - final: "Root cause: pool of 5, 158 timeouts."
agents:
  compactor:
    - final: "read the log; spawned db"
  db:
    - final: "pool saturated"
  judge:
    - when: {last_message_contains: ["The pool is small."]}
      final: '{"ok": false}'
    - when: {last_message_contains: ["158 timeouts"]}
      final: '{"ok": true}'
"#;

#[tokio::test]
async fn every_model_call_of_the_tree_reaches_the_ledger_and_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let build = || {
        let tally = Tally::new(Arc::new(ScriptedModel::from_yaml(TREE_SCRIPT).unwrap()));
        let agent = AgentLoop::builder(tally.clone())
            .name("lead")
            .tool(RecordingTool::reader("read"))
            .budget(Arc::new(CompactOnce(AtomicU32::new(0))))
            .hook(Arc::new(Judge(tally.clone())))
            .subagents(SubagentOptions::default())
            .session_store(store.clone())
            .build()
            .unwrap();
        (tally, agent)
    };
    let (tally, agent) = build();
    let log = Arc::new(EventLog::default());
    let out = agent
        .run(&Session::new("t").with_events(log.clone()), "why 503?")
        .await
        .unwrap();
    assert_eq!(out.cause, StopCause::Completed);
    let ledger = out.usage.clone();
    let rows: Vec<&str> = ledger.agents.keys().map(String::as_str).collect();
    assert_eq!(
        rows,
        [
            "lead",
            "lead/budget:compaction",
            "lead/db",
            "lead/hook:judge"
        ]
    );
    // Complete: the ledger total is the sum of every model call the tree made.
    assert_eq!(ledger.total().usage, *tally.total.lock().unwrap());
    assert_eq!(
        ledger.total().requests,
        u64::from(tally.calls.load(Ordering::SeqCst))
    );
    assert_eq!(ledger.agents["lead/hook:judge"].requests, 2);
    assert_eq!(ledger.agents["lead/budget:compaction"].requests, 1);
    // And every auxiliary call is an event.
    let aux = log
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::AuxiliaryModelCall { .. }))
        .count();
    assert_eq!(aux, 3);

    // A new process reading the finished session reports the same ledger.
    let (_, again) = build();
    let resumed = again.resume(&Session::new("t")).await.unwrap();
    assert_eq!(resumed.usage, ledger);
}

/// Fails with 503 `fail` times, then answers.
struct Flaky {
    info: ModelInfo,
    fail: u32,
    attempts: AtomicU32,
    attempted: tokio::sync::Notify,
}

#[async_trait]
impl Model for Flaky {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn complete(&self, _request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        self.attempted.notify_one();
        if n < self.fail {
            return Err(ModelError::Status {
                status: 503,
                message: "overloaded".into(),
                request_id: Some(format!("req-{n}")),
                retry_after_ms: None,
            });
        }
        Ok(ModelResponse {
            content: vec![ContentBlock::text("fine")],
            stop_reason: StopReason::EndTurn,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
                ..Usage::default()
            },
            request_id: None,
        })
    }
}

fn flaky(fail: u32) -> Arc<Flaky> {
    Arc::new(Flaky {
        info: ModelInfo::new("flaky", 10_000),
        fail,
        attempts: AtomicU32::new(0),
        attempted: tokio::sync::Notify::new(),
    })
}

#[tokio::test]
async fn retries_are_reported_to_the_session_without_a_sink_of_their_own() {
    let model = RetryModel::new(flaky(1)).with_policy(RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        jitter: false,
        ..RetryPolicy::default()
    });
    let agent = AgentLoop::builder(Arc::new(model)).build().unwrap();
    let log = Arc::new(EventLog::default());
    let out = agent
        .run(&Session::new("s").with_events(log.clone()), "go")
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("fine"));
    assert_eq!(
        log.kinds().iter().filter(|k| *k == "model_retry").count(),
        1
    );
}

#[tokio::test]
async fn no_attempt_is_made_after_the_run_is_cancelled() {
    for streaming in [false, true] {
        let inner = flaky(100);
        let model = RetryModel::new(inner.clone()).with_policy(RetryPolicy {
            initial_backoff: Duration::from_secs(5),
            jitter: false,
            ..RetryPolicy::default()
        });
        let agent = AgentLoop::builder(Arc::new(model))
            .streaming(streaming)
            .build()
            .unwrap();
        let session = Session::new("s");
        let run = tokio::spawn({
            let (agent, session) = (agent.clone(), session.clone());
            async move { agent.run(&session, "go").await }
        });
        inner.attempted.notified().await;
        let cancelled_at = Instant::now();
        session.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(2), run)
            .await
            .expect("the backoff must end at once on cancel")
            .unwrap();
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(cancelled_at.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            inner.attempts.load(Ordering::SeqCst),
            1,
            "streaming={streaming}: no billed attempt after cancel"
        );
    }
}

/// Answers with the given pieces in order, each with its stop reason.
struct Pieces {
    info: ModelInfo,
    pieces: Vec<(&'static str, StopReason)>,
    requests: Mutex<Vec<ModelRequest>>,
}

#[async_trait]
impl Model for Pieces {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let mut seen = self.requests.lock().unwrap();
        let (text, reason) = self.pieces[seen.len().min(self.pieces.len() - 1)].clone();
        seen.push(request.clone());
        Ok(ModelResponse {
            content: vec![ContentBlock::text(text)],
            stop_reason: reason,
            usage: Usage::default(),
            request_id: None,
        })
    }
}

#[tokio::test]
async fn an_answer_cut_at_the_output_limit_is_continued() {
    let model = Arc::new(Pieces {
        info: ModelInfo::new("cut", 10_000),
        pieces: vec![
            ("Root cause: the po", StopReason::MaxTokens),
            ("ol is exhausted (5 of 5 in use).", StopReason::EndTurn),
        ],
        requests: Mutex::new(vec![]),
    });
    let agent = AgentLoop::builder(model.clone()).build().unwrap();
    let out = agent.run(&Session::new("s"), "why?").await.unwrap();
    assert_eq!(out.cause, StopCause::Completed);
    assert_eq!(
        out.answer.as_deref(),
        Some("Root cause: the pool is exhausted (5 of 5 in use).")
    );
    let second = &model.requests.lock().unwrap()[1];
    assert!(
        second
            .messages
            .last()
            .unwrap()
            .text()
            .contains("cut off at the output token limit")
    );
}

#[tokio::test]
async fn an_answer_that_keeps_hitting_the_output_limit_ends_clearly() {
    let model = Arc::new(Pieces {
        info: ModelInfo::new("cut", 10_000),
        pieces: vec![("more ", StopReason::MaxTokens)],
        requests: Mutex::new(vec![]),
    });
    let agent = AgentLoop::builder(model.clone())
        .max_output_continuations(2)
        .build()
        .unwrap();
    let out = agent.run(&Session::new("s"), "why?").await.unwrap();
    assert_eq!(out.cause, StopCause::OutputLimit);
    assert_eq!(out.answer.as_deref(), Some("more more more "));
    assert_eq!(model.requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn the_cost_cap_stops_the_run_before_the_next_call() {
    let script = "turns:\n".to_string()
        + &"  - tool_calls: [{tool: read}]\n".repeat(20)
        + "  - final: never\n";
    let model = Arc::new(ScriptedModel::from_yaml(&script).unwrap().recording());
    let agent = AgentLoop::builder(model.clone())
        .tool(RecordingTool::reader("read"))
        .cost_cap(CostCap {
            max_tokens: Some(400),
            max_usd: None,
        })
        .build()
        .unwrap();
    let out = agent.run(&Session::new("s"), "investigate").await.unwrap();
    let StopCause::CostCapReached { reason } = &out.cause else {
        panic!("{:?}", out.cause);
    };
    assert!(reason.contains("cap of 400"), "{reason}");
    let total = out.usage.total();
    let spent = total.usage.prompt_tokens() + total.usage.output_tokens;
    assert!(spent >= 400);
    // It stopped at the first call that found the cap spent: the call before was under it.
    let requests = model.requests().len() as u64;
    assert_eq!(total.requests, requests);
    assert!(requests < 20);
}

#[tokio::test]
async fn two_children_of_one_name_persist_only_their_own_judge_usage() {
    let script = r#"
turns:
  - tool_calls:
      - {tool: spawn_subagents, args: {tasks: [{name: db, prompt: "pool A"}]}}
      - {tool: spawn_subagents, args: {tasks: [{name: db, prompt: "pool B"}]}}
  - final: merged
agents:
  db:
    - when: {last_message_contains: ["pool A"]}
      final: A fine
    - when: {last_message_contains: ["pool B"]}
      final: B fine
  judge:
    - when: {last_message_contains: ["fine"]}
      final: '{"ok": true}'
    - when: {last_message_contains: ["merged"]}
      final: '{"ok": true}'
"#;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let judge_model: Arc<dyn Model> = Arc::new(ScriptedModel::from_yaml(script).unwrap());
    let agent = AgentLoop::builder(Arc::new(ScriptedModel::from_yaml(script).unwrap()))
        .name("lead")
        .subagents(SubagentOptions {
            hooks: vec![Arc::new(SubJudge(judge_model))],
            ..SubagentOptions::default()
        })
        .session_store(store.clone())
        .build()
        .unwrap();
    let out = agent.run(&Session::new("p"), "go").await.unwrap();
    assert_eq!(out.usage.agents["lead/db/hook:judge"].requests, 2);
    let mut persisted = 0;
    for call in ["call_default_00_0", "call_default_00_1"] {
        let id = sre_core::subagent::child_session_id("p", call, "db");
        for r in store.load(&id).await.unwrap().records {
            if let sre_core::SessionRecord::Usage { rows } = r {
                persisted += rows.values().map(|r| r.requests).sum::<u64>();
            }
        }
    }
    assert_eq!(persisted, 2, "each child persists its own judge call, once");
}

/// A SubagentStop judge, metered through its context.
struct SubJudge(Arc<dyn Model>);

#[async_trait]
impl Hook for SubJudge {
    fn name(&self) -> &str {
        "judge"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::SubagentStop
    }
    async fn run(&self, input: &HookInput, ctx: &HookContext) -> Result<HookDecision, Error> {
        let model = ctx.metered(self.0.clone(), "hook:judge");
        let request = ModelRequest {
            messages: vec![Message::user(input.to_json().to_string())],
            max_output_tokens: 100,
            agent: format!("{}/hook:judge", ctx.agent),
            session_id: input.session_id.clone(),
            call: ctx.call_context(),
            ..ModelRequest::default()
        };
        model.complete(&request).await?;
        Ok(HookDecision::allow())
    }
}

#[tokio::test]
async fn a_dropped_retry_stream_makes_no_further_attempt() {
    let inner = flaky(1);
    let model = RetryModel::new(inner.clone()).with_policy(RetryPolicy {
        initial_backoff: Duration::from_millis(200),
        jitter: false,
        ..RetryPolicy::default()
    });
    let request = ModelRequest {
        messages: vec![Message::user("hi")],
        max_output_tokens: 10,
        ..ModelRequest::default()
    };
    let stream = model.stream(&request).await.unwrap();
    inner.attempted.notified().await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inner.attempts.load(Ordering::SeqCst), 1);
}
