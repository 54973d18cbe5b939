//! The persistent Python worker: one `python3 -I -c <worker.py>` process, confined like the
//! `shell` tool's commands (built by [`Executor::command`]), leading its own process group,
//! speaking JSON lines on descriptors of its own (see `worker.py`).
//!
//! A [`Worker`] owns the process: dropping it kills the whole group ([`GroupGuard`]), so a
//! call whose future is dropped, times out or is cancelled never leaves a worker in an
//! unknown state behind. [`Pool`] keeps the idle workers of one tool.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use sre_core::process::GroupGuard;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_util::sync::CancellationToken;

use crate::exec::{Captured, CommandSpec, Executor, PreparedCommand};

/// The worker's Python source.
pub(crate) const WORKER_PY: &str = include_str!("worker.py");

/// Bytes of protocol overhead allowed on top of the result limit (captured output,
/// traceback, field names).
const LINE_SLACK: usize = 64 * 1024;

/// How to start a worker.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSetup {
    pub exec: Executor,
    pub python: String,
    /// The init message (one JSON line, newline included).
    pub init: Vec<u8>,
    pub start_timeout: Duration,
    pub max_line: usize,
}

/// Why a worker could not be started.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The tool's code raised while loading (syntax error, import error, no entry point).
    Load {
        error: String,
        traceback: String,
        output: String,
    },
    /// The process could not be started or did not become ready.
    Failed(String),
    Cancelled,
}

/// What a call gave.
#[derive(Debug)]
pub(crate) enum CallOutcome {
    /// The function returned this JSON value. The worker is reusable.
    Returned(Value),
    /// The function raised (`kind` = `exception`) or returned something that cannot be sent
    /// (`kind` = `result`). The worker is reusable.
    Failed {
        kind: String,
        error: String,
        traceback: String,
        output: String,
    },
    /// The call timed out; the worker's group was killed.
    TimedOut,
    /// The worker could not be given the request (it had died while idle). Safe to retry
    /// on a fresh worker: the code did not run.
    NotDelivered(String),
    /// The worker died (or broke the protocol) during the call; it is gone.
    Died(String),
    Cancelled,
}

#[derive(Deserialize)]
struct Ready {
    ready: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    traceback: String,
    #[serde(default)]
    output: String,
}

#[derive(Deserialize)]
struct Response {
    id: u64,
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    traceback: String,
    #[serde(default)]
    output: String,
    #[serde(default)]
    cpu: f64,
}

/// A running worker process.
pub(crate) struct Worker {
    child: Child,
    guard: GroupGuard,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Captured>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    pid: u32,
    next_id: u64,
    max_line: usize,
    /// CPU seconds the process has used (reported by the worker after each call).
    pub cpu_seconds: f64,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("pid", &self.pid).finish()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.guard.kill();
        if let Some(task) = self.stderr_task.take() {
            task.abort();
        }
    }
}

