//! [`Agent`]: an [`AgentLoop`] assembled from Python, and [`RunHandle`]: one run of it on
//! the package's tokio runtime.
//!
//! A run's events are serialised (serde JSON of [`AgentEvent`]) into a queue the Python
//! side drains; its end (the outcome JSON or an error) is stored next to them. The queue is
//! bounded ([`EVENT_QUEUE`]): a run whose reader falls that far behind waits for it (its
//! cancellation, or the handle being dropped, ends the wait). Python waits
//! with [`RunHandle::wait`] (GIL released, in short slices so signals are seen) or is woken
//! through a `waker` callable (asyncio: `loop.call_soon_threadsafe(event.set)`), called
//! after changes from the package's one waker thread (shared by every run; changes made
//! while a call is pending are told by that call), never from a runtime thread.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use sre_core::{
    Agent as _, AgentEvent, AgentLoop, CancellationToken, EventSink, Hook, JsonlSessionStore,
    Model, ScriptedModel, Session, Tool,
};
use sre_tools::{MountMode, Workspace};

use crate::errors::{ConfigError, ErrorKind, PyErrData, SreHarnessError, core_err, tools_err};
use crate::hook::{PyApprover, PyHook};
use crate::tool::PyTool;

/// An agent: model, system prompt, tools, hooks and a session store.
#[pyclass(module = "sre_harness._native", frozen)]
pub struct Agent {
    inner: AgentLoop,
    session_dir: PathBuf,
    /// What the agent's tools need alive (the team of a loaded home: its MCP connections).
    _keep: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Agent {
    /// An agent assembled elsewhere (a loaded agent home), keeping `keep` alive with it.
    pub(crate) fn from_loop(
        inner: AgentLoop,
        session_dir: PathBuf,
        keep: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        Agent {
            inner,
            session_dir,
            _keep: Some(keep),
        }
    }
}

#[pymethods]
impl Agent {
    /// Build an agent. Exactly one model source: `script` (ScriptedModel YAML/JSON text),
    /// `script_path` (a script file), `model_from_env` (provider from the environment),
    /// `model_spec` (a provider configured explicitly, JSON) or `py_model` (an
    /// `sre_harness.Model`). `cost_cap_usd` / `cost_cap_tokens` stop the run (cause
    /// `cost_cap_reached`) once the agent tree has spent that much. `py_store` (an
    /// `sre_harness.SessionStore`) keeps the transcripts instead of `session_dir`'s files.
    /// The other parts ([`crate::parts::Parts`]): `memory`, `pinned_state`, `budget` (JSON),
    /// `repositories` (name, root), `topology` (a file), `layers` (`sre_harness.Layer`s),
    /// `offload` (needs a workspace), `subagent_turns` (offers subagents), `skills` (a
    /// folder of `SKILL.md` folders). `mcp_config`
    /// (JSON) or `mcp_path` (a YAML/JSON file): sre-mcp connectors, connected here.
    #[new]
    #[pyo3(signature = (
        *,
        session_dir,
        name = "agent".to_string(),
        system_prompt = String::new(),
        script = None,
        script_path = None,
        model_from_env = false,
        model_spec = None,
        py_model = None,
        cost_cap_usd = None,
        cost_cap_tokens = None,
        py_store = None,
        memory = None,
        pinned_state = false,
        budget = None,
        repositories = Vec::new(),
        topology = None,
        layers = Vec::new(),
        offload = false,
        subagent_turns = None,
        skills = None,
        mcp_config = None,
        mcp_path = None,
        workspace = None,
        mounts = Vec::new(),
        workspace_tools = true,
        tools = Vec::new(),
        hooks = Vec::new(),
        max_turns = 50,
        tool_concurrency = 8,
        hook_timeout = None,
        streaming = false,
        approver = None,
        hook_config = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        session_dir: PathBuf,
        name: String,
        system_prompt: String,
        script: Option<String>,
        script_path: Option<PathBuf>,
        model_from_env: bool,
        model_spec: Option<String>,
        py_model: Option<Bound<'_, PyAny>>,
        cost_cap_usd: Option<f64>,
        cost_cap_tokens: Option<u64>,
        py_store: Option<Bound<'_, PyAny>>,
        memory: Option<PyRef<'_, crate::parts::Memory>>,
        pinned_state: bool,
        budget: Option<String>,
        repositories: Vec<(String, PathBuf)>,
        topology: Option<PathBuf>,
        layers: Vec<Bound<'_, PyAny>>,
        offload: bool,
        subagent_turns: Option<u32>,
        skills: Option<PathBuf>,
        mcp_config: Option<String>,
        mcp_path: Option<PathBuf>,
        workspace: Option<PathBuf>,
        mounts: Vec<(String, bool)>,
        workspace_tools: bool,
        tools: Vec<Bound<'_, PyAny>>,
        hooks: Vec<Bound<'_, PyAny>>,
        max_turns: u32,
        tool_concurrency: usize,
        hook_timeout: Option<f64>,
        streaming: bool,
        approver: Option<Bound<'_, PyAny>>,
        hook_config: Option<PathBuf>,
    ) -> PyResult<Self> {
        let rt = crate::runtime()?;
        // Providers build HTTP clients; give them the runtime's context.
        let _guard = rt.enter();
        let model = model_from(
            script,
            script_path,
            model_from_env,
            model_spec,
            py_model.as_ref(),
        )?;

        let mut all_tools: Vec<Arc<dyn Tool>> = Vec::new();
        let mut all_hooks: Vec<Arc<dyn Hook>> = Vec::new();
        let judge = model.clone();
        let agent_name = name.clone();
        let mut builder = AgentLoop::builder(model)
            .name(name)
            .system_prompt(system_prompt)
            .max_turns(max_turns)
            .tool_concurrency(tool_concurrency)
            .streaming(streaming);
        if cost_cap_usd.is_some() || cost_cap_tokens.is_some() {
            if let Some(usd) = cost_cap_usd {
                if !(usd.is_finite() && usd > 0.0) {
                    return Err(ConfigError::new_err(format!(
                        "cost_cap_usd must be a positive amount, got {usd}"
                    )));
                }
                let p = &judge.info().pricing;
                if [
                    p.input_per_mtok,
                    p.output_per_mtok,
                    p.cache_read_per_mtok,
                    p.cache_write_per_mtok,
                ]
                .iter()
                .all(|price| *price == 0.0)
                {
                    return Err(ConfigError::new_err(format!(
                        "cost_cap_usd: model `{}` has no prices, so its calls cost nothing and the \
                         cap would never stop a run (give the model its prices, or use cost_cap_tokens)",
                        judge.info().name
                    )));
                }
            }
            if cost_cap_tokens == Some(0) {
                return Err(ConfigError::new_err("cost_cap_tokens must be at least 1"));
            }
            builder = builder.cost_cap(sre_core::CostCap {
                max_tokens: cost_cap_tokens,
                max_usd: cost_cap_usd,
            });
        }
        let mut workspace_root: Option<PathBuf> = None;
        if let Some(root) = workspace {
            let mut wb = Workspace::builder(&root);
            for (mount, writable) in mounts {
                let mode = if writable {
                    MountMode::Writable
                } else {
                    MountMode::ReadOnly
                };
                wb = wb.mount(mount, mode);
            }
            let ws = wb.build().map_err(tools_err)?;
            workspace_root = Some(ws.root().to_path_buf());
            builder = builder.cwd(ws.root().display().to_string());
            if workspace_tools {
                all_tools.extend(ws.tools().map_err(tools_err)?);
            }
            if offload {
                // Outputs past 16 KiB go to files under the workspace; the model sees a
                // preview and where to read the rest.
                let store =
                    sre_tools::OffloadStore::new(ws.clone(), sre_tools::OffloadConfig::default())
                        .map_err(tools_err)?;
                builder = builder.offload(Arc::new(store));
            }
        } else if !mounts.is_empty() {
            return Err(ConfigError::new_err("mounts need a workspace root"));
        } else if offload {
            return Err(ConfigError::new_err("offload needs a workspace root"));
        }
        builder = crate::parts::Parts {
            memory,
            pinned_state,
            budget,
            repositories,
            topology,
            layers,
            subagent_turns,
            skills,
        }
        .apply(builder, &mut all_tools)?;
        for tool in &tools {
            all_tools.push(Arc::new(PyTool::from_py(tool)?));
        }
        // MCP connectors: connected now (the GIL released), every one or an error; kept
        // alive with the agent.
        let mut keep: Option<Arc<dyn std::any::Any + Send + Sync>> = None;
        let config = match (mcp_config, mcp_path) {
            (Some(json), None) => Some(sre_mcp::McpConfig::from_json_str(&json)),
            (None, Some(path)) => Some(sre_mcp::McpConfig::from_path(path)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(ConfigError::new_err(
                    "give mcp_config or mcp_path, not both",
                ));
            }
        };
        if let Some(config) = config {
            let mcp = config
                .and_then(sre_mcp::McpConnectors::new)
                .map_err(|e| ConfigError::new_err(format!("mcp: {e}")))?;
            let connected = py
                .detach(|| rt.block_on(mcp.connect_all()))
                .map_err(|e| SreHarnessError::new_err(format!("mcp: {e}")))?;
            // The connectors layer: what is connected, how, and with how many tools.
            builder = builder.layer(Arc::new(sre_context::ConnectorsLayer::new(
                mcp.connectors().iter().map(|c| {
                    let prefix = format!("mcp__{}__", c.name());
                    let tools = connected
                        .iter()
                        .filter(|t| t.spec().name.starts_with(&prefix))
                        .count();
                    sre_context::Connector::new(c.name(), c.config().transport.kind(), tools)
                }),
            )));
            all_tools.extend(connected);
            keep = Some(Arc::new(mcp));
        }
        if let Some(path) = hook_config {
            // Configured hooks (YAML agent definitions or Claude Code settings JSON) run
            // first, then the Python hooks; prompt hooks are judged by the agent's model.
            let config = sre_hooks::HookConfig::load(&path)
                .map_err(|e| ConfigError::new_err(format!("hook config: {e}")))?;
            let ctx = sre_hooks::BuildContext {
                model: Some(judge),
                cwd: workspace_root.clone(),
                ..Default::default()
            };
            let registry = config
                .build(&ctx)
                .map_err(|e| ConfigError::new_err(format!("hook config: {e}")))?;
            all_hooks.extend(registry.hooks_for(&agent_name));
        }
        for hook in &hooks {
            all_hooks.push(Arc::new(PyHook::from_py(hook)?));
        }
        if let Some(approver) = approver {
            builder = builder.approver(Arc::new(PyApprover::from_py(&approver)?));
        }
        if let Some(t) = crate::tool::timeout_from(hook_timeout, "hook_timeout")? {
            builder = builder.hook_timeout(t);
        }
        let store: Arc<dyn sre_core::SessionStore> = match py_store {
            Some(py) => Arc::new(crate::store::PySessionStore::from_py(&py)?),
            None => Arc::new(JsonlSessionStore::new(&session_dir).map_err(core_err)?),
        };
        let inner = builder
            .tools(all_tools)
            .hooks(all_hooks)
            .session_store(store)
            .build()
            .map_err(core_err)?;
        Ok(Agent {
            inner,
            session_dir,
            _keep: keep,
        })
    }

