//! The dispatcher: runs each thread's agent under a concurrency limit, one run per thread
//! at a time, and records where the thread stands. A run that parks for an approval holds
//! nothing; [`Dispatcher::submit`] continues it once decided. On start, [`Dispatcher::recover`]
//! takes up what a stopped server left queued or running.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use sre_core::{Session, StopCause};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::home::{AgentHome, AgentType};
use crate::store::{
    ApprovalStore, EventLog, IncidentStore, SqliteStore, StoreError, ThreadRecord, ThreadStatus,
    ThreadStore,
};
use crate::team::{Team, TeamOptions};
use sre_core::telemetry::GenAiTelemetry;

use super::events::{Events, Subscription};

/// Runs threads; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    home: AgentHome,
    options: TeamOptions,
    store: Arc<SqliteStore>,
    permits: Arc<Semaphore>,
    /// One team per mode, assembled when first needed.
    teams: tokio::sync::Mutex<BTreeMap<&'static str, Arc<Team>>>,
    /// Threads being run now.
    running: Mutex<BTreeSet<String>>,
    /// Cancelled at shutdown: running threads stop and are resumed on the next start.
    stop: CancellationToken,
    /// Threads' events: logged, and published live.
    events: Events,
    /// OpenTelemetry spans and metrics of the runs, when exported.
    telemetry: Option<Arc<GenAiTelemetry>>,
    /// The runs' GenAI metrics for `/metrics`.
    genai: Arc<super::genai_metrics::GenAiMetrics>,
    /// The trace context (`traceparent`, `tracestate`) of the request that opened a thread.
    traces: Mutex<BTreeMap<String, Vec<(String, String)>>>,
    /// Learn from every thread that completes (`sre serve --learn`): its last hop's root
    /// cause, what worked and the pitfalls go into the workspace's memory, and a `learned`
    /// event says what was filed.
    learn: bool,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

impl Dispatcher {
    /// A dispatcher for `home`'s agents, assembled with `options` (its approver should be
    /// durable), running at most `concurrency` threads at once. Call it inside a Tokio
    /// runtime (it starts the event writer).
    pub fn new(
        home: AgentHome,
        options: TeamOptions,
        store: Arc<SqliteStore>,
        concurrency: usize,
        telemetry: Option<Arc<GenAiTelemetry>>,
        learn: bool,
    ) -> Self {
        Dispatcher {
            inner: Arc::new(Inner {
                home,
                store: store.clone(),
                options,
                permits: Arc::new(Semaphore::new(concurrency.max(1))),
                teams: tokio::sync::Mutex::new(BTreeMap::new()),
                running: Mutex::new(BTreeSet::new()),
                stop: CancellationToken::new(),
                events: Events::start(store.clone()),
                telemetry,
                genai: Arc::default(),
                traces: Mutex::new(BTreeMap::new()),
                learn,
            }),
        }
    }

    /// Turn thread `id`'s investigation (its last hop) into a runbook in the memory's
    /// knowledge files; the file's path.
    pub async fn runbook(&self, id: &str) -> Result<std::path::PathBuf, String> {
        let (store, tid) = (self.inner.store.clone(), id.to_string());
        let (thread, sessions) =
            blocking(move || Ok((store.thread(&tid)?, store.thread_sessions(&tid)?))).await?;
        let thread = thread.ok_or_else(|| format!("no thread {id}"))?;
        let team = team_for(&self.inner, &thread.mode).await?;
        team.write_runbook(&last_hop(&thread.id, &sessions))
            .await
            .map_err(|e| e.to_string())
    }

