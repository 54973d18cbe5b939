//! One executor for every tool that runs a process (`shell`, `python`, the git tools):
//! scrubbed environment, timeout, bounded head/tail capture read incrementally, resource
//! limits, Landlock write confinement, and a process-group kill on timeout, cancellation,
//! completion and drop (so background grandchildren do not outlive the call).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sre_core::process::GroupGuard;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::sandbox::{self, Confinement, ResourceLimits};
use crate::workspace::Workspace;

/// Environment variables passed through from the host when set.
pub const DEFAULT_PASS_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Configuration of the [`Executor`].
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// Timeout when a call gives none.
    pub default_timeout: Duration,
    /// Largest timeout a call may ask for.
    pub max_timeout: Duration,
    /// Bytes kept from the start of each stream.
    pub head_bytes: usize,
    /// Bytes kept from the end of each stream.
    pub tail_bytes: usize,
    /// `setrlimit` limits for every child.
    pub limits: ResourceLimits,
    /// Run children in namespaces through bubblewrap when the host allows it (default;
    /// see [`crate::namespace`]); otherwise Landlock applies.
    pub namespaces: crate::namespace::NamespaceConfig,
    /// Confine writes with Landlock when the kernel supports it and namespaces are not in
    /// force (default true).
    pub landlock: bool,
    /// Refuse to run when Landlock was asked for but is unavailable (default false).
    pub require_landlock: bool,
    /// Host variables passed through when set.
    pub pass_env: Vec<String>,
    /// Variables set for every child (after the pass-through ones).
    pub set_env: Vec<(String, String)>,
    /// Extra host directories the children may write (besides the writable mounts).
    pub extra_writable: Vec<PathBuf>,
    /// How long to keep reading output after the process group is gone (escaped daemons
    /// holding the pipes).
    pub drain_grace: Duration,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            default_timeout: Duration::from_secs(120),
            max_timeout: Duration::from_secs(1800),
            head_bytes: 16 * 1024,
            tail_bytes: 16 * 1024,
            limits: ResourceLimits::default(),
            namespaces: crate::namespace::NamespaceConfig::default(),
            landlock: true,
            require_landlock: false,
            pass_env: DEFAULT_PASS_ENV.iter().map(|s| s.to_string()).collect(),
            set_env: Vec::new(),
            extra_writable: Vec::new(),
            drain_grace: Duration::from_millis(500),
        }
    }
}

/// A process to run.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    /// Program (looked up in `PATH`).
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Working directory (a resolved host path inside the workspace).
    pub cwd: PathBuf,
    /// Bytes written to stdin (stdin is `/dev/null` when `None`).
    pub stdin: Option<Vec<u8>>,
    /// Timeout (clamped to the configured maximum).
    pub timeout: Option<Duration>,
    /// Extra environment for this call.
    pub env: Vec<(String, String)>,
}

impl ExecRequest {
    /// Run `program args...` in `cwd`.
    pub fn new(program: impl Into<String>, args: Vec<String>, cwd: PathBuf) -> Self {
        ExecRequest {
            program: program.into(),
            args,
            cwd,
            stdin: None,
            timeout: None,
            env: Vec::new(),
        }
    }
}

/// A stream captured with bounded memory: the first `head` bytes, the last `tail` bytes and
/// the total count.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Captured {
    /// An empty capture keeping at most `head_cap + tail_cap` bytes.
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        Captured {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap,
            tail_cap,
            total: 0,
        }
    }

    /// Append a chunk.
    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if self.head.len() < self.head_cap {
            let n = (self.head_cap - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
        }
        if self.tail_cap == 0 || chunk.is_empty() {
            return;
        }
        if chunk.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&chunk[chunk.len() - self.tail_cap..]);
        } else {
            let overflow = (self.tail.len() + chunk.len()).saturating_sub(self.tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(chunk);
        }
    }

    /// Total bytes seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes held in memory (never more than head + tail caps).
    pub fn retained(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.total > self.retained() as u64
    }

    /// The captured text (lossy UTF-8) with a marker where bytes were dropped.
    pub fn render(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        if !self.truncated() {
            let tail: Vec<u8> = self.tail.iter().copied().collect();
            return format!("{head}{}", String::from_utf8_lossy(&tail));
        }
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let omitted = self.total - self.retained() as u64;
        format!(
            "{head}\n[... {omitted} bytes omitted; {} bytes total ...]\n{}",
            self.total,
            String::from_utf8_lossy(&tail)
        )
    }
}

