//! Sessions that cannot be corrupted and side effects that never run twice: refused and
//! cancelled prompts, one writer per session, subagent sessions, resume of started calls,
//! per-session tool state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::{
    Agent, AgentLoop, ContentBlock, Error, HookDecision, HookEvent, InMemorySessionStore,
    JsonlSessionStore, ScriptedModel, Session, SessionRecord, SessionStore, StopCause,
    SubagentOptions, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec,
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

#[tokio::test]
async fn a_refused_prompt_leaves_the_session_usable_with_the_refusal_recorded() {
    let m = model("turns:\n  - final: checked\n");
    let store = Arc::new(InMemorySessionStore::new());
    let agent = AgentLoop::builder(m.clone())
        .hook(FnHook::new("gate", HookEvent::UserPromptSubmit, |i| {
            if i.to_json()["prompt"].as_str().unwrap().contains("drop") {
                HookDecision::block("no destructive tasks")
            } else {
                HookDecision::allow()
            }
        }))
        .session_store(store.clone())
        .build()
        .unwrap();
    let session = Session::new("thread-1");
    let refused = agent.run(&session, "drop the orders table").await.unwrap();
    assert_eq!(
        refused.cause,
        StopCause::PromptBlocked {
            reason: "no destructive tasks".into()
        }
    );
    // The same session takes the next task (before the fix: UnfinishedRun).
    let next = agent.run(&session, "check the pool").await.unwrap();
    assert_eq!(next.answer.as_deref(), Some("checked"));
    let records = store.load("thread-1").await.unwrap().records;
    let refusal = records
        .iter()
        .find_map(|r| match r {
            SessionRecord::TaskRefused { text, cause } => Some((text.clone(), cause.clone())),
            _ => None,
        })
        .expect("the refusal is recorded");
    assert_eq!(refusal.0, "drop the orders table");
    // The refused task never reached the model.
    let sent = m.requests();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].messages.iter().any(|m| m.text().contains("drop")));
}

#[tokio::test]
async fn a_cancel_during_the_prompt_hooks_leaves_the_session_usable() {
    let m = model("turns:\n  - final: done\n");
    let store = Arc::new(InMemorySessionStore::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    struct Slow(Arc<tokio::sync::Notify>, AtomicUsize);
    #[async_trait]
    impl sre_core::Hook for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        fn handles(&self, i: &sre_core::HookInput) -> bool {
            i.event() == HookEvent::UserPromptSubmit
        }
        async fn run(
            &self,
            _i: &sre_core::HookInput,
            _c: &sre_core::HookContext,
        ) -> Result<HookDecision, Error> {
            if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                self.0.notify_one();
                std::future::pending::<()>().await;
            }
            Ok(HookDecision::allow())
        }
    }
    let agent = AgentLoop::builder(m.clone())
        .hook(Arc::new(Slow(entered.clone(), AtomicUsize::new(0))))
        .session_store(store.clone())
        .build()
        .unwrap();
    let session = Session::new("s");
    let run = tokio::spawn({
        let (agent, session) = (agent.clone(), session.clone());
        async move { agent.run(&session, "first").await }
    });
    entered.notified().await;
    session.cancel.cancel();
    assert!(matches!(within(run).await.unwrap(), Err(Error::Cancelled)));
    let records = store.load("s").await.unwrap().records;
    assert!(matches!(
        records.last(),
        Some(SessionRecord::TaskRefused {
            cause: StopCause::Cancelled,
            ..
        })
    ));
    // A refused task is not an interrupted run: `resume` does not send it to the model.
    let resumed = agent.resume(&Session::new("s")).await.unwrap();
    assert_eq!(resumed.cause, StopCause::Cancelled);
    assert!(
        m.requests().is_empty(),
        "the refused task reached the model"
    );
    let next = agent.run(&Session::new("s"), "second").await.unwrap();
    assert_eq!(next.answer.as_deref(), Some("done"));
}

