//! Sessions that lose nothing, prefix stability, and subagents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use sre_core::prompt::canonical_prompt;
use sre_core::session::parse_jsonl;
use sre_core::{
    Agent, AgentLoop, ContextLayer, JsonlSessionStore, ScriptedModel, Session, SessionStore,
    StopCause, SubagentOptions,
};
use support::{BarrierTool, EventLog, RecordingTool, assert_every_tool_use_answered};

/// A 6-step investigation over two deterministic tools.
const SCRIPT: &str = r#"
turns:
  - say: Reading the deploy log.
    tool_calls: [{tool: read, args: {path: deploy.log}}]
  - tool_calls: [{tool: read, args: {path: app.log}}, {tool: grep, args: {pattern: PoolTimeout}}]
  - tool_calls: [{tool: grep, args: {pattern: DB_POOL_MAX}}]
  - say: Checking the config.
    tool_calls: [{tool: read, args: {path: values.yaml}}]
  - final: "Root Cause: DB_POOL_MAX lowered to 5."
"#;

fn agent(store: Arc<JsonlSessionStore>) -> AgentLoop {
    let model = Arc::new(ScriptedModel::from_yaml(SCRIPT).unwrap());
    AgentLoop::builder(model)
        .name("investigator")
        .system_prompt("You are an SRE agent.")
        .tool(RecordingTool::reader("read"))
        .tool(RecordingTool::reader("grep"))
        .session_store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn resume_after_a_crash_at_any_point_gives_the_uninterrupted_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let outcome = agent(store.clone())
        .run(&Session::new("full"), "INCIDENT-1: 503s")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    let full = std::fs::read(store.path_of("full").unwrap()).unwrap();
    let line_ends: Vec<usize> = full
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    assert!(
        line_ends.len() >= 10,
        "expected a multi-step transcript, got {} lines",
        line_ends.len()
    );

    // Cut at every line boundary after the task, and in the middle of every later line.
    let mut cuts = Vec::new();
    for w in line_ends.windows(2).skip(1) {
        cuts.push((w[0], "at a record boundary"));
        cuts.push(((w[0] + w[1]) / 2, "mid-record"));
    }
    for (n, (cut, how)) in cuts.into_iter().enumerate() {
        let id = format!("cut{n}");
        std::fs::write(store.path_of(&id).unwrap(), &full[..cut]).unwrap();
        let log = Arc::new(EventLog::default());
        // A new loop and a new model: as after a process restart.
        let outcome = agent(store.clone())
            .resume(&Session::new(id.clone()).with_events(log.clone()))
            .await
            .unwrap();
        assert_eq!(
            outcome.answer.as_deref(),
            Some("Root Cause: DB_POOL_MAX lowered to 5."),
            "cut {cut} {how}"
        );
        let resumed = std::fs::read(store.path_of(&id).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&resumed),
            String::from_utf8_lossy(&full),
            "cut at byte {cut} ({how})"
        );
        let warned = log.kinds().iter().any(|k| k == "warning");
        assert_eq!(
            warned,
            how == "mid-record",
            "a torn record is reported as a warning (cut {cut})"
        );
    }
}

#[tokio::test]
async fn resuming_a_finished_session_returns_its_outcome_without_model_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let a = agent(store.clone());
    let first = a.run(&Session::new("done"), "go").await.unwrap();
    let before = std::fs::read(store.path_of("done").unwrap()).unwrap();
    let again = a.resume(&Session::new("done")).await.unwrap();
    assert_eq!(again.answer, first.answer);
    assert_eq!(
        again.usage, first.usage,
        "usage is rebuilt from the transcript"
    );
    assert_eq!(
        std::fs::read(store.path_of("done").unwrap()).unwrap(),
        before
    );
}

