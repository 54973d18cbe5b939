//! Behaviour of the agent loop: concurrency, hooks, limits, events, memory commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::json;
use sre_core::{
    Agent, AgentLoop, Approver, ContentBlock, HookDecision, HookEvent, HookInput,
    InMemorySessionStore, MemoryHit, MemoryStore, Role, ScriptedModel, Session, SessionRecord,
    SessionStore, StopCause, ToolError, ToolOutput,
};
use support::{BarrierTool, EventLog, FnHook, RecordingTool, assert_every_tool_use_answered};

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap().recording())
}

/// Guard against a hang turning into a stuck test: the behaviour under test must finish.
async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the run did not finish")
}

#[tokio::test]
async fn tool_calls_of_one_turn_run_concurrently() {
    // Three calls wait on a barrier of three: the turn completes only if they overlap.
    let m = model(
        r#"
turns:
  - tool_calls:
      - {tool: wait, args: {n: 1}}
      - {tool: wait, args: {n: 2}}
      - {tool: wait, args: {n: 3}}
  - expect: {last_message_contains: ["passed the barrier with {\"n\":1}", "passed the barrier with {\"n\":3}"]}
    final: done
"#,
    );
    let tool = BarrierTool::new("wait", 3);
    let agent = AgentLoop::builder(m.clone())
        .tool(tool.clone())
        .build()
        .unwrap();
    let outcome = within(agent.run(&Session::new("concurrent"), "go"))
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(tool.entered.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrency_limit_of_one_serialises_calls() {
    // With a limit of 1 the same barrier can never be passed: the run must not finish.
    let m = model(
        "turns:\n  - tool_calls:\n      - {tool: wait}\n      - {tool: wait}\n  - final: done\n",
    );
    let tool = BarrierTool::new("wait", 2);
    let agent = AgentLoop::builder(m)
        .tool(tool.clone())
        .tool_concurrency(1)
        .build()
        .unwrap();
    let session = Session::new("serial");
    let run = agent.run(&session, "go");
    let res = tokio::time::timeout(Duration::from_millis(300), run).await;
    assert!(res.is_err(), "calls overlapped despite tool_concurrency(1)");
    assert_eq!(tool.entered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn pre_tool_use_block_is_a_model_visible_error_and_the_tool_never_runs() {
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: shell, args: {command: "rm -rf /"}}]
  - expect: {last_message_contains: ["Blocked by a PreToolUse hook: destructive command"]}
    final: I will not do that.
"#,
    );
    let shell = RecordingTool::echo("shell");
    let hook = FnHook::for_tool("deny-rm", HookEvent::PreToolUse, "shell", |input| {
        let HookInput {
            payload: sre_core::HookPayload::PreToolUse { tool_input, .. },
            ..
        } = input
        else {
            unreachable!()
        };
        if tool_input["command"]
            .as_str()
            .unwrap_or("")
            .contains("rm -rf")
        {
            HookDecision::block("destructive command")
        } else {
            HookDecision::allow()
        }
    });
    let agent = AgentLoop::builder(m.clone())
        .tool(shell.clone())
        .hook(hook.clone())
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("block"), "clean up").await.unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert!(shell.calls().is_empty(), "a blocked tool must not run");
    assert_eq!(hook.seen().len(), 1);
    let last = m.requests().last().unwrap().clone();
    let result = last.messages.last().unwrap();
    assert!(matches!(
        &result.content[0],
        ContentBlock::ToolResult { is_error: true, .. }
    ));
}

#[tokio::test]
async fn pre_tool_use_rewrite_changes_the_input_the_tool_sees() {
    let m = model(
        "turns:\n  - tool_calls: [{tool: query, args: {q: 'SELECT * FROM t'}}]\n  - final: ok\n",
    );
    let tool = RecordingTool::echo("query");
    let hook = FnHook::new("limit", HookEvent::PreToolUse, |_| {
        HookDecision::rewrite(json!({"q": "SELECT * FROM t LIMIT 100"}))
    });
    let agent = AgentLoop::builder(m)
        .tool(tool.clone())
        .hook(hook)
        .build()
        .unwrap();
    agent.run(&Session::new("rewrite"), "query").await.unwrap();
    assert_eq!(
        tool.calls(),
        vec![json!({"q": "SELECT * FROM t LIMIT 100"})]
    );
}