    /// Run (or continue) thread `id` in the background.
    pub fn submit(&self, id: String) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = drive(&inner, &id).await {
                eprintln!("thread {id}: {e}");
            }
        });
    }

    /// Open the threads of routed incidents that have none (taken by an older program, or
    /// stored by a process that stopped between the incident and its thread). Called at
    /// start: it reads every incident.
    pub async fn open_missing(&self) -> Result<usize, String> {
        let store = self.inner.store.clone();
        blocking(move || {
            let unopened = store.unopened()?;
            Ok(crate::store::open_threads(store.as_ref(), &unopened, chrono::Utc::now())?.len())
        })
        .await
    }

    /// Take up the threads that need a run and have none: queued ones (new, opened by
    /// `sre incident`, or retried after a failed attempt), running ones that no task runs
    /// (left by a stopped server), and parked ones whose requests were all decided (over
    /// the API, from `sre approve`, or while the run was still parking). Called at start and
    /// then every second, so that no wakeup is lost.
    pub async fn recover(&self) -> Result<usize, String> {
        let store = self.inner.store.clone();
        let (queued, running, parked, pending) = blocking(move || {
            let pending: BTreeSet<String> =
                store.pending(None)?.into_iter().map(|a| a.thread).collect();
            Ok((
                store.threads_in(ThreadStatus::Queued)?,
                store.threads_in(ThreadStatus::Running)?,
                store.threads_in(ThreadStatus::Parked)?,
                pending,
            ))
        })
        .await?;
        let busy: BTreeSet<String> = self
            .inner
            .running
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let mut n = 0;
        for t in queued.into_iter().chain(running) {
            if !busy.contains(&t.id) {
                self.submit(t.id);
                n += 1;
            }
        }
        for t in parked {
            if !busy.contains(&t.id) && !pending.contains(&t.id) {
                self.submit(t.id);
                n += 1;
            }
        }
        Ok(n)
    }

    /// With `--learn`: the lessons a stop cut short (begun, never finished) are learned now.
    /// Called once at start; the number taken up.
    pub async fn resume_learning(&self) -> Result<usize, String> {
        if !self.inner.learn {
            return Ok(0);
        }
        let store = self.inner.store.clone();
        let unfinished = blocking(move || store.unfinished_lessons()).await?;
        let mut n = 0;
        for (thread, session) in unfinished {
            let (store, tid) = (self.inner.store.clone(), thread.clone());
            let Some(record) = blocking(move || store.thread(&tid)).await? else {
                continue;
            };
            let team = team_for(&self.inner, &record.mode).await?;
            learn_from(&self.inner, team, &thread, &session);
            n += 1;
        }
        Ok(n)
    }

    /// Every `every` until shutdown: start the scheduled tasks that are due (at the time
    /// now + `clock_offset`), then run [`Dispatcher::recover`].
    pub fn watch(
        &self,
        every: std::time::Duration,
        scheduler: Option<Arc<crate::schedule::Scheduler>>,
        clock_offset: chrono::Duration,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                // The first tick is at once: a task due at start is not a second late.
                if !std::mem::take(&mut first) {
                    tokio::select! {
                        _ = this.inner.stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                }
                if let Some(s) = &scheduler {
                    let s = s.clone();
                    let now = chrono::Utc::now();
                    let now = now.checked_add_signed(clock_offset).unwrap_or(now);
                    match blocking(move || s.tick(now)).await {
                        Ok(opened) => opened.into_iter().for_each(|id| this.submit(id)),
                        Err(e) => eprintln!("scheduler: {e}"),
                    }
                }
                if let Err(e) = this.recover().await {
                    eprintln!("dispatcher: {e}");
                }
            }
        });
    }

    /// Stop: running threads are cancelled (they are resumed on the next start), and the
    /// teams' connectors are shut down.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        // The runs see the cancellation at their next await and record what happened.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for team in self.inner.teams.lock().await.values() {
            team.shutdown().await;
        }
        self.inner.events.flush().await;
    }

    /// Switch on-demand hook `hook` on or off for thread `id`: its next runs see it (or
    /// not), and so do runs after a restart. An unknown hook is an error naming the
    /// on-demand hooks there are.
    pub async fn toggle_hook(
        &self,
        id: &str,
        mode: &str,
        hook: &str,
        on: bool,
    ) -> Result<Vec<String>, String> {
        let team = team_for(&self.inner, mode).await?;
        if on {
            team.enable_hook(id, hook).map_err(|e| e.to_string())?;
        }
        for t in self.inner.teams.lock().await.values() {
            if on {
                let _ = t.enable_hook(id, hook);
            } else {
                t.disable_hook(id, hook);
            }
        }
        let (store, tid, name) = (self.inner.store.clone(), id.to_string(), hook.to_string());
        blocking(move || {
            let thread = store
                .thread(&tid)?
                .ok_or_else(|| StoreError::NotFound(format!("no thread {tid}")))?;
            let mut hooks: Vec<String> = thread.hooks.into_iter().filter(|h| *h != name).collect();
            if on {
                hooks.push(name);
            }
            store.set_hooks(&tid, &hooks)?;
            Ok(hooks)
        })
        .await
    }

    /// The live events of thread `id` from now on: each agent event of its runs (the JSON
    /// of `sre run --json`), `{"thread": ..., "status": ...}` when its status changes, and
    /// the decisions on its requests; each numbered as in the thread's [`EventLog`].
    pub fn subscribe(&self, id: &str) -> Subscription {
        self.inner.events.subscribe(id)
    }

    /// Keep the W3C trace context headers of the request that opened thread `id` (or
    /// resumed it: a follow-up message, a decision): its next run continues that trace.
    pub fn trace_from(&self, id: &str, headers: Vec<(String, String)>) {
        if self.inner.telemetry.is_some() && !headers.is_empty() {
            let mut traces = self.inner.traces.lock().unwrap_or_else(|p| p.into_inner());
            traces.insert(id.to_string(), headers);
        }
    }

    /// The home's on-demand hooks (a thread may switch them on).
    pub fn on_demand_hooks(&self) -> Vec<String> {
        crate::team::on_demand_hooks(&self.inner.home)
            .into_iter()
            .collect()
    }

    /// The runs' GenAI metrics, as Prometheus text.
    pub fn genai_metrics(&self) -> String {
        self.inner.genai.render()
    }

    /// Record an event of thread `id` (logged, and published to its subscribers).
    pub fn record(&self, id: &str, event: serde_json::Value) {
        self.inner.events.record(id, event);
    }

    /// Threads being run now.
    pub fn running(&self) -> usize {
        self.inner
            .running
            .lock()
            .map(|r| r.len())
            .unwrap_or_default()
    }
}

