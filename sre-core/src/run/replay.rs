//! Rebuilding a run's state from the session's records: the transcript as the model saw
//! it, the turn count, the ledger, pending calls, and per-session tool state.

use std::collections::HashMap;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Run, tools::RecordedCall};
use crate::agent_loop::Parts;
use crate::message::{ContentBlock, Role};
use crate::model::StopReason;
use crate::session::SessionRecord;
use crate::tool::ChildSession;
use crate::usage::SharedLedger;

impl Run<'_> {
    /// Rebuild the state from persisted records.
    pub(super) fn replay(&mut self, records: Vec<SessionRecord>) {
        let info = self.parts.model.info().clone();
        // Tool uses awaiting their result, for `Tool::restore`.
        let mut uses: HashMap<String, (String, Value)> = HashMap::new();
        for record in records {
            match record {
                SessionRecord::Start { system, .. } => {
                    self.started = true;
                    self.request.system = system;
                }
                SessionRecord::Task { text, message } => {
                    self.finished = None;
                    self.has_task = true;
                    self.has_task_record = true;
                    self.last_task = Some(text);
                    self.rejections.clear();
                    self.task_start_turn = self.turn;
                    self.answer_prefix.clear();
                    self.continuations = 0;
                    self.last_cut = false;
                    self.request.messages.push(message);
                }
                SessionRecord::TaskRefused { text, cause } => {
                    self.last_task = Some(text);
                    self.has_task = false;
                    self.has_task_record = false;
                    self.finished = Some((cause, None));
                }
                SessionRecord::Message {
                    message,
                    turn,
                    usage,
                    stop_reason,
                } => {
                    self.turn = self.turn.max(turn);
                    if let Some(usage) = usage {
                        self.ledger.record(&self.agent, usage, &info);
                        self.last_reported = Some(crate::budget::ReportedPrompt {
                            messages: self.request.messages.len(),
                            prompt_tokens: usage.prompt_tokens(),
                        });
                    }
                    if message.role == Role::Assistant {
                        self.note_answer(&message, stop_reason.as_ref());
                        self.started_calls.clear();
                        self.recorded_calls.clear();
                        for (id, name, input) in message.tool_uses() {
                            uses.insert(id.to_string(), (name.to_string(), input.clone()));
                        }
                    } else {
                        self.restore_tools(&message.content, &mut uses);
                    }
                    self.request.messages.push(message);
                }
                SessionRecord::Rewrite { messages, .. } => {
                    self.request.messages = messages;
                    self.last_reported = None;
                }
                SessionRecord::StopRejected { reason, feedback } => {
                    self.rejections.push(reason);
                    self.request.messages.extend(feedback);
                }
                SessionRecord::Finished { cause, answer } => {
                    self.finished = Some((cause, answer));
                    self.has_task = false;
                }
                SessionRecord::CallStarted { id } => {
                    self.started_calls.insert(id);
                }
                SessionRecord::CallResult {
                    id,
                    content,
                    is_error,
                    contexts,
                    stop,
                } => {
                    self.recorded_calls.insert(
                        id.clone(),
                        RecordedCall {
                            id,
                            recorded: content,
                            is_error,
                            contexts,
                            stop,
                            handoff: None,
                            parked: None,
                            persisted: true,
                        },
                    );
                }
                SessionRecord::Usage { rows } => {
                    self.ledger.merge(&rows);
                    self.hook_ctx.own_ledger.merge(&rows);
                    let mut persisted =
                        self.persisted_aux.lock().unwrap_or_else(|p| p.into_inner());
                    for (label, row) in rows {
                        persisted.entry(label).or_default().add(&row);
                    }
                }
            }
        }
    }

    /// Track an answer cut at the output limit: its text is kept as the prefix of the
    /// answer the next (continuing) message completes.
    pub(super) fn note_answer(
        &mut self,
        message: &crate::message::Message,
        stop_reason: Option<&StopReason>,
    ) {
        let cut = stop_reason == Some(&StopReason::MaxTokens) && !message.has_tool_uses();
        if !self.last_cut {
            self.answer_prefix.clear();
            self.continuations = 0;
        }
        if cut {
            self.answer_prefix.push_str(&answer_text(message));
            self.continuations += 1;
        }
        self.last_cut = cut;
    }

    /// Give stateful tools the successful calls of a results message (`Tool::restore`), and
    /// note the child sessions (subagents, agents called as tools) whose results arrived.
    fn restore_tools(
        &mut self,
        content: &[ContentBlock],
        uses: &mut HashMap<String, (String, Value)>,
    ) {
        for block in content {
            let ContentBlock::ToolResult {
                tool_use_id,
                is_error,
                ..
            } = block
            else {
                continue;
            };
            let Some((name, input)) = uses.remove(tool_use_id) else {
                continue;
            };
            let Some(tool) = self.parts.tools.get(&name) else {
                continue;
            };
            // Even a failed call may have run children (and spent tokens).
            self.finished_children.extend(tool.child_sessions(
                &self.session.id,
                &self.agent,
                tool_use_id,
                &input,
            ));
            if !*is_error {
                tool.restore(&self.session.id, &input);
            }
        }
    }

    /// Add the usage of child sessions whose results are in the transcript: each child's
    /// own transcript holds it, and its own children's transcripts theirs (children still
    /// running are resumed, and count themselves). A child transcript that cannot be read
    /// costs a warning, never the parent session.
    pub(super) async fn restore_children_usage(&mut self) {
        let mut warnings = Vec::new();
        for child in std::mem::take(&mut self.finished_children) {
            restore_usage(self.parts, child, &self.ledger, &mut warnings).await;
        }
        for message in warnings {
            self.emit(|| crate::event::EventKind::Warning { message });
        }
    }
}

