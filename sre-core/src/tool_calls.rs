//! Running one tool call inside a run: PreToolUse hooks (block, ask, rewrite), the call,
//! PostToolUse hooks (withhold, context), and offloading of large results at record time.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::hook::{HookAction, HookPayload};
use crate::run::Run;
use crate::tool::{ToolContext, ToolError};

/// A finished call, as it will be recorded.
pub(crate) struct CallResult {
    pub id: String,
    /// What enters the transcript.
    pub recorded: String,
    pub is_error: bool,
    /// Hook contexts to add after the results.
    pub contexts: Vec<String>,
    /// A hook asked to stop the run.
    pub stop: Option<String>,
}

impl Run<'_> {
    pub(crate) async fn run_call(
        &self,
        id: &str,
        name: &str,
        mut input: Value,
    ) -> Result<CallResult> {
        let mut contexts = Vec::new();
        let refused = |recorded: String, contexts: Vec<String>, stop: Option<String>| {
            self.emit(|| EventKind::ToolRefused {
                id: id.to_string(),
                name: name.to_string(),
                reason: recorded.clone(),
                ran: false,
            });
            CallResult {
                id: id.to_string(),
                recorded,
                is_error: true,
                contexts,
                stop,
            }
        };

        // PreToolUse: the decision is data; a block means the tool never runs.
        let pre = self
            .hooks(|| HookPayload::PreToolUse {
                tool_name: name.to_string(),
                tool_input: input.clone(),
                tool_use_id: id.to_string(),
            })
            .await?;
        contexts.extend(pre.additional_context);
        match pre.action {
            HookAction::Continue => {}
            HookAction::Block { reason } => {
                return Ok(refused(
                    format!("Blocked by a PreToolUse hook: {reason}"),
                    contexts,
                    None,
                ));
            }
            HookAction::Stop { reason } => {
                return Ok(refused(
                    format!("Blocked: a hook stopped the run: {reason}"),
                    contexts,
                    Some(reason),
                ));
            }
            HookAction::Ask { reason } => {
                let approved = match &self.parts.approver {
                    Some(approver) => {
                        let hook_input = self.hook_input(HookPayload::PreToolUse {
                            tool_name: name.to_string(),
                            tool_input: pre.updated_input.clone().unwrap_or_else(|| input.clone()),
                            tool_use_id: id.to_string(),
                        });
                        approver.approve(&hook_input, &reason).await
                    }
                    None => {
                        return Ok(refused(
                            format!(
                                "Denied: this call needs approval ({reason}) and no approver is configured"
                            ),
                            contexts,
                            None,
                        ));
                    }
                };
                if !approved {
                    return Ok(refused(
                        format!("Denied by the approver: {reason}"),
                        contexts,
                        None,
                    ));
                }
            }
        }
        if let Some(updated) = pre.updated_input {
            input = updated;
        }

        let Some(tool) = self.parts.tools.get(name) else {
            let known: Vec<&str> = self.parts.tools.keys().map(String::as_str).collect();
            return Ok(refused(
                format!(
                    "Unknown tool `{name}`. Available tools: {}",
                    known.join(", ")
                ),
                contexts,
                None,
            ));
        };

        self.emit(|| EventKind::ToolStarted {
            id: id.to_string(),
            name: name.to_string(),
            input: input.clone(),
        });
        let ctx = ToolContext {
            session_id: self.session.id.clone(),
            agent_name: self.agent.clone(),
            turn: self.turn,
            tool_use_id: id.to_string(),
            cancel: self.session.cancel.child_token(),
            offload: self.parts.offload.clone(),
            ledger: self.ledger.clone(),
            events: self.session.events.clone(),
        };
        let started = Instant::now();
        let (output, is_error) = match tool.call(input.clone(), &ctx).await {
            Ok(out) => (out.content, out.is_error),
            Err(ToolError::Invalid(message)) => (message, true),
            Err(ToolError::Cancelled) => return Err(Error::Cancelled),
            Err(ToolError::Fatal(message)) => {
                return Err(Error::ToolFatal {
                    tool: name.to_string(),
                    message,
                });
            }
        };
        let duration = started.elapsed();

        // PostToolUse / PostToolUseFailure: a block withholds the output (the call already ran).
        let post = self
            .hooks(|| HookPayload::PostToolUse {
                tool_name: name.to_string(),
                tool_input: input,
                tool_use_id: id.to_string(),
                tool_response: output.clone(),
                succeeded: !is_error,
                duration_ms: duration.as_millis() as u64,
            })
            .await?;
        contexts.extend(post.additional_context);
        let mut stop = None;
        let withheld = !matches!(post.action, HookAction::Continue);
        // `full` keeps the tool's output when what is recorded differs from it.
        let (recorded, full, is_error) = match post.action {
            HookAction::Continue => {
                let (recorded, full) = self.record_output(name, id, output).await?;
                (recorded, full, is_error)
            }
            HookAction::Block { reason } | HookAction::Ask { reason } => (
                format!("Output withheld by a PostToolUse hook (the call already ran): {reason}"),
                Some(output),
                true,
            ),
            HookAction::Stop { reason } => {
                let recorded = format!(
                    "Output withheld: a hook stopped the run (the call already ran): {reason}"
                );
                stop = Some(reason);
                (recorded, Some(output), true)
            }
        };
        if withheld {
            self.emit(|| EventKind::ToolRefused {
                id: id.to_string(),
                name: name.to_string(),
                reason: recorded.clone(),
                ran: true,
            });
        }
        if self.session.events.is_some() {
            let recorded_arc: Arc<str> = Arc::from(recorded.as_str());
            let output = full.map_or_else(|| recorded_arc.clone(), Arc::from);
            self.emit(|| EventKind::ToolFinished {
                id: id.to_string(),
                name: name.to_string(),
                is_error,
                duration,
                output,
                recorded: recorded_arc,
            });
        }
        Ok(CallResult {
            id: id.to_string(),
            recorded,
            is_error,
            contexts,
            stop,
        })
    }

    /// Truncate at record time: a result above the offload threshold is stored and replaced
    /// by its preview. Returns what to record and, when that differs, the full output.
    async fn record_output(
        &self,
        name: &str,
        id: &str,
        output: String,
    ) -> Result<(String, Option<String>)> {
        let Some(offload) = self
            .parts
            .offload
            .as_ref()
            .filter(|o| output.len() > o.threshold_bytes())
        else {
            return Ok((output, None));
        };
        match offload.offload(name, id, &output).await {
            Ok(preview) => Ok((preview, Some(output))),
            Err(ToolError::Fatal(message)) => Err(Error::ToolFatal {
                tool: name.to_string(),
                message,
            }),
            Err(e) => {
                self.emit(|| EventKind::Warning {
                    message: format!("offloading the output of `{name}` failed: {e}"),
                });
                Ok((
                    crate::text::truncate_middle(&output, offload.threshold_bytes()),
                    Some(output),
                ))
            }
        }
    }
}