impl Worker {
    /// Start a worker and load the tool's code (bounded by `setup.start_timeout`).
    pub async fn start(
        setup: &WorkerSetup,
        cancel: &CancellationToken,
    ) -> Result<Worker, StartError> {
        let args = vec!["-I".to_string(), "-c".to_string(), WORKER_PY.to_string()];
        let root: PathBuf = setup.exec.workspace().root().to_path_buf();
        let PreparedCommand {
            mut cmd, ruleset, ..
        } = setup
            .exec
            .command(CommandSpec {
                program: &setup.python,
                args: &args,
                cwd: &root,
                env: &[],
                writable: None,
                home: None,
                file_size: None,
                readable: environment_folders(&setup.python),
            })
            .await
            .map_err(|e| StartError::Failed(e.to_string()))?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| StartError::Failed(format!("could not start `{}`: {e}", setup.python)))?;
        drop(ruleset);
        let pid = child.id().unwrap_or(0);
        let guard = GroupGuard::new(child.id());
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(StartError::Failed("the worker's pipes are missing".into()));
        };
        let captured = Arc::new(Mutex::new(Captured::new(0, 4096)));
        let sink = captured.clone();
        let stderr_task = tokio::spawn(drain(stderr, sink));
        let mut worker = Worker {
            child,
            guard,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: captured,
            stderr_task: Some(stderr_task),
            pid,
            next_id: 1,
            max_line: setup.max_line,
            cpu_seconds: 0.0,
        };
        let handshake = async {
            if let Err(e) = worker.send(&setup.init).await {
                return Err(StartError::Failed(worker.death(&e.to_string()).await));
            }
            match read_line(&mut worker.stdout, setup.max_line).await {
                Ok(Some(line)) => Ok(line),
                Ok(None) => Err(StartError::Failed(
                    worker.death("it exited while loading the code").await,
                )),
                Err(e) => Err(StartError::Failed(worker.death(&e.to_string()).await)),
            }
        };
        let line = tokio::select! {
            r = handshake => r?,
            _ = tokio::time::sleep(setup.start_timeout) => {
                return Err(StartError::Failed(format!(
                    "loading the code took longer than {}s (top-level code that blocks?); \
                     the worker was killed",
                    setup.start_timeout.as_secs_f64()
                )));
            }
            _ = cancel.cancelled() => return Err(StartError::Cancelled),
        };
        let ready: Ready = serde_json::from_slice(&line).map_err(|e| {
            StartError::Failed(format!("the worker sent an unreadable handshake: {e}"))
        })?;
        if !ready.ready {
            return Err(StartError::Load {
                error: ready.error,
                traceback: ready.traceback,
                output: ready.output,
            });
        }
        Ok(worker)
    }

    /// The worker's process id (its process group id too).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is still running (reaps it if not).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    async fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.stdin.write_all(line).await?;
        self.stdin.flush().await
    }

    /// Run one call with `args` (already converted), bounded by `timeout`.
    pub async fn call(
        &mut self,
        args: &Map<String, Value>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> CallOutcome {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = match serde_json::to_vec(&serde_json::json!({"id": id, "args": args})) {
            Ok(l) => l,
            Err(e) => return CallOutcome::NotDelivered(format!("encoding the request: {e}")),
        };
        line.push(b'\n');
        // The write is inside the timeout too: a worker that stops reading cannot block us.
        let (stdin, stdout, max) = (&mut self.stdin, &mut self.stdout, self.max_line);
        let exchange = async move {
            let sent = async {
                stdin.write_all(&line).await?;
                stdin.flush().await
            };
            match sent.await {
                Ok(()) => Ok(read_line(stdout, max).await),
                Err(e) => Err(e),
            }
        };
        let read = tokio::select! {
            r = exchange => r,
            _ = tokio::time::sleep(timeout) => {
                self.guard.kill();
                return CallOutcome::TimedOut;
            }
            _ = cancel.cancelled() => {
                self.guard.kill();
                return CallOutcome::Cancelled;
            }
        };
        let line = match read {
            Err(not_sent) => return CallOutcome::NotDelivered(not_sent.to_string()),
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return CallOutcome::Died(self.death("the process ended").await),
            Ok(Err(e)) => {
                self.guard.kill();
                return CallOutcome::Died(self.death(&e.to_string()).await);
            }
        };
        let resp: Response = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                self.guard.kill();
                return CallOutcome::Died(format!("the worker sent an unreadable response: {e}"));
            }
        };
        if resp.id != id {
            self.guard.kill();
            return CallOutcome::Died(format!(
                "the worker answered request {} while {id} was expected",
                resp.id
            ));
        }
        self.cpu_seconds = resp.cpu;
        if resp.ok {
            CallOutcome::Returned(resp.result)
        } else {
            CallOutcome::Failed {
                kind: resp.kind,
                error: resp.error,
                traceback: resp.traceback,
                output: resp.output,
            }
        }
    }

    /// Describe the worker's end: how it exited, then (on lines of their own) the tail of its
    /// stderr.
    async fn death(&mut self, what: &str) -> String {
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        let how = match status {
            Ok(Ok(s)) => {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (Some(c), _) => format!("exit code {c}"),
                    (_, Some(9)) => "killed by signal 9 (SIGKILL: killed, or out of memory)".into(),
                    (_, Some(24)) => "killed by signal 24 (SIGXCPU: CPU time limit)".into(),
                    (_, Some(sig)) => format!("killed by signal {sig}"),
                    _ => "unknown status".into(),
                }
            }
            _ => {
                self.guard.kill();
                "still running; killed".into()
            }
        };
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
        }
        let tail = self.stderr.lock().map(|c| c.render()).unwrap_or_default();
        let lines: Vec<&str> = tail.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        if tail.trim().is_empty() {
            format!("{what}: {how}")
        } else {
            format!("{what}: {how}\n[the worker's stderr ended with]\n{tail}")
        }
    }
}

/// Read one `\n`-terminated line of at most `max` bytes (`None` at end of stream).
async fn read_line(
    reader: &mut BufReader<ChildStdout>,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(None);
        }
        if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&chunk[..i]);
            reader.consume(i + 1);
            return Ok(Some(line));
        }
        let n = chunk.len();
        line.extend_from_slice(chunk);
        reader.consume(n);
        if line.len() > max + LINE_SLACK {
            return Err(std::io::Error::other(format!(
                "the worker sent a response over {} bytes",
                max + LINE_SLACK
            )));
        }
    }
}

async fn drain(mut reader: tokio::process::ChildStderr, sink: Arc<Mutex<Captured>>) {
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut c) = sink.lock() {
                    c.push(&buf[..n]);
                }
            }
        }
    }
}

/// The idle workers of one tool and the limit on how many run at once.
#[derive(Debug)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Worker>>,
    pub permits: tokio::sync::Semaphore,
}

impl Pool {
    pub fn new(max_workers: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(max_workers.max(1)),
        }
    }

    /// The most recently used idle worker, if any.
    pub fn take(&self) -> Option<Worker> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    /// Park a worker for the next call.
    pub fn put(&self, worker: Worker) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(worker);
        }
    }

    /// Process ids of the idle workers.
    pub fn idle_pids(&self) -> Vec<u32> {
        self.idle
            .lock()
            .map(|v| v.iter().map(Worker::pid).collect())
            .unwrap_or_default()
    }

    /// Stop every idle worker.
    pub fn clear(&self) {
        let workers = self
            .idle
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        drop(workers);
    }
}

/// The folders a worker's interpreter lives in, readable even where they are hidden (a
/// cache under `/tmp` or in a home): for `<env>/bin/python`, `<env>`, and the same for
/// the interpreter it links to (a venv's base Python). Empty for a bare name (`python3`).
fn environment_folders(python: &str) -> Vec<PathBuf> {
    let path = std::path::Path::new(python);
    if !path.is_absolute() {
        return Vec::new();
    }
    let prefix = |p: &std::path::Path| p.parent().and_then(|bin| bin.parent()).map(PathBuf::from);
    let mut folders: Vec<PathBuf> = prefix(path).into_iter().collect();
    if let Ok(real) = std::fs::canonicalize(path)
        && let Some(base) = prefix(&real)
        && !folders.contains(&base)
    {
        folders.push(base);
    }
    folders
}
