//! Pinned investigation state: a small structured document the agent keeps up to date with
//! the `update_investigation_state` tool, shown through a dynamic layer, and re-inserted by
//! the budget after every compaction (never pruned or summarised away).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sre_core::{
    ContextLayer, LayerContext, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput,
    TypedTool, typed_tool,
};

/// Status of a hypothesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HypothesisStatus {
    /// Not yet tested.
    Open,
    /// Evidence points to it.
    Supported,
    /// Evidence rules it out.
    Refuted,
    /// Established as the cause.
    Confirmed,
}

impl HypothesisStatus {
    fn as_str(self) -> &'static str {
        match self {
            HypothesisStatus::Open => "open",
            HypothesisStatus::Supported => "supported",
            HypothesisStatus::Refuted => "refuted",
            HypothesisStatus::Confirmed => "confirmed",
        }
    }
}

/// A hypothesis about the cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hypothesis {
    /// Short id, e.g. `H1`. Updating with an existing id replaces that hypothesis.
    pub id: String,
    /// The claim.
    pub statement: String,
    /// Its status.
    pub status: HypothesisStatus,
}

/// A fact established during the investigation, with the actual numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The fact (`p99 latency 2.3 s from 14:05`, `pool max_size = 10`).
    pub fact: String,
    /// Where it comes from (query, file, dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A timestamped event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    /// When (as precise as known, e.g. `2024-05-02 14:02 UTC`).
    pub time: String,
    /// What happened.
    pub event: String,
}

/// The pinned investigation state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvestigationState {
    /// Hypotheses with their status.
    #[serde(default)]
    pub hypotheses: Vec<Hypothesis>,
    /// Evidence gathered.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Timeline of the incident.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// What to do next.
    #[serde(default)]
    pub next_steps: Vec<String>,
}

impl InvestigationState {
    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.hypotheses.is_empty()
            && self.evidence.is_empty()
            && self.timeline.is_empty()
            && self.next_steps.is_empty()
    }

    /// Deterministic text form (empty string when empty).
    pub fn render(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "Investigation state (pinned; survives compaction; update it with `update_investigation_state`):\n",
        );
        if !self.hypotheses.is_empty() {
            out.push_str("Hypotheses:\n");
            for h in &self.hypotheses {
                let _ = writeln!(out, "- [{}] ({}) {}", h.id, h.status.as_str(), h.statement);
            }
        }
        if !self.evidence.is_empty() {
            out.push_str("Evidence:\n");
            for e in &self.evidence {
                match &e.source {
                    Some(s) => {
                        let _ = writeln!(out, "- {} (source: {s})", e.fact);
                    }
                    None => {
                        let _ = writeln!(out, "- {}", e.fact);
                    }
                }
            }
        }
        if !self.timeline.is_empty() {
            out.push_str("Timeline:\n");
            for t in &self.timeline {
                let _ = writeln!(out, "- {}: {}", t.time, t.event);
            }
        }
        if !self.next_steps.is_empty() {
            out.push_str("Next steps:\n");
            for s in &self.next_steps {
                let _ = writeln!(out, "- {s}");
            }
        }
        out.truncate(out.trim_end().len());
        out
    }
}

/// Arguments of `update_investigation_state`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// `merge` (default): hypotheses are upserted by id, evidence and timeline entries are
    /// appended, next steps replace the old list. `replace`: every section given replaces
    /// the old one (use it to condense the state).
    #[serde(default)]
    pub mode: UpdateMode,
    /// Hypotheses to add or update (by id).
    #[serde(default)]
    pub hypotheses: Option<Vec<Hypothesis>>,
    /// Ids of hypotheses to remove.
    #[serde(default)]
    pub remove_hypotheses: Option<Vec<String>>,
    /// Evidence to add.
    #[serde(default)]
    pub evidence: Option<Vec<Evidence>>,
    /// Timeline entries to add.
    #[serde(default)]
    pub timeline: Option<Vec<TimelineEntry>>,
    /// The new list of next steps.
    #[serde(default)]
    pub next_steps: Option<Vec<String>>,
}

/// How [`UpdateArgs`] apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    /// Upsert / append.
    #[default]
    Merge,
    /// Replace the sections given.
    Replace,
}

/// Name of the pinned-state layer (and of its `<context-update>` blocks).
pub const PINNED_LAYER: &str = "investigation-state";
/// Name of the tool that updates the pinned state.
pub const PINNED_TOOL: &str = "update_investigation_state";

