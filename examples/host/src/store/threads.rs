//! Threads: one investigation per routed incident, with where it stands, so that a
//! restarted server knows what to start, continue, or leave waiting for a person.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{IncidentRecord, StoreError};

/// Where a thread stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadStatus {
    /// Waiting for a worker.
    Queued,
    /// An agent runs it.
    Running,
    /// A call waits for a person's approval.
    Parked,
    /// The agent answered.
    Completed,
    /// It ended otherwise (an error, a turn limit, out of attempts).
    Failed,
}

impl ThreadStatus {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::Queued => "queued",
            ThreadStatus::Running => "running",
            ThreadStatus::Parked => "parked",
            ThreadStatus::Completed => "completed",
            ThreadStatus::Failed => "failed",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<ThreadStatus> {
        Some(match s {
            "queued" => ThreadStatus::Queued,
            "running" => ThreadStatus::Running,
            "parked" => ThreadStatus::Parked,
            "completed" => ThreadStatus::Completed,
            "failed" => ThreadStatus::Failed,
            _ => return None,
        })
    }
}

/// A thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadRecord {
    /// Its id (`thread-<n>`, also the first hop's session id).
    pub id: String,
    /// The incident it investigates.
    pub incident: String,
    /// The agent.
    pub agent: String,
    /// The mode (`Review`, `Autonomous`, `ReadOnly`).
    pub mode: String,
    /// Where it stands.
    pub status: ThreadStatus,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Runs started (a parked run continued is another run, not another attempt).
    pub runs: u32,
    /// A follow-up message waiting to be the thread's next task.
    pub pending_task: Option<String>,
    /// The on-demand hooks switched on for this thread.
    pub hooks: Vec<String>,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The task the agent was given.
    pub task: String,
    /// The answer, once completed.
    pub answer: Option<String>,
    /// Why it failed, or the last attempt's error.
    pub error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// What its model calls have cost so far, in US dollars (from its logged events).
    pub cost_usd: f64,
}

/// Where threads are kept.
pub trait ThreadStore: Send + Sync {
    /// The thread of `incident` (routed: it has a plan and a thread id), created queued with
    /// `task` if new. `true` when created now.
    fn open_thread(
        &self,
        incident: &IncidentRecord,
        task: &str,
        at: DateTime<Utc>,
    ) -> Result<(ThreadRecord, bool), StoreError>;
    /// One thread.
    fn thread(&self, id: &str) -> Result<Option<ThreadRecord>, StoreError>;
    /// How many threads are in `status`.
    fn count_threads(&self, status: ThreadStatus) -> Result<usize, StoreError>;
    /// Threads in `status`, oldest first.
    fn threads_in(&self, status: ThreadStatus) -> Result<Vec<ThreadRecord>, StoreError>;
    /// The latest threads (in `status`, if given), most recently changed first.
    fn latest_threads(
        &self,
        status: Option<ThreadStatus>,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError>;
    /// Post a follow-up message to a finished thread (completed or failed): it becomes the
    /// thread's next task in the same session, and the thread is queued. A thread still
    /// queued, running or parked is a conflict.
    fn post_message(
        &self,
        id: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<ThreadRecord, StoreError>;
    /// Take the waiting follow-up message (it is cleared).
    fn take_pending(&self, id: &str) -> Result<Option<String>, StoreError>;
    /// Record the on-demand hooks switched on for a thread.
    fn set_hooks(&self, id: &str, hooks: &[String]) -> Result<(), StoreError>;
    /// Move a thread (counting an attempt when `attempt`), with its answer or error.
    fn set_thread(
        &self,
        id: &str,
        status: ThreadStatus,
        attempt: bool,
        answer: Option<&str>,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ThreadRecord, StoreError>;
}

/// Open the thread of each routed incident (queued, with [`task_of`]); the ids of those
/// created now. Every taker of incidents calls it: the server, the CLI, the start-up pass.
pub fn open_threads<'a>(
    store: &dyn ThreadStore,
    incidents: impl IntoIterator<Item = &'a IncidentRecord>,
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut opened = Vec::new();
    for incident in incidents {
        if incident.thread.is_some() {
            let (thread, created) = store.open_thread(incident, &task_of(incident), at)?;
            if created {
                opened.push(thread.id);
            }
        }
    }
    Ok(opened)
}

/// The task an incident's agent is given: what the platform said, then the plan's
/// instructions.
pub fn task_of(incident: &IncidentRecord) -> String {
    let mut task = format!(
        "Investigate incident {} from {}: {}\n",
        incident.id, incident.source, incident.title
    );
    let mut line = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            task.push_str(&format!("- {k}: {v}\n"));
        }
    };
    line("priority", incident.priority.map(|p| p.to_string()));
    line("severity", incident.severity.clone());
    line("service", incident.service.clone());
    line("status", Some(incident.status.as_str().to_string()));
    line("first seen", Some(incident.first_seen.to_rfc3339()));
    line("firings", Some(incident.count.to_string()));
    line("description", incident.description.clone());
    if !incident.labels.is_empty() {
        let labels: Vec<String> = incident
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line("labels", Some(labels.join(", ")));
    }
    if !incident.links.is_empty() {
        line("links", Some(incident.links.join(" ")));
    }
    let raw = incident.raw.to_string();
    let raw: String = raw.chars().take(4000).collect();
    task.push_str(&format!("\nThe alert as the platform sent it:\n{raw}\n"));
    if let Some(i) = incident
        .plan
        .as_ref()
        .and_then(|p| p.custom_instructions.as_ref())
    {
        task.push_str(&format!("\nInstructions: {i}\n"));
    }
    task
}
