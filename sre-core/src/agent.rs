//! The `Agent` contract: run a task in a session, return an outcome.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::event::EventSink;
use crate::usage::UsageLedger;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum StopCause {
    /// The model answered and every Stop hook accepted.
    Completed,
    /// The model answered; Stop hooks kept rejecting and the rejection limit was reached.
    /// The answer is returned anyway, with the last rejection.
    MaxRejections {
        /// The last rejection reason.
        last_reason: String,
    },
    /// The turn limit was reached before a final answer.
    MaxTurns,
    /// A hook stopped the run.
    StoppedByHook {
        /// Its reason.
        reason: String,
    },
    /// A UserPromptSubmit hook (or the approver it asked) refused the task; the refusal is
    /// recorded and the session stays usable.
    PromptBlocked {
        /// Its reason.
        reason: String,
    },
    /// The task was a memory command (`#remember`, `#forget`, `#retrieve`) handled without
    /// the model.
    MemoryCommand,
    /// The run was cancelled; pending tool calls were recorded as cancelled.
    Cancelled,
    /// The agent tree spent its token or money cap; the run stopped before the next call.
    CostCapReached {
        /// Which cap, and what was spent.
        reason: String,
    },
    /// The model kept hitting the output token limit; the answer is what it wrote, cut.
    OutputLimit,
    /// The agent handed the thread to another agent (the `handoff` tool, see
    /// [`crate::handoff`]); the host starts `to` with the note and the task.
    Handoff {
        /// The agent to continue.
        to: String,
        /// What the agent said the next one must know.
        note: String,
    },
    /// A tool call waits for a person's decision ([`crate::Approval::Park`]): nothing is
    /// finished; `resume` continues once the requests are decided.
    AwaitingApproval {
        /// The stored requests' ids.
        requests: Vec<String>,
    },
}

impl StopCause {
    /// Its name (`Completed`, `MaxTurns`, `Handoff`...), without what it carries.
    pub fn kind(&self) -> &'static str {
        match self {
            StopCause::Completed => "Completed",
            StopCause::MaxRejections { .. } => "MaxRejections",
            StopCause::MaxTurns => "MaxTurns",
            StopCause::StoppedByHook { .. } => "StoppedByHook",
            StopCause::PromptBlocked { .. } => "PromptBlocked",
            StopCause::MemoryCommand => "MemoryCommand",
            StopCause::Cancelled => "Cancelled",
            StopCause::CostCapReached { .. } => "CostCapReached",
            StopCause::OutputLimit => "OutputLimit",
            StopCause::Handoff { .. } => "Handoff",
            StopCause::AwaitingApproval { .. } => "AwaitingApproval",
        }
    }
}

/// A conversation thread: its id, how to cancel it, and where its events go.
#[derive(Clone)]
pub struct Session {
    /// Session id (also the transcript's name in the store).
    pub id: String,
    /// Cancels the run at its next await point.
    pub cancel: CancellationToken,
    /// Event sink for this run.
    pub events: Option<Arc<dyn EventSink>>,
    /// The session (and tool call) that started this one, in an agent tree or a thread.
    pub parent: Option<SessionParent>,
}

/// Where a session comes from: the session that started it, and the tool call that did
/// (a subagent), or none (a handoff hop continuing a thread).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionParent {
    /// The parent session's id.
    pub session_id: String,
    /// The parent's tool call that started this session, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

impl Session {
    /// A session with a fresh cancellation token and no event sink.
    pub fn new(id: impl Into<String>) -> Self {
        Session {
            id: id.into(),
            cancel: CancellationToken::new(),
            events: None,
            parent: None,
        }
    }

    /// Started by `parent` (for telemetry's span tree and the event stream).
    pub fn with_parent(mut self, parent: SessionParent) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Send events to `sink`.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    /// Use `token` for cancellation.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Session id.
    pub session_id: String,
    /// How it ended.
    pub cause: StopCause,
    /// The final answer, if the model gave one.
    pub answer: Option<String>,
    /// Model calls made in this session so far.
    pub turns: u32,
    /// Reasons Stop hooks gave, in order.
    pub stop_rejections: Vec<String>,
    /// Usage of the agent tree (this agent and its subagents), per agent.
    pub usage: UsageLedger,
    /// Path of the persisted transcript, if any.
    pub transcript_path: Option<String>,
}

/// Something that runs tasks in sessions.
#[async_trait]
pub trait Agent: Send + Sync {
    /// Run `task` in `session` (a new session, or one whose previous run finished).
    async fn run(&self, session: &Session, task: &str) -> Result<Outcome>;

    /// Continue an unfinished run of `session` (after a crash, or a cancel) from its
    /// transcript; a run that ended otherwise gives its outcome again.
    async fn resume(&self, session: &Session) -> Result<Outcome>;
}