/// The pinned state of every session of an agent: cheap to clone, keyed by session id.
///
/// The layer renders, the tool updates and the budget re-inserts the state of the session
/// they serve, so concurrent sessions of one loop never share hypotheses. Nothing is
/// stored apart from the transcript: every update is a recorded tool call, and the loop
/// replays those calls ([`sre_core::Tool::restore`]) when a session is loaded, so a
/// resumed session (even in a new process) gets its state back.
///
/// ```
/// use sre_context::PinnedState;
/// let pinned = PinnedState::new();
/// let _layer = pinned.layer(); // AgentLoop::builder(..).layer(..)
/// let _tool = pinned.tool().unwrap(); // AgentLoop::builder(..).tool(..)
/// // TokenBudget::new(..)?.with_pinned(pinned.clone())
/// assert_eq!(pinned.render("incident-1"), "");
/// ```
#[derive(Clone, Debug)]
pub struct PinnedState {
    sessions: Arc<RwLock<HashMap<String, InvestigationState>>>,
    max_bytes: usize,
}

impl Default for PinnedState {
    fn default() -> Self {
        PinnedState::new()
    }
}

impl PinnedState {
    /// No state yet; each session's state is rendered within 6000 bytes.
    pub fn new() -> Self {
        PinnedState {
            sessions: Arc::default(),
            max_bytes: 6000,
        }
    }

    /// Updates that would render larger than `bytes` are refused (the agent is asked to
    /// condense with `mode: replace`). Keeps the state "small".
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// A copy of `session_id`'s state.
    pub fn snapshot(&self, session_id: &str) -> InvestigationState {
        self.read().get(session_id).cloned().unwrap_or_default()
    }

    /// `session_id`'s rendered state (empty string when nothing is recorded).
    pub fn render(&self, session_id: &str) -> String {
        self.read()
            .get(session_id)
            .map(InvestigationState::render)
            .unwrap_or_default()
    }

    /// Set `session_id`'s state (e.g. seeded by a host).
    pub fn set(&self, session_id: &str, state: InvestigationState) {
        self.write().insert(session_id.to_string(), state);
    }

    /// Drop `session_id`'s state (a long-lived host calls this when a thread closes).
    pub fn forget(&self, session_id: &str) {
        self.write().remove(session_id);
    }

    /// Apply an update to `session_id`'s state; returns the new rendering or why it was
    /// refused.
    pub fn update(&self, session_id: &str, args: UpdateArgs) -> Result<String, String> {
        let mut sessions = self.write();
        let mut next = sessions.get(session_id).cloned().unwrap_or_default();
        apply(&mut next, args);
        let text = next.render();
        if text.len() > self.max_bytes {
            return Err(format!(
                "the investigation state would be {} bytes, over its {} byte limit; \
                 condense it: call again with mode \"replace\" and shorter sections",
                text.len(),
                self.max_bytes
            ));
        }
        sessions.insert(session_id.to_string(), next);
        Ok(text)
    }

    /// Apply an update that was accepted when it was recorded (replay on resume): no size
    /// check, so a state recorded under a larger limit (or a host that lowered it) is
    /// rebuilt as the model last saw it.
    fn apply_recorded(&self, session_id: &str, args: UpdateArgs) {
        let mut sessions = self.write();
        apply(sessions.entry(session_id.to_string()).or_default(), args);
    }

    /// The dynamic layer showing the state of the session it renders for.
    pub fn layer(&self) -> Arc<dyn ContextLayer> {
        Arc::new(PinnedLayer {
            state: self.clone(),
        })
    }

