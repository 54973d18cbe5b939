//! The `Hook` contract: governance callbacks at fixed points of the loop.
//!
//! A hook receives a [`HookInput`] and returns a [`HookDecision`] as data. The JSON form of
//! the input ([`HookInput::to_json`]) is a superset of the Claude Code hook contract, so
//! command hooks written for it run unmodified (see `sre-hooks`).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::event::EventSink;
use crate::metered::MeteredModel;
use crate::model::Model;
use crate::tool::ToolAnnotations;
use crate::usage::SharedLedger;

/// The points of the loop where hooks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HookEvent {
    /// A new session starts, or a session is resumed.
    SessionStart,
    /// A user task is about to enter the transcript.
    UserPromptSubmit,
    /// A tool call is about to run.
    PreToolUse,
    /// A tool call succeeded.
    PostToolUse,
    /// A tool call failed (error result).
    PostToolUseFailure,
    /// The agent is about to give its final answer.
    Stop,
    /// A subagent is about to give its final answer.
    SubagentStop,
    /// The context is about to be compacted.
    PreCompact,
}

impl HookEvent {
    /// The event's name in hook configuration and JSON (`PreToolUse`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::SessionStart => "SessionStart",
            HookEvent::UserPromptSubmit => "UserPromptSubmit",
            HookEvent::PreToolUse => "PreToolUse",
            HookEvent::PostToolUse => "PostToolUse",
            HookEvent::PostToolUseFailure => "PostToolUseFailure",
            HookEvent::Stop => "Stop",
            HookEvent::SubagentStop => "SubagentStop",
            HookEvent::PreCompact => "PreCompact",
        }
    }

    /// Parse an event name as written in configuration.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "SessionStart" => HookEvent::SessionStart,
            "UserPromptSubmit" => HookEvent::UserPromptSubmit,
            "PreToolUse" => HookEvent::PreToolUse,
            "PostToolUse" => HookEvent::PostToolUse,
            "PostToolUseFailure" => HookEvent::PostToolUseFailure,
            "Stop" => HookEvent::Stop,
            "SubagentStop" => HookEvent::SubagentStop,
            "PreCompact" => HookEvent::PreCompact,
            _ => return None,
        })
    }

    /// Every event, in loop order.
    pub const ALL: [HookEvent; 8] = [
        HookEvent::SessionStart,
        HookEvent::UserPromptSubmit,
        HookEvent::PreToolUse,
        HookEvent::PostToolUse,
        HookEvent::PostToolUseFailure,
        HookEvent::Stop,
        HookEvent::SubagentStop,
        HookEvent::PreCompact,
    ];
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event-specific part of a hook input.
#[derive(Clone, Debug, PartialEq)]
pub enum HookPayload {
    /// `source` is `startup` or `resume`.
    SessionStart {
        /// Why the session starts.
        source: String,
    },
    /// The user's task text.
    UserPromptSubmit {
        /// The prompt.
        prompt: String,
    },
    /// A tool call about to run.
    PreToolUse {
        /// Tool name.
        tool_name: String,
        /// Arguments.
        tool_input: Value,
        /// Call id.
        tool_use_id: String,
        /// The tool's annotations (`None` for a tool the agent does not have).
        annotations: Option<ToolAnnotations>,
    },
    /// A tool call that ran (`PostToolUse` when it succeeded, `PostToolUseFailure` otherwise).
    PostToolUse {
        /// Tool name.
        tool_name: String,
        /// Arguments it ran with.
        tool_input: Value,
        /// Call id.
        tool_use_id: String,
        /// The full result text.
        tool_response: String,
        /// Whether it succeeded.
        succeeded: bool,
        /// Wall time of the call.
        duration_ms: u64,
        /// The tool's annotations (`None` for a tool the agent does not have).
        annotations: Option<ToolAnnotations>,
    },
    /// The final answer about to be given (`Stop`, or `SubagentStop` for a subagent).
    Stop {
        /// The answer.
        final_output: String,
        /// Whether a Stop hook already rejected an answer in this run.
        stop_hook_active: bool,
        /// How many answers Stop hooks rejected so far in this run.
        rejection_count: u32,
        /// True for a subagent (`SubagentStop`).
        subagent: bool,
    },
    /// Compaction about to happen; `trigger` is `auto` or `manual`.
    PreCompact {
        /// What triggered it.
        trigger: String,
    },
}

