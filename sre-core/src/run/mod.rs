//! One run of the agent loop: take the session's lock, replay its transcript, take the task
//! in (or resume), then step until an answer, a limit, a hook stop, or cancellation.
//!
//! The modules split the run by concern: [`replay`] rebuilds the state from records,
//! [`intake`] brings a task in (SessionStart and UserPromptSubmit hooks, memory commands),
//! [`hooks`] runs hooks with their fail modes, [`tools`] runs a turn's tool calls,
//! [`turn`] calls the model (dynamic layers, budget, cost cap) and [`stop`] ends an answer.

mod hooks;
mod intake;
mod replay;
mod stop;
mod tools;
mod turn;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use crate::agent::{Outcome, Session, StopCause};
use crate::agent_loop::Parts;
use crate::budget::ReportedPrompt;
use crate::error::{Error, Result};
use crate::event::{AgentEvent, EventKind};
use crate::hook::HookContext;
use crate::message::{ContentBlock, Message, Role};
use crate::model::{CallContext, ModelRequest};
use crate::session::{SessionLock, SessionRecord};
use crate::usage::{AgentUsage, SharedLedger};

pub use intake::MemoryCommand;
pub(crate) use tools::RecordedCall;

/// What the caller asks of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode<'t> {
    /// A new task (the session must not have an unfinished run).
    Task(&'t str),
    /// Continue the unfinished run.
    Resume,
    /// A subagent's task: resume it if it was interrupted, return its outcome if it already
    /// finished, else run it.
    TaskOrResume(&'t str),
}

/// What to do next, read off the end of the transcript.
enum Step {
    CallModel,
    RunTools,
    /// The answer was cut at the output limit: ask the model to go on.
    Continue,
    Stop(String),
}

pub(crate) struct Run<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) session: &'a Session,
    pub(crate) agent: String,
    pub(crate) ledger: SharedLedger,
    pub(crate) request: ModelRequest,
    pub(crate) turn: u32,
    pub(crate) hook_ctx: HookContext,
    task_start_turn: u32,
    started: bool,
    /// A task entered the transcript since the session started or the last run finished.
    has_task: bool,
    /// The session holds a `Task` record (its last run was not a refusal).
    has_task_record: bool,
    /// Hook context to deliver with the pending tool results (a resume's SessionStart).
    carried_context: Vec<String>,
    last_task: Option<String>,
    finished: Option<(StopCause, Option<String>)>,
    rejections: Vec<String>,
    last_reported: Option<ReportedPrompt>,
    layer_texts: Vec<Option<String>>,
    transcript_path: Option<String>,
    /// Whether the last assistant message was cut at the output limit.
    last_cut: bool,
    /// Text of the answer so far when it was cut and continued.
    answer_prefix: String,
    /// Output continuations of the current answer.
    continuations: u32,
    /// Calls of the pending turn that were started, and those whose result was recorded,
    /// before an interruption (see [`SessionRecord::CallStarted`]).
    started_calls: HashSet<String>,
    recorded_calls: HashMap<String, RecordedCall>,
    /// Calls this process marked started (to word a cancellation honestly).
    calls_started_now: Mutex<HashSet<String>>,
    /// Child sessions (subagents, agents called as tools) whose results are in the
    /// transcript, found while replaying; their usage is read from their own transcripts.
    finished_children: Vec<crate::tool::ChildSession>,
    /// Usage of auxiliary calls (hook judges, compaction) already in the transcript.
    persisted_aux: Mutex<BTreeMap<String, AgentUsage>>,
    _lock: Option<SessionLock>,
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
            temperature: parts.temperature,
            agent: agent.clone(),
            session_id: session.id.clone(),
            call: CallContext {
                events: session.events.clone(),
                cancel: Some(session.cancel.clone()),
            },
        };
        let transcript_path = parts
            .store
            .transcript_path(&session.id)
            .map(|p| p.display().to_string());
        let hook_ctx = HookContext {
            cancel: session.cancel.clone(),
            ledger: ledger.clone(),
            own_ledger: SharedLedger::default(),
            events: session.events.clone(),
            agent: agent.clone(),
            session_id: session.id.clone(),
        };
        Run {
            parts,
            session,
            agent,
            ledger,
            request,
            turn: 0,
            hook_ctx,
            task_start_turn: 0,
            started: false,
            has_task: false,
            has_task_record: false,
            carried_context: Vec::new(),
            last_task: None,
            finished: None,
            rejections: Vec::new(),
            last_reported: None,
            layer_texts: vec![None; parts.layers.len()],
            transcript_path,
            last_cut: false,
            answer_prefix: String::new(),
            continuations: 0,
            started_calls: HashSet::new(),
            recorded_calls: HashMap::new(),
            calls_started_now: Mutex::new(HashSet::new()),
            finished_children: Vec::new(),
            persisted_aux: Mutex::new(BTreeMap::new()),
            _lock: None,
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

    /// Append records in one write, followed by the usage of auxiliary model calls made
    /// since the last write (so the transcript restores the whole ledger).
    pub(crate) async fn persist(&self, records: &[SessionRecord]) -> Result<()> {
        match self.aux_usage_record() {
            None => self.parts.store.append(&self.session.id, records).await,
            Some(usage) => {
                let mut all = records.to_vec();
                all.push(usage);
                self.parts.store.append(&self.session.id, &all).await
            }
        }
    }

    /// A `Usage` record for this run's own auxiliary calls (hook judges, compaction) not
    /// yet persisted. They are counted in the run's own ledger, so runs that share a ledger
    /// row (two children of one name) never persist each other's usage.
    fn aux_usage_record(&self) -> Option<SessionRecord> {
        let current = self.hook_ctx.own_ledger.snapshot().agents;
        let mut persisted = self.persisted_aux.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows = BTreeMap::new();
        for (label, row) in current {
            let delta = match persisted.get(&label) {
                Some(before) => row.since(before),
                None => row.clone(),
            };
            if !delta.is_empty() {
                rows.insert(label.clone(), delta);
                persisted.insert(label, row);
            }
        }
        (!rows.is_empty()).then_some(SessionRecord::Usage { rows })
    }

    pub(crate) async fn execute(mut self, mode: Mode<'_>) -> Result<Outcome> {
        let lock = self.parts.store.lock(&self.session.id).await?;
        for w in lock.warnings() {
            let message = w.clone();
            self.emit(|| EventKind::Warning { message });
        }
        self._lock = Some(lock);
        let loaded = self.parts.store.load(&self.session.id).await?;
        for w in loaded.warnings {
            self.emit(|| EventKind::Warning { message: w });
        }
        self.replay(loaded.records);
        self.restore_children_usage().await;
        let unfinished = self.started && self.has_task && self.finished.is_none();
        let cancelled_before = matches!(self.finished, Some((StopCause::Cancelled, _)));
        let task = match mode {
            Mode::Task(task) => Some(task),
            Mode::Resume => None,
            Mode::TaskOrResume(task)
                if unfinished || (cancelled_before && self.has_task_record) =>
            {
                if self.last_task.as_deref() != Some(task) {
                    return Err(Error::Session {
                        session: self.session.id.clone(),
                        message: "the session's unfinished run is for another task".into(),
                    });
                }
                // A child cancelled with its parent goes on where it stopped.
                self.finished = None;
                None
            }
            Mode::TaskOrResume(task) => match &self.finished {
                Some((cause, answer))
                    if self.last_task.as_deref() == Some(task)
                        && *cause != StopCause::Cancelled =>
                {
                    return Ok(self.outcome(cause.clone(), answer.clone()));
                }
                _ => Some(task),
            },
        };
        let resuming = task.is_none();
        match task {
            Some(task) => {
                if unfinished {
                    return Err(Error::UnfinishedRun {
                        session: self.session.id.clone(),
                    });
                }
                if let Some(outcome) = self.intake(task).await? {
                    return Ok(outcome);
                }
            }
            None => {
                if !self.started {
                    return Err(Error::Session {
                        session: self.session.id.clone(),
                        message: "nothing to resume: the session has no transcript".into(),
                    });
                }
                match self.finished.clone() {
                    // A cancelled run of an accepted task goes on where it stopped (a
                    // refused task has no task record: there is nothing to go on with).
                    Some((StopCause::Cancelled, _)) if self.has_task_record => {
                        self.finished = None;
                    }
                    Some((cause, answer)) => return Ok(self.outcome(cause, answer)),
                    None => {}
                }
                if !self.has_task_record {
                    return Err(Error::Session {
                        session: self.session.id.clone(),
                        message: "nothing to resume: no task was recorded; start one with `run`"
                            .into(),
                    });
                }
            }
        }
        // From here on the task is in the transcript: whatever ends the run early (a cancel
        // in a hook, a budget, a judge) still writes `Finished`, so the session stays usable.
        let result = self.continue_run(resuming).await;
        match result {
            Err(Error::Cancelled) if self.finished.is_none() => self.cancelled().await,
            Err(e) if !matches!(e, Error::Cancelled) => {
                // The run ends without an outcome: say so, so that nobody waits for one.
                let error_type = e.kind().to_string();
                self.emit(|| EventKind::Failed {
                    error_type,
                    message: e.to_string(),
                });
                Err(e)
            }
            other => other,
        }
    }

    async fn continue_run(&mut self, resuming: bool) -> Result<Outcome> {
        if resuming {
            let extra_context = self.session_start("resume").await?;
            if !extra_context.is_empty() {
                let pending_tools = self
                    .request
                    .messages
                    .last()
                    .is_some_and(|m| m.role == Role::Assistant && m.has_tool_uses());
                if pending_tools {
                    // The tool results must come right after the calls: the context goes
                    // with them.
                    self.carried_context.extend(extra_context);
                } else {
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

    async fn step_until_done(&mut self) -> Result<Outcome> {
        loop {
            if self.session.cancel.is_cancelled() {
                return self.cancelled().await;
            }
            let step = match self.request.messages.last() {
                Some(m) if m.role == Role::Assistant && m.has_tool_uses() => Step::RunTools,
                Some(_) if self.last_cut_answer() => Step::Continue,
                Some(m) if m.role == Role::Assistant => {
                    let text = if self.answer_prefix.is_empty() {
                        m.text()
                    } else {
                        format!("{}{}", self.answer_prefix, replay::answer_text(m))
                    };
                    Step::Stop(text)
                }
                _ => Step::CallModel,
            };
            match step {
                Step::CallModel => {
                    if let Some(outcome) = self.before_model_call().await? {
                        return Ok(outcome);
                    }
                    self.call_model().await?;
                }
                Step::RunTools => {
                    if let Some(outcome) = self.run_tools().await? {
                        return Ok(outcome);
                    }
                }
                Step::Continue => {
                    if let Some(outcome) = self.continue_cut_answer().await? {
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

    /// Whether the last message is an answer cut at the output limit.
    fn last_cut_answer(&self) -> bool {
        self.last_cut
            && self
                .request
                .messages
                .last()
                .is_some_and(|m| m.role == Role::Assistant && !m.has_tool_uses())
    }

    pub(crate) async fn append_user(&mut self, content: Vec<ContentBlock>) -> Result<()> {
        let message = Message {
            role: Role::User,
            content,
        };
        self.persist(&[SessionRecord::Message {
            message: message.clone(),
            turn: self.turn,
            usage: None,
            stop_reason: None,
        }])
        .await?;
        self.request.messages.push(message);
        Ok(())
    }

    /// End the run as cancelled (pending tool calls were already recorded by the caller).
    pub(crate) async fn cancelled(&mut self) -> Result<Outcome> {
        self.finished = Some((StopCause::Cancelled, None));
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

    pub(crate) async fn finish(
        &mut self,
        cause: StopCause,
        answer: Option<String>,
    ) -> Result<Outcome> {
        self.persist(&[SessionRecord::Finished {
            cause: cause.clone(),
            answer: answer.clone(),
        }])
        .await?;
        Ok(self.finished_now(cause, answer))
    }

    /// The run ended with `cause` (its `Finished` record already written): note it, emit
    /// it, and give the outcome.
    pub(crate) fn finished_now(&mut self, cause: StopCause, answer: Option<String>) -> Outcome {
        self.finished = Some((cause.clone(), answer.clone()));
        self.emit(|| EventKind::Finished {
            cause: cause.clone(),
            answer: answer.clone(),
        });
        self.outcome(cause, answer)
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
}
