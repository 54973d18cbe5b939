//! A thread: one task, run by a first agent and by whoever it hands the thread to. Each
//! agent of the chain works in its own session (its own prompt, tools, hooks and
//! transcript); the handoff is in the giver's transcript (its run ends with
//! `StopCause::Handoff`) and in the receiver's task. Sessions are named
//! `<thread>--handoff<N>-<agent>`, so a resumed thread finds every hop again.

use sre_core::{
    Agent, AgentEvent, EventKind, Outcome, Session, SessionRecord, StopCause, UsageLedger,
};

use super::Team;
use crate::error::HostError;

/// Most handoffs one thread may make (a loop between agents ends with an error).
pub const MAX_HANDOFFS: usize = 8;

/// One hop of a thread.
#[derive(Clone, Debug)]
pub struct Hop {
    /// The agent.
    pub agent: String,
    /// Its session.
    pub session_id: String,
    /// How its run ended.
    pub outcome: Outcome,
}

/// What a thread produced.
#[derive(Clone, Debug)]
pub struct ThreadOutcome {
    /// Every hop, in order; the last one holds the answer.
    pub hops: Vec<Hop>,
    /// Usage of every agent of every hop (their trees included), merged.
    pub usage: UsageLedger,
}

impl ThreadOutcome {
    /// The last hop's outcome (the thread's answer).
    pub fn last(&self) -> Option<&Outcome> {
        self.hops.last().map(|h| &h.outcome)
    }
}

/// The session id of hop `n` (1-based) of `thread`, run by `agent`. Ids stay under 200
/// bytes: a long thread id is cut and a hash of the whole id keeps cut ids apart.
pub fn hop_session_id(thread: &str, n: usize, agent: &str) -> String {
    let id = format!("{thread}--handoff{n}-{agent}");
    if id.len() <= 200 {
        return id;
    }
    let agent: String = agent.chars().take(64).collect();
    let keep = 200usize.saturating_sub(agent.len() + 40);
    let head: String = thread.chars().take(keep).collect();
    format!("{head}.{:016x}--handoff{n}-{agent}", fnv1a(thread))
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The task the receiving agent of a handoff gets: who handed it over, their note, and the
/// thread's original task.
pub fn handed_task(from: &str, note: &str, task: &str) -> String {
    format!(
        "The thread was handed to you by agent `{from}`.\nTheir note: {note}\n\nThe original task:\n{task}"
    )
}

impl Team {
    /// Run `task` in thread `session` starting with `agent`, following handoffs. A thread
    /// that ran before goes on as a conversation: each hop's agent gets the new task in its
    /// own session.
    pub async fn run(
        &self,
        agent: &str,
        session: &Session,
        task: &str,
    ) -> Result<ThreadOutcome, HostError> {
        self.drive(agent, session, Some(task)).await
    }

    /// Continue the thread `session` (started with `agent`) after an interruption (a
    /// crash, a kill, a cancel): each hop of its last task is resumed, or, when it had
    /// finished, its outcome is taken as it is; a hop the interruption came before starts.
    pub async fn resume(&self, agent: &str, session: &Session) -> Result<ThreadOutcome, HostError> {
        self.drive(agent, session, None).await
    }

    async fn drive(
        &self,
        first: &str,
        session: &Session,
        task: Option<&str>,
    ) -> Result<ThreadOutcome, HostError> {
        let mut hops: Vec<Hop> = Vec::new();
        let mut usage = UsageLedger::default();
        let mut agent = first.to_string();
        let mut session_id = session.id.clone();
        let mut hop_task: Option<String> = task.map(str::to_string);
        // The thread's task, for the receivers (on resume: the last task of its first hop).
        let mut original = hop_task.clone();
        loop {
            let runner = self.agent(&agent).ok_or_else(|| {
                HostError::Assembly(format!("the thread hands off to unknown agent `{agent}`"))
            })?;
            // Later hops continue the thread (its first hop's session).
            let parent = match hops.is_empty() {
                true => session.parent.clone(),
                false => Some(sre_core::SessionParent {
                    session_id: session.id.clone(),
                    call_id: None,
                }),
            };
            let hop_session = Session {
                id: session_id.clone(),
                cancel: session.cancel.clone(),
                events: session.events.clone(),
                parent,
            };
            self.tell_notes(&agent, &hop_session);
            let outcome = match &hop_task {
                Some(t) => runner.run(&hop_session, t).await?,
                None => runner.resume(&hop_session).await?,
            };
            if original.is_none() {
                original = self.last_task(&session.id).await?;
            }
            usage.merge(&outcome.usage.agents);
            let cause = outcome.cause.clone();
            hops.push(Hop {
                agent: agent.clone(),
                session_id: session_id.clone(),
                outcome,
            });
            let StopCause::Handoff { to, note } = cause else {
                return Ok(ThreadOutcome { hops, usage });
            };
            if hops.len() > MAX_HANDOFFS {
                return Err(HostError::Assembly(format!(
                    "thread `{}` handed off more than {MAX_HANDOFFS} times",
                    session.id
                )));
            }
            let handed = handed_task(&agent, &note, original.as_deref().unwrap_or_default());
            agent = to;
            session_id = hop_session_id(&session.id, hops.len(), &agent);
            hop_task = match task {
                Some(_) => Some(handed),
                // Resuming: the next hop goes on if it already has this task, else (the
                // interruption came right after the handoff) it starts with it.
                None if self.last_task(&session_id).await?.as_deref() == Some(&handed) => None,
                None => Some(handed),
            };
        }
    }

    /// Tell a hop's events what its agent had to leave out (a connector that did not
    /// connect...), so `--json` and the progress view show it.
    fn tell_notes(&self, agent: &str, session: &Session) {
        let Some(sink) = &session.events else {
            return;
        };
        for message in self.notes_of(agent) {
            sink.emit(AgentEvent {
                agent: agent.to_string(),
                session_id: session.id.clone(),
                kind: EventKind::Warning {
                    message: message.clone(),
                },
            });
        }
    }

    /// The last task given in session `id` (accepted or refused), if any.
    async fn last_task(&self, id: &str) -> Result<Option<String>, HostError> {
        let loaded = self.store().load(id).await?;
        Ok(loaded.records.into_iter().rev().find_map(|r| match r {
            SessionRecord::Task { text, .. } | SessionRecord::TaskRefused { text, .. } => {
                Some(text)
            }
            _ => None,
        }))
    }
}
