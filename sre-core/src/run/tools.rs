//! Running the tool calls of one turn: PreToolUse hooks (block, ask, rewrite), the call,
//! PostToolUse hooks (withhold, context), offloading of large results at record time.
//!
//! Side effects never run twice: a call that may change the world (neither read-only nor
//! idempotent) is recorded as started before it runs and its result is recorded as soon as
//! it finishes. A resumed run uses a recorded result as it is, and tells the model that a
//! started call without a result has an unknown outcome instead of running it again.
//! Calls that are safe to repeat are simply run again. On cancellation, calls that
//! completed keep their real results; only the others are recorded as cancelled.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::Value;

use super::Run;
use crate::agent::{Outcome, StopCause};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::handoff::{HANDOFF_TOOL, HandoffTool};
use crate::hook::{Approval, HookAction, HookPayload};
use crate::message::ContentBlock;
use crate::session::SessionRecord;
use crate::tool::{Tool, ToolContext, ToolError};

/// How long calls in flight may take to end once the run is cancelled (they get the
/// cancellation through their context and should end at once).
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A finished call, as it will be recorded.
#[derive(Clone, Debug)]
pub(crate) struct RecordedCall {
    pub id: String,
    /// What enters the transcript.
    pub recorded: String,
    pub is_error: bool,
    /// Hook contexts to add after the results.
    pub contexts: Vec<String>,
    /// A hook asked to stop the run.
    pub stop: Option<String>,
    /// A successful `handoff` call: the target and the note.
    pub handoff: Option<(String, String)>,
    /// The call waits for a person's decision (the stored request): not run, not recorded.
    pub parked: Option<String>,
    /// Its `CallResult` is in the session already.
    pub persisted: bool,
}