#[tokio::test]
async fn post_tool_use_block_withholds_output_and_says_the_call_ran() {
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: read_secret}]
  - expect:
      last_message_contains: ["withheld", "already ran", "contains a secret"]
      prompt_excludes: ["hunter2"]
    final: ok
"#,
    );
    let tool = RecordingTool::new("read_secret", |_| Ok(ToolOutput::ok("password=hunter2")));
    let hook = FnHook::new("dlp", HookEvent::PostToolUse, |_| {
        HookDecision::block("contains a secret")
    });
    let agent = AgentLoop::builder(m)
        .tool(tool.clone())
        .hook(hook)
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("post"), "read").await.unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(tool.calls().len(), 1, "PostToolUse runs after the call");
}

#[tokio::test]
async fn post_tool_use_failure_hook_sees_failed_calls_and_adds_context() {
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: flaky}]
  - expect: {last_message_contains: ["exit status 3", "<hook-context>", "check the runbook"]}
    final: ok
"#,
    );
    let tool = RecordingTool::new("flaky", |_| Ok(ToolOutput::error("exit status 3")));
    let hook = FnHook::new("advice", HookEvent::PostToolUseFailure, |input| {
        assert_eq!(input.to_json()["tool_succeeded"], json!(false));
        HookDecision::allow().with_context("check the runbook")
    });
    let agent = AgentLoop::builder(m)
        .tool(tool)
        .hook(hook.clone())
        .build()
        .unwrap();
    agent.run(&Session::new("failure"), "go").await.unwrap();
    assert_eq!(hook.seen().len(), 1);
}

#[tokio::test]
async fn stop_rejection_feeds_the_reason_back_and_the_loop_continues() {
    let m = model(
        r#"
turns:
  - final: It is probably the database.
  - expect: {last_message_contains: ["needs a Root Cause section"]}
    tool_calls: [{tool: probe}]
  - final: "Root Cause: pool exhausted. Evidence: 4,211 PoolTimeoutError lines."
"#,
    );
    let hook = FnHook::new("quality", HookEvent::Stop, |input| {
        let out = input.to_json()["final_output"]
            .as_str()
            .unwrap()
            .to_string();
        if out.contains("Root Cause") {
            HookDecision::allow()
        } else {
            HookDecision::block("needs a Root Cause section")
        }
    });
    let agent = AgentLoop::builder(m)
        .tool(RecordingTool::echo("probe"))
        .hook(hook.clone())
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("stop"), "why?").await.unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(
        outcome.stop_rejections,
        vec!["needs a Root Cause section".to_string()]
    );
    assert!(outcome.answer.unwrap().starts_with("Root Cause"));
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].to_json()["stop_hook_active"], json!(false));
    assert_eq!(seen[1].to_json()["stop_hook_active"], json!(true));
    assert_eq!(seen[1].to_json()["stop_rejection_count"], json!(1));
}

#[tokio::test]
async fn after_max_rejections_the_answer_is_returned_with_the_rejection_recorded() {
    let m = model("turns:\n  - final: a\n  - final: b\n  - final: c\n");
    let hook = FnHook::new("never", HookEvent::Stop, |_| {
        HookDecision::block("not good enough")
    });
    let store = Arc::new(InMemorySessionStore::new());
    let agent = AgentLoop::builder(m)
        .hook(hook)
        .max_stop_rejections(2)
        .session_store(store.clone())
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("maxrej"), "answer").await.unwrap();
    assert_eq!(
        outcome.cause,
        StopCause::MaxRejections {
            last_reason: "not good enough".into()
        }
    );
    assert_eq!(outcome.answer.as_deref(), Some("c"));
    assert_eq!(outcome.stop_rejections.len(), 3);
    let records = store.load("maxrej").await.unwrap().records;
    let rejected = records
        .iter()
        .filter(|r| matches!(r, SessionRecord::StopRejected { .. }))
        .count();
    assert_eq!(rejected, 3);
}