/// How the process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Exited with a code.
    Code(i32),
    /// Killed by a signal.
    Signal(i32),
    /// Killed after the timeout.
    TimedOut(Duration),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct ExecOutcome {
    /// How it ended.
    pub exit: ExitKind,
    /// Captured stdout.
    pub stdout: Captured,
    /// Captured stderr.
    pub stderr: Captured,
    /// Wall time.
    pub duration: Duration,
    /// Confinement that applied.
    pub confinement: Confinement,
    /// Set when the command left the writable mounts over the workspace quota.
    pub quota_note: Option<String>,
}

impl ExecOutcome {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.exit == ExitKind::Code(0)
    }

    /// Header line, stdout, then stderr (if any), for the model.
    pub fn render(&self) -> String {
        let status = match &self.exit {
            ExitKind::Code(c) => format!("exit code {c}"),
            ExitKind::Signal(s) => format!("killed by signal {s}"),
            ExitKind::TimedOut(t) => {
                format!("timed out after {}s; process group killed", t.as_secs_f64())
            }
        };
        let mut out = format!(
            "[{status} | {:.2}s | sandbox: {}]\n",
            self.duration.as_secs_f64(),
            self.confinement.label()
        );
        let so = self.stdout.render();
        out.push_str(&so);
        if !so.is_empty() && !so.ends_with('\n') {
            out.push('\n');
        }
        if self.stderr.total() > 0 {
            out.push_str("[stderr]\n");
            out.push_str(&self.stderr.render());
        }
        if let Some(note) = &self.quota_note {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("[{note}]\n"));
        }
        if self.stdout.truncated() || self.stderr.truncated() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(
                "[output truncated to its head and tail; to see all of it, redirect it to a file in a \
                 writable mount (e.g. `cmd > scratch/out.txt 2>&1`) and grep or read_file that file]\n",
            );
        }
        out
    }
}

/// What [`Executor::command`] builds.
pub(crate) struct CommandSpec<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a Path,
    /// Extra environment (after the configured `set_env`).
    pub env: &'a [(String, String)],
    /// Writable directories; `None`: the writable mounts and `extra_writable`.
    pub writable: Option<Vec<PathBuf>>,
    /// `HOME` and `TMPDIR` (created); `None`: [`Executor::tmp_dir`].
    pub home: Option<PathBuf>,
    /// A lower cap on the size of any file the command writes (what the quota leaves).
    pub file_size: Option<u64>,
    /// Folders the command reads even where they are hidden (a Python environment).
    pub readable: Vec<PathBuf>,
}

/// A confined command ready to spawn. `ruleset` must stay alive until `spawn` returns.
pub(crate) struct PreparedCommand {
    pub cmd: tokio::process::Command,
    pub ruleset: Option<sandbox::Ruleset>,
    pub confinement: Confinement,
}

/// Runs processes in a [`Workspace`] under the configured controls. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Executor {
    ws: Workspace,
    config: Arc<ExecConfig>,
}

impl Executor {
    /// An executor for `ws`.
    pub fn new(ws: Workspace, config: ExecConfig) -> Self {
        Executor {
            ws,
            config: Arc::new(config),
        }
    }

    /// The same executor keeping `head` + `tail` bytes of each stream.
    pub fn with_capture(&self, head: usize, tail: usize) -> Executor {
        let mut config = (*self.config).clone();
        config.head_bytes = head;
        config.tail_bytes = tail;
        Executor {
            ws: self.ws.clone(),
            config: Arc::new(config),
        }
    }

