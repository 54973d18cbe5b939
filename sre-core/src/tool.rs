//! The `Tool` contract and the context a tool call receives.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::event::EventSink;
use crate::model::ToolSpec;
use crate::usage::SharedLedger;

/// What a tool call returns when it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    /// Text the model will see (before offloading of large outputs).
    pub content: String,
    /// Whether the call failed in a way the model should react to (e.g. a non-zero exit).
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful result.
    pub fn ok(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            is_error: false,
        }
    }

    /// A failed result the model sees.
    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            is_error: true,
        }
    }
}

/// Why a tool call did not produce an output.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The model should see this and react (bad arguments, path outside the workspace,
    /// command failed to start...). Becomes an `is_error` tool result.
    #[error("{0}")]
    Invalid(String),
    /// The run must stop (e.g. the host's storage failed). Becomes an `Err` of the run.
    #[error("fatal: {0}")]
    Fatal(String),
    /// The call was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Where large tool outputs go instead of the transcript.
///
/// The loop calls [`OutputOffload::offload`] once, when a result is recorded, for every result
/// larger than [`OutputOffload::threshold_bytes`]; the returned preview (head, tail, path,
/// sizes, a hint to grep it) is what enters the transcript. Tools may also call it directly.
#[async_trait]
pub trait OutputOffload: Send + Sync {
    /// Results strictly larger than this many bytes are offloaded.
    fn threshold_bytes(&self) -> usize;

    /// Store `content` produced by `tool` and return the preview the model sees instead.
    async fn offload(
        &self,
        tool: &str,
        tool_use_id: &str,
        content: &str,
    ) -> Result<String, ToolError>;
}

/// Everything a tool call may need besides its input.
#[derive(Clone)]
pub struct ToolContext {
    /// Session of the calling agent.
    pub session_id: String,
    /// Name of the calling agent.
    pub agent_name: String,
    /// Turn number (1-based model call count) that asked for this call.
    pub turn: u32,
    /// Id of this call.
    pub tool_use_id: String,
    /// Cancelled when the run is cancelled; long-running tools must honour it.
    pub cancel: CancellationToken,
    /// Where to put large outputs, if the host configured a place.
    pub offload: Option<Arc<dyn OutputOffload>>,
    /// The usage ledger of the agent tree (subagent tools record into it).
    pub ledger: SharedLedger,
    /// The run's event sink, if any (subagent tools forward their children's events).
    pub events: Option<Arc<dyn EventSink>>,
}

impl ToolContext {
    /// A context for calling a tool outside an agent loop (tests, scripts).
    pub fn detached(tool_use_id: impl Into<String>) -> Self {
        ToolContext {
            session_id: "detached".into(),
            agent_name: "detached".into(),
            turn: 0,
            tool_use_id: tool_use_id.into(),
            cancel: CancellationToken::new(),
            offload: None,
            ledger: SharedLedger::default(),
            events: None,
        }
    }
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("session_id", &self.session_id)
            .field("agent_name", &self.agent_name)
            .field("turn", &self.turn)
            .field("tool_use_id", &self.tool_use_id)
            .finish_non_exhaustive()
    }
}

/// What a tool does to the world, in MCP's terms (`readOnlyHint`, `destructiveHint`,
/// `idempotentHint`, `openWorldHint`).
///
/// The loop and hosts act on them: a call that is neither read-only nor idempotent is
/// marked started in the transcript before it runs and is never re-run on resume (the
/// model is told its outcome is unknown); review-mode approvers and read-only agents
/// decide by `read_only`. The default is MCP's for a tool that says nothing: it may write,
/// may destroy, is not idempotent and reaches outside the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolAnnotations {
    /// The tool does not change its environment.
    #[serde(rename = "readOnlyHint")]
    pub read_only: bool,
    /// A write may destroy or overwrite (meaningful when not read-only).
    #[serde(rename = "destructiveHint")]
    pub destructive: bool,
    /// Calling again with the same input has no further effect.
    #[serde(rename = "idempotentHint")]
    pub idempotent: bool,
    /// The tool reaches an open world (network, other services) rather than a closed one.
    #[serde(rename = "openWorldHint")]
    pub open_world: bool,
}

impl Default for ToolAnnotations {
    fn default() -> Self {
        ToolAnnotations {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }
}

impl ToolAnnotations {
    /// Reads only, inside the host (files, local repositories).
    pub const fn read_only() -> Self {
        ToolAnnotations {
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: false,
        }
    }

