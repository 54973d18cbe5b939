//! Agents called as tools (`AgentLoop::as_tool`) through a real loop: the child runs in its
//! own session with its own model and tools, its usage is a row of the caller's ledger, its
//! events reach the caller's sink, a caller killed mid-child resumes the child, the caller's
//! cancellation reaches the child, and the ledger reloaded from the transcripts (children
//! and grandchildren) equals the one before. Also: the temperature reaches every request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::subagent::child_session_id;
use sre_core::{
    Agent, AgentLoop, Error, JsonlSessionStore, ModelInfo, Pricing, ScriptedModel, Session,
    SessionRecord, SessionStore, StopCause, SubagentOptions, Tool, ToolAnnotations, ToolContext,
    ToolError, ToolOutput, ToolSpec,
};
use support::{EventLog, RecordingTool};

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap().recording())
}

/// A scripted model with prices, so a row priced with the wrong model shows.
fn priced(yaml: &str, input_per_mtok: f64) -> Arc<ScriptedModel> {
    let mut info = ModelInfo::new("scripted:priced", 200_000);
    info.pricing = Pricing {
        input_per_mtok,
        output_per_mtok: input_per_mtok * 4.0,
        ..Pricing::default()
    };
    Arc::new(
        ScriptedModel::from_yaml(yaml)
            .unwrap()
            .with_info(info)
            .recording(),
    )
}

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the run did not finish")
}

const LEAD: &str = r#"
turns:
  - tool_calls: [{tool: db, args: {task: "Is the orders pool exhausted?"}}]
  - expect: {last_message_contains: ["pool exhausted: 100 of 100 connections"]}
    final: The orders pool is exhausted.
"#;

const DB: &str = r#"
turns:
  - tool_calls: [{tool: query, args: {sql: "select count(*) from pg_stat_activity"}}]
  - final: "pool exhausted: 100 of 100 connections"
"#;

#[tokio::test]
async fn an_agent_called_as_a_tool_answers_from_its_own_session_and_ledger_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let query = RecordingTool::reader("query");
    let db_model = priced(DB, 3.0);
    let db = AgentLoop::builder(db_model.clone())
        .name("db-expert")
        .system_prompt("You are the database expert.")
        .tool(query.clone())
        .session_store(store.clone())
        .build()
        .unwrap();
    let tool = db.as_tool(
        "db",
        "Ask the database expert; give it a self-contained task.",
    );
    assert_eq!(tool.spec().input_schema["required"], json!(["task"]));
    let a = tool.annotations();
    assert!(a.read_only && a.idempotent && !a.destructive, "{a:?}");

    let lead_model = model(LEAD);
    let lead = AgentLoop::builder(lead_model.clone())
        .name("lead")
        .tool(tool)
        .session_store(store.clone())
        .build()
        .unwrap();
    let log = Arc::new(EventLog::default());
    let out = within(lead.run(&Session::new("p").with_events(log.clone()), "why 503?"))
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("The orders pool is exhausted."));

    // Its own model, prompt and tools; its own session.
    let child = child_session_id("p", "call_default_00_0", "db");
    let child_requests = db_model.requests();
    assert_eq!(child_requests.len(), 2);
    assert!(
        child_requests
            .iter()
            .all(|r| r.agent == "lead/db" && r.session_id == child)
    );
    assert_eq!(
        child_requests[0].system[0].text,
        "You are the database expert."
    );
    assert_eq!(query.calls().len(), 1);
    let records = store.load(&child).await.unwrap().records;
    assert!(records.iter().any(
        |r| matches!(r, SessionRecord::Task { text, .. } if text == "Is the orders pool exhausted?")
    ));
    // Its ledger row, priced with its model.
    assert_eq!(out.usage.agents["lead"].requests, 2);
    let row = &out.usage.agents["lead/db"];
    assert_eq!(row.requests, 2);
    assert!(row.cost_usd > 0.0 && out.usage.agents["lead"].cost_usd == 0.0);
    // Its events reached the caller's sink.
    let events = log.0.lock().unwrap();
    assert!(events.iter().any(|e| e.agent == "lead/db"
        && matches!(&e.kind, sre_core::EventKind::ToolStarted { name, .. } if name == "query")));

    // A child that may change the world makes the tool not read-only.
    let writer = AgentLoop::builder(model(DB))
        .tool(RecordingTool::echo("restart"))
        .build()
        .unwrap()
        .as_tool("ops", "Ask the operator.");
    let a = writer.annotations();
    assert!(!a.read_only && a.idempotent, "{a:?}");
}

/// A read-only tool that waits until released (or its call is cancelled).
struct Gate {
    spec: ToolSpec,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Gate {
            spec: ToolSpec {
                name: "wait".into(),
                description: "waits".into(),
                input_schema: json!({"type": "object"}),
            },
            entered: tokio::sync::Notify::new(),
            release: tokio::sync::Notify::new(),
        })
    }
}

#[async_trait]
impl Tool for Gate {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }
    async fn call(&self, _input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.entered.notify_one();
        tokio::select! {
            _ = self.release.notified() => Ok(ToolOutput::ok("waited")),
            _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }
}