/// Removes the thread from the running set however the run ends.
struct Running<'a>(&'a Inner, String);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.running.lock() {
            r.remove(&self.1);
        }
    }
}

/// The session of a thread's last hop among its sessions (hops, subagents, in order).
fn last_hop(thread: &str, sessions: &[(String, String)]) -> String {
    sessions
        .iter()
        .filter(|(s, agent)| {
            s == thread
                || (1..=crate::team::MAX_HANDOFFS + 1)
                    .any(|n| *s == crate::team::hop_session_id(thread, n, agent))
        })
        .map(|(s, _)| s.clone())
        .next_back()
        .unwrap_or_else(|| thread.to_string())
}

/// Most a lesson may take to write before it is given up.
const LEARN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Learn from the session that completed thread `id`, in the background (the thread is
/// done, its slot free), bounded in time and stopped by the shutdown; say so in its events.
fn learn_from(inner: &Inner, team: Arc<Team>, id: &str, session: &str) {
    let (events, stop) = (inner.events.clone(), inner.stop.clone());
    let (id, session) = (id.to_string(), session.to_string());
    tokio::spawn(async move {
        let learned = tokio::select! {
            r = tokio::time::timeout(LEARN_TIMEOUT, team.learn(&session)) => r,
            () = stop.cancelled() => return,
        };
        let event = match learned {
            Ok(Ok(report)) => {
                let topics: BTreeSet<&str> = report.filed.iter().map(|(t, _)| t.as_str()).collect();
                serde_json::json!({"thread": id, "learned": {"session": session,
                    "entries": report.filed.len(), "topics": topics}})
            }
            Ok(Err(e)) => serde_json::json!({"thread": id, "learned": {"session": session,
                "error": e.to_string()}}),
            Err(_) => serde_json::json!({"thread": id, "learned": {"session": session,
                "error": format!("gave up after {} s", LEARN_TIMEOUT.as_secs())}}),
        };
        events.record(&id, event);
    });
}

async fn team_for(inner: &Inner, mode: &str) -> Result<Arc<Team>, String> {
    let agent_type = AgentType::parse(mode).unwrap_or(AgentType::Review);
    let mut teams = inner.teams.lock().await;
    if let Some(t) = teams.get(agent_type.as_str()) {
        return Ok(t.clone());
    }
    let mut options = inner.options.clone();
    options.agent_type = Some(agent_type);
    let team = Arc::new(
        Team::assemble(inner.home.clone(), options)
            .await
            .map_err(|e| e.to_string())?,
    );
    teams.insert(agent_type.as_str(), team.clone());
    Ok(team)
}

async fn set(
    inner: &Inner,
    id: &str,
    status: ThreadStatus,
    attempt: bool,
    answer: Option<String>,
    error: Option<String>,
) -> Result<ThreadRecord, String> {
    let (store, tid) = (inner.store.clone(), id.to_string());
    let record = blocking(move || {
        store.set_thread(
            &tid,
            status,
            attempt,
            answer.as_deref(),
            error.as_deref(),
            chrono::Utc::now(),
        )
    })
    .await?;
    inner.events.record(
        id,
        serde_json::json!({"thread": id, "status": status.as_str(), "error": record.error}),
    );
    Ok(record)
}

async fn drive(inner: &Inner, id: &str) -> Result<(), String> {
    {
        let mut running = inner.running.lock().map_err(|e| e.to_string())?;
        if !running.insert(id.to_string()) {
            return Ok(()); // already being run
        }
    }
    let _guard = Running(inner, id.to_string());
    // The trace context of the request that opened the thread, taken whatever this run does.
    let carrier = inner
        .traces
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id);
    let _permit = inner
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    if inner.stop.is_cancelled() {
        return Ok(());
    }
    let (store, tid) = (inner.store.clone(), id.to_string());
    let Some(thread) = blocking(move || store.thread(&tid)).await? else {
        return Err("no such thread".into());
    };
    if matches!(
        thread.status,
        ThreadStatus::Completed | ThreadStatus::Failed
    ) {
        return Ok(());
    }
    if thread.attempts >= thread.max_attempts {
        // The last attempt's error stays the reason.
        let why = match &thread.error {
            Some(e) => format!("{e} (out of attempts: {})", thread.max_attempts),
            None => format!("out of attempts ({})", thread.max_attempts),
        };
        set(inner, id, ThreadStatus::Failed, false, None, Some(why)).await?;
        return Ok(());
    }
    let team = match team_for(inner, &thread.mode).await {
        Ok(t) => t,
        Err(e) => {
            // Counted as an attempt: queued again (the watcher retries) until none is left.
            set(inner, id, ThreadStatus::Queued, true, None, Some(e.clone())).await?;
            return Err(e);
        }
    };
    // The on-demand hooks switched on for this thread (kept across restarts).
    for hook in &thread.hooks {
        let _ = team.enable_hook(id, hook);
    }
    // A follow-up message is the thread's next task in its session; otherwise a thread that
    // ran before continues its session (nothing started runs twice), and a new one, or one
    // whose task never reached the session, starts.
    let (store, tid) = (inner.store.clone(), id.to_string());
    let follow_up = if thread.pending_task.is_some() {
        blocking(move || store.take_pending(&tid)).await?
    } else {
        None
    };
    set(inner, id, ThreadStatus::Running, false, None, None).await?;
    let (events, tid) = (inner.events.clone(), id.to_string());
    let telemetry = inner.telemetry.clone();
    let genai = inner.genai.clone();
    if let (Some(t), Some(headers)) = (&telemetry, carrier) {
        t.set_parent(id, crate::telemetry::extract(&headers));
    }
    let log: Arc<dyn sre_core::EventSink> = Arc::new(move |e: sre_core::AgentEvent| {
        genai.record(&e);
        if let Ok(v) = serde_json::to_value(&e) {
            events.record(&tid, v);
        }
    });
    // The spans first: they give the trace context of MCP requests.
    let mut sinks: Vec<Arc<dyn sre_core::EventSink>> = Vec::new();
    if let Some(t) = telemetry {
        sinks.push(t);
    }
    sinks.push(log);
    let sink = Arc::new(sre_core::Tee::new(sinks));
    let session = Session::new(id)
        .with_cancel(inner.stop.child_token())
        .with_events(sink);
    let mut result = match (&follow_up, thread.runs) {
        (Some(message), _) => team.run(&thread.agent, &session, message).await,
        (None, 0) => team.run(&thread.agent, &session, &thread.task).await,
        (None, _) => team.resume(&thread.agent, &session).await,
    };
    if let Err(e) = &result
        && thread.runs > 0
        && e.to_string().contains("nothing to resume")
    {
        result = team.run(&thread.agent, &session, &thread.task).await;
    }
    let last = result.as_ref().ok().and_then(|t| t.last().cloned());
    let last_session = result
        .as_ref()
        .ok()
        .and_then(|t| t.hops.last())
        .map(|h| h.session_id.clone());
    match (result, last) {
        (Ok(_), Some(o)) => match o.cause {
            StopCause::Completed => {
                if let (true, Some(session)) = (inner.learn, &last_session) {
                    // Logged before the thread is done: a lesson a stop cuts short is taken
                    // up at the next start (`resume_learning`).
                    inner.events.record(
                        id,
                        serde_json::json!({"thread": id, "learning": {"session": session}}),
                    );
                    inner.events.flush().await;
                }
                set(inner, id, ThreadStatus::Completed, false, o.answer, None).await?;
                if let (true, Some(session)) = (inner.learn, &last_session) {
                    learn_from(inner, team.clone(), id, session);
                }
            }
            StopCause::AwaitingApproval { requests } => {
                // A decision made meanwhile is found by the watcher, which runs it again.
                let note = format!("waiting for approval: {}", requests.join(", "));
                set(inner, id, ThreadStatus::Parked, false, None, Some(note)).await?;
            }
            // Stopped by the shutdown: resumed on the next start.
            StopCause::Cancelled => {}
            other => {
                let why = format!("ended: {other:?}");
                set(inner, id, ThreadStatus::Failed, false, o.answer, Some(why)).await?;
            }
        },
        (Ok(_), None) => {
            set(
                inner,
                id,
                ThreadStatus::Failed,
                false,
                None,
                Some("no hop ran".into()),
            )
            .await?;
        }
        (Err(_), _) if inner.stop.is_cancelled() => {}
        // Another run writes the session (another process): not a failure of this thread.
        (Err(crate::HostError::Core(sre_core::Error::SessionBusy { .. })), _) => {
            let note = "another run was writing the session; queued again".to_string();
            set(inner, id, ThreadStatus::Queued, false, None, Some(note)).await?;
        }
        (Err(e), _) => {
            let attempts = thread.attempts + 1;
            let status = if attempts < thread.max_attempts {
                ThreadStatus::Queued
            } else {
                ThreadStatus::Failed
            };
            set(inner, id, status, true, None, Some(e.to_string())).await?;
            if status == ThreadStatus::Queued {
                return Err(format!("attempt {attempts} failed, queued again: {e}"));
            }
        }
    }
    Ok(())
}