    /// Writes, without destroying, and the same input twice has the effect of once (e.g.
    /// creating a file with given content, recording state).
    pub const fn idempotent_write() -> Self {
        ToolAnnotations {
            read_only: false,
            destructive: false,
            idempotent: true,
            open_world: false,
        }
    }

    /// May do anything (a shell, arbitrary code): not read-only, destructive, not
    /// idempotent, open world. Same as `default()`.
    pub const fn unrestricted() -> Self {
        ToolAnnotations {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }

    /// Whether running the call a second time is harmless (read-only or idempotent).
    pub fn safe_to_repeat(&self) -> bool {
        self.read_only || self.idempotent
    }

    /// Set `open_world`.
    pub const fn with_open_world(mut self, open_world: bool) -> Self {
        self.open_world = open_world;
        self
    }
}

/// A tool the model can call.
///
/// Object safe: the loop holds tools as `Arc<dyn Tool>`. For tools with a typed argument
/// struct, implement [`TypedTool`](crate::TypedTool) instead and wrap it with
/// [`typed_tool`](crate::typed_tool()), which derives the schema and validates input.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, description and input schema.
    fn spec(&self) -> &ToolSpec;

    /// What the tool does to the world. Declare it truthfully: the default (MCP's for a
    /// tool without hints) is "may do anything", which is safe but makes every call
    /// non-repeatable on resume and subject to approval in review mode.
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::default()
    }

    /// What this particular call does to the world. Default: the tool's
    /// [`Tool::annotations`]. A tool whose calls differ may say more per call: e.g. a shell
    /// tool reports `grep -c x log` as read-only and `kubectl delete ...` as not. The loop
    /// uses this for resume (repeatable calls re-run) and hooks see it as
    /// `tool_annotations`. It may only be *more* precise, never claim more safety than the
    /// call has.
    fn call_annotations(&self, _input: &Value) -> ToolAnnotations {
        self.annotations()
    }

    /// Run the call.
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;

    /// Longest one call may take before the loop stops waiting for it (its
    /// `ToolContext::cancel` is cancelled, and after a short grace the call is abandoned
    /// and reported to the model as stopped). `None`: the loop's default
    /// (`AgentLoopBuilder::tool_deadline`). Tools that run agents say more (a child
    /// investigation may rightly take longer than any single command). Wrappers must
    /// forward it.
    fn deadline(&self) -> Option<std::time::Duration> {
        None
    }

    /// Rebuild per-session state from a call recorded in the transcript. When a session is
    /// loaded (resume, or a new task in an existing session) the loop calls this, in
    /// transcript order, for every call of this tool that succeeded, so tools that keep
    /// state per session (pinned investigation state, active skills) restore it without
    /// any store of their own. Default: nothing to restore.
    fn restore(&self, _session_id: &str, _input: &Value) {}

    /// The child agent sessions a call of this tool with `input` starts, if it runs agents
    /// (subagents, an agent called as a tool): `tool_use_id` is the call's id,
    /// `parent_session` and `parent_agent` the calling run's session and ledger name. When a
    /// session is loaded, the loop asks this of every call whose result is in the
    /// transcript and restores each child's usage from the child's own transcript (and
    /// its children's, recursively), so a reloaded ledger equals the one before. Wrappers
    /// must forward it. Default: none.
    fn child_sessions(
        &self,
        _parent_session: &str,
        _parent_agent: &str,
        _tool_use_id: &str,
        _input: &Value,
    ) -> Vec<ChildSession> {
        Vec::new()
    }
}

/// A child agent session started by a tool call (see [`Tool::child_sessions`]).
#[derive(Clone)]
pub struct ChildSession {
    /// The child's session id.
    pub session_id: String,
    /// The ledger row its model calls are counted under (`<parent agent>/<name>`).
    pub ledger_name: String,
    /// The loop that ran it: its store holds the transcript, its model prices the usage,
    /// its tools name the child's own children. `None`: the calling loop's.
    pub agent: Option<crate::AgentLoop>,
}

impl std::fmt::Debug for ChildSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSession")
            .field("session_id", &self.session_id)
            .field("ledger_name", &self.ledger_name)
            .field("agent", &self.agent.as_ref().map(|a| a.name().to_string()))
            .finish()
    }
}