const SLOW_CHILD: &str = "turns:\n  - tool_calls: [{tool: wait}]\n  - final: \"pool exhausted: 100 of 100 connections\"\n";

fn slow_team(store: Arc<JsonlSessionStore>, gate: Arc<Gate>) -> AgentLoop {
    let db = AgentLoop::builder(model(SLOW_CHILD))
        .name("db-expert")
        .tool(gate)
        .session_store(store.clone())
        .build()
        .unwrap();
    AgentLoop::builder(model(LEAD))
        .name("lead")
        .tool(db.as_tool("db", "Ask the database expert."))
        .session_store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_caller_killed_mid_child_resumes_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    // First process: the child is inside its tool when the process dies.
    let gate = Gate::new();
    let lead = slow_team(store.clone(), gate.clone());
    let run = tokio::spawn(async move { lead.run(&Session::new("p"), "why 503?").await });
    within(gate.entered.notified()).await;
    run.abort();
    let _ = run.await;
    // Second process: the caller resumes, and so does the child (not started over).
    let gate = Gate::new();
    let lead = slow_team(store.clone(), gate.clone());
    let resumed = tokio::spawn(async move { lead.resume(&Session::new("p")).await });
    within(gate.entered.notified()).await;
    gate.release.notify_one();
    let out = within(resumed).await.unwrap().unwrap();
    assert_eq!(out.answer.as_deref(), Some("The orders pool is exhausted."));
    let child = child_session_id("p", "call_default_00_0", "db");
    let records = store.load(&child).await.unwrap().records;
    let count = |f: fn(&SessionRecord) -> bool| records.iter().filter(|r| f(r)).count();
    assert_eq!(count(|r| matches!(r, SessionRecord::Start { .. })), 1);
    assert_eq!(count(|r| matches!(r, SessionRecord::Task { .. })), 1);
    assert_eq!(out.usage.agents["lead/db"].requests, 2);
}

#[tokio::test]
async fn the_callers_cancellation_reaches_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let gate = Gate::new();
    let lead = slow_team(store.clone(), gate.clone());
    let session = Session::new("p");
    let cancel = session.cancel.clone();
    let run = tokio::spawn(async move { lead.run(&session, "why 503?").await });
    within(gate.entered.notified()).await;
    cancel.cancel();
    let result = within(run).await.unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    let child = child_session_id("p", "call_default_00_0", "db");
    let records = store.load(&child).await.unwrap().records;
    assert_eq!(
        records.last(),
        Some(&SessionRecord::Finished {
            cause: StopCause::Cancelled,
            answer: None
        })
    );
}

#[tokio::test]
async fn usage_reloaded_from_the_transcripts_equals_the_usage_before() {
    // lead -> db (agent tool) -> sql (agent tool of db), plus spawned subagents of lead:
    // every row must come back when the lead's session is loaded by a new process.
    let lead_script = r#"
turns:
  - tool_calls:
      - {tool: db, args: {task: "Is the orders pool exhausted?"}}
      - {tool: spawn_subagents, args: {tasks: [{name: net, prompt: "check the network"}]}}
  - final: The orders pool is exhausted.
agents:
  net:
    - final: network fine
"#;
    let db_script = "turns:\n  - tool_calls: [{tool: sql, args: {task: count connections}}]\n  - final: pool exhausted\n";
    let sql_script = "turns:\n  - final: 100 connections\n";
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let team = || {
        let sql = AgentLoop::builder(priced(sql_script, 5.0))
            .name("sql")
            .session_store(store.clone())
            .build()
            .unwrap();
        let db = AgentLoop::builder(priced(db_script, 3.0))
            .name("db-expert")
            .tool(sql.as_tool("sql", "Ask the SQL expert."))
            .session_store(store.clone())
            .build()
            .unwrap();
        AgentLoop::builder(model(lead_script))
            .name("lead")
            .tool(db.as_tool("db", "Ask the database expert."))
            .subagents(SubagentOptions::default())
            .session_store(store.clone())
            .build()
            .unwrap()
    };
    let before = within(team().run(&Session::new("p"), "why 503?"))
        .await
        .unwrap()
        .usage;
    let rows: Vec<&str> = before.agents.keys().map(String::as_str).collect();
    assert_eq!(rows, ["lead", "lead/db", "lead/db/sql", "lead/net"]);
    let after = within(team().resume(&Session::new("p")))
        .await
        .unwrap()
        .usage;
    assert_eq!(after, before);
}

#[tokio::test]
async fn the_temperature_reaches_every_request_of_the_run_and_its_subagents() {
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: spawn_subagents, args: {tasks: [{name: net, prompt: "check the network"}]}}]
  - final: done
agents:
  net:
    - final: network fine
"#,
    );
    let agent = AgentLoop::builder(m.clone())
        .name("lead")
        .temperature(0.2)
        .subagents(SubagentOptions::default())
        .build()
        .unwrap();
    within(agent.run(&Session::new("t"), "go")).await.unwrap();
    let requests = m.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().any(|r| r.agent == "lead/net"));
    assert!(requests.iter().all(|r| r.temperature == Some(0.2)));
    let err = AgentLoop::builder(m)
        .temperature(f32::NAN)
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("temperature"), "{err}");
}