    /// The agent's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Where transcripts are written.
    #[getter]
    fn session_dir(&self) -> PathBuf {
        self.session_dir.clone()
    }

    /// Shut down what the agent connected: its MCP connectors (child processes ended,
    /// sessions closed), or a loaded home's team. Idempotent; a run still going loses
    /// those tools.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(keep) = self._keep.clone() else {
            return Ok(());
        };
        let rt = crate::runtime()?;
        py.detach(|| {
            rt.block_on(async {
                if let Some(mcp) = keep.downcast_ref::<sre_mcp::McpConnectors>() {
                    mcp.shutdown().await;
                } else if let Some(team) = keep.downcast_ref::<sre_host::team::Team>() {
                    team.shutdown().await;
                }
            })
        });
        Ok(())
    }

    /// The tool specs offered to the model (JSON list of `{name, description, input_schema}`),
    /// sorted by name.
    fn tool_specs_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.tool_specs())
            .map_err(|e| SreHarnessError::new_err(format!("tool specs: {e}")))
    }

    /// Start a run of `prompt` in session `session_id` and return its handle at once;
    /// `prompt=None` resumes the session's unfinished run from its transcript.
    /// `waker`, if given, is called (no arguments, from a helper thread) after every new
    /// event and at the end. Without `full_outputs`, a tool output that differs from what
    /// the model saw (offloaded, withheld) is left out of its event (`output: null`), its
    /// size given as `output_bytes`: large outputs are not copied into Python unasked.
    /// `keep` is held until the run ends (what the run needs alive that the caller owns:
    /// its temporary folder).
    #[pyo3(signature = (prompt, session_id, waker = None, full_outputs = false, keep = None))]
    fn start(
        &self,
        prompt: Option<String>,
        session_id: String,
        waker: Option<Py<PyAny>>,
        full_outputs: bool,
        keep: Option<Py<PyAny>>,
    ) -> PyResult<RunHandle> {
        let rt = crate::runtime()?;
        let shared = Arc::new(Shared::default());
        if let Some(waker) = waker {
            *shared.waker.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Arc::new(waker), wakers()?.clone()));
        }
        let sink_shared = shared.clone();
        let queue = move |event: AgentEvent| {
            let json = match serde_json::to_value(&event) {
                Ok(mut value) => {
                    if !full_outputs {
                        sre_core::event::leave_out_unseen_output(&mut value);
                    }
                    value.to_string()
                }
                Err(e) => serde_json::json!({"agent": event.agent, "session_id": event.session_id,
                    "kind": {"type": "warning", "message": format!("unserialisable event: {e}")}})
                .to_string(),
            };
            sink_shared.push_event(json);
        };
        // The spans first: they give the trace context of MCP requests.
        let mut sinks: Vec<Arc<dyn EventSink>> = Vec::new();
        if let Some(spans) = crate::telemetry() {
            sinks.push(spans);
        }
        sinks.push(Arc::new(queue));
        let sink = sre_core::Tee::new(sinks);
        let session = Session::new(session_id.clone())
            .with_events(Arc::new(sink) as Arc<dyn EventSink>)
            .with_cancel(shared.cancel.clone());
        let agent = self.inner.clone();
        // What the run needs alive even if the Python agent goes first: the home's
        // connectors, and the caller's `keep`.
        let connectors = self._keep.clone();
        let run = rt.spawn(async move {
            let _alive = (connectors, keep);
            match prompt {
                Some(prompt) => agent.run(&session, &prompt).await,
                None => agent.resume(&session).await,
            }
        });
        let done = shared.clone();
        rt.spawn(async move {
            let result = match run.await {
                Ok(Ok(outcome)) => serde_json::to_string(&outcome).map_err(|e| {
                    PyErrData::new(ErrorKind::Other, format!("outcome not serialisable: {e}"))
                }),
                Ok(Err(e)) => Err(PyErrData::from(e)),
                Err(e) if e.is_panic() => Err(PyErrData::new(
                    ErrorKind::Other,
                    format!("internal error: the run panicked: {}", panic_message(e)),
                )),
                Err(e) => Err(PyErrData::new(ErrorKind::Cancelled, e.to_string())),
            };
            done.finish(result);
        });
        Ok(RunHandle { shared, session_id })
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

