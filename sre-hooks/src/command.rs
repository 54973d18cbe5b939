//! Command hooks: an executable or shell command (or an inline script) run with the JSON
//! context on stdin, in the workspace, under a timeout, with capped output.
//!
//! The protocol is Claude Code's: exit 0 and stdout parsed as JSON if it starts with `{`
//! (else ignored, or additional context for `UserPromptSubmit`/`SessionStart`); exit 2
//! blocks with stderr as the reason; anything else (other exit codes, a signal, a timeout,
//! unparsable output, output over the cap) is a failure that the hook's [`FailMode`]
//! decides on.
//!
//! The environment is Claude Code's: `CLAUDE_PROJECT_DIR` (the workspace root: the input's
//! `cwd`, else [`BuildContext::cwd`], else the host's working directory) and, for hooks
//! loaded from a plugin folder, `CLAUDE_PLUGIN_ROOT`; plus `SRE_HOOK_NAME` and
//! `SRE_HOOK_EVENT`. The input's `transcript_path` is the session's JSONL file when the
//! session store keeps one (`JsonlSessionStore`) and `null` otherwise (the in-memory store
//! has no file): a hook must not assume it is a path.
//!
//! A hook given a [`Confine`] ([`CommandHook::confine`], or [`BuildContext::confine`]) runs
//! confined like the agent's own commands (with sre-tools' executor: namespaces or
//! Landlock, writes only in the workspace's writable mounts, the host's environment
//! scrubbed to a short allow-list, no other process visible); a confinement that cannot
//! be set up is a spawn failure, which the hook's fail mode decides on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sre_core::process::{Confine, GroupGuard, kill_process_group};
use sre_core::{Hook, HookContext, HookDecision, HookInput};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::error::HookError;
use crate::matcher::HookFilter;
use crate::output::parse_command_output;
use crate::spec::{
    BuildContext, DEFAULT_MAX_REJECTIONS, DEFAULT_TIMEOUT_SECS, FailMode, HookKind, HookSpec,
};

/// Default cap on a hook's stdout (1 MiB); more is a failure and the process is killed.
pub const DEFAULT_STDOUT_CAP: usize = 1024 * 1024;
/// Cap on the stderr kept (64 KiB); the rest is read and discarded.
pub const STDERR_CAP: usize = 64 * 1024;
/// Cap on the stderr kept in the decision ([`HookDecision::output`], and so in the
/// `HookDecision` event): 8 KiB.
pub const OUTPUT_CAP: usize = 8 * 1024;

/// What is executed.
#[derive(Clone, Debug)]
enum Program {
    /// Run through `/bin/sh -c` (the command has arguments, variables, pipes...).
    Shell(String),
    /// Run directly (a single path or program name; relative paths resolve against cwd).
    Exec { program: String, args: Vec<String> },
}

/// A hook that runs a process. See the module docs for the protocol.
///
/// ```no_run
/// use sre_core::HookEvent;
/// use sre_hooks::{CommandHook, FailMode, HookFilter, ToolMatcher};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let filter = HookFilter::new("safety", [HookEvent::PreToolUse], ToolMatcher::new(Some("Bash"))?);
/// let hook = CommandHook::command(filter, "hooks/safety.py")
///     .timeout(std::time::Duration::from_secs(10))
///     .fail_mode(FailMode::Block);
/// # let _ = hook; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CommandHook {
    filter: HookFilter,
    program: Program,
    timeout: Duration,
    fail_mode: FailMode,
    max_rejections: u32,
    cwd: Option<PathBuf>,
    plugin_root: Option<PathBuf>,
    stdout_cap: usize,
    /// Confines the process (none: it runs with the host's rights and environment).
    confine: Option<Arc<dyn Confine>>,
    /// Keeps an inline script's file alive as long as the hook.
    _script: Option<Arc<tempfile::TempPath>>,
}

