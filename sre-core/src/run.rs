//! One run of the agent loop: replay the transcript, then step until an answer, a limit,
//! a hook stop, or cancellation.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::future::join_all;

use crate::agent::{Outcome, Session, StopCause};
use crate::agent_loop::Parts;
use crate::budget::{BudgetVerdict, BudgetView, ReportedPrompt, Rewrite};
use crate::error::{Error, Result};
use crate::event::{AgentEvent, EventKind};
use crate::hook::{HookAction, HookInput, HookPayload, MergedDecision, merge_decisions};
use crate::message::{ContentBlock, Message, Role};
use crate::model::{ModelRequest, ModelResponse, StreamEvent, SystemBlock, collect_stream};
use crate::session::SessionRecord;
use crate::tool_calls::CallResult;
use crate::usage::SharedLedger;

/// What to do next, read off the end of the transcript.
enum Step {
    CallModel,
    RunTools,
    Stop(String),
}

pub(crate) struct Run<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) session: &'a Session,
    pub(crate) agent: String,
    pub(crate) ledger: SharedLedger,
    pub(crate) request: ModelRequest,
    pub(crate) turn: u32,
    task_start_turn: u32,
    started: bool,
    finished: Option<(StopCause, Option<String>)>,
    rejections: Vec<String>,
    last_reported: Option<ReportedPrompt>,
    layer_texts: Vec<Option<String>>,
    transcript_path: Option<String>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        parts: &'a Parts,
        session: &'a Session,
        agent: String,
        ledger: SharedLedger,
    ) -> Self {
        let request = ModelRequest {
            tools: parts.specs.clone(),
            system: Vec::new(),
            messages: Vec::new(),
            max_output_tokens: parts.max_output_tokens,
            agent: agent.clone(),
            session_id: session.id.clone(),
        };
        let transcript_path = parts
            .store
            .transcript_path(&session.id)
            .map(|p| p.display().to_string());
        Run {
            parts,
            session,
            agent,
            ledger,
            request,
            turn: 0,
            task_start_turn: 0,
            started: false,
            finished: None,
            rejections: Vec::new(),
            last_reported: None,
            layer_texts: vec![None; parts.layers.len()],
            transcript_path,
        }
    }

    /// Emit an event built only if someone listens.
    pub(crate) fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if let Some(sink) = &self.session.events {
            sink.emit(AgentEvent {
                agent: self.agent.clone(),
                session_id: self.session.id.clone(),
                kind: kind(),
            });
        }
    }

    pub(crate) async fn persist(&self, records: &[SessionRecord]) -> Result<()> {
        self.parts.store.append(&self.session.id, records).await
    }

    /// Rebuild the state from persisted records.
    fn replay(&mut self, records: Vec<SessionRecord>) {
        let info = self.parts.model.info().clone();
        for record in records {
            match record {
                SessionRecord::Start { system, .. } => {
                    self.started = true;
                    self.request.system = system;
                }
                SessionRecord::Task { message, .. } => {
                    self.finished = None;
                    self.rejections.clear();
                    self.task_start_turn = self.turn;
                    self.request.messages.push(message);
                }
                SessionRecord::Message {
                    message,
                    turn,
                    usage,
                } => {
                    self.turn = self.turn.max(turn);
                    if let Some(usage) = usage {
                        self.ledger.record(&self.agent, usage, &info);
                        self.last_reported = Some(ReportedPrompt {
                            messages: self.request.messages.len(),
                            prompt_tokens: usage.prompt_tokens(),
                        });
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
                SessionRecord::Finished { cause, answer } => self.finished = Some((cause, answer)),
            }
        }
    }

    pub(crate) async fn execute(mut self, task: Option<&str>) -> Result<Outcome> {
        let loaded = self.parts.store.load(&self.session.id).await?;
        for w in loaded.warnings {
            self.emit(|| EventKind::Warning { message: w });
        }
        self.replay(loaded.records);
        match task {
            Some(task) => {
                if self.started && self.finished.is_none() {
                    return Err(Error::UnfinishedRun {
                        session: self.session.id.clone(),
                    });
                }
                let source = if self.started { "resume" } else { "startup" };
                if !self.started {
                    self.start().await?;
                }
                let mut extra_context = self.session_start(source).await?;
                if let Some(outcome) = self.memory_command(task).await? {
                    return Ok(outcome);
                }
                let merged = self
                    .hooks(|| HookPayload::UserPromptSubmit {
                        prompt: task.to_string(),
                    })
                    .await?;
                if let HookAction::Block { reason }
                | HookAction::Stop { reason }
                | HookAction::Ask { reason } = merged.action
                {
                    return Ok(self.outcome(StopCause::PromptBlocked { reason }, None));
                }
                extra_context.extend(merged.additional_context);
                let mut message = Message::user(task);
                for c in extra_context.drain(..) {
                    message.content.push(ContentBlock::text(format!(
                        "<hook-context>\n{c}\n</hook-context>"
                    )));
                }
                self.task_start_turn = self.turn;
                self.rejections.clear();
                self.persist(&[SessionRecord::Task {
                    text: task.to_string(),
                    message: message.clone(),
                }])
                .await?;
                self.request.messages.push(message);
            }
            None => {
                if !self.started {
                    return Err(Error::Session {
                        session: self.session.id.clone(),
                        message: "nothing to resume: the session has no transcript".into(),
                    });
                }
                if let Some((cause, answer)) = self.finished.clone() {
                    return Ok(self.outcome(cause, answer));
                }
                let extra_context = self.session_start("resume").await?;
                if !extra_context.is_empty() {
                    let text = extra_context.join("\n");
                    self.append_user(vec![ContentBlock::text(format!(
                        "<hook-context>\n{text}\n</hook-context>"
                    ))])
                    .await?;
                }
            }
        }
        self.step_until_done().await
    }

    async fn start(&mut self) -> Result<()> {
        let mut system = Vec::with_capacity(1 + self.parts.layers.len());
        if !self.parts.system_prompt.is_empty() {
            system.push(SystemBlock {
                name: "system".into(),
                text: self.parts.system_prompt.clone(),
            });
        }
        for (i, layer) in self.parts.layers.iter().enumerate() {
            let text = layer.render().await?;
            self.layer_texts[i] = Some(text.clone());
            if !text.is_empty() {
                system.push(SystemBlock {
                    name: layer.name().to_string(),
                    text,
                });
            }
        }
        self.persist(&[SessionRecord::Start {
            agent: self.agent.clone(),
            system: system.clone(),
        }])
        .await?;
        self.request.system = system;
        self.started = true;
        Ok(())
    }

    async fn session_start(&mut self, source: &str) -> Result<Vec<String>> {
        self.emit(|| EventKind::SessionStarted {
            source: source.to_string(),
        });
        let merged = self
            .hooks(|| HookPayload::SessionStart {
                source: source.to_string(),
            })
            .await?;
        Ok(merged.additional_context)
    }

    async fn step_until_done(&mut self) -> Result<Outcome> {
        loop {
            if self.session.cancel.is_cancelled() {
                return self.cancelled(Vec::new()).await;
            }
            let step = match self.request.messages.last() {
                Some(m) if m.role == Role::Assistant && m.has_tool_uses() => Step::RunTools,
                Some(m) if m.role == Role::Assistant => Step::Stop(m.text()),
                _ => Step::CallModel,
            };
            match step {
                Step::CallModel => {
                    if self.turn - self.task_start_turn >= self.parts.max_turns {
                        return self.finish(StopCause::MaxTurns, None).await;
                    }
                    self.refresh_dynamic_layers().await?;
                    self.apply_budget().await?;
                    self.call_model().await?;
                }
                Step::RunTools => {
                    if let Some(outcome) = self.run_tools().await? {
                        return Ok(outcome);
                    }
                }
                Step::Stop(answer) => {
                    if let Some(outcome) = self.stop_hooks(answer).await? {
                        return Ok(outcome);
                    }
                }
            }
        }
    }

    async fn refresh_dynamic_layers(&mut self) -> Result<()> {
        for (i, layer) in self.parts.layers.iter().enumerate() {
            if !layer.is_dynamic() {
                continue;
            }
            let text = layer.render().await?;
            // What the model last saw of this layer: this run's last render, else (after a
            // resume) the last update in the transcript, else the session's system block,
            // else nothing (a layer that rendered empty at start has no block).
            let previous = match &self.layer_texts[i] {
                Some(t) => t.as_str(),
                None => last_layer_update(&self.request.messages, layer.name())
                    .or_else(|| {
                        self.request
                            .system
                            .iter()
                            .find(|b| b.name == layer.name())
                            .map(|b| b.text.as_str())
                    })
                    .unwrap_or(""),
            };
            if previous != text {
                let name = layer.name().to_string();
                self.layer_texts[i] = Some(text.clone());
                self.emit(|| EventKind::LayerChanged {
                    layer: name.clone(),
                });
                self.append_user(vec![ContentBlock::text(format!(
                    "<context-update layer=\"{name}\">\n{text}\n</context-update>"
                ))])
                .await?;
            }
        }
        Ok(())
    }

    async fn apply_budget(&mut self) -> Result<()> {
        let Some(budget) = self.parts.budget.clone() else {
            return Ok(());
        };
        let info = self.parts.model.info();
        let verdict = budget.assess(&BudgetView {
            info,
            request: &self.request,
            last_reported: self.last_reported,
        });
        let rewrite = match verdict {
            BudgetVerdict::Fits => return Ok(()),
            BudgetVerdict::Prune => {
                budget
                    .prune(&BudgetView {
                        info,
                        request: &self.request,
                        last_reported: self.last_reported,
                    })
                    .await?
            }
            BudgetVerdict::Compact => {
                let merged = self
                    .hooks(|| HookPayload::PreCompact {
                        trigger: "auto".into(),
                    })
                    .await?;
                if let HookAction::Stop { reason } = merged.action {
                    return Err(Error::Hook {
                        hook: "PreCompact".into(),
                        message: reason,
                    });
                }
                let view = BudgetView {
                    info,
                    request: &self.request,
                    last_reported: self.last_reported,
                };
                let compacted = tokio::select! {
                    r = budget.compact(&view, self.parts.model.as_ref()) => r?,
                    _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
                };
                Some(compacted)
            }
        };
        if let Some(Rewrite {
            messages,
            tokens_before,
            tokens_after,
            note,
        }) = rewrite
        {
            self.persist(&[SessionRecord::Rewrite {
                verdict,
                messages: messages.clone(),
            }])
            .await?;
            self.request.messages = messages;
            self.last_reported = None;
            self.emit(|| EventKind::BudgetAction {
                verdict,
                tokens_before,
                tokens_after,
                note,
            });
        }
        Ok(())
    }

    async fn call_model(&mut self) -> Result<()> {
        self.turn += 1;
        let turn = self.turn;
        self.emit(|| EventKind::TurnStarted { turn });
        self.emit(|| EventKind::ModelRequest {
            turn,
            messages: self.request.messages.len(),
        });
        let started = Instant::now();
        let model = self.parts.model.as_ref();
        let call = async {
            if self.parts.streaming {
                let stream = model.stream(&self.request).await?;
                collect_stream(stream, |e| {
                    if let StreamEvent::TextDelta { text } = e {
                        self.emit(|| EventKind::TextDelta { text: text.clone() });
                    }
                })
                .await
            } else {
                model.complete(&self.request).await
            }
        };
        let response: Option<Result<ModelResponse, _>> = tokio::select! {
            r = call => Some(r),
            _ = self.session.cancel.cancelled() => None,
        };
        let Some(response) = response else {
            self.turn -= 1;
            return self.cancelled(Vec::new()).await.map(|_| ());
        };
        let response = response?;
        let duration = started.elapsed();
        self.ledger
            .record(&self.agent, response.usage, model.info());
        self.last_reported = Some(ReportedPrompt {
            messages: self.request.messages.len(),
            prompt_tokens: response.usage.prompt_tokens(),
        });
        let mut content = response.content;
        if content.is_empty() {
            content.push(ContentBlock::text("(empty response)"));
        }
        let message = Message {
            role: Role::Assistant,
            content,
        };
        self.emit(|| EventKind::ModelResponse {
            turn,
            usage: response.usage,
            stop_reason: response.stop_reason.clone(),
            duration,
            text: message.text(),
        });
        self.persist(&[SessionRecord::Message {
            message: message.clone(),
            turn,
            usage: Some(response.usage),
        }])
        .await?;
        self.request.messages.push(message);
        Ok(())
    }

    /// Run the tool calls of the last assistant message. `Some(outcome)` ends the run.
    async fn run_tools(&mut self) -> Result<Option<Outcome>> {
        let calls: Vec<(String, String, serde_json::Value)> = match self.request.messages.last() {
            Some(m) => m
                .tool_uses()
                .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
                .collect(),
            None => Vec::new(),
        };
        let this = &*self;
        let mut futures: Vec<BoxFuture<'_, Result<CallResult>>> = Vec::with_capacity(calls.len());
        for (id, name, input) in &calls {
            futures.push(Box::pin(this.run_call(id, name, input.clone())));
        }
        let batch = futures::stream::iter(futures)
            .buffered(self.parts.tool_concurrency)
            .collect::<Vec<_>>();
        let results: Option<Vec<Result<CallResult>>> = tokio::select! {
            r = batch => Some(r),
            _ = self.session.cancel.cancelled() => None,
        };
        let Some(results) = results else {
            return self
                .cancelled(calls.into_iter().map(|(id, ..)| id).collect())
                .await
                .map(Some);
        };
        let mut blocks = Vec::with_capacity(results.len());
        let mut contexts = Vec::new();
        let mut stop = None;
        for result in results {
            let r = match result {
                Ok(r) => r,
                Err(Error::Cancelled) => {
                    return self
                        .cancelled(calls.into_iter().map(|(id, ..)| id).collect())
                        .await
                        .map(Some);
                }
                Err(e) => return Err(e),
            };
            blocks.push(ContentBlock::ToolResult {
                tool_use_id: r.id,
                content: r.recorded,
                is_error: r.is_error,
            });
            contexts.extend(r.contexts);
            if stop.is_none() {
                stop = r.stop;
            }
        }
        for c in contexts {
            blocks.push(ContentBlock::text(format!(
                "<hook-context>\n{c}\n</hook-context>"
            )));
        }
        self.append_user(blocks).await?;
        match stop {
            Some(reason) => self
                .finish(StopCause::StoppedByHook { reason }, None)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn stop_hooks(&mut self, answer: String) -> Result<Option<Outcome>> {
        let count = self.rejections.len() as u32;
        let merged = self
            .hooks(|| HookPayload::Stop {
                final_output: answer.clone(),
                stop_hook_active: count > 0,
                rejection_count: count,
                subagent: self.parts.is_subagent,
            })
            .await?;
        match merged.action {
            HookAction::Continue => self
                .finish(StopCause::Completed, Some(answer))
                .await
                .map(Some),
            HookAction::Stop { reason } => self
                .finish(StopCause::StoppedByHook { reason }, Some(answer))
                .await
                .map(Some),
            HookAction::Block { reason } | HookAction::Ask { reason } => {
                self.rejections.push(reason.clone());
                let n = self.rejections.len() as u32;
                self.emit(|| EventKind::StopRejected {
                    reason: reason.clone(),
                    count: n,
                });
                if n > self.parts.max_stop_rejections {
                    self.persist(&[SessionRecord::StopRejected {
                        reason: reason.clone(),
                        feedback: None,
                    }])
                    .await?;
                    return self
                        .finish(
                            StopCause::MaxRejections {
                                last_reason: reason,
                            },
                            Some(answer),
                        )
                        .await
                        .map(Some);
                }
                let feedback = Message::user(format!(
                    "A Stop hook rejected your answer ({n} of at most {} rejections): {reason}\n\
                     Keep investigating, then give a complete final answer.",
                    self.parts.max_stop_rejections
                ));
                self.persist(&[SessionRecord::StopRejected {
                    reason,
                    feedback: Some(feedback.clone()),
                }])
                .await?;
                self.request.messages.push(feedback);
                Ok(None)
            }
        }
    }

    async fn append_user(&mut self, content: Vec<ContentBlock>) -> Result<()> {
        let message = Message {
            role: Role::User,
            content,
        };
        self.persist(&[SessionRecord::Message {
            message: message.clone(),
            turn: self.turn,
            usage: None,
        }])
        .await?;
        self.request.messages.push(message);
        Ok(())
    }

    /// Record pending tool calls as cancelled so the transcript stays consistent, then end.
    async fn cancelled(&mut self, pending: Vec<String>) -> Result<Outcome> {
        if !pending.is_empty() {
            let blocks = pending
                .into_iter()
                .map(|id| ContentBlock::ToolResult {
                    tool_use_id: id,
                    content: "cancelled before the call completed".into(),
                    is_error: true,
                })
                .collect();
            self.append_user(blocks).await?;
        }
        self.persist(&[SessionRecord::Finished {
            cause: StopCause::Cancelled,
            answer: None,
        }])
        .await?;
        self.emit(|| EventKind::Finished {
            cause: StopCause::Cancelled,
            answer: None,
        });
        Err(Error::Cancelled)
    }

    async fn finish(&mut self, cause: StopCause, answer: Option<String>) -> Result<Outcome> {
        self.persist(&[SessionRecord::Finished {
            cause: cause.clone(),
            answer: answer.clone(),
        }])
        .await?;
        self.emit(|| EventKind::Finished {
            cause: cause.clone(),
            answer: answer.clone(),
        });
        Ok(self.outcome(cause, answer))
    }

    pub(crate) fn outcome(&self, cause: StopCause, answer: Option<String>) -> Outcome {
        Outcome {
            session_id: self.session.id.clone(),
            cause,
            answer,
            turns: self.turn,
            stop_rejections: self.rejections.clone(),
            usage: self.ledger.snapshot(),
            transcript_path: self.transcript_path.clone(),
        }
    }

    pub(crate) fn hook_input(&self, payload: HookPayload) -> HookInput {
        HookInput {
            session_id: self.session.id.clone(),
            transcript_path: self.transcript_path.clone(),
            cwd: self.parts.cwd.clone(),
            agent_name: self.agent.clone(),
            current_turn: self.turn,
            max_turns: self.parts.max_turns,
            payload,
        }
    }

    /// Run every hook that handles `payload`, concurrently; merge their decisions.
    /// Run every hook that handles the payload, concurrently, and merge their decisions.
    /// The payload (which may hold a tool's whole output) is built only if hooks exist.
    pub(crate) async fn hooks(
        &self,
        payload: impl FnOnce() -> HookPayload,
    ) -> Result<MergedDecision> {
        if self.parts.hooks.is_empty() {
            return Ok(merge_decisions([]));
        }
        let input = self.hook_input(payload());
        self.run_hooks(&input).await
    }

    pub(crate) async fn run_hooks(&self, input: &HookInput) -> Result<MergedDecision> {
        let matching: Vec<&Arc<dyn crate::hook::Hook>> = self
            .parts
            .hooks
            .iter()
            .filter(|h| h.handles(input))
            .collect();
        if matching.is_empty() {
            return Ok(merge_decisions([]));
        }
        let timeout = self.parts.hook_timeout;
        let all = join_all(matching.iter().map(|h| async move {
            match tokio::time::timeout(timeout, h.run(input)).await {
                Ok(r) => r,
                Err(_) => Err(Error::Hook {
                    hook: h.name().to_string(),
                    message: format!("no decision within the loop's hook timeout of {timeout:?}"),
                }),
            }
        }));
        let results = tokio::select! {
            r = all => r,
            _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
        };
        let event = input.event();
        let mut decisions = Vec::with_capacity(results.len());
        for (hook, result) in matching.iter().zip(results) {
            match result {
                Ok(d) => {
                    if d.action != HookAction::Continue
                        || d.additional_context.is_some()
                        || d.updated_input.is_some()
                        || d.system_message.is_some()
                    {
                        self.emit(|| EventKind::HookDecision {
                            event,
                            hook: hook.name().to_string(),
                            action: d.action.clone(),
                            additional_context: d.additional_context.iter().cloned().collect(),
                            system_message: d.system_message.clone(),
                        });
                    }
                    decisions.push(d);
                }
                Err(e) => self.emit(|| EventKind::HookFailed {
                    event,
                    hook: hook.name().to_string(),
                    error: e.to_string(),
                }),
            }
        }
        Ok(merge_decisions(&decisions))
    }

    /// `#remember`, `#forget` and `#retrieve`, handled without the model when a memory
    /// store is configured.
    async fn memory_command(&mut self, task: &str) -> Result<Option<Outcome>> {
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
        self.persist(&[
            SessionRecord::Task {
                text: task.to_string(),
                message: Message::user(task),
            },
            SessionRecord::Message {
                message: Message::assistant(answer.clone()),
                turn: self.turn,
                usage: None,
            },
        ])
        .await?;
        self.request.messages.push(Message::user(task));
        self.request
            .messages
            .push(Message::assistant(answer.clone()));
        self.finish(StopCause::MemoryCommand, Some(answer))
            .await
            .map(Some)
    }
}

/// The text of the last `<context-update>` of layer `name` in `messages`, if any.
fn last_layer_update<'m>(messages: &'m [Message], name: &str) -> Option<&'m str> {
    let open = format!("<context-update layer=\"{name}\">\n");
    messages
        .iter()
        .rev()
        .flat_map(|m| m.content.iter().rev())
        .find_map(|b| match b {
            ContentBlock::Text { text } => text
                .strip_prefix(open.as_str())?
                .strip_suffix("\n</context-update>"),
            _ => None,
        })
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
