//! Taking a task in: render the session's fixed prompt (new sessions), SessionStart and
//! UserPromptSubmit hooks (which may refuse, ask the approver, or add context), memory
//! commands, and the task record.
//!
//! Nothing is persisted until the task's fate is known, and then in one write: either
//! `[Start?, Task]` (the run goes on), `[Start?, TaskRefused]` (refused or cancelled: the
//! session stays usable), or `[Start?, Task, Message, Finished]` (a memory command). So a
//! crash at any point leaves either no trace of the task or all of it.

use super::Run;
use crate::agent::{Outcome, StopCause};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::hook::{HookAction, HookPayload};
use crate::message::{ContentBlock, Message};
use crate::model::SystemBlock;
use crate::session::SessionRecord;

impl Run<'_> {
    /// Bring `task` in. `Some(outcome)` ends the run (refused, or a memory command).
    pub(super) async fn intake(&mut self, task: &str) -> Result<Option<Outcome>> {
        let source = if self.started { "resume" } else { "startup" };
        let start = if self.started {
            None
        } else {
            Some(self.render_start().await?)
        };
        match self.screen_task(task, source).await {
            Ok(Ok(mut extra_context)) => {
                if let Some(outcome) = self.memory_command(task, start.clone()).await? {
                    return Ok(Some(outcome));
                }
                let mut message = Message::user(task);
                for c in extra_context.drain(..) {
                    message.content.push(ContentBlock::text(format!(
                        "<hook-context>\n{c}\n</hook-context>"
                    )));
                }
                let mut records: Vec<SessionRecord> = start.into_iter().collect();
                records.push(SessionRecord::Task {
                    text: task.to_string(),
                    message: message.clone(),
                });
                self.persist(&records).await?;
                self.task_start_turn = self.turn;
                self.rejections.clear();
                // A new answer starts: nothing of a previous cut answer carries over.
                self.answer_prefix.clear();
                self.continuations = 0;
                self.last_cut = false;
                self.has_task = true;
                self.has_task_record = true;
                self.finished = None;
                self.last_task = Some(task.to_string());
                self.request.messages.push(message);
                Ok(None)
            }
            Ok(Err(reason)) => {
                let cause = StopCause::PromptBlocked { reason };
                self.refuse(task, start, cause.clone()).await?;
                self.emit(|| EventKind::Finished {
                    cause: cause.clone(),
                    answer: None,
                });
                Ok(Some(self.outcome(cause, None)))
            }
            Err(Error::Cancelled) => {
                self.refuse(task, start, StopCause::Cancelled).await?;
                self.emit(|| EventKind::Finished {
                    cause: StopCause::Cancelled,
                    answer: None,
                });
                Err(Error::Cancelled)
            }
            Err(e) => Err(e),
        }
    }

    /// SessionStart and UserPromptSubmit hooks: the contexts to add, or why the task is
    /// refused.
    async fn screen_task(
        &mut self,
        task: &str,
        source: &str,
    ) -> Result<Result<Vec<String>, String>> {
        if self.session.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut extra_context = self.session_start(source).await?;
        let payload = || HookPayload::UserPromptSubmit {
            prompt: task.to_string(),
        };
        let merged = self.hooks(payload).await?;
        match merged.action {
            HookAction::Continue => {}
            HookAction::Block { reason } | HookAction::Stop { reason } => return Ok(Err(reason)),
            HookAction::Ask { reason } => {
                let Some(approver) = &self.parts.approver else {
                    return Ok(Err(format!(
                        "this task needs approval ({reason}) and no approver is configured"
                    )));
                };
                let input = self.hook_input(payload());
                let approved = tokio::select! {
                    a = approver.approve(&input, &reason) => a,
                    _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
                };
                if !approved {
                    return Ok(Err(format!("denied by the approver: {reason}")));
                }
            }
        }
        extra_context.extend(merged.additional_context);
        Ok(Ok(extra_context))
    }

    /// Record a task that did not run, so the session stays usable and the refusal is kept.
    async fn refuse(
        &mut self,
        task: &str,
        start: Option<SessionRecord>,
        cause: StopCause,
    ) -> Result<()> {
        let mut records: Vec<SessionRecord> = start.into_iter().collect();
        records.push(SessionRecord::TaskRefused {
            text: task.to_string(),
            cause: cause.clone(),
        });
        self.persist(&records).await?;
        self.last_task = Some(task.to_string());
        self.finished = Some((cause, None));
        Ok(())
    }

    /// Render the system prompt and the layers (once per session; persisted with the task).
    async fn render_start(&mut self) -> Result<SessionRecord> {
        let mut system = Vec::with_capacity(1 + self.parts.layers.len());
        if !self.parts.system_prompt.is_empty() {
            system.push(SystemBlock {
                name: "system".into(),
                text: self.parts.system_prompt.clone(),
            });
        }
        let (session_id, agent) = (self.session.id.clone(), self.agent.clone());
        let ctx = crate::layer::LayerContext {
            session_id: &session_id,
            agent: &agent,
        };
        for (i, layer) in self.parts.layers.iter().enumerate() {
            let text = layer.render(&ctx).await?;
            self.layer_texts[i] = Some(text.clone());
            if !text.is_empty() {
                system.push(SystemBlock {
                    name: layer.name().to_string(),
                    text,
                });
            }
        }
        self.request.system = system.clone();
        self.started = true;
        Ok(SessionRecord::Start {
            agent: self.agent.clone(),
            system,
        })
    }

    pub(super) async fn session_start(&mut self, source: &str) -> Result<Vec<String>> {
        self.emit(|| EventKind::SessionStarted {
            source: source.to_string(),
            parent: self.session.parent.clone(),
        });
        let merged = self
            .hooks(|| HookPayload::SessionStart {
                source: source.to_string(),
            })
            .await?;
        Ok(merged.additional_context)
    }

    /// `#remember`, `#forget` and `#retrieve`, handled without the model when a memory
    /// store is configured. They run after the UserPromptSubmit hooks, so governance and
    /// audit see them like any task.
    async fn memory_command(
        &mut self,
        task: &str,
        start: Option<SessionRecord>,
    ) -> Result<Option<Outcome>> {
        let Some(memory) = self.parts.memory.clone() else {
            return Ok(None);
        };
        let Some(command) = MemoryCommand::parse(task) else {
            return Ok(None);
        };
        let answer = match command {
            MemoryCommand::Remember(fact) => {
                let id = memory.remember(fact, None, "user").await?;
                format!("Remembered as {id}.")
            }
            MemoryCommand::Forget(selector) => {
                let ids = memory.forget(selector, "user").await?;
                if ids.is_empty() {
                    format!("No memory entry matched `{selector}`.")
                } else {
                    format!("Deprecated: {}.", ids.join(", "))
                }
            }
            MemoryCommand::Retrieve(query) => {
                let hits = memory.retrieve(query, 10).await?;
                if hits.is_empty() {
                    format!("No memory entry matched `{query}`.")
                } else {
                    hits.iter()
                        .map(|h| match &h.note {
                            Some(n) => format!("- [{}] {} ({}; {})", h.id, h.text, h.path, n),
                            None => format!("- [{}] {} ({})", h.id, h.text, h.path),
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            }
        };
        let cause = StopCause::MemoryCommand;
        let mut records: Vec<SessionRecord> = start.into_iter().collect();
        records.extend([
            SessionRecord::Task {
                text: task.to_string(),
                message: Message::user(task),
            },
            SessionRecord::Message {
                message: Message::assistant(answer.clone()),
                turn: self.turn,
                usage: None,
                stop_reason: None,
            },
            SessionRecord::Finished {
                cause: cause.clone(),
                answer: Some(answer.clone()),
            },
        ]);
        self.persist(&records).await?;
        self.request.messages.push(Message::user(task));
        self.request
            .messages
            .push(Message::assistant(answer.clone()));
        self.last_task = Some(task.to_string());
        self.finished = Some((cause.clone(), Some(answer.clone())));
        self.emit(|| EventKind::Finished {
            cause: cause.clone(),
            answer: Some(answer.clone()),
        });
        Ok(Some(self.outcome(cause, Some(answer))))
    }
}

/// A user memory command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryCommand<'a> {
    /// `#remember <fact>`
    Remember(&'a str),
    /// `#forget <id or text>`
    Forget(&'a str),
    /// `#retrieve <query>`
    Retrieve(&'a str),
}

impl<'a> MemoryCommand<'a> {
    /// Parse a task that starts with `#remember`, `#forget` or `#retrieve` followed by text.
    pub fn parse(task: &'a str) -> Option<Self> {
        let t = task.trim_start();
        for (prefix, make) in [
            ("#remember", MemoryCommand::Remember as fn(&'a str) -> Self),
            ("#forget", MemoryCommand::Forget),
            ("#retrieve", MemoryCommand::Retrieve),
        ] {
            if let Some(rest) = t.strip_prefix(prefix)
                && rest.starts_with(char::is_whitespace)
                && !rest.trim().is_empty()
            {
                return Some(make(rest.trim()));
            }
        }
        None
    }
}