#[tokio::test]
async fn max_turns_ends_the_run_with_a_clear_outcome() {
    let m = model(
        "turns:\n  - tool_calls: [{tool: t}]\n  - tool_calls: [{tool: t}]\n  - tool_calls: [{tool: t}]\n  - final: never reached\n",
    );
    let agent = AgentLoop::builder(m.clone())
        .tool(RecordingTool::echo("t"))
        .max_turns(2)
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("turns"), "loop").await.unwrap();
    assert_eq!(outcome.cause, StopCause::MaxTurns);
    assert_eq!(outcome.answer, None);
    assert_eq!(outcome.turns, 2);
    assert_eq!(m.requests().len(), 2);
}

#[tokio::test]
async fn stop_decision_from_a_pre_tool_use_hook_ends_the_run() {
    let m = model("turns:\n  - tool_calls: [{tool: t}]\n  - final: unreachable\n");
    let tool = RecordingTool::echo("t");
    let hook = FnHook::new("kill-switch", HookEvent::PreToolUse, |_| {
        HookDecision::stop("change freeze")
    });
    let agent = AgentLoop::builder(m.clone())
        .tool(tool.clone())
        .hook(hook)
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("kill"), "go").await.unwrap();
    assert_eq!(
        outcome.cause,
        StopCause::StoppedByHook {
            reason: "change freeze".into()
        }
    );
    assert!(tool.calls().is_empty());
    assert_eq!(m.requests().len(), 1);
}

struct Policy(bool);
#[async_trait::async_trait]
impl Approver for Policy {
    async fn approve(&self, input: &HookInput, reason: &str) -> bool {
        assert_eq!(input.tool_name(), Some("restart"));
        assert_eq!(reason, "restarts production");
        self.0
    }
}

#[tokio::test]
async fn ask_goes_to_the_approver_and_without_one_is_a_deny() {
    for (approver, ran, says) in [
        (Some(true), true, "ran with"),
        (
            Some(false),
            false,
            "Denied by the approver: restarts production",
        ),
        (None, false, "no approver is configured"),
    ] {
        let m = model(&format!(
            "turns:\n  - tool_calls: [{{tool: restart}}]\n  - expect: {{last_message_contains: [\"{says}\"]}}\n    final: ok\n"
        ));
        let tool = RecordingTool::echo("restart");
        let hook = FnHook::new("review", HookEvent::PreToolUse, |_| {
            HookDecision::ask("restarts production")
        });
        let mut b = AgentLoop::builder(m).tool(tool.clone()).hook(hook);
        if let Some(a) = approver {
            b = b.approver(Arc::new(Policy(a)));
        }
        b.build()
            .unwrap()
            .run(&Session::new("ask"), "restart it")
            .await
            .unwrap();
        assert_eq!(!tool.calls().is_empty(), ran);
    }
}

#[tokio::test]
async fn decisions_merge_with_deny_over_ask_over_allow() {
    let m = model(
        "turns:\n  - tool_calls: [{tool: t}]\n  - expect: {last_message_contains: [\"Blocked by a PreToolUse hook: no\"]}\n    final: ok\n",
    );
    let tool = RecordingTool::echo("t");
    let agent = AgentLoop::builder(m)
        .tool(tool.clone())
        .hook(FnHook::new("allow", HookEvent::PreToolUse, |_| {
            HookDecision::allow()
        }))
        .hook(FnHook::new("ask", HookEvent::PreToolUse, |_| {
            HookDecision::ask("maybe")
        }))
        .hook(FnHook::new("deny", HookEvent::PreToolUse, |_| {
            HookDecision::block("no")
        }))
        .approver(Arc::new(Policy(true)))
        .build()
        .unwrap();
    agent.run(&Session::new("merge"), "go").await.unwrap();
    assert!(tool.calls().is_empty());
}