    /// The same executor with another network policy for namespaced commands.
    pub fn with_network(&self, network: crate::namespace::Network) -> Executor {
        if self.config.namespaces.network == network {
            return self.clone();
        }
        let mut config = (*self.config).clone();
        config.namespaces.network = network;
        Executor {
            ws: self.ws.clone(),
            config: Arc::new(config),
        }
    }

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// The configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// The confinement children get (probes the kernel; does not spawn).
    pub fn confinement(&self) -> Confinement {
        match self.prepare(&self.default_writable()) {
            Ok((_, c)) => c,
            Err(e) => Confinement::Unconfined { reason: e },
        }
    }

    /// Private temp dir (`TMPDIR`, `HOME`) inside the first writable mount, if any.
    pub fn tmp_dir(&self) -> Option<PathBuf> {
        self.ws
            .writable_mounts()
            .next()
            .map(|m| m.host.join(".tmp"))
    }

    /// The writable mounts plus the configured extra directories.
    fn default_writable(&self) -> Vec<PathBuf> {
        let mut writable: Vec<PathBuf> =
            self.ws.writable_mounts().map(|m| m.host.clone()).collect();
        writable.extend(self.config.extra_writable.iter().cloned());
        writable
    }

    fn prepare(
        &self,
        writable: &[PathBuf],
    ) -> std::result::Result<(Option<sandbox::Ruleset>, Confinement), String> {
        let ns = &self.config.namespaces;
        let no_namespaces = if !ns.enabled {
            "disabled by configuration".to_string()
        } else {
            match crate::namespace::available(&ns.bwrap) {
                Ok(()) => {
                    let network = ns.network;
                    return Ok((None, Confinement::Namespaces { network }));
                }
                Err(why) => why,
            }
        };
        if !self.config.landlock {
            return Ok((
                None,
                Confinement::Unconfined {
                    reason: "disabled by configuration".into(),
                },
            ));
        }
        let Some(abi) = sandbox::landlock_abi() else {
            return Ok((
                None,
                Confinement::Unconfined {
                    reason: "the kernel does not offer Landlock".into(),
                },
            ));
        };
        let devices: Vec<PathBuf> = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"]
            .iter()
            .map(PathBuf::from)
            .collect();
        match sandbox::prepare_ruleset(writable, &devices)? {
            Some(rs) => Ok((Some(rs), Confinement::Landlock { abi, no_namespaces })),
            None => Ok((
                None,
                Confinement::Unconfined {
                    reason: "landlock support not compiled in".into(),
                },
            )),
        }
    }