pub(crate) fn model_from(
    script: Option<String>,
    script_path: Option<PathBuf>,
    from_env: bool,
    spec: Option<String>,
    python: Option<&Bound<'_, PyAny>>,
) -> PyResult<Arc<dyn Model>> {
    let given = usize::from(script.is_some())
        + usize::from(script_path.is_some())
        + usize::from(from_env)
        + usize::from(spec.is_some())
        + usize::from(python.is_some());
    if given != 1 {
        return Err(ConfigError::new_err(
            "give exactly one model source: model='env', a provider (sre_harness.OpenAI(...), \
             Anthropic, AzureOpenAI), an sre_harness.Model, script=... or script_path=...",
        ));
    }
    if let Some(text) = script {
        return Ok(Arc::new(ScriptedModel::from_yaml(&text).map_err(core_err)?));
    }
    if let Some(path) = script_path {
        return Ok(Arc::new(ScriptedModel::from_file(path).map_err(core_err)?));
    }
    if let Some(spec) = spec {
        return crate::model::provider_from_spec(&spec);
    }
    if let Some(python) = python {
        return crate::model::python_model(python);
    }
    match sre_core::providers::from_env().map_err(core_err)? {
        Some(model) => Ok(model),
        None => Err(ConfigError::new_err(
            "no model provider is configured in the environment (set ANTHROPIC_API_KEY, \
             OPENAI_API_KEY or the provider variables sre-core reads)",
        )),
    }
}