impl Run<'_> {
    /// Run the tool calls of the last assistant message. `Some(outcome)` ends the run.
    pub(super) async fn run_tools(&mut self) -> Result<Option<Outcome>> {
        let calls: Vec<(String, String, Value)> = match self.request.messages.last() {
            Some(m) => m
                .tool_uses()
                .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
                .collect(),
            None => Vec::new(),
        };
        let mut results: Vec<Option<RecordedCall>> = vec![None; calls.len()];
        // After an interruption: use recorded results; never re-run a started call.
        for (slot, (id, name, input)) in results.iter_mut().zip(&calls) {
            if let Some(r) = self.recorded_calls.get(id) {
                if !r.is_error
                    && let Some(tool) = self.parts.tools.get(name)
                {
                    // The call's effect on the tool's per-session state, as on replay.
                    tool.restore(&self.session.id, input);
                }
                *slot = Some(r.clone());
            } else if self.started_calls.contains(id) {
                self.emit(|| EventKind::ToolOutcomeUnknown {
                    id: id.clone(),
                    name: name.clone(),
                });
                *slot = Some(RecordedCall {
                    id: id.clone(),
                    recorded: format!(
                        "Outcome unknown: this call of `{name}` had started when the agent was \
                         interrupted and no result was recorded, so it may or may not have taken \
                         effect. It was not run again. Check its effect before deciding whether \
                         to repeat it."
                    ),
                    is_error: true,
                    contexts: Vec::new(),
                    stop: None,
                    handoff: None,
                    parked: None,
                    persisted: false,
                });
            }
        }
        let cancelled = {
            let this = &*self;
            let mut pending = Vec::new();
            for (i, (id, name, input)) in calls.iter().enumerate() {
                if results[i].is_none() {
                    let call: BoxFuture<'_, (usize, Result<RecordedCall>)> =
                        Box::pin(async move { (i, this.run_call(id, name, input.clone()).await) });
                    pending.push(call);
                }
            }
            let mut stream =
                futures::stream::iter(pending).buffer_unordered(self.parts.tool_concurrency);
            let mut cancelled = false;
            let mut fatal = None;
            // Once cancelled, the calls in flight (which got the cancellation through their
            // context) are given a grace period to end: what they record then is what
            // happened, and no write of theirs lands after the run's last record.
            let grace = tokio::time::sleep(CANCEL_GRACE);
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    biased;
                    next = stream.next() => match next {
                        Some((i, Ok(r))) => results[i] = Some(r),
                        Some((_, Err(Error::Cancelled))) => cancelled = true,
                        Some((_, Err(e))) => {
                            fatal.get_or_insert(e);
                        }
                        None => break,
                    },
                    _ = self.session.cancel.cancelled(), if !cancelled => {
                        cancelled = true;
                        grace.as_mut().reset(tokio::time::Instant::now() + CANCEL_GRACE);
                    }
                    _ = &mut grace, if cancelled => break,
                }
            }
            if let Some(e) = fatal {
                return Err(e);
            }
            cancelled
        };
        // A call parked for a person's decision: the turn is not finished. The calls that
        // ran have their results recorded (`CallResult`); the run ends here, and `resume`
        // runs what has no result yet, asking the approver again.
        // Parking waits for a person; a cancel, a hook's stop or a handoff in the same turn
        // ends the run now instead, and the parked call is reported as not run.
        let ends_now = cancelled
            || results
                .iter()
                .flatten()
                .any(|r| r.stop.is_some() || r.handoff.is_some());
        if ends_now {
            for r in results.iter_mut().flatten().filter(|r| r.parked.is_some()) {
                r.recorded = "Not run: it was waiting for approval when the run ended (cancelled, \
                     stopped by a hook, or handed over)."
                    .to_string();
                r.is_error = true;
                r.parked = None;
            }
        }
        if !ends_now {
            let parked: Vec<String> = results
                .iter()
                .flatten()
                .filter_map(|r| r.parked.clone())
                .collect();
            if !parked.is_empty() {
                // What the others gave is kept, so that `resume` neither repeats nor asks
                // again for them (read-only calls and refusals are not recorded otherwise).
                let done: Vec<&RecordedCall> = results
                    .iter()
                    .flatten()
                    .filter(|r| r.parked.is_none())
                    .collect();
                let records: Vec<SessionRecord> = done
                    .iter()
                    .filter(|r| !r.persisted)
                    .map(|r| SessionRecord::CallResult {
                        id: r.id.clone(),
                        content: r.recorded.clone(),
                        is_error: r.is_error,
                        contexts: r.contexts.clone(),
                        stop: r.stop.clone(),
                    })
                    .collect();
                if !records.is_empty() {
                    self.persist(&records).await?;
                }
                for r in done {
                    self.recorded_calls.insert(r.id.clone(), r.clone());
                }
                let cause = StopCause::AwaitingApproval { requests: parked };
                return Ok(Some(self.finished_now(cause, None)));
            }
        }
        let mut blocks = Vec::with_capacity(calls.len());
        let mut contexts = std::mem::take(&mut self.carried_context);
        let mut stop = None;
        let mut handoff = None;
        for ((id, name, _), result) in calls.iter().zip(results) {
            let r = match result {
                Some(r) => r,
                None => RecordedCall {
                    id: id.clone(),
                    recorded: if self.started_now(id) {
                        format!(
                            "Cancelled while `{name}` was running: it may or may not have taken effect."
                        )
                    } else {
                        "Cancelled before the call started.".to_string()
                    },
                    is_error: true,
                    contexts: Vec::new(),
                    stop: None,
                    handoff: None,
                    parked: None,
                    persisted: false,
                },
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
            if handoff.is_none() {
                handoff = r.handoff;
            }
        }
        for c in contexts {
            blocks.push(ContentBlock::text(format!(
                "<hook-context>\n{c}\n</hook-context>"
            )));
        }
        self.started_calls.clear();
        self.recorded_calls.clear();
        // The results and the end of the run (if this turn ends it) are one write: a crash
        // cannot keep the results and lose the stop or the handoff. A hook's stop wins over
        // a handoff of the same turn.
        let ending = if cancelled {
            Some(StopCause::Cancelled)
        } else if let Some(reason) = stop {
            Some(StopCause::StoppedByHook { reason })
        } else {
            handoff.map(|(to, note)| StopCause::Handoff { to, note })
        };
        let message = crate::message::Message {
            role: crate::message::Role::User,
            content: blocks,
        };
        let mut records = vec![SessionRecord::Message {
            message: message.clone(),
            turn: self.turn,
            usage: None,
            stop_reason: None,
        }];
        if let Some(cause) = &ending {
            records.push(SessionRecord::Finished {
                cause: cause.clone(),
                answer: None,
            });
        }
        self.persist(&records).await?;
        self.request.messages.push(message);
        match ending {
            None => Ok(None),
            Some(StopCause::Cancelled) => {
                self.finished = Some((StopCause::Cancelled, None));
                self.emit(|| EventKind::Finished {
                    cause: StopCause::Cancelled,
                    answer: None,
                });
                Err(Error::Cancelled)
            }
            Some(cause) => Ok(Some(self.finished_now(cause, None))),
        }
    }

    /// Whether `id` was started in this process.
    fn started_now(&self, id: &str) -> bool {
        self.calls_started_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    pub(crate) async fn run_call(
        &self,
        id: &str,
        name: &str,
        input: Value,
    ) -> Result<RecordedCall> {
        let mut contexts = Vec::new();
        let refused = |recorded: String, contexts: Vec<String>, stop: Option<String>| {
            self.emit(|| EventKind::ToolRefused {
                id: id.to_string(),
                name: name.to_string(),
                reason: recorded.clone(),
                ran: false,
            });
            RecordedCall {
                id: id.to_string(),
                recorded,
                is_error: true,
                contexts,
                stop,
                handoff: None,
                parked: None,
                persisted: false,
            }
        };
        let tool = self.parts.tools.get(name);

        // PreToolUse: the decision is data; a block means the tool never runs.
        let (pre, mut input) = self.pre_tool_hooks(id, name, input, tool).await?;
        let mut annotations = tool.map(|t| t.call_annotations(&input));
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
                let Some(approver) = &self.parts.approver else {
                    return Ok(refused(
                        format!(
                            "Denied: this call needs approval ({reason}) and no approver is configured"
                        ),
                        contexts,
                        None,
                    ));
                };
                let hook_input = self.hook_input(HookPayload::PreToolUse {
                    tool_name: name.to_string(),
                    tool_input: input.clone(),
                    tool_use_id: id.to_string(),
                    annotations,
                });
                let decision = tokio::select! {
                    a = approver.decide(&hook_input, &reason) => a,
                    _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
                };
                match decision {
                    Approval::Approve => {}
                    Approval::Deny { reason: why } => {
                        let text = match why {
                            None => format!("Denied by the approver: {reason}"),
                            Some(w) => format!(
                                "Denied by the approver: {reason}. The reviewer said: {w}. Do \
                                 not ask for this call again; take another way or report \
                                 what you found."
                            ),
                        };
                        return Ok(refused(text, contexts, None));
                    }
                    Approval::Park { request } => {
                        self.emit(|| EventKind::ApprovalRequested {
                            id: id.to_string(),
                            name: name.to_string(),
                            request: request.clone(),
                        });
                        return Ok(RecordedCall {
                            id: id.to_string(),
                            recorded: String::new(),
                            is_error: false,
                            contexts,
                            stop: None,
                            handoff: None,
                            parked: Some(request),
                            persisted: false,
                        });
                    }
                    Approval::ApproveEdited { input: edited } => {
                        // The person's input is judged by the hooks again: a block still
                        // blocks; another ask is what the person just answered.
                        let (again, edited) = self.pre_tool_hooks(id, name, edited, tool).await?;
                        contexts.extend(again.additional_context);
                        match again.action {
                            HookAction::Continue | HookAction::Ask { .. } => {}
                            HookAction::Block { reason } => {
                                return Ok(refused(
                                    format!(
                                        "Blocked by a PreToolUse hook (edited input): {reason}"
                                    ),
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
                        }
                        annotations = tool.map(|t| t.call_annotations(&edited));
                        input = edited;
                    }
                }
            }
        }

        let Some(tool) = tool else {
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
        // Judged on the call that will run (hooks may have rewritten the input).
        let repeatable = annotations.is_some_and(|a| a.safe_to_repeat());
        if !repeatable {
            self.persist(&[SessionRecord::CallStarted { id: id.to_string() }])
                .await?;
        }
        self.calls_started_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());

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
        let deadline = tool.deadline().unwrap_or(self.parts.tool_deadline);
        let (output, is_error) = match call_within(tool.as_ref(), input.clone(), &ctx, deadline)
            .await
        {
            None => (
                format!(
                    "`{name}` did not finish within its deadline of {} and was stopped; it may \
                     or may not have taken effect. Check before repeating it.",
                    humantime::format_duration(deadline)
                ),
                true,
            ),
            Some(Ok(out)) => (out.content, out.is_error),
            Some(Err(ToolError::Invalid(message))) => (message, true),
            Some(Err(ToolError::Cancelled)) if self.session.cancel.is_cancelled() => {
                return Err(Error::Cancelled);
            }
            // A tool that says it was cancelled when the run was not: the model sees it.
            Some(Err(ToolError::Cancelled)) => (
                format!("`{name}` was interrupted before it finished (the run was not cancelled)"),
                true,
            ),
            Some(Err(ToolError::Fatal(message))) => {
                return Err(Error::ToolFatal {
                    tool: name.to_string(),
                    message,
                });
            }
        };
        let duration = started.elapsed();
        // Kept for the handoff check (the hooks take the input).
        let handoff_input = if name == HANDOFF_TOOL {
            input.clone()
        } else {
            Value::Null
        };

        // PostToolUse / PostToolUseFailure: a block withholds the output (the call already ran).
        let post = self
            .hooks(|| HookPayload::PostToolUse {
                tool_name: name.to_string(),
                tool_input: input,
                tool_use_id: id.to_string(),
                tool_response: output.clone(),
                succeeded: !is_error,
                duration_ms: duration.as_millis() as u64,
                annotations,
            })
            .await;
        let post = match post {
            Ok(post) => post,
            // Cancelled during the PostToolUse hooks: the call ran, so its result is what
            // happened (the loop notices the cancellation right after).
            Err(Error::Cancelled) => crate::hook::merge_decisions([]),
            Err(e) => {
                // The call ran: keep its result even if the hooks could not finish.
                if !repeatable {
                    let (recorded, _) = self.record_output(name, id, output.clone()).await?;
                    self.persist_result(id, &recorded, is_error, &contexts, &None)
                        .await?;
                }
                return Err(e);
            }
        };
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
        if !repeatable {
            self.persist_result(id, &recorded, is_error, &contexts, &stop)
                .await?;
        }
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
        // A handoff the hooks let through (run, not withheld) ends the run after this turn.
        let handoff = (name == HANDOFF_TOOL && !is_error && !self.parts.handoffs.is_empty())
            .then(|| HandoffTool::parse(&self.parts.handoffs, &handoff_input).ok())
            .flatten()
            .map(|(to, note)| (to.to_string(), note.to_string()));
        Ok(RecordedCall {
            id: id.to_string(),
            recorded,
            is_error,
            contexts,
            stop,
            handoff,
            parked: None,
            persisted: !repeatable,
        })
    }

    async fn persist_result(
        &self,
        id: &str,
        recorded: &str,
        is_error: bool,
        contexts: &[String],
        stop: &Option<String>,
    ) -> Result<()> {
        self.persist(&[SessionRecord::CallResult {
            id: id.to_string(),
            content: recorded.to_string(),
            is_error,
            contexts: contexts.to_vec(),
            stop: stop.clone(),
        }])
        .await
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

/// How long a call past its deadline gets to return once its cancellation token is
/// cancelled, before the loop stops waiting for it.
const DEADLINE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Run `tool` on `input` for at most `deadline` (then cancel it and wait [`DEADLINE_GRACE`]
/// more); `None` when it did not finish in time. A run cancelled meanwhile is the call's
/// own business: its token is a child of the run's.
async fn call_within(
    tool: &dyn Tool,
    input: Value,
    ctx: &ToolContext,
    deadline: std::time::Duration,
) -> Option<Result<crate::tool::ToolOutput, ToolError>> {
    // `Duration::MAX` (no deadline) must not overflow the timer.
    const FOREVER: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);
    let deadline = deadline.min(FOREVER);
    let mut call = std::pin::pin!(tool.call(input, ctx));
    tokio::select! {
        result = &mut call => return Some(result),
        () = tokio::time::sleep(deadline) => {}
    }
    ctx.cancel.cancel();
    // Whatever it returns now, it was stopped by the deadline.
    let _ = tokio::time::timeout(DEADLINE_GRACE, &mut call).await;
    None
}