    /// A confined command, ready to spawn: scrubbed environment, `HOME`/`TMPDIR`, resource
    /// limits, its own process group and (when available) the Landlock ruleset. Stdio and
    /// `kill_on_drop` are the caller's. Shared by [`Executor::run`] (run to completion) and
    /// the Python tool's persistent workers.
    pub(crate) async fn command(&self, spec: CommandSpec<'_>) -> Result<PreparedCommand> {
        let spawn_err = |e: String| Error::Spawn {
            program: spec.program.to_string(),
            source: std::io::Error::other(e),
        };
        let writable = spec.writable.unwrap_or_else(|| self.default_writable());
        let (ruleset, confinement) = self.prepare(&writable).map_err(spawn_err)?;
        if self.config.require_landlock && !confinement.is_active() {
            return Err(spawn_err(format!(
                "Landlock is required but unavailable: {confinement}"
            )));
        }
        let mut cmd = match &confinement {
            Confinement::Namespaces { network } => {
                let mut cmd = tokio::process::Command::new(&self.config.namespaces.bwrap);
                let args = crate::namespace::wrap(
                    &self.config.namespaces,
                    *network,
                    self.ws.root(),
                    &writable,
                    &spec.readable,
                    spec.cwd,
                    spec.program,
                    spec.args,
                )
                .map_err(spawn_err)?;
                cmd.args(args);
                cmd
            }
            _ => {
                let mut cmd = tokio::process::Command::new(spec.program);
                cmd.args(spec.args);
                cmd
            }
        };
        cmd.current_dir(spec.cwd).env_clear();
        for key in &self.config.pass_env {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        if std::env::var_os("PYENV_ROOT").is_none()
            && let Some(home) = std::env::var_os("HOME")
        {
            let pyenv = PathBuf::from(home).join(".pyenv");
            if tokio::fs::metadata(&pyenv).await.is_ok_and(|m| m.is_dir()) {
                cmd.env("PYENV_ROOT", pyenv);
            }
        }
        let home = match spec.home.or_else(|| self.tmp_dir()) {
            Some(tmp) => {
                tokio::fs::create_dir_all(&tmp)
                    .await
                    .map_err(|e| Error::io("creating", tmp.display().to_string(), e))?;
                cmd.env("TMPDIR", &tmp);
                tmp
            }
            None => self.ws.root().to_path_buf(),
        };
        cmd.env("HOME", &home)
            .env("TERM", "dumb")
            .env("PAGER", "cat")
            .env("GIT_PAGER", "cat")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .env("WORKSPACE", self.ws.root());
        if std::env::var_os("LANG").is_none() {
            cmd.env("LANG", "C.UTF-8");
        }
        for (k, v) in self.config.set_env.iter().chain(spec.env.iter()) {
            cmd.env(k, v);
        }
        let mut limits = self.config.limits;
        if let Some(cap) = spec.file_size {
            limits.file_size_bytes = Some(limits.file_size_bytes.map_or(cap, |l| l.min(cap)));
        }
        // Its own session, so no controlling terminal to type into (TIOCSTI): bwrap makes
        // one inside (`--new-session`); otherwise the child calls setsid itself.
        let new_session = !matches!(confinement, Confinement::Namespaces { .. });
        sandbox::configure_child(&mut cmd, &limits, ruleset.as_ref(), new_session);
        Ok(PreparedCommand {
            cmd,
            ruleset,
            confinement,
        })
    }

    /// Run `req`. Returns `Err(Error::Cancelled)` if `cancel` fires; a timeout is an
    /// [`ExitKind::TimedOut`] outcome.
    pub async fn run(&self, req: ExecRequest, cancel: &CancellationToken) -> Result<ExecOutcome> {
        self.run_with(req, None, None, cancel).await
    }

    /// [`Executor::run`] with other writable directories and `HOME`/`TMPDIR` (see
    /// [`CommandSpec`]).
    pub(crate) async fn run_with(
        &self,
        req: ExecRequest,
        writable: Option<Vec<PathBuf>>,
        home: Option<PathBuf>,
        cancel: &CancellationToken,
    ) -> Result<ExecOutcome> {
        let timeout = req
            .timeout
            .unwrap_or(self.config.default_timeout)
            .min(self.config.max_timeout);
        // No file beyond what the quota leaves (at the quota: none may grow, `rm` still
        // works). Only for commands in the workspace's own mounts: a dependency install
        // into the Python tool cache (other writable directories) is outside the quota.
        let quota = self.ws.quota().filter(|_| writable.is_none());
        let file_size = match quota {
            Some(q) => {
                let ws = self.ws.clone();
                let used =
                    crate::files::off_runtime(move || Ok(crate::quota::usage_up_to(&ws, Some(q))))
                        .await?;
                Some(q.bytes.saturating_sub(used.bytes))
            }
            None => None,
        };
        let PreparedCommand {
            mut cmd,
            ruleset,
            confinement,
        } = self
            .command(CommandSpec {
                program: &req.program,
                args: &req.args,
                cwd: &req.cwd,
                env: &req.env,
                writable,
                home,
                file_size,
                readable: Vec::new(),
            })
            .await?;
        cmd.stdin(if req.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            program: req.program.clone(),
            source,
        })?;
        drop(ruleset);
        let Some(pid) = child.id() else {
            return Err(Error::Spawn {
                program: req.program,
                source: std::io::Error::other("no pid"),
            });
        };
        // Kills the whole group if this future is dropped mid-command.
        let mut guard = GroupGuard::new(Some(pid));

        let out = Arc::new(Mutex::new(Captured::new(
            self.config.head_bytes,
            self.config.tail_bytes,
        )));
        let err = Arc::new(Mutex::new(Captured::new(
            self.config.head_bytes,
            self.config.tail_bytes,
        )));
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdin_task = match (child.stdin.take(), req.stdin) {
            (Some(mut sink), Some(bytes)) => Some(async move {
                let _ = sink.write_all(&bytes).await;
                drop(sink);
            }),
            _ => None,
        };
        let readers = futures::future::join3(
            read_into(stdout, out.clone()),
            read_into(stderr, err.clone()),
            async move {
                if let Some(t) = stdin_task {
                    t.await;
                }
            },
        );
        tokio::pin!(readers);

        let waiter = async {
            enum End {
                Exited(std::io::Result<std::process::ExitStatus>),
                TimedOut,
                Cancelled,
            }
            let end = tokio::select! {
                s = child.wait() => End::Exited(s),
                _ = tokio::time::sleep(timeout) => End::TimedOut,
                _ = cancel.cancelled() => End::Cancelled,
            };
            // Completion, timeout or cancellation: nothing of the group survives the call.
            // Killed once: a second kill later could hit a reused pgid.
            guard.kill();
            match end {
                End::Exited(s) => s.map(Some),
                End::TimedOut => {
                    let _ = child.wait().await;
                    Ok(None)
                }
                End::Cancelled => {
                    let _ = child.wait().await;
                    Err(std::io::Error::from(std::io::ErrorKind::Interrupted))
                }
            }
        };
        tokio::pin!(waiter);

        let mut readers_done = false;
        let status = loop {
            tokio::select! {
                s = &mut waiter => break s,
                _ = &mut readers, if !readers_done => readers_done = true,
            }
        };
        if !readers_done {
            let _ = tokio::time::timeout(self.config.drain_grace, &mut readers).await;
        }
        let duration = start.elapsed();
        let exit = match status {
            Ok(Some(s)) => {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (Some(c), _) => ExitKind::Code(c),
                    (None, Some(sig)) => ExitKind::Signal(sig),
                    (None, None) => ExitKind::Code(-1),
                }
            }
            Ok(None) => ExitKind::TimedOut(timeout),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(Error::Cancelled),
            Err(e) => {
                return Err(Error::Spawn {
                    program: req.program,
                    source: e,
                });
            }
        };
        let take = |c: &Arc<Mutex<Captured>>| c.lock().map(|g| g.clone()).unwrap_or_default();
        // Measured after the command: crossing the quota is said, and blocks the next writes.
        let quota_note = match quota {
            Some(q) => {
                let ws = self.ws.clone();
                let after = crate::files::off_runtime(move || Ok(crate::quota::usage(&ws))).await?;
                q.exceeded_by(after)
                    .then(|| q.exceeded(&format!("`{}`", req.program), after).to_string())
            }
            None => None,
        };
        Ok(ExecOutcome {
            exit,
            stdout: take(&out),
            stderr: take(&err),
            duration,
            confinement,
            quota_note,
        })
    }
}