#[tokio::test]
async fn the_task_is_written_with_the_session_start_so_a_crash_cannot_lose_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let agent = AgentLoop::builder(model("turns:\n  - final: ok\n"))
        .system_prompt("You are an SRE agent.")
        .session_store(store.clone())
        .build()
        .unwrap();
    agent.run(&Session::new("a"), "INCIDENT-1").await.unwrap();
    let text = std::fs::read_to_string(store.path_of("a").unwrap()).unwrap();
    // Start and Task are one write: nothing on disk holds a start without its task.
    let first_two: Vec<&str> = text.lines().take(2).collect();
    assert!(first_two[0].starts_with("{\"record\":\"start\""));
    assert!(first_two[1].starts_with("{\"record\":\"task\""));

    // A transcript left with a start and no task (by an older version) is not an
    // unfinished run: `run` takes a task, `resume` says clearly there is nothing to resume.
    std::fs::write(store.path_of("b").unwrap(), format!("{}\n", first_two[0])).unwrap();
    let agent = AgentLoop::builder(model("turns:\n  - final: ok\n"))
        .system_prompt("You are an SRE agent.")
        .session_store(store.clone())
        .build()
        .unwrap();
    let err = agent.resume(&Session::new("b")).await.unwrap_err();
    assert!(err.to_string().contains("no task was recorded"), "{err}");
    let ok = agent.run(&Session::new("b"), "INCIDENT-2").await.unwrap();
    assert_eq!(ok.cause, StopCause::Completed);
}

/// A tool that waits until released, counting its calls.
struct Gate {
    spec: ToolSpec,
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
    calls: AtomicUsize,
    annotations: ToolAnnotations,
}

impl Gate {
    fn new(name: &str, annotations: ToolAnnotations) -> Arc<Self> {
        Arc::new(Gate {
            spec: ToolSpec {
                name: name.into(),
                description: "waits until released".into(),
                input_schema: json!({"type": "object"}),
            },
            entered: Arc::new(tokio::sync::Notify::new()),
            release: Arc::new(tokio::sync::Notify::new()),
            calls: AtomicUsize::new(0),
            annotations,
        })
    }
}

#[async_trait]
impl Tool for Gate {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.entered.notify_one();
        self.release.notified().await;
        Ok(ToolOutput::ok("released"))
    }
}

#[tokio::test]
async fn two_runs_of_one_session_cannot_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let gate = Gate::new("wait", ToolAnnotations::read_only());
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: wait}]\n  - final: done\n",
    ))
    .tool(gate.clone())
    .session_store(store.clone())
    .build()
    .unwrap();
    let first = tokio::spawn({
        let agent = agent.clone();
        async move { agent.run(&Session::new("busy"), "one").await }
    });
    gate.entered.notified().await;
    // A second run in this process, and the same store opened again (as another process
    // would), are both refused while the first one writes.
    let second = agent.run(&Session::new("busy"), "two").await.unwrap_err();
    assert!(matches!(second, Error::SessionBusy { .. }), "{second}");
    let other_store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let other = AgentLoop::builder(model("turns:\n  - final: x\n"))
        .session_store(other_store.clone())
        .build()
        .unwrap();
    assert!(matches!(
        other.resume(&Session::new("busy")).await.unwrap_err(),
        Error::SessionBusy { .. }
    ));
    // The lock is the operating system's: flock(1) in another process sees it.
    let path = store.path_of("busy").unwrap();
    let held = std::process::Command::new("flock")
        .args(["--nonblock", path.to_str().unwrap(), "true"])
        .status()
        .unwrap();
    assert!(!held.success(), "another process must not get the lock");
    gate.release.notify_one();
    within(first).await.unwrap().unwrap();
    let free = std::process::Command::new("flock")
        .args(["--nonblock", path.to_str().unwrap(), "true"])
        .status()
        .unwrap();
    assert!(free.success(), "the lock is released when the run ends");
    // And the next run of the session goes ahead.
    let third = other.run(&Session::new("busy"), "three").await.unwrap();
    assert_eq!(third.answer.as_deref(), Some("x"));
}

#[tokio::test]
async fn loading_never_cuts_a_tail_that_another_writer_is_appending() {
    let dir = tempfile::tempdir().unwrap();
    let writer = JsonlSessionStore::new(dir.path()).unwrap();
    let lock = writer.lock("s").await.unwrap();
    writer
        .append(
            "s",
            &[SessionRecord::TaskRefused {
                text: "x".into(),
                cause: StopCause::Cancelled,
            }],
        )
        .await
        .unwrap();
    // The writer is mid-append: half a line is on disk.
    let path = writer.path_of("s").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"record\":\"fin").unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    // A reader (another store, as another process) loads it: it skips the partial line
    // with a warning and leaves the file alone.
    let reader = JsonlSessionStore::new(dir.path()).unwrap();
    let loaded = reader.load("s").await.unwrap();
    assert_eq!(loaded.records.len(), 1);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
    drop(lock);
    // The next writer repairs it, and says so.
    let next = reader.lock("s").await.unwrap();
    assert_eq!(next.warnings().len(), 1);
    assert!(std::fs::metadata(&path).unwrap().len() < before);
}

