//! Python function tools: a tool defined by Python source with an entry function (the
//! vendor portal's `def main(domain, port="443")`), run in a persistent, sandboxed worker.
//!
//! - **Workers.** A tool starts a `python3` worker on its first call and reuses it for
//!   later calls, in every session, until a call fails in it; the code is loaded once per
//!   worker. Calls to one tool run
//!   concurrently on up to [`PythonToolConfig::max_workers`] workers (started on demand and
//!   kept); calls beyond that wait for a free worker. One worker runs one call at a time.
//! - **Confinement.** The same as `shell`: scrubbed environment, rlimits, Landlock write
//!   confinement to the writable mounts, cwd = the workspace root, its own process group,
//!   killed on timeout, cancellation and drop. The interpreter runs with `-I` (no
//!   `PYTHON*` variables, no user site, the workspace not on `sys.path`).
//! - **Failures.** An exception, a result that is not JSON, a timeout, a crash: each is a
//!   model-visible error, and the next call gets a fresh worker (a function that failed
//!   part-way may have left its module state half-changed).
//! - **Arguments** are converted to the declared types ([`args::convert`]).
//! - **Dependencies** are installed once per (interpreter, dependency list) into a cached
//!   virtual environment ([`env::prepare_env`]).

pub mod args;
pub mod env;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::sandbox::Confinement;

pub use args::{ParamSpec, ParamType, UnknownParamType};
pub use env::{PythonEnv, prepare_env};
use worker::{CallOutcome, Pool, StartError, Worker, WorkerSetup};

/// A Python function tool as declared (e.g. in a `PythonTool` YAML).
#[derive(Clone, Debug, PartialEq)]
pub struct PythonFunctionSpec {
    /// Tool name (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The function's keyword parameters.
    pub parameters: Vec<ParamSpec>,
    /// Python source defining `entrypoint` (run once per worker).
    pub code: String,
    /// The function called with the arguments (default `main`).
    pub entrypoint: String,
    /// Longest a call may run; then the worker's process group is killed.
    pub timeout: Duration,
    /// pip requirement specifiers installed into a cached virtual environment.
    pub dependencies: Vec<String>,
    /// What the tool does to the world; `None`: MCP's worst case (may do anything).
    pub annotations: Option<ToolAnnotations>,
}