#[tokio::test]
async fn invalid_tool_input_and_unknown_tools_are_model_visible_errors() {
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: nope}, {tool: strict, args: {n: "x"}}]
  - expect: {last_message_contains: ["Unknown tool `nope`", "bad n"]}
    final: ok
"#,
    );
    let strict = RecordingTool::new("strict", |input| {
        if input["n"].is_number() {
            Ok(ToolOutput::ok("fine"))
        } else {
            Err(ToolError::Invalid("bad n".into()))
        }
    });
    let agent = AgentLoop::builder(m).tool(strict).build().unwrap();
    assert_eq!(
        agent
            .run(&Session::new("errors"), "go")
            .await
            .unwrap()
            .cause,
        StopCause::Completed
    );
}

#[tokio::test]
async fn a_fatal_tool_error_stops_the_run() {
    let m = model("turns:\n  - tool_calls: [{tool: disk}]\n  - final: ok\n");
    let tool = RecordingTool::new("disk", |_| {
        Err(ToolError::Fatal("store is read-only".into()))
    });
    let agent = AgentLoop::builder(m).tool(tool).build().unwrap();
    let err = agent.run(&Session::new("fatal"), "go").await.unwrap_err();
    assert!(
        matches!(err, sre_core::Error::ToolFatal { ref tool, .. } if tool == "disk"),
        "{err}"
    );
}

#[tokio::test]
async fn user_prompt_submit_can_refuse_a_task_or_add_context() {
    let m =
        model("turns:\n  - expect: {last_message_contains: [\"ticket INC-1\"]}\n    final: ok\n");
    let hook = FnHook::new("ctx", HookEvent::UserPromptSubmit, |input| {
        let p = input.to_json()["prompt"].as_str().unwrap().to_string();
        if p.contains("password") {
            HookDecision::block("no secrets in prompts")
        } else {
            HookDecision::allow().with_context("ticket INC-1")
        }
    });
    let agent = AgentLoop::builder(m.clone()).hook(hook).build().unwrap();
    let blocked = agent
        .run(&Session::new("ups1"), "my password is x")
        .await
        .unwrap();
    assert_eq!(
        blocked.cause,
        StopCause::PromptBlocked {
            reason: "no secrets in prompts".into()
        }
    );
    assert!(m.requests().is_empty());
    let ok = agent
        .run(&Session::new("ups2"), "investigate")
        .await
        .unwrap();
    assert_eq!(ok.cause, StopCause::Completed);
}

#[tokio::test]
async fn duplicate_and_invalid_tool_names_are_rejected_at_build() {
    let m = model("turns:\n  - final: x\n");
    let err = AgentLoop::builder(m.clone())
        .tool(RecordingTool::echo("a"))
        .tool(RecordingTool::echo("a"))
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("two tools are named `a`"));
    let err = AgentLoop::builder(m)
        .tool(RecordingTool::echo("has space"))
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("has space"));
}

#[tokio::test]
async fn events_follow_the_loop_in_order() {
    let m = model("turns:\n  - tool_calls: [{tool: t}]\n  - final: done\n");
    let log = Arc::new(EventLog::default());
    let agent = AgentLoop::builder(m)
        .tool(RecordingTool::echo("t"))
        .streaming(true)
        .build()
        .unwrap();
    agent
        .run(&Session::new("events").with_events(log.clone()), "go")
        .await
        .unwrap();
    assert_eq!(
        log.kinds(),
        vec![
            "session_started",
            "turn_started",
            "model_request",
            "model_response",
            "tool_started",
            "tool_finished",
            "turn_started",
            "model_request",
            "text_delta",
            "model_response",
            "finished"
        ]
    );
}