#[derive(Default)]
struct State {
    events: VecDeque<String>,
    result: Option<Result<String, PyErrData>>,
    version: u64,
}

/// Events a run queues for its reader before it waits for the reader to take them.
pub const EVENT_QUEUE: usize = 1024;

/// The runs to wake, sent to the one waker thread.
type WakeQueue = Sender<Arc<Shared>>;

/// The waker thread (started with the first run that has a waker): it calls each run's
/// waker, with the GIL, when the run changed.
fn wakers() -> PyResult<&'static WakeQueue> {
    static WAKERS: OnceLock<Result<WakeQueue, String>> = OnceLock::new();
    WAKERS
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Arc<Shared>>();
            std::thread::Builder::new()
                .name("sre-harness-waker".into())
                .spawn(move || {
                    for run in rx {
                        // A waker call that panics (the interpreter finalizing) must not
                        // take the thread, and every later run's wake-ups, with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run.wake();
                        }));
                    }
                })
                .map(|_| tx)
                .map_err(|e| format!("cannot start the waker thread: {e}"))
        })
        .as_ref()
        .map_err(|e| SreHarnessError::new_err(e.clone()))
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    cancel: CancellationToken,
    /// The run's waker and the waker thread's queue, if it has one (dropped after the end).
    waker: Mutex<Option<(Arc<Py<PyAny>>, WakeQueue)>>,
    /// A call of the waker is queued and has not started: later changes ride on it.
    wake_queued: AtomicBool,
    /// The handle is gone: nobody will read the events (the run no longer waits for it).
    abandoned: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_event(self: &Arc<Self>, json: String) {
        let mut json = json;
        loop {
            let mut s = self.lock();
            if self.abandoned.load(Ordering::Acquire) {
                return;
            }
            // Full: wait for the reader (a cancelled run winds down without waiting).
            if s.events.len() >= EVENT_QUEUE && !self.cancel.is_cancelled() {
                drop(s);
                self.wait_for_room();
                continue;
            }
            s.events.push_back(std::mem::take(&mut json));
            s.version += 1;
            break;
        }
        self.changed.notify_all();
        self.schedule_wake();
    }

    fn finish(self: &Arc<Self>, result: Result<String, PyErrData>) {
        let mut s = self.lock();
        s.result = Some(result);
        s.version += 1;
        drop(s);
        self.changed.notify_all();
        self.schedule_wake();
    }

    /// Backpressure: wait until the reader made room, the run is cancelled or the handle is
    /// gone. On a runtime worker the wait is announced (`block_in_place`), so the runtime's
    /// other tasks go on.
    fn wait_for_room(&self) {
        let wait = || {
            let mut s = self.lock();
            while s.events.len() >= EVENT_QUEUE
                && !self.cancel.is_cancelled()
                && !self.abandoned.load(Ordering::Acquire)
            {
                s = self
                    .changed
                    .wait_timeout(s, Duration::from_millis(100))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    /// Queue a call of the waker, unless one is queued already (it will see this change:
    /// the flag is cleared before the call starts).
    fn schedule_wake(self: &Arc<Self>) {
        let queue = match &*self.waker.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((_, queue)) => queue.clone(),
            None => return,
        };
        if !self.wake_queued.swap(true, Ordering::AcqRel) {
            let _ = queue.send(self.clone());
        }
    }

    /// On the waker thread: call the waker; after the run's end, the last call, and the
    /// waker is let go.
    fn wake(&self) {
        self.wake_queued.store(false, Ordering::Release);
        let done = self.lock().result.is_some();
        // Taken out of the lock before the GIL is.
        let waker = {
            let mut slot = self.waker.lock().unwrap_or_else(|p| p.into_inner());
            if done {
                slot.take().map(|(w, _)| w)
            } else {
                slot.as_ref().map(|(w, _)| w.clone())
            }
        };
        if let Some(waker) = waker {
            Python::attach(|py| {
                // A closed event loop cannot be woken; nobody is waiting then.
                let _ = waker.call0(py);
                drop(waker);
            });
        }
    }

    /// Wait until there is an undrained event or the run ended, at most `timeout`.
    fn wait_ready(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut s = self.lock();
        loop {
            if !s.events.is_empty() || s.result.is_some() {
                return true;
            }
            match deadline {
                None => s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    s = self
                        .changed
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}

/// One run in progress (or finished).
#[pyclass(module = "sre_harness._native", frozen)]
pub struct RunHandle {
    shared: Arc<Shared>,
    session_id: String,
}

impl Drop for RunHandle {
    /// Nobody reads the events any more: a run waiting for room goes on without them.
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Ordering::Release);
        self.shared.changed.notify_all();
    }
}

#[pymethods]
impl RunHandle {
    /// The session id of the run.
    #[getter]
    fn session_id(&self) -> String {
        self.session_id.clone()
    }

    /// Ask the run to stop (its session's cancellation token); it ends with `Cancelled`.
    fn cancel(&self) {
        self.shared.cancel.cancel();
    }

    /// Whether `cancel` was called.
    fn cancelled(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Block (GIL released) until an event is waiting or the run ended, at most `timeout`
    /// seconds (`None`: no limit). Returns whether something is ready.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = match timeout {
            None => None,
            Some(s) if s.is_nan() || s <= 0.0 => Some(Duration::ZERO),
            Some(s) => Some(Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)),
        };
        let shared = self.shared.clone();
        Ok(py.detach(move || shared.wait_ready(timeout)))
    }

    /// How many events wait to be taken (for tests).
    fn _queued(&self) -> usize {
        self.shared.lock().events.len()
    }

    /// Take the events queued so far (JSON texts, in order).
    fn drain_events(&self) -> Vec<String> {
        let taken = self.shared.lock().events.drain(..).collect();
        // A run waiting for room goes on.
        self.shared.changed.notify_all();
        taken
    }

    /// Whether the run ended.
    fn done(&self) -> bool {
        self.shared.lock().result.is_some()
    }

    /// The outcome JSON; raises the run's error; raises `SreHarnessError` while running.
    fn result(&self) -> PyResult<String> {
        match &self.shared.lock().result {
            None => Err(SreHarnessError::new_err("the run has not finished")),
            Some(Ok(json)) => Ok(json.clone()),
            Some(Err(e)) => Err(e.to_pyerr()),
        }
    }
}
