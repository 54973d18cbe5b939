//! Agents as tools: [`AgentLoop::as_tool`](crate::AgentLoop::as_tool) turns a loop into a
//! tool (input `{task}`) that another agent calls as a subagent.
//!
//! Each call runs the loop as a child of the calling run: in its own session
//! ([`child_session_id`] of the caller's session, the call id and the tool's name), with
//! the caller's cancellation and event sink, its model calls counted in the caller's
//! ledger as `<caller>/<name>`. The child keeps its own model, prompt, tools, hooks (its
//! Stop hooks judge its answer as for any run) and session store. The call is made in
//! [`Mode::TaskOrResume`]: called again after a crash, the child resumes where it was
//! interrupted, or gives the answer it already gave, so the tool is idempotent. When the
//! caller's session is loaded, [`Tool::child_sessions`] names the child so its usage is
//! restored from its own transcript.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::agent::{Outcome, Session, SessionParent, StopCause};
use crate::agent_loop::{AgentLoop, Parts};
use crate::error::Error;
use crate::model::ToolSpec;
use crate::run::Mode;
use crate::subagent::child_session_id;
use crate::tool::{ChildSession, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput};

/// A loop called as a tool.
pub(crate) struct AgentTool {
    parts: Arc<Parts>,
    name: String,
    spec: ToolSpec,
    annotations: ToolAnnotations,
}

impl AgentTool {
    pub(crate) fn new(parts: Arc<Parts>, name: String, description: String) -> Self {
        let spec = ToolSpec {
            name: name.clone(),
            description,
            input_schema: json!({
                "type": "object",
                "properties": {
                    "task": {
                        "type": "string",
                        "description": "The task for this agent, self-contained: it sees nothing \
                                        of this conversation. Say what to find out and what to \
                                        report back."
                    }
                },
                "required": ["task"],
                "additionalProperties": false
            }),
        };
        // A call made again resumes the child instead of starting it over; it reads only if
        // every tool the child may use reads only.
        let read_only = parts.tools.values().all(|t| t.annotations().read_only);
        let annotations = ToolAnnotations {
            read_only,
            destructive: !read_only,
            idempotent: true,
            open_world: parts.tools.values().any(|t| t.annotations().open_world),
        };
        AgentTool {
            parts,
            name,
            spec,
            annotations,
        }
    }

    /// The task of a valid input, or what is wrong with it.
    fn task<'i>(&self, input: &'i Value) -> Result<&'i str, String> {
        let name = &self.name;
        let obj = input.as_object().ok_or_else(|| {
            format!("invalid arguments for `{name}`: expected `{{\"task\": ...}}`")
        })?;
        if let Some(k) = obj.keys().find(|k| k.as_str() != "task") {
            return Err(format!(
                "invalid arguments for `{name}`: unknown field `{k}` (give only `task`)"
            ));
        }
        match obj.get("task") {
            Some(Value::String(t)) if !t.trim().is_empty() => Ok(t),
            _ => Err(format!(
                "invalid arguments for `{name}`: `task` must be a non-empty string"
            )),
        }
    }
}

/// What the caller sees of the child's outcome.
fn report(name: &str, outcome: Outcome) -> ToolOutput {
    match (outcome.cause, outcome.answer) {
        (StopCause::Completed, Some(answer)) => ToolOutput::ok(answer),
        (StopCause::Handoff { to, note }, _) => ToolOutput::ok(format!(
            "`{name}` handed the task over to `{to}` instead of answering. Its note:\n{note}"
        )),
        // Its call waits for a person (a durable approval): the parent does not park with
        // it; it is told, so that it reports rather than repeats.
        (StopCause::AwaitingApproval { requests }, _) => ToolOutput::error(format!(
            "`{name}` is waiting for a person to approve one of its calls ({}); its result is \
             not known yet. Do not give it the task again; report that the approval is pending.",
            requests.join(", ")
        )),
        (cause, Some(answer)) => ToolOutput::ok(format!("{answer}\n(ended: {cause:?})")),
        (cause, None) => ToolOutput::error(format!("`{name}` gave no answer (ended: {cause:?})")),
    }
}

/// The deadline of a call that runs an agent (a subagent, an agent used as a tool): the
/// child's own turn limits and budget bound it first.
pub const AGENT_CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

#[async_trait]
impl Tool for AgentTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }

    /// A child investigation may rightly run longer than any one command.
    fn deadline(&self) -> Option<std::time::Duration> {
        Some(crate::agent_tool::AGENT_CALL_DEADLINE)
    }

    fn child_sessions(
        &self,
        parent_session: &str,
        parent_agent: &str,
        tool_use_id: &str,
        input: &Value,
    ) -> Vec<ChildSession> {
        if self.task(input).is_err() {
            return Vec::new(); // an invalid input never started the child
        }
        vec![ChildSession {
            session_id: child_session_id(parent_session, tool_use_id, &self.name),
            ledger_name: format!("{parent_agent}/{}", self.name),
            agent: Some(AgentLoop::from_parts(self.parts.clone())),
        }]
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let task = self.task(&input).map_err(ToolError::Invalid)?;
        let session = Session {
            id: child_session_id(&ctx.session_id, &ctx.tool_use_id, &self.name),
            cancel: ctx.cancel.child_token(),
            events: ctx.events.clone(),
            parent: Some(SessionParent {
                session_id: ctx.session_id.clone(),
                call_id: Some(ctx.tool_use_id.clone()),
            }),
        };
        let ledger_name = format!("{}/{}", ctx.agent_name, self.name);
        let result = AgentLoop::from_parts(self.parts.clone())
            .run_in_tree(
                &session,
                Mode::TaskOrResume(task),
                ledger_name,
                ctx.ledger.clone(),
            )
            .await;
        match result {
            Ok(outcome) => Ok(report(&self.name, outcome)),
            Err(Error::Cancelled) => Err(ToolError::Cancelled),
            Err(e) => Ok(ToolOutput::error(format!("`{}` failed: {e}", self.name))),
        }
    }
}