/// What a hook receives.
#[derive(Clone, Debug, PartialEq)]
pub struct HookInput {
    /// Session id.
    pub session_id: String,
    /// Path of the persisted transcript, if the store has one.
    pub transcript_path: Option<String>,
    /// Working directory of the agent (the workspace root), if configured.
    pub cwd: Option<String>,
    /// Agent name.
    pub agent_name: String,
    /// Current turn (model calls so far).
    pub current_turn: u32,
    /// Turn limit of the run.
    pub max_turns: u32,
    /// Event-specific data.
    pub payload: HookPayload,
}

impl HookInput {
    /// The event this input belongs to.
    pub fn event(&self) -> HookEvent {
        match &self.payload {
            HookPayload::SessionStart { .. } => HookEvent::SessionStart,
            HookPayload::UserPromptSubmit { .. } => HookEvent::UserPromptSubmit,
            HookPayload::PreToolUse { .. } => HookEvent::PreToolUse,
            HookPayload::PostToolUse {
                succeeded: true, ..
            } => HookEvent::PostToolUse,
            HookPayload::PostToolUse {
                succeeded: false, ..
            } => HookEvent::PostToolUseFailure,
            HookPayload::Stop {
                subagent: false, ..
            } => HookEvent::Stop,
            HookPayload::Stop { subagent: true, .. } => HookEvent::SubagentStop,
            HookPayload::PreCompact { .. } => HookEvent::PreCompact,
        }
    }

    /// The tool name for tool events.
    pub fn tool_name(&self) -> Option<&str> {
        match &self.payload {
            HookPayload::PreToolUse { tool_name, .. }
            | HookPayload::PostToolUse { tool_name, .. } => Some(tool_name),
            _ => None,
        }
    }

    /// The JSON context given to command, prompt and Python hooks: the Claude Code hook
    /// input plus the YAML-agent fields (`agent_name`, `current_turn`, `max_turns`,
    /// `tool_result`, `tool_succeeded`, `final_output`, `stop_rejection_count`, ...).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("session_id".into(), json!(self.session_id));
        m.insert("transcript_path".into(), json!(self.transcript_path));
        m.insert("cwd".into(), json!(self.cwd));
        m.insert("hook_event_name".into(), json!(self.event().as_str()));
        m.insert("agent_name".into(), json!(self.agent_name));
        m.insert("current_turn".into(), json!(self.current_turn));
        m.insert("max_turns".into(), json!(self.max_turns));
        match &self.payload {
            HookPayload::SessionStart { source } => {
                m.insert("source".into(), json!(source));
            }
            HookPayload::UserPromptSubmit { prompt } => {
                m.insert("prompt".into(), json!(prompt));
            }
            HookPayload::PreToolUse {
                tool_name,
                tool_input,
                tool_use_id,
                annotations,
            } => {
                m.insert("tool_name".into(), json!(tool_name));
                m.insert("tool_input".into(), tool_input.clone());
                m.insert("tool_use_id".into(), json!(tool_use_id));
                m.insert("tool_annotations".into(), json!(annotations));
            }
            HookPayload::PostToolUse {
                tool_name,
                tool_input,
                tool_use_id,
                tool_response,
                succeeded,
                duration_ms,
                annotations,
            } => {
                m.insert("tool_name".into(), json!(tool_name));
                m.insert("tool_input".into(), tool_input.clone());
                m.insert("tool_use_id".into(), json!(tool_use_id));
                m.insert("tool_response".into(), json!(tool_response));
                m.insert("tool_result".into(), json!(tool_response));
                m.insert("tool_succeeded".into(), json!(succeeded));
                m.insert("duration_ms".into(), json!(duration_ms));
                m.insert("tool_annotations".into(), json!(annotations));
            }
            HookPayload::Stop {
                final_output,
                stop_hook_active,
                rejection_count,
                ..
            } => {
                m.insert("final_output".into(), json!(final_output));
                m.insert("last_assistant_message".into(), json!(final_output));
                m.insert("stop_hook_active".into(), json!(stop_hook_active));
                m.insert("stop_rejection_count".into(), json!(rejection_count));
            }
            HookPayload::PreCompact { trigger } => {
                m.insert("trigger".into(), json!(trigger));
            }
        }
        Value::Object(m)
    }
}

/// What a hook decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum HookAction {
    /// Go on.
    Continue,
    /// Refuse: the tool call does not run (PreToolUse), its output is withheld
    /// (PostToolUse), the prompt is refused (UserPromptSubmit), or the answer is rejected
    /// and the agent keeps working (Stop). The reason is shown to the model.
    Block {
        /// Why.
        reason: String,
    },
    /// Ask the host's approver before running the tool call (PreToolUse) or accepting the
    /// prompt (UserPromptSubmit); without an approver this is a block.
    Ask {
        /// What to ask.
        reason: String,
    },
    /// Stop the whole run now.
    Stop {
        /// Why.
        reason: String,
    },
}

