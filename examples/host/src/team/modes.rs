//! Agent types (`agent_type`): `ReadOnly` agents run only read-only calls; `Review` agents
//! ask the approver before every call that is not read-only; `Autonomous` agents run all.
//! Both are decided per call from the tool's annotations (`tool_annotations` in the hook
//! input), so a shell line made only of readers runs in a read-only agent.

use std::sync::Arc;

use async_trait::async_trait;
use sre_core::{
    Approver, FailMode, Hook, HookContext, HookDecision, HookEvent, HookInput, HookPayload,
    ToolAnnotations,
};

fn annotations(input: &HookInput) -> Option<ToolAnnotations> {
    match &input.payload {
        HookPayload::PreToolUse { annotations, .. } => *annotations,
        _ => None,
    }
}

/// Whether the call leaves the world as it is (its tool says it is read-only).
fn leaves_the_world(input: &HookInput) -> bool {
    annotations(input).is_some_and(|a| a.read_only)
}

/// Blocks every call that is not read-only (`agent_type: ReadOnly`).
pub struct ReadOnlyGuard;

#[async_trait]
impl Hook for ReadOnlyGuard {
    fn name(&self) -> &str {
        "agent-type:read-only"
    }

    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PreToolUse
    }

    fn fail_mode(&self) -> FailMode {
        FailMode::Block
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        Ok(if leaves_the_world(input) {
            HookDecision::allow()
        } else {
            HookDecision::block(format!(
                "this agent is ReadOnly: `{}` with this input may change the world",
                input.tool_name().unwrap_or("?")
            ))
        })
    }
}

/// Asks the approver before every call that is not read-only (`agent_type: Review`).
pub struct ReviewGate;

#[async_trait]
impl Hook for ReviewGate {
    fn name(&self) -> &str {
        "agent-type:review"
    }

    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PreToolUse
    }

    fn fail_mode(&self) -> FailMode {
        FailMode::Block
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        Ok(if leaves_the_world(input) {
            HookDecision::allow()
        } else {
            HookDecision::ask(format!(
                "review mode: `{}` may change the world",
                input.tool_name().unwrap_or("?")
            ))
        })
    }
}

/// How a run answers approval requests when no person is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoApproval {
    /// Approve every request.
    Approve,
    /// Deny every request.
    Deny,
}

#[async_trait]
impl Approver for AutoApproval {
    async fn approve(&self, _input: &HookInput, _reason: &str) -> bool {
        *self == AutoApproval::Approve
    }
}

/// Asks a person on the terminal: prints the call to stderr and reads `y`/`n` from stdin.
pub struct TerminalApprover;

#[async_trait]
impl Approver for TerminalApprover {
    async fn approve(&self, input: &HookInput, reason: &str) -> bool {
        let call = input.to_json();
        let shown = format!(
            "\n[approval] agent {} wants to run {} {}\n  why: {reason}\n  approve? [y/N] ",
            input.agent_name,
            call["tool_name"].as_str().unwrap_or("?"),
            call["tool_input"]
        );
        tokio::task::spawn_blocking(move || {
            use std::io::{BufRead, Write};
            let mut err = std::io::stderr();
            let _ = err.write_all(shown.as_bytes());
            let _ = err.flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).is_ok()
                && matches!(line.trim(), "y" | "Y" | "yes")
        })
        .await
        .unwrap_or(false)
    }
}

/// The hooks an agent type adds.
pub fn guards(agent_type: crate::home::AgentType) -> Vec<Arc<dyn Hook>> {
    match agent_type {
        crate::home::AgentType::ReadOnly => vec![Arc::new(ReadOnlyGuard)],
        crate::home::AgentType::Review => vec![Arc::new(ReviewGate)],
        crate::home::AgentType::Autonomous => Vec::new(),
    }
}