#[tokio::test]
async fn a_second_task_continues_the_conversation_and_an_unfinished_run_must_be_resumed() {
    let m = model(
        "turns:\n  - final: first\n  - expect: {prompt_contains: [\"first\", \"second task\"]}\n    final: second\n",
    );
    let store = Arc::new(InMemorySessionStore::new());
    let agent = AgentLoop::builder(m.clone())
        .session_store(store.clone())
        .build()
        .unwrap();
    let s = Session::new("conv");
    assert_eq!(
        agent.run(&s, "first task").await.unwrap().answer.as_deref(),
        Some("first")
    );
    assert_eq!(
        agent
            .run(&s, "second task")
            .await
            .unwrap()
            .answer
            .as_deref(),
        Some("second")
    );
    assert_eq!(m.requests()[1].messages.len(), 3);

    // A transcript that ends in the middle of a run refuses a new task.
    let mut records = store.load("conv").await.unwrap().records;
    records.pop();
    store.insert("conv2", records);
    let err = agent
        .run(&Session::new("conv2"), "third")
        .await
        .unwrap_err();
    assert!(
        matches!(err, sre_core::Error::UnfinishedRun { .. }),
        "{err}"
    );
}

struct FakeMemory;
#[async_trait::async_trait]
impl MemoryStore for FakeMemory {
    async fn index(&self) -> sre_core::Result<String> {
        Ok(String::new())
    }
    async fn remember(
        &self,
        fact: &str,
        topic: Option<&str>,
        source: &str,
    ) -> sre_core::Result<String> {
        assert_eq!(
            (fact, topic, source),
            ("the ledger times out after 30 s", None, "user")
        );
        Ok("m-1".into())
    }
    async fn forget(&self, selector: &str, _source: &str) -> sre_core::Result<Vec<String>> {
        Ok(if selector == "m-1" {
            vec!["m-1".into()]
        } else {
            vec![]
        })
    }
    async fn retrieve(&self, _query: &str, _limit: usize) -> sre_core::Result<Vec<MemoryHit>> {
        Ok(vec![MemoryHit {
            id: "m-1".into(),
            path: "logs.md".into(),
            text: "fact".into(),
            note: Some("verified 43 days ago".into()),
        }])
    }
}

#[tokio::test]
async fn memory_commands_are_handled_without_the_model() {
    let m = model("turns:\n  - final: unused\n");
    let agent = AgentLoop::builder(m.clone())
        .memory(Arc::new(FakeMemory))
        .build()
        .unwrap();
    let s = Session::new("mem");
    let o = agent
        .run(&s, "#remember the ledger times out after 30 s")
        .await
        .unwrap();
    assert_eq!(
        (o.cause, o.answer.as_deref()),
        (StopCause::MemoryCommand, Some("Remembered as m-1."))
    );
    let o = agent.run(&s, "#forget m-1").await.unwrap();
    assert_eq!(o.answer.as_deref(), Some("Deprecated: m-1."));
    let o = agent.run(&s, "#retrieve ledger").await.unwrap();
    assert_eq!(
        o.answer.as_deref(),
        Some("- [m-1] fact (logs.md; verified 43 days ago)")
    );
    assert!(m.requests().is_empty());
}