#[tokio::test]
async fn one_turn_may_spawn_the_same_subagent_name_twice() {
    let m = model(
        r#"
turns:
  - tool_calls:
      - {tool: spawn_subagents, args: {tasks: [{name: db, prompt: "check pool A"}]}}
      - {tool: spawn_subagents, args: {tasks: [{name: db, prompt: "check pool B"}]}}
  - final: merged
agents:
  db:
    - when: {last_message_contains: ["pool A"]}
      final: pool A fine
    - when: {last_message_contains: ["pool B"]}
      final: pool B fine
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let agent = AgentLoop::builder(m)
        .name("lead")
        .session_store(store.clone())
        .subagents(SubagentOptions::default())
        .build()
        .unwrap();
    let out = within(agent.run(&Session::new("p"), "go")).await.unwrap();
    assert_eq!(out.answer.as_deref(), Some("merged"));
    let a = sre_core::subagent::child_session_id("p", "call_default_00_0", "db");
    let b = sre_core::subagent::child_session_id("p", "call_default_00_1", "db");
    assert_ne!(a, b);
    for id in [&a, &b] {
        let records = store.load(id).await.unwrap().records;
        let tasks = records
            .iter()
            .filter(|r| matches!(r, SessionRecord::Task { .. }))
            .count();
        assert_eq!(tasks, 1, "{id} holds exactly its own task");
    }
    // Both children's usage is in the parent's ledger.
    assert_eq!(out.usage.agents["lead/db"].requests, 2);
}

#[tokio::test]
async fn subagents_in_flight_resume_with_the_parent() {
    let script = r#"
turns:
  - tool_calls:
      - {tool: spawn_subagents, args: {tasks: [{name: slow, prompt: "wait, then report"}, {name: quick, prompt: "report"}]}}
  - final: merged
agents:
  slow:
    - tool_calls: [{tool: wait}]
    - final: slow done
  quick:
    - final: quick done
"#;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let build = |gate: Arc<Gate>| {
        AgentLoop::builder(model(script))
            .name("lead")
            .tool(gate)
            .session_store(store.clone())
            .subagents(SubagentOptions::default())
            .build()
            .unwrap()
    };
    // First process: the slow child is inside its tool when the process dies.
    let gate = Gate::new("wait", ToolAnnotations::read_only());
    let agent = build(gate.clone());
    let run = tokio::spawn(async move { agent.run(&Session::new("p"), "go").await });
    gate.entered.notified().await;
    run.abort();
    let _ = run.await;
    // Second process: resume. The children resume; neither starts over.
    let gate2 = Gate::new("wait", ToolAnnotations::read_only());
    let agent2 = build(gate2.clone());
    let resumed = tokio::spawn(async move { agent2.resume(&Session::new("p")).await });
    gate2.entered.notified().await;
    gate2.release.notify_one();
    let out = within(resumed).await.unwrap().unwrap();
    assert_eq!(out.answer.as_deref(), Some("merged"));
    let slow = sre_core::subagent::child_session_id("p", "call_default_00_0", "slow");
    let records = store.load(&slow).await.unwrap().records;
    let starts = records
        .iter()
        .filter(|r| matches!(r, SessionRecord::Start { .. }))
        .count();
    assert_eq!(starts, 1, "the child was resumed, not restarted");
    let tool_result = out.answer.unwrap();
    assert_eq!(tool_result, "merged");
    // The parent saw both children's answers.
    let parent = store.load("p").await.unwrap().records;
    let results: String = parent
        .iter()
        .filter_map(|r| match r {
            SessionRecord::Message { message, .. } => Some(
                message
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolResult { content, .. } => Some(content.clone()),
                        _ => None,
                    })
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    assert!(
        results.contains("slow done") && results.contains("quick done"),
        "{results}"
    );
    assert!(!results.contains("failed"), "{results}");
}

/// A tool whose calls change the world (not repeatable), counting how often it really ran.
fn restart_tool() -> Arc<RecordingTool> {
    RecordingTool::annotated("restart", ToolAnnotations::unrestricted(), |_| {
        Ok(ToolOutput::ok("restarted pg-orders"))
    })
}

const RESTART_SCRIPT: &str =
    "turns:\n  - tool_calls: [{tool: restart, args: {server: pg-orders}}]\n  - final: done\n";

/// Run once, then cut the transcript just after the first record of `kind` (as a crash
/// there would), and resume with a new loop. Returns the tool's calls on resume and the
/// result the model saw.
async fn crash_after(kind: &str) -> (usize, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let agent = AgentLoop::builder(model(RESTART_SCRIPT))
        .tool(restart_tool())
        .session_store(store.clone())
        .build()
        .unwrap();
    agent
        .run(&Session::new("full"), "restart it")
        .await
        .unwrap();
    let text = std::fs::read_to_string(store.path_of("full").unwrap()).unwrap();
    let mut cut = String::new();
    for line in text.lines() {
        cut.push_str(line);
        cut.push('\n');
        if line.starts_with(&format!("{{\"record\":\"{kind}\"")) {
            break;
        }
    }
    std::fs::write(store.path_of("crashed").unwrap(), &cut).unwrap();
    let tool = restart_tool();
    let resumed = AgentLoop::builder(model(RESTART_SCRIPT))
        .tool(tool.clone())
        .session_store(store.clone())
        .build()
        .unwrap()
        .resume(&Session::new("crashed"))
        .await
        .unwrap();
    assert_eq!(resumed.answer.as_deref(), Some("done"));
    let records = store.load("crashed").await.unwrap().records;
    let result = records
        .iter()
        .rev()
        .find_map(|r| match r {
            SessionRecord::Message { message, .. } => {
                message.content.iter().find_map(|b| match b {
                    ContentBlock::ToolResult { content, .. } => Some(content.clone()),
                    _ => None,
                })
            }
            _ => None,
        })
        .unwrap();
    (tool.calls().len(), result)
}

#[tokio::test]
async fn a_started_call_without_a_result_is_not_run_again_on_resume() {
    let (calls, result) = crash_after("call_started").await;
    assert_eq!(calls, 0, "the restart must not run a second time");
    assert!(result.starts_with("Outcome unknown"), "{result}");
}

#[tokio::test]
async fn a_recorded_result_is_used_on_resume_without_running_again() {
    let (calls, result) = crash_after("call_result").await;
    assert_eq!(calls, 0);
    assert_eq!(result, "restarted pg-orders");
}

#[tokio::test]
async fn a_call_that_never_started_runs_on_resume() {
    // Cut right after the assistant message that asked for the call.
    let (calls, result) = crash_after("message").await;
    assert_eq!(calls, 1);
    assert_eq!(result, "restarted pg-orders");
}

/// A tool that keeps a counter per session and restores it from the transcript.
struct Counter {
    spec: ToolSpec,
    counts: Mutex<HashMap<String, u64>>,
}

#[async_trait]
impl Tool for Counter {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::idempotent_write()
    }
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.restore(&ctx.session_id, &input);
        let n = self.counts.lock().unwrap()[&ctx.session_id];
        Ok(ToolOutput::ok(format!("count {n}")))
    }
    fn restore(&self, session_id: &str, input: &Value) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(session_id.into())
            .or_default() += input["add"].as_u64().unwrap_or(0);
    }
}

fn counter() -> Arc<Counter> {
    Arc::new(Counter {
        spec: ToolSpec {
            name: "count".into(),
            description: "adds to a per-session counter".into(),
            input_schema: json!({"type": "object"}),
        },
        counts: Mutex::new(HashMap::new()),
    })
}

#[tokio::test]
async fn tools_keep_state_per_session_and_get_it_back_when_a_session_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let script = "turns:\n  - tool_calls: [{tool: count, args: {add: 2}}]\n  - final: first\n  - tool_calls: [{tool: count, args: {add: 3}}]\n  - final: second\n";
    let first = AgentLoop::builder(model(script))
        .tool(counter())
        .session_store(store.clone())
        .build()
        .unwrap();
    first.run(&Session::new("a"), "one").await.unwrap();
    // A new process: the follow-up task sees the state the first task left.
    let tool = counter();
    let second = AgentLoop::builder(model(script))
        .tool(tool.clone())
        .session_store(store.clone())
        .build()
        .unwrap();
    second.run(&Session::new("a"), "two").await.unwrap();
    assert_eq!(tool.counts.lock().unwrap()["a"], 5);
    assert!(!tool.counts.lock().unwrap().contains_key("b"));
}
