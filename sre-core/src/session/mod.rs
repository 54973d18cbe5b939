//! The `SessionStore` contract (a persisted, append-only transcript with one writer at a
//! time) and its two implementations: JSONL files on disk (the embedded default) and
//! memory (tests, benches).

mod jsonl;
mod memory;

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::agent::StopCause;
use crate::budget::BudgetVerdict;
use crate::error::Result;
use crate::message::Message;
use crate::model::{StopReason, SystemBlock};
use crate::usage::{AgentUsage, Usage};

pub use jsonl::{Durability, JsonlSessionStore, parse_jsonl};
pub use memory::{InMemorySessionStore, LocalLocks};

/// One line of a transcript. Each step of the loop appends its records (one, or a few that
/// must not be separated) as whole lines in one write, so a crash of the process loses at
/// most the step in flight, which `resume` redoes (a power loss may cut the last line,
/// which loading discards).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum SessionRecord {
    /// The session's fixed prompt: system prompt and rendered layers.
    Start {
        /// Agent name.
        agent: String,
        /// System blocks as sent.
        system: Vec<SystemBlock>,
    },
    /// A user task entered the transcript as `message` (the task plus any hook context).
    Task {
        /// The task text as the user gave it.
        text: String,
        /// The user message appended to the transcript.
        message: Message,
    },
    /// A task that never entered the transcript: a UserPromptSubmit hook or the approver
    /// refused it, or the run was cancelled before it started. The session stays usable.
    TaskRefused {
        /// The task text as the user gave it.
        text: String,
        /// Why it did not run ([`StopCause::PromptBlocked`] or [`StopCause::Cancelled`]).
        cause: StopCause,
    },
    /// A message appended to the transcript.
    Message {
        /// The message.
        message: Message,
        /// Turn that produced it (assistant messages) or answers (tool results).
        turn: u32,
        /// Provider usage, for assistant messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        /// Why the model stopped, for assistant messages cut short (`max_tokens`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop_reason: Option<StopReason>,
    },
    /// A call that may change the world (neither read-only nor idempotent) is about to run.
    /// If the session is resumed with no [`SessionRecord::CallResult`] for it, the call is
    /// not run again: the model is told its outcome is unknown.
    CallStarted {
        /// The tool-use id.
        id: String,
    },
    /// A call that may change the world finished; on resume its result is used as it is.
    CallResult {
        /// The tool-use id.
        id: String,
        /// What enters the transcript.
        content: String,
        /// Whether it is an error result.
        is_error: bool,
        /// Hook contexts to add after the turn's results.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        contexts: Vec<String>,
        /// A hook asked to stop the run after this call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop: Option<String>,
    },
    /// Usage of model calls made on this agent's behalf since the last such record
    /// (subagents, hook judges, compaction), keyed by agent (`agent/child`,
    /// `agent/hook:name`); restored into the ledger on load.
    Usage {
        /// Rows to add.
        rows: BTreeMap<String, AgentUsage>,
    },
    /// The transcript was replaced (prune or compaction): what follows builds on `messages`.
    Rewrite {
        /// Prune or compact.
        verdict: BudgetVerdict,
        /// The new transcript.
        messages: Vec<Message>,
    },
    /// A Stop hook rejected an answer; `feedback` (if any) was appended for the agent.
    StopRejected {
        /// The reason.
        reason: String,
        /// The message that fed the reason back (absent when the limit was reached).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback: Option<Message>,
    },
    /// The run ended.
    Finished {
        /// How.
        cause: StopCause,
        /// The final answer, if any.
        answer: Option<String>,
    },
}

/// What [`SessionStore::load`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedSession {
    /// Records in order.
    pub records: Vec<SessionRecord>,
    /// Problems that were repaired (e.g. a torn last line discarded).
    pub warnings: Vec<String>,
}

/// Proof that this holder is the one writer of a session; the session is released when it
/// is dropped. Returned by [`SessionStore::lock`].
pub struct SessionLock {
    _held: Box<dyn Send + Sync>,
    warnings: Vec<String>,
}

impl SessionLock {
    /// A lock that stays held as long as `held` lives.
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        SessionLock {
            _held: Box::new(held),
            warnings: Vec::new(),
        }
    }

    /// Attach what was repaired while locking (e.g. a torn last record cut off).
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// What was repaired while locking.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl std::fmt::Debug for SessionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLock")
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// A persisted, append-only transcript store with one writer per session.
///
/// A run takes [`SessionStore::lock`] before it reads the transcript and holds it until it
/// ends, so two runs of one session (two tasks of a process, or two processes) never
/// interleave records: the second gets [`Error::SessionBusy`](crate::Error::SessionBusy).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// All records of `session_id` (empty for a new session). Never modifies the
    /// transcript: a torn last record (crash mid-write) is left out with a warning; any
    /// other damage is an error.
    async fn load(&self, session_id: &str) -> Result<LoadedSession>;

    /// Append records durably, all or nothing as far as the medium allows.
    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()>;

    /// Become the one writer of `session_id`, or fail at once with
    /// [`Error::SessionBusy`](crate::Error::SessionBusy). The holder may repair the
    /// transcript (cut a torn last record); what it repaired is in
    /// [`SessionLock::warnings`].
    async fn lock(&self, session_id: &str) -> Result<SessionLock>;

    /// Where the transcript lives, for hooks (`transcript_path`); `None` when the store
    /// keeps no file (hooks then get `transcript_path: null`).
    fn transcript_path(&self, _session_id: &str) -> Option<PathBuf> {
        None
    }
}

/// The conversation `records` hold, as the model last saw it: tasks, messages (tool results
/// included) and Stop hooks' feedback in order, a rewrite (pruning, compaction) replacing
/// what came before. For reading a finished session (learning from it, reporting on it).
///
/// ```
/// use sre_core::{Message, SessionRecord, transcript};
/// let task = Message::user("Why is checkout slow?");
/// let records = vec![SessionRecord::Task { text: "Why is checkout slow?".into(), message: task.clone() }];
/// assert_eq!(transcript(&records), vec![task]);
/// ```
pub fn transcript(records: &[SessionRecord]) -> Vec<Message> {
    let mut messages = Vec::new();
    for record in records {
        match record {
            SessionRecord::Task { message, .. } | SessionRecord::Message { message, .. } => {
                messages.push(message.clone());
            }
            SessionRecord::Rewrite { messages: now, .. } => messages = now.clone(),
            SessionRecord::StopRejected {
                feedback: Some(message),
                ..
            } => messages.push(message.clone()),
            _ => {}
        }
    }
    messages
}