impl CommandHook {
    /// A hook running `command`: a path or program name is executed directly, anything
    /// with spaces or shell syntax through `/bin/sh -c`.
    pub fn command(filter: HookFilter, command: impl Into<String>) -> Self {
        let command = command.into();
        let program = if is_simple_path(&command) {
            Program::Exec {
                program: command,
                args: Vec::new(),
            }
        } else {
            Program::Shell(command)
        };
        Self::with_program(filter, program)
    }

    /// A hook running an inline script body, written to a private temporary file and run
    /// with the interpreter of its `#!` line, or `bash` if it has none.
    pub fn script(filter: HookFilter, body: &str) -> Result<Self, HookError> {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .prefix("sre-hook-")
            .tempfile()
            .map_err(|e| HookError::io(std::env::temp_dir(), e))?;
        file.write_all(body.as_bytes())
            .map_err(|e| HookError::io(file.path(), e))?;
        file.flush().map_err(|e| HookError::io(file.path(), e))?;
        let path = file.into_temp_path();
        let path_str = path.display().to_string();
        let mut interpreter = body
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default();
        let program = if interpreter.is_empty() {
            Program::Exec {
                program: "bash".into(),
                args: vec![path_str],
            }
        } else {
            let program = interpreter.remove(0);
            interpreter.push(path_str);
            Program::Exec {
                program,
                args: interpreter,
            }
        };
        let mut hook = Self::with_program(filter, program);
        hook._script = Some(Arc::new(path));
        Ok(hook)
    }

    fn with_program(filter: HookFilter, program: Program) -> Self {
        CommandHook {
            filter,
            program,
            timeout: Duration::from_secs(u64::from(DEFAULT_TIMEOUT_SECS)),
            fail_mode: FailMode::Allow,
            max_rejections: DEFAULT_MAX_REJECTIONS,
            cwd: None,
            plugin_root: None,
            stdout_cap: DEFAULT_STDOUT_CAP,
            confine: None,
            _script: None,
        }
    }

    /// Build from a spec (command or script kinds).
    pub fn from_spec(spec: &HookSpec, ctx: &BuildContext) -> Result<Self, HookError> {
        let filter = spec.filter(ctx)?;
        let hook = match &spec.kind {
            HookKind::Command { command } => Self::command(filter, command.clone()),
            HookKind::Script { script } => Self::script(filter, script)?,
            HookKind::Prompt { .. } | HookKind::Allowlist(_) => {
                return Err(HookError::config(
                    format!("hook `{}`", spec.name),
                    "not a command hook",
                ));
            }
        };
        let mut hook = hook
            .timeout(spec.timeout())
            .fail_mode(spec.fail_mode)
            .max_rejections(spec.max_rejections);
        hook.cwd = ctx.cwd.clone();
        hook.confine = ctx.confine.clone();
        Ok(match &spec.plugin_root {
            Some(root) => hook.plugin_root(root),
            None => hook,
        })
    }

    /// Timeout (default 30 s). On expiry the whole process group is killed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What a failure means (default [`FailMode::Allow`]).
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// Stop rejections after which a block on `Stop` is turned into a pass (default 3).
    pub fn max_rejections(mut self, n: u32) -> Self {
        self.max_rejections = n;
        self
    }

    /// Run the process confined by `confine` (see the module docs).
    pub fn confine(mut self, confine: Arc<dyn Confine>) -> Self {
        self.confine = Some(confine);
        self
    }

    /// Working directory when the input has no `cwd`.
    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// The plugin folder this hook comes from: the process gets it as `CLAUDE_PLUGIN_ROOT`
    /// (so `${CLAUDE_PLUGIN_ROOT}/scripts/check.sh` expands in the shell), and a command
    /// that is just `${CLAUDE_PLUGIN_ROOT}/<path>` runs `<root>/<path>` directly (no
    /// shell, so a root with spaces works).
    pub fn plugin_root(mut self, root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        if let Program::Shell(line) = &self.program {
            let rest = [
                "${CLAUDE_PLUGIN_ROOT}/",
                "\"${CLAUDE_PLUGIN_ROOT}\"/",
                "$CLAUDE_PLUGIN_ROOT/",
            ]
            .iter()
            .find_map(|p| line.strip_prefix(p));
            if let Some(rest) = rest.filter(|r| is_simple_path(r)) {
                self.program = Program::Exec {
                    program: root.join(rest).display().to_string(),
                    args: Vec::new(),
                };
            }
        }
        self.plugin_root = Some(root);
        self
    }