/// Count the usage recorded in `child`'s transcript in `ledger` (its model calls under its
/// ledger name, priced with its model; its auxiliary rows as recorded), then that of the
/// children whose results its transcript holds, recursively. `parent` is the loop whose
/// model and store a child without its own loop uses.
fn restore_usage<'a>(
    parent: &'a Parts,
    child: ChildSession,
    ledger: &'a SharedLedger,
    warnings: &'a mut Vec<String>,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let own = child.agent.as_ref().map(|a| a.parts.clone());
        let parts: &Parts = own.as_deref().unwrap_or(parent);
        let loaded = match parts.store.load(&child.session_id).await {
            Ok(l) => l,
            Err(e) => {
                warnings.push(format!(
                    "usage of child session `{}` not restored: {e}",
                    child.session_id
                ));
                return;
            }
        };
        let info = parts.model.info();
        let mut uses: HashMap<String, (String, Value)> = HashMap::new();
        let mut grandchildren = Vec::new();
        for record in loaded.records {
            match record {
                SessionRecord::Message { message, usage, .. } => {
                    if let Some(usage) = usage {
                        ledger.record(&child.ledger_name, usage, info);
                    }
                    for block in &message.content {
                        match block {
                            ContentBlock::ToolUse { id, name, input } => {
                                uses.insert(id.clone(), (name.clone(), input.clone()));
                            }
                            ContentBlock::ToolResult { tool_use_id, .. } => {
                                let Some((name, input)) = uses.remove(tool_use_id) else {
                                    continue;
                                };
                                if let Some(tool) = parts.tools.get(&name) {
                                    grandchildren.extend(tool.child_sessions(
                                        &child.session_id,
                                        &child.ledger_name,
                                        tool_use_id,
                                        &input,
                                    ));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                SessionRecord::Usage { rows } => ledger.merge(&rows),
                _ => {}
            }
        }
        for grandchild in grandchildren {
            restore_usage(parts, grandchild, ledger, warnings).await;
        }
    })
}

/// The text a message contributes to an answer (the empty-response placeholder gives none).
pub(super) fn answer_text(message: &crate::message::Message) -> String {
    let text = message.text();
    if text == super::turn::EMPTY_RESPONSE {
        String::new()
    } else {
        text
    }
}