    /// The `update_investigation_state` tool writing the state of the calling session.
    pub fn tool(&self) -> sre_core::Result<Arc<dyn Tool>> {
        typed_tool(UpdateTool {
            state: self.clone(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, InvestigationState>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, InvestigationState>> {
        self.sessions.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn apply(state: &mut InvestigationState, args: UpdateArgs) {
    let replace = args.mode == UpdateMode::Replace;
    if let Some(ids) = args.remove_hypotheses {
        state.hypotheses.retain(|h| !ids.contains(&h.id));
    }
    if let Some(hs) = args.hypotheses {
        if replace {
            state.hypotheses = hs;
        } else {
            for h in hs {
                match state.hypotheses.iter_mut().find(|x| x.id == h.id) {
                    Some(slot) => *slot = h,
                    None => state.hypotheses.push(h),
                }
            }
        }
    }
    if let Some(ev) = args.evidence {
        if replace {
            state.evidence = ev;
        } else {
            for e in ev {
                if !state.evidence.contains(&e) {
                    state.evidence.push(e);
                }
            }
        }
    }
    if let Some(tl) = args.timeline {
        if replace {
            state.timeline = tl;
        } else {
            for t in tl {
                if !state.timeline.contains(&t) {
                    state.timeline.push(t);
                }
            }
        }
    }
    if let Some(steps) = args.next_steps {
        state.next_steps = steps;
    }
}

struct PinnedLayer {
    state: PinnedState,
}

#[async_trait]
impl ContextLayer for PinnedLayer {
    fn name(&self) -> &str {
        PINNED_LAYER
    }

    async fn render(&self, ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.state.render(ctx.session_id))
    }

    fn is_dynamic(&self) -> bool {
        true
    }
}

struct UpdateTool {
    state: PinnedState,
}

#[async_trait]
impl TypedTool for UpdateTool {
    type Args = UpdateArgs;

    fn name(&self) -> &str {
        PINNED_TOOL
    }

    fn description(&self) -> &str {
        "Record the investigation's state: hypotheses with status, evidence with the actual \
         numbers and their source, the incident timeline, and next steps. The state is pinned: \
         it stays in your context even when older messages are pruned or summarised, so keep \
         it current and concise."
    }

    fn annotations(&self) -> ToolAnnotations {
        // It changes nothing outside the run: it writes the session's own notes, which live in
        // the harness (as a handoff does). So a read-only agent may keep notes, a review-mode
        // agent is not asked about them, and the same update twice leaves the same state.
        ToolAnnotations::read_only()
    }

    fn restore(&self, session_id: &str, args: UpdateArgs) {
        // The update succeeded when it was recorded; applying it again gives the same state.
        self.state.apply_recorded(session_id, args);
    }

    async fn run(&self, args: UpdateArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        match self.state.update(&ctx.session_id, args) {
            Ok(text) => Ok(ToolOutput::ok(format!(
                "Investigation state updated ({} bytes).",
                text.len()
            ))),
            Err(why) => Err(ToolError::Invalid(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn tool_merges_and_layer_renders() {
        let pinned = PinnedState::new();
        let tool = pinned.tool().unwrap();
        let ctx = ToolContext::detached("c1");
        let session = LayerContext {
            session_id: &ctx.session_id,
            agent: "a",
        };
        tool.call(
            json!({"hypotheses": [{"id": "H1", "statement": "pool exhausted", "status": "open"}],
                   "evidence": [{"fact": "p99 2.3 s", "source": "cloudwatch"}]}),
            &ctx,
        )
        .await
        .unwrap();
        tool.call(
            json!({"hypotheses": [{"id": "H1", "statement": "pool exhausted", "status": "confirmed"}],
                   "next_steps": ["raise max_size"]}),
            &ctx,
        )
        .await
        .unwrap();
        let text = pinned.layer().render(&session).await.unwrap();
        // Another session sees nothing of it.
        let other = LayerContext {
            session_id: "other",
            agent: "a",
        };
        assert_eq!(pinned.layer().render(&other).await.unwrap(), "");
        assert_eq!(
            text,
            "Investigation state (pinned; survives compaction; update it with `update_investigation_state`):\n\
             Hypotheses:\n- [H1] (confirmed) pool exhausted\n\
             Evidence:\n- p99 2.3 s (source: cloudwatch)\n\
             Next steps:\n- raise max_size"
        );
        assert!(pinned.layer().is_dynamic());
        // Bad input is a model-visible error.
        assert!(tool.call(json!({"hypotheses": 3}), &ctx).await.is_err());
    }

    #[test]
    fn recorded_updates_are_restored_even_over_a_lowered_limit() {
        let before = PinnedState::new();
        let args = json!({"evidence": [{"fact": "x".repeat(300)}]});
        // Accepted under the default limit, replayed by a process that lowered it.
        assert!(
            before
                .update("s", serde_json::from_value(args.clone()).unwrap())
                .is_ok()
        );
        let after = PinnedState::new().max_bytes(200);
        let restored = after.tool().unwrap();
        restored.restore("s", &args);
        assert_eq!(after.render("s"), before.render("s"));
        // Live calls still respect the limit.
        assert!(
            after
                .update("t", serde_json::from_value(args).unwrap())
                .is_err()
        );
    }

    #[test]
    fn oversized_updates_are_refused() {
        let pinned = PinnedState::new().max_bytes(200);
        let big = UpdateArgs {
            evidence: Some(vec![Evidence {
                fact: "x".repeat(300),
                source: None,
            }]),
            ..UpdateArgs::default()
        };
        assert!(pinned.update("s", big).unwrap_err().contains("condense"));
        assert_eq!(pinned.render("s"), "");
    }
}