#[test]
fn a_damaged_record_that_is_not_the_last_is_an_error_naming_the_line() {
    let ok = r#"{"record":"start","agent":"a","system":[]}"#;
    let bytes = format!("{ok}\n{{not json\n{ok}\n");
    let err = parse_jsonl(std::path::Path::new("s.jsonl"), bytes.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let (records, valid, warnings) = parse_jsonl(
        std::path::Path::new("s.jsonl"),
        format!("{ok}\n{{\"rec").as_bytes(),
    )
    .unwrap();
    assert_eq!((records.len(), valid, warnings.len()), (1, ok.len() + 1, 1));
}

#[tokio::test]
async fn session_ids_cannot_escape_the_store_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonlSessionStore::new(dir.path()).unwrap();
    for bad in ["../x", "a/b", "", "..", "x\0y"] {
        assert!(store.path_of(bad).is_err(), "{bad:?} accepted");
        assert!(store.load(bad).await.is_err());
    }
}

struct Layer(&'static str, String);
#[async_trait::async_trait]
impl ContextLayer for Layer {
    fn name(&self) -> &str {
        self.0
    }
    async fn render(&self, _ctx: &sre_core::LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.1.clone())
    }
}

#[tokio::test]
async fn prompt_of_turn_n_is_a_byte_prefix_of_turn_n_plus_one_over_20_turns() {
    let mut yaml = String::from("turns:\n");
    for i in 0..19 {
        let tool = ["read", "grep", "list"][i % 3];
        if i % 4 == 1 {
            yaml.push_str(&format!("  - say: step {i}\n    tool_calls: [{{tool: {tool}, args: {{n: {i}}}}}, {{tool: read, args: {{n: {i}, b: 2}}}}]\n"));
        } else {
            yaml.push_str(&format!(
                "  - tool_calls: [{{tool: {tool}, args: {{z: {i}, a: \"{i}\"}}}}]\n"
            ));
        }
    }
    yaml.push_str("  - final: done\n");
    let model = Arc::new(ScriptedModel::from_yaml(&yaml).unwrap().recording());
    let agent = AgentLoop::builder(model.clone())
        .system_prompt("You are an SRE agent.")
        .layer(Arc::new(Layer(
            "repositories",
            "repos/checkout-api: src/ tests/".into(),
        )))
        .layer(Arc::new(Layer(
            "topology",
            "eastus2: aks-prod -> checkout-api".into(),
        )))
        .tool(RecordingTool::echo("read"))
        .tool(RecordingTool::echo("grep"))
        .tool(RecordingTool::echo("list"))
        .build()
        .unwrap();
    agent
        .run(&Session::new("prefix"), "INCIDENT-4711")
        .await
        .unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 20);
    let names: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["grep", "list", "read"], "tools are sorted by name");
    for (n, pair) in requests.windows(2).enumerate() {
        let (a, b) = (canonical_prompt(&pair[0]), canonical_prompt(&pair[1]));
        assert!(
            b.starts_with(&a),
            "turn {} prompt is not a prefix of turn {}",
            n + 1,
            n + 2
        );
        assert!(b.len() > a.len());
        assert_every_tool_use_answered(&pair[1]);
    }
    // Deterministic: the same inputs give the same bytes.
    assert_eq!(
        canonical_prompt(&requests[5]),
        canonical_prompt(&requests[5].clone())
    );
}