async fn read_into<R: AsyncRead + Unpin>(reader: Option<R>, sink: Arc<Mutex<Captured>>) {
    let Some(mut reader) = reader else { return };
    let mut buf = vec![0u8; 64 * 1024];
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

/// The executor confines other crates' processes too (command hooks): the same namespaces
/// or Landlock, scrubbed environment and limits as the agent's own commands, writable
/// where they may write.
#[async_trait::async_trait]
impl sre_core::process::Confine for Executor {
    async fn confine(
        &self,
        program: &str,
        args: &[String],
        cwd: &Path,
    ) -> std::result::Result<sre_core::process::ConfinedCommand, String> {
        // A home of its own, outside everything the agent can write: a hook must not run
        // code the agent planted (`usercustomize.py`, a `.gitconfig`) in a shared one.
        let home = tempfile::Builder::new()
            .prefix("sre-confined-")
            .tempdir()
            .map_err(|e| format!("creating a private home: {e}"))?;
        let mut writable = self.default_writable();
        writable.push(home.path().to_path_buf());
        let prepared = self
            .command(CommandSpec {
                program,
                args,
                cwd,
                env: &[("PYTHONNOUSERSITE".to_string(), "1".to_string())],
                writable: Some(writable),
                home: Some(home.path().join("home")),
                file_size: None,
                readable: Vec::new(),
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(sre_core::process::ConfinedCommand {
            command: prepared.cmd,
            keep: Some(Box::new((prepared.ruleset, home))),
            label: prepared.confinement.label(),
        })
    }
}