impl HookAction {
    /// Its name (`Continue`, `Block`, `Ask`, `Stop`), without its reason.
    pub fn kind(&self) -> &'static str {
        match self {
            HookAction::Continue => "Continue",
            HookAction::Block { .. } => "Block",
            HookAction::Ask { .. } => "Ask",
            HookAction::Stop { .. } => "Stop",
        }
    }
}

/// A hook's answer: an action plus optional extras.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookDecision {
    /// What to do.
    pub action: HookAction,
    /// Replacement tool input (PreToolUse only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_input: Option<Value>,
    /// Text injected into the transcript for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
    /// Message for the user (events), not the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_message: Option<String>,
    /// What the hook wrote for people, e.g. a command hook's stderr (capped): not for the
    /// model; the loop reports it in a `HookDecision` event whatever the action (an audit
    /// hook that logs to stderr and continues is seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl HookDecision {
    /// Continue with nothing added.
    pub fn allow() -> Self {
        HookDecision {
            action: HookAction::Continue,
            updated_input: None,
            additional_context: None,
            system_message: None,
            output: None,
        }
    }

    /// Block with a reason.
    pub fn block(reason: impl Into<String>) -> Self {
        HookDecision {
            action: HookAction::Block {
                reason: reason.into(),
            },
            ..Self::allow()
        }
    }

    /// Ask the approver.
    pub fn ask(reason: impl Into<String>) -> Self {
        HookDecision {
            action: HookAction::Ask {
                reason: reason.into(),
            },
            ..Self::allow()
        }
    }

    /// Stop the run.
    pub fn stop(reason: impl Into<String>) -> Self {
        HookDecision {
            action: HookAction::Stop {
                reason: reason.into(),
            },
            ..Self::allow()
        }
    }

    /// Continue with a rewritten tool input.
    pub fn rewrite(input: Value) -> Self {
        HookDecision {
            updated_input: Some(input),
            ..Self::allow()
        }
    }

    /// Add context for the model.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.additional_context = Some(context.into());
        self
    }
}

/// What a hook's failure (crash, timeout, unreadable answer) means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// The failure is reported and does not decide (fail open).
    #[default]
    Allow,
    /// The failure blocks what the hook guards (fail closed).
    Block,
}

impl FailMode {
    /// Parse `allow` or `block` (the `failMode` of hook configuration).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(FailMode::Allow),
            "block" => Some(FailMode::Block),
            _ => None,
        }
    }

    /// The name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Allow => "allow",
            FailMode::Block => "block",
        }
    }
}

/// What a hook may use besides its input: cancellation, and a way to make model calls
/// that are counted in the agent tree's ledger and reported in its event stream.
#[derive(Clone)]
pub struct HookContext {
    /// Cancelled when the run is cancelled.
    pub cancel: CancellationToken,
    /// The usage ledger of the agent tree.
    pub ledger: SharedLedger,
    /// The usage of this run's own auxiliary calls (what [`HookContext::metered`] records
    /// here too; the run persists it with its transcript).
    pub own_ledger: SharedLedger,
    /// The run's event sink, if any.
    pub events: Option<Arc<dyn EventSink>>,
    /// The agent the hook runs for.
    pub agent: String,
    /// Its session.
    pub session_id: String,
}

impl HookContext {
    /// A context outside any run (tests, tools): its own ledger, no events.
    pub fn detached() -> Self {
        HookContext {
            cancel: CancellationToken::new(),
            ledger: SharedLedger::default(),
            own_ledger: SharedLedger::default(),
            events: None,
            agent: "detached".into(),
            session_id: "detached".into(),
        }
    }

    /// `model` metered for this run: every call is recorded in the ledger as agent
    /// `<agent>/<label>` (e.g. `investigator/hook:quality`) and reported as an
    /// [`EventKind::AuxiliaryModelCall`](crate::EventKind::AuxiliaryModelCall).
    pub fn metered(&self, model: Arc<dyn Model>, label: &str) -> MeteredModel {
        MeteredModel::new(
            model,
            self.ledger.clone(),
            format!("{}/{label}", self.agent),
            self.session_id.clone(),
            self.events.clone(),
        )
        .also_into(self.own_ledger.clone())
    }

    /// The call context to put in a [`ModelRequest`](crate::ModelRequest) the hook sends, so
    /// retry layers report to the run and stop when it is cancelled.
    pub fn call_context(&self) -> crate::model::CallContext {
        crate::model::CallContext {
            events: self.events.clone(),
            cancel: Some(self.cancel.clone()),
        }
    }
}

