//! Durable approvals: what a `Review` agent asked to do, waiting for a person, kept in the
//! incident store so that a parked run survives restarts; and approval policies (allow or
//! deny by tool and command prefix, for one thread or all).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// An approval request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApprovalRecord {
    /// Its id (`apr-<n>`).
    pub id: String,
    /// The thread (the first hop's session id).
    pub thread: String,
    /// The session the call belongs to.
    pub session: String,
    /// The tool call's id.
    pub tool_use_id: String,
    /// The agent that asked.
    pub agent: String,
    /// The tool.
    pub tool: String,
    /// The input the agent gave.
    pub input: serde_json::Value,
    /// Why it needs approval (the hooks' verdict).
    pub reason: String,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    /// The input a person approved instead, if edited.
    pub approved_input: Option<serde_json::Value>,
    /// The person's reason (for a denial, or a note).
    pub note: Option<String>,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided, as they named themselves (the API has one token: this is their word).
    pub decided_by: Option<String>,
}

/// A person's decision on a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Run it (with this input, if edited).
    Approve {
        /// The edited input, if any.
        input: Option<serde_json::Value>,
    },
    /// Do not run it.
    Deny {
        /// Why, for the agent.
        reason: String,
    },
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Run without asking.
    Allow,
    /// Refuse without asking.
    Deny,
}

/// An approval policy: calls of `tool` (whose command starts with `prefix`, for command
/// tools), in `thread` or in every thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyRecord {
    /// Its id.
    pub id: i64,
    /// The thread it holds in (`None`: all).
    pub thread: Option<String>,
    /// The tool.
    pub tool: String,
    /// A command prefix (`kubectl get`), for tools with a `command` input.
    pub prefix: Option<String>,
    /// The prefix is the whole command: only that command line matches (what a person
    /// approved with "always"), not longer ones.
    pub exact: bool,
    /// Allow or deny.
    pub effect: Effect,
}

/// Where approval requests and policies are kept.
pub trait ApprovalStore: Send + Sync {
    /// The request for tool call `tool_use_id` of `session`, creating it (pending) if new.
    fn request(&self, new: &ApprovalRecord) -> Result<ApprovalRecord, StoreError>;
    /// One request.
    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError>;
    /// The request for tool call `tool_use_id` of `session`, if any.
    fn find(&self, session: &str, tool_use_id: &str) -> Result<Option<ApprovalRecord>, StoreError>;
    /// Requests, newest first (`pending_only` for those waiting).
    fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Decide a pending request (`by`: who, in their own words); deciding one already
    /// decided is an error that says how.
    fn decide(
        &self,
        id: &str,
        decision: &Decision,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ApprovalRecord, StoreError>;
    /// The pending requests of `thread` (all threads: `None`), oldest first.
    fn pending(&self, thread: Option<&str>) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Every request of `thread`, pending or decided, oldest first.
    fn thread_approvals(&self, thread: &str) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Add a policy.
    fn add_policy(&self, policy: &PolicyRecord) -> Result<i64, StoreError>;
    /// The policies that may apply to `tool` in `thread` (thread ones and global ones).
    fn policies(&self, thread: &str, tool: &str) -> Result<Vec<PolicyRecord>, StoreError>;
}

/// What the policies say about a call whose command line (for command tools) is
/// `command`: a deny wins over an allow; `None` when none applies.
///
/// Command lines are parsed the way the shell parses them (`sre_core::shell`): a deny
/// prefix applies when *any* command of the line starts with its words (and, fail closed,
/// when the line cannot be parsed but contains them); an allow prefix only when *every*
/// command starts with its words, all literal, and none writes a file (`kubectl get pods;
/// kubectl delete pod x` is not allowed by `kubectl get`), or when the line is the prefix
/// itself (the command a person approved for the thread).
pub fn judge(policies: &[PolicyRecord], command: Option<&str>) -> Option<Effect> {
    let parsed = command.map(sre_core::shell::parse);
    // `/usr/bin/kubectl` is `kubectl`.
    let program = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let starts = |cmd: &sre_core::shell::SimpleCommand, prefix: &[&str]| {
        cmd.assignments.is_empty()
            && cmd.words.len() >= prefix.len()
            && cmd.words.iter().zip(prefix).enumerate().all(|(i, (w, p))| {
                w.literal
                    && if i == 0 {
                        program(&w.value) == *p
                    } else {
                        w.value == *p
                    }
            })
    };
    // A deny is conservative: the prefix's words in order anywhere in a command
    // (`kubectl -n prod delete` is `kubectl delete`), or its text in the raw line (an
    // `sh -c '...'` argument).
    let mentions = |cmd: &sre_core::shell::SimpleCommand, prefix: &[&str]| {
        let mut want = prefix.iter().peekable();
        for w in &cmd.words {
            let v = program(&w.value);
            if want.peek().is_some_and(|p| **p == v || **p == w.value) {
                want.next();
            }
        }
        want.peek().is_none()
    };
    let applies = |p: &PolicyRecord| -> bool {
        let Some(prefix) = &p.prefix else {
            return true;
        };
        let words: Vec<&str> = prefix.split_whitespace().collect();
        if p.exact {
            return p.effect == Effect::Allow
                && command.is_some_and(|c| squash(c) == squash(prefix))
                || p.effect == Effect::Deny
                    && command.is_some_and(|c| squash(c).contains(&squash(prefix)));
        }
        match (&parsed, p.effect) {
            (None, _) => false,
            (Some(parsed), Effect::Deny) => {
                command.is_some_and(|c| squash(c).contains(&squash(prefix)))
                    || parsed
                        .as_ref()
                        .is_ok_and(|cmds| cmds.iter().any(|c| mentions(c, &words)))
            }
            (Some(Ok(cmds)), Effect::Allow) => {
                !cmds.is_empty()
                    && cmds
                        .iter()
                        .all(|c| starts(c, &words) && !c.redirects.iter().any(|r| r.writes_file()))
            }
            (Some(Err(_)), Effect::Allow) => false,
        }
    };
    let matching: Vec<&PolicyRecord> = policies.iter().filter(|p| applies(p)).collect();
    if matching.iter().any(|p| p.effect == Effect::Deny) {
        Some(Effect::Deny)
    } else if matching.is_empty() {
        None
    } else {
        Some(Effect::Allow)
    }
}

/// A command line with its runs of blanks made one space.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The policy "always allow this for this thread" for a decided request: the command a
/// person approved (the edited one, if edited), exactly; for a tool without a command, the
/// tool for the rest of the thread.
pub fn always_policy(record: &ApprovalRecord) -> PolicyRecord {
    let input = record.approved_input.as_ref().unwrap_or(&record.input);
    let command = input
        .get("command")
        .and_then(|c| c.as_str())
        .map(str::to_string);
    PolicyRecord {
        id: 0,
        thread: Some(record.thread.clone()),
        tool: record.tool.clone(),
        exact: command.is_some(),
        prefix: command,
        effect: Effect::Allow,
    }
}