#[tokio::test]
async fn cancellation_mid_tool_stops_promptly_and_leaves_a_consistent_transcript() {
    let m =
        model("turns:\n  - tool_calls: [{tool: hang}, {tool: quick}]\n  - final: unreachable\n");
    let started = Arc::new(tokio::sync::Notify::new());
    struct Hang(sre_core::ToolSpec, Arc<tokio::sync::Notify>);
    #[async_trait::async_trait]
    impl sre_core::Tool for Hang {
        fn spec(&self) -> &sre_core::ToolSpec {
            &self.0
        }
        async fn call(
            &self,
            _i: serde_json::Value,
            _c: &sre_core::ToolContext,
        ) -> Result<ToolOutput, ToolError> {
            self.1.notify_one();
            std::future::pending().await
        }
    }
    let hang = Arc::new(Hang(
        sre_core::ToolSpec {
            name: "hang".into(),
            description: "never returns".into(),
            input_schema: json!({"type": "object"}),
        },
        started.clone(),
    ));
    let store = Arc::new(InMemorySessionStore::new());
    let agent = AgentLoop::builder(m.clone())
        .tool(hang)
        .tool(RecordingTool::echo("quick"))
        .session_store(store.clone())
        .build()
        .unwrap();
    let session = Session::new("cancel");
    let cancel = session.cancel.clone();
    let run = tokio::spawn({
        let agent = agent.clone();
        let session = session.clone();
        async move { agent.run(&session, "go").await }
    });
    started.notified().await;
    cancel.cancel();
    let result = within(run).await.unwrap();
    assert!(
        matches!(result, Err(sre_core::Error::Cancelled)),
        "{result:?}"
    );

    let records = store.load("cancel").await.unwrap().records;
    assert!(matches!(
        records.last(),
        Some(SessionRecord::Finished {
            cause: StopCause::Cancelled,
            ..
        })
    ));
    // Rebuild the transcript: every tool use has a result, marked as cancelled.
    let mut request = sre_core::ModelRequest::default();
    for r in &records {
        match r {
            SessionRecord::Task { message, .. } | SessionRecord::Message { message, .. } => {
                request.messages.push(message.clone())
            }
            _ => {}
        }
    }
    assert_every_tool_use_answered(&request);
    let last = request.messages.last().unwrap();
    assert_eq!(last.role, Role::User);
    // The call that completed keeps its real result; only the one still running is
    // recorded as cancelled, honestly worded (it may have taken effect).
    let results: Vec<(&str, &str, bool)> = last
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => Some((tool_use_id.as_str(), content.as_str(), *is_error)),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2);
    assert!(
        results[0]
            .1
            .starts_with("Cancelled while `hang` was running")
            && results[0].2,
        "{results:?}"
    );
    assert_eq!((results[1].1, results[1].2), ("ran with {}", false));
    assert_eq!(m.requests().len(), 1, "no model call after cancellation");
}

struct HangingHook;
#[async_trait::async_trait]
impl sre_core::Hook for HangingHook {
    fn name(&self) -> &str {
        "hangs"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PreToolUse
    }
    async fn run(
        &self,
        _input: &HookInput,
        _ctx: &sre_core::HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_hook_that_never_decides_times_out_and_is_reported() {
    let m = model("turns:\n  - tool_calls: [{tool: t}]\n  - final: ok\n");
    let tool = RecordingTool::echo("t");
    let log = Arc::new(EventLog::default());
    let agent = AgentLoop::builder(m)
        .tool(tool.clone())
        .hook(Arc::new(HangingHook))
        .hook_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let outcome = within(agent.run(&Session::new("hang").with_events(log.clone()), "go"))
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(tool.calls().len(), 1, "a failed hook does not decide");
    assert!(log.kinds().contains(&"hook_failed".to_string()));
}

#[tokio::test]
async fn refused_calls_and_system_messages_are_events() {
    let m = model("turns:\n  - tool_calls: [{tool: t}]\n  - final: ok\n");
    let log = Arc::new(EventLog::default());
    let hook = FnHook::new("deny", HookEvent::PreToolUse, |_| HookDecision {
        system_message: Some("blocked a risky call".into()),
        ..HookDecision::block("risky")
    });
    let agent = AgentLoop::builder(m)
        .tool(RecordingTool::echo("t"))
        .hook(hook)
        .build()
        .unwrap();
    agent
        .run(&Session::new("refused").with_events(log.clone()), "go")
        .await
        .unwrap();
    let events = log.0.lock().unwrap().clone();
    let refused = events.iter().find_map(|e| match &e.kind {
        sre_core::EventKind::ToolRefused { reason, ran, .. } => Some((reason.clone(), *ran)),
        _ => None,
    });
    assert_eq!(
        refused,
        Some(("Blocked by a PreToolUse hook: risky".to_string(), false))
    );
    assert!(events.iter().any(|e| matches!(&e.kind, sre_core::EventKind::HookDecision { system_message: Some(m), .. } if m == "blocked a risky call")));
}