    /// Cap on stdout in bytes (default 1 MiB).
    pub fn stdout_cap(mut self, bytes: usize) -> Self {
        self.stdout_cap = bytes;
        self
    }

    /// The filter (name, events, matcher, activation).
    pub fn filter(&self) -> &HookFilter {
        &self.filter
    }

    /// Run the process and interpret its answer, without applying the fail mode: every
    /// failure is returned as a typed [`HookError`].
    pub async fn evaluate(&self, input: &HookInput) -> Result<HookDecision, HookError> {
        let name = &self.filter.name;
        let cwd: Option<PathBuf> = input
            .cwd
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| self.cwd.clone());
        let (program, args, shown, via_shell) = match &self.program {
            Program::Shell(line) => (
                "/bin/sh".to_string(),
                vec!["-c".to_string(), line.clone()],
                line.clone(),
                true,
            ),
            Program::Exec { program, args } => {
                let resolved = resolve(program, cwd.as_deref());
                (
                    resolved.display().to_string(),
                    args.clone(),
                    program.clone(),
                    false,
                )
            }
        };
        let spawn_err = |message: String| HookError::Spawn {
            hook: name.clone(),
            program: shown.clone(),
            message,
        };
        // `keep` lives until the process has exited (see `ConfinedCommand`).
        let (mut cmd, keep) = match &self.confine {
            Some(confine) => {
                let dir = match &cwd {
                    Some(dir) => dir.clone(),
                    None => std::env::current_dir().map_err(|e| spawn_err(e.to_string()))?,
                };
                let c = confine
                    .confine(&program, &args, &dir)
                    .await
                    .map_err(|e| spawn_err(format!("cannot confine the hook: {e}")))?;
                (c.command, c.keep)
            }
            None => {
                let mut c = tokio::process::Command::new(&program);
                c.args(&args).process_group(0);
                (c, None)
            }
        };
        // Claude Code's environment: the project (workspace) root, and the plugin folder
        // of hooks that come with a plugin.
        match &cwd {
            Some(dir) => {
                cmd.current_dir(dir).env("CLAUDE_PROJECT_DIR", dir);
            }
            None => {
                if let Ok(dir) = std::env::current_dir() {
                    cmd.env("CLAUDE_PROJECT_DIR", dir);
                }
            }
        }
        if let Some(root) = &self.plugin_root {
            cmd.env("CLAUDE_PLUGIN_ROOT", root);
        }
        // The event as this hook knows it (a YAML PostToolUse hook sees failed calls as
        // PostToolUse).
        let event = self.filter.event(input);
        cmd.env("SRE_HOOK_NAME", name)
            .env("SRE_HOOK_EVENT", event.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| spawn_err(e.to_string()))?;
        let _keep = keep;
        // Declared after `child`, so dropped first: if this future is cancelled, the group
        // is killed while its leader is still unreaped (its id cannot have been reused).
        let mut guard = GroupGuard::new(child.id());
        let pgid = child.id();