impl PythonFunctionSpec {
    /// A spec with no parameters, entry point `main`, a 120 s timeout, no dependencies.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        code: impl Into<String>,
    ) -> Self {
        PythonFunctionSpec {
            name: name.into(),
            description: description.into(),
            parameters: Vec::new(),
            code: code.into(),
            entrypoint: "main".into(),
            timeout: Duration::from_secs(120),
            dependencies: Vec::new(),
            annotations: None,
        }
    }

    /// Add a parameter.
    pub fn param(mut self, param: ParamSpec) -> Self {
        self.parameters.push(param);
        self
    }

    /// Set the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Set the dependencies.
    pub fn dependencies<S: Into<String>>(mut self, deps: impl IntoIterator<Item = S>) -> Self {
        self.dependencies = deps.into_iter().map(Into::into).collect();
        self
    }

    /// Set the annotations.
    pub fn annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }

    /// The JSON schema of the tool's input.
    pub fn input_schema(&self) -> Value {
        let mut props = serde_json::Map::new();
        for p in &self.parameters {
            let mut prop = json!({"type": p.ty.json_type()});
            if !p.description.is_empty() {
                prop["description"] = json!(p.description);
            }
            if let Some(d) = &p.default {
                prop["default"] = d.clone();
            }
            props.insert(p.name.clone(), prop);
        }
        let required: Vec<&str> = self
            .parameters
            .iter()
            .filter(|p| p.required && p.default.is_none())
            .map(|p| p.name.as_str())
            .collect();
        json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// Check the spec and convert the defaults to their declared types.
    fn validated(mut self) -> Result<Self> {
        let fail = |message: String| Error::PythonSpec {
            tool: self.name.clone(),
            message,
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(fail(
                "the name must be 1-64 characters of letters, digits, `_` and `-`".into(),
            ));
        }
        if self.code.trim().is_empty() {
            return Err(fail("the code is empty".into()));
        }
        if !is_identifier(&self.entrypoint) {
            return Err(fail(format!(
                "entrypoint `{}` is not a Python identifier",
                self.entrypoint
            )));
        }
        if self.timeout.is_zero() {
            return Err(fail("the timeout must be above zero".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &mut self.parameters {
            if !is_identifier(&p.name) {
                return Err(Error::PythonSpec {
                    tool: self.name.clone(),
                    message: format!("parameter `{}` is not a Python identifier", p.name),
                });
            }
            if !seen.insert(p.name.clone()) {
                return Err(Error::PythonSpec {
                    tool: self.name.clone(),
                    message: format!("parameter `{}` is declared twice", p.name),
                });
            }
            if let Some(d) = p.default.as_ref().filter(|d| !d.is_null()) {
                let converted = args::convert(p.ty, d).map_err(|e| Error::PythonSpec {
                    tool: self.name.clone(),
                    message: format!("the default of parameter `{}`: {e}", p.name),
                })?;
                p.default = Some(converted);
            } else {
                p.default = None;
            }
        }
        for d in &self.dependencies {
            let t = d.trim();
            if t.is_empty() || t.starts_with('-') || t.contains(['\n', '\r', '\0']) {
                return Err(fail(format!(
                    "dependency `{d}` is not a pip requirement (e.g. `requests==2.32.3`; \
                     options such as `--index-url` are refused)"
                )));
            }
        }
        Ok(self)
    }
}

fn is_identifier(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && !KEYWORDS.contains(&s)
}

/// How Python tools run (shared by every tool of a host).
#[derive(Clone, Debug)]
pub struct PythonToolConfig {
    /// The interpreter that runs workers and creates environments (default `python3`).
    pub interpreter: String,
    /// Workers per tool, i.e. calls of one tool running at once (default 4).
    pub max_workers: usize,
    /// Longest the code may take to load in a new worker (default 60 s).
    pub start_timeout: Duration,
    /// Longest a dependency install may take (default 10 min).
    pub install_timeout: Duration,
    /// Largest result, as JSON bytes (default 1 MiB).
    pub max_result_bytes: usize,
    /// Characters of printed output kept per call, shown with an error (default 4000).
    pub max_output_chars: usize,
}

impl Default for PythonToolConfig {
    fn default() -> Self {
        PythonToolConfig {
            interpreter: "python3".into(),
            max_workers: 4,
            start_timeout: Duration::from_secs(60),
            install_timeout: Duration::from_secs(600),
            max_result_bytes: 1 << 20,
            max_output_chars: 4000,
        }
    }
}

/// A [`PythonFunctionSpec`] as a [`Tool`]. Cheap to clone (clones share the workers).
#[derive(Clone, Debug)]
pub struct PythonFunctionTool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: PythonFunctionSpec,
    tool_spec: ToolSpec,
    exec: Executor,
    cache_dir: PathBuf,
    config: PythonToolConfig,
    init: Vec<u8>,
    pool: Pool,
    env: tokio::sync::OnceCell<PythonEnv>,
}

impl PythonFunctionTool {
    /// The tool for `spec`, confined by `exec` (its workspace, limits and Landlock
    /// settings), with dependency environments under `cache_dir/python-envs`. Nothing starts
    /// until the first call (or [`PythonFunctionTool::warm_up`]).
    pub fn new(
        spec: PythonFunctionSpec,
        exec: Executor,
        cache_dir: impl Into<PathBuf>,
    ) -> Result<Self> {
        Self::with_config(spec, exec, cache_dir, PythonToolConfig::default())
    }

    /// [`PythonFunctionTool::new`] with a configuration.
    pub fn with_config(
        spec: PythonFunctionSpec,
        exec: Executor,
        cache_dir: impl Into<PathBuf>,
        config: PythonToolConfig,
    ) -> Result<Self> {
        let spec = spec.validated()?;
        let tool_spec = ToolSpec {
            name: spec.name.clone(),
            description: spec.description.clone(),
            input_schema: spec.input_schema(),
        };
        let params: Vec<&str> = spec.parameters.iter().map(|p| p.name.as_str()).collect();
        let mut init = serde_json::to_vec(&json!({
            "name": spec.name,
            "code": spec.code,
            "entrypoint": spec.entrypoint,
            "params": params,
            "max_result_bytes": config.max_result_bytes,
            "max_output_chars": config.max_output_chars,
        }))
        .map_err(|e| Error::PythonSpec {
            tool: spec.name.clone(),
            message: e.to_string(),
        })?;
        init.push(b'\n');
        Ok(PythonFunctionTool {
            inner: Arc::new(Inner {
                pool: Pool::new(config.max_workers),
                spec,
                tool_spec,
                exec,
                cache_dir: cache_dir.into(),
                config,
                init,
                env: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The spec (defaults converted).
    pub fn python_spec(&self) -> &PythonFunctionSpec {
        &self.inner.spec
    }

    /// The confinement workers get.
    pub fn confinement(&self) -> Confinement {
        self.inner.exec.confinement()
    }

    /// Process ids of the idle workers (each leads its own process group).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner.pool.idle_pids()
    }

    /// Stop the idle workers (the next call starts a fresh one). Dropping the last clone of
    /// the tool does the same.
    pub fn stop_workers(&self) {
        self.inner.pool.clear();
    }

    /// The dependency environment (installed now if needed); `None` without dependencies.
    pub async fn environment(&self, cancel: &CancellationToken) -> Result<Option<PythonEnv>> {
        let inner = &self.inner;
        if inner.spec.dependencies.is_empty() {
            return Ok(None);
        }
        let env = inner
            .env
            .get_or_try_init(|| {
                prepare_env(
                    &inner.exec,
                    &inner.config.interpreter,
                    &inner.spec.dependencies,
                    &inner.cache_dir,
                    inner.config.install_timeout,
                    cancel,
                )
            })
            .await?;
        Ok(Some(env.clone()))
    }

    /// Install the dependencies and start one worker now (e.g. when the host starts), so
    /// the first call does not wait for them. A code that fails to load is reported here.
    pub async fn warm_up(&self, cancel: &CancellationToken) -> std::result::Result<(), ToolError> {
        let _permit = self.permit(cancel).await?;
        let worker = self.start_worker(cancel).await?;
        self.inner.pool.put(worker);
        Ok(())
    }

    async fn permit(
        &self,
        cancel: &CancellationToken,
    ) -> std::result::Result<tokio::sync::SemaphorePermit<'_>, ToolError> {
        tokio::select! {
            p = self.inner.pool.permits.acquire() => {
                p.map_err(|_| ToolError::Fatal("the Python worker pool is closed".into()))
            }
            _ = cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }

    async fn start_worker(
        &self,
        cancel: &CancellationToken,
    ) -> std::result::Result<Worker, ToolError> {
        let inner = &self.inner;
        let python = match self.environment(cancel).await {
            Ok(Some(env)) => env.python.display().to_string(),
            Ok(None) => inner.config.interpreter.clone(),
            Err(Error::Cancelled) => return Err(ToolError::Cancelled),
            Err(e) => {
                if cancel.is_cancelled() {
                    return Err(ToolError::Cancelled);
                }
                return Err(ToolError::Invalid(format!(
                    "Python tool `{}`: {e}",
                    inner.spec.name
                )));
            }
        };
        let setup = WorkerSetup {
            exec: inner.exec.clone(),
            python,
            init: inner.init.clone(),
            start_timeout: inner.config.start_timeout,
            max_line: inner.config.max_result_bytes,
        };
        match Worker::start(&setup, cancel).await {
            Ok(w) => Ok(w),
            Err(StartError::Cancelled) => Err(ToolError::Cancelled),
            Err(StartError::Failed(m)) => Err(ToolError::Invalid(format!(
                "Python tool `{}`: the worker could not start: {m}",
                inner.spec.name
            ))),
            Err(StartError::Load {
                error,
                traceback,
                output,
            }) => Err(ToolError::Invalid(render_failure(
                &format!(
                    "the code of Python tool `{}` failed to load",
                    inner.spec.name
                ),
                &error,
                &traceback,
                &output,
            ))),
        }
    }

    /// An idle live worker, or a new one.
    async fn worker(&self, cancel: &CancellationToken) -> std::result::Result<Worker, ToolError> {
        while let Some(mut w) = self.inner.pool.take() {
            if w.alive() {
                return Ok(w);
            }
        }
        self.start_worker(cancel).await
    }

    /// Whether a worker should be replaced: it used over half of its CPU-seconds limit
    /// (`RLIMIT_CPU` counts over the whole life of the process).
    fn worn_out(&self, w: &Worker) -> bool {
        self.inner
            .exec
            .config()
            .limits
            .cpu_seconds
            .is_some_and(|limit| w.cpu_seconds * 2.0 > limit as f64)
    }
}

fn render_failure(head: &str, error: &str, traceback: &str, output: &str) -> String {
    let mut text = format!("{head}: {error}");
    if !traceback.trim().is_empty() {
        text.push_str("\n\n");
        text.push_str(traceback.trim_end());
    }
    if !output.trim().is_empty() {
        text.push_str("\n\n[printed before the error]\n");
        text.push_str(output.trim_end());
    }
    text
}

#[async_trait]
impl Tool for PythonFunctionTool {
    fn spec(&self) -> &ToolSpec {
        &self.inner.tool_spec
    }

    fn annotations(&self) -> ToolAnnotations {
        self.inner.spec.annotations.unwrap_or_default()
    }

    /// The tool's own timeout (up to an hour), with room to start a worker and install
    /// its dependencies first.
    fn deadline(&self) -> Option<std::time::Duration> {
        Some(self.inner.spec.timeout + std::time::Duration::from_secs(600))
    }

    async fn call(
        &self,
        input: Value,
        ctx: &ToolContext,
    ) -> std::result::Result<ToolOutput, ToolError> {
        let inner = &self.inner;
        let name = &inner.spec.name;
        let args = args::arguments(&inner.spec.parameters, &input)
            .map_err(|e| ToolError::Invalid(format!("{name}: {e}")))?;
        let cancel = &ctx.cancel;
        let _permit = self.permit(cancel).await?;
        // One retry, only when the request never reached the worker (it died while idle).
        let mut retried = false;
        loop {
            let mut worker = self.worker(cancel).await?;
            match worker.call(&args, inner.spec.timeout, cancel).await {
                CallOutcome::Returned(value) => {
                    if !self.worn_out(&worker) {
                        inner.pool.put(worker);
                    }
                    let text = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    return Ok(ToolOutput::ok(text));
                }
                CallOutcome::Failed {
                    kind,
                    error,
                    traceback,
                    output,
                } => {
                    // The function failed part-way: its module state (globals, threads,
                    // open files) may be half-changed. The next call gets a fresh worker.
                    drop(worker);
                    let head = if kind == "exception" {
                        format!("{name} raised")
                    } else {
                        format!("{name} returned an unusable result")
                    };
                    return Ok(ToolOutput::error(render_failure(
                        &head, &error, &traceback, &output,
                    )));
                }
                CallOutcome::TimedOut => {
                    return Ok(ToolOutput::error(format!(
                        "{name} timed out after {}s; its worker (and every process it started) \
                         was killed; the next call starts a fresh worker",
                        inner.spec.timeout.as_secs_f64()
                    )));
                }
                CallOutcome::Cancelled => return Err(ToolError::Cancelled),
                CallOutcome::Died(why) => {
                    let (why, stderr) = why.split_once('\n').unwrap_or((&why, ""));
                    let sep = if stderr.is_empty() { "" } else { "\n" };
                    return Ok(ToolOutput::error(format!(
                        "the Python worker of {name} died during the call ({why}); the next \
                         call starts a fresh worker{sep}{stderr}"
                    )));
                }
                CallOutcome::NotDelivered(why) => {
                    drop(worker);
                    if retried {
                        return Ok(ToolOutput::error(format!(
                            "the Python worker of {name} could not take the call: {why}"
                        )));
                    }
                    retried = true;
                }
            }
        }
    }
}
