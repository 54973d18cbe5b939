//! A tool usable only while one of its skills is active in the calling session.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sre_core::{ChildSession, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec};

use super::{ACTIVATE_SKILL_TOOL, Skills};

pub(super) fn wrap(skills: Skills, inner: Arc<dyn Tool>, mut owners: Vec<String>) -> Arc<dyn Tool> {
    owners.sort();
    owners.dedup();
    Arc::new(GatedTool {
        skills,
        inner,
        owners,
    })
}

/// The wrapped tool keeps its spec and annotations (it is always declared, so the tools
/// array never changes while skills activate); only `call` is guarded.
struct GatedTool {
    skills: Skills,
    inner: Arc<dyn Tool>,
    /// The skills that grant it, sorted.
    owners: Vec<String>,
}

impl GatedTool {
    fn refusal(&self, session_id: &str) -> String {
        let tool = &self.inner.spec().name;
        let first = self.owners.first().map(String::as_str).unwrap_or_default();
        let mut out = match self.owners.as_slice() {
            [one] => format!(
                "`{tool}` belongs to skill `{one}`; call {ACTIVATE_SKILL_TOOL} {{\"name\": \"{one}\"}} first"
            ),
            many => format!(
                "`{tool}` belongs to skills {}; activate one of them first, e.g. call \
                 {ACTIVATE_SKILL_TOOL} {{\"name\": \"{first}\"}}",
                many.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if let Some(gone) = self
            .owners
            .iter()
            .find(|s| self.skills.was_unloaded(session_id, s))
        {
            out.push_str(&format!(
                " (`{gone}` was unloaded: at most {} skills are active at once and it was the \
                 least recently activated)",
                self.skills.limits().max_active
            ));
        }
        out
    }
}

#[async_trait]
impl Tool for GatedTool {
    fn spec(&self) -> &ToolSpec {
        self.inner.spec()
    }

    fn annotations(&self) -> ToolAnnotations {
        self.inner.annotations()
    }

    fn call_annotations(&self, input: &Value) -> ToolAnnotations {
        self.inner.call_annotations(input)
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let open = self
            .owners
            .iter()
            .any(|s| self.skills.is_active(&ctx.session_id, s));
        if !open {
            return Err(ToolError::Invalid(self.refusal(&ctx.session_id)));
        }
        self.inner.call(input, ctx).await
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        self.inner.deadline()
    }

    fn restore(&self, session_id: &str, input: &Value) {
        // The call ran (its skill was active when it was recorded).
        self.inner.restore(session_id, input);
    }

    fn child_sessions(
        &self,
        parent_session: &str,
        parent_agent: &str,
        tool_use_id: &str,
        input: &Value,
    ) -> Vec<ChildSession> {
        // A gated agent-as-tool still owns its child sessions.
        self.inner
            .child_sessions(parent_session, parent_agent, tool_use_id, input)
    }
}
