//! Handoffs: an agent hands the thread to another agent better suited to continue it.
//!
//! [`AgentLoopBuilder::handoffs`](crate::AgentLoopBuilder::handoffs) offers the model a
//! `handoff` tool whose `to` is one of the listed targets (an enum in its schema, each
//! target described in the tool's description) and whose `note` says what the next agent
//! must know. A valid call is recorded like any tool call; once the turn's other calls ran,
//! the results and the end of the run are written in one append, and the run ends with
//! [`StopCause::Handoff`](crate::StopCause::Handoff). The loop does not start the target:
//! the host does (in the target's own session, with the note and the task), so the target
//! continues with its own prompt, tools and hooks. A target not listed is a model-visible
//! error naming the allowed ones, and the run goes on.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::ToolSpec;
use crate::tool::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput};

/// The name of the handoff tool.
pub const HANDOFF_TOOL: &str = "handoff";

/// An agent the thread may be handed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HandoffTarget {
    /// The agent's name (what the model passes as `to`).
    pub name: String,
    /// When to hand over to it (the agent's `handoff_description`).
    pub description: String,
}

impl HandoffTarget {
    /// A target named `name`, chosen by `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        HandoffTarget {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// The `handoff` tool (built by the loop).
pub(crate) struct HandoffTool {
    targets: Vec<HandoffTarget>,
    spec: ToolSpec,
}

impl HandoffTool {
    pub(crate) fn new(targets: Vec<HandoffTarget>) -> Result<Self> {
        let mut names: Vec<&str> = Vec::with_capacity(targets.len());
        for t in &targets {
            if t.name.trim().is_empty() {
                return Err(Error::Config("a handoff target has an empty name".into()));
            }
            if names.contains(&t.name.as_str()) {
                return Err(Error::Config(format!(
                    "two handoff targets are named `{}`",
                    t.name
                )));
            }
            names.push(&t.name);
        }
        let mut description = String::from(
            "Hand this conversation over to another agent that is better suited to continue \
             it. This ends your turn for good: the agent you name continues the task with its \
             own tools, starting from your note. Hand over only when the task belongs to one \
             of these agents:",
        );
        for t in &targets {
            description.push_str(&format!("\n- `{}`: {}", t.name, t.description.trim()));
        }
        let spec = ToolSpec {
            name: HANDOFF_TOOL.into(),
            description,
            input_schema: json!({
                "type": "object",
                "properties": {
                    "to": {
                        "type": "string",
                        "enum": names,
                        "description": "The agent to hand the conversation to."
                    },
                    "note": {
                        "type": "string",
                        "description": "What the next agent must know: the task, what you found \
                                        (with evidence), what is left to do."
                    }
                },
                "required": ["to", "note"],
                "additionalProperties": false
            }),
        };
        Ok(HandoffTool { targets, spec })
    }

    /// The target and note of a valid call, or the model-visible reason it is not one.
    pub(crate) fn parse<'i>(
        targets: &[HandoffTarget],
        input: &'i Value,
    ) -> Result<(&'i str, &'i str), String> {
        let allowed = || {
            targets
                .iter()
                .map(|t| format!("`{}`", t.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(obj) = input.as_object() else {
            return Err(format!(
                "invalid arguments for `{HANDOFF_TOOL}`: expected an object with `to` and `note`"
            ));
        };
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "to" | "note")) {
            return Err(format!(
                "invalid arguments for `{HANDOFF_TOOL}`: unknown field `{k}` (give `to` and `note`)"
            ));
        }
        let to = match obj.get("to") {
            Some(Value::String(to)) => to.as_str(),
            _ => {
                return Err(format!(
                    "invalid arguments for `{HANDOFF_TOOL}`: `to` must name one of {}",
                    allowed()
                ));
            }
        };
        if !targets.iter().any(|t| t.name == to) {
            return Err(format!(
                "`{to}` is not an agent this one may hand over to; allowed: {}",
                allowed()
            ));
        }
        match obj.get("note") {
            Some(Value::String(note)) if !note.trim().is_empty() => Ok((to, note.as_str())),
            _ => Err(format!(
                "invalid arguments for `{HANDOFF_TOOL}`: `note` must say what `{to}` needs to know"
            )),
        }
    }
}

#[async_trait]
impl Tool for HandoffTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// It changes nothing outside the run (the loop ends the run), so a read-only agent may
    /// hand over and a resumed run simply makes the call again.
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let (to, _) = Self::parse(&self.targets, &input).map_err(ToolError::Invalid)?;
        Ok(ToolOutput::ok(format!(
            "Handed over to `{to}`: it continues from your note."
        )))
    }
}