        let mut payload = serde_json::to_vec(&self.filter.input_json(input)).unwrap_or_default();
        payload.push(b'\n');
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let cap = self.stdout_cap;
        let run = async {
            let write = async move {
                if let Some(mut s) = stdin {
                    // A hook that does not read its input closes the pipe: not an error.
                    let _ = s.write_all(&payload).await;
                    let _ = s.shutdown().await;
                }
            };
            let read_out = async {
                let r = read_capped(stdout, cap, false).await;
                if r.overflow
                    && let Some(pgid) = pgid
                {
                    let _ = kill_process_group(pgid);
                }
                r
            };
            let (_, out, err) =
                tokio::join!(write, read_out, read_capped(stderr, STDERR_CAP, true));
            let status = child.wait().await;
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                guard.kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                return Err(HookError::Timeout {
                    hook: name.clone(),
                    timeout_ms: self.timeout.as_millis() as u64,
                });
            }
        };
        guard.disarm();
        let stderr_text = String::from_utf8_lossy(&err.data).trim().to_string();
        let stderr_text = if err.overflow {
            format!("{stderr_text}\n[stderr truncated]")
        } else {
            stderr_text
        };
        if out.overflow {
            return Err(HookError::Output {
                hook: name.clone(),
                message: format!(
                    "stdout exceeded the {cap}-byte cap; the process group was killed"
                ),
            });
        }
        if let Some(e) = out.error.or(err.error) {
            return Err(HookError::Output {
                hook: name.clone(),
                message: format!("reading its output failed: {e}"),
            });
        }
        let status = status.map_err(|e| HookError::Exit {
            hook: name.clone(),
            status: format!("waiting for the process failed: {e}"),
            stderr: String::new(),
        })?;
        // What it wrote on stderr is kept with its decision (an audit hook logs there).
        let output = (!stderr_text.is_empty()).then(|| cap_output(&stderr_text));
        match status.code() {
            Some(0) => {
                let stdout = String::from_utf8_lossy(&out.data);
                let mut decision =
                    parse_command_output(event, &stdout).map_err(|message| HookError::Output {
                        hook: name.clone(),
                        message,
                    })?;
                decision.output = output;
                Ok(decision)
            }
            Some(2) => Ok(HookDecision {
                output,
                ..HookDecision::block(if stderr_text.is_empty() {
                    format!("blocked by hook `{name}` (exit 2, no reason on stderr)")
                } else {
                    stderr_text
                })
            }),
            Some(code @ (126 | 127)) if via_shell => {
                Err(spawn_err(format!("the shell exited {code}: {stderr_text}")))
            }
            Some(code) => Err(HookError::Exit {
                hook: name.clone(),
                status: format!("exit status {code}"),
                stderr: stderr_text,
            }),
            None => {
                use std::os::unix::process::ExitStatusExt;
                let status = match status.signal() {
                    Some(sig) => format!("killed by signal {sig}"),
                    None => format!("ended abnormally ({status})"),
                };
                Err(HookError::Exit {
                    hook: name.clone(),
                    status,
                    stderr: stderr_text,
                })
            }
        }
    }
}

#[async_trait]
impl Hook for CommandHook {
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        let result = self.evaluate(input).await;
        crate::spec::finish(&self.filter.name, input, self.max_rejections, result)
    }
}

/// `text` cut to at most [`OUTPUT_CAP`] bytes (at a character boundary), saying so.
fn cap_output(text: &str) -> String {
    if text.len() <= OUTPUT_CAP {
        return text.to_string();
    }
    let mut cut = OUTPUT_CAP;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[stderr truncated to {cut} bytes]", &text[..cut])
}

/// A single path or program name, run without a shell.
fn is_simple_path(command: &str) -> bool {
    !command.is_empty()
        && command
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-+,@:".contains(c))
}

/// Resolve a relative path containing `/` against `cwd` (bare names use `PATH`).
fn resolve(program: &str, cwd: Option<&Path>) -> PathBuf {
    let p = Path::new(program);
    match cwd {
        Some(dir) if p.is_relative() && program.contains('/') => dir.join(p),
        _ => p.to_path_buf(),
    }
}

#[derive(Default)]
struct Captured {
    data: Vec<u8>,
    overflow: bool,
    error: Option<std::io::Error>,
}

/// Read at most `cap` bytes. Past the cap: stop (`drain == false`) or keep reading and
/// discard (`drain == true`, so the writer never blocks on a full pipe).
async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize, drain: bool) -> Captured {
    let mut out = Captured::default();
    let Some(mut reader) = reader else { return out };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return out,
            Ok(n) => {
                let room = cap.saturating_sub(out.data.len());
                out.data.extend_from_slice(&buf[..n.min(room)]);
                if n > room {
                    out.overflow = true;
                    if !drain {
                        return out;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
}
