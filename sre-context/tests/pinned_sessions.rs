//! The pinned state is per session and survives a restart, through a real `AgentLoop` with
//! a `JsonlSessionStore`:
//! - two concurrent sessions of ONE loop keep separate hypotheses (each prompt shows only
//!   its own; a rendezvous tool holds both sessions until both have recorded theirs);
//! - a new process (new `PinnedState`, new loop, same store) resumes both sessions
//!   concurrently: the state is restored from the transcript (`Tool::restore`), the
//!   layer's `<context-update>` is not repeated, and each compaction re-inserts the state
//!   of its own session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_context::{BudgetConfig, PINNED_LAYER, PinnedState, TokenBudget};
use sre_core::{
    Agent, AgentLoop, ContentBlock, JsonlSessionStore, ModelRequest, ScriptedModel, Session,
    ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool, canonical_prompt, typed_tool,
};

const A: &str = "A: checkout pool exhausted";
const B: &str = "B: ledger disk full";

const SCRIPT: &str = r###"
turns:
  # Process 2: a resumed session, compacted before its first request.
  - when: {last_message_contains: ["<handoff-summary>", "Resume A"]}
    expect: {prompt_contains: ["[H1] (open) A: checkout pool exhausted"], prompt_excludes: ["B: ledger disk full"]}
    final: "A resumed."
  - when: {last_message_contains: ["<handoff-summary>", "Resume B"]}
    expect: {prompt_contains: ["[H1] (open) B: ledger disk full"], prompt_excludes: ["A: checkout pool exhausted"]}
    final: "B resumed."
  # Process 1, session A.
  - when: {last_message_contains: ["Investigate A"]}
    tool_calls:
      - tool: update_investigation_state
        args: {hypotheses: [{id: H1, statement: "A: checkout pool exhausted", status: open}]}
  - tool_calls: [{tool: rendezvous}]
  - expect: {prompt_contains: ["[H1] (open) A: checkout pool exhausted"], prompt_excludes: ["B: ledger disk full"]}
    final: "A done."
  # Process 1, session B.
  - when: {last_message_contains: ["Investigate B"]}
    tool_calls:
      - tool: update_investigation_state
        args: {hypotheses: [{id: H1, statement: "B: ledger disk full", status: open}]}
  - tool_calls: [{tool: rendezvous}]
  - expect: {prompt_contains: ["[H1] (open) B: ledger disk full"], prompt_excludes: ["A: checkout pool exhausted"]}
    final: "B done."
agents:
  compactor:
    - when: {last_message_contains: ["Resume A"]}
      expect: {prompt_contains: ["A: checkout pool exhausted"], prompt_excludes: ["B: ledger disk full"]}
      final: "## Findings\nSession A: the checkout pool is exhausted."
    - when: {last_message_contains: ["Resume B"]}
      expect: {prompt_contains: ["B: ledger disk full"], prompt_excludes: ["A: checkout pool exhausted"]}
      final: "## Findings\nSession B: the ledger disk is full."
"###;

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

/// Returns once two calls (one per session) have arrived: both sessions have recorded
/// their hypothesis before either sends its next request.
struct Rendezvous(Arc<tokio::sync::Barrier>);

#[async_trait]
impl TypedTool for Rendezvous {
    type Args = NoArgs;

    fn name(&self) -> &str {
        "rendezvous"
    }

    fn description(&self) -> &str {
        "Wait for the other session."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, _args: NoArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.0.wait().await;
        Ok(ToolOutput::ok("both sessions are here"))
    }
}