impl std::fmt::Debug for HookContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookContext")
            .field("agent", &self.agent)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// A governance hook.
///
/// `handles` decides cheaply (event, tool-name matcher, activation) whether `run` applies.
/// All hooks that handle an input run concurrently and their decisions are merged with
/// precedence stop > block > ask > continue. For PreToolUse, a rewrite of the input makes
/// every hook judge the rewritten input again (see the loop's documentation), so the tool
/// only ever receives an input that every hook has seen.
#[async_trait]
pub trait Hook: Send + Sync {
    /// A name for events and errors.
    fn name(&self) -> &str;

    /// Whether this hook wants to see `input`.
    fn handles(&self, input: &HookInput) -> bool;

    /// What it means when this hook fails however it fails (an `Err`, the loop's hook
    /// timeout): [`FailMode::Block`] turns the failure into a block. Default: allow.
    fn fail_mode(&self) -> FailMode {
        FailMode::Allow
    }

    /// Decide. An `Err` means the hook itself failed: the loop reports it as an event and
    /// applies [`Hook::fail_mode`].
    async fn run(&self, input: &HookInput, ctx: &HookContext)
    -> Result<HookDecision, crate::Error>;
}

/// Asks a person (or policy) to approve what a hook marked `Ask`: a tool call
/// (PreToolUse, review mode) or a prompt (UserPromptSubmit).
#[async_trait]
pub trait Approver: Send + Sync {
    /// `true` to let it through.
    async fn approve(&self, input: &HookInput, reason: &str) -> bool;

    /// The decision on a tool call, which may be more than yes or no: run it with an
    /// edited input, deny it with a reason for the agent, or park the run until a person
    /// decides (a durable approval). Default: [`Approver::approve`]'s yes or no.
    async fn decide(&self, input: &HookInput, reason: &str) -> Approval {
        if self.approve(input, reason).await {
            Approval::Approve
        } else {
            Approval::Deny { reason: None }
        }
    }
}

/// What an [`Approver`] decided about a tool call.
#[derive(Clone, Debug, PartialEq)]
pub enum Approval {
    /// Run it as asked.
    Approve,
    /// Run it with this input instead (a person edited it). The PreToolUse hooks judge the
    /// edited input again; a block still blocks.
    ApproveEdited {
        /// The input to run with.
        input: Value,
    },
    /// Do not run it; the reason goes to the agent in the tool result.
    Deny {
        /// Why, in the person's words.
        reason: Option<String>,
    },
    /// No decision yet: the run ends with [`crate::StopCause::AwaitingApproval`] without
    /// running the call or recording a result for it; `resume` asks again (and finds the
    /// decision, once there is one). The other calls of the turn keep their results.
    Park {
        /// The stored request's id, reported in the stop cause.
        request: String,
    },
}

/// Several decisions merged into one.
#[derive(Clone, Debug, PartialEq)]
pub struct MergedDecision {
    /// The winning action.
    pub action: HookAction,
    /// The first rewrite in hook order, if any (the loop re-runs every hook on it).
    pub updated_input: Option<Value>,
    /// All additional contexts, in hook order.
    pub additional_context: Vec<String>,
    /// All system messages, in hook order.
    pub system_messages: Vec<String>,
}

/// Merge decisions given in hook order: stop > block > ask > continue (first of the
/// winning kind wins), the first rewrite in hook order is kept, contexts are kept in order.
pub fn merge_decisions<'a>(
    decisions: impl IntoIterator<Item = &'a HookDecision>,
) -> MergedDecision {
    fn rank(a: &HookAction) -> u8 {
        match a {
            HookAction::Continue => 0,
            HookAction::Ask { .. } => 1,
            HookAction::Block { .. } => 2,
            HookAction::Stop { .. } => 3,
        }
    }
    let mut merged = MergedDecision {
        action: HookAction::Continue,
        updated_input: None,
        additional_context: Vec::new(),
        system_messages: Vec::new(),
    };
    for d in decisions {
        if rank(&d.action) > rank(&merged.action) {
            merged.action = d.action.clone();
        }
        if merged.updated_input.is_none() && d.updated_input.is_some() {
            merged.updated_input = d.updated_input.clone();
        }
        if let Some(c) = &d.additional_context {
            merged.additional_context.push(c.clone());
        }
        if let Some(s) = &d.system_message {
            merged.system_messages.push(s.clone());
        }
    }
    merged
}