#[tokio::test]
async fn four_subagents_run_concurrently_and_their_usage_rolls_up_exactly() {
    // Each child waits on a barrier of four: the call completes only if all four overlap.
    let mut yaml = String::from(
        "turns:\n  - tool_calls:\n      - tool: spawn_subagents\n        args:\n          tasks:\n",
    );
    for name in ["db", "net", "deploy", "cache"] {
        yaml.push_str(&format!(
            "            - {{name: {name}, prompt: \"check the {name}\", tools: [wait]}}\n"
        ));
    }
    yaml.push_str("  - expect: {last_message_contains: [\"## subagent db\", \"db is fine\", \"## subagent cache\"]}\n    final: merged\nagents:\n");
    for name in ["db", "net", "deploy", "cache"] {
        yaml.push_str(&format!(
            "  {name}:\n    - tool_calls: [{{tool: wait}}]\n    - final: {name} is fine\n"
        ));
    }
    let model = Arc::new(ScriptedModel::from_yaml(&yaml).unwrap().recording());
    let barrier = BarrierTool::new("wait", 4);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let agent = AgentLoop::builder(model.clone())
        .name("lead")
        .tool(barrier.clone())
        .tool(RecordingTool::echo("other"))
        .subagents(SubagentOptions {
            max_parallel: 4,
            ..Default::default()
        })
        .session_store(store.clone())
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        agent.run(&Session::new("tree"), "why 503?"),
    )
    .await
    .expect("subagents did not run concurrently")
    .unwrap();
    assert_eq!(outcome.answer.as_deref(), Some("merged"));

    let ledger = &outcome.usage;
    let agents: Vec<&str> = ledger.agents.keys().map(String::as_str).collect();
    assert_eq!(
        agents,
        ["lead", "lead/cache", "lead/db", "lead/deploy", "lead/net"]
    );
    for (name, row) in &ledger.agents {
        assert_eq!(row.requests, 2, "{name}");
    }
    // Exact: the ledger equals the sum of what the model reported for every request.
    let requests = model.requests();
    assert_eq!(requests.len(), 10);
    let expected_input: u64 = requests
        .iter()
        .map(|r| (canonical_prompt(r).len() as u64).div_ceil(4))
        .sum();
    assert_eq!(ledger.total().usage.input_tokens, expected_input);
    assert_eq!(ledger.total().requests, 10);
    let sum_rows: u64 = ledger.agents.values().map(|r| r.usage.output_tokens).sum();
    assert_eq!(ledger.total().usage.output_tokens, sum_rows);
    // Children only saw the tool they were given, and each has its own transcript.
    let child = requests.iter().find(|r| r.agent == "lead/db").unwrap();
    assert_eq!(
        child
            .tools
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["wait"]
    );
    let child_id = sre_core::subagent::child_session_id("tree", "call_default_00_0", "db");
    assert!(child_id.starts_with("tree--db-"), "{child_id}");
    assert!(store.path_of(&child_id).unwrap().exists());
}

/// A dynamic layer whose text the test changes.
struct Changing(std::sync::Mutex<String>);
#[async_trait::async_trait]
impl ContextLayer for Changing {
    fn name(&self) -> &str {
        "state"
    }
    async fn render(&self, _ctx: &sre_core::LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn is_dynamic(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn dynamic_layer_changes_are_appended_once_even_across_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let layer = Arc::new(Changing(std::sync::Mutex::new(String::new())));
    let script =
        "turns:\n  - tool_calls: [{tool: bump}]\n  - tool_calls: [{tool: read}]\n  - final: done\n";
    let bump = {
        let layer = layer.clone();
        RecordingTool::new("bump", move |_| {
            *layer.0.lock().unwrap() = "H1: pool exhausted (confirmed)".into();
            Ok(sre_core::ToolOutput::ok("updated"))
        })
    };
    let build = |model: Arc<ScriptedModel>| {
        AgentLoop::builder(model)
            .layer(layer.clone())
            .tool(bump.clone())
            .tool(RecordingTool::echo("read"))
            .session_store(store.clone())
            .build()
            .unwrap()
    };
    let model = Arc::new(ScriptedModel::from_yaml(script).unwrap().recording());
    build(model.clone())
        .run(&Session::new("dyn"), "go")
        .await
        .unwrap();
    let full = std::fs::read(store.path_of("dyn").unwrap()).unwrap();
    let updates = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .matches("<context-update layer=\\\"state\\\">")
            .count()
    };
    assert_eq!(
        updates(&full),
        1,
        "an empty start and one change give exactly one update"
    );
    let requests = model.requests();
    assert!(
        !sre_core::canonical_prompt(&requests[0])
            .windows(14)
            .any(|w| w == b"context-update")
    );

    // Crash right after the update was persisted, resume with a fresh loop: no duplicate.
    let text = String::from_utf8_lossy(&full).to_string();
    let cut = text.find("<context-update").unwrap();
    let end = cut + text[cut..].find('\n').unwrap() + 1;
    std::fs::write(store.path_of("dyn2").unwrap(), &full[..end]).unwrap();
    build(Arc::new(ScriptedModel::from_yaml(script).unwrap()))
        .resume(&Session::new("dyn2"))
        .await
        .unwrap();
    let resumed = std::fs::read(store.path_of("dyn2").unwrap()).unwrap();
    assert_eq!(updates(&resumed), 1);
}