/// One "process": a fresh pinned state, model and loop over the session folder.
fn process(
    dir: &std::path::Path,
    budget: BudgetConfig,
) -> (AgentLoop, PinnedState, Arc<ScriptedModel>) {
    let model = Arc::new(ScriptedModel::from_yaml(SCRIPT).unwrap().recording());
    let pinned = PinnedState::new();
    let budget = TokenBudget::new(budget)
        .unwrap()
        .with_pinned(pinned.clone());
    let agent = AgentLoop::builder(model.clone())
        .system_prompt("You are an SRE agent.")
        .layer(pinned.layer())
        .tool(pinned.tool().unwrap())
        .tool(typed_tool(Rendezvous(Arc::new(tokio::sync::Barrier::new(2)))).unwrap())
        .budget(Arc::new(budget))
        .session_store(Arc::new(JsonlSessionStore::new(dir).unwrap()))
        .build()
        .unwrap();
    (agent, pinned, model)
}

fn prompt(request: &ModelRequest) -> String {
    String::from_utf8(canonical_prompt(request)).unwrap()
}

/// `<context-update>` blocks of the pinned layer in the request's messages.
fn updates(request: &ModelRequest) -> usize {
    let tag = format!("<context-update layer=\"{PINNED_LAYER}\">");
    request
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .map(|b| match b {
            ContentBlock::Text { text } => text.matches(&tag).count(),
            _ => 0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_state_is_per_session_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();

    // Process 1: one loop, two sessions at once.
    let (agent, pinned, _model) = process(dir.path(), BudgetConfig::default());
    let (sa, sb) = (Session::new("A"), Session::new("B"));
    let (a, b) = tokio::join!(
        agent.run(&sa, "Investigate A: checkout is slow."),
        agent.run(&sb, "Investigate B: ledger writes fail."),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.answer.as_deref(), Some("A done."), "{a:?}");
    assert_eq!(b.answer.as_deref(), Some("B done."), "{b:?}");
    assert!(pinned.render("A").contains(A) && !pinned.render("A").contains(B));
    assert!(pinned.render("B").contains(B) && !pinned.render("B").contains(A));
    drop(agent);

    // Process 2: nothing in memory; a budget that compacts at once.
    let compact_now = BudgetConfig {
        prune_target: 0.001,
        prune_at: 0.002,
        compact_at: 0.002,
        ..BudgetConfig::default()
    };
    let (agent, pinned, model) = process(dir.path(), compact_now);
    assert_eq!(pinned.render("A"), "");
    let (sa, sb) = (Session::new("A"), Session::new("B"));
    let (a, b) = tokio::join!(
        agent.run(&sa, "Resume A: what next?"),
        agent.run(&sb, "Resume B: what next?"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.answer.as_deref(), Some("A resumed."), "{a:?}");
    assert_eq!(b.answer.as_deref(), Some("B resumed."), "{b:?}");
    // Restored from the transcript, each its own.
    assert!(pinned.render("A").contains(A) && !pinned.render("A").contains(B));
    assert!(pinned.render("B").contains(B) && !pinned.render("B").contains(A));

    let requests = model.requests();
    for (session, own, other) in [("A", A, B), ("B", B, A)] {
        let of = |agent: &str| -> Vec<&ModelRequest> {
            requests
                .iter()
                .filter(|r| r.session_id == session && r.agent.ends_with(agent))
                .collect()
        };
        // The summary request holds the whole resumed transcript: the state's one update
        // from process 1, and no second one (the restored state renders the same text; an
        // empty one would have been appended if the state had been lost).
        let compactor = of("compactor");
        assert_eq!(compactor.len(), 1, "{session}");
        let text = prompt(compactor[0]);
        assert_eq!(updates(compactor[0]), 1, "{session}: {text}");
        assert!(text.contains(own) && !text.contains(other), "{session}");
        // After the compaction, the state is re-inserted: once, this session's.
        let main: Vec<&ModelRequest> = requests
            .iter()
            .filter(|r| r.session_id == session && !r.agent.ends_with("compactor"))
            .collect();
        assert_eq!(main.len(), 1, "{session}");
        let text = prompt(main[0]);
        assert!(text.contains("<handoff-summary>"), "{session}: {text}");
        assert_eq!(updates(main[0]), 1, "{session}: {text}");
        assert!(
            text.contains(own) && !text.contains(other),
            "{session}: {text}"
        );
    }
}
